//! Expected accounts and regions: a group the user expects (`--expect`, or the config file)
//! that has not delivered a single finding is a verdict of its own, since a group that never
//! reported has no row for the freshness check to judge.

use crate::catalog::{Check, Classifier};
use crate::config::Expected;
use crate::verdict::{Status, Verdict};

/// Adds an `expected_missing` verdict for every expected group that is absent from the
/// per-account-and-region freshness results of its workspace.
pub fn add_missing(
    checks: &[Check],
    verdicts: &mut Vec<Verdict>,
    expected_in: &dyn Fn(&str) -> Vec<Expected>,
) {
    let judged = |check: &Check| {
        check.classifier == Classifier::Freshness
            && check.group_by.iter().any(|c| c == "AccountId")
            && check.group_by.iter().any(|c| c == "Region")
    };
    let mut index = 0;
    while index < verdicts.len() {
        // The run of verdicts of one check in one workspace.
        let start = index;
        let (check_id, workspace) = (
            verdicts[start].check.clone(),
            verdicts[start].workspace.clone(),
        );
        while index < verdicts.len()
            && verdicts[index].check == check_id
            && verdicts[index].workspace == workspace
        {
            index += 1;
        }
        let Some(check) = checks
            .iter()
            .find(|c| c.id == check_id)
            .filter(|c| judged(c))
        else {
            continue;
        };
        // A query that failed (an ungrouped error), or a partial result, may lack the very
        // groups expected: their absence proves nothing. A row that could not be judged (a
        // grouped error) is still a group the query returned, and says nothing of the others.
        // A missing or empty table (an ungrouped verdict that did not fail to evaluate) proves
        // every expected group absent, and each is reported, so that a table judged quiet as a
        // whole still fails for the groups the user counts on.
        if verdicts[start..index]
            .iter()
            .any(|v| v.partial || v.status == Status::Error && v.group.is_none())
        {
            continue;
        }
        let present = |expected: &Expected| {
            verdicts[start..index].iter().any(|v| {
                v.group_value("AccountId") == Some(expected.account.as_str())
                    && v.group_value("Region") == Some(expected.region.as_str())
            })
        };
        let missing: Vec<Verdict> = expected_in(&workspace)
            .into_iter()
            .filter(|expected| !present(expected))
            .map(|expected| missing_verdict(check, &workspace, &expected))
            .collect();
        let added = missing.len();
        verdicts.splice(index..index, missing);
        index += added;
    }
}

fn missing_verdict(check: &Check, workspace: &str, expected: &Expected) -> Verdict {
    let lookback = check
        .threshold("lookback")
        .and_then(|v| v.as_span())
        .map_or_else(String::new, |span| {
            format!(" in the last {}", crate::duration::human(span))
        });
    let mut verdict = Verdict::new(
        check,
        workspace,
        Status::NoData,
        "expected_missing",
        format!(
            "expected account {} in {} has delivered nothing{lookback}",
            expected.account, expected.region
        ),
    );
    verdict.group = Some(vec![
        ("AccountId".to_string(), expected.account.clone()),
        ("Region".to_string(), expected.region.clone()),
    ]);
    verdict.remedy = Some(format!(
        "Check that GuardDuty is enabled in {region} for account {account} (or that its \
         administrator account exports the member's findings), that {region} has its own export \
         destination to the bucket (export settings are per region), and that the bucket \
         notification's prefix covers AWSLogs/{account}/GuardDuty/{region}/.",
        region = expected.region,
        account = expected.account
    ));
    verdict
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::parse_check;

    fn check() -> Check {
        let text = "// id: arrivals\n// version: 1.0.0\n// title: Arrivals\n// description: \
            Arrivals per group.\n// tables: AWSGuardDuty\n// group-by: AccountId, Region\n\
            // severity: high\n// classifier: freshness\n// thresholds: lookback, \
            lag_warning, lag_failure, stale_after\n// columns: Rows, LastArrival, \
            SinceLastArrival, IngestionLag\nlet lookback = 7d;\nlet lag_warning = 1h;\nlet \
            lag_failure = 6h;\nlet stale_after = 6h;\nAWSGuardDuty\n\
            | where TimeGenerated > ago(lookback)\n| summarize Rows = count(), LastArrival = \
            max(ingestion_time()), LastGenerated = max(TimeGenerated) by AccountId, Region\n\
            | extend SinceLastArrival = now() - LastArrival, IngestionLag = LastArrival - \
            LastGenerated\n";
        parse_check(Path::new("queries/arrivals.kql"), text.as_bytes().to_vec())
            .unwrap_or_else(|errors| panic!("{errors:?}"))
    }

    fn verdict(check: &Check, account: Option<&str>, status: Status, reason: &str) -> Verdict {
        let mut verdict = Verdict::new(check, "ws", status, reason, reason.to_string());
        verdict.group = account.map(|account| {
            vec![
                ("AccountId".to_string(), account.to_string()),
                ("Region".to_string(), "eu-west-1".to_string()),
            ]
        });
        verdict
    }

    fn missing_after(verdicts: &mut Vec<Verdict>) -> Vec<String> {
        let check = check();
        let expected = |_: &str| {
            ["111122223333", "444455556666"]
                .map(|account| Expected {
                    account: account.into(),
                    region: "eu-west-1".into(),
                })
                .to_vec()
        };
        add_missing(std::slice::from_ref(&check), verdicts, &expected);
        verdicts
            .iter()
            .filter(|v| v.reason == "expected_missing")
            .filter_map(|v| Some(v.group.as_ref()?[0].1.clone()))
            .collect()
    }

    #[test]
    fn a_row_that_could_not_be_judged_does_not_hide_the_groups_that_are_absent() {
        let check = check();
        let mut verdicts = vec![verdict(
            &check,
            Some("111122223333"),
            Status::Error,
            "incomplete_row",
        )];
        assert_eq!(missing_after(&mut verdicts), ["444455556666"]);
    }

    #[test]
    fn a_failed_query_or_a_partial_result_proves_no_group_absent() {
        let check = check();
        let mut failed = vec![verdict(&check, None, Status::Error, "query_failed")];
        assert!(missing_after(&mut failed).is_empty());

        let mut partial = vec![verdict(
            &check,
            Some("111122223333"),
            Status::Healthy,
            "fresh",
        )];
        partial[0].partial = true;
        assert!(missing_after(&mut partial).is_empty());

        let mut empty = vec![verdict(&check, None, Status::NoData, "never_seen")];
        assert_eq!(missing_after(&mut empty), ["111122223333", "444455556666"]);
    }
}
