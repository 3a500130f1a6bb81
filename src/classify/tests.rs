use super::*;
use crate::catalog::parse_check;
use crate::client::Cell;
use crate::client::response::{Column, ColumnType, ServiceError};
use chrono::TimeDelta;
use std::path::Path;

fn check(group_by: &str) -> Check {
    let text = format!(
        "// id: fresh\n// version: 1.0.0\n// title: t\n// description: d\n// tables: AWSGuardDuty\n\
         // group-by: {group_by}\n// severity: high\n// classifier: freshness\n\
         // thresholds: lookback, lag_warning, lag_failure, stale_after\n\
         // columns: Rows, LastArrival, SinceLastArrival, IngestionLag\n\
         // remedy.stale: grant the key in {{Region}}\n\
         let lookback = 14d;\nlet lag_warning = 1h;\nlet lag_failure = 6h;\nlet stale_after = 24h;\nAWSGuardDuty\n"
    );
    parse_check(Path::new("queries/fresh.kql"), text.into_bytes()).unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// One result row: rows, minutes since the last arrival, ingestion lag in minutes.
fn row(region: &str, rows: i64, since_minutes: Option<i64>, lag_minutes: Option<i64>) -> Vec<Cell> {
    let last = since_minutes
        .map(|m| Cell::DateTime(now() - TimeDelta::minutes(m)))
        .unwrap_or(Cell::Null);
    vec![
        Cell::String("111122223333".into()),
        Cell::String(region.into()),
        Cell::Long(rows),
        last,
        since_minutes.map_or(Cell::Null, |m| Cell::TimeSpan(TimeDelta::minutes(m))),
        lag_minutes.map_or(Cell::Null, |m| Cell::TimeSpan(TimeDelta::minutes(m))),
    ]
}

fn table(rows: Vec<Vec<Cell>>) -> QueryResult {
    let column = |name: &str, kind| Column {
        name: name.into(),
        kind,
    };
    QueryResult {
        tables: vec![Table {
            name: "PrimaryResult".into(),
            columns: vec![
                column("AccountId", ColumnType::String),
                column("Region", ColumnType::String),
                column("Rows", ColumnType::Long),
                column("LastArrival", ColumnType::DateTime),
                column("SinceLastArrival", ColumnType::TimeSpan),
                column("IngestionLag", ColumnType::TimeSpan),
            ],
            rows,
        }],
        partial: None,
    }
}

fn run(check: &Check, result: QueryResult) -> Vec<Verdict> {
    classify(check, "ws", &Ok(result), now())
}

fn one(region_row: Vec<Cell>) -> Verdict {
    let mut verdicts = run(&check("AccountId, Region"), table(vec![region_row]));
    assert_eq!(verdicts.len(), 1);
    verdicts.remove(0)
}

#[test]
fn fresh_rows_are_healthy_with_their_group_and_times() {
    let verdict = one(row("eu-west-1", 500, Some(10), Some(25)));
    assert_eq!(
        (verdict.status, verdict.reason.as_str(), verdict.fails),
        (Status::Healthy, "fresh", false)
    );
    assert_eq!(
        verdict.group_label(),
        "AccountId=111122223333, Region=eu-west-1"
    );
    assert_eq!(verdict.last_seen, Some(now() - TimeDelta::minutes(10)));
    assert_eq!(verdict.lag_seconds, Some(25 * 60));
    assert_eq!(verdict.remedy, None);
}

#[test]
fn lag_boundaries() {
    let at = |lag| one(row("eu-west-1", 5, Some(5), Some(lag)));
    assert_eq!(at(59).status, Status::Healthy);
    let warning = at(60);
    assert_eq!(
        (warning.status, warning.reason.as_str(), warning.fails),
        (Status::Lag, "lag_warning", false)
    );
    assert_eq!(at(359).reason, "lag_warning");
    let failure = at(360);
    assert_eq!(
        (failure.status, failure.reason.as_str(), failure.fails),
        (Status::Lag, "lag_failure", true)
    );
    assert!(
        failure
            .message
            .contains("6h late, past the failure level of 6h"),
        "{}",
        failure.message
    );
}

#[test]
fn stale_boundary_and_remedy_with_the_group_filled_in() {
    assert_eq!(
        one(row("eu-west-1", 5, Some(24 * 60 - 1), Some(10))).status,
        Status::Healthy
    );
    let stale = one(row("us-east-1", 5, Some(24 * 60), Some(10)));
    assert_eq!(
        (stale.status, stale.reason.as_str(), stale.fails),
        (Status::NoData, "stale", true)
    );
    assert!(
        stale
            .message
            .starts_with("nothing has arrived since 2026-12-02 12:00 UTC (1d ago)"),
        "{}",
        stale.message
    );
    assert_eq!(stale.remedy.as_deref(), Some("grant the key in us-east-1"));
    // Staleness wins over lag: a stopped group is no data, whatever its last lag.
    assert_eq!(
        one(row("us-east-1", 5, Some(3 * 24 * 60), Some(600))).reason,
        "stale"
    );
}

#[test]
fn null_max_and_zero_rows() {
    // Without `by`, an empty table gives one row: count 0 and null max.
    let ungrouped = check("");
    let mut empty_row = row("", 0, None, None);
    empty_row.drain(..2);
    let mut result = table(vec![empty_row]);
    result.tables[0].columns.drain(..2);
    let verdicts = run(&ungrouped, result);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(
        (verdicts[0].status, verdicts[0].reason.as_str()),
        (Status::NoData, "never_seen")
    );
    assert_eq!(verdicts[0].group, None);
    assert!(
        verdicts[0]
            .message
            .contains("AWSGuardDuty received no rows in the last 14d")
    );

    // With `by`, an empty table gives no rows at all.
    let verdicts = run(&check("AccountId, Region"), table(vec![]));
    assert_eq!(verdicts.len(), 1);
    assert_eq!(
        (
            verdicts[0].status,
            verdicts[0].reason.as_str(),
            verdicts[0].fails
        ),
        (Status::NoData, "never_seen", true)
    );

    // A count without a time is not fresh data, nor proof of none: rows did arrive.
    let timeless = one(row("eu-west-1", 3, None, None));
    assert_eq!(
        (timeless.status, timeless.reason.as_str()),
        (Status::Error, "incomplete_row")
    );
    assert!(timeless.remedy.unwrap().contains("without `LastArrival`"));
    // A time with a count of zero: nothing arrived.
    assert_eq!(
        one(row("eu-west-1", 0, Some(5), Some(5))).reason,
        "never_seen"
    );
    // An empty or negative count is a broken result, not "no data".
    let mut empty_count = row("eu-west-1", 3, Some(5), Some(5));
    empty_count[2] = Cell::Null;
    let broken = one(empty_count);
    assert_eq!(
        (broken.status, broken.reason.as_str()),
        (Status::Error, "bad_response")
    );
    assert!(
        broken
            .message
            .contains("column `Rows` of the result is not a count: empty"),
        "{}",
        broken.message
    );
    assert_eq!(
        one(row("eu-west-1", -1, Some(5), Some(5))).reason,
        "bad_response"
    );
}

#[test]
fn rows_without_a_lag_cannot_be_healthy() {
    let verdict = one(row("eu-west-1", 3, Some(5), None));
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "incomplete_row")
    );
}

