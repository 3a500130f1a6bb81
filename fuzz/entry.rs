//! What each fuzz target does with one input. The `cargo fuzz` targets and
//! `tests/fuzz_corpus.rs` (which replays the committed corpus on the stable toolchain) both
//! include this file, so CI runs exactly what the fuzzer ran. Besides "does not panic", each
//! function asserts properties that must hold for every input; a violated one is a crash too.

#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use sentinel_kms::catalog::{self, Check, lets::Value};
use sentinel_kms::classify::classify;
use sentinel_kms::cli::Format;
use sentinel_kms::client::response::{parse_error, parse_success};
use sentinel_kms::diagnose::diagnose;
use sentinel_kms::duration::{human, parse_dotnet, parse_kql, to_kql};
use sentinel_kms::report::outcome::FailOn;
use sentinel_kms::report::{self, Run, Subject};
use sentinel_kms::verdict::Status;
use sentinel_kms::workspaces::Workspace;

const WORKSPACE: &str = "00000000-0000-0000-0000-000000000001";

/// A check file: `parse_check` either loads it or reports errors that point into the file. A
/// check that loads survives having every threshold set to its own value (the `--set` path), and
/// the rewritten query loads again with the same settings.
pub fn check_header(data: &[u8]) {
    let path = Path::new("queries/fuzz.kql");
    let last_line = data.iter().filter(|&&b| b == b'\n').count() + 2;
    let mut check = match catalog::parse_check(path, data.to_vec()) {
        Ok(check) => check,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused check names its problems");
            for error in &errors {
                assert_eq!(error.path, path);
                assert!(
                    error.line <= last_line,
                    "line {} of {last_line}",
                    error.line
                );
                assert!(!error.message.is_empty());
            }
            return;
        }
    };
    for threshold in check.thresholds.clone() {
        check
            .set_threshold(&threshold.name, threshold.value)
            .unwrap_or_else(|error| panic!("setting `{}` to itself: {error}", threshold.name));
    }
    let again = catalog::parse_check(path, check.text.clone().into_bytes())
        .unwrap_or_else(|errors| panic!("the rewritten check no longer loads: {errors:?}"));
    assert_eq!(again.id, check.id);
    assert_eq!(again.columns, check.columns);
    let values = |check: &Check| -> Vec<(String, Value)> {
        check
            .thresholds
            .iter()
            .map(|t| (t.name.clone(), t.value))
            .collect()
    };
    assert_eq!(
        values(&again),
        values(&check),
        "thresholds changed when rewritten"
    );
}

fn built_in() -> &'static [Check] {
    static CHECKS: OnceLock<Vec<Check>> = OnceLock::new();
    CHECKS.get_or_init(|| catalog::built_in().expect("the shipped checks load"))
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
        .expect("a fixed time")
        .with_timezone(&Utc)
}

/// A response body: parsed as an answer and as an error body; an answer that parses is
/// classified by every shipped check, diagnosed and rendered. No verdict is `healthy` when the
/// answer is partial, every verdict has a message, every verdict that is not healthy says what
/// to do, and nothing is lost: each check yields at least one verdict.
pub fn response(data: &[u8]) {
    if let Some(error) = parse_error(data) {
        let _ = error.code_chain();
        let _ = error.deepest_message();
        let _ = error.unresolved_name();
    }
    let Ok(result) = parse_success(data) else {
        return;
    };
    let checks = built_in();
    let outcome = Ok(result);
    let mut verdicts = Vec::new();
    for check in checks {
        let found = classify(check, WORKSPACE, &outcome, now());
        assert!(!found.is_empty(), "`{}` lost its verdict", check.id);
        verdicts.extend(found);
    }
    let partial = outcome.as_ref().is_ok_and(|r| r.partial.is_some());
    let sound = |verdicts: &[sentinel_kms::verdict::Verdict]| {
        for verdict in verdicts {
            assert!(!verdict.message.is_empty(), "{verdict:?}");
            if verdict.status == Status::Healthy {
                assert!(
                    !partial && !verdict.partial,
                    "healthy from a partial answer: {verdict:?}"
                );
            } else {
                assert!(verdict.remedy.is_some(), "no remedy: {verdict:?}");
            }
            if verdict.status == Status::Error {
                let named = format!("`{}` in workspace {WORKSPACE}", verdict.check);
                assert!(verdict.message.contains(&named), "unnamed: {verdict:?}");
            }
        }
    };
    sound(&verdicts);
    let diagnoses = diagnose(checks, &mut verdicts);
    sound(&verdicts);
    for diagnosis in &diagnoses {
        assert!(diagnosis.verdicts.iter().all(|&i| i < verdicts.len()));
    }
    let workspaces = [Workspace {
        id: WORKSPACE.to_string(),
        name: None,
    }];
    let run = Run {
        subject: Subject::Workspaces,
        checks,
        skipped: &[],
        workspaces: &workspaces,
        verdicts: &verdicts,
        diagnoses: &diagnoses,
        started_at: now(),
        finished_at: now(),
        interrupted: false,
        fail_on: FailOn::default(),
        shard: None,
    };
    let json = report::render(Format::Json, &run, false);
    let document: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|error| panic!("{error}: {json}"));
    assert_eq!(document["summary"]["total"], verdicts.len());
    let _ = report::render(Format::Table, &run, false);
    let _ = report::junit::render(&run);
    let _ = report::markdown::render(&run, None);
}

/// A timespan in any of the spellings the tool reads. A KQL literal that parses is not
/// negative and writes back (as `--set` writes it into a query) to a literal of the same
/// value; a threshold value does the same; a .NET span stays within its format's range.
pub fn timespan(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(span) = parse_kql(text) {
        assert!(span >= TimeDelta::zero(), "{text:?} is negative");
        let written = to_kql(span);
        assert_eq!(
            parse_kql(&written),
            Some(span),
            "{text:?} was written as {written:?}"
        );
        let _ = human(span);
    }
    if let Some(value) = Value::parse(text) {
        let written = value.to_kql();
        assert_eq!(
            Value::parse(&written),
            Some(value),
            "{text:?} was written as {written:?}"
        );
    }
    if let Some(span) = parse_dotnet(text) {
        assert!(span.abs() < TimeDelta::days(100_000_000), "{text:?}");
        let _ = human(span);
    }
}
