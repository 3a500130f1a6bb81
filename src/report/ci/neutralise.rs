//! Keeping workspace values from speaking to the CI agent.
//!
//! Region names, account IDs, ARNs and error texts come from the workspace, and so from whoever
//! can write to the AWS account or the bucket: attacker-influenced text. The Azure Pipelines
//! agent runs a logging command found anywhere in a line of output (`##vso[`), and formatting
//! commands at the start of one (`##[`); the GitHub runner runs `::command::` at the start of a
//! line. In CI mode every such value is neutralised before any output is rendered, and every
//! finished output is filtered once more, line by line:
//!
//! - `##vso` becomes `**vso` (any case; the agent's own neutraliser does the same), `##[`
//!   becomes `**[`;
//! - a line (after leading white space) starting `::` gets a `*` in front;
//! - in values, CR and CRLF become LF (the agents split lines at a lone CR too, so a line
//!   could otherwise start mid-value), and other control characters become U+FFFD.
//!
//! Inside a logging command the agents unescape values, so [`azure_data`], [`azure_property`],
//! [`github_data`] and [`github_property`] escape what each agent requires.

use std::io::Write;

use serde_json::Value;

use crate::diagnose::Diagnosis;
use crate::verdict::Verdict;

/// Filters finished output: command prefixes anywhere, and `::` at the start of any line
/// (lines end at LF or at CR).
pub fn text(text: &str) -> String {
    let starred = star_prefixes(text);
    let mut out = String::with_capacity(starred.len());
    let mut line_start = true;
    let mut rest = starred.as_str();
    while let Some(c) = rest.chars().next() {
        if line_start {
            let indent = rest.len() - rest.trim_start_matches(is_blank).len();
            out.push_str(&rest[..indent]);
            rest = &rest[indent..];
            if rest.starts_with("::") {
                out.push('*');
            }
            line_start = false;
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        line_start = c == '\n' || c == '\r';
    }
    out
}

/// White space the runners may trim before looking for `::`: every Unicode white space but
/// the line breaks (.NET's `Trim` takes them all), and the zero-width characters some trims
/// also take, since starring one line too many is harmless.
fn is_blank(c: char) -> bool {
    (c.is_whitespace() && c != '\n' && c != '\r') || matches!(c, '\u{200B}' | '\u{FEFF}')
}

/// Neutralises one value from the workspace: line breaks normalised to LF, control
/// characters replaced, then [`text`].
pub fn value(value: &str) -> String {
    let mut clean = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    clean.push('\n');
                }
            }
            '\n' | '\t' => clean.push(c),
            c if c.is_control() => clean.push('\u{FFFD}'),
            c => clean.push(c),
        }
    }
    text(&clean)
}

