//! Every silent failure class, run with the whole catalog against a scenario of the local
//! workspace: the status and reason of each check, the diagnosis that joins them, and the real
//! values (ARNs, regions, codes) in its remedy.

mod common;

use common::{LocalWorkspace, RunResult, validate};
use serde_json::Value;

/// The results of one check, as (group label, status, reason, fails).
fn of(run: &RunResult, check: &str) -> Vec<(String, String, String, bool)> {
    run.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["check"] == check)
        .map(|r| {
            let group = match &r["group"] {
                Value::Object(map) => map
                    .values()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                _ => "-".into(),
            };
            (
                group,
                r["status"].as_str().unwrap().into(),
                r["reason"].as_str().unwrap().into(),
                r["fails"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn result<'a>(document: &'a Value, check: &str, reason: &str) -> &'a Value {
    document["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == check && r["reason"] == reason)
        .unwrap_or_else(|| panic!("no {check} verdict with reason {reason}"))
}

fn diagnosis<'a>(document: &'a Value, cause: &str) -> &'a Value {
    document["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["cause"] == cause)
        .unwrap_or_else(|| panic!("no diagnosis {cause} in {}", document["diagnoses"]))
}

/// The checks whose verdicts a diagnosis rests on.
fn explained_checks(document: &Value, diagnosis: &Value) -> Vec<String> {
    let mut checks: Vec<String> = diagnosis["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            document["results"][i.as_u64().unwrap() as usize]["check"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    checks.sort();
    checks.dedup();
    checks
}

fn row(group: &str, status: &str, reason: &str, fails: bool) -> (String, String, String, bool) {
    (group.into(), status.into(), reason.into(), fails)
}

const KEY_EU: &str = "arn:aws:kms:eu-west-1:111122223333:key/7d4e2a90-3c15-4f8e-b0a2-91c5e6d3f477";
const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";

#[test]
fn a_healthy_pipeline_is_healthy_in_every_check() {
    let workspace = LocalWorkspace::start("healthy");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let document = run.json();
    let results = document["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    for result in results {
        assert_eq!(result["status"], "healthy", "{result}");
    }
    assert_eq!(document["diagnoses"], serde_json::json!([]));
}

#[test]
fn a_quiet_organisation_is_not_a_failure() {
    let workspace = LocalWorkspace::start("quiet");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        of(&run, "guardduty-freshness"),
        [row("-", "no_data", "quiet", false)]
    );
    let document = run.json();
    let quiet = diagnosis(&document, "quiet_unproven");
    assert!(
        quiet["remedy"]
            .as_str()
            .unwrap()
            .contains("create-sample-findings")
    );
    assert_eq!(document["summary"]["failed"], 0);
}

#[test]
fn denied_decrypts_explain_the_stopped_region() {
    let workspace = LocalWorkspace::start("kms-denied");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "guardduty-freshness"),
        [
            row("111122223333/eu-west-1", "no_data", "stale", true),
            row("111122223333/us-east-1", "healthy", "fresh", false),
            row("444455556666/eu-west-1", "healthy", "fresh", false),
        ]
    );
    assert_eq!(
        of(&run, "kms-decrypt-denied"),
        [row(
            "111122223333/eu-west-1",
            "no_data",
            "kms_decrypt_denied",
            true
        )]
    );
    assert_eq!(
        of(&run, "connector-health-failures"),
        [row(
            "Amazon Web Services S3",
            "no_data",
            "object_access_denied",
            true
        )]
    );
    assert_eq!(
        of(&run, "kms-key-changes"),
        [row(
            "111122223333/eu-west-1",
            "no_data",
            "key_policy_changed",
            false
        )]
    );

    let document = run.json();
    let denied = result(&document, "kms-decrypt-denied", "kms_decrypt_denied");
    assert_eq!(denied["evidence"]["KeyArn"], KEY_EU);
    assert_eq!(denied["evidence"]["RoleArn"], ROLE);
    assert_eq!(
        denied["evidence"]["ErrorCodes"],
        serde_json::json!(["AccessDenied"])
    );
    assert!(denied["evidence"]["Events"].as_i64().unwrap() >= 20);

    let cause = diagnosis(&document, "kms_grant_missing");
    assert_eq!(cause["evidence"]["key_arn"], KEY_EU);
    assert_eq!(cause["evidence"]["role_arn"], ROLE);
    assert_eq!(cause["evidence"]["region"], "eu-west-1");
    assert_eq!(
        explained_checks(&document, cause),
        [
            "connector-health-failures",
            "guardduty-freshness",
            "kms-decrypt-denied",
            "kms-key-changes"
        ]
    );
    let summary = cause["summary"].as_str().unwrap();
    assert!(
        summary.contains("AccountId=111122223333, Region=eu-west-1 since"),
        "{summary}"
    );
    let remedy = cause["remedy"].as_str().unwrap();
    for needed in [
        KEY_EU,
        ROLE,
        "\"kms:Decrypt\"",
        "\"kms:DescribeKey\"",
        "--region eu-west-1",
        "simulate-principal-policy",
        "create-sample-findings",
        "--role-name OIDC_MicrosoftSentinelRole",
    ] {
        assert!(remedy.contains(needed), "remedy lacks {needed}: {remedy}");
    }

    // The report for people leads with the diagnosis.
    let table = common::sentinel_kms(&[
        "validate",
        "--workspace",
        common::WORKSPACE,
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
    ]);
    assert!(
        table.stdout.starts_with(
            "Diagnosis 1: GuardDuty findings stopped for AccountId=111122223333, Region=eu-west-1"
        ),
        "{}",
        table.stdout
    );
}

