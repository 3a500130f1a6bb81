//! `lint`: finds broken checks before they reach a workspace, without any network. Each file
//! goes through the catalog's own validation (header, thresholds, unique ids); every query is
//! analysed by Microsoft's Kusto analyser against the table schemas ([`analyzer`], [`schema`]);
//! the columns the header relies on must be in the query's result ([`columns`]); with
//! `--since`, versions and ids are compared with a git revision ([`history`]); the analytic
//! rule of a check that asks for one is held to the limits `build` enforces ([`rules`]).
//! [`report`] prints the findings.

pub mod analyzer;
mod columns;
pub mod diagnostic;
mod history;
mod report;
mod rules;
pub mod schema;

use std::path::{Path, PathBuf};

use crate::catalog::{self, Source};
use crate::cli::{LintArgs, LintFormat};
use crate::error::{CheckFileError, Error, Result, exit};
use analyzer::{Analysis, NotRun, QueryAnalysis};
use diagnostic::{Diagnostic, Severity, position_of_utf16_offset};
pub use report::AnalyzerStatus;
use report::{CheckedQuery, LintReport};

pub fn run(args: &LintArgs) -> Result<u8> {
    let (sources, read_errors) = read_paths(&args.paths)?;
    let (checks, check_errors) = catalog::validate_sources(&sources);
    let tables = schema::load(args.schemas.as_deref())?;
    let mut diagnostics: Vec<Diagnostic> = (read_errors.iter().chain(&check_errors))
        .map(Diagnostic::from_check_file_error)
        .collect();
    diagnostics.extend(rules::check_rules(&checks, &tables));

    let queries: Vec<(&Path, &str)> = (sources.iter())
        .filter_map(|source| {
            let text = std::str::from_utf8(&source.bytes).ok()?;
            Some((source.path.as_path(), text))
        })
        .collect();
    let (status, analysis) = analyse(&tables, &queries);
    let result_of = |path: &Path| -> Option<&QueryAnalysis> {
        let index = queries
            .iter()
            .position(|(query_path, _)| *query_path == path)?;
        analysis.as_ref().map(|analysis| &analysis.results[index])
    };
    if let Some(analysis) = &analysis {
        for ((path, text), result) in queries.iter().zip(&analysis.results) {
            diagnostics.extend(kql_diagnostics(path, text, result));
        }
        for check in &checks {
            let result = result_of(&check.path).expect("every valid check was analysed");
            if !result.diagnostics.iter().any(|d| d.severity == "Error") {
                diagnostics.extend(columns::check_output(check, result.columns.as_deref()));
            }
        }
    }
    if let Some(revision) = &args.since {
        diagnostics.extend(history::compare(revision, &args.paths, &sources, &checks)?);
    }
    diagnostics.sort();
    diagnostics.dedup();

    let exit_code = exit_code(&diagnostics, &status, args.require_analyzer);
    let report = LintReport {
        files: sources.len() + read_errors.iter().filter(|e| e.line == 0).count(),
        checks: (checks.iter())
            .map(|check| CheckedQuery {
                id: &check.id,
                version: check.version.to_string(),
                file: check.path.display().to_string(),
                result_columns: result_of(&check.path).and_then(|r| r.columns.clone()),
            })
            .collect(),
        diagnostics: &diagnostics,
        analyzer: status,
        exit_code,
    };
    let text = match args.format {
        LintFormat::Text => report::render_text(&report),
        LintFormat::Json => {
            if let AnalyzerStatus::Skipped { reason } = &report.analyzer {
                tracing::warn!(
                    "KQL analysis skipped: {reason}; to enable it, {}",
                    analyzer::HOW_TO_ENABLE
                );
            }
            report::render_json(&report)
        }
    };
    crate::output::print(&text)?;
    Ok(exit_code)
}

/// Every `.kql` file under the given paths, each once, and the files that could not be read.
fn read_paths(paths: &[PathBuf]) -> Result<(Vec<Source>, Vec<CheckFileError>)> {
    let mut sources: Vec<Source> = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let (found, mut unreadable) = catalog::read_dir(path)?;
        for source in found {
            if !sources.iter().any(|known| known.path == source.path) {
                sources.push(source);
            }
        }
        errors.append(&mut unreadable);
    }
    if sources.is_empty() && errors.is_empty() {
        let shown: Vec<String> = (paths.iter())
            .map(|path| format!("`{}`", path.display()))
            .collect();
        return Err(Error::usage(format!(
            "no `.kql` check files under {}",
            shown.join(", ")
        )));
    }
    Ok((sources, errors))
}

/// Runs the analyser over every readable file, or says why it did not run.
pub fn analyse(
    tables: &[schema::Table],
    queries: &[(&Path, &str)],
) -> (AnalyzerStatus, Option<Analysis>) {
    let current_dir = std::env::current_dir().unwrap_or_default();
    let executable = analyzer::current_executable();
    let package = match analyzer::locate(
        std::env::var_os(analyzer::ENV_VAR),
        &current_dir,
        executable.as_deref(),
    ) {
        Ok(package) => package,
        Err(reason) => return (AnalyzerStatus::Skipped { reason }, None),
    };
    tracing::debug!(package = %package.display(), "found the Kusto analyser");
    let texts: Vec<&str> = queries.iter().map(|(_, text)| *text).collect();
    match analyzer::analyse(&package, tables, &texts) {
        Ok(analysis) => (
            AnalyzerStatus::Ran {
                version: analysis.version.clone(),
            },
            Some(analysis),
        ),
        Err(NotRun::Skipped(reason)) => (AnalyzerStatus::Skipped { reason }, None),
        Err(NotRun::Failed(reason)) => (AnalyzerStatus::Failed { reason }, None),
    }
}

/// The analyser's errors and warnings, placed in the file (the query sent is the whole file).
fn kql_diagnostics(path: &Path, text: &str, result: &QueryAnalysis) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for finding in &result.diagnostics {
        let position = position_of_utf16_offset(text, finding.start);
        let message = finding.message.clone();
        match finding.severity.as_str() {
            "Error" => found.push(Diagnostic::error(path, position, &finding.code, message)),
            "Warning" => found.push(Diagnostic::warning(path, position, &finding.code, message)),
            // Suggestions and information are hints about style, not mistakes.
            _ => {}
        }
    }
    found
}

/// 2 when the analyser is required but missing; otherwise 1 for any error, 3 when the analyser
/// failed, 0 when clean (warnings alone do not fail).
fn exit_code(diagnostics: &[Diagnostic], status: &AnalyzerStatus, require_analyzer: bool) -> u8 {
    if require_analyzer && matches!(status, AnalyzerStatus::Skipped { .. }) {
        return exit::USAGE;
    }
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return exit::FAILED;
    }
    if matches!(status, AnalyzerStatus::Failed { .. }) {
        return exit::NOT_EVALUATED;
    }
    exit::OK
}
