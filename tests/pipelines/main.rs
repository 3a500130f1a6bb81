//! Scheduled runs in a pipeline: JUnit read back by an independent parser, the failure policy
//! and the CI logging commands, workspace values that try to issue commands, many workspaces
//! and shards, the pipeline templates against their schemas, and `doctor --aws` delivered the
//! same way.

#[path = "../common/mod.rs"]
mod common;

mod commands;
#[cfg(feature = "aws")]
mod doctor;
mod injection;
mod junit;
mod schemas;
mod workspaces;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{LocalWorkspace, RunResult, TOKEN};

/// Workspace IDs 1, 2, …: `00000000-0000-0000-0000-000000000001`.
fn workspace_id(n: usize) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// The JUnit file as junitparser reads it (see read_junit.py).
fn read_junit(path: &Path) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pipelines/read_junit.py");
    let output = Command::new(common::python())
        .arg(script)
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "junitparser could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from read_junit.py")
}

/// `validate` against `workspace` with the given arguments (no `--workspace` added) and extra
/// environment; the CI variables of the machine running the tests are never passed on.
fn validate_with(workspace: &LocalWorkspace, args: &[&str], env: &[(&str, &str)]) -> RunResult {
    let mut all = vec![
        "validate",
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
    ];
    all.extend_from_slice(args);
    let mut vars = vec![("SENTINEL_KMS_ACCESS_TOKEN", TOKEN)];
    vars.extend_from_slice(env);
    common::sentinel_kms_env(&all, &vars)
}

/// A config file listing `(id, name, expected groups)`.
fn config_file(dir: &Path, workspaces: &[(String, String, Vec<&str>)]) -> PathBuf {
    let mut text = String::new();
    for (id, name, expect) in workspaces {
        let expect: Vec<String> = expect.iter().map(|e| format!("\"{e}\"")).collect();
        text.push_str(&format!(
            "[[workspace]]\nid = \"{id}\"\nname = \"{name}\"\nexpect = [{}]\n\n",
            expect.join(", ")
        ));
    }
    let path = dir.join("sentinel-kms.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Lines as a CI agent splits them: at LF and at a lone CR.
fn agent_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r']).collect()
}