#[test]
fn a_disabled_key_is_its_own_diagnosis() {
    let workspace = LocalWorkspace::start("key-disabled");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "kms-key-changes"),
        [row(
            "111122223333/eu-west-1",
            "no_data",
            "key_disabled",
            true
        )]
    );
    let document = run.json();
    let denied = result(&document, "kms-decrypt-denied", "kms_decrypt_denied");
    assert_eq!(
        denied["evidence"]["ErrorCodes"],
        serde_json::json!(["KMSInvalidStateException"])
    );
    let cause = diagnosis(&document, "export_key_unusable");
    assert!(
        cause["remedy"]
            .as_str()
            .unwrap()
            .contains(&format!("aws kms enable-key --key-id {KEY_EU}"))
    );
    assert_eq!(
        explained_checks(&document, cause),
        [
            "guardduty-freshness",
            "kms-decrypt-denied",
            "kms-key-changes"
        ]
    );
    assert!(
        document["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["cause"] != "kms_grant_missing")
    );
}

#[test]
fn a_broken_trust_policy_shows_as_s3b40029() {
    let workspace = LocalWorkspace::start("oidc-broken");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "connector-health-failures"),
        [row(
            "Amazon Web Services S3",
            "no_data",
            "oidc_token_failed",
            true
        )]
    );
    assert!(
        of(&run, "guardduty-freshness")
            .iter()
            .all(|(_, _, reason, fails)| reason == "stale" && *fails)
    );
    let document = run.json();
    let failing = result(&document, "connector-health-failures", "oidc_token_failed");
    assert_eq!(failing["evidence"]["StatusCode"], "S3B40029");
    let cause = diagnosis(&document, "oidc_trust_broken");
    assert_eq!(
        cause["verdicts"].as_array().unwrap().len(),
        4,
        "the failure and the three stopped groups"
    );
    assert!(
        cause["remedy"]
            .as_str()
            .unwrap()
            .contains("MicrosoftDefenderForClouds_")
    );
}

#[test]
fn health_monitoring_never_enabled() {
    let workspace = LocalWorkspace::start("health-off");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "connector-health-freshness"),
        [row("-", "no_data", "table_missing", true)]
    );
    assert_eq!(
        of(&run, "connector-health-failures"),
        [row("-", "no_data", "table_missing", false)]
    );
    let document = run.json();
    let missing = result(&document, "connector-health-freshness", "table_missing");
    assert!(
        missing["remedy"]
            .as_str()
            .unwrap()
            .contains("health monitoring was never enabled")
    );
    assert!(
        of(&run, "guardduty-freshness")
            .iter()
            .all(|(_, status, _, _)| status == "healthy")
    );
}

#[test]
fn rows_without_key_fields_fail_by_share() {
    let workspace = LocalWorkspace::start("malformed");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "guardduty-malformed"),
        [row("-", "no_data", "malformed_rows", true)]
    );
    let document = run.json();
    let malformed = result(&document, "guardduty-malformed", "malformed_rows");
    assert!(malformed["evidence"]["EmptyId"].as_i64().unwrap() >= 60);
    assert_eq!(
        malformed["evidence"]["EmptyId"],
        malformed["evidence"]["EmptyAccountId"]
    );
    assert_eq!(malformed["evidence"]["EmptyRegion"], 0);
    assert!(
        malformed["message"]
            .as_str()
            .unwrap()
            .contains("at most 5% allowed")
    );
    // With a tolerance above the measured share the same rows pass.
    let lenient = validate(&workspace, &["--set", "guardduty-malformed.max_share=0.5"]);
    assert_eq!(of(&lenient, "guardduty-malformed")[0].1, "healthy");
}

