//! Joining `validate` verdicts to AWS-side verdicts of the same account and region.

use serde_json::json;

use crate::catalog::Severity;
use crate::doctor::correlate::{ValidateResult, ValidateVerdict, correlate};
use crate::verdict::{Status, Verdict};

fn aws_verdict(check: &str, region: &str, status: Status, reason: &str, message: &str) -> Verdict {
    Verdict {
        check: check.into(),
        check_version: "0.1.0".into(),
        check_file: String::new(),
        severity: Severity::High,
        workspace: "111122223333".into(),
        status,
        reason: reason.into(),
        fails: status == Status::NoData,
        partial: false,
        group: Some(vec![
            ("AccountId".into(), "111122223333".into()),
            ("Region".into(), region.into()),
        ]),
        last_seen: None,
        lag_seconds: None,
        message: message.into(),
        remedy: Some(format!("fix {check}")),
        evidence: serde_json::Map::new(),
        elapsed: None,
    }
}

/// The failing key-policy verdict of eu-west-1: the key's policy does not let the role decrypt.
fn key_policy_denied_in_eu_west_1() -> Verdict {
    aws_verdict(
        "aws-key-policy-role",
        "eu-west-1",
        Status::NoData,
        "key_policy_denies_role",
        "the key policy of key X does not let role Y decrypt",
    )
}

/// The role-wide verdict of the connector role's trust policy: failing (it accepts only the
/// old session-name prefix) or healthy.
fn trust_verdict(fails: bool) -> Verdict {
    let mut trust = if fails {
        aws_verdict(
            "aws-connector-trust",
            "-",
            Status::NoData,
            "trust_session_name_pinned",
            "the trust policy accepts only the old prefix",
        )
    } else {
        aws_verdict(
            "aws-connector-trust",
            "-",
            Status::Healthy,
            "trust_ok",
            "the trust policy accepts both prefixes",
        )
    };
    trust.group = None;
    trust
}

/// The stale eu-west-1 group of `validate_result`, as if of another AWS account.
fn stale_group_of(account: &str) -> ValidateVerdict {
    let mut stale = validate_result().results[0].clone();
    stale.group = Some(
        json!({ "AccountId": account, "Region": "eu-west-1" })
            .as_object()
            .unwrap()
            .clone(),
    );
    stale
}

fn validate_result() -> ValidateResult {
    serde_json::from_value(json!({
        "workspaces": ["2b2d3c4e-0000-0000-0000-000000000000"],
        "results": [
            { "check": "guardduty-freshness", "workspace": "2b2d3c4e-0000-0000-0000-000000000000",
              "status": "no_data", "reason": "stale", "fails": true,
              "group": { "AccountId": "111122223333", "Region": "eu-west-1" },
              "last_seen": "2026-12-03T10:02:00Z", "message": "nothing has arrived since …" },
            { "check": "guardduty-freshness", "workspace": "2b2d3c4e-0000-0000-0000-000000000000",
              "status": "healthy", "reason": "fresh", "fails": false,
              "group": { "AccountId": "111122223333", "Region": "us-east-1" },
              "last_seen": "2026-12-04T07:00:00Z", "message": "fresh" },
            { "check": "guardduty-freshness", "workspace": "2b2d3c4e-0000-0000-0000-000000000000",
              "status": "lag", "reason": "lag_warning", "fails": false,
              "group": { "AccountId": "111122223333", "Region": "ap-south-1" },
              "last_seen": "2026-12-04T05:00:00Z", "message": "late" }
        ]
    }))
    .unwrap()
}

#[test]
fn a_stale_region_is_explained_by_the_aws_side_verdicts_of_that_region() {
    let verdicts = vec![
        aws_verdict(
            "aws-export-destination",
            "eu-west-1",
            Status::Healthy,
            "publishing",
            "ok",
        ),
        key_policy_denied_in_eu_west_1(),
        aws_verdict(
            "aws-key-policy-role",
            "us-east-1",
            Status::NoData,
            "key_policy_denies_role",
            "another region's key",
        ),
        aws_verdict(
            "aws-export-destination",
            "ap-south-1",
            Status::Healthy,
            "publishing",
            "ok",
        ),
    ];
    let validate = validate_result();
    assert_eq!(validate.regions(), ["ap-south-1", "eu-west-1", "us-east-1"]);
    let diagnoses = correlate(&validate, &verdicts);
    assert_eq!(diagnoses.len(), 2, "{diagnoses:#?}");

    let stale = &diagnoses[0];
    assert_eq!(stale.cause, "aws_side_cause");
    assert_eq!(
        stale.summary,
        "111122223333 eu-west-1 stale since 2026-12-03 10:02 UTC: the key policy of key X does \
         not let role Y decrypt"
    );
    assert_eq!(stale.verdicts, [1]);
    assert_eq!(
        stale.remedy,
        "[aws-key-policy-role] fix aws-key-policy-role"
    );
    assert_eq!(stale.workspace, "2b2d3c4e-0000-0000-0000-000000000000");
    assert_eq!(stale.evidence["validate_reason"], "stale");

    // The lagging region's AWS side is clear: the diagnosis says where to look instead.
    let lag = &diagnoses[1];
    assert_eq!(lag.cause, "aws_side_clear");
    assert!(
        lag.summary
            .starts_with("111122223333 ap-south-1 lag warning since 2026-12-04 05:00 UTC")
    );
    assert_eq!(lag.verdicts, [3]);
}

