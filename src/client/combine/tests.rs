use super::*;
use crate::client::response::{Column, ColumnType};

fn combined(query: &str) -> Combined {
    combine(query).unwrap_or_else(|refusal| panic!("refused: {refusal:?}\n{query}"))
}

fn refusal(query: &str) -> String {
    match combine(query) {
        Ok(combined) => panic!("combined:\n{}", combined.query),
        Err(Refusal(why)) => why,
    }
}

fn shipped(id: &str) -> String {
    crate::catalog::built_in()
        .unwrap()
        .into_iter()
        .find(|check| check.id == id)
        .unwrap()
        .query()
        .to_string()
}

#[test]
fn a_grouped_summarize_also_groups_by_workspace() {
    let query = shipped("guardduty-freshness");
    let result = combined(&query);
    assert!(result.empty_is_exact);
    assert!(
        result
            .query
            .contains("\n    by TenantId, AccountId, Region\n"),
        "{}",
        result.query
    );
    // Nothing else changes: the header, the thresholds, the other stages.
    assert_eq!(
        result.query.replacen(" TenantId,", "", 1),
        query,
        "only the by clause changes"
    );
}

#[test]
fn an_ungrouped_summarize_gets_a_by_clause_and_says_absence_is_not_empty() {
    let result = combined(&shipped("cloudtrail-freshness"));
    assert!(!result.empty_is_exact);
    assert!(
        result
            .query
            .contains("LastGenerated = max(TimeGenerated) by TenantId\n| extend"),
        "{}",
        result.query
    );
    assert!(!combined(&shipped("guardduty-malformed")).empty_is_exact);
}

#[test]
fn renamed_group_columns_and_later_stages_are_kept() {
    let result = combined(&shipped("kms-decrypt-denied"));
    assert!(
        result
            .query
            .contains("by TenantId, AccountId = RecipientAccountId, Region = AWSRegion"),
        "{}",
        result.query
    );
    let backlog = combined(&shipped("guardduty-backlog"));
    assert!(
        backlog
            .query
            .contains("by TenantId, AccountId, Region\n| where Events >= min_burst")
    );
}

#[test]
fn every_shipped_check_but_the_one_with_a_tabular_let_combines() {
    let mut refused = Vec::new();
    for check in crate::catalog::built_in().unwrap() {
        if let Err(Refusal(why)) = combine(check.query()) {
            refused.push((check.id.clone(), why));
        }
    }
    assert_eq!(
        refused,
        vec![(
            "kms-key-changes".to_string(),
            "a `let` holds a tabular expression or a function".to_string()
        )]
    );
    assert_eq!(
        refusal("let f = (x: long) { x + 1 };\nT | extend y = f(1)"),
        "a `let` holds a tabular expression or a function"
    );
    // A scalar `let` and a table alias are fine.
    assert!(
        combine(
            "let lookback = 3d;\nlet t = AWSGuardDuty;\nt | where TimeGenerated > ago(lookback)"
        )
        .is_ok()
    );
}

#[test]
fn strings_and_comments_do_not_count_as_structure() {
    let query = "// take 10 | join\nT\n| where Name == \"summarize x by y | take 1\" and P == @'a''b|c' \
                 and H == h'by'\n| summarize n = count() by Name // by the way\n";
    let result = combined(query);
    assert_eq!(
        result.query,
        "// take 10 | join\nT\n| where Name == \"summarize x by y | take 1\" and P == @'a''b|c' \
         and H == h'by'\n| summarize n = count() by TenantId, Name // by the way\n"
    );
}

#[test]
fn projections_and_distinct_keep_the_workspace() {
    assert_eq!(
        combined("T | project A, B = C | distinct A, B").query,
        "T | project TenantId, A, B = C | distinct TenantId, A, B"
    );
    assert_eq!(
        combined("T | project-keep A | order by A desc").query,
        "T | project-keep TenantId, A | order by A desc"
    );
    assert_eq!(combined("T | distinct *").query, "T | distinct *");
}

#[test]
fn operators_that_mix_workspaces_are_refused() {
    assert_eq!(refusal("T | take 10"), "the `take` operator");
    assert_eq!(refusal("T | top 3 by X"), "the `top` operator");
    assert_eq!(refusal("T | join kind=inner U on X"), "the `join` operator");
    assert_eq!(refusal("T | count"), "the `count` operator");
    assert_eq!(
        refusal("T | where X in ((U | project X))"),
        "the query has a subquery"
    );
    assert_eq!(
        refusal("T | order by X asc | extend N = row_number()"),
        "the query calls row_number()"
    );
    assert_eq!(
        refusal("T | extend Ws = TenantId"),
        "the query names TenantId itself"
    );
    assert_eq!(
        refusal("union T, workspace('x').T | count"),
        "the query calls workspace()"
    );
    assert_eq!(
        refusal("T | project-away A*"),
        "`project-away` with a wildcard"
    );
    assert_eq!(refusal("T | where A == 'open"), "an unterminated string");
    assert_eq!(
        refusal("print x = 1"),
        "the query does not start from one table"
    );
    assert_eq!(
        refusal("T | take 1; U | take 1"),
        "more than one query statement"
    );
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

const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";

#[test]
fn an_answer_splits_into_one_result_per_workspace_without_tenant_id() {
    let answer = table(
        &[
            ("Region", ColumnType::String),
            ("TenantId", ColumnType::String),
            ("Rows", ColumnType::Long),
        ],
        vec![
            vec![
                Cell::String("eu-west-1".into()),
                Cell::String(A.to_uppercase()),
                Cell::Long(3),
            ],
            vec![
                Cell::String("us-east-1".into()),
                Cell::String(B.into()),
                Cell::Long(5),
            ],
            vec![
                Cell::String("us-east-1".into()),
                Cell::String(A.into()),
                Cell::Long(7),
            ],
        ],
    );
    let c = "00000000-0000-0000-0000-00000000000c";
    let parts = split(&answer, &[A, B, c]).unwrap();
    assert_eq!(parts.len(), 3);
    let a = parts[A].primary().unwrap();
    assert_eq!(
        a.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["Region", "Rows"]
    );
    assert_eq!(
        a.rows,
        vec![
            vec![Cell::String("eu-west-1".into()), Cell::Long(3)],
            vec![Cell::String("us-east-1".into()), Cell::Long(7)]
        ]
    );
    assert_eq!(parts[B].primary().unwrap().rows.len(), 1);
    let empty = parts[c].primary().unwrap();
    assert!(empty.rows.is_empty());
    assert_eq!(empty.columns.len(), 2);
}

#[test]
fn an_answer_that_does_not_say_where_rows_come_from_is_refused() {
    let without = table(&[("Rows", ColumnType::Long)], vec![vec![Cell::Long(1)]]);
    assert!(
        split(&without, &[A])
            .unwrap_err()
            .contains("no `TenantId` column")
    );
    let stranger = table(
        &[("TenantId", ColumnType::String)],
        vec![vec![Cell::String(B.into())]],
    );
    let message = split(&stranger, &[A]).unwrap_err();
    assert!(
        message.contains(B) && message.contains("not asked for"),
        "{message}"
    );
    let null = table(&[("TenantId", ColumnType::String)], vec![vec![Cell::Null]]);
    assert!(split(&null, &[A]).is_err());
}
