//! Faults of the service and the network: the right status and exit code, never `healthy` and
//! never `no_data` for a failure to evaluate, the other checks still reported, bounded time.

mod common;

use std::time::Duration;

use common::{LocalWorkspace, TOKEN, WORKSPACE, sentinel_kms, sentinel_kms_env};

/// `validate --format json` of one check, so that request counts and verdicts are per query;
/// with `--queries`, the checks of that folder.
fn validate(workspace: &LocalWorkspace, extra: &[&str]) -> common::RunResult {
    let mut args = extra.to_vec();
    if !extra.contains(&"--queries") {
        args.extend(["--check", "guardduty-freshness"]);
    }
    common::validate(workspace, &args)
}

/// The first verdict of a JSON run.
fn first(run: &common::RunResult) -> serde_json::Value {
    run.json()["results"][0].clone()
}

fn assert_error(run: &common::RunResult, reason: &str) -> serde_json::Value {
    assert_eq!(
        run.code, 3,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let verdict = first(run);
    assert_eq!(verdict["status"], "error", "{verdict}");
    assert_eq!(verdict["reason"], reason, "{verdict}");
    assert_eq!(verdict["fails"], false);
    let message = verdict["message"].as_str().unwrap();
    assert!(
        message.contains("guardduty-freshness") && message.contains(WORKSPACE),
        "{message}"
    );
    assert!(verdict["remedy"].as_str().is_some_and(|r| !r.is_empty()));
    verdict
}

#[test]
fn a_single_429_is_retried_after_retry_after() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=429,retry_after=1,times=1"]);
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.verdicts()
            .iter()
            .all(|(_, status, _)| status == "healthy")
    );
    assert_eq!(workspace.requests(), 2);
    assert!(
        run.elapsed >= Duration::from_secs(1),
        "Retry-After was not honoured: {:?}",
        run.elapsed
    );
}

#[test]
fn persistent_throttling_gives_up_after_bounded_retries() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=429,retry_after=1"]);
    let run = validate(&workspace, &[]);
    let verdict = assert_error(&run, "throttled");
    assert!(
        verdict["remedy"]
            .as_str()
            .unwrap()
            .contains("--concurrency")
    );
    assert_eq!(workspace.requests(), 4, "one request and three retries");
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=429,retry_after=3600"]);
    let run = validate(&workspace, &[]);
    let verdict = assert_error(&run, "throttled");
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("asked to wait 3600s"),
        "{verdict}"
    );
    assert_eq!(workspace.requests(), 1);
    assert!(run.elapsed < Duration::from_secs(5));
}

#[test]
fn service_unavailable_is_retried_with_backoff_then_reported() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=503"]);
    let run = validate(&workspace, &[]);
    assert_error(&run, "service_error");
    assert_eq!(workspace.requests(), 4);
    assert!(run.elapsed < Duration::from_secs(12), "{:?}", run.elapsed);
}

#[test]
fn a_500_and_a_504_are_not_resent() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=500"]);
    assert_error(&validate(&workspace, &[]), "service_error");
    assert_eq!(workspace.requests(), 1);

    let workspace = LocalWorkspace::start_with("healthy", &["status=504"]);
    let verdict = assert_error(&validate(&workspace, &[]), "server_timeout");
    assert!(verdict["remedy"].as_str().unwrap().contains("--wait"));
    assert_eq!(workspace.requests(), 1);
}