#[test]
fn a_missing_since_column_value_falls_back_to_the_local_clock() {
    let mut cells = row("eu-west-1", 3, Some(30 * 60), Some(5));
    cells[4] = Cell::Null;
    assert_eq!(one(cells).reason, "stale");
}

#[test]
fn wrong_types_and_missing_columns_are_errors() {
    let mut cells = row("eu-west-1", 3, Some(5), Some(5));
    cells[3] = Cell::String("yesterday".into());
    let verdict = one(cells);
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "bad_response")
    );
    assert!(verdict.message.contains("`LastArrival`"));

    let mut result = table(vec![row("eu-west-1", 3, Some(5), Some(5))]);
    result.tables[0].columns[5].name = "Lag".into();
    let verdicts = run(&check("AccountId, Region"), result);
    assert_eq!(verdicts[0].reason, "bad_response");
    assert!(
        verdicts[0].message.contains("lacks column(s) IngestionLag"),
        "{}",
        verdicts[0].message
    );
}

#[test]
fn a_partial_result_is_never_healthy() {
    let mut result = table(vec![
        row("eu-west-1", 3, Some(5), Some(5)),
        row("us-east-1", 3, Some(3000), Some(5)),
    ]);
    result.partial = Some(ServiceError {
        code: "PartialError".into(),
        message: "There were some errors when processing your query.".into(),
        correlation_id: None,
        details: vec![],
        innererror: None,
    });
    let verdicts = run(&check("AccountId, Region"), result);
    assert!(verdicts.iter().all(|v| v.partial));
    assert_eq!(
        (verdicts[0].status, verdicts[0].reason.as_str()),
        (Status::Error, "partial_result")
    );
    // Silence in a partial result proves nothing either: the missing part may hold the rows.
    assert_eq!(
        (verdicts[1].status, verdicts[1].reason.as_str()),
        (Status::Error, "partial_result")
    );
    assert!(
        verdicts[1]
            .message
            .contains("the part looked no_data (stale)"),
        "{}",
        verdicts[1].message
    );
    assert!(verdicts.iter().all(|v| !v.fails && v.remedy.is_some()));
}

