//! Result rows to verdicts. Pure: no HTTP, no clock but the `now` it is given.
//!
//! The rule that matters most: a verdict is `healthy` only when the rows positively show fresh
//! data. A failed query is an `error` verdict, never `no_data`; a missing table is `no_data`
//! with reason `table_missing`; a partial result is never `healthy`.

mod events;
mod freshness;
mod share;

use chrono::{DateTime, TimeDelta, Utc};

use crate::catalog::{Check, Classifier, Finding, WhenMissing};
use crate::client::{Cell, QueryFailure, QueryResult, Table};
use crate::duration::human;
use crate::verdict::{Group, Status, Verdict};

/// Classifies the outcome of running `check` in `workspace`.
pub fn classify(
    check: &Check,
    workspace: &str,
    outcome: &Result<QueryResult, QueryFailure>,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    let result = match outcome {
        Ok(result) => result,
        Err(failure) => return vec![failure_verdict(check, workspace, failure)],
    };
    let mut verdicts = match result.primary() {
        None => vec![bad_result(
            check,
            workspace,
            "the answer holds no result table".into(),
        )],
        Some(table) => match missing_columns(check, table) {
            Some(missing) => vec![bad_result(check, workspace, missing)],
            None => classify_table(check, workspace, table, now),
        },
    };
    if let Some(partial) = &result.partial {
        for verdict in &mut verdicts {
            mark_partial(check, verdict, partial.deepest_message());
        }
    }
    verdicts
}

fn classify_table(
    check: &Check,
    workspace: &str,
    table: &Table,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    match (check.classifier, &check.finding) {
        (Classifier::Freshness, _) => freshness::classify(check, workspace, table, now),
        (Classifier::Events, Some(finding)) => events::classify(check, finding, workspace, table),
        (Classifier::Share, Some(finding)) => share::classify(check, finding, workspace, table),
        // The catalog refuses an events or share check without its `finding`.
        (Classifier::Events | Classifier::Share, None) => {
            vec![bad_result(
                check,
                workspace,
                "the check has no `finding` in its header".into(),
            )]
        }
    }
}

fn missing_columns(check: &Check, table: &Table) -> Option<String> {
    let missing: Vec<&str> = check
        .columns
        .iter()
        .chain(&check.group_by)
        .filter(|name| table.column(name).is_none())
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the result lacks column(s) {} that the check declares (it has: {})",
            missing.join(", "),
            table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A result the service returned only in part proves neither fresh data nor its absence: rows
/// may be missing from it. A verdict drawn from it becomes `error` (`partial_result`), saying
/// what the part looked like. The one exception is a finding of the events classifier: the
/// rows that were returned exist, so what they show stands, marked partial.
fn mark_partial(check: &Check, verdict: &mut Verdict, detail: &str) {
    verdict.partial = true;
    let rows_found = check.classifier == Classifier::Events && verdict.status != Status::Healthy;
    if rows_found || verdict.status == Status::Error {
        verdict.message = format!("{} (partial result: {detail})", verdict.message);
        return;
    }
    verdict.message = could_not_evaluate(
        check,
        &verdict.workspace,
        format!(
            "the service returned only part of the result ({detail}); the part looked {} ({}): {}",
            verdict.status.name(),
            verdict.reason,
            verdict.message
        ),
    );
    verdict.status = Status::Error;
    verdict.reason = "partial_result".into();
    verdict.fails = false;
    verdict.remedy = Some(
        "Run again; if it persists, shorten the check's lookback so the query stays within the \
         service's limits (500,000 rows, 64 MB, 10 minutes)."
            .into(),
    );
}

/// The message of a verdict that could not be evaluated: which check, where, and why.
fn could_not_evaluate(check: &Check, workspace: &str, why: impl std::fmt::Display) -> String {
    format!(
        "could not evaluate `{}` in workspace {workspace}: {why}",
        check.id
    )
}

fn bad_result(check: &Check, workspace: &str, detail: String) -> Verdict {
    let message = could_not_evaluate(check, workspace, detail);
    let mut verdict = Verdict::new(check, workspace, Status::Error, "bad_response", message);
    verdict.remedy = Some(format!(
        "The query in {} does not produce what its header declares; fix the query or its `columns` line.",
        check.path.display()
    ));
    verdict
}

fn failure_verdict(check: &Check, workspace: &str, failure: &QueryFailure) -> Verdict {
    if let QueryFailure::BadQuery(error) = failure
        && let Some(name) = error.unresolved_name()
        && check
            .tables
            .iter()
            .any(|table| table.eq_ignore_ascii_case(name))
    {
        return table_missing(check, workspace, name);
    }
    let message = could_not_evaluate(check, workspace, failure);
    let mut verdict = Verdict::new(check, workspace, Status::Error, failure.reason(), message);
    verdict.remedy = Some(failure_remedy(check, workspace, failure));
    verdict
}

/// The verdict for a table the workspace does not have, as the check's `when-missing` says.
fn table_missing(check: &Check, workspace: &str, name: &str) -> Verdict {
    let (status, fails, message) = match check.when_missing {
        WhenMissing::Fail | WhenMissing::Warn => (
            Status::NoData,
            check.when_missing == WhenMissing::Fail,
            format!(
                "table {name} does not exist in this workspace: no row has ever been written to it"
            ),
        ),
        WhenMissing::Blind => (
            Status::Error,
            false,
            format!(
                "could not evaluate `{}` in workspace {workspace}: table {name} does not exist, and \
                 this check sees nothing without it",
                check.id
            ),
        ),
    };
    let mut verdict = Verdict::new(check, workspace, status, "table_missing", message);
    verdict.fails = fails;
    verdict.remedy = Some(remedy_text(check, "table_missing", &[]).unwrap_or_else(|| {
        format!("Connect the data source that writes {name}; the table appears with its first row.")
    }));
    verdict
}

/// One result row with its table, for reading cells by column name.
struct Row<'a> {
    table: &'a Table,
    cells: &'a [Cell],
}

