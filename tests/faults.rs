//! Faults of the service and the network, each run through the binary against the local
//! workspace. Most runs hold two checks, the shipped `guardduty-freshness` and a copy whose query
//! carries the marker `second copy`, and the fault hits the copy only. Each test asserts the
//! copy's status (never `healthy`, never `no_data` for a failure to evaluate) and reason, the exit
//! code, a message naming the workspace and the check, a remedy saying what to do, the untouched
//! check still reported healthy, the number of requests sent, and a bound on the total time.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{LocalWorkspace, RunResult, TOKEN, WORKSPACE, sentinel_kms, sentinel_kms_env};
use serde_json::Value;

const COPY: &str = "guardduty-freshness-copy";

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

/// A run of both checks against a local workspace with `faults`.
struct FaultRun {
    workspace: LocalWorkspace,
    run: RunResult,
}

fn run_faults(scenario: &str, faults: &[&str], extra: &[&str]) -> FaultRun {
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start_with(scenario, faults);
    let mut args = vec!["--queries", dir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = common::validate(&workspace, &args);
    FaultRun { workspace, run }
}

/// The verdicts of one check in a JSON run.
fn of_check(run: &RunResult, id: &str) -> Vec<Value> {
    run.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["check"] == id)
        .cloned()
        .collect()
}

fn statuses(verdicts: &[Value]) -> Vec<&str> {
    verdicts
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect()
}

/// The copy could not be evaluated, for `reason`, and says so; the shipped check is healthy.
fn assert_copy_not_evaluated(
    faulty: &FaultRun,
    reason: &str,
    remedy_says: &str,
    max: Duration,
) -> Value {
    let run = &faulty.run;
    assert_eq!(
        run.code, 3,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        statuses(&of_check(run, "guardduty-freshness")),
        ["healthy", "healthy", "healthy"],
        "the other check must still be reported"
    );
    let copy = of_check(run, COPY);
    assert_eq!(copy.len(), 1, "{copy:?}");
    let verdict = copy[0].clone();
    assert_eq!(
        (verdict["status"].as_str(), verdict["reason"].as_str()),
        (Some("error"), Some(reason)),
        "{verdict}"
    );
    assert_eq!(verdict["fails"], false);
    let message = verdict["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "could not evaluate `{COPY}` in workspace {WORKSPACE}: "
        )),
        "{message}"
    );
    let remedy = verdict["remedy"].as_str().unwrap_or_default();
    assert!(remedy.contains(remedy_says), "remedy: {remedy}");
    let summary = &run.json()["summary"];
    assert_eq!(
        (summary["healthy"].as_u64(), summary["error"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(summary["exit_code"], 3);
    assert!(run.elapsed < max, "took {:?}", run.elapsed);
    verdict
}

#[test]
fn a_single_429_is_retried_after_retry_after() {
    let faulty = run_faults(
        "healthy",
        &["status=429,retry_after=1,times=1,match=second copy"],
        &[],
    );
    let run = &faulty.run;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(statuses(&of_check(run, COPY)), ["healthy"; 3]);
    assert_eq!(
        statuses(&of_check(run, "guardduty-freshness")),
        ["healthy"; 3]
    );
    assert_eq!(faulty.workspace.requests(), 3, "two queries and one resend");
    assert!(
        run.elapsed >= Duration::from_secs(1),
        "Retry-After was not honoured: {:?}",
        run.elapsed
    );
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
}

#[test]
fn persistent_throttling_gives_up_after_bounded_retries() {
    let faulty = run_faults(
        "healthy",
        &["status=429,retry_after=1,match=second copy"],
        &[],
    );
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "throttled",
        "lower --concurrency",
        Duration::from_secs(20),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("throttled (429) after 4 attempts")
    );
    assert_eq!(
        faulty.workspace.requests(),
        1 + 4,
        "one request and three resends"
    );
    assert!(
        faulty.run.elapsed >= Duration::from_secs(3),
        "{:?}",
        faulty.run.elapsed
    );
}

#[test]
fn a_retry_after_beyond_the_cap_is_not_waited_for() {
    let faulty = run_faults(
        "healthy",
        &["status=429,retry_after=3600,match=second copy"],
        &[],
    );
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "throttled",
        "--concurrency",
        Duration::from_secs(10),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("asked to wait 3600s"),
        "{verdict}"
    );
    assert_eq!(faulty.workspace.requests(), 2);
}