#[test]
fn a_backlog_with_rewritten_timestamps_is_a_warning() {
    let workspace = LocalWorkspace::start("backlog");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        of(&run, "guardduty-backlog"),
        [row(
            "111122223333/eu-west-1",
            "lag",
            "backlog_rewritten",
            false
        )]
    );
    let document = run.json();
    let burst = result(&document, "guardduty-backlog", "backlog_rewritten");
    assert!(
        burst["evidence"]["Events"].as_i64().unwrap() >= 50,
        "{burst}"
    );
    let oldest =
        chrono::DateTime::parse_from_rfc3339(burst["evidence"]["OldestCreated"].as_str().unwrap())
            .unwrap();
    let age = chrono::Utc::now() - oldest.with_timezone(&chrono::Utc);
    assert!(age > chrono::TimeDelta::days(3), "created {age} ago");
}

#[test]
fn a_stale_cloudtrail_feed_makes_the_kms_checks_blind() {
    let workspace = LocalWorkspace::start("cloudtrail-stale");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        of(&run, "cloudtrail-freshness"),
        [row("-", "no_data", "stale", true)]
    );
    assert_eq!(
        of(&run, "kms-decrypt-denied"),
        [row("-", "error", "blind", false)]
    );
    assert_eq!(
        of(&run, "kms-key-changes"),
        [row("-", "error", "blind", false)]
    );
    let document = run.json();
    let blind = result(&document, "kms-decrypt-denied", "blind");
    assert!(
        blind["message"]
            .as_str()
            .unwrap()
            .contains("AWSCloudTrail is not arriving"),
        "{blind}"
    );
    let cause = diagnosis(&document, "feed_blind");
    assert_eq!(
        explained_checks(&document, cause),
        [
            "cloudtrail-freshness",
            "kms-decrypt-denied",
            "kms-key-changes"
        ]
    );
}

#[test]
fn a_stopped_region_among_flowing_ones_is_partial_coverage() {
    let workspace = LocalWorkspace::start("region-stopped");
    let run = validate(&workspace, &[]);
    let document = run.json();
    let cause = diagnosis(&document, "partial_coverage");
    assert!(
        cause["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 of 3 account/region groups stopped while 2 keep flowing")
    );
    assert!(
        cause["remedy"]
            .as_str()
            .unwrap()
            .contains("AWSLogs/<account>/GuardDuty/<region>/")
    );
}

#[test]
fn an_expected_account_that_never_reported_fails() {
    let workspace = LocalWorkspace::start("healthy");
    let run = validate(
        &workspace,
        &[
            "--expect",
            "777788889999/eu-central-1",
            "--expect",
            "111122223333/eu-west-1",
        ],
    );
    assert_eq!(run.code, 1);
    let freshness = of(&run, "guardduty-freshness");
    assert_eq!(freshness.len(), 4);
    assert!(freshness.contains(&row(
        "777788889999/eu-central-1",
        "no_data",
        "expected_missing",
        true
    )));
    let document = run.json();
    let missing = result(&document, "guardduty-freshness", "expected_missing");
    assert!(
        missing["remedy"]
            .as_str()
            .unwrap()
            .contains("AWSLogs/777788889999/GuardDuty/eu-central-1/")
    );
    assert!(
        diagnosis(&document, "partial_coverage")["summary"]
            .as_str()
            .unwrap()
            .contains("777788889999")
    );

    // The same from a config file, per workspace.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sentinel-kms.toml");
    std::fs::write(
        &config,
        format!("[[workspace]]\nid = \"{}\"\nname = \"local\"\nexpect = [\"777788889999/eu-central-1\"]\n", common::WORKSPACE),
    )
    .unwrap();
    let run = common::sentinel_kms(&[
        "validate",
        "--config",
        config.to_str().unwrap(),
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(of(&run, "guardduty-freshness").contains(&row(
        "777788889999/eu-central-1",
        "no_data",
        "expected_missing",
        true
    )));
}

#[test]
fn every_verdict_that_is_not_healthy_says_what_to_do() {
    let scenarios = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/workspace/scenarios"
    ))
    .unwrap();
    let mut seen = 0;
    for entry in scenarios {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let workspace = LocalWorkspace::start(&name);
        let document = validate(&workspace, &[]).json();
        for result in document["results"].as_array().unwrap() {
            if result["status"] != "healthy" {
                seen += 1;
                let remedy = result["remedy"].as_str().unwrap_or_default();
                assert!(
                    remedy.len() > 40,
                    "{name}: {} {} has no remedy",
                    result["check"],
                    result["reason"]
                );
                assert!(
                    !remedy.contains('{'),
                    "{name}: unfilled placeholder in {remedy}"
                );
            }
        }
        for diagnosis in document["diagnoses"].as_array().unwrap() {
            assert!(
                !diagnosis["remedy"].as_str().unwrap().is_empty(),
                "{name}: {diagnosis}"
            );
        }
    }
    assert!(
        seen > 30,
        "only {seen} verdicts that are not healthy across the scenarios"
    );
}

