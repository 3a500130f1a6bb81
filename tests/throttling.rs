//! The service's per-user limits, scaled down for test time: the local workspace answers 429
//! beyond 5 queries at once or 20 per 3 seconds, and the tool's limiter is set to match.

mod common;

use common::{LocalWorkspace, serve_args, validate_over, workspace_ids};

const SERVER_LIMITS: &[&str] = &[
    "--latency",
    "0.1",
    "--max-concurrent",
    "5",
    "--rate-limit",
    "20/3",
];

fn start(workspaces: &[String], more: &[&str]) -> LocalWorkspace {
    let mut args = serve_args(workspaces);
    args.extend_from_slice(SERVER_LIMITS);
    args.extend_from_slice(more);
    LocalWorkspace::start_args("healthy", &args)
}

fn assert_all_evaluated(run: &common::RunResult) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let verdicts = run.verdicts();
    assert!(!verdicts.is_empty());
    assert!(
        verdicts.iter().all(|(_, status, _)| status != "error"),
        "{verdicts:?}"
    );
}

/// 8 checks × 6 workspaces, one request each: 48 requests, more than two windows' worth, with
/// the tool's limiter at `rate`. Returns the server's statistics.
fn run_48_requests(rate: &str) -> serde_json::Value {
    let workspaces = workspace_ids(6);
    let server = start(&workspaces, &[]);
    let run = validate_over(
        &server,
        &workspaces,
        &["--workspaces-per-query", "1", "--rate-limit", rate],
    );
    assert_all_evaluated(&run);
    server.stats()
}

#[test]
fn a_run_inside_the_limits_is_never_throttled_and_uses_them_fully() {
    let stats = run_48_requests("20/3");
    assert_eq!(stats["requests"], 48, "{stats}");
    assert_eq!(
        stats["statuses"],
        serde_json::json!({ "200": 48 }),
        "{stats}"
    );
    assert_eq!(
        stats["throttled"],
        serde_json::json!({ "concurrency": 0, "rate": 0 })
    );
    // Not timid either: 5 at once, and a full window.
    assert_eq!(stats["running_peak"], 5, "{stats}");
    assert_eq!(stats["window_peak"], 20, "{stats}");
}

#[test]
fn a_client_allowed_more_than_the_service_is_throttled_and_recovers() {
    // The control for the test above: the server does enforce its window, and a run that
    // overruns it waits as told and still evaluates everything.
    let stats = run_48_requests("200/3");
    let throttled = stats["throttled"]["rate"].as_u64().unwrap();
    assert!(throttled >= 1, "{stats}");
    assert_eq!(stats["statuses"]["200"], 48, "{stats}");
    // After a 429 every request waits, so only those already in flight are turned away.
    assert!(throttled <= 15, "{stats}");
}

#[test]
fn one_429_is_waited_out_and_the_run_completes() {
    let workspaces = workspace_ids(1);
    let server = start(
        &workspaces,
        &["--fault", "status=429,retry_after=1,times=1"],
    );
    let run = validate_over(&server, &workspaces, &["--rate-limit", "20/3"]);
    assert_all_evaluated(&run);
    let stats = server.stats();
    assert_eq!(stats["requests"], 9, "8 checks and one retry: {stats}");
    assert_eq!(
        stats["statuses"],
        serde_json::json!({ "200": 8, "429": 1 }),
        "{stats}"
    );
    assert!(
        run.elapsed >= std::time::Duration::from_secs(1),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn a_bad_rate_limit_is_a_usage_error() {
    let run = common::sentinel_kms(&[
        "validate",
        "--workspace",
        common::WORKSPACE,
        "--rate-limit",
        "200",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("REQUESTS/SECONDS"), "{}", run.stderr);
}