#[test]
fn service_unavailable_is_retried_with_backoff_then_reported() {
    let faulty = run_faults("healthy", &["status=503,match=second copy"], &[]);
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "service_error",
        "run again later",
        Duration::from_secs(20),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("503 ServiceUnavailable")
    );
    assert_eq!(faulty.workspace.requests(), 1 + 4);
}

#[test]
fn a_500_is_reported_and_not_resent() {
    let faulty = run_faults("healthy", &["status=500,match=second copy"], &[]);
    assert_copy_not_evaluated(
        &faulty,
        "service_error",
        "run again later",
        Duration::from_secs(10),
    );
    assert_eq!(faulty.workspace.requests(), 2);
}

#[test]
fn a_504_is_reported_and_not_resent() {
    let faulty = run_faults("healthy", &["status=504,match=second copy"], &[]);
    assert_copy_not_evaluated(
        &faulty,
        "server_timeout",
        "Raise --wait",
        Duration::from_secs(10),
    );
    assert_eq!(faulty.workspace.requests(), 2);
}

#[test]
fn a_query_slower_than_the_server_side_wait_ends_at_the_wait() {
    let faulty = run_faults("healthy", &["delay=30,match=second copy"], &["--wait", "2"]);
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "server_timeout",
        "Raise --wait",
        Duration::from_secs(12),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("server-side limit of 2s (504)")
    );
}

#[test]
fn a_server_that_ignores_the_wait_meets_the_client_timeout() {
    // The client waits `--wait` plus 15 s, then gives up on its own.
    let faulty = run_faults(
        "healthy",
        &["delay=60,ignore_wait,match=second copy"],
        &["--wait", "1"],
    );
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "client_timeout",
        "Raise --wait",
        Duration::from_secs(40),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 16s")
    );
    assert!(
        faulty.run.elapsed >= Duration::from_secs(16),
        "{:?}",
        faulty.run.elapsed
    );
}

#[test]
fn a_403_says_which_role_to_grant_on_which_workspace() {
    let faulty = run_faults("healthy", &["status=403,match=second copy"], &[]);
    assert_copy_not_evaluated(
        &faulty,
        "forbidden",
        &format!("Grant this identity the Log Analytics Reader role on workspace {WORKSPACE}"),
        Duration::from_secs(10),
    );
    assert_eq!(faulty.workspace.requests(), 2);
}

#[test]
fn a_401_for_a_fixed_token_is_reported_once() {
    // A fixed token cannot be renewed, so a rejected one is not resent.
    let faulty = run_faults("healthy", &["status=401,match=second copy"], &[]);
    assert_copy_not_evaluated(
        &faulty,
        "unauthorized",
        "sign in again",
        Duration::from_secs(10),
    );
    assert_eq!(faulty.workspace.requests(), 2);
}

#[test]
fn a_token_the_service_does_not_accept_is_unauthorized_for_every_check() {
    // The local workspace answers 403 InvalidAuthenticationToken: a token problem, not a role.
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start("healthy");
    let run = sentinel_kms_env(
        &[
            "validate",
            "--queries",
            dir.path().to_str().unwrap(),
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
    assert_eq!(run.code, 3);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2);
    for verdict in &results {
        assert_eq!(verdict["reason"], "unauthorized", "{verdict}");
        assert!(
            verdict["remedy"]
                .as_str()
                .unwrap()
                .contains("--cloud matches")
        );
    }
}

#[test]
fn a_404_is_a_workspace_not_found() {
    let faulty = run_faults("healthy", &["status=404,match=second copy"], &[]);
    assert_copy_not_evaluated(
        &faulty,
        "workspace_not_found",
        "pass the Workspace ID (a GUID",
        Duration::from_secs(10),
    );
}

#[test]
fn unusable_answers_are_errors_and_are_not_resent() {
    for (fault, reason, says) in [
        ("empty200", "bad_response", "Content-Type: application/json"),
        ("nocontent", "no_content", "204 No Content"),
        ("malformed", "bad_response", "not valid JSON"),
        (
            "wrong_columns",
            "bad_response",
            "lacks column(s) AccountId, Region, Rows",
        ),
    ] {
        let faulty = run_faults("healthy", &[&format!("{fault},match=second copy")], &[]);
        let verdict = assert_copy_not_evaluated(&faulty, reason, " ", Duration::from_secs(10));
        assert!(
            verdict["message"].as_str().unwrap().contains(says),
            "{fault}: {verdict}"
        );
        assert_eq!(faulty.workspace.requests(), 2, "{fault}");
    }
}

#[test]
fn a_connection_reset_mid_body_is_a_network_error_after_retries() {
    let faulty = run_faults("healthy", &["reset,match=second copy"], &[]);
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "network",
        "reaches it over HTTPS",
        Duration::from_secs(20),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("after 4 attempts"),
        "{verdict}"
    );
    assert_eq!(faulty.workspace.requests(), 1 + 4);
}

