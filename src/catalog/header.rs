//! The metadata header at the top of a check file: `// key: value` comment lines that Log
//! Analytics ignores, so the file stays pasteable as it is.
//!
//! The header is the leading run of `//` lines. A line `//   more words` (two or more spaces after
//! the slashes) continues the previous value; a bare `//` is a blank line. Anything else ends the
//! header. Keys are case-sensitive, each may appear once, and an unknown key is an error, so a
//! typo never silently drops a setting.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::CheckFileError;

/// One header value and the line it started on.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub value: String,
    pub line: usize,
    /// 1-based column, in characters, where the value starts on that line.
    pub column: usize,
}

/// The raw header: keys as written, before any validation of their values.
#[derive(Debug, Default)]
pub struct RawHeader {
    pub fields: BTreeMap<String, Field>,
    /// The first line after the header (1-based).
    pub body_line: usize,
}

/// Keys a header may carry. `remedy.<reason>` keys are checked separately.
pub const KNOWN_KEYS: &[&str] = &[
    "id",
    "version",
    "title",
    "description",
    "tables",
    "group-by",
    "severity",
    "classifier",
    "thresholds",
    "columns",
    "finding",
    "finding-status",
    "finding-message",
    "clear-message",
    "when-missing",
    "rule",
];

pub fn parse(path: &Path, text: &str) -> Result<RawHeader, Vec<CheckFileError>> {
    let mut header = RawHeader::default();
    let mut errors = Vec::new();
    let mut last_key: Option<String> = None;
    let mut body_line = text.lines().count() + 1;

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let Some(comment) = line.trim_end().strip_prefix("//") else {
            body_line = number;
            break;
        };
        if comment.trim().is_empty() {
            last_key = None;
            continue;
        }
        if comment.starts_with("  ") {
            match last_key.as_ref().and_then(|key| header.fields.get_mut(key)) {
                Some(field) => {
                    field.value.push(' ');
                    field.value.push_str(comment.trim());
                }
                None => errors.push(CheckFileError::new(
                    path,
                    number,
                    "an indented header line continues nothing: start it with `key:`",
                )),
            }
            continue;
        }
        let Some((key, value)) = comment.trim().split_once(':') else {
            errors.push(CheckFileError::new(
                path,
                number,
                format!("header line `{}` is not `key: value`", line.trim()),
            ));
            last_key = None;
            continue;
        };
        let key = key.trim().to_string();
        if !is_known(&key) {
            errors.push(CheckFileError::new(
                path,
                number,
                format!(
                    "unknown header key `{key}` (known: {}, {}, remedy.<reason>)",
                    KNOWN_KEYS.join(", "),
                    super::rule::KEYS.join(", ")
                ),
            ));
            last_key = None;
            continue;
        }
        if let Some(first) = header.fields.get(&key) {
            errors.push(CheckFileError::new(
                path,
                number,
                format!("header key `{key}` repeats line {}", first.line),
            ));
            last_key = None;
            continue;
        }
        header.fields.insert(
            key.clone(),
            Field {
                value: value.trim().to_string(),
                line: number,
                column: value_column(line),
            },
        );
        last_key = Some(key);
    }

    header.body_line = body_line;
    if errors.is_empty() {
        Ok(header)
    } else {
        Err(errors)
    }
}

/// Where the value of a `// key: value` line starts. The key holds no colon, so the line's
/// first colon is the one after it.
fn value_column(line: &str) -> usize {
    let after_colon = line.find(':').map_or(line.len(), |colon| colon + 1);
    let rest = &line[after_colon..];
    let start = after_colon + (rest.len() - rest.trim_start().len());
    line[..start].chars().count() + 1
}

fn is_known(key: &str) -> bool {
    if let Some(reason) = key.strip_prefix("remedy.") {
        return !reason.is_empty() && reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    }
    KNOWN_KEYS.contains(&key) || super::rule::KEYS.contains(&key)
}

/// Splits a comma-separated list, trimming each item and dropping empty ones.
pub fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<RawHeader, Vec<CheckFileError>> {
        parse(Path::new("queries/x.kql"), text)
    }

    #[test]
    fn reads_keys_continuations_and_body_line() {
        let header = parse_text(
            "// id: a-check\n// description: first part\n//   second part\n//\n// tables: T\nT | take 1\n",
        )
        .unwrap();
        assert_eq!(header.fields["id"].value, "a-check");
        assert_eq!(header.fields["description"].value, "first part second part");
        assert_eq!(header.fields["tables"].line, 5);
        assert_eq!(header.fields["tables"].column, 12);
        assert_eq!(header.fields["id"].column, 8);
        assert_eq!(header.body_line, 6);
    }

    #[test]
    fn reports_each_problem_with_its_line() {
        let errors =
            parse_text("// id: a\n// colour: red\n// id: b\n// no colon here\n//   dangling\nT\n")
                .unwrap_err();
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(rendered.len(), 4, "{rendered:?}");
        assert!(rendered[0].starts_with("queries/x.kql:2: unknown header key `colour`"));
        assert!(rendered[1].starts_with("queries/x.kql:3: header key `id` repeats line 1"));
        assert!(rendered[2].starts_with("queries/x.kql:4: header line"));
        assert!(
            rendered[3].starts_with("queries/x.kql:5: an indented header line continues nothing")
        );
    }

    #[test]
    fn remedy_keys_are_accepted_only_with_a_reason() {
        assert!(parse_text("// remedy.stale: do this\nT\n").is_ok());
        assert!(parse_text("// remedy.: x\nT\n").is_err());
        assert!(parse_text("// remedy.Stale: x\nT\n").is_err());
    }

    #[test]
    fn lists_are_trimmed() {
        assert_eq!(list(" AccountId , Region,, "), vec!["AccountId", "Region"]);
    }
}
