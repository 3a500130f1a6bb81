//! The freshness classifier: per group, when did rows last arrive, and how late were they?
//!
//! Reads `Rows` (rows that arrived in the lookback), `LastArrival` (newest arrival time),
//! `SinceLastArrival` (now minus that, by the server's clock) and `IngestionLag` (newest arrival
//! minus newest `TimeGenerated`). A threshold equal to the measured value counts as reached.

use chrono::{DateTime, TimeDelta, Utc};

use super::remedy_text;
use crate::catalog::Check;
use crate::client::{Cell, Table};
use crate::duration::human;
use crate::verdict::{Group, Status, Verdict};

struct Thresholds {
    lookback: TimeDelta,
    lag_warning: TimeDelta,
    lag_failure: TimeDelta,
    stale_after: TimeDelta,
}

impl Thresholds {
    fn of(check: &Check) -> Thresholds {
        // The catalog guarantees these exist and are timespans for this classifier.
        let span = |name| {
            check
                .threshold(name)
                .and_then(|v| v.as_span())
                .unwrap_or(TimeDelta::MAX)
        };
        Thresholds {
            lookback: span("lookback"),
            lag_warning: span("lag_warning"),
            lag_failure: span("lag_failure"),
            stale_after: span("stale_after"),
        }
    }
}

pub fn classify(check: &Check, workspace: &str, table: &Table, now: DateTime<Utc>) -> Vec<Verdict> {
    let thresholds = Thresholds::of(check);
    if table.rows.is_empty() {
        // With `by`, an empty input gives no rows at all: nothing arrived for any group.
        return vec![never_seen(check, workspace, None, &thresholds)];
    }
    table
        .rows
        .iter()
        .map(|row| classify_row(check, workspace, table, row, &thresholds, now))
        .collect()
}

fn classify_row(
    check: &Check,
    workspace: &str,
    table: &Table,
    row: &[Cell],
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Verdict {
    let cell = |name: &str| table.column(name).map_or(&Cell::Null, |index| &row[index]);
    let group: Option<Group> = (!check.group_by.is_empty()).then(|| {
        check
            .group_by
            .iter()
            .map(|name| (name.clone(), cell(name).to_text().unwrap_or_default()))
            .collect()
    });
    let with_group = |mut verdict: Verdict| {
        verdict.group = group.clone();
        verdict
    };

    let rows = match cell("Rows") {
        Cell::Null => 0,
        other => match other.as_i64() {
            Some(count) => count,
            None => return with_group(wrong_type(check, workspace, "Rows", "a count")),
        },
    };
    let last_arrival = match cell("LastArrival") {
        Cell::Null => None,
        Cell::DateTime(time) => Some(*time),
        _ => return with_group(wrong_type(check, workspace, "LastArrival", "a datetime")),
    };
    let (since, lag) = match (
        timespan(cell("SinceLastArrival")),
        timespan(cell("IngestionLag")),
    ) {
        (Ok(since), Ok(lag)) => (since, lag),
        (Err(()), _) => {
            return with_group(wrong_type(
                check,
                workspace,
                "SinceLastArrival",
                "a timespan",
            ));
        }
        (_, Err(())) => {
            return with_group(wrong_type(check, workspace, "IngestionLag", "a timespan"));
        }
    };

    let Some(last_arrival) = last_arrival.filter(|_| rows > 0) else {
        return never_seen(check, workspace, group, thresholds);
    };
    // A clock ahead of the server's must not make old data look new: never below zero.
    let since = since.unwrap_or(now - last_arrival).max(TimeDelta::zero());
    let group_pairs = group.clone().unwrap_or_default();
    let mut verdict = if since >= thresholds.stale_after {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::NoData,
            "stale",
            format!(
                "nothing has arrived since {} ({} ago), longer than the {} allowed",
                at(last_arrival),
                human(since),
                human(thresholds.stale_after)
            ),
        );
        verdict.remedy =
            remedy_text(check, "stale", &group_pairs).or_else(|| Some(default_remedy(check)));
        verdict
    } else {
        match lag {
            None => Verdict::new(
                check,
                workspace,
                Status::Error,
                "incomplete_row",
                format!(
                    "rows arrived (last at {}), but their ingestion lag is empty, so it cannot be judged",
                    at(last_arrival)
                ),
            ),
            Some(lag) => lag_verdict(
                check,
                workspace,
                lag.max(TimeDelta::zero()),
                since,
                last_arrival,
                thresholds,
                &group_pairs,
            ),
        }
    };
    verdict.last_seen = Some(last_arrival);
    if let Some(lag) = lag {
        verdict.lag_seconds = Some(lag.num_seconds().max(0));
    }
    with_group(verdict)
}

fn lag_verdict(
    check: &Check,
    workspace: &str,
    lag: TimeDelta,
    since: TimeDelta,
    last_arrival: DateTime<Utc>,
    thresholds: &Thresholds,
    group: &[(String, String)],
) -> Verdict {
    let arrived = format!("last arrival {} ({} ago)", at(last_arrival), human(since));
    if lag >= thresholds.lag_failure {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::Lag,
            "lag_failure",
            format!(
                "rows arrive {} late, past the failure level of {}; {arrived}",
                human(lag),
                human(thresholds.lag_failure)
            ),
        );
        verdict.fails = true;
        verdict.remedy = remedy_text(check, "lag", group).or_else(|| Some(default_remedy(check)));
        verdict
    } else if lag >= thresholds.lag_warning {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::Lag,
            "lag_warning",
            format!(
                "rows arrive {} late (warning at {}, failure at {}); {arrived}",
                human(lag),
                human(thresholds.lag_warning),
                human(thresholds.lag_failure)
            ),
        );
        verdict.fails = false;
        verdict.remedy = remedy_text(check, "lag", group).or_else(|| Some(default_remedy(check)));
        verdict
    } else {
        Verdict::new(
            check,
            workspace,
            Status::Healthy,
            "fresh",
            format!("rows arrive, {} behind; {arrived}", human(lag)),
        )
    }
}

fn never_seen(
    check: &Check,
    workspace: &str,
    group: Option<Group>,
    thresholds: &Thresholds,
) -> Verdict {
    let mut verdict = Verdict::new(
        check,
        workspace,
        Status::NoData,
        "never_seen",
        format!(
            "{} received no rows in the last {}",
            check.tables.join(", "),
            human(thresholds.lookback)
        ),
    );
    let pairs = group.clone().unwrap_or_default();
    verdict.remedy =
        remedy_text(check, "never_seen", &pairs).or_else(|| Some(default_remedy(check)));
    verdict.group = group;
    verdict
}

fn wrong_type(check: &Check, workspace: &str, column: &str, expected: &str) -> Verdict {
    super::bad_result(
        check,
        workspace,
        format!("column `{column}` of the result is not {expected}"),
    )
}

/// A timespan cell: `Ok(None)` for null, `Err` for a value of another type.
fn timespan(cell: &Cell) -> Result<Option<TimeDelta>, ()> {
    match cell {
        Cell::Null => Ok(None),
        Cell::TimeSpan(span) => Ok(Some(*span)),
        _ => Err(()),
    }
}

fn at(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn default_remedy(check: &Check) -> String {
    format!(
        "Check the data connector that writes {} and its permissions.",
        check.tables.join(", ")
    )
}
