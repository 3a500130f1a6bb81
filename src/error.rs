//! The tool's own error type and the exit codes it maps to.
//!
//! Verdicts about a workspace are not errors: a check that could not be evaluated becomes an
//! `error` verdict and the run goes on. This type covers what stops a command before or instead
//! of producing verdicts: bad input, bad configuration, an output that could not be written.

use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, as documented in the README.
pub mod exit {
    /// Nothing failed: every verdict healthy, or lag below its failure level.
    pub const OK: u8 = 0;
    /// At least one check failed: no data, or lag past its failure level.
    pub const FAILED: u8 = 1;
    /// Usage, configuration or bad input.
    pub const USAGE: u8 = 2;
    /// Could not evaluate everything: auth, network, API or query error, partial result.
    pub const NOT_EVALUATED: u8 = 3;
    /// Interrupted (Ctrl-C), after printing what was evaluated.
    pub const INTERRUPTED: u8 = 130;
}

/// A problem with a check file, pinned to the file and line it comes from (line 0: the file as a
/// whole, shown as `file: message`). The column, where known, is for `lint`'s positions;
/// messages show the line only.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line_suffix(*.line))]
pub struct CheckFileError {
    pub path: PathBuf,
    pub line: usize,
    /// 1-based column, in characters, of the value the message is about.
    pub column: Option<usize>,
    pub message: String,
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

impl CheckFileError {
    pub fn new(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line,
            column: None,
            message: message.into(),
        }
    }

    pub fn at_column(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more check files are malformed; every problem found is listed.
    #[error("{}", render_check_errors(.0))]
    CheckFiles(Vec<CheckFileError>),

    /// A command-line value or configuration setting is wrong.
    #[error("{0}")]
    Usage(String),

    /// Credentials could not be set up before any query was sent (a missing variable, a
    /// malformed or expired fixed token).
    #[error("{0}")]
    Auth(String),

    /// Nothing could be evaluated: the service did not answer the first question a command
    /// asks (`doctor`: who it runs as).
    #[error("could not evaluate: {0}")]
    NotEvaluated(String),

    /// A result could not be written.
    #[error("could not write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn render_check_errors(errors: &[CheckFileError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            // Credentials that cannot even be set up are a configuration problem; a token that
            // cannot be fetched later becomes an `error` verdict instead.
            Error::CheckFiles(_) | Error::Usage(_) | Error::Auth(_) => ExitCode::from(exit::USAGE),
            Error::NotEvaluated(_) | Error::Write { .. } => ExitCode::from(exit::NOT_EVALUATED),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
