//! The progress bar: shown on a terminal once a run takes more than a moment, never when
//! stderr is a pipe or a CI system runs the tool, and never mixed into the report.

mod common;

use std::process::Command;

use common::{LocalWorkspace, TOKEN, serve_args, workspace_ids};

/// Runs the binary with stderr on a pseudo-terminal (stdout to a file), through Python's `pty`
/// module; returns (exit code, what the terminal showed, stdout).
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    const DRIVER: &str = r#"
import os, pty, subprocess, sys, tempfile
master, slave = pty.openpty()
with tempfile.TemporaryFile() as out:
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    code = child.wait()
    out.seek(0)
    sys.stdout.buffer.write(str(code).encode() + b"\n" + shown + b"\n=====STDOUT=====\n" + out.read())
"#;
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(DRIVER)
        .arg(env!("CARGO_BIN_EXE_sentinel-kms"))
        .args(args)
        .env("SENTINEL_KMS_ACCESS_TOKEN", TOKEN)
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    for name in ["CI", "TF_BUILD", "GITHUB_ACTIONS", "NO_COLOR"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (code, rest) = text
        .split_once('\n')
        .expect("the driver prints the exit code");
    let (shown, stdout) = rest
        .split_once("\n=====STDOUT=====\n")
        .expect("the driver separates the outputs");
    (code.parse().unwrap(), shown.to_string(), stdout.to_string())
}

fn slow_run(server: &LocalWorkspace, workspaces: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "validate",
        "--endpoint",
        &server.url,
        "--auth",
        "access-token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for id in workspaces {
        args.extend(["--workspace".to_string(), id.clone()]);
    }
    args.extend(["--workspaces-per-query", "1", "--format", "json"].map(String::from));
    args
}

const BAR: &str = "check × workspace pairs";

#[test]
fn a_long_run_on_a_terminal_shows_a_bar_and_a_clean_report() {
    let workspaces = workspace_ids(3);
    let mut server_args = serve_args(&workspaces);
    server_args.extend(["--latency", "0.3"]);
    let server = LocalWorkspace::start_args("healthy", &server_args);
    let args = slow_run(&server, &workspaces);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // 24 requests of 0.3 s, 5 at a time: about 1.5 s, past the half second the bar waits.
    let (code, shown, stdout) = on_a_terminal(&args, &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains(BAR), "{shown:?}");
    assert!(shown.contains("/24"), "{shown:?}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is the report");
    assert_eq!(report["summary"]["exit_code"], 0);

    // Inside a CI system, no bar, even on a terminal.
    let (code, shown, _) = on_a_terminal(&args, &[("TF_BUILD", "True")]);
    assert_eq!(code, 0);
    assert!(!shown.contains(BAR), "{shown:?}");

    // With -q, no bar either.
    let mut quiet = args.clone();
    quiet.push("-q");
    let (_, shown, _) = on_a_terminal(&quiet, &[]);
    assert!(!shown.contains(BAR), "{shown:?}");

    // A run shorter than a moment (one request of 0.3 s) shows nothing.
    let (code, shown, _) = on_a_terminal(
        &[
            "validate",
            "--endpoint",
            &server.url,
            "--auth",
            "access-token",
            "--workspace",
            common::WORKSPACE,
            "--check",
            "guardduty-freshness",
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert!(!shown.contains(BAR), "{shown:?}");

    // And nothing when stderr is a pipe.
    let piped = common::sentinel_kms(&args);
    assert_eq!(piped.code, 0);
    assert!(!piped.stderr.contains(BAR), "{}", piped.stderr);
}
