//! `validate`: load the checks, run each in each workspace (bounded concurrency), classify the
//! answers, and report. Ctrl-C stops the queries in flight and still reports what finished.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;

use crate::catalog::{self, Check, lets::Value};
use crate::cli::{CatalogArgs, ValidateArgs};
use crate::client::auth::{AuthSettings, ProcessEnvironment, TokenProvider};
use crate::client::{ClientSettings, LogsClient};
use crate::config::Config;
use crate::coverage;
use crate::diagnose::diagnose;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::report::{self, Run};
use crate::runner::{Plan, run_all};

pub async fn run(mut args: ValidateArgs) -> Result<u8> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.expect.extend(args.expect.iter().cloned());
    for workspace in &config.workspaces {
        let id = workspace.id.to_ascii_lowercase();
        if !args.workspaces.contains(&id) {
            args.workspaces.push(id);
        }
    }
    if args.workspaces.is_empty() {
        return Err(Error::usage(
            "no workspace to check: give --workspace <GUID>, or a --config file with [[workspace]] entries",
        ));
    }
    let checks = select_checks(load_catalog(&args.catalog)?, &args.checks, &args.skip)?;
    let checks = apply_overrides(checks, &args.overrides)?;
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| args.cloud.endpoint().to_string());
    let tokens = TokenProvider::new(
        &AuthSettings {
            mode: args.auth,
            cloud: args.cloud,
            tenant_id: args.tenant_id.clone(),
            client_id: args.client_id.clone(),
            service_connection_id: args.service_connection_id.clone(),
        },
        &ProcessEnvironment,
    )?;
    let settings = ClientSettings {
        server_wait: Duration::from_secs(args.wait),
        concurrency: args.concurrency as usize,
        rate_limit: args.rate_limit,
        ..ClientSettings::default()
    };
    let client = LogsClient::new(&endpoint, tokens, settings)?;
    tracing::info!(
        checks = checks.len(),
        workspaces = args.workspaces.len(),
        endpoint = %client.endpoint(),
        "running checks"
    );

    let started_at = Utc::now();
    let plan = Plan {
        workspaces_per_query: args.workspaces_per_query as usize,
        concurrency: args.concurrency as usize,
    };
    let progress = Progress::for_run((checks.len() * args.workspaces.len()) as u64);
    let (mut verdicts, interrupted) =
        run_all(&client, &checks, &args.workspaces, plan, &progress).await;
    coverage::add_missing(&checks, &mut verdicts, &|workspace| {
        config.expected_in(workspace)
    });
    let diagnoses = diagnose(&checks, &mut verdicts);
    let run = Run {
        checks: &checks,
        workspaces: &args.workspaces,
        verdicts: &verdicts,
        diagnoses: &diagnoses,
        started_at,
        finished_at: Utc::now(),
        interrupted,
    };
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(args.format, &run, colour);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })?;
    Ok(report::exit_code(&run))
}

pub fn load_catalog(args: &CatalogArgs) -> Result<Vec<Check>> {
    match &args.queries {
        Some(path) => catalog::load_dir(path),
        None => catalog::built_in(),
    }
}

fn select_checks(checks: Vec<Check>, wanted: &[String], skipped: &[String]) -> Result<Vec<Check>> {
    for id in wanted.iter().chain(skipped) {
        if !checks.iter().any(|check| &check.id == id) {
            let known: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
            return Err(Error::usage(format!(
                "no check `{id}` in the catalog (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(checks
        .into_iter()
        .filter(|check| wanted.is_empty() || wanted.contains(&check.id))
        .filter(|check| !skipped.contains(&check.id))
        .collect())
}

/// Applies `--set [check.]name=value` overrides.
fn apply_overrides(mut checks: Vec<Check>, overrides: &[String]) -> Result<Vec<Check>> {
    for text in overrides {
        let Some((target, value_text)) = text.split_once('=') else {
            return Err(Error::usage(format!(
                "`--set {text}`: expected NAME=VALUE or CHECK.NAME=VALUE"
            )));
        };
        let value = Value::parse(value_text).ok_or_else(|| {
            Error::usage(format!(
                "`--set {text}`: `{value_text}` is neither a KQL timespan (such as `30m`, `6h`, `14d`) nor a number"
            ))
        })?;
        let (check_id, name) = match target.trim().rsplit_once('.') {
            Some((check_id, name)) => (Some(check_id), name),
            None => (None, target.trim()),
        };
        let mut applied = 0;
        for check in checks
            .iter_mut()
            .filter(|c| check_id.is_none_or(|id| c.id == id))
        {
            if check_id.is_some() || check.threshold(name).is_some() {
                check.set_threshold(name, value)?;
                applied += 1;
            }
        }
        if applied == 0 {
            return Err(Error::usage(match check_id {
                Some(id) => format!("`--set {text}`: no check `{id}` in this run"),
                None => format!("`--set {text}`: no check in this run has a threshold `{name}`"),
            }));
        }
    }
    Ok(checks)
}
