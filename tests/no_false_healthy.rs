//! No false "healthy", and no "no data" from a result that could not be read: properties of the
//! classifiers over generated result sets (random rows, empty cells, missing columns, columns of
//! the wrong type, partial answers), checked against every shipped check. Each property states
//! what the data must positively show for a verdict, computed here independently of the
//! classifier.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sentinel_kms::catalog::{self, Check, Classifier};
use sentinel_kms::classify::classify;
use sentinel_kms::client::response::{Column, ColumnType, ServiceError};
use sentinel_kms::client::{Cell, QueryFailure, QueryResult, Table};
use sentinel_kms::verdict::{Status, Verdict};

static CHECKS: LazyLock<Vec<Check>> =
    LazyLock::new(|| catalog::built_in().expect("the shipped checks load"));

const WORKSPACE: &str = "00000000-0000-0000-0000-000000000001";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The type a column normally has in the shipped checks' results.
fn usual_type(name: &str) -> ColumnType {
    match name {
        "Rows" | "Batches" | "Events" | "Bad" | "EmptyId" | "EmptyAccountId" | "EmptyRegion" => {
            ColumnType::Long
        }
        "FirstArrival" | "LastArrival" | "LastGenerated" | "FirstSeen" | "LastSeen" => {
            ColumnType::DateTime
        }
        "SinceLastArrival" | "IngestionLag" => ColumnType::TimeSpan,
        "Fails" => ColumnType::Bool,
        _ => ColumnType::String,
    }
}

const ALL_TYPES: [ColumnType; 10] = [
    ColumnType::Bool,
    ColumnType::DateTime,
    ColumnType::Dynamic,
    ColumnType::Int,
    ColumnType::Long,
    ColumnType::Real,
    ColumnType::String,
    ColumnType::Guid,
    ColumnType::Decimal,
    ColumnType::TimeSpan,
];

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// A cell of a column of `kind`: often empty, often near a threshold, sometimes absurd.
fn cell(kind: ColumnType) -> BoxedStrategy<Cell> {
    let value: BoxedStrategy<Cell> = match kind {
        ColumnType::Int | ColumnType::Long => {
            prop_oneof![Just(0i64), 1..6i64, -3..0i64, 1..100_000i64, any::<i64>()]
                .prop_map(Cell::Long)
                .boxed()
        }
        ColumnType::Real => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            (0..50i64).prop_map(|n| n as f64),
            any::<f64>()
        ]
        .prop_map(Cell::Real)
        .boxed(),
        ColumnType::DateTime => prop_oneof![
            (-3 * 1440..30 * 1440i64).prop_map(|m| now() - minutes(m)),
            (-100_000_000..100_000_000i64).prop_map(|m| now() - minutes(m)),
        ]
        .prop_map(Cell::DateTime)
        .boxed(),
        ColumnType::TimeSpan => prop_oneof![
            (-120..30 * 1440i64).prop_map(minutes),
            (0..24 * 60i64).prop_map(minutes),
            (-100_000_000..100_000_000i64).prop_map(minutes),
        ]
        .prop_map(Cell::TimeSpan)
        .boxed(),
        ColumnType::Bool => any::<bool>().prop_map(Cell::Bool).boxed(),
        ColumnType::String => prop_oneof![
            Just(String::new()),
            Just("111122223333".to_string()),
            Just("eu-west-1".to_string()),
            Just(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .to_string()
            ),
            Just("arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole".to_string()),
            Just("key_disabled".to_string()),
            "[ -~]{0,16}",
        ]
        .prop_map(Cell::String)
        .boxed(),
        ColumnType::Guid => Just(Cell::Guid(WORKSPACE.into())).boxed(),
        ColumnType::Decimal => "[0-9]{1,4}(\\.[0-9]{1,3})?".prop_map(Cell::Decimal).boxed(),
        ColumnType::Dynamic => prop_oneof![
            Just(serde_json::json!(["S3B40023"])),
            Just(serde_json::json!({"a": 1})),
            Just(serde_json::Value::Null),
        ]
        .prop_map(Cell::Dynamic)
        .boxed(),
    };
    prop_oneof![1 => Just(Cell::Null), 5 => value].boxed()
}