/// A loopback port that nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn connection_refused_is_a_network_error_for_every_check_in_bounded_time() {
    let dir = two_check_catalog();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let run = sentinel_kms(&[
        "validate",
        "--queries",
        dir.path().to_str().unwrap(),
        "--workspace",
        WORKSPACE,
        "--endpoint",
        &endpoint,
        "--auth",
        "access-token",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2, "every check is reported");
    for (verdict, id) in results.iter().zip(["guardduty-freshness", COPY]) {
        assert_eq!(verdict["check"], id);
        assert_eq!(
            (verdict["status"].as_str(), verdict["reason"].as_str()),
            (Some("error"), Some("network"))
        );
        let message = verdict["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{id}` in workspace {WORKSPACE}"))
                && message.contains("after 4 attempts"),
            "{message}"
        );
        assert!(verdict["remedy"].as_str().unwrap().contains("endpoint URL"));
    }
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
}

#[test]
fn a_partial_result_is_never_healthy_nor_no_data() {
    // In a workspace where one region stopped, the partial answer's silence proves nothing.
    let faulty = run_faults("region-stopped", &["partial,match=second copy"], &[]);
    let run = &faulty.run;
    assert_eq!(
        run.code, 1,
        "the shipped check still finds the stopped region"
    );
    let copy = of_check(run, COPY);
    assert_eq!(copy.len(), 3);
    for verdict in &copy {
        assert_eq!(verdict["partial"], true);
        assert_eq!(
            (verdict["status"].as_str(), verdict["reason"].as_str()),
            (Some("error"), Some("partial_result")),
            "{verdict}"
        );
        let message = verdict["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "could not evaluate `{COPY}` in workspace {WORKSPACE}"
            )) && message.contains("returned only part of the result"),
            "{message}"
        );
        assert!(verdict["remedy"].as_str().unwrap().contains("Run again"));
    }
    assert!(
        copy.iter().any(|v| v["message"]
            .as_str()
            .unwrap()
            .contains("looked no_data (stale)")),
        "{copy:?}"
    );
    assert_eq!(
        statuses(&of_check(run, "guardduty-freshness")),
        ["healthy", "no_data", "healthy"]
    );

    // With nothing else failing, a partial result alone is exit 3, never 0.
    let faulty = run_faults("healthy", &["partial,match=second copy"], &[]);
    assert_eq!(faulty.run.code, 3);
    assert_eq!(faulty.run.json()["summary"]["partial"], 3);
    assert_eq!(faulty.run.json()["summary"]["healthy"], 3);
}

#[test]
fn no_data_wins_over_could_not_evaluate_in_the_exit_code() {
    let faulty = run_faults("region-stopped", &["status=500,match=second copy"], &[]);
    assert_eq!(faulty.run.code, 1, "{}", faulty.run.stdout);
    assert_eq!(faulty.run.json()["summary"]["error"], 1);
}

#[test]
fn an_unknown_workspace_is_not_found_and_the_known_one_is_still_checked() {
    let workspace = LocalWorkspace::start("healthy");
    let other = "11111111-2222-3333-4444-555555555555";
    let run = common::validate(
        &workspace,
        &["--workspace", other, "--check", "guardduty-freshness"],
    );
    assert_eq!(run.code, 3);
    let results = run.json()["results"].as_array().unwrap().clone();
    let in_other: Vec<_> = results.iter().filter(|r| r["workspace"] == other).collect();
    assert_eq!(in_other.len(), 1);
    assert_eq!(
        (
            in_other[0]["status"].as_str(),
            in_other[0]["reason"].as_str()
        ),
        (Some("error"), Some("workspace_not_found"))
    );
    let message = in_other[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("`guardduty-freshness` in workspace {other}")),
        "{message}"
    );
    assert!(
        in_other[0]["remedy"]
            .as_str()
            .unwrap()
            .contains(&format!("No workspace {other} at this endpoint"))
    );
    let in_known = results.iter().filter(|r| r["workspace"] == WORKSPACE);
    assert!(in_known.map(|r| &r["status"]).all(|s| s == "healthy"));
}