impl Row<'_> {
    fn cell(&self, name: &str) -> &Cell {
        self.table
            .column(name)
            .map_or(&Cell::Null, |index| &self.cells[index])
    }

    fn group(&self, check: &Check) -> Option<Group> {
        (!check.group_by.is_empty()).then(|| {
            check
                .group_by
                .iter()
                .map(|name| (name.clone(), self.cell(name).to_text().unwrap_or_default()))
                .collect()
        })
    }

    /// Every column that is not a grouping column, as JSON.
    fn evidence(&self, check: &Check) -> serde_json::Map<String, serde_json::Value> {
        self.table
            .columns
            .iter()
            .zip(self.cells)
            .filter(|(column, _)| !check.group_by.contains(&column.name))
            .map(|(column, cell)| (column.name.clone(), cell.to_json()))
            .collect()
    }
}

/// Fills `{Column}` placeholders from the row, and `{threshold}` ones from the check, in one pass
/// over the template: a value that itself looks like a placeholder is left as it is. An empty
/// value reads `(none)`, so a message never shows a gap where a value belongs.
fn fill(template: &str, check: &Check, row: &Row<'_>) -> String {
    let value_of = |name: &str| -> Option<String> {
        if let Some((_, cell)) = row
            .table
            .columns
            .iter()
            .zip(row.cells)
            .find(|(column, _)| column.name == name)
        {
            let text = cell.to_message_text();
            return Some(if text.trim().is_empty() {
                "(none)".to_string()
            } else {
                text
            });
        }
        check
            .thresholds
            .iter()
            .find(|t| t.name == name)
            .map(|t| match t.value.as_span() {
                Some(span) => human(span),
                None => t.value.to_kql(),
            })
    };
    let mut text = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_end = after.find('}').filter(|&end| {
            end > 0
                && after[..end]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        match name_end.and_then(|end| value_of(&after[..end]).map(|value| (end, value))) {
            Some((end, value)) => {
                text.push_str(&value);
                rest = &after[end + 1..];
            }
            None => {
                text.push('{');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text
}

/// The check's remedy for `reason`, filled from the row.
fn remedy_for(check: &Check, reason: &str, row: &Row<'_>) -> Option<String> {
    check
        .remedies
        .get(reason)
        .map(|template| fill(template, check, row))
}

/// The healthy verdict of a check that found nothing.
fn clear(check: &Check, finding: &Finding, workspace: &str, fallback: &str) -> Verdict {
    let message = match &finding.clear_message {
        Some(template) => {
            let empty = Table {
                name: String::new(),
                columns: Vec::new(),
                rows: Vec::new(),
            };
            fill(
                template,
                check,
                &Row {
                    table: &empty,
                    cells: &[],
                },
            )
        }
        None => fallback.to_string(),
    };
    Verdict::new(check, workspace, Status::Healthy, "none_found", message)
}

fn lookback(check: &Check) -> TimeDelta {
    check
        .threshold("lookback")
        .and_then(|v| v.as_span())
        .unwrap_or_default()
}

fn failure_remedy(check: &Check, workspace: &str, failure: &QueryFailure) -> String {
    match failure {
        QueryFailure::Token(_) => "Sign in again (`az login`) or give a fresh token in SENTINEL_KMS_ACCESS_TOKEN, or pick \
             another identity with --auth (one that renews its tokens for long runs); see the README's Authentication \
             section."
            .into(),
        QueryFailure::Unauthorized(_) => format!(
            "The service rejected the token for workspace {workspace}: sign in again, and check that --cloud matches \
             the workspace's cloud (the token's audience must be the Log Analytics API of that cloud)."
        ),
        QueryFailure::Forbidden(_) => format!(
            "Grant this identity the Log Analytics Reader role on workspace {workspace} (new role assignments can \
             take up to an hour to apply)."
        ),
        QueryFailure::WorkspaceNotFound(_) => format!(
            "No workspace {workspace} at this endpoint: pass the Workspace ID (a GUID from the workspace's \
             Overview page), not its name or resource ID, and check --cloud."
        ),
        QueryFailure::BadQuery(error) => format!(
            "The query in {} does not run on this workspace ({}); fix it and run again.",
            check.path.display(),
            error.deepest_message()
        ),
        QueryFailure::Throttled { .. } => "The service throttled this identity (5 queries at once and 200 per 30 s per user): \
             lower --concurrency, or run when fewer queries compete."
            .into(),
        QueryFailure::ServerTimeout { .. } | QueryFailure::ClientTimeout { .. } => {
            "Raise --wait (up to 600 s), or shorten the check's lookback with --set lookback=….".into()
        }
        QueryFailure::Network { .. } => "Check the endpoint URL and that this machine reaches it over HTTPS (proxy, firewall, DNS).".into(),
        QueryFailure::Unavailable { .. } | QueryFailure::UnexpectedStatus { .. } => {
            "The service failed to answer; run again later, and check Azure's service health for Log Analytics.".into()
        }
        QueryFailure::NoContent | QueryFailure::BadBody(_) => {
            "The answer could not be read; run again with -vv and check the endpoint is the Logs query API.".into()
        }
    }
}

/// The check's own remedy text for `reason` (falling back to `fallback_key`), with `{Column}`
/// placeholders filled from the verdict's group.
fn remedy_text(check: &Check, reason: &str, group: &[(String, String)]) -> Option<String> {
    let template = check.remedies.get(reason)?;
    let mut text = template.clone();
    for (name, value) in group {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    Some(text)
}

#[cfg(test)]
mod tests;
