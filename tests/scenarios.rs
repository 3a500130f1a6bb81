//! `validate` against the local workspace, one scenario per pipeline state.

mod common;

use common::{LocalWorkspace, WORKSPACE, validate};

/// `validate --format json` of the freshness check alone.
fn freshness(workspace: &LocalWorkspace, extra: &[&str]) -> common::RunResult {
    let mut args = vec!["--check", "guardduty-freshness"];
    args.extend_from_slice(extra);
    validate(workspace, &args)
}

fn triples(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(g, s, r)| (g.to_string(), s.to_string(), r.to_string()))
        .collect()
}

#[test]
fn healthy_flow_is_healthy_for_every_account_and_region() {
    let workspace = LocalWorkspace::start("healthy");
    let run = freshness(&workspace, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.verdicts(),
        triples(&[
            ("111122223333/eu-west-1", "healthy", "fresh"),
            ("111122223333/us-east-1", "healthy", "fresh"),
            ("444455556666/eu-west-1", "healthy", "fresh"),
        ])
    );
    let document = run.json();
    let first = &document["results"][0];
    assert_eq!(first["check"], "guardduty-freshness");
    assert_eq!(first["check_version"], "1.3.0");
    assert_eq!(first["workspace"], WORKSPACE);
    assert_eq!(
        first["group"],
        serde_json::json!({"AccountId": "111122223333", "Region": "eu-west-1"})
    );
    assert_eq!(first["remedy"], serde_json::Value::Null);
    // The scenario delays each row by 25 minutes.
    assert_eq!(first["lag_seconds"], 25 * 60);
    let last_seen =
        chrono::DateTime::parse_from_rfc3339(first["last_seen"].as_str().unwrap()).unwrap();
    let age = chrono::Utc::now() - last_seen.with_timezone(&chrono::Utc);
    assert!(age < chrono::TimeDelta::hours(1), "last seen {age} ago");
    assert_eq!(document["summary"]["healthy"], 3);
    assert_eq!(document["summary"]["exit_code"], 0);
}

#[test]
fn late_rows_are_lag_and_fail_past_the_failure_level() {
    let workspace = LocalWorkspace::start("lag");
    let run = freshness(&workspace, &[]);
    let verdicts = run.verdicts();
    let late: Vec<_> = verdicts
        .iter()
        .filter(|(_, status, _)| status == "lag")
        .collect();
    assert_eq!(late.len(), 1, "{verdicts:?}");
    // About 3 h late: past the 1 h warning, below the 6 h failure level, so the run passes.
    assert_eq!(late[0].2, "lag_warning");
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lagging = run.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "lag")
        .cloned()
        .unwrap();
    let lag = lagging["lag_seconds"].as_i64().unwrap();
    assert!((2 * 3600..4 * 3600).contains(&lag), "lag {lag}");
    assert_eq!(lagging["fails"], false);

    // Lowering the failure level below the lag makes the same data fail the run.
    let strict = freshness(&workspace, &["--set", "lag_failure=2h"]);
    assert_eq!(strict.code, 1);
    assert!(
        strict
            .verdicts()
            .iter()
            .any(|(_, s, r)| s == "lag" && r == "lag_failure")
    );
}

#[test]
fn an_empty_table_is_never_seen() {
    let workspace = LocalWorkspace::start("empty-table");
    let run = freshness(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(run.verdicts(), triples(&[("-", "no_data", "never_seen")]));
    let result = &run.json()["results"][0];
    assert_eq!(result["group"], serde_json::Value::Null);
    assert_eq!(result["last_seen"], serde_json::Value::Null);
    assert!(result["remedy"].as_str().unwrap().contains("kms:Decrypt"));
}

#[test]
fn a_missing_table_is_no_data_not_an_error() {
    let workspace = LocalWorkspace::start("table-missing");
    let run = freshness(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.verdicts(),
        triples(&[("-", "no_data", "table_missing")])
    );
    assert!(
        run.json()["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("AWSGuardDuty does not exist")
    );
}

#[test]
fn one_stopped_region_is_stale_while_the_others_flow() {
    let workspace = LocalWorkspace::start("region-stopped");
    let run = freshness(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.verdicts(),
        triples(&[
            ("111122223333/eu-west-1", "healthy", "fresh"),
            ("111122223333/us-east-1", "no_data", "stale"),
            ("444455556666/eu-west-1", "healthy", "fresh"),
        ])
    );
    let stale = &run.json()["results"][1];
    let last_seen =
        chrono::DateTime::parse_from_rfc3339(stale["last_seen"].as_str().unwrap()).unwrap();
    let silent = chrono::Utc::now() - last_seen.with_timezone(&chrono::Utc);
    assert!(
        (chrono::TimeDelta::hours(47)..chrono::TimeDelta::hours(49)).contains(&silent),
        "silent for {silent}"
    );
    let remedy = stale["remedy"].as_str().unwrap();
    assert!(remedy.contains("111122223333 in us-east-1"), "{remedy}");
    assert!(remedy.contains("kms:Decrypt"), "{remedy}");
}

#[test]
fn everything_stopped_three_days_ago_is_stale_since_then() {
    let workspace = LocalWorkspace::start("all-stopped");
    let run = freshness(&workspace, &[]);
    assert_eq!(run.code, 1);
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), 3);
    assert!(
        verdicts
            .iter()
            .all(|(_, status, reason)| status == "no_data" && reason == "stale"),
        "{verdicts:?}"
    );
    for result in run.json()["results"].as_array().unwrap() {
        assert!(
            result["message"].as_str().unwrap().contains("(3d ago)"),
            "{}",
            result["message"]
        );
    }
}

#[test]
fn the_table_report_puts_the_diagnosis_before_the_verdicts() {
    let workspace = LocalWorkspace::start("region-stopped");
    let run = common::sentinel_kms(&[
        "validate",
        "--check",
        "guardduty-freshness",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("111122223333 / us-east-1"),
        "{}",
        run.stdout
    );
    let diagnosis = run
        .stdout
        .find("Diagnosis 1: 1 of 3 account/region groups stopped while 2 keep flowing")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        diagnosis < run.stdout.find('┌').unwrap(),
        "the diagnosis comes first"
    );
    assert!(
        run.stdout.contains(
            "  - guardduty-freshness 111122223333 / us-east-1 (stale): nothing has arrived since"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("2 healthy, 0 lag, 1 no data, 0 could not be evaluated (exit 1)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
}