/// (status, reason, fails) of each verdict of one check, whatever its group.
fn outcomes(run: &RunResult, check: &str) -> Vec<(String, String, bool)> {
    of(run, check)
        .into_iter()
        .map(|(_, status, reason, fails)| (status, reason, fails))
        .collect()
}

fn outcome(status: &str, reason: &str, fails: bool) -> (String, String, bool) {
    (status.into(), reason.into(), fails)
}

#[test]
fn expected_groups_fail_when_the_table_is_empty_missing_or_quiet() {
    for scenario in ["empty-table", "table-missing", "quiet"] {
        let workspace = LocalWorkspace::start(scenario);
        let run = validate(
            &workspace,
            &[
                "--expect",
                "111122223333/eu-west-1",
                "--expect",
                "444455556666/us-east-2",
            ],
        );
        assert_eq!(run.code, 1, "{scenario}: {}", run.stdout);
        let freshness = of(&run, "guardduty-freshness");
        for group in ["111122223333/eu-west-1", "444455556666/us-east-2"] {
            assert!(
                freshness.contains(&row(group, "no_data", "expected_missing", true)),
                "{scenario}: {freshness:?}"
            );
        }
        assert!(run.json()["summary"]["failed"].as_u64().unwrap() >= 2);
    }
}

#[test]
fn stopped_health_records_leave_the_failure_check_blind() {
    let workspace = LocalWorkspace::start("health-stopped");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        outcomes(&run, "connector-health-freshness"),
        [outcome("no_data", "stale", true)]
    );
    assert_eq!(
        outcomes(&run, "connector-health-failures"),
        [outcome("error", "blind", false)]
    );
    let document = run.json();
    let cause = diagnosis(&document, "feed_blind");
    assert_eq!(
        explained_checks(&document, cause),
        ["connector-health-failures", "connector-health-freshness"]
    );
    let summary = cause["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("SentinelHealth is not arriving (nothing arrived since "),
        "{summary}"
    );
    assert!(
        summary.contains("`connector-health-failures` read SentinelHealth"),
        "{summary}"
    );
    assert!(!summary.contains("denials"), "{summary}");
}

#[test]
fn a_late_cloudtrail_feed_blinds_nothing() {
    let workspace = LocalWorkspace::start("cloudtrail-late");
    let run = validate(&workspace, &[]);
    assert_eq!(
        outcomes(&run, "cloudtrail-freshness"),
        [outcome("lag", "lag_warning", false)]
    );
    for check in ["kms-decrypt-denied", "kms-key-changes"] {
        assert_eq!(
            outcomes(&run, check),
            [outcome("healthy", "none_found", false)],
            "{check}"
        );
    }
    assert_eq!(run.json()["summary"]["error"], 0, "{}", run.stdout);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn an_empty_table_is_not_quiet_without_proof_that_nothing_was_denied() {
    // CloudTrail stopped: the denial check is blind, so its silence proves nothing.
    let workspace = LocalWorkspace::start("quiet-cloudtrail-stopped");
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        outcomes(&run, "guardduty-freshness"),
        [outcome("no_data", "never_seen", true)]
    );
    assert_eq!(
        outcomes(&run, "kms-decrypt-denied"),
        [outcome("error", "blind", false)]
    );
    let document = run.json();
    assert!(
        document["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["cause"] != "quiet_unproven"),
        "{}",
        document["diagnoses"]
    );

    // CloudTrail too sparse to know its rhythm: quiet, not stopped, so the denial check is not
    // blind; but a feed that is not on time cannot show that nothing was denied.
    let workspace = LocalWorkspace::start("quiet-cloudtrail-sparse");
    let run = validate(&workspace, &[]);
    assert_eq!(
        outcomes(&run, "cloudtrail-freshness"),
        [outcome("no_data", "quiet", false)]
    );
    assert_eq!(
        outcomes(&run, "kms-decrypt-denied"),
        [outcome("healthy", "none_found", false)]
    );
    assert_eq!(
        outcomes(&run, "guardduty-freshness"),
        [outcome("no_data", "never_seen", true)]
    );
    assert_eq!(run.code, 1, "{}", run.stdout);

    // The denial check skipped: nothing says no decrypt was denied.
    let workspace = LocalWorkspace::start("quiet");
    let run = validate(&workspace, &["--skip", "kms-decrypt-denied"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        outcomes(&run, "guardduty-freshness"),
        [outcome("no_data", "never_seen", true)]
    );
}
