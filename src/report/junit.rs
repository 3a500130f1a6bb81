//! JUnit XML, as Azure Pipelines' PublishTestResults@2 (and most CI systems) read it: a suite per
//! workspace, a test case per verdict, and one per check the run left out.
//!
//! - A verdict that fails the run (under `--fail-on`) is a `<failure>`, typed by its status
//!   (`no_data`, `lag`); one that could not be evaluated is an `<error>`, typed by its reason; a
//!   check left out is `<skipped>`. Warnings pass (JUnit has no warning outcome), and carry their
//!   message in `system-out`.
//! - A case is named `workspace: check account/region`, stable from run to run so test history
//!   follows it; its class name is the check file. Times are seconds: a case's is its query's.
//! - A `doctor` report has a suite per AWS account (its `workspace_id` property is then
//!   `aws_account`); its checks are not files, so a case's class name is the check's id.
//! - A report always holds at least one case: the readers drop a file without any.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::outcome::Outcome;
use super::{Run, Skipped, Subject};
use crate::verdict::Verdict;
use crate::workspaces::Workspace;

pub fn render(run: &Run<'_>) -> String {
    let mut report = Report::new(run.subject.title());
    report.set_timestamp(run.started_at).set_time(run_time(run));
    for workspace in run.workspaces {
        report.add_test_suite(workspace_suite(run, workspace));
    }
    if let Some(suite) = run_suite(run, report.tests) {
        report.add_test_suite(suite);
    }
    xml_chars(report.to_string().expect("a report in memory serialises"))
}

/// The writer drops control characters, which XML 1.0 does not allow; the two other characters
/// it does not allow, U+FFFE and U+FFFF, become U+FFFD, so any value read from a workspace
/// leaves the file readable.
fn xml_chars(text: String) -> String {
    if text.contains(['\u{FFFE}', '\u{FFFF}']) {
        text.replace(['\u{FFFE}', '\u{FFFF}'], "\u{FFFD}")
    } else {
        text
    }
}

fn workspace_suite(run: &Run<'_>, workspace: &Workspace) -> TestSuite {
    let mut suite = TestSuite::new(workspace.label());
    suite.set_timestamp(run.started_at).set_time(run_time(run));
    let id_property = match run.subject {
        Subject::Workspaces => "workspace_id",
        Subject::AwsAccount => "aws_account",
    };
    suite.add_property((id_property, workspace.id.as_str()));
    if let Some(name) = &workspace.name {
        suite.add_property(("workspace_name", name.as_str()));
    }
    suite.add_property(("fail_on", run.fail_on.describe().as_str()));
    if let Some(shard) = run.shard {
        suite.add_property(("shard", shard.to_string().as_str()));
    }
    let verdicts = run.verdicts.iter().filter(|v| v.workspace == workspace.id);
    suite.add_test_cases(verdicts.map(|verdict| verdict_case(run, workspace, verdict)));
    suite.add_test_cases(
        run.skipped
            .iter()
            .map(|skipped| skipped_case(workspace, skipped)),
    );
    suite
}

fn verdict_case(run: &Run<'_>, workspace: &Workspace, verdict: &Verdict) -> TestCase {
    let outcome = Outcome::of(verdict);
    let status = match outcome {
        Outcome::Passed | Outcome::Warning => TestCaseStatus::success(),
        Outcome::Failed => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type(verdict.status.name());
            status
        }
        Outcome::Error => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_type(verdict.reason.as_str());
            status
        }
    };
    let mut case = TestCase::new(case_name(workspace, &verdict.check, verdict), status);
    case.set_classname(if verdict.check_file.is_empty() {
        verdict.check.as_str()
    } else {
        verdict.check_file.as_str()
    });
    if let Some(elapsed) = verdict.elapsed {
        case.set_time(elapsed);
    }
    let details = details(run, verdict);
    match &mut case.status {
        TestCaseStatus::NonSuccess {
            message,
            description,
            ..
        } => {
            *message = Some(format!("[{}] {}", verdict.reason, verdict.message).into());
            *description = Some(details.into());
        }
        _ => {
            let label = if outcome == Outcome::Warning {
                "warning"
            } else {
                "healthy"
            };
            case.set_system_out(format!("{label}: {details}"));
        }
    }
    case
}

fn skipped_case(workspace: &Workspace, skipped: &Skipped) -> TestCase {
    let mut status = TestCaseStatus::skipped();
    status.set_message(skipped.why.as_str());
    let mut case = TestCase::new(format!("{}: {}", workspace.label(), skipped.check), status);
    case.set_classname(skipped.file.as_str());
    case
}

/// A suite of its own for what concerns the run rather than a workspace: an interruption, or a
/// run without a single case, since readers drop a file that has none.
fn run_suite(run: &Run<'_>, cases_so_far: usize) -> Option<TestSuite> {
    let case = if run.interrupted {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_type("interrupted")
            .set_message("interrupted before every check finished");
        TestCase::new("sentinel-kms run", status)
    } else if cases_so_far > 0 {
        return None;
    } else if run.workspaces.is_empty() {
        let mut case = TestCase::new("sentinel-kms run", TestCaseStatus::success());
        let shard = run.shard.map_or_else(String::new, |s| format!(" {s}"));
        case.set_system_out(format!("shard{shard} has no workspace to check"));
        case
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_type("nothing_evaluated")
            .set_message("no check produced a verdict");
        TestCase::new("sentinel-kms run", status)
    };
    let mut suite = TestSuite::new("sentinel-kms");
    suite.set_timestamp(run.started_at).set_time(run_time(run));
    suite.add_test_case(case);
    Some(suite)
}

/// `workspace: check account/region`, on one line.
fn case_name(workspace: &Workspace, check: &str, verdict: &Verdict) -> String {
    let mut name = format!("{}: {check}", workspace.label());
    if let Some(values) = super::group_values(verdict, "/") {
        name.push(' ');
        name.push_str(&values);
    }
    name.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The text of a failure or error, or of a passing case's output: the finding, what it rests
/// on, the diagnoses that explain it, and the remedy.
fn details(run: &Run<'_>, verdict: &Verdict) -> String {
    let mut lines = vec![verdict.message.clone()];
    lines.push(format!(
        "status: {} ({}); severity: {}",
        verdict.status.name(),
        verdict.reason,
        format!("{:?}", verdict.severity).to_lowercase()
    ));
    let noun = run.subject.noun();
    lines.push(match run.name(&verdict.workspace) {
        Some(name) => format!("{noun}: {name} ({})", verdict.workspace),
        None => format!("{noun}: {}", verdict.workspace),
    });
    if let Some(last_seen) = verdict.last_seen {
        lines.push(format!("last seen: {}", last_seen.to_rfc3339()));
    }
    if let Some(lag) = verdict.lag_seconds {
        lines.push(format!("lag: {lag} s"));
    }
    let index = run.verdicts.iter().position(|v| std::ptr::eq(v, verdict));
    for diagnosis in run
        .diagnoses
        .iter()
        .filter(|d| index.is_some_and(|i| d.verdicts.contains(&i)))
    {
        lines.push(format!(
            "diagnosis [{}]: {}\n{}",
            diagnosis.cause, diagnosis.summary, diagnosis.remedy
        ));
    }
    if let Some(remedy) = &verdict.remedy {
        lines.push(format!("what to do: {remedy}"));
    }
    lines.join("\n")
}

fn run_time(run: &Run<'_>) -> Duration {
    (run.finished_at - run.started_at)
        .to_std()
        .unwrap_or_default()
}
