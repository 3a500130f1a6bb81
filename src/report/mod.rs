//! Rendering a run for people and machines, one file per format, and delivering it: stdout,
//! result files, and the CI system's logging commands.

pub mod ci;
pub mod deliver;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod outcome;
mod table;

use chrono::{DateTime, Utc};

use crate::catalog::Check;
use crate::cli::Format;
use crate::diagnose::Diagnosis;
use crate::verdict::{Summary, Verdict};
use crate::workspaces::{Shard, Workspace};

/// Everything a report says about one `validate` or `doctor` run.
#[derive(Debug)]
pub struct Run<'a> {
    /// What the run checked, and so what its `workspaces` are.
    pub subject: Subject,
    /// The catalog's checks the run used; empty for `doctor`, whose checks are not files.
    pub checks: &'a [Check],
    /// Checks of the catalog this run left out, reported as skipped.
    pub skipped: &'a [Skipped],
    pub workspaces: &'a [Workspace],
    pub verdicts: &'a [Verdict],
    pub diagnoses: &'a [Diagnosis],
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Stopped by Ctrl-C before every query finished.
    pub interrupted: bool,
    /// The policy already applied to the verdicts' `fails`.
    pub fail_on: outcome::FailOn,
    pub shard: Option<Shard>,
}

/// What a run checked: Log Analytics workspaces (`validate`), or the AWS account `doctor` read,
/// which then stands where a workspace would (in `workspaces` and each verdict's `workspace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Workspaces,
    AwsAccount,
}

impl Subject {
    /// The command, as report headings name it.
    pub fn title(self) -> &'static str {
        match self {
            Subject::Workspaces => "sentinel-kms",
            Subject::AwsAccount => "sentinel-kms doctor",
        }
    }

    /// What one of the run's `workspaces` is, in running text.
    pub fn noun(self) -> &'static str {
        match self {
            Subject::Workspaces => "workspace",
            Subject::AwsAccount => "AWS account",
        }
    }

    /// What one of the run's `workspaces` is, as a column heading.
    pub fn heading(self) -> &'static str {
        match self {
            Subject::Workspaces => "Workspace",
            Subject::AwsAccount => "AWS account",
        }
    }
}

/// A check of the catalog that a run left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub check: String,
    pub file: String,
    /// Why, e.g. "left out with --skip".
    pub why: String,
}

impl Run<'_> {
    pub fn summary(&self) -> Summary {
        Summary::of(self.verdicts)
    }

    /// How many checks ran: the catalog's, or, for `doctor`, those that gave a verdict.
    pub fn check_count(&self) -> usize {
        if !self.checks.is_empty() {
            return self.checks.len();
        }
        let mut ids: Vec<&str> = self.verdicts.iter().map(|v| v.check.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// The name a workspace is shown by: its display name, else its ID.
    pub fn label<'w>(&'w self, id: &'w str) -> &'w str {
        self.workspaces
            .iter()
            .find(|workspace| workspace.id == id)
            .map_or(id, Workspace::label)
    }

    /// The display name of a workspace, if the config file gives one.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.workspaces
            .iter()
            .find(|workspace| workspace.id == id)
            .and_then(|workspace| workspace.name.as_deref())
    }
}

/// The values of a verdict's group (an account and region), joined by `separator`, an empty
/// value shown as `(empty)`; None for an ungrouped verdict.
pub fn group_values(verdict: &Verdict, separator: &str) -> Option<String> {
    let pairs = verdict.group.as_ref()?;
    let values: Vec<&str> = pairs
        .iter()
        .map(|(_, value)| {
            if value.is_empty() {
                "(empty)"
            } else {
                value.as_str()
            }
        })
        .collect();
    Some(values.join(separator))
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
