//! The events classifier: every result row is something that went wrong (a denied decrypt, a
//! connector failure, a key change, a burst of rewritten timestamps); no rows is healthy.
//!
//! Reads `Events`, `FirstSeen` and `LastSeen`; a row may carry `Reason` (a reason code) and
//! `Fails` (bool) to override the header's `finding` and its default (a `no_data` finding fails
//! the run, a `lag` finding does not). Every other column becomes evidence. A row whose `Events`
//! is 0 found nothing; one whose `Events` is empty or not a count cannot be read, and is an
//! error rather than a finding.

use super::{Row, fill, remedy_for};
use crate::catalog::{Check, Finding};
use crate::client::{Cell, Table};
use crate::duration::human;
use crate::verdict::{Status, Verdict};

pub fn classify(check: &Check, finding: &Finding, workspace: &str, table: &Table) -> Vec<Verdict> {
    // A row that counts no events found nothing: `summarize` without `by` gives one such row
    // over an empty input.
    let counted = |cells: &&Vec<Cell>| (Row { table, cells }).cell("Events").as_i64() != Some(0);
    let rows: Vec<&Vec<Cell>> = table.rows.iter().filter(counted).collect();
    if rows.is_empty() {
        return vec![super::clear(
            check,
            finding,
            workspace,
            &format!(
                "nothing found in the last {}",
                human(super::lookback(check))
            ),
        )];
    }
    rows.into_iter()
        .map(|cells| {
            let row = Row { table, cells };
            if row.cell("Events").as_i64().is_none_or(|events| events <= 0) {
                let mut verdict = super::bad_result(
                    check,
                    workspace,
                    format!(
                        "column `Events` of the result is not a count of events: {}",
                        row.cell("Events")
                            .to_text()
                            .unwrap_or_else(|| "empty".into())
                    ),
                );
                verdict.group = row.group(check);
                verdict.evidence = row.evidence(check);
                return verdict;
            }
            let reason = match row.cell("Reason") {
                Cell::String(text) if !text.is_empty() => text.clone(),
                _ => finding.reason.clone(),
            };
            let mut verdict = Verdict::new(
                check,
                workspace,
                finding.status,
                &reason,
                fill(&finding.message, check, &row),
            );
            verdict.fails = match row.cell("Fails") {
                Cell::Bool(fails) => *fails,
                _ => finding.status == Status::NoData,
            };
            verdict.last_seen = row.cell("LastSeen").as_datetime();
            verdict.group = row.group(check);
            verdict.evidence = row.evidence(check);
            verdict.remedy = remedy_for(check, &reason, &row).or_else(|| {
                Some(format!(
                    "Look into it in {}: the check `{}` has no specific advice for `{reason}`.",
                    check.tables.join(", "),
                    check.id
                ))
            });
            verdict
        })
        .collect()
}