/// A check, and a result for it: each declared column present or not, of its usual type or
/// another, a few extra columns, zero to five rows, and sometimes a partial error.
fn case() -> impl Strategy<Value = (usize, QueryResult)> {
    (0..CHECKS.len())
        .prop_flat_map(|index| {
            let check = &CHECKS[index];
            let mut names: Vec<String> = check
                .required_output_columns()
                .into_iter()
                .map(|(_, name)| name.to_string())
                .collect();
            for extra in ["Reason", "Fails", "Note"] {
                if !names.iter().any(|n| n == extra) {
                    names.push(extra.to_string());
                }
            }
            let columns: Vec<_> = names
                .into_iter()
                .map(|name| {
                    let kind = prop_oneof![
                        6 => Just(usual_type(&name)),
                        1 => proptest::sample::select(ALL_TYPES.to_vec()),
                    ];
                    (Just(name), proptest::bool::weighted(0.93), kind)
                })
                .collect();
            (Just(index), columns, proptest::bool::weighted(0.15))
        })
        .prop_flat_map(|(index, columns, partial)| {
            let columns: Vec<Column> = columns
                .into_iter()
                .filter(|(_, present, _)| *present)
                .map(|(name, _, kind)| Column { name, kind })
                .collect();
            let row: Vec<_> = columns.iter().map(|c| cell(c.kind)).collect();
            (
                Just(index),
                Just(columns),
                proptest::collection::vec(row, 0..6),
                Just(partial),
            )
        })
        .prop_map(|(index, columns, rows, partial)| {
            let result = QueryResult {
                tables: vec![Table {
                    name: "PrimaryResult".into(),
                    columns,
                    rows,
                }],
                partial: partial.then(|| ServiceError {
                    code: "PartialError".into(),
                    message: "There were some errors when processing your query.".into(),
                    correlation_id: None,
                    details: vec![],
                    innererror: None,
                }),
            };
            (index, result)
        })
}

/// What the row holds in `name`, or null when the column is missing.
fn get<'a>(table: &'a Table, row: &'a [Cell], name: &str) -> &'a Cell {
    table.column(name).map_or(&Cell::Null, |i| &row[i])
}

fn count(cell: &Cell) -> Option<i64> {
    match cell {
        Cell::Long(n) => Some(*n),
        Cell::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Some(*r as i64),
        _ => None,
    }
}

fn span(check: &Check, name: &str) -> TimeDelta {
    check.threshold(name).and_then(|v| v.as_span()).unwrap()
}

/// A freshness row is readable: a non-negative count of rows, and every other column it reads
/// empty or of the right type.
fn freshness_readable(table: &Table, row: &[Cell]) -> bool {
    let is = |name: &str, ok: fn(&Cell) -> bool| {
        let value = get(table, row, name);
        matches!(value, Cell::Null) || ok(value)
    };
    count(get(table, row, "Rows")).is_some_and(|n| n >= 0)
        && is("Batches", |c| count(c).is_some_and(|n| n >= 0))
        && is("LastArrival", |c| matches!(c, Cell::DateTime(_)))
        && is("FirstArrival", |c| matches!(c, Cell::DateTime(_)))
        && is("SinceLastArrival", |c| matches!(c, Cell::TimeSpan(_)))
        && is("IngestionLag", |c| matches!(c, Cell::TimeSpan(_)))
}

/// How long the row says its group has been silent, when it says when rows last arrived.
fn silence(table: &Table, row: &[Cell]) -> Option<TimeDelta> {
    let Cell::DateTime(last) = get(table, row, "LastArrival") else {
        return None;
    };
    let since = match get(table, row, "SinceLastArrival") {
        Cell::TimeSpan(since) => *since,
        _ => now() - *last,
    };
    Some(since.max(TimeDelta::zero()))
}

/// The row positively shows fresh rows: some arrived, recently, with a known lag under the
/// warning level.
fn positively_fresh(check: &Check, table: &Table, row: &[Cell]) -> bool {
    let lag_ok = matches!(get(table, row, "IngestionLag"),
        Cell::TimeSpan(lag) if lag.max(&TimeDelta::zero()) < &span(check, "lag_warning"));
    freshness_readable(table, row)
        && count(get(table, row, "Rows")).is_some_and(|n| n > 0)
        && silence(table, row).is_some_and(|s| s < span(check, "stale_after"))
        && lag_ok
}

