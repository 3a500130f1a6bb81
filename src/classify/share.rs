//! The share classifier: of the rows that arrived, how many are bad (key fields empty, say),
//! against the largest share `max_share` allowed. However many rows there are, a share above it
//! is a finding; no rows at all is nothing to judge, reported without failing (the freshness
//! checks report the absence itself).

use super::{Row, fill, remedy_for};
use crate::catalog::{Check, Finding};
use crate::client::Table;
use crate::duration::human;
use crate::verdict::{Status, Verdict};

pub fn classify(check: &Check, finding: &Finding, workspace: &str, table: &Table) -> Vec<Verdict> {
    let max_share = check
        .threshold("max_share")
        .and_then(|v| v.as_number())
        .unwrap_or(0.0);
    let lookback = human(super::lookback(check));
    if table.rows.is_empty() {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::NoData,
            "never_seen",
            format!("no rows to judge in the last {lookback}"),
        );
        verdict.fails = false;
        verdict.remedy = Some(nothing_to_judge(check));
        return vec![verdict];
    }
    table
        .rows
        .iter()
        .map(|cells| {
            let row = Row { table, cells };
            let counts = (row.cell("Rows").as_i64(), row.cell("Bad").as_i64());
            let mut verdict = match counts {
                (Some(rows), Some(bad)) if rows < 0 || bad < 0 || bad > rows => super::bad_result(
                    check,
                    workspace,
                    format!("`Bad` ({bad}) and `Rows` ({rows}) are not a share"),
                ),
                (Some(0), Some(_)) => {
                    let mut verdict = Verdict::new(
                        check,
                        workspace,
                        Status::NoData,
                        "never_seen",
                        format!("no rows to judge in the last {lookback}"),
                    );
                    verdict.fails = false;
                    verdict.remedy = Some(nothing_to_judge(check));
                    verdict
                }
                (Some(rows), Some(bad)) => {
                    let share = bad as f64 / rows as f64;
                    let measured = format!(
                        "{bad} of {rows} rows ({}; at most {} allowed) in the last {lookback}",
                        percent(share),
                        percent(max_share)
                    );
                    if share > max_share {
                        let mut verdict = Verdict::new(
                            check,
                            workspace,
                            finding.status,
                            &finding.reason,
                            format!("{}: {measured}", fill(&finding.message, check, &row)),
                        );
                        verdict.fails = true;
                        verdict.remedy = remedy_for(check, &finding.reason, &row).or_else(|| {
                            Some(format!(
                                "Look into the rows of {} that the check `{}` counts as bad.",
                                check.tables.join(", "),
                                check.id
                            ))
                        });
                        verdict
                    } else {
                        Verdict::new(check, workspace, Status::Healthy, "within_limit", measured)
                    }
                }
                _ => super::bad_result(
                    check,
                    workspace,
                    "columns `Rows` and `Bad` of the result are not counts".into(),
                ),
            };
            verdict.last_seen = row.cell("LastArrival").as_datetime();
            verdict.group = row.group(check);
            verdict.evidence = row.evidence(check);
            verdict
        })
        .collect()
}

fn nothing_to_judge(check: &Check) -> String {
    format!(
        "Nothing to do here until rows arrive: the freshness checks of {} say why none did.",
        check.tables.join(", ")
    )
}

fn percent(share: f64) -> String {
    let value = share * 100.0;
    if value == value.trunc() {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}