#[test]
fn a_role_wide_verdict_concerns_every_troubled_region() {
    let trust = trust_verdict(true);
    let diagnoses = correlate(&validate_result(), &[trust]);
    assert_eq!(diagnoses.len(), 2);
    assert!(
        diagnoses
            .iter()
            .all(|d| d.cause == "aws_side_cause" && d.verdicts == [0])
    );
}

#[test]
fn a_group_of_an_account_or_region_not_read_is_never_called_clear() {
    let mut result = validate_result();
    let other = stale_group_of("444455556666");
    result.results = vec![other, result.results[2].clone()];
    let trust = trust_verdict(false);
    let clear_elsewhere = aws_verdict(
        "aws-export-destination",
        "eu-west-1",
        Status::Healthy,
        "publishing",
        "ok",
    );
    let diagnoses = correlate(&result, &[trust, clear_elsewhere]);
    assert_eq!(diagnoses.len(), 2, "{diagnoses:#?}");

    // Another account: its side was not read, and the role-wide verdicts are not its own.
    let other = &diagnoses[0];
    assert_eq!(other.cause, "aws_side_not_checked");
    assert_eq!(
        other.summary,
        "444455556666 eu-west-1 stale since 2026-12-03 10:02 UTC: AWS account 444455556666 was \
         not read (this run read 111122223333), so nothing is known of its side"
    );
    assert!(other.remedy.contains("credentials of account 444455556666"));
    assert!(other.verdicts.is_empty());

    // The run's own account, but a region it did not read: only the role-wide verdict applies.
    let region = &diagnoses[1];
    assert_eq!(region.cause, "aws_side_not_checked");
    assert!(
        region
            .summary
            .ends_with("ap-south-1 was not read in this run, so nothing is known of its side"),
        "{}",
        region.summary
    );
    assert_eq!(region.verdicts, [0]);
}

#[test]
fn a_member_account_read_in_the_administrators_bucket_shares_the_connector_role() {
    // The run reads the administrator 111122223333, whose bucket holds the folders of member
    // 444455556666 too; the member's findings reach Sentinel through the same connector role.
    let mut result = validate_result();
    let member = stale_group_of("444455556666");
    result.results = vec![member];
    let mut trust = trust_verdict(true);
    let mut folder = aws_verdict(
        "aws-bucket-notification",
        "eu-west-1",
        Status::Healthy,
        "notification_covers_exports",
        "ok",
    );
    folder.group = Some(vec![
        ("AccountId".into(), "444455556666".into()),
        ("Region".into(), "eu-west-1".into()),
    ]);
    let diagnoses = correlate(&result, &[trust.clone(), folder.clone()]);
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    assert_eq!(diagnoses[0].cause, "aws_side_cause", "{diagnoses:#?}");
    assert_eq!(diagnoses[0].verdicts, [0]);
    assert!(
        diagnoses[0]
            .summary
            .ends_with("the trust policy accepts only the old prefix"),
        "{}",
        diagnoses[0].summary
    );

    // The administrator's regional path (its key policy, its queue) carries the member's
    // findings too; the notification of the administrator's own folder does not.
    trust.status = Status::Healthy;
    trust.fails = false;
    let key_policy = key_policy_denied_in_eu_west_1();
    let own_folder = aws_verdict(
        "aws-bucket-notification",
        "eu-west-1",
        Status::NoData,
        "folder_not_covered",
        "objects under the administrator's folder reach no queue",
    );
    let elsewhere = aws_verdict(
        "aws-queue",
        "us-east-1",
        Status::NoData,
        "queue_not_drained",
        "another region's queue",
    );
    let diagnoses = correlate(&result, &[trust, folder, key_policy, own_folder, elsewhere]);
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    assert_eq!(diagnoses[0].cause, "aws_side_cause", "{diagnoses:#?}");
    assert_eq!(diagnoses[0].verdicts, [2]);

    // An account whose folder this run never saw keeps nothing of the administrator's path.
    let stranger = stale_group_of("777788889999");
    result.results = vec![stranger];
    let key_policy = key_policy_denied_in_eu_west_1();
    let diagnoses = correlate(&result, &[key_policy]);
    assert_eq!(diagnoses[0].cause, "aws_side_not_checked", "{diagnoses:#?}");
}
