//! The freshness classifier: per group, when did rows last arrive, how late were they, and is
//! the silence since then normal for this group?
//!
//! Reads `Rows` (rows that arrived in the lookback), `LastArrival` (newest arrival time),
//! `SinceLastArrival` (now minus that, by the server's clock), `IngestionLag` (newest arrival
//! minus newest `TimeGenerated`) and, when the query has them, `FirstArrival` and `Batches`
//! (distinct ten-minute arrival bins) to learn the group's rhythm.
//!
//! GuardDuty writes nothing when nothing happens, so silence alone is no fault. A group silent
//! for less than `stale_after` is fresh. Beyond that, its own history decides: silent for
//! `silence_factor` times its usual gap between arrivals, it has stopped (`stale`, a failure);
//! otherwise it is `quiet` (reported, never a failure). A group with fewer than three arrival
//! bins has no rhythm to judge by and is reported quiet. A threshold equal to the measured value
//! counts as reached.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Row, remedy_text};
use crate::catalog::Check;
use crate::client::{Cell, Table};
use crate::duration::human;
use crate::verdict::{Group, Status, Verdict};

/// Fewer arrival bins than this say nothing about a group's rhythm.
const MIN_BATCHES_FOR_RHYTHM: i64 = 3;

struct Thresholds {
    lookback: TimeDelta,
    lag_warning: TimeDelta,
    lag_failure: TimeDelta,
    stale_after: TimeDelta,
    silence_factor: Option<f64>,
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
            silence_factor: check
                .threshold("silence_factor")
                .and_then(|v| v.as_number()),
        }
    }
}

/// What one result row says, once its cells are read and typed.
struct Reading {
    rows: i64,
    last_arrival: Option<DateTime<Utc>>,
    since: Option<TimeDelta>,
    lag: Option<TimeDelta>,
    /// The group's usual gap between arrival bins, when its history shows one.
    rhythm: Option<TimeDelta>,
    batches: Option<i64>,
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
        .map(|cells| {
            let row = Row { table, cells };
            let group = row.group(check);
            let mut verdict = match read(&|name| row.cell(name)) {
                Ok(reading) => judge(check, workspace, &reading, &thresholds, &group, now),
                Err((column, expected, value)) => super::bad_result(
                    check,
                    workspace,
                    format!("column `{column}` of the result is not {expected}: {value}"),
                ),
            };
            verdict.group = group;
            verdict.evidence = row.evidence(check);
            verdict
        })
        .collect()
}

/// A column that does not hold what the classifier reads: its name, what it should hold, and
/// what it holds.
type Unreadable = (&'static str, &'static str, String);

fn read<'a>(cell: &dyn Fn(&str) -> &'a Cell) -> Result<Reading, Unreadable> {
    let wrong = |name: &'static str, expected: &'static str, found: &Cell| {
        (
            name,
            expected,
            found.to_text().unwrap_or_else(|| "empty".into()),
        )
    };
    let count = |name: &'static str| match cell(name) {
        Cell::Null => Ok(None),
        other => match other.as_i64() {
            Some(count) if count >= 0 => Ok(Some(count)),
            _ => Err(wrong(name, "a count", other)),
        },
    };
    // `count()` is never empty, not even over no rows: an empty `Rows` is a broken result, and
    // taking it for zero would report a failure to read as "no data".
    let rows = count("Rows")?.ok_or_else(|| wrong("Rows", "a count", &Cell::Null))?;
    let batches = count("Batches")?;
    let time = |name: &'static str| match cell(name) {
        Cell::Null => Ok(None),
        Cell::DateTime(time) => Ok(Some(*time)),
        other => Err(wrong(name, "a datetime", other)),
    };
    let last_arrival = time("LastArrival")?;
    let first_arrival = time("FirstArrival")?;
    let span = |name: &'static str| match cell(name) {
        Cell::Null => Ok(None),
        Cell::TimeSpan(span) => Ok(Some(*span)),
        other => Err(wrong(name, "a timespan", other)),
    };
    let since = span("SinceLastArrival")?;
    let lag = span("IngestionLag")?;
    let rhythm = match (first_arrival, last_arrival, batches) {
        (Some(first), Some(last), Some(batches))
            if batches >= MIN_BATCHES_FOR_RHYTHM && last > first =>
        {
            Some((last - first) / i32::try_from(batches - 1).unwrap_or(i32::MAX))
        }
        _ => None,
    };
    Ok(Reading {
        rows,
        last_arrival,
        since,
        lag,
        rhythm,
        batches,
    })
}