/// `##vso` (any case) to `**vso`, `##[` to `**[`.
fn star_prefixes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("##") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let is_command = after.starts_with('[')
            || after
                .get(..3)
                .is_some_and(|word| word.eq_ignore_ascii_case("vso"));
        if is_command {
            out.push_str("**");
            rest = after;
        } else {
            // One `#` at a time, so `###vso` is caught at its second `#`.
            out.push('#');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Neutralises every workspace value a verdict carries.
pub fn verdict(verdict: &mut Verdict) {
    // Group values name an account or region: one line, so a line break shows as `\n`.
    if let Some(group) = &mut verdict.group {
        for (name, value) in group.iter_mut() {
            *name = self::value(name).replace('\n', "\\n");
            *value = self::value(value).replace('\n', "\\n");
        }
    }
    verdict.reason = value(&verdict.reason).replace('\n', "\\n");
    // A message is one line; a line break in it came from a value.
    verdict.message = value(&verdict.message).replace('\n', "\\n");
    if let Some(remedy) = &mut verdict.remedy {
        *remedy = value(remedy);
    }
    evidence(&mut verdict.evidence);
}

/// Neutralises every workspace value a diagnosis carries.
pub fn diagnosis(diagnosis: &mut Diagnosis) {
    // A summary is one line; a line break in it came from a value.
    diagnosis.summary = value(&diagnosis.summary).replace('\n', "\\n");
    diagnosis.remedy = value(&diagnosis.remedy);
    evidence(&mut diagnosis.evidence);
}

fn evidence(map: &mut serde_json::Map<String, Value>) {
    let entries = std::mem::take(map);
    for (key, mut item) in entries {
        json(&mut item);
        map.insert(value(&key), item);
    }
}

/// Neutralises every string in a JSON value, object keys included.
pub fn json(item: &mut Value) {
    match item {
        Value::String(text) => *text = value(text),
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::Object(map) => evidence(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The message of an Azure Pipelines logging command.
pub fn azure_data(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of an Azure Pipelines logging command.
pub fn azure_property(text: &str) -> String {
    azure_data(text).replace(';', "%3B").replace(']', "%5D")
}

/// The message of a GitHub Actions workflow command.
pub fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value of a GitHub Actions workflow command.
pub fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A writer that passes whole lines through [`text`]: logs on stderr in CI mode. Bytes are
/// held until a line ends, the writer is flushed or dropped.
pub struct LineFilter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> LineFilter<W> {
    pub fn new(inner: W) -> Self {
        LineFilter {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> std::io::Result<()> {
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        let filtered = text(&String::from_utf8_lossy(&chunk));
        self.inner.write_all(filtered.as_bytes())
    }
}

impl<W: Write> Write for LineFilter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.emit(last + 1)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let all = self.pending.len();
        self.emit(all)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for LineFilter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET_VARIABLE: &str = "##vso[task.setvariable variable=x]1";

    #[test]
    fn command_prefixes_are_starred_anywhere_and_in_any_case() {
        assert_eq!(text(SET_VARIABLE), "**vso[task.setvariable variable=x]1");
        assert_eq!(
            text("eu-west-1 ##VSO[task.complete result=Failed]"),
            "eu-west-1 **VSO[task.complete result=Failed]"
        );
        assert_eq!(text("###vso[x]"), "#**vso[x]");
        assert_eq!(text("##[error]forged"), "**[error]forged");
        assert_eq!(text("a ## b #x"), "a ## b #x");
    }

    #[test]
    fn double_colons_are_stopped_only_at_a_line_start() {
        assert_eq!(text("::set-output name=x::1"), "*::set-output name=x::1");
        assert_eq!(text("  ::error::x"), "  *::error::x");
        assert_eq!(text("a\n::warning::x"), "a\n*::warning::x");
        assert_eq!(text("a\r::warning::x"), "a\r*::warning::x");
        // Any white space a runner's trim takes.
        for blank in [
            "\u{A0}", "\u{3000}", "\u{2003}", "\u{1680}", "\u{FEFF}", "\u{200B}",
        ] {
            let line = format!("a\n{blank}{blank}::error::x");
            assert_eq!(
                text(&line),
                format!("a\n{blank}{blank}*::error::x"),
                "{blank:?}"
            );
        }
        assert_eq!(text("\u{A0}\n::e::x"), "\u{A0}\n*::e::x");
        // An IAM ARN keeps its `::`.
        let arn = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
        assert_eq!(text(arn), arn);
    }

    #[test]
    fn values_lose_lone_carriage_returns_and_control_characters() {
        assert_eq!(
            value("eu-west-1\r::set-output name=x::1"),
            "eu-west-1\n*::set-output name=x::1"
        );
        assert_eq!(value("a\r\nb\tc\u{1b}[8m"), "a\nb\tc\u{FFFD}[8m");
        assert_eq!(value(SET_VARIABLE), "**vso[task.setvariable variable=x]1");
    }

    #[test]
    fn logging_command_values_are_escaped_as_each_agent_requires() {
        assert_eq!(azure_data("50%\r\nx"), "50%AZP25%0D%0Ax");
        assert_eq!(azure_property("a;b]c%"), "a%3Bb%5Dc%AZP25");
        assert_eq!(github_data("50%\nx"), "50%25%0Ax");
        assert_eq!(github_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn verdict_values_are_neutralised_in_every_field() {
        let checks = crate::catalog::built_in().unwrap();
        let mut verdict = Verdict::new(
            &checks[0],
            "w",
            crate::verdict::Status::NoData,
            "stale",
            format!("nothing from {SET_VARIABLE}"),
        );
        verdict.group = Some(vec![("Region".into(), "::set-output name=x::1".into())]);
        verdict.remedy = Some(format!("look at\n{SET_VARIABLE}"));
        verdict
            .evidence
            .insert("Key".into(), serde_json::json!([{ "a": SET_VARIABLE }]));
        self::verdict(&mut verdict);
        let all = format!("{verdict:?}");
        assert!(!all.contains("##vso"), "{all}");
        assert_eq!(
            verdict.message,
            "nothing from **vso[task.setvariable variable=x]1"
        );
        assert_eq!(verdict.group.unwrap()[0].1, "*::set-output name=x::1");
        assert_eq!(
            verdict.evidence["Key"][0]["a"],
            "**vso[task.setvariable variable=x]1"
        );
    }

    #[test]
    fn one_line_fields_keep_to_one_line() {
        let checks = crate::catalog::built_in().unwrap();
        let mut verdict = Verdict::new(
            &checks[0],
            "w",
            crate::verdict::Status::NoData,
            "stale",
            "stopped in eu-west-1\r\n::error::forged".into(),
        );
        verdict.remedy = Some("step one\nstep two".into());
        self::verdict(&mut verdict);
        assert_eq!(verdict.message, "stopped in eu-west-1\\n*::error::forged");
        assert_eq!(verdict.remedy.as_deref(), Some("step one\nstep two"));
        let mut diagnosis = Diagnosis {
            workspace: "w".into(),
            cause: "partial_coverage".into(),
            summary: "1 of 2 groups stopped (111122223333/eu-west-1\n\u{A0}::error::x)".into(),
            verdicts: vec![0],
            remedy: "a\nb".into(),
            evidence: serde_json::Map::new(),
        };
        self::diagnosis(&mut diagnosis);
        assert_eq!(
            diagnosis.summary,
            "1 of 2 groups stopped (111122223333/eu-west-1\\n\u{A0}*::error::x)"
        );
        assert_eq!(diagnosis.remedy, "a\nb");
    }

    #[test]
    fn the_line_filter_holds_partial_lines_until_they_end() {
        let mut out = Vec::new();
        {
            let mut filter = LineFilter::new(&mut out);
            filter.write_all(b"first ##v").unwrap();
            filter.write_all(b"so[x]\n::err").unwrap();
            filter.write_all(b"or::y").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "first **vso[x]\n*::error::y"
        );
    }
}
