//! `validate`: load the checks, run each in each workspace (bounded concurrency), classify the
//! answers, and report. Ctrl-C stops the queries in flight and still reports what finished.

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
use crate::report::ci;
use crate::report::deliver::{Delivery, deliver};
use crate::report::{Run, Skipped, Subject};
use crate::runner::{Plan, run_all};
use crate::verdict::Verdict;
use crate::workspaces::{self, Workspace};

pub async fn run(args: ValidateArgs) -> Result<u8> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.expect.extend(args.expect.iter().cloned());
    let all_workspaces = workspaces::collect(&args.workspaces, &config);
    if all_workspaces.is_empty() {
        return Err(Error::usage(
            "no workspace to check: give --workspace <GUID>, or a --config file with [[workspace]] entries",
        ));
    }
    let pipeline = &args.pipeline;
    let fail_on = pipeline.delivery.fail_on()?;
    let workspaces = match pipeline.shard {
        Some(shard) => shard.select(&all_workspaces),
        None => all_workspaces,
    };
    let catalog = load_catalog(&args.catalog)?;
    let skipped = left_out(&catalog, &args.checks, &args.skip);
    let checks = select_checks(catalog, &args.checks, &args.skip)?;
    let checks = apply_overrides(checks, &args.overrides)?;
    let ids: Vec<String> = workspaces.iter().map(|w| w.id.clone()).collect();

    let started_at = Utc::now();
    let (mut verdicts, interrupted) = evaluate(&args, &checks, &ids).await?;
    coverage::add_missing(&checks, &mut verdicts, &|workspace| {
        config.expected_in(workspace)
    });
    let mut diagnoses = diagnose(&checks, &mut verdicts);
    fail_on.apply(&mut verdicts);

    let environment = ProcessEnvironment;
    let delivery = Delivery::new(args.format, &pipeline.delivery, &environment);
    let workspaces = if delivery.protect {
        verdicts.iter_mut().for_each(ci::neutralise::verdict);
        diagnoses.iter_mut().for_each(ci::neutralise::diagnosis);
        neutralised_names(workspaces)
    } else {
        workspaces
    };
    let run = Run {
        subject: Subject::Workspaces,
        checks: &checks,
        skipped: &skipped,
        workspaces: &workspaces,
        verdicts: &verdicts,
        diagnoses: &diagnoses,
        started_at,
        finished_at: Utc::now(),
        interrupted,
        fail_on,
        shard: pipeline.shard,
    };
    deliver(&run, &delivery)
}

/// Runs the checks in the workspaces; a shard without a workspace has nothing to run.
async fn evaluate(
    args: &ValidateArgs,
    checks: &[Check],
    ids: &[String],
) -> Result<(Vec<Verdict>, bool)> {
    if let (true, Some(shard)) = (ids.is_empty(), args.pipeline.shard) {
        tracing::warn!("shard {shard} has no workspace: there are fewer workspaces than shards");
        return Ok((Vec::new(), false));
    }
    let client = connect(args)?;
    tracing::info!(
        checks = checks.len(),
        workspaces = ids.len(),
        endpoint = %client.endpoint(),
        "running checks"
    );
    let plan = Plan {
        workspaces_per_query: args.workspaces_per_query as usize,
        concurrency: args.concurrency as usize,
    };
    let progress = Progress::for_run((checks.len() * ids.len()) as u64);
    Ok(run_all(&client, checks, ids, plan, &progress).await)
}

/// The client for the Logs query API, with the credentials the arguments choose.
fn connect(args: &ValidateArgs) -> Result<LogsClient> {
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
    LogsClient::new(&endpoint, tokens, settings)
}

/// Display names come from the config file; in CI mode they are treated like workspace values.
fn neutralised_names(workspaces: Vec<Workspace>) -> Vec<Workspace> {
    workspaces
        .into_iter()
        .map(|workspace| Workspace {
            name: workspace.name.map(|name| ci::neutralise::value(&name)),
            ..workspace
        })
        .collect()
}

pub fn load_catalog(args: &CatalogArgs) -> Result<Vec<Check>> {
    match &args.queries {
        Some(path) => catalog::load_dir(path),
        None => catalog::built_in(),
    }
}

/// The checks of the catalog that `--check` and `--skip` leave out, and why.
fn left_out(catalog: &[Check], wanted: &[String], skipped: &[String]) -> Vec<Skipped> {
    catalog
        .iter()
        .filter_map(|check| {
            let why = if skipped.contains(&check.id) {
                "left out with --skip"
            } else if !wanted.is_empty() && !wanted.contains(&check.id) {
                "not chosen with --check"
            } else {
                return None;
            };
            Some(Skipped {
                check: check.id.clone(),
                file: check.path.display().to_string(),
                why: why.into(),
            })
        })
        .collect()
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
