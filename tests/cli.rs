//! The command line: the catalog, bad input and configuration (exit 2), several workspaces.

mod common;

use common::{LocalWorkspace, WORKSPACE, sentinel_kms, sentinel_kms_env, validate};

#[test]
fn list_prints_the_catalog() {
    let run = sentinel_kms(&["list"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("guardduty-freshness") && run.stdout.contains("AWSGuardDuty"),
        "{}",
        run.stdout
    );

    let run = sentinel_kms(&["list", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let checks = document["checks"].as_array().unwrap();
    assert!(checks.len() >= 8, "{checks:?}");
    let check = checks
        .iter()
        .find(|c| c["id"] == "guardduty-freshness")
        .unwrap();
    assert_eq!(check["version"], "1.3.0");
    assert_eq!(
        check["group_by"],
        serde_json::json!(["AccountId", "Region"])
    );
    assert_eq!(check["thresholds"]["lag_failure"], "6h");
}

#[test]
fn a_broken_check_folder_is_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.kql"),
        "// id: Broken Id\n// version: one\nT\n",
    )
    .unwrap();
    let run = sentinel_kms(&["list", "--queries", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    let file = dir.path().join("broken.kql");
    assert!(
        run.stderr.contains(&format!(
            "{}:1: id `Broken Id` must be kebab-case",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "{}:2: version `one` is not semantic versioning",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_loop_is_reported_not_followed_forever() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
    let run = sentinel_kms(&["list", "--queries", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("symbolic link loop"), "{}", run.stderr);
}

#[test]
fn usage_and_configuration_errors_are_exit_2() {
    let base = [
        "validate",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "access-token",
    ];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["validate", "--workspace", "my-workspace"],
            "`my-workspace` is not a workspace ID",
        ),
        (vec!["validate"], "--workspace <GUID>"),
        (
            [&base[..], &["--check", "nope"]].concat(),
            "no check `nope` in the catalog",
        ),
        (
            [&base[..], &["--set", "lag_warning=soon"]].concat(),
            "`soon` is neither a KQL timespan",
        ),
        (
            [&base[..], &["--set", "colour=1h"]].concat(),
            "no check in this run has a threshold `colour`",
        ),
        (
            [&base[..], &["--set", "lag_warning=12h"]].concat(),
            "must not be larger than `lag_failure`",
        ),
        (
            [&base[..], &["--wait", "601"]].concat(),
            "601 is not in 1..=600",
        ),
        (
            vec![
                "validate",
                "--workspace",
                WORKSPACE,
                "--endpoint",
                "http://192.0.2.7:8080",
                "--auth",
                "access-token",
            ],
            "refusing to send a bearer token over plain http to `192.0.2.7`",
        ),
    ];
    for (args, expected) in cases {
        let run = sentinel_kms(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_or_expired_fixed_token_is_refused_before_any_query() {
    let args = [
        "validate",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "access-token",
    ];
    let run = sentinel_kms_env(&args, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("SENTINEL_KMS_ACCESS_TOKEN is not set"),
        "{}",
        run.stderr
    );

    // header {"alg":"none"}, payload {"exp":1600000000}
    let expired = "eyJhbGciOiJub25lIn0.eyJleHAiOjE2MDAwMDAwMDB9.c2ln";
    let run = sentinel_kms_env(&args, &[("SENTINEL_KMS_ACCESS_TOKEN", expired)]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("expired at 2020-09-13"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(expired));
}

#[test]
fn several_workspaces_each_get_their_verdicts() {
    let second = "00000000-0000-0000-0000-000000000002";
    let workspace = LocalWorkspace::start("region-stopped");
    // The server serves only the first id, so the second is an unknown workspace.
    let run = validate(
        &workspace,
        &["--workspace", second, "--check", "guardduty-freshness"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let document = run.json();
    assert_eq!(
        document["workspaces"],
        serde_json::json!([WORKSPACE, second])
    );
    let results = document["results"].as_array().unwrap();
    let in_first: Vec<_> = results
        .iter()
        .filter(|r| r["workspace"] == WORKSPACE)
        .collect();
    let in_second: Vec<_> = results
        .iter()
        .filter(|r| r["workspace"] == second)
        .collect();
    assert_eq!(in_first.len(), 3);
    assert_eq!(in_second.len(), 1);
    assert_eq!(in_second[0]["reason"], "workspace_not_found");
}

#[test]
fn a_threshold_override_changes_the_verdict() {
    let workspace = LocalWorkspace::start("region-stopped");
    // With three days allowed, the region silent for two days is no longer stale.
    let run = validate(
        &workspace,
        &[
            "--check",
            "guardduty-freshness",
            "--set",
            "guardduty-freshness.stale_after=3d",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["checks"][0]["id"], "guardduty-freshness");
    assert_eq!(run.json()["checks"][0]["thresholds"]["stale_after"], "3d");
}

#[test]
fn an_overridden_lookback_is_rewritten_into_the_query_sent() {
    let workspace = LocalWorkspace::start("all-stopped");
    // Rows stopped three days ago: inside a 14-day lookback they are stale, outside a 2-day
    // lookback the query itself finds no rows at all.
    let run = validate(
        &workspace,
        &[
            "--check",
            "guardduty-freshness",
            "--set",
            "lookback=2d",
            "--set",
            "stale_after=1d",
        ],
    );
    assert_eq!(run.code, 1);
    let verdicts = run.verdicts();
    assert_eq!(
        verdicts,
        vec![(
            "-".to_string(),
            "no_data".to_string(),
            "never_seen".to_string()
        )]
    );
}
