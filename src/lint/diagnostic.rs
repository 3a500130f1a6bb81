//! One finding of `lint`, pinned to a line and column of a check file, and the mapping from the
//! analyser's offsets (UTF-16 code units into the file text) to those positions.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::CheckFileError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the lint run.
    Error,
    /// Reported; does not fail the run.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// What kind of rule a finding comes from: the analyser's own code (`KS142`), or one of ours.
pub mod code {
    /// The catalog's validation of a file: header fields, thresholds, unique ids, readability.
    pub const CATALOG: &str = "catalog";
    /// An output column the classifier or a grouping needs is not in the query's result.
    pub const OUTPUT_COLUMN: &str = "output-column";
    /// The query does not return a table at all.
    pub const NO_TABLE: &str = "no-table";
    /// The query or a setting changed since the `--since` revision but the version did not rise.
    pub const VERSION: &str = "version";
    /// A check's id changed since the `--since` revision.
    pub const ID_CHANGED: &str = "id-changed";
    /// A check present at the `--since` revision is gone.
    pub const ID_REMOVED: &str = "id-removed";
    /// The check's analytic rule breaks the schema or a limit that `build` enforces.
    pub const RULE: &str = "rule";
    /// The check's analytic rule has another resource name than at the `--since` revision:
    /// importing the pack adds a second rule instead of updating the first.
    pub const NEW_RULE: &str = "new-rule";
}

/// A finding. `line` 0 means the file as a whole (no position); lines and columns are 1-based,
/// columns counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub code: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: &Path, (line, column): (usize, usize), code: &str, message: String) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            severity: Severity::Error,
            code: code.to_string(),
            message,
        }
    }

    pub fn warning(
        path: &Path,
        (line, column): (usize, usize),
        code: &str,
        message: String,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, (line, column), code, message)
        }
    }

    /// A problem the catalog found; it has no column when it is about a missing line.
    pub fn from_check_file_error(error: &CheckFileError) -> Self {
        let column = if error.line == 0 {
            0
        } else {
            error.column.unwrap_or(1)
        };
        Diagnostic::error(
            &error.path,
            (error.line, column),
            code::CATALOG,
            error.message.clone(),
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        if self.line == 0 {
            write!(f, "{path}: ")?;
        } else {
            write!(f, "{path}:{}:{}: ", self.line, self.column)?;
        }
        write!(f, "{}: {} [{}]", self.severity, self.message, self.code)
    }
}

/// The line and column of the character that starts `utf16_offset` code units into `text`.
/// An offset at or past the end gives the position just after the last character.
pub fn position_of_utf16_offset(text: &str, utf16_offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    let mut units = 0;
    for character in text.chars() {
        if units >= utf16_offset {
            break;
        }
        units += character.len_utf16();
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The line and column of a byte offset into `text` (which must fall on a character boundary).
pub fn position_of_byte_offset(text: &str, byte_offset: usize) -> (usize, usize) {
    let before = &text[..byte_offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets_become_lines_and_character_columns() {
        let text = "// é\nT | where x == '🎉' | y\r\nZ";
        assert_eq!(position_of_utf16_offset(text, 0), (1, 1));
        assert_eq!(position_of_utf16_offset(text, 3), (1, 4));
        // The emoji is two UTF-16 units but one character: `|` after it is column 20.
        let pipe = "// é\nT | where x == '🎉' ".encode_utf16().count();
        assert_eq!(position_of_utf16_offset(text, pipe), (2, 20));
        let z = text.encode_utf16().count() - 1;
        assert_eq!(position_of_utf16_offset(text, z), (3, 1));
        assert_eq!(position_of_utf16_offset(text, 10_000), (3, 2));
    }

    #[test]
    fn byte_offsets_become_lines_and_character_columns() {
        let text = "ab\nçd x\n";
        assert_eq!(position_of_byte_offset(text, 0), (1, 1));
        assert_eq!(
            position_of_byte_offset(text, text.find('x').unwrap()),
            (2, 4)
        );
    }

    #[test]
    fn diagnostics_print_as_file_line_column_severity_message() {
        let at = Diagnostic::error(Path::new("q/a.kql"), (3, 7), "KS142", "bad".into());
        assert_eq!(at.to_string(), "q/a.kql:3:7: error: bad [KS142]");
        let whole = Diagnostic::warning(Path::new("q/b.kql"), (0, 0), code::ID_REMOVED, "x".into());
        assert_eq!(whole.to_string(), "q/b.kql: warning: x [id-removed]");
        let missing_key = CheckFileError::new("q/c.kql", 1, "header has no `title:` line");
        assert_eq!(
            Diagnostic::from_check_file_error(&missing_key).to_string(),
            "q/c.kql:1:1: error: header has no `title:` line [catalog]"
        );
    }
}