/// The row positively shows no fresh rows: none arrived, or the last ones long ago.
fn positively_absent(check: &Check, table: &Table, row: &[Cell]) -> bool {
    freshness_readable(table, row)
        && (count(get(table, row, "Rows")) == Some(0)
            || silence(table, row).is_some_and(|s| s >= span(check, "stale_after")))
}

/// A share row holds a share: counts with 0 <= Bad <= Rows.
fn share_counts(table: &Table, row: &[Cell]) -> Option<(i64, i64)> {
    let rows = count(get(table, row, "Rows"))?;
    let bad = count(get(table, row, "Bad"))?;
    (rows >= 0 && bad >= 0 && bad <= rows).then_some((rows, bad))
}

fn check_verdicts(check: &Check, result: &QueryResult, verdicts: &[Verdict]) {
    let table = &result.tables[0];
    let partial = result.partial.is_some();
    assert!(!verdicts.is_empty(), "no verdict at all");
    for verdict in verdicts {
        assert_eq!(verdict.check, check.id);
        assert_eq!(verdict.workspace, WORKSPACE);
        assert!(!verdict.message.is_empty());
        if verdict.status != Status::Healthy {
            assert!(verdict.remedy.is_some(), "no remedy: {verdict:?}");
        }
        if verdict.status == Status::Error {
            let named = format!("could not evaluate `{}` in workspace {WORKSPACE}", check.id);
            assert!(verdict.message.starts_with(&named), "{verdict:?}");
        }
        if partial {
            assert_ne!(verdict.status, Status::Healthy, "{verdict:?}");
            assert!(verdict.partial);
        }
    }
    let missing = check
        .required_output_columns()
        .iter()
        .any(|(_, name)| table.column(name).is_none());
    if missing {
        assert_eq!(verdicts.len(), 1);
        assert_eq!(
            (verdicts[0].status, verdicts[0].reason.as_str()),
            (Status::Error, "bad_response")
        );
        return;
    }
    match check.classifier {
        Classifier::Freshness if table.rows.is_empty() => {
            assert_eq!(verdicts.len(), 1);
            let reason = if partial {
                "partial_result"
            } else {
                "never_seen"
            };
            assert_eq!(verdicts[0].reason, reason);
        }
        Classifier::Freshness => {
            assert_eq!(verdicts.len(), table.rows.len(), "a row lost its verdict");
            for (verdict, row) in verdicts.iter().zip(&table.rows) {
                if verdict.status == Status::Healthy {
                    assert!(positively_fresh(check, table, row), "{verdict:?}\n{row:?}");
                }
                if verdict.status == Status::NoData {
                    assert!(!partial, "{verdict:?}");
                    assert!(positively_absent(check, table, row), "{verdict:?}\n{row:?}");
                }
                if !freshness_readable(table, row) {
                    assert_eq!(verdict.status, Status::Error, "{verdict:?}\n{row:?}");
                }
            }
        }
        Classifier::Events => {
            let zero = |row: &Vec<Cell>| count(get(table, row, "Events")) == Some(0);
            let findings: Vec<&Vec<Cell>> = table.rows.iter().filter(|r| !zero(r)).collect();
            if findings.is_empty() {
                assert_eq!(verdicts.len(), 1);
            } else {
                assert_eq!(verdicts.len(), findings.len(), "a row lost its verdict");
                for (verdict, row) in verdicts.iter().zip(findings) {
                    assert_ne!(verdict.status, Status::Healthy, "{verdict:?}");
                    // A finding rests on a row that counts events; anything else is an error.
                    let events = count(get(table, row, "Events"));
                    if events.is_none_or(|n| n < 0) {
                        assert_eq!(verdict.status, Status::Error, "{verdict:?}\n{row:?}");
                    }
                }
            }
        }
        Classifier::Share if table.rows.is_empty() => {
            assert_eq!(verdicts.len(), 1);
            assert_ne!(verdicts[0].status, Status::Healthy);
        }
        Classifier::Share => {
            let max_share = check
                .threshold("max_share")
                .and_then(|v| v.as_number())
                .unwrap();
            assert_eq!(verdicts.len(), table.rows.len(), "a row lost its verdict");
            for (verdict, row) in verdicts.iter().zip(&table.rows) {
                let counts = share_counts(table, row);
                if verdict.status == Status::Healthy {
                    let (rows, bad) = counts.expect("healthy from counts that are no share");
                    assert!(
                        rows > 0 && bad as f64 / rows as f64 <= max_share,
                        "{verdict:?}"
                    );
                }
                if verdict.status == Status::NoData {
                    assert!(!partial && counts.is_some(), "{verdict:?}\n{row:?}");
                }
                if counts.is_none() {
                    assert_eq!(verdict.status, Status::Error, "{verdict:?}\n{row:?}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 2000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn no_verdict_is_healthy_unless_the_rows_show_fresh_data((index, result) in case()) {
        let check = &CHECKS[index];
        let verdicts = classify(check, WORKSPACE, &Ok(result.clone()), now());
        check_verdicts(check, &result, &verdicts);
    }

    #[test]
    fn a_query_that_failed_is_never_healthy_nor_no_data(
        index in 0..CHECKS.len(),
        failure in failure(),
    ) {
        let check = &CHECKS[index];
        let verdicts = classify(check, WORKSPACE, &Err(failure.clone()), now());
        prop_assert_eq!(verdicts.len(), 1);
        let verdict = &verdicts[0];
        prop_assert_eq!(verdict.status, Status::Error, "{:?} gave {:?}", failure, verdict);
        prop_assert!(!verdict.fails);
        prop_assert!(verdict.message.contains(&check.id) && verdict.message.contains(WORKSPACE));
        prop_assert!(verdict.remedy.as_ref().is_some_and(|r| !r.is_empty()));
    }
}

/// Every way a query can fail, except an unknown table (which is the absence of data, not a
/// failure to look).
fn failure() -> impl Strategy<Value = QueryFailure> {
    let error = || {
        Just(Some(ServiceError {
            code: "InsufficientAccessError".into(),
            message: "The provided credentials have insufficient access".into(),
            correlation_id: None,
            details: vec![],
            innererror: None,
        }))
    };
    prop_oneof![
        "[a-z ]{0,20}".prop_map(QueryFailure::Token),
        error().prop_map(QueryFailure::Unauthorized),
        error().prop_map(QueryFailure::Forbidden),
        Just(QueryFailure::WorkspaceNotFound(None)),
        (1..5u32, proptest::option::of(0..100u64)).prop_map(|(attempts, wait)| {
            QueryFailure::Throttled {
                attempts,
                retry_after: wait.map(std::time::Duration::from_secs),
            }
        }),
        (500..600u16, 1..5u32).prop_map(|(status, attempts)| QueryFailure::Unavailable {
            status,
            error: None,
            attempts,
        }),
        Just(QueryFailure::ServerTimeout {
            wait: std::time::Duration::from_secs(180)
        }),
        Just(QueryFailure::ClientTimeout {
            after: std::time::Duration::from_secs(195)
        }),
        "[a-z ]{0,20}".prop_map(|message| QueryFailure::Network {
            message,
            attempts: 4
        }),
        Just(QueryFailure::NoContent),
        Just(QueryFailure::BadBody(
            sentinel_kms::client::BodyError::Empty
        )),
        (300..500u16).prop_map(|status| QueryFailure::UnexpectedStatus {
            status,
            error: None
        }),
    ]
}

fn check(id: &str) -> &'static Check {
    CHECKS.iter().find(|c| c.id == id).unwrap()
}

fn table(columns: &[(&str, ColumnType)], rows: Vec<Vec<Cell>>) -> QueryResult {
    QueryResult {
        tables: vec![Table {
            name: "PrimaryResult".into(),
            columns: columns
                .iter()
                .map(|(name, kind)| Column {
                    name: name.to_string(),
                    kind: *kind,
                })
                .collect(),
            rows,
        }],
        partial: None,
    }
}

/// The cases the properties above were written for, fixed.
#[test]
fn examples_that_once_went_wrong() {
    let freshness = check("cloudtrail-freshness");
    let columns = [
        ("Rows", ColumnType::Long),
        ("Batches", ColumnType::Long),
        ("FirstArrival", ColumnType::DateTime),
        ("LastArrival", ColumnType::DateTime),
        ("LastGenerated", ColumnType::DateTime),
        ("SinceLastArrival", ColumnType::TimeSpan),
        ("IngestionLag", ColumnType::TimeSpan),
    ];
    let judge = |rows: Cell, last: Cell| {
        let row = vec![
            rows,
            Cell::Long(5),
            Cell::DateTime(now() - TimeDelta::days(5)),
            last,
            Cell::Null,
            Cell::Null,
            Cell::TimeSpan(minutes(5)),
        ];
        let verdicts = classify(freshness, WORKSPACE, &Ok(table(&columns, vec![row])), now());
        (verdicts[0].status, verdicts[0].reason.clone())
    };
    let recent = Cell::DateTime(now() - minutes(10));
    // Rows arrived, but without their time: not "no rows" (it was reported as never seen).
    assert_eq!(
        judge(Cell::Long(3), Cell::Null),
        (Status::Error, "incomplete_row".into())
    );
    // An empty count is a broken answer, not zero (it was taken for zero: never seen).
    assert_eq!(
        judge(Cell::Null, recent.clone()),
        (Status::Error, "bad_response".into())
    );
    assert_eq!(
        judge(Cell::Long(3), recent),
        (Status::Healthy, "fresh".into())
    );

    // A quiet group of a check without `remedy.quiet` still says what to do.
    let quiet = classify(
        freshness,
        WORKSPACE,
        &Ok(table(
            &columns,
            vec![vec![
                Cell::Long(4),
                Cell::Long(4),
                Cell::DateTime(now() - TimeDelta::days(13)),
                Cell::DateTime(now() - TimeDelta::hours(7)),
                Cell::Null,
                Cell::Null,
                Cell::TimeSpan(minutes(5)),
            ]],
        )),
        now(),
    );
    assert_eq!(quiet[0].reason, "quiet");
    assert!(quiet[0].remedy.as_ref().unwrap().contains("AWSCloudTrail"));

    // An events check whose row counts no events found nothing (it was a finding), and one
    // whose count is empty cannot be read (it was a finding too).
    let events = check("kms-decrypt-denied");
    let columns: Vec<(&str, ColumnType)> = events
        .required_output_columns()
        .into_iter()
        .map(|(_, name)| (name, usual_type(name)))
        .collect();
    let events_cell = columns.iter().position(|(n, _)| *n == "Events").unwrap();
    let with_events = |value: Cell| {
        let mut row: Vec<Cell> = columns
            .iter()
            .map(|(_, kind)| match kind {
                ColumnType::Long => Cell::Long(1),
                ColumnType::DateTime => Cell::DateTime(now()),
                _ => Cell::String("x".into()),
            })
            .collect();
        row[events_cell] = value;
        let verdicts = classify(events, WORKSPACE, &Ok(table(&columns, vec![row])), now());
        (verdicts[0].status, verdicts[0].reason.clone())
    };
    assert_eq!(
        with_events(Cell::Long(0)),
        (Status::Healthy, "none_found".into())
    );
    assert_eq!(
        with_events(Cell::Null),
        (Status::Error, "bad_response".into())
    );
    assert_eq!(
        with_events(Cell::Long(2)),
        (Status::NoData, "kms_decrypt_denied".into())
    );
}

/// The properties above mean something only if the generated results reach every verdict:
/// healthy, lag, no data and error, from each classifier.
#[test]
fn the_generated_results_reach_every_verdict() {
    use proptest::strategy::ValueTree;
    use std::collections::BTreeSet;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..1500 {
        let (index, result) = case().new_tree(&mut runner).unwrap().current();
        let check = &CHECKS[index];
        for verdict in classify(check, WORKSPACE, &Ok(result), now()) {
            seen.insert((check.classifier.name(), verdict.status.name()));
        }
    }
    for expected in [
        ("freshness", "healthy"),
        ("freshness", "lag"),
        ("freshness", "no_data"),
        ("freshness", "error"),
        ("events", "healthy"),
        ("events", "no_data"),
        ("events", "error"),
        ("share", "healthy"),
        ("share", "no_data"),
        ("share", "error"),
    ] {
        assert!(
            seen.contains(&expected),
            "never reached {expected:?}: {seen:?}"
        );
    }
}
