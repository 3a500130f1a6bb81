//! The pipeline templates validate against the published schemas of Azure Pipelines and GitHub
//! Actions workflows, as vendored by check-jsonschema (so no network is needed), and a template
//! with a mistake does not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `check-jsonschema` from the test environment, with the schema it ships for `kind`.
fn check(kind: &str, file: &Path) -> Output {
    let mut command = Command::new(super::common::python());
    command
        .args(["-m", "check_jsonschema", "--builtin-schema"])
        .arg(kind);
    if kind == "vendor.azure-pipelines" {
        // Template expressions are resolved first; the schema's patterns are not in Unicode
        // mode, which the default regex engine would insist on.
        command.args([
            "--data-transform",
            "azure-pipelines",
            "--regex-variant",
            "nonunicode",
        ]);
    }
    command.arg(file).output().expect("check-jsonschema runs")
}

fn assert_valid(kind: &str, file: &Path) {
    let output = check(kind, file);
    assert!(
        output.status.success(),
        "{} does not validate:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A copy of `file` with one replacement, which must make it invalid.
fn assert_broken_copy_fails(kind: &str, file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", file.display());
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(file.file_name().unwrap());
    std::fs::write(&copy, text.replacen(from, to, 1)).unwrap();
    let output = check(kind, &copy);
    assert!(
        !output.status.success()
            && String::from_utf8_lossy(&output.stdout).contains("Schema validation errors"),
        "{from:?} -> {to:?} was accepted:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn azure_pipelines_template_validates_against_its_schema() {
    let file = root().join("azure-pipelines.yml");
    assert_valid("vendor.azure-pipelines", &file);
    let text = std::fs::read_to_string(&file).unwrap();
    for required in [
        "trigger: none",
        "pr: none",
        "always: \"true\"",
        "task: AzureCLI@2",
        "task: PublishTestResults@2",
        "condition: succeededOrFailed()",
        "sentinel-kms build --out dist",
    ] {
        assert!(
            text.contains(required),
            "azure-pipelines.yml lacks {required:?}"
        );
    }
    let kind = "vendor.azure-pipelines";
    assert_broken_copy_fails(
        kind,
        &file,
        "testResultsFormat: JUnit",
        "testResultsFormat: JUnitXml",
    );
    assert_broken_copy_fails(kind, &file, "always: \"true\"", "always: \"sometimes\"");
}

#[test]
fn github_workflow_validates_against_its_schema() {
    let file = root().join(".github/workflows/sentinel-kms.yml");
    assert_valid("vendor.github-workflows", &file);
    let kind = "vendor.github-workflows";
    assert_broken_copy_fails(
        kind,
        &file,
        "runs-on: ubuntu-latest",
        "runs_on: ubuntu-latest",
    );
    assert_broken_copy_fails(kind, &file, "id-token: write", "id-token: always");
}