#[test]
fn failures_are_errors_and_a_missing_table_is_no_data() {
    let check = check("AccountId, Region");
    let sem0100 = |name: &str| ServiceError {
        code: "BadArgumentError".into(),
        message: "The request had some invalid properties".into(),
        correlation_id: None,
        details: vec![],
        innererror: Some(Box::new(ServiceError {
            code: "SemanticError".into(),
            message: "A semantic error occurred.".into(),
            correlation_id: None,
            details: vec![],
            innererror: Some(Box::new(ServiceError {
                code: "SEM0100".into(),
                message: format!(
                    "'where' operator: Failed to resolve table or column expression named '{name}'"
                ),
                correlation_id: None,
                details: vec![],
                innererror: None,
            })),
        })),
    };
    let missing = classify(
        &check,
        "ws",
        &Err(QueryFailure::BadQuery(sem0100("AWSGuardDuty"))),
        now(),
    );
    assert_eq!(
        (
            missing[0].status,
            missing[0].reason.as_str(),
            missing[0].fails
        ),
        (Status::NoData, "table_missing", true)
    );

    // An unknown column is the query's fault, not missing data.
    let column = classify(
        &check,
        "ws",
        &Err(QueryFailure::BadQuery(sem0100("AccountIdd"))),
        now(),
    );
    assert_eq!(
        (column[0].status, column[0].reason.as_str()),
        (Status::Error, "query_rejected")
    );

    let failures = [
        (
            QueryFailure::Forbidden(None),
            "forbidden",
            "Log Analytics Reader role on workspace ws",
        ),
        (QueryFailure::Unauthorized(None), "unauthorized", "--cloud"),
        (
            QueryFailure::WorkspaceNotFound(None),
            "workspace_not_found",
            "Workspace ID",
        ),
        (
            QueryFailure::Throttled {
                attempts: 4,
                retry_after: None,
            },
            "throttled",
            "--concurrency",
        ),
        (
            QueryFailure::ServerTimeout {
                wait: std::time::Duration::from_secs(180),
            },
            "server_timeout",
            "--wait",
        ),
        (QueryFailure::NoContent, "no_content", "-vv"),
    ];
    for (failure, reason, hint) in failures {
        let verdict = &classify(&check, "ws", &Err(failure), now())[0];
        assert_eq!(
            (verdict.status, verdict.reason.as_str(), verdict.fails),
            (Status::Error, reason, false)
        );
        assert!(
            verdict.remedy.as_deref().unwrap().contains(hint),
            "{reason}: {:?}",
            verdict.remedy
        );
    }
}

/// A check that judges silence by each group's rhythm: stale after 6 h at the earliest, and
/// only when silent for four usual gaps.
fn rhythm_check() -> Check {
    let text = "// id: fresh\n// version: 1.0.0\n// title: t\n// description: d\n\
         // tables: AWSGuardDuty\n// group-by: Region\n// severity: high\n// classifier: freshness\n\
         // thresholds: lookback, lag_warning, lag_failure, stale_after, silence_factor\n\
         // columns: Rows, Batches, FirstArrival, LastArrival, SinceLastArrival, IngestionLag\n\
         let lookback = 14d;\nlet lag_warning = 1h;\nlet lag_failure = 6h;\nlet stale_after = 6h;\n\
         let silence_factor = 4;\nAWSGuardDuty\n";
    parse_check(Path::new("queries/fresh.kql"), text.as_bytes().to_vec()).unwrap()
}

