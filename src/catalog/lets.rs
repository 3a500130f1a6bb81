//! Leading `let` statements of a check's query: where thresholds live, so that the file pasted
//! into Log Analytics runs with its defaults and the tool can substitute overrides in place.

use std::ops::Range;

use chrono::TimeDelta;

use crate::duration;

/// A threshold value: a KQL timespan or a plain number (a share, a count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Span(TimeDelta),
    Number(f64),
}

impl Value {
    /// Parses the right-hand side of a `let`: a KQL timespan literal or a decimal number.
    pub fn parse(text: &str) -> Option<Value> {
        let text = text.trim();
        if let Some(span) = duration::parse_kql(text) {
            return Some(Value::Span(span));
        }
        let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match text.parse::<f64>() {
            Ok(number) if plain && number.is_finite() => Some(Value::Number(number)),
            _ => None,
        }
    }

    /// The value as KQL source text.
    pub fn to_kql(self) -> String {
        match self {
            Value::Span(span) => duration::to_kql(span),
            Value::Number(number) => number.to_string(),
        }
    }

    pub fn as_number(self) -> Option<f64> {
        match self {
            Value::Number(number) => Some(number),
            Value::Span(_) => None,
        }
    }

    pub fn as_span(self) -> Option<TimeDelta> {
        match self {
            Value::Span(span) => Some(span),
            Value::Number(_) => None,
        }
    }
}

/// A `let name = value;` statement found on one line of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: String,
    pub value_text: String,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column, in characters, where the value starts on that line.
    pub column: usize,
    /// Byte range of the value inside the whole file text.
    pub value_range: Range<usize>,
}

/// Finds single-line `let name = value;` statements among the file's lines. Statements spread
/// over several lines, or with other statements on the same line, are not thresholds and are
/// left alone, and so are lines inside a multi-line string literal (between ``` or ~~~), which
/// are text, not statements.
pub fn scan(text: &str) -> Vec<Let> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut open: Option<&str> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if open.is_none()
            && let Some(statement) = parse_line(line, offset, index + 1)
        {
            found.push(statement);
        }
        open = string_open_after(line, open);
        offset += line.len();
    }
    found
}

/// Follows one line through the KQL lexer as far as strings and comments go, and returns the
/// multi-line string delimiter still open at its end. `open` is the one open at its start.
fn string_open_after<'a>(line: &str, mut open: Option<&'a str>) -> Option<&'a str> {
    const FENCES: [&str; 2] = ["```", "~~~"];
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(fence) = open {
            match rest.find(fence) {
                Some(at) => {
                    rest = &rest[at + fence.len()..];
                    open = None;
                }
                None => return open,
            }
            continue;
        }
        if let Some(fence) = FENCES.iter().find(|fence| rest.starts_with(**fence)) {
            open = Some(fence);
            rest = &rest[fence.len()..];
            continue;
        }
        if rest.starts_with("//") {
            return None;
        }
        let mut chars = rest.chars();
        let first = chars.next().expect("rest is not empty");
        rest = chars.as_str();
        if first == '"' || first == '\'' {
            // A one-line string: skip to its closing quote (a backslash escapes the next
            // character; in a verbatim @"…" string it does not, and doubling a quote escapes it,
            // which skipping to the next quote also handles).
            let verbatim = line[..line.len() - rest.len() - 1].ends_with('@');
            let mut escaped = false;
            let mut end = rest.len();
            for (at, c) in rest.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' && !verbatim {
                    escaped = true;
                } else if c == first {
                    end = at + c.len_utf8();
                    break;
                }
            }
            rest = &rest[end..];
        }
    }
    open
}

fn parse_line(line: &str, offset: usize, number: usize) -> Option<Let> {
    let code = line.split("//").next().unwrap_or("");
    let rest = code.trim_start().strip_prefix("let")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (name, after_name) = rest.trim_start().split_once('=')?;
    let name = name.trim();
    let is_identifier = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    let value = after_name.trim_end().strip_suffix(';')?;
    if !is_identifier || value.contains(';') {
        return None;
    }
    let value_text = value.trim();
    // The first `=` of the line is the one after the name, which cannot contain one.
    let value_offset = code.find('=')? + 1;
    let start_in_line = value_offset + (after_name.len() - after_name.trim_start().len());
    let start = offset + start_in_line;
    Some(Let {
        name: name.to_string(),
        value_text: value_text.to_string(),
        line: number,
        column: line[..start_in_line].chars().count() + 1,
        value_range: start..start + value_text.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_inside_a_multi_line_string_are_text() {
        let text = "let lookback = 14d;\nlet doc = ```\nlet lookback = 1d;\n``` ;\n\
                    let note = ~~~ a\nlet stale_after = 2h;\n~~~;\nlet lag_warning = 1h;\n\
                    print s = \"```\" // ```\nlet lag_failure = 6h;\n";
        let lets = scan(text);
        let found: Vec<(&str, &str, usize)> = lets
            .iter()
            .map(|l| (l.name.as_str(), l.value_text.as_str(), l.line))
            .collect();
        assert_eq!(
            found,
            [
                ("lookback", "14d", 1),
                ("lag_warning", "1h", 8),
                ("lag_failure", "6h", 10)
            ]
        );
    }

    #[test]
    fn finds_single_line_lets_with_their_positions() {
        let text = "// id: x\nlet lookback = 14d;\n  let lag_warning=1h; // warn\nlet f = (a:int) { a };\nT\n";
        let lets = scan(text);
        assert_eq!(lets.len(), 3, "{lets:?}");
        assert_eq!(lets[0].name, "lookback");
        assert_eq!(lets[0].line, 2);
        assert_eq!(&text[lets[0].value_range.clone()], "14d");
        assert_eq!(lets[0].column, 16);
        assert_eq!(lets[1].column, 19);
        assert_eq!(lets[1].name, "lag_warning");
        assert_eq!(&text[lets[1].value_range.clone()], "1h");
        // A function is found, but its body is no threshold value.
        assert_eq!(Value::parse(&lets[2].value_text), None);
    }

    #[test]
    fn values_are_spans_or_numbers() {
        assert_eq!(
            Value::parse("90m"),
            Some(Value::Span(TimeDelta::minutes(90)))
        );
        assert_eq!(Value::parse("0.25"), Some(Value::Number(0.25)));
        assert_eq!(Value::parse("3"), Some(Value::Number(3.0)));
        assert_eq!(Value::parse("ago(1d)"), None);
        assert_eq!(Value::parse("-1"), None);
        assert_eq!(Value::parse("1e9"), None);
        assert_eq!(Value::parse("NaN"), None);
    }
}
