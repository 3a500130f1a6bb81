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
        // A query that failed, or a partial result, may lack the very groups expected: their
        // absence proves nothing. A missing or empty table (an ungrouped verdict that did not
        // fail to evaluate) proves every expected group absent, and each is reported, so that
        // a table judged quiet as a whole still fails for the groups the user counts on.
        if verdicts[start..index]
            .iter()
            .any(|v| v.partial || v.status == Status::Error)
        {
            continue;
        }
        let present = |expected: &Expected| {
            verdicts[start..index].iter().any(|v| {
                let value = |column: &str| {
                    v.group
                        .as_ref()
                        .and_then(|g| g.iter().find(|(n, _)| n == column))
                        .map(|(_, value)| value.as_str())
                };
                value("AccountId") == Some(expected.account.as_str())
                    && value("Region") == Some(expected.region.as_str())
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
