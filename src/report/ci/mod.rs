//! CI systems: which one the run is in (`--ci`), and the logging commands that put its verdicts
//! where people look: an issue per failure and warning pointing at the check file (a `doctor`
//! check has none), the summary page, and, in Azure Pipelines, a "succeeded with issues" result
//! when only warnings occurred.
//!
//! Logging commands are written to stdout after the report, and only in CI mode. Whatever the
//! mode, a run inside a CI system (detected from its environment) has its workspace values
//! neutralised ([`neutralise`]), so that `--ci none` turns the commands off, not the protection.

pub mod neutralise;

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::Run;
use super::outcome::{Outcome, Tally};
use crate::catalog::Check;
use crate::client::auth::Environment;
use crate::verdict::Verdict;

/// `--ci`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiChoice {
    /// Azure Pipelines when TF_BUILD is `True`, GitHub Actions when GITHUB_ACTIONS is `true`,
    /// otherwise none.
    Auto,
    /// Azure Pipelines: `##vso[…]` commands.
    AzureDevops,
    /// GitHub Actions: `::error`, `::warning` and the step summary.
    Github,
    /// No logging commands.
    None,
}

/// A CI system the run talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    AzurePipelines,
    GitHubActions,
}

impl Agent {
    /// The CI system the environment says the run is in.
    pub fn detect(env: &dyn Environment) -> Option<Agent> {
        let set = |name: &str| {
            env.var(name)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        if set("TF_BUILD") {
            Some(Agent::AzurePipelines)
        } else if set("GITHUB_ACTIONS") {
            Some(Agent::GitHubActions)
        } else {
            None
        }
    }

    /// The CI system to write logging commands for.
    pub fn resolve(choice: CiChoice, env: &dyn Environment) -> Option<Agent> {
        match choice {
            CiChoice::Auto => Agent::detect(env),
            CiChoice::AzureDevops => Some(Agent::AzurePipelines),
            CiChoice::Github => Some(Agent::GitHubActions),
            CiChoice::None => None,
        }
    }
}

/// Whether workspace values must be neutralised: in CI mode, or inside a CI system. For
/// protection, "inside" is judged more widely than for choosing the commands to write: either
/// variable set to anything but empty, `false` or `0` (an agent that one day writes `1` or `yes`
/// still gets neutralised output).
pub fn protects(choice: CiChoice, env: &dyn Environment) -> bool {
    let inside = |name: &str| {
        env.var(name).is_some_and(|value| {
            let value = value.trim();
            !value.is_empty() && !value.eq_ignore_ascii_case("false") && value != "0"
        })
    };
    Agent::resolve(choice, env).is_some() || inside("TF_BUILD") || inside("GITHUB_ACTIONS")
}

/// Whether a command's stderr (logs, errors) must be filtered: `validate` and `doctor` in or for
/// a CI system, any other command inside one.
pub fn protects_command(cli: &crate::cli::Cli) -> bool {
    let env = crate::client::auth::ProcessEnvironment;
    match &cli.command {
        crate::cli::Command::Validate(args) => protects(args.pipeline.delivery.ci, &env),
        #[cfg(feature = "aws")]
        crate::cli::Command::Doctor(args) => protects(args.delivery.ci, &env),
        _ => protects(CiChoice::None, &env),
    }
}

/// One issue per verdict that failed, could not be evaluated, or is a warning, in the order of
/// the report. (Azure Pipelines shows the first ten errors and ten warnings of a step, GitHub
/// ten of each as annotations; the rest are still in the log.)
pub fn issues(agent: Agent, run: &Run<'_>) -> Vec<String> {
    run.verdicts
        .iter()
        .filter_map(|verdict| {
            let kind = match Outcome::of(verdict) {
                Outcome::Passed => return None,
                Outcome::Warning => "warning",
                Outcome::Failed | Outcome::Error => "error",
            };
            let check = run.checks.iter().find(|c| c.id == verdict.check);
            let line = check.map_or(1, |check| source_line(check, &verdict.reason));
            let message = issue_message(run, verdict);
            // The doctor's checks are code, not files: their issues point at no file.
            let has_file = !verdict.check_file.is_empty();
            Some(match agent {
                Agent::AzurePipelines => {
                    let source = if has_file {
                        format!(
                            "sourcepath={};linenumber={line};",
                            neutralise::azure_property(&source_path(&verdict.check_file))
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "##vso[task.logissue type={kind};{source}code={}]{}",
                        neutralise::azure_property(&verdict.reason),
                        neutralise::azure_data(&message)
                    )
                }
                Agent::GitHubActions => {
                    let source = if has_file {
                        format!(
                            "file={},line={line},",
                            neutralise::github_property(&verdict.check_file)
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "::{kind} {source}title={}::{}",
                        neutralise::github_property(&format!(
                            "{} ({})",
                            verdict.check, verdict.reason
                        )),
                        neutralise::github_data(&message)
                    )
                }
            })
        })
        .collect()
}

/// `workspace: check account/region: message`.
fn issue_message(run: &Run<'_>, verdict: &Verdict) -> String {
    let group = super::group_values(verdict, "/").map_or_else(String::new, |v| format!(" {v}"));
    format!(
        "{}: {}{group}: {}",
        run.label(&verdict.workspace),
        verdict.check,
        verdict.message
    )
}

/// The line an issue points at: the threshold the verdict was judged by, else the first line
/// of the query after the header.
fn source_line(check: &Check, reason: &str) -> usize {
    let threshold = match reason {
        "lag_warning" | "lag_failure" => Some(reason),
        "stale" | "quiet" => Some("stale_after"),
        "never_seen" => Some("lookback"),
        _ => None,
    };
    if let Some(line) = threshold.and_then(|name| {
        check
            .thresholds
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.line)
    }) {
        return line;
    }
    check
        .text
        .lines()
        .position(|line| !line.trim_start().starts_with("//"))
        .map_or(1, |index| index + 1)
}

/// Azure Pipelines wants an absolute path; a check file that exists here becomes one.
fn source_path(file: &str) -> String {
    let path = Path::new(file);
    if path.is_relative()
        && path.is_file()
        && let Ok(absolute) = std::path::absolute(path)
    {
        return absolute.display().to_string();
    }
    file.to_string()
}

/// The command that shows a Markdown file on the run's summary page (Azure Pipelines).
pub fn upload_summary(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!(
        "##vso[task.uploadsummary]{}",
        neutralise::azure_data(&absolute.display().to_string())
    )
}

/// The last line of an Azure Pipelines run that exits 0 with warnings: the step ends
/// "succeeded with issues" (an orange run) instead of green.
pub fn completion(agent: Agent, run: &Run<'_>, exit_code: u8) -> Option<String> {
    let warned = Tally::of(run.verdicts).warnings > 0;
    (agent == Agent::AzurePipelines && exit_code == crate::error::exit::OK && warned)
        .then(|| "##vso[task.complete result=SucceededWithIssues;]".to_string())
}

/// Where the summary goes when the run writes none with `--summary`: a fresh file in the
/// agent's temporary folder (Azure Pipelines uploads it after the step), or GitHub's step
/// summary file.
pub fn summary_target(agent: Agent, env: &dyn Environment) -> Option<PathBuf> {
    match agent {
        Agent::AzurePipelines => env.var("AGENT_TEMPDIRECTORY").map(|dir| {
            PathBuf::from(dir).join(format!("sentinel-kms-summary-{}.md", uuid::Uuid::new_v4()))
        }),
        Agent::GitHubActions => env.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Vec<(&'static str, &'static str)>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_agent_is_detected_or_chosen() {
        let azure = Vars(vec![("TF_BUILD", "True")]);
        let github = Vars(vec![("GITHUB_ACTIONS", "true")]);
        let plain = Vars(vec![("TF_BUILD", "False")]);
        assert_eq!(
            Agent::resolve(CiChoice::Auto, &azure),
            Some(Agent::AzurePipelines)
        );
        assert_eq!(
            Agent::resolve(CiChoice::Auto, &github),
            Some(Agent::GitHubActions)
        );
        assert_eq!(Agent::resolve(CiChoice::Auto, &plain), None);
        assert_eq!(
            Agent::resolve(CiChoice::Github, &plain),
            Some(Agent::GitHubActions)
        );
        assert_eq!(Agent::resolve(CiChoice::None, &azure), None);
        // `--ci none` inside a pipeline: no commands, values still neutralised.
        assert!(protects(CiChoice::None, &azure));
        assert!(!protects(CiChoice::None, &plain));
        assert!(protects(CiChoice::AzureDevops, &plain));
        // Any other value protects, though it picks no agent.
        for value in ["1", "yes", "on"] {
            let odd = Vars(vec![("GITHUB_ACTIONS", value)]);
            assert_eq!(Agent::detect(&odd), None);
            assert!(protects(CiChoice::None, &odd), "{value}");
        }
        for value in ["", "0", "FALSE"] {
            let off = Vars(vec![("TF_BUILD", value)]);
            assert!(!protects(CiChoice::Auto, &off), "{value:?}");
        }
    }

    #[test]
    fn issues_point_at_the_threshold_or_the_query() {
        let checks = crate::catalog::built_in().unwrap();
        let freshness = checks
            .iter()
            .find(|c| c.id == "guardduty-freshness")
            .unwrap();
        let stale_line = freshness
            .thresholds
            .iter()
            .find(|t| t.name == "stale_after")
            .unwrap()
            .line;
        assert_eq!(source_line(freshness, "stale"), stale_line);
        let first_query_line = source_line(freshness, "table_missing");
        assert!(
            !freshness
                .text
                .lines()
                .nth(first_query_line - 1)
                .unwrap()
                .starts_with("//"),
            "line {first_query_line}"
        );
        assert!(
            freshness
                .text
                .lines()
                .nth(first_query_line - 2)
                .unwrap()
                .starts_with("//")
        );
    }
}
