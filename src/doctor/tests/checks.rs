//! The checks on facts as the AWS reader returns them: one healthy setup, and the faults the
//! local AWS cannot produce (a failing destination, a key pending deletion or in another
//! account, a GuardDuty member account, a FIFO queue, a queue that does not drain, a fan-out).

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::arn::RoleArn;
use crate::doctor::checks::{Settings, judge};
use crate::doctor::facts::*;
use crate::verdict::{Status, Verdict};

const ACCOUNT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const BUCKET: &str = "guardduty-findings-111122223333";
const QUEUE: &str = "arn:aws:sqs:eu-west-1:111122223333:guardduty-findings-queue";
const PROVIDER: &str =
    "arn:aws:iam::111122223333:oidc-provider/sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/";

fn fixture(name: &str) -> Value {
    serde_json::from_str(match name {
        "key" => include_str!("fixtures/key-policy-template.json"),
        _ => include_str!("fixtures/identity-policy-connector.json"),
    })
    .unwrap()
}

fn trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {"sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/:aud":
                             "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"},
            "StringLike": {"sts:RoleSessionName": ["MicrosoftSentinel_*", "MicrosoftDefenderForClouds_*"]}
        }
    }]})
}

fn healthy() -> Facts {
    let key_metadata = KeyMetadata {
        arn: KEY.into(),
        account: ACCOUNT.into(),
        region: "eu-west-1".into(),
        state: "Enabled".into(),
        spec: "SYMMETRIC_DEFAULT".into(),
        usage: "ENCRYPT_DECRYPT".into(),
        manager: "CUSTOMER".into(),
    };
    let queue_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": format!("arn:aws:s3:::{BUCKET}")}}
    }]});
    Facts {
        caller: Caller {
            account: ACCOUNT.into(),
            arn: "arn:aws:sts::111122223333:assumed-role/SecurityAudit/me".into(),
        },
        role: Some(RoleFacts {
            arn: RoleArn::parse(ROLE).unwrap(),
            details: Ok(RoleDetails {
                id: "AROAEXAMPLEROLEID0001".into(),
                trust_policy: trust(),
                identity: vec![(
                    "inline policy `Read` of the role".into(),
                    fixture("identity"),
                )],
                unreadable: Vec::new(),
                boundary: None,
                last_used: None,
                providers: vec![(
                    PROVIDER.into(),
                    Ok(OidcProvider {
                        url: "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/".into(),
                        client_ids: vec!["api://1462b192-27f7-4cb9-8523-0f4ecb54b47e".into()],
                    }),
                )],
            }),
        }),
        regions: vec![RegionFacts {
            region: "eu-west-1".into(),
            detector: Ok(Some(Detector {
                id: "12abc34d567e8fa901bc2d34eexample".into(),
                status: "ENABLED".into(),
                frequency: Some("FIFTEEN_MINUTES".into()),
            })),
            administrator: None,
            destination: Some(Ok(Some(Destination {
                id: "dest-1".into(),
                status: "PUBLISHING".into(),
                failing_since: None,
                destination_arn: format!("arn:aws:s3:::{BUCKET}"),
                kms_key_arn: Some(KEY.into()),
                expected_bucket_owner: None,
            }))),
            key: Some(KeyFacts {
                named: KEY.into(),
                metadata: Ok(key_metadata),
                policy: Some(Ok(fixture("key"))),
                grants: Some(Ok(Vec::new())),
            }),
            bucket: Some(BucketFacts {
                name: BUCKET.into(),
                prefix: String::new(),
                region: Ok("eu-west-1".into()),
                owned_by_caller: Some(true),
                encryption: Ok(Some(BucketEncryption {
                    algorithm: "aws:kms".into(),
                    key: Some(KEY.into()),
                    bucket_key: false,
                })),
                notifications: Ok(Notifications {
                    queues: vec![QueueNotification {
                        id: Some("findings".into()),
                        queue_arn: QUEUE.into(),
                        events: vec!["s3:ObjectCreated:*".into()],
                        prefix: "AWSLogs/".into(),
                        suffix: ".gz".into(),
                    }],
                    topics: Vec::new(),
                    eventbridge: false,
                }),
                folders: Ok(vec![(ACCOUNT.into(), "eu-west-1".into())]),
                newest_object: Some(Ok(Some(ExportObject {
                    key: "AWSLogs/111122223333/GuardDuty/eu-west-1/2026/12/03/a.jsonl.gz".into(),
                    last_modified: Some(Utc.with_ymd_and_hms(2026, 12, 3, 10, 2, 0).unwrap()),
                    kms_key: Some(KEY.into()),
                    bucket_key: false,
                }))),
            }),
            queue: Some(QueueFacts {
                arn: QUEUE.into(),
                attributes: Ok(QueueAttributes {
                    policy: Some(queue_policy),
                    visible: 0,
                    in_flight: 0,
                    kms_key: None,
                    fifo: false,
                }),
                key: None,
            }),
            simulation: None,
        }],
    }
}

