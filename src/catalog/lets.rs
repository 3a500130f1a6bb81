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
/// left alone.
pub fn scan(text: &str) -> Vec<Let> {
    let mut found = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if let Some(statement) = parse_line(line, offset, index + 1) {
            found.push(statement);
        }
        offset += line.len();
    }
    found
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
