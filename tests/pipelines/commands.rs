//! `--ci` and `--fail-on`: the logging commands each CI system gets, the exit code, and the
//! final `task.complete` of a run with warnings only.

use super::common::{LocalWorkspace, RunResult, WORKSPACE};
use super::{agent_lines, validate_with};

pub(super) const COMPLETE: &str = "##vso[task.complete result=SucceededWithIssues;]";

/// The freshness check alone, in the one workspace the server holds.
fn freshness(workspace: &LocalWorkspace, extra: &[&str], env: &[(&str, &str)]) -> RunResult {
    let args = [
        &["--workspace", WORKSPACE, "--check", "guardduty-freshness"][..],
        extra,
    ]
    .concat();
    validate_with(workspace, &args, env)
}

pub(super) fn commands(text: &str) -> Vec<&str> {
    agent_lines(text)
        .into_iter()
        .filter(|line| line.starts_with("##vso[") || line.trim_start().starts_with("::"))
        .collect()
}

pub(super) fn last_line(text: &str) -> &str {
    text.trim_end_matches('\n').lines().last().unwrap_or("")
}

/// The line of `let NAME` in the freshness check.
fn threshold_line(name: &str) -> usize {
    let text = include_str!("../../queries/guardduty/freshness.kql");
    text.lines()
        .position(|line| line.starts_with(&format!("let {name} =")))
        .unwrap()
        + 1
}

#[test]
fn warnings_only_end_azure_pipelines_runs_succeeded_with_issues() {
    let workspace = LocalWorkspace::start("lag");
    let dir = tempfile::tempdir().unwrap();
    let agent_temp = dir.path().to_str().unwrap();
    let env = [("TF_BUILD", "True"), ("AGENT_TEMPDIRECTORY", agent_temp)];
    let run = freshness(&workspace, &[], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = commands(&run.stdout);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let absolute = std::path::absolute("queries/guardduty/freshness.kql").unwrap();
    assert!(
        lines[0].starts_with(&format!(
            "##vso[task.logissue type=warning;sourcepath={};linenumber={};code=lag_warning]\
             {WORKSPACE}: guardduty-freshness 111122223333/eu-west-1: rows arrive 3h late \
             (warning at 1h, failure at 6h); last arrival ",
            absolute.display(),
            threshold_line("lag_warning"),
        )),
        "{}",
        lines[0]
    );
    let summary = lines[1]
        .strip_prefix("##vso[task.uploadsummary]")
        .expect("the summary is uploaded");
    assert!(summary.starts_with(agent_temp), "{summary}");
    let page = std::fs::read_to_string(summary).unwrap();
    assert!(
        page.starts_with("## sentinel-kms: 0 failed, 1 warnings"),
        "{page}"
    );
    // The very last line, so that nothing runs after the agent ends the step.
    assert_eq!(last_line(&run.stdout), COMPLETE);

    // The same warning fails the run when the policy says so: red, not orange.
    let strict = freshness(&workspace, &["--fail-on", "no-data,lag,warning"], &env);
    assert_eq!(strict.code, 1);
    assert!(!strict.stdout.contains(COMPLETE));
    assert!(
        strict
            .stdout
            .contains("##vso[task.logissue type=error;sourcepath="),
        "{}",
        strict.stdout
    );
}

#[test]
fn the_failure_policy_chooses_what_fails_and_errors_always_exit_3() {
    let stopped = LocalWorkspace::start("region-stopped");
    let azure = [("TF_BUILD", "True")];
    assert_eq!(freshness(&stopped, &[], &azure).code, 1);
    // Lag only: the stopped region no longer fails the run, it is a warning.
    let lag_only = freshness(&stopped, &["--fail-on", "lag"], &azure);
    assert_eq!(lag_only.code, 0);
    assert!(
        lag_only.stdout.contains("no data (warning)"),
        "{}",
        lag_only.stdout
    );
    assert!(
        lag_only
            .stdout
            .contains("##vso[task.logissue type=warning;")
    );
    assert_eq!(last_line(&lag_only.stdout), COMPLETE);
    let none = freshness(&stopped, &["--fail-on", "none", "--format", "json"], &[]);
    assert_eq!(none.code, 0);
    assert_eq!(none.json()["summary"]["failed"], 0);
    assert_eq!(none.json()["summary"]["warnings"], 1);
    assert_eq!(none.json()["fail_on"], "none");

    let denied = LocalWorkspace::start_with("healthy", &["status=403"]);
    for policy in ["none", "warning", "no-data,lag,warning"] {
        let run = freshness(&denied, &["--fail-on", policy], &azure);
        assert_eq!(run.code, 3, "--fail-on {policy}");
        assert!(!run.stdout.contains("task.complete"), "{}", run.stdout);
        assert!(run.stdout.contains("##vso[task.logissue type=error;"));
    }

    let healthy = LocalWorkspace::start("healthy");
    let run = freshness(&healthy, &[], &azure);
    assert_eq!(run.code, 0);
    assert_eq!(commands(&run.stdout), Vec::<&str>::new(), "{}", run.stdout);
}

#[test]
fn github_actions_gets_annotations_and_the_step_summary() {
    let workspace = LocalWorkspace::start("lag");
    let dir = tempfile::tempdir().unwrap();
    let step_summary = dir.path().join("step_summary.md");
    std::fs::write(&step_summary, "earlier step output\n").unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap()),
    ];
    let run = freshness(&workspace, &[], &env);
    assert_eq!(run.code, 0);
    let lines = commands(&run.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "::warning file=queries/guardduty/freshness.kql,line={},\
             title=guardduty-freshness (lag_warning)::{WORKSPACE}: guardduty-freshness \
             111122223333/eu-west-1: rows arrive 3h late",
            threshold_line("lag_warning")
        )),
        "{}",
        lines[0]
    );
    let summary = std::fs::read_to_string(&step_summary).unwrap();
    assert!(
        summary.starts_with("earlier step output\n\n## sentinel-kms: 0 failed, 1 warnings"),
        "{summary}"
    );
    assert!(
        summary.contains("| ⚠️ warning | 2 | 1 | 0 | 0 |"),
        "{summary}"
    );
}