fn judge(
    check: &Check,
    workspace: &str,
    reading: &Reading,
    thresholds: &Thresholds,
    group: &Option<Group>,
    now: DateTime<Utc>,
) -> Verdict {
    if reading.rows == 0 {
        return never_seen(check, workspace, group.clone(), thresholds);
    }
    let Some(last_arrival) = reading.last_arrival else {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::Error,
            "incomplete_row",
            super::could_not_evaluate(
                check,
                workspace,
                format!(
                    "{} rows arrived, but their last arrival time is empty, so their freshness \
                     cannot be judged",
                    reading.rows
                ),
            ),
        );
        verdict.remedy = Some(format!(
            "The query in {} returned a row without `LastArrival`; make it compute the time of \
             the newest arrival for every row that counts arrivals.",
            check.path.display()
        ));
        return verdict;
    };
    // A clock ahead of the server's must not make old data look new: never below zero.
    let since = reading
        .since
        .unwrap_or(now - last_arrival)
        .max(TimeDelta::zero());
    let pairs = group.clone().unwrap_or_default();
    let mut verdict = if since >= thresholds.stale_after {
        silent(
            check,
            workspace,
            reading,
            since,
            last_arrival,
            thresholds,
            &pairs,
        )
    } else {
        match reading.lag {
            None => {
                let mut verdict = Verdict::new(
                    check,
                    workspace,
                    Status::Error,
                    "incomplete_row",
                    super::could_not_evaluate(
                        check,
                        workspace,
                        format!(
                            "rows arrived (last at {}), but their ingestion lag is empty, so it \
                             cannot be judged",
                            at(last_arrival)
                        ),
                    ),
                );
                verdict.remedy = Some(format!(
                    "The query in {} returned a row without `IngestionLag`; make it compute the \
                     lag for every row that has arrivals.",
                    check.path.display()
                ));
                verdict
            }
            Some(lag) => lag_verdict(
                check,
                workspace,
                lag.max(TimeDelta::zero()),
                since,
                last_arrival,
                thresholds,
                &pairs,
            ),
        }
    };
    verdict.last_seen = Some(last_arrival);
    if let Some(lag) = reading.lag {
        verdict.lag_seconds = Some(lag.num_seconds().max(0));
    }
    verdict
}

/// A group silent for `stale_after` or more: stopped, or quiet by its own history.
fn silent(
    check: &Check,
    workspace: &str,
    reading: &Reading,
    since: TimeDelta,
    last_arrival: DateTime<Utc>,
    thresholds: &Thresholds,
    group: &[(String, String)],
) -> Verdict {
    let silence = format!(
        "nothing has arrived since {} ({} ago)",
        at(last_arrival),
        human(since)
    );
    let stopped = match (thresholds.silence_factor, reading.rhythm) {
        // Without a factor, the fixed threshold alone decides.
        (None, _) => Some(format!(
            "longer than the {} allowed",
            human(thresholds.stale_after)
        )),
        (Some(factor), Some(rhythm))
            if since.as_seconds_f64() >= factor * rhythm.as_seconds_f64() =>
        {
            Some(format!(
                "it usually receives rows every {}, so it has stopped",
                human(rhythm)
            ))
        }
        _ => None,
    };
    if let Some(why) = stopped {
        let mut verdict = Verdict::new(
            check,
            workspace,
            Status::NoData,
            "stale",
            format!("{silence}; {why}"),
        );
        verdict.remedy = remedy_text(check, "stale", group).or_else(|| Some(default_remedy(check)));
        return verdict;
    }
    let rhythm = match reading.rhythm {
        Some(rhythm) => format!(
            "normal for this group, which receives rows about every {}",
            human(rhythm)
        ),
        None => format!(
            "too few arrivals ({} in {}) to know this group's rhythm",
            reading.batches.unwrap_or(reading.rows),
            human(thresholds.lookback)
        ),
    };
    let mut verdict = Verdict::new(
        check,
        workspace,
        Status::NoData,
        "quiet",
        format!("{silence}: {rhythm}"),
    );
    verdict.fails = false;
    verdict.remedy = remedy_text(check, "quiet", group).or_else(|| {
        Some(format!(
            "Nothing to fix while the source is merely quiet. To tell quiet from stopped, make \
             the source produce a record and check that it reaches {}.",
            check.tables.join(", ")
        ))
    });
    verdict
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

fn at(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn default_remedy(check: &Check) -> String {
    format!(
        "Check the data connector that writes {} and its permissions.",
        check.tables.join(", ")
    )
}
