//! Delivering a finished run: the result files (`--junit`, `--summary`), the report on stdout,
//! then, in CI mode, the logging commands, the summary page, and the run's result as the very
//! last line. Files are written whole or not at all; a file that cannot be written is reported
//! after everything else has been delivered, and the run exits 3.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::ci::{self, Agent, neutralise};
use super::{Run, junit, markdown};
use crate::cli::{DeliveryArgs, Format};
use crate::client::auth::Environment;
use crate::error::{Error, Result};
use crate::output::write_file;

/// GitHub keeps at most 1 MiB of step summary per step.
const GITHUB_SUMMARY_LIMIT: usize = 1024 * 1024;

/// Where and how a run is delivered.
pub struct Delivery<'a> {
    pub format: Format,
    pub colour: bool,
    pub junit: Option<&'a Path>,
    pub summary: Option<&'a Path>,
    /// The CI system to write logging commands for.
    pub agent: Option<Agent>,
    /// Whether outputs pass through [`neutralise::text`] (in, or for, a CI system).
    pub protect: bool,
    pub env: &'a dyn Environment,
    /// Rewrites the JSON report before it is filtered and printed (`doctor` adds sections of
    /// its own); the other outputs are rendered from the run alone.
    pub json_transform: Option<&'a dyn Fn(String) -> String>,
}

impl<'a> Delivery<'a> {
    /// The delivery the command line asks for: colour on a terminal unless NO_COLOR is set, the
    /// CI system `--ci` resolves to, and protection in or for a CI system.
    pub fn new(format: Format, args: &'a DeliveryArgs, env: &'a dyn Environment) -> Self {
        Delivery {
            format,
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            junit: args.junit.as_deref(),
            summary: args.summary.as_deref(),
            agent: Agent::resolve(args.ci, env),
            protect: ci::protects(args.ci, env),
            env,
            json_transform: None,
        }
    }
}

/// Writes every output of `run` and returns its exit code.
pub fn deliver(run: &Run<'_>, delivery: &Delivery<'_>) -> Result<u8> {
    let code = super::exit_code(run);
    let filter = |text: String| {
        if delivery.protect {
            neutralise::text(&text)
        } else {
            text
        }
    };
    let mut failures = Vec::new();
    if let Some(path) = delivery.junit {
        failures.extend(write_file(path, filter(junit::render(run)).as_bytes()).err());
    }
    let mut summary_written = None;
    if let Some(path) = delivery.summary {
        let text = filter(markdown::render(run, None));
        match write_file(path, text.as_bytes()) {
            Ok(()) => summary_written = Some(path),
            Err(error) => failures.push(error),
        }
    }

    let mut report = super::render(delivery.format, run, delivery.colour);
    if let (Format::Json, Some(transform)) = (delivery.format, delivery.json_transform) {
        report = transform(report);
    }
    let report = filter(report);
    let mut commands = Vec::new();
    if let Some(agent) = delivery.agent {
        commands = ci::issues(agent, run);
        match summary_page(run, delivery, agent, summary_written, &filter) {
            Ok(Some(line)) => commands.push(line),
            Ok(None) => {}
            Err(error) => failures.push(error),
        }
    }
    // Commands follow a table; a JSON document keeps stdout to itself, so they go to stderr.
    let (mut stdout_text, mut command_text) = (report, String::new());
    let target = match delivery.format {
        Format::Table => &mut stdout_text,
        Format::Json => &mut command_text,
    };
    for line in &commands {
        target.push_str(line);
        target.push('\n');
    }
    emit(&stdout_text, &command_text)?;

    if let Some(error) = failures.into_iter().next() {
        return Err(error);
    }
    if let Some(line) = delivery
        .agent
        .and_then(|agent| ci::completion(agent, run, code))
    {
        let last = format!("{line}\n");
        match delivery.format {
            Format::Table => emit(&last, "")?,
            Format::Json => emit("", &last)?,
        }
    }
    Ok(code)
}

/// Puts the summary on the run's page: Azure Pipelines uploads a file named by a command (the
/// `--summary` file once written, else a new one in the agent's temporary folder), GitHub reads
/// what is appended to its step summary file. Returns the command to print, if any.
fn summary_page(
    run: &Run<'_>,
    delivery: &Delivery<'_>,
    agent: Agent,
    summary_written: Option<&Path>,
    filter: &dyn Fn(String) -> String,
) -> Result<Option<String>> {
    match agent {
        Agent::AzurePipelines => {
            let path: PathBuf = match (delivery.summary, ci::summary_target(agent, delivery.env)) {
                (Some(_), _) => match summary_written {
                    Some(path) => path.to_path_buf(),
                    // Its write failed, which is reported already.
                    None => return Ok(None),
                },
                (None, Some(path)) => {
                    write_file(&path, filter(markdown::render(run, None)).as_bytes())?;
                    path
                }
                (None, None) => {
                    tracing::warn!(
                        "no summary page: AGENT_TEMPDIRECTORY is not set; give --summary FILE"
                    );
                    return Ok(None);
                }
            };
            Ok(Some(ci::upload_summary(&path)))
        }
        Agent::GitHubActions => {
            let Some(path) = ci::summary_target(agent, delivery.env) else {
                tracing::warn!("no step summary: GITHUB_STEP_SUMMARY is not set");
                return Ok(None);
            };
            append_step_summary(&path, run, filter)?;
            Ok(None)
        }
    }
}

/// Appends the summary to GitHub's step summary file, within what is left of its limit.
fn append_step_summary(
    path: &Path,
    run: &Run<'_>,
    filter: &dyn Fn(String) -> String,
) -> Result<()> {
    let failed = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let used = std::fs::metadata(path).map_or(0, |m| m.len() as usize);
    let budget = GITHUB_SUMMARY_LIMIT.saturating_sub(used);
    // A blank line keeps what an earlier step wrote from running into the heading.
    let separator = if used > 0 { "\n" } else { "" };
    let text = filter(format!(
        "{separator}{}",
        markdown::render(run, Some(budget.saturating_sub(separator.len())))
    ));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

fn emit(stdout_text: &str, stderr_text: &str) -> Result<()> {
    let write = |mut stream: Box<dyn Write>, text: &str, name: &str| {
        stream
            .write_all(text.as_bytes())
            .and_then(|()| stream.flush())
            .map_err(|source| Error::Write {
                path: name.into(),
                source,
            })
    };
    if !stdout_text.is_empty() {
        write(
            Box::new(std::io::stdout().lock()),
            stdout_text,
            "standard output",
        )?;
    }
    if !stderr_text.is_empty() {
        write(
            Box::new(std::io::stderr().lock()),
            stderr_text,
            "standard error",
        )?;
    }
    Ok(())
}