/// A group that received `batches` arrival bins between `first_days` and `since_minutes` ago.
fn history(batches: i64, first_days: i64, since_minutes: i64) -> QueryResult {
    let column = |name: &str, kind| Column {
        name: name.into(),
        kind,
    };
    let last = now() - TimeDelta::minutes(since_minutes);
    QueryResult {
        tables: vec![Table {
            name: "PrimaryResult".into(),
            columns: vec![
                column("Region", ColumnType::String),
                column("Rows", ColumnType::Long),
                column("Batches", ColumnType::Long),
                column("FirstArrival", ColumnType::DateTime),
                column("LastArrival", ColumnType::DateTime),
                column("SinceLastArrival", ColumnType::TimeSpan),
                column("IngestionLag", ColumnType::TimeSpan),
            ],
            rows: vec![vec![
                Cell::String("eu-west-1".into()),
                Cell::Long(batches * 2),
                Cell::Long(batches),
                Cell::DateTime(now() - TimeDelta::days(first_days)),
                Cell::DateTime(last),
                Cell::TimeSpan(TimeDelta::minutes(since_minutes)),
                Cell::TimeSpan(TimeDelta::minutes(25)),
            ]],
        }],
        partial: None,
    }
}

#[test]
fn silence_is_judged_against_the_group_s_own_rhythm() {
    let check = rhythm_check();
    let judge = |batches, first_days, since_minutes| {
        run(&check, history(batches, first_days, since_minutes)).remove(0)
    };
    // Every 20 minutes for a week, then silent for a day: stopped.
    let busy = judge(7 * 72, 8, 24 * 60);
    assert_eq!(
        (busy.status, busy.reason.as_str(), busy.fails),
        (Status::NoData, "stale", true)
    );
    assert!(
        busy.message.contains("usually receives rows every 20m"),
        "{}",
        busy.message
    );
    // The same group silent for five hours is still within `stale_after`.
    assert_eq!(judge(7 * 72, 8, 5 * 60).status, Status::Healthy);

    // Twice a week (four bins in two weeks), silent for two days: quiet, not a failure.
    let rare = judge(4, 12, 2 * 24 * 60);
    assert_eq!(
        (rare.status, rare.reason.as_str(), rare.fails),
        (Status::NoData, "quiet", false)
    );
    assert!(rare.message.contains("about every 3d"), "{}", rare.message);
    // First seen 12 days ago, silent for the last 7: four bins over 5 days make a gap of 1d 16h,
    // and four of those (6d 16h) have passed, so it has stopped.
    let stopped = judge(4, 12, 7 * 24 * 60);
    assert_eq!(stopped.reason, "stale");
    assert!(
        stopped
            .message
            .contains("usually receives rows every 1d 16h"),
        "{}",
        stopped.message
    );
    // A last arrival before the first is no rhythm at all: quiet, never judged stopped by it.
    assert_eq!(judge(4, 12, 16 * 24 * 60).reason, "quiet");

    // Two bins say nothing about a rhythm: quiet, and the message says why.
    let unknown = judge(2, 10, 3 * 24 * 60);
    assert_eq!((unknown.reason.as_str(), unknown.fails), ("quiet", false));
    assert!(
        unknown.message.contains("too few arrivals (2 in 14d)"),
        "{}",
        unknown.message
    );
}

#[test]
fn silence_factor_boundary() {
    let check = rhythm_check();
    // Ten bins over 9 x 60 minutes: a rhythm of one hour; four of them is four hours, but the
    // 6-hour floor applies first.
    let mut result = history(10, 0, 6 * 60);
    result.tables[0].rows[0][3] = Cell::DateTime(now() - TimeDelta::minutes(6 * 60 + 9 * 60));
    assert_eq!(run(&check, result).remove(0).reason, "stale");
    let mut result = history(10, 0, 6 * 60 - 1);
    result.tables[0].rows[0][3] = Cell::DateTime(now() - TimeDelta::minutes(6 * 60 - 1 + 9 * 60));
    assert_eq!(run(&check, result).remove(0).reason, "fresh");
}

#[test]
fn messages_take_each_value_once_and_name_empty_ones() {
    let check = check("Region");
    let table = Table {
        name: "PrimaryResult".into(),
        columns: ["Region", "StatusCode", "Note"]
            .iter()
            .map(|name| Column {
                name: name.to_string(),
                kind: ColumnType::String,
            })
            .collect(),
        rows: Vec::new(),
    };
    let cells = [
        Cell::String("{StatusCode}".into()),
        Cell::String(String::new()),
        Cell::String("{lookback} {Missing".into()),
    ];
    let row = Row {
        table: &table,
        cells: &cells,
    };
    assert_eq!(
        fill(
            "{Region} failed with status {StatusCode} in {lookback}: {Note} {Unknown} {",
            &check,
            &row
        ),
        "{StatusCode} failed with status (none) in 14d: {lookback} {Missing {Unknown} {"
    );
}
