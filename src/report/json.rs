//! The JSON document: stable keys, one object per verdict, and a summary. Its shape is documented
//! in the README; fields are only ever added.

use serde_json::{Map, Value, json};

use super::Run;
use crate::catalog::Check;
use crate::verdict::{Status, Verdict};

pub fn render(run: &Run<'_>) -> String {
    let summary = run.summary();
    let mut counts = Map::new();
    counts.insert("total".into(), json!(summary.total()));
    for status in Status::ALL {
        counts.insert(status.name().into(), json!(summary.count(status)));
    }
    counts.insert("failed".into(), json!(summary.failed));
    counts.insert(
        "warnings".into(),
        json!(super::outcome::Tally::of(run.verdicts).warnings),
    );
    counts.insert("partial".into(), json!(summary.partial));
    counts.insert("interrupted".into(), json!(run.interrupted));
    counts.insert("exit_code".into(), json!(exit_code(run)));
    let document = json!({
        "tool": { "name": "sentinel-kms", "version": env!("CARGO_PKG_VERSION") },
        "started_at": timestamp(run.started_at),
        "finished_at": timestamp(run.finished_at),
        "workspaces": run.workspaces.iter().map(|w| &w.id).collect::<Vec<_>>(),
        "workspace_names": run.workspaces.iter().map(|w| (w.id.clone(), json!(w.name))).collect::<Map<_, _>>(),
        "shard": run.shard.map(|shard| shard.to_string()),
        "fail_on": run.fail_on.describe(),
        "checks": run.checks.iter().map(check_entry).collect::<Vec<_>>(),
        "skipped": run.skipped.iter().map(|s| json!({ "check": s.check, "file": s.file, "why": s.why })).collect::<Vec<_>>(),
        "diagnoses": run.diagnoses.iter().map(diagnosis).collect::<Vec<_>>(),
        "results": run.verdicts.iter().map(result).collect::<Vec<_>>(),
        "summary": counts,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialise");
    text.push('\n');
    text
}

/// The exit code the run ends with, as the README documents it. A shard of a matrix that got
/// no workspace has nothing to check, which is not a failure.
pub fn exit_code(run: &Run<'_>) -> u8 {
    if run.interrupted {
        crate::error::exit::INTERRUPTED
    } else if run.workspaces.is_empty() {
        crate::error::exit::OK
    } else {
        run.summary().exit_code()
    }
}

fn result(verdict: &Verdict) -> Value {
    let group = verdict.group.as_ref().map(|pairs| {
        Value::Object(
            pairs
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect(),
        )
    });
    json!({
        "check": verdict.check,
        "check_version": verdict.check_version,
        "check_file": verdict.check_file,
        "severity": verdict.severity,
        "workspace": verdict.workspace,
        "status": verdict.status,
        "reason": verdict.reason,
        "fails": verdict.fails,
        "partial": verdict.partial,
        "group": group,
        "last_seen": verdict.last_seen.map(timestamp),
        "lag_seconds": verdict.lag_seconds,
        "message": verdict.message,
        "remedy": verdict.remedy,
        "evidence": verdict.evidence,
    })
}

fn diagnosis(diagnosis: &crate::diagnose::Diagnosis) -> Value {
    json!({
        "workspace": diagnosis.workspace,
        "cause": diagnosis.cause,
        "summary": diagnosis.summary,
        "verdicts": diagnosis.verdicts,
        "remedy": diagnosis.remedy,
        "evidence": diagnosis.evidence,
    })
}

fn check_entry(check: &Check) -> Value {
    let thresholds: Map<String, Value> = check
        .thresholds
        .iter()
        .map(|t| (t.name.clone(), json!(t.value.to_kql())))
        .collect();
    json!({
        "id": check.id,
        "version": check.version.to_string(),
        "title": check.title,
        "tables": check.tables,
        "group_by": check.group_by,
        "severity": check.severity,
        "thresholds": thresholds,
        "file": check.path.display().to_string(),
    })
}

pub fn render_catalog(checks: &[Check]) -> String {
    let entries: Vec<Value> = checks.iter().map(check_entry).collect();
    let mut text =
        serde_json::to_string_pretty(&json!({ "checks": entries })).expect("JSON values serialise");
    text.push('\n');
    text
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
