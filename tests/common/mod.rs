//! The local workspace for integration tests: `tests/workspace/server.py`, a Logs query API
//! server that executes KQL with duckdb-kql, started per test on a free loopback port.

#![allow(dead_code)]

#[cfg(feature = "aws")]
pub mod aws;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const WORKSPACE: &str = "00000000-0000-0000-0000-000000000001";
pub const TOKEN: &str = "local-workspace-token";

/// The Python that has duckdb-kql: `SENTINEL_KMS_TEST_PYTHON`, else the project's `.venv`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("SENTINEL_KMS_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with duckdb-kql: run the tests with `./scripts/test.sh`, which creates .venv, \
         or set SENTINEL_KMS_TEST_PYTHON"
    );
    venv
}

pub struct LocalWorkspace {
    child: Child,
    pub url: String,
}

impl LocalWorkspace {
    pub fn start(scenario: &str) -> LocalWorkspace {
        LocalWorkspace::start_with(scenario, &[])
    }

    /// Starts the server with `--fault` specs (see tests/workspace/README.md).
    pub fn start_with(scenario: &str, faults: &[&str]) -> LocalWorkspace {
        LocalWorkspace::serve(scenario, &[WORKSPACE], faults)
    }

    /// Starts the server with faults, accepting `token` instead of the usual one.
    pub fn start_with_token(scenario: &str, faults: &[&str], token: &str) -> LocalWorkspace {
        LocalWorkspace::serve_with_token(scenario, &[WORKSPACE], faults, token)
    }

    /// Starts the server for several workspaces: `GUID`, or `GUID=SCENARIO` for one with data
    /// of its own.
    pub fn serve(scenario: &str, workspaces: &[&str], faults: &[&str]) -> LocalWorkspace {
        LocalWorkspace::serve_with_token(scenario, workspaces, faults, TOKEN)
    }

    /// [`LocalWorkspace::serve`], accepting `token` instead of the usual one.
    pub fn serve_with_token(
        scenario: &str,
        workspaces: &[&str],
        faults: &[&str],
        token: &str,
    ) -> LocalWorkspace {
        let args: Vec<&str> = faults.iter().flat_map(|fault| ["--fault", fault]).collect();
        LocalWorkspace::launch(scenario, workspaces, token, &args)
    }

    /// Starts the server with more arguments: `--fault`, `--latency`, `--max-concurrent`,
    /// `--rate-limit`, more `--workspace`s (see tests/workspace/README.md).
    pub fn start_args(scenario: &str, args: &[&str]) -> LocalWorkspace {
        LocalWorkspace::launch(scenario, &[WORKSPACE], TOKEN, args)
    }

    fn launch(scenario: &str, workspaces: &[&str], token: &str, args: &[&str]) -> LocalWorkspace {
        let server = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/workspace/server.py");
        let mut command = Command::new(python());
        command
            .arg(server)
            .args(["--scenario", scenario, "--port", "0", "--token", token]);
        for workspace in workspaces {
            command.args(["--workspace", workspace]);
        }
        command.args(args);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the local workspace server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server prints READY");
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"))
            .trim()
            .to_string();
        LocalWorkspace { child, url }
    }

    /// The server's `/_stats` document: requests, statuses, and the load it saw.
    pub fn stats(&self) -> serde_json::Value {
        let output = Command::new("python3")
            .args(["-c", "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1]).read().decode())"])
            .arg(format!("{}/_stats", self.url))
            .output()
            .expect("python3 runs");
        serde_json::from_slice(&output.stdout).expect("the stats are JSON")
    }

    /// Query requests the server has answered, from its `/_stats` endpoint.
    pub fn requests(&self) -> u64 {
        let output = Command::new("python3")
            .args(["-c", "import json,sys,urllib.request;print(json.load(urllib.request.urlopen(sys.argv[1]))['requests'])"])
            .arg(format!("{}/_stats", self.url))
            .output()
            .expect("python3 runs");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a request count")
    }
}

impl Drop for LocalWorkspace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RunResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl RunResult {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The results of the JSON report as (group label, status, reason) triples.
    pub fn verdicts(&self) -> Vec<(String, String, String)> {
        let document = self.json();
        document["results"]
            .as_array()
            .expect("a results array")
            .iter()
            .map(|r| {
                let group = match &r["group"] {
                    serde_json::Value::Object(map) => map
                        .values()
                        .map(|v| v.as_str().unwrap_or_default().to_string())
                        .collect::<Vec<_>>()
                        .join("/"),
                    _ => "-".into(),
                };
                (
                    group,
                    r["status"].as_str().unwrap().to_string(),
                    r["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// Runs the built binary with `args` and the test token in the environment.
pub fn sentinel_kms(args: &[&str]) -> RunResult {
    sentinel_kms_env(args, &[("SENTINEL_KMS_ACCESS_TOKEN", TOKEN)])
}

pub fn sentinel_kms_env(args: &[&str], env: &[(&str, &str)]) -> RunResult {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SENTINEL_KMS_ACCESS_TOKEN")
        // A test run inside a CI system must not talk to it: no logging commands, no summary.
        .env_remove("TF_BUILD")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("AGENT_TEMPDIRECTORY")
        .env_remove("SENTINEL_KMS_CI")
        .env("NO_COLOR", "1");
    run_command(&mut command, env)
}

/// Runs `command` with `env` added, to the end.
pub fn run_command(command: &mut Command, env: &[(&str, &str)]) -> RunResult {
    let started = Instant::now();
    for (name, value) in env {
        command.env(name, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the binary runs");
    RunResult {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// `validate --format json` against a local workspace, plus extra arguments.
pub fn validate(workspace: &LocalWorkspace, extra: &[&str]) -> RunResult {
    validate_over(workspace, &[WORKSPACE.to_string()], extra)
}

/// `count` workspace GUIDs, the first being `WORKSPACE`.
pub fn workspace_ids(count: usize) -> Vec<String> {
    (1..=count)
        .map(|n| format!("00000000-0000-0000-0000-{n:012}"))
        .collect()
}

/// `validate --format json` over `workspaces` (each given with `--workspace`), plus extra
/// arguments.
pub fn validate_over(
    workspace: &LocalWorkspace,
    workspaces: &[String],
    extra: &[&str],
) -> RunResult {
    let mut args = vec![
        "validate",
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
        "--format",
        "json",
    ];
    for id in workspaces {
        args.extend(["--workspace", id]);
    }
    args.extend_from_slice(extra);
    sentinel_kms(&args)
}

/// The `--workspace` arguments that make the server serve `workspaces` (the first, `WORKSPACE`,
/// is always served).
pub fn serve_args(workspaces: &[String]) -> Vec<&str> {
    workspaces
        .iter()
        .skip(1)
        .flat_map(|id| ["--workspace", id.as_str()])
        .collect()
}