fn troubles(facts: &Facts) -> Vec<(String, Status, String)> {
    judge(facts, &Settings::default())
        .into_iter()
        .filter(|v| v.status != Status::Healthy)
        .map(|v| (v.check, v.status, v.reason))
        .collect()
}

fn only(facts: &Facts, check: &str) -> Verdict {
    let verdicts: Vec<Verdict> = judge(facts, &Settings::default())
        .into_iter()
        .filter(|v| v.check == check && v.status != Status::Healthy)
        .collect();
    assert_eq!(verdicts.len(), 1, "{verdicts:#?}");
    verdicts.into_iter().next().unwrap()
}

fn region(facts: &mut Facts) -> &mut RegionFacts {
    &mut facts.regions[0]
}

#[test]
fn the_healthy_setup_has_no_trouble_and_dates_the_newest_export() {
    let facts = healthy();
    assert_eq!(troubles(&facts), []);
    let verdicts = judge(&facts, &Settings::default());
    assert_eq!(verdicts.len(), 11, "{verdicts:#?}");
    let object = verdicts
        .iter()
        .find(|v| v.check == "aws-export-object")
        .unwrap();
    assert_eq!(
        object.last_seen,
        Some(Utc.with_ymd_and_hms(2026, 12, 3, 10, 2, 0).unwrap())
    );
}

#[test]
fn a_failing_destination_says_since_when_and_the_key_is_still_checked() {
    let mut facts = healthy();
    if let Some(Ok(Some(destination))) = &mut region(&mut facts).destination {
        destination.status = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY".into();
        destination.failing_since = Some(Utc.with_ymd_and_hms(2026, 12, 3, 10, 2, 0).unwrap());
    }
    let verdict = only(&facts, "aws-export-destination");
    assert_eq!(verdict.reason, "destination_not_publishing");
    assert!(
        verdict.message.contains("since 2026-12-03 10:02 UTC"),
        "{}",
        verdict.message
    );
    assert_eq!(troubles(&facts).len(), 1);
    assert!(
        judge(&facts, &Settings::default())
            .iter()
            .any(|v| v.check == "aws-key-policy-role")
    );
}

#[test]
fn a_key_pending_deletion_fails_with_the_commands_that_rescue_it() {
    let mut facts = healthy();
    if let Some(KeyFacts {
        metadata: Ok(m), ..
    }) = &mut region(&mut facts).key
    {
        m.state = "PendingDeletion".into();
    }
    let verdict = only(&facts, "aws-export-key");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::NoData, "key_pending_deletion")
    );
    assert!(
        verdict
            .remedy
            .unwrap()
            .contains("aws kms cancel-key-deletion --region eu-west-1")
    );
}

#[test]
fn a_key_in_another_account_is_not_judged_but_named() {
    let mut facts = healthy();
    if let Some(key) = &mut region(&mut facts).key {
        if let Ok(m) = &mut key.metadata {
            m.account = "444455556666".into();
        }
        key.policy = None;
        key.grants = None;
    }
    let verdict = only(&facts, "aws-key-policy-role");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "key_in_other_account")
    );
    assert!(
        verdict
            .remedy
            .unwrap()
            .contains("profile of account 444455556666")
    );
    assert_eq!(
        only(&facts, "aws-key-policy-guardduty").reason,
        "key_in_other_account"
    );
}

