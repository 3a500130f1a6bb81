//! `--junit`, read back by junitparser: a suite per workspace, a case per verdict, failures,
//! errors and skips where the verdicts and the policy put them.

use serde_json::Value;

use super::common::LocalWorkspace;
use super::{config_file, read_junit, validate_with, workspace_id};

const NOT_CHOSEN: [&str; 6] = [
    "connector-health-failures",
    "connector-health-freshness",
    "guardduty-backlog",
    "guardduty-malformed",
    "kms-decrypt-denied",
    "kms-key-changes",
];

/// (suite, case, kind, type) of every case, sorted.
fn outcomes(suites: &Value) -> Vec<(String, String, String, String)> {
    let mut list: Vec<_> = suites
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|suite| {
            suite["cases"].as_array().unwrap().iter().map(move |case| {
                (
                    suite["name"].as_str().unwrap().to_string(),
                    case["name"].as_str().unwrap().to_string(),
                    case["kind"].as_str().unwrap().to_string(),
                    case["type"].as_str().unwrap_or("").to_string(),
                )
            })
        })
        .collect();
    list.sort();
    list
}

fn expected(warning_fails: bool) -> Vec<(String, String, String, String)> {
    let mut list = Vec::new();
    let mut case = |suite: &str, name: &str, kind: &str, ty: &str| {
        list.push((
            suite.to_string(),
            format!("{suite}: {name}"),
            kind.to_string(),
            ty.to_string(),
        ));
    };
    for suite in ["Alpha", "Bravo"] {
        case(suite, "cloudtrail-freshness", "error", "forbidden");
        for check in NOT_CHOSEN {
            case(suite, check, "skipped", "");
        }
        case(
            suite,
            "guardduty-freshness 444455556666/eu-west-1",
            "passed",
            "",
        );
    }
    // Alpha holds the `lag` scenario: eu-west-1 arrives 3 h late, a warning.
    if warning_fails {
        case(
            "Alpha",
            "guardduty-freshness 111122223333/eu-west-1",
            "failure",
            "lag",
        );
    } else {
        case(
            "Alpha",
            "guardduty-freshness 111122223333/eu-west-1",
            "passed",
            "",
        );
    }
    case(
        "Alpha",
        "guardduty-freshness 111122223333/us-east-1",
        "passed",
        "",
    );
    // Bravo holds `region-stopped`: us-east-1 stopped two days ago.
    case(
        "Bravo",
        "guardduty-freshness 111122223333/eu-west-1",
        "passed",
        "",
    );
    case(
        "Bravo",
        "guardduty-freshness 111122223333/us-east-1",
        "failure",
        "no_data",
    );
    list.sort();
    list
}

fn find<'a>(suites: &'a Value, name: &str) -> &'a Value {
    suites
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn a_mixed_run_reads_back_with_the_expected_cases() {
    let bravo = format!("{}=region-stopped", workspace_id(2));
    let workspace = LocalWorkspace::serve(
        "lag",
        &[&workspace_id(1), &bravo],
        &["status=403,match=AWSCloudTrail"],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        &[
            (workspace_id(1), "Alpha".into(), vec![]),
            (workspace_id(2), "Bravo".into(), vec![]),
        ],
    );
    let junit = dir.path().join("results/junit.xml");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--check",
        "guardduty-freshness",
        "--check",
        "cloudtrail-freshness",
        "--junit",
        junit.to_str().unwrap(),
        "--format",
        "json",
    ];
    let run = validate_with(&workspace, &args, &[]);
    // A failure and an error: the failure is the exit code.
    assert_eq!(run.code, 1, "{}", run.stderr);
    let suites = read_junit(&junit);
    assert_eq!(outcomes(&suites), expected(false));

    let alpha = &suites[0];
    assert_eq!(alpha["name"], "Alpha");
    assert_eq!(
        (
            &alpha["tests"],
            &alpha["failures"],
            &alpha["errors"],
            &alpha["skipped"]
        ),
        (
            &Value::from(10),
            &Value::from(0),
            &Value::from(1),
            &Value::from(6)
        )
    );
    assert_eq!(alpha["properties"]["workspace_id"], workspace_id(1));
    assert_eq!(alpha["properties"]["workspace_name"], "Alpha");
    assert_eq!(alpha["properties"]["fail_on"], "no-data,lag");
    assert_eq!(suites[1]["failures"], 1);
    let started = chrono::DateTime::parse_from_rfc3339(alpha["timestamp"].as_str().unwrap())
        .expect("the suite's timestamp is RFC 3339");
    assert!((chrono::Utc::now() - started.to_utc()) < chrono::TimeDelta::minutes(5));

    let stopped = find(&suites, "Bravo: guardduty-freshness 111122223333/us-east-1");
    assert_eq!(stopped["classname"], "queries/guardduty/freshness.kql");
    assert!(
        stopped["message"]
            .as_str()
            .unwrap()
            .starts_with("[stale] nothing has arrived since"),
        "{stopped}"
    );
    let text = stopped["text"].as_str().unwrap();
    assert!(
        text.contains("workspace: Bravo") && text.contains("partial_coverage"),
        "{text}"
    );
    let time = stopped["time"].as_f64().unwrap();
    assert!(
        time > 0.0 && time <= alpha["time"].as_f64().unwrap() + 0.001,
        "{time}"
    );

    let late = find(&suites, "Alpha: guardduty-freshness 111122223333/eu-west-1");
    assert!(
        late["system_out"]
            .as_str()
            .unwrap()
            .starts_with("warning: rows arrive 3h late"),
        "{late}"
    );
    let skipped = find(&suites, "Alpha: guardduty-backlog");
    assert_eq!(skipped["message"], "not chosen with --check");
    assert_eq!(skipped["time"].as_f64().unwrap_or(0.0), 0.0);
    let denied = find(&suites, "Bravo: cloudtrail-freshness");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .starts_with("[forbidden]"),
        "{denied}"
    );

    // Warnings fail the run when asked to, and become failures in the file too.
    let strict = validate_with(
        &workspace,
        &[&args[..], &["--fail-on", "no-data,lag,warning"]].concat(),
        &[],
    );
    assert_eq!(strict.code, 1);
    assert_eq!(outcomes(&read_junit(&junit)), expected(true));
}