#[test]
fn a_slow_query_hits_the_server_side_wait() {
    let workspace = LocalWorkspace::start_with("healthy", &["delay=5"]);
    let run = validate(&workspace, &["--wait", "1"]);
    assert_error(&run, "server_timeout");
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn permission_and_identity_failures_say_what_to_grant() {
    let workspace = LocalWorkspace::start_with("healthy", &["status=403"]);
    let verdict = assert_error(&validate(&workspace, &[]), "forbidden");
    assert!(verdict["remedy"].as_str().unwrap().contains(&format!(
        "Log Analytics Reader role on workspace {WORKSPACE}"
    )));

    let workspace = LocalWorkspace::start_with("healthy", &["status=401"]);
    assert_error(&validate(&workspace, &[]), "unauthorized");

    // A token the service does not accept (the server answers 403 InvalidAuthenticationToken).
    let workspace = LocalWorkspace::start("healthy");
    let run = sentinel_kms_env(
        &[
            "validate",
            "--check",
            "guardduty-freshness",
            "--workspace",
            WORKSPACE,
            "--endpoint",
            &workspace.url,
            "--auth",
            "access-token",
            "--format",
            "json",
        ],
        &[("SENTINEL_KMS_ACCESS_TOKEN", "someone-elses-token")],
    );
    assert_error(&run, "unauthorized");
}

#[test]
fn an_unknown_workspace_is_not_found() {
    let workspace = LocalWorkspace::start("healthy");
    let other = "11111111-2222-3333-4444-555555555555";
    let run = sentinel_kms(&[
        "validate",
        "--check",
        "guardduty-freshness",
        "--workspace",
        other,
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 3);
    let verdict = first(&run);
    assert_eq!(
        (verdict["status"].as_str(), verdict["reason"].as_str()),
        (Some("error"), Some("workspace_not_found"))
    );
    assert!(verdict["message"].as_str().unwrap().contains(other));
}

#[test]
fn unusable_answers_are_errors() {
    for (fault, reason) in [
        ("empty200", "bad_response"),
        ("nocontent", "no_content"),
        ("malformed", "bad_response"),
        ("wrong_columns", "bad_response"),
        ("reset", "network"),
    ] {
        let workspace = LocalWorkspace::start_with("healthy", &[fault]);
        let run = validate(&workspace, &[]);
        assert_eq!(run.code, 3, "{fault}: {}", run.stdout);
        let verdicts = run.verdicts();
        assert_eq!(verdicts.len(), 1, "{fault}: {verdicts:?}");
        assert_eq!(
            (verdicts[0].1.as_str(), verdicts[0].2.as_str()),
            ("error", reason),
            "{fault}"
        );
    }
}

#[test]
fn connection_refused_is_a_network_error_in_bounded_time() {
    // Port 9 (discard) on loopback: nothing listens there in a test sandbox.
    let run = sentinel_kms(&[
        "validate",
        "--check",
        "guardduty-freshness",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "access-token",
        "--format",
        "json",
    ]);
    let verdict = assert_error(&run, "network");
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("after 4 attempts"),
        "{verdict}"
    );
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

#[test]
fn a_partial_result_is_never_healthy() {
    let workspace = LocalWorkspace::start_with("healthy", &["partial"]);
    let run = validate(&workspace, &[]);
    assert_eq!(run.code, 3);
    let document = run.json();
    for result in document["results"].as_array().unwrap() {
        assert_eq!(result["partial"], true);
        assert_eq!(result["status"], "error");
        assert_eq!(result["reason"], "partial_result");
    }
    assert_eq!(document["summary"]["healthy"], 0);
    assert_eq!(document["summary"]["partial"], 3);
}

/// The shipped check twice: as itself and as `guardduty-freshness-copy`, whose query text holds
/// the marker `second copy` for a fault to match.
fn two_check_catalog() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/guardduty/freshness.kql"
    ))
    .unwrap();
    std::fs::write(dir.path().join("a.kql"), &shipped).unwrap();
    let second = shipped
        .replace(
            "// id: guardduty-freshness",
            "// id: guardduty-freshness-copy",
        )
        .replace("let lookback = 14d;", "let lookback = 14d; // second copy");
    std::fs::write(dir.path().join("b.kql"), second).unwrap();
    dir
}

#[test]
fn a_failing_check_does_not_hide_the_others() {
    let dir = two_check_catalog();

    let workspace = LocalWorkspace::start_with("healthy", &["status=403,match=second copy"]);
    let run = validate(&workspace, &["--queries", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let verdicts = run.json()["results"].as_array().unwrap().clone();
    let by_check = |id: &str| {
        verdicts
            .iter()
            .filter(|v| v["check"] == id)
            .map(|v| v["status"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by_check("guardduty-freshness"),
        ["healthy", "healthy", "healthy"]
    );
    assert_eq!(by_check("guardduty-freshness-copy"), ["error"]);
}

#[test]
fn no_data_wins_over_could_not_evaluate_in_the_exit_code() {
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start_with("region-stopped", &["status=500,match=second copy"]);
    let run = validate(&workspace, &["--queries", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.json()["summary"]["error"], 1);
}

#[test]
fn the_token_never_reaches_output_or_logs() {
    let workspace = LocalWorkspace::start_with(
        "healthy",
        &["status=403,times=1", "status=429,retry_after=0,times=1"],
    );
    for level in ["-vv", "-v"] {
        let run = sentinel_kms_env(
            &[
                "validate",
                "--check",
                "guardduty-freshness",
                "--workspace",
                WORKSPACE,
                "--endpoint",
                &workspace.url,
                "--auth",
                "access-token",
                level,
            ],
            &[("SENTINEL_KMS_ACCESS_TOKEN", TOKEN), ("RUST_LOG", "trace")],
        );
        assert!(!run.stderr.is_empty(), "trace logging produced nothing");
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "token leaked at {level}"
        );
    }
}
