//! Rendering a run for people and machines, one file per format.

pub mod json;
mod table;

use chrono::{DateTime, Utc};

use crate::catalog::Check;
use crate::cli::Format;
use crate::diagnose::Diagnosis;
use crate::verdict::{Summary, Verdict};

/// Everything a report says about one `validate` run.
#[derive(Debug)]
pub struct Run<'a> {
    pub checks: &'a [Check],
    pub workspaces: &'a [String],
    pub verdicts: &'a [Verdict],
    pub diagnoses: &'a [Diagnosis],
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Stopped by Ctrl-C before every query finished.
    pub interrupted: bool,
}

impl Run<'_> {
    pub fn summary(&self) -> Summary {
        Summary::of(self.verdicts)
    }
}

pub fn render(format: Format, run: &Run<'_>, colour: bool) -> String {
    match format {
        Format::Table => table::render(run, colour),
        Format::Json => json::render(run),
    }
}

pub fn render_catalog(format: Format, checks: &[Check]) -> String {
    match format {
        Format::Table => table::render_catalog(checks),
        Format::Json => json::render_catalog(checks),
    }
}

pub use json::exit_code;