#[test]
fn a_member_account_points_at_its_administrator() {
    let mut facts = healthy();
    let region = region(&mut facts);
    region.destination = Some(Ok(None));
    region.administrator = Some("999988887777".into());
    let verdict = only(&facts, "aws-export-destination");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "exported_by_administrator")
    );
    assert!(verdict.remedy.unwrap().contains("account 999988887777"));
}

#[test]
fn a_fifo_queue_and_a_queue_that_does_not_drain() {
    let mut facts = healthy();
    if let Some(QueueFacts {
        attributes: Ok(a), ..
    }) = &mut region(&mut facts).queue
    {
        a.visible = 40;
        a.in_flight = 12;
    }
    let verdict = only(&facts, "aws-queue-depth");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Lag, "messages_not_deleted")
    );
    assert!(!verdict.fails);

    if let Some(QueueFacts {
        attributes: Ok(a), ..
    }) = &mut region(&mut facts).queue
    {
        a.fifo = true;
    }
    assert_eq!(only(&facts, "aws-queue").reason, "queue_is_fifo");
}

#[test]
fn a_notification_through_sns_is_said_not_followed() {
    let mut facts = healthy();
    if let Some(BucketFacts {
        notifications: Ok(n),
        ..
    }) = &mut region(&mut facts).bucket
    {
        n.queues.clear();
        n.topics
            .push("arn:aws:sns:eu-west-1:111122223333:findings-fanout".into());
    }
    let verdict = only(&facts, "aws-bucket-notification");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "notification_not_followed")
    );
    assert!(verdict.message.contains("findings-fanout"));
}

#[test]
fn an_unreadable_attached_policy_turns_a_denial_into_cannot_determine() {
    let mut facts = healthy();
    if let Some(KeyFacts {
        policy: Some(Ok(policy)),
        ..
    }) = &mut region(&mut facts).key
    {
        policy["Statement"].as_array_mut().unwrap().remove(2);
    }
    if let Some(RoleFacts {
        details: Ok(details),
        ..
    }) = &mut facts.role
    {
        details.identity.clear();
        details.unreadable.push(Failure {
            operation: "iam:GetPolicyVersion".into(),
            kind: FailureKind::AccessDenied,
            message: "AccessDenied: not authorized".into(),
        });
    }
    let verdict = only(&facts, "aws-key-policy-role");
    assert_eq!(
        (verdict.status, verdict.reason.as_str()),
        (Status::Error, "cannot_determine")
    );
    assert!(
        verdict.message.contains("iam:GetPolicyVersion"),
        "{}",
        verdict.message
    );
}

#[test]
fn an_unreadable_policy_leaves_an_allow_standing_only_on_the_simulators_word() {
    use crate::doctor::evaluate::Simulated;
    let mut facts = healthy();
    if let Some(RoleFacts {
        details: Ok(details),
        ..
    }) = &mut facts.role
    {
        details.unreadable.push(Failure {
            operation: "iam:GetPolicyVersion".into(),
            kind: FailureKind::AccessDenied,
            message: "AccessDenied: not authorized".into(),
        });
    }
    // It might hold an explicit deny.
    let verdict = only(&facts, "aws-key-policy-role");
    assert_eq!(verdict.reason, "cannot_determine");
    assert!(verdict.evidence.contains_key("identity_policies_unread"));

    let answers = ["kms:Decrypt", "kms:DescribeKey"]
        .into_iter()
        .map(|action| {
            (
                (action.to_string(), KEY.to_string()),
                Simulated {
                    decision: "allowed".into(),
                    allowed_by_organizations: Some(true),
                    missing_context: Vec::new(),
                    matched: Vec::new(),
                },
            )
        })
        .collect();
    region(&mut facts).simulation = Some(Ok(answers));
    let verdicts = judge(&facts, &Settings::default());
    let key_role = verdicts
        .iter()
        .find(|v| v.check == "aws-key-policy-role")
        .unwrap();
    assert_eq!(key_role.status, Status::Healthy, "{key_role:#?}");
}
