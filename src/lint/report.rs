//! Printing a lint run: one `file:line:column: severity: message [code]` line per finding and
//! a summary (text), or one JSON document. Both say when KQL was not analysed, and why.

use serde_json::{Value, json};

use crate::lint::analyzer::{PACKAGE, ResultColumn};
use crate::lint::diagnostic::{Diagnostic, Severity};

/// How the analyser fared in this run.
#[derive(Debug)]
pub enum AnalyzerStatus {
    Ran { version: String },
    Skipped { reason: String },
    Failed { reason: String },
}

/// A check that parsed, with the result columns the analyser found for it.
#[derive(Debug)]
pub struct CheckedQuery<'a> {
    pub id: &'a str,
    pub version: String,
    pub file: String,
    pub result_columns: Option<Vec<ResultColumn>>,
}

#[derive(Debug)]
pub struct LintReport<'a> {
    pub files: usize,
    pub checks: Vec<CheckedQuery<'a>>,
    pub diagnostics: &'a [Diagnostic],
    pub analyzer: AnalyzerStatus,
    pub exit_code: u8,
}

impl LintReport<'_> {
    fn count(&self, severity: Severity) -> usize {
        (self.diagnostics.iter())
            .filter(|d| d.severity == severity)
            .count()
    }
}

pub fn render_text(report: &LintReport<'_>) -> String {
    let mut text = String::new();
    for diagnostic in report.diagnostics {
        text.push_str(&diagnostic.to_string());
        text.push('\n');
    }
    let (errors, warnings) = (
        report.count(Severity::Error),
        report.count(Severity::Warning),
    );
    let findings = match (errors, warnings) {
        (0, 0) => "no problems".to_string(),
        (errors, 0) => plural(errors, "error"),
        (0, warnings) => plural(warnings, "warning"),
        (errors, warnings) => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    };
    let files = plural(report.files, "check file");
    let analysis = match &report.analyzer {
        AnalyzerStatus::Ran { version } => format!("KQL analysed with {PACKAGE} {version}"),
        AnalyzerStatus::Skipped { reason } => format!(
            "KQL analysis skipped: {reason}; to enable it, {}",
            crate::lint::analyzer::HOW_TO_ENABLE
        ),
        AnalyzerStatus::Failed { reason } => {
            format!("KQL analysis failed: {reason}")
        }
    };
    text.push_str(&format!("lint: {files}, {findings}; {analysis}\n"));
    text
}

pub fn render_json(report: &LintReport<'_>) -> String {
    let (status, version, reason) = match &report.analyzer {
        AnalyzerStatus::Ran { version } => ("ran", Some(version.as_str()), None),
        AnalyzerStatus::Skipped { reason } => ("skipped", None, Some(reason.as_str())),
        AnalyzerStatus::Failed { reason } => ("failed", None, Some(reason.as_str())),
    };
    let document = json!({
        "tool": { "name": "sentinel-kms", "version": env!("CARGO_PKG_VERSION") },
        "files": report.files,
        "checks": report.checks.iter().map(|check| json!({
            "id": check.id,
            "version": check.version,
            "file": check.file,
            "result_columns": check.result_columns,
        })).collect::<Vec<Value>>(),
        "analyzer": { "package": PACKAGE, "status": status, "version": version, "reason": reason },
        "diagnostics": report.diagnostics.iter().map(diagnostic_json).collect::<Vec<Value>>(),
        "summary": {
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "exit_code": report.exit_code,
        },
    });
    let mut text = serde_json::to_string_pretty(&document).expect("the report serialises");
    text.push('\n');
    text
}

fn diagnostic_json(diagnostic: &Diagnostic) -> Value {
    let positioned = diagnostic.line > 0;
    json!({
        "file": diagnostic.path.display().to_string(),
        "line": positioned.then_some(diagnostic.line),
        "column": positioned.then_some(diagnostic.column),
        "severity": diagnostic.severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
    })
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn report(diagnostics: &[Diagnostic], analyzer: AnalyzerStatus) -> LintReport<'_> {
        LintReport {
            files: 2,
            checks: vec![],
            diagnostics,
            analyzer,
            exit_code: 1,
        }
    }

    #[test]
    fn text_lists_findings_then_a_summary_that_names_the_analysis() {
        let found = [
            Diagnostic::error(Path::new("a.kql"), (2, 3), "KS142", "The name 'X'.".into()),
            Diagnostic::warning(Path::new("b.kql"), (0, 0), "id-removed", "gone".into()),
        ];
        let ran = AnalyzerStatus::Ran {
            version: "12.4.1".into(),
        };
        assert_eq!(
            render_text(&report(&found, ran)),
            "a.kql:2:3: error: The name 'X'. [KS142]\nb.kql: warning: gone [id-removed]\n\
             lint: 2 check files, 1 error, 1 warning; KQL analysed with \
             @kusto/language-service-next 12.4.1\n"
        );
        let skipped = AnalyzerStatus::Skipped {
            reason: "Node.js (`node`) is not on PATH".into(),
        };
        let text = render_text(&report(&[], skipped));
        assert!(
            text.starts_with(
                "lint: 2 check files, no problems; KQL analysis skipped: Node.js (`node`) is not on \
                 PATH; to enable it, install Node.js 20"
            ),
            "{text}"
        );
    }

    #[test]
    fn json_has_positions_or_nulls_and_the_analyser_status() {
        let found = [Diagnostic::warning(
            Path::new("b.kql"),
            (0, 0),
            "id-removed",
            "gone".into(),
        )];
        let skipped = AnalyzerStatus::Skipped {
            reason: "missing".into(),
        };
        let document: Value = serde_json::from_str(&render_json(&report(&found, skipped))).unwrap();
        assert_eq!(document["diagnostics"][0]["line"], Value::Null);
        assert_eq!(document["diagnostics"][0]["severity"], "warning");
        assert_eq!(document["analyzer"]["status"], "skipped");
        assert_eq!(document["analyzer"]["reason"], "missing");
        assert_eq!(document["summary"]["warnings"], 1);
        assert_eq!(document["summary"]["exit_code"], 1);
    }
}