#[test]
fn logging_commands_appear_only_in_ci_mode() {
    let workspace = LocalWorkspace::start("region-stopped");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let outside = freshness(
        &workspace,
        &["--summary", summary.to_str().unwrap()],
        &[("AGENT_TEMPDIRECTORY", dir.path().to_str().unwrap())],
    );
    assert_eq!(outside.code, 1);
    assert!(
        commands(&outside.stdout).is_empty() && commands(&outside.stderr).is_empty(),
        "{}{}",
        outside.stdout,
        outside.stderr
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("❌ failed")
    );
    // The summary file is written, but only the agent would be told to upload it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // `--ci none` inside a pipeline: no commands either.
    let silenced = freshness(&workspace, &["--ci", "none"], &[("TF_BUILD", "True")]);
    assert!(commands(&silenced.stdout).is_empty(), "{}", silenced.stdout);

    // Forced on outside a pipeline; with JSON, the commands go to stderr and stdout stays JSON.
    let forced = freshness(
        &workspace,
        &["--ci", "azure-devops", "--format", "json"],
        &[],
    );
    assert_eq!(forced.json()["summary"]["failed"], 1);
    assert_eq!(commands(&forced.stderr).len(), 1, "{}", forced.stderr);
    assert!(forced.stderr.contains("##vso[task.logissue type=error;"));
}

#[test]
fn pipeline_flags_refuse_bad_values_and_unwritable_files() {
    let workspace = LocalWorkspace::start("healthy");
    for (args, message) in [
        (&["--shard", "0/3"][..], "`0/3` is not a shard"),
        (&["--shard", "4/3"], "`4/3` is not a shard"),
        (&["--fail-on", "lag,none"], "cannot be combined"),
        (&["--fail-on", "stale"], "invalid value 'stale'"),
        (&["--ci", "jenkins"], "invalid value 'jenkins'"),
    ] {
        let run = freshness(&workspace, args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }

    // A folder where the JUnit file should go: the report is still printed, the run exits 3.
    let dir = tempfile::tempdir().unwrap();
    let run = freshness(&workspace, &["--junit", dir.path().to_str().unwrap()], &[]);
    assert_eq!(run.code, 3);
    assert!(run.stdout.contains("3 healthy"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(&format!("could not write `{}`", dir.path().display())),
        "{}",
        run.stderr
    );
}