#[test]
fn the_table_output_names_workspace_check_and_remedy() {
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start_with("healthy", &["status=403,match=second copy"]);
    let run = sentinel_kms(&[
        "validate",
        "--queries",
        dir.path().to_str().unwrap(),
        "--workspace",
        WORKSPACE,
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
    ]);
    assert_eq!(run.code, 3);
    for expected in [
        &format!("could not evaluate `{COPY}` in workspace {WORKSPACE}"),
        "Log Analytics Reader role",
        "guardduty-freshness",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in\n{}",
            run.stdout
        );
    }
}

/// An unsigned JWT whose `exp` is `exp` (seconds since the epoch).
fn jwt(exp: u64) -> String {
    let claims = format!(r#"{{"exp":{exp},"aud":"https://api.loganalytics.io"}}"#);
    format!(
        "{}.{}.c2ln",
        azure_core::base64::encode_url_safe(r#"{"alg":"none"}"#),
        azure_core::base64::encode_url_safe(claims)
    )
}

#[test]
fn a_fixed_token_that_expires_mid_run_fails_the_later_checks_only() {
    // The token expires 10 s from now; the first query takes 11 s, so the second one (sent
    // after it, with one query at a time) finds the token expired and is not sent at all.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = jwt(now + 10);
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start_with_token("healthy", &["delay=11,times=1"], &token);
    let run = sentinel_kms_env(
        &[
            "validate",
            "--queries",
            dir.path().to_str().unwrap(),
            "--workspace",
            WORKSPACE,
            "--endpoint",
            &workspace.url,
            "--auth",
            "access-token",
            "--concurrency",
            "1",
            "--format",
            "json",
            "-vv",
        ],
        &[("SENTINEL_KMS_ACCESS_TOKEN", &token)],
    );
    let faulty = FaultRun { workspace, run };
    let verdict = assert_copy_not_evaluated(
        &faulty,
        "auth_failed",
        "give a fresh token in SENTINEL_KMS_ACCESS_TOKEN",
        Duration::from_secs(30),
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("the token in SENTINEL_KMS_ACCESS_TOKEN expired at"),
        "{verdict}"
    );
    assert_eq!(
        faulty.workspace.requests(),
        1,
        "an expired token is never sent"
    );
    assert!(!faulty.run.stdout.contains(&token) && !faulty.run.stderr.contains(&token));
}

/// A stand-in for the Azure CLI on `PATH`: `az account get-access-token` prints the local
/// workspace's token with the given lifetime and counts its calls in `calls`.
struct AzStandIn {
    dir: tempfile::TempDir,
}

impl AzStandIn {
    fn new(lifetime_seconds: u64) -> AzStandIn {
        AzStandIn::with_body(&format!(
            "now=$(date +%s)\n\
             printf '{{\"accessToken\":\"{TOKEN}\",\"expires_on\":%s,\"tokenType\":\"Bearer\"}}\\n' $((now + {lifetime_seconds}))\n"
        ))
    }

    /// An `az` that never answers: it records its process id in `pid` and sleeps.
    fn hanging() -> AzStandIn {
        AzStandIn::with_body("echo $$ > \"$(dirname \"$0\")/pid\"\nexec sleep 300\n")
    }

    fn with_body(body: &str) -> AzStandIn {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\necho call >> '{calls}'\n{body}",
            calls = dir.path().join("calls").display(),
        );
        let path = dir.path().join("az");
        std::fs::write(&path, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        AzStandIn { dir }
    }

    fn calls(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .map_or(0, |text| text.lines().count())
    }

    fn path_variable(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// `validate` of both checks with `--auth azure-cli`.
    fn validate(&self, workspace: &LocalWorkspace, dir: &tempfile::TempDir) -> RunResult {
        sentinel_kms_env(
            &[
                "validate",
                "--queries",
                dir.path().to_str().unwrap(),
                "--workspace",
                WORKSPACE,
                "--endpoint",
                &workspace.url,
                "--auth",
                "azure-cli",
                "--concurrency",
                "1",
                "--format",
                "json",
            ],
            &[("PATH", &self.path_variable())],
        )
    }
}

#[cfg(unix)]
#[test]
fn a_renewable_token_rejected_mid_run_is_renewed_once() {
    let az = AzStandIn::new(3600);
    let dir = two_check_catalog();
    let workspace =
        LocalWorkspace::start_with("healthy", &["status=401,times=1,match=second copy"]);
    let run = az.validate(&workspace, &dir);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(statuses(&of_check(&run, COPY)), ["healthy"; 3]);
    assert_eq!(az.calls(), 2, "one token, then one renewal after the 401");
    assert_eq!(workspace.requests(), 3);

    // Rejected again after the renewal: reported, not renewed forever.
    let az = AzStandIn::new(3600);
    let workspace = LocalWorkspace::start_with("healthy", &["status=401,match=second copy"]);
    let faulty = FaultRun {
        run: az.validate(&workspace, &dir),
        workspace,
    };
    assert_copy_not_evaluated(
        &faulty,
        "unauthorized",
        "sign in again",
        Duration::from_secs(15),
    );
    assert_eq!(az.calls(), 2);
}

#[cfg(unix)]
#[test]
fn an_azure_cli_that_never_answers_is_given_up_and_killed() {
    let az = AzStandIn::hanging();
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start("healthy");
    let run = az.validate(&workspace, &dir);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2, "{results:?}");
    for verdict in &results {
        assert_eq!(verdict["reason"], "auth_failed", "{verdict}");
        let message = verdict["message"].as_str().unwrap();
        assert!(
            message.contains("the Azure CLI did not answer within 15s"),
            "{message}"
        );
    }
    assert_eq!(az.calls(), 1, "a credential that failed is not asked again");
    assert_eq!(workspace.requests(), 0);
    assert!(run.elapsed < Duration::from_secs(25), "{:?}", run.elapsed);
    // The stand-in was killed, not left sleeping behind the tool.
    let pid = std::fs::read_to_string(az.dir.path().join("pid")).unwrap();
    assert!(!process_alive(pid.trim()), "az ({}) still runs", pid.trim());
}

/// Whether a process runs (a zombie waiting for its parent to reap it does not).
#[cfg(unix)]
fn process_alive(pid: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        let alive = stat.is_ok_and(|stat| !stat.contains(") Z "));
        if !alive || std::time::Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn a_renewable_token_about_to_expire_is_renewed_before_it_is_sent() {
    // A token with five minutes and three seconds left is reused for three seconds; the second
    // query comes four seconds later and gets a new one.
    let az = AzStandIn::new(5 * 60 + 3);
    let dir = two_check_catalog();
    let workspace = LocalWorkspace::start_with("healthy", &["delay=4,times=1"]);
    let run = az.validate(&workspace, &dir);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(az.calls(), 2);
    assert_eq!(workspace.requests(), 2);
}

#[test]
fn a_token_that_cannot_be_had_fails_every_check_in_the_time_of_one_attempt() {
    // Microsoft Entra behind a proxy that refuses connections: the credential gives up after
    // its own retries, once, and every check is reported with the reason.
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let workspace = LocalWorkspace::start("healthy");
    let run = sentinel_kms_env(
        &[
            "validate",
            "--workspace",
            WORKSPACE,
            "--endpoint",
            &workspace.url,
            "--auth",
            "client-secret",
            "--format",
            "json",
        ],
        &[
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "0d4f1a43-3d0e-4a3a-9f2a-6a1d3f0c5b11"),
            ("AZURE_CLIENT_SECRET", "not-a-real-secret"),
            ("HTTPS_PROXY", &proxy),
            ("https_proxy", &proxy),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 8, "every shipped check is reported");
    for verdict in &results {
        assert_eq!(verdict["reason"], "auth_failed", "{verdict}");
        let message = verdict["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("in workspace {WORKSPACE}: could not get a token")),
            "{message}"
        );
        assert!(verdict["remedy"].as_str().unwrap().contains("--auth"));
    }
    assert_eq!(workspace.requests(), 0, "nothing is sent without a token");
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}
