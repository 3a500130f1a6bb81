//! The policy documents and statements a remedy consists of, built as JSON values with a fixed
//! key order so the same input always prints the same text.

use serde_json::{Value, json};

use crate::arn::{KmsKeyArn, Partition, RoleArn};

use super::{DECRYPT_ACTIONS, ExportKey};

/// The Sid of the identity policy's one statement (IAM allows only letters and digits).
pub const IDENTITY_SID: &str = "DecryptGuardDutyExport";

/// The Sid of the statement added to a key policy; a clash gets a number appended.
pub const KEY_STATEMENT_SID: &str = "AllowSentinelConnectorDecrypt";

/// The role's IAM policy: decrypt and describe the given keys, in ARN order, each once.
pub fn identity_policy(keys: &[&KmsKeyArn]) -> Value {
    let mut resources: Vec<&str> = keys.iter().map(|key| key.as_str()).collect();
    resources.sort_unstable();
    resources.dedup();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": IDENTITY_SID,
            "Effect": "Allow",
            "Action": DECRYPT_ACTIONS,
            "Resource": resources,
        }],
    })
}

/// The key policy statement that lets the role decrypt. In a key policy `Resource` is `*`: it
/// means the key the policy is attached to.
pub fn role_statement(role: &RoleArn, sid: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": role.as_str() },
        "Action": DECRYPT_ACTIONS,
        "Resource": "*",
    })
}

/// The whole policy for a customer-managed key that replaces an AWS-managed one: the account's
/// administrators (without them `create-key` refuses a policy that locks everyone out),
/// GuardDuty's `kms:GenerateDataKey` limited to the exporting account's detectors in the key's
/// region, and the role's decrypt.
pub fn new_key_policy(key: &ExportKey, role: &RoleArn) -> Value {
    let partition = key.partition();
    let account = key.account();
    let region = key.region();
    json!({
        "Version": "2012-10-17",
        "Id": "guardduty-findings-export",
        "Statement": [
            {
                "Sid": "EnableIamPolicies",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
                "Action": "kms:*",
                "Resource": "*",
            },
            guardduty_statement(partition, account, region),
            role_statement(role, KEY_STATEMENT_SID),
        ],
    })
}

/// The key policy statement that lets GuardDuty encrypt exported findings: `kms:GenerateDataKey`
/// for the account's detectors in the region only.
pub fn guardduty_statement(partition: Partition, account: &str, region: &str) -> Value {
    json!({
        "Sid": "AllowGuardDutyExport",
        "Effect": "Allow",
        "Principal": { "Service": guardduty_principal(partition, region) },
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {
            "StringEquals": { "aws:SourceAccount": account },
            "StringLike": {
                "aws:SourceArn": format!("arn:{partition}:guardduty:{region}:{account}:detector/*"),
            },
        },
    })
}

/// The queue policy statement that lets S3 send the bucket's event notifications to the queue;
/// `bucket_owner` adds the `aws:SourceAccount` condition where the owner is known.
pub fn queue_statement_for_s3(
    partition: Partition,
    queue_arn: &str,
    bucket: &str,
    bucket_owner: Option<&str>,
) -> Value {
    let mut condition = json!({
        "ArnLike": { "aws:SourceArn": format!("arn:{partition}:s3:::{bucket}") },
    });
    if let Some(owner) = bucket_owner {
        condition["StringEquals"] = json!({ "aws:SourceAccount": owner });
    }
    json!({
        "Sid": "AllowS3BucketNotifications",
        "Effect": "Allow",
        "Principal": { "Service": "s3.amazonaws.com" },
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": condition,
    })
}

/// What the connector does with the queue.
pub const QUEUE_ACTIONS: [&str; 4] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
];

/// The queue policy statement that lets the role poll and delete.
pub fn queue_statement_for_role(role: &RoleArn, queue_arn: &str) -> Value {
    json!({
        "Sid": "AllowSentinelConnectorPoll",
        "Effect": "Allow",
        "Principal": { "AWS": role.as_str() },
        "Action": QUEUE_ACTIONS,
        "Resource": queue_arn,
    })
}

/// The identity policy statement that lets the role read the export objects.
pub fn read_export_statement(partition: Partition, bucket: &str, prefix: &str) -> Value {
    json!({
        "Sid": "ReadGuardDutyExport",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": format!("arn:{partition}:s3:::{bucket}/{prefix}*"),
    })
}

/// The identity policy statement that lets the role poll the queue.
pub fn poll_queue_statement(queue_arn: &str) -> Value {
    json!({
        "Sid": "PollGuardDutyNotifications",
        "Effect": "Allow",
        "Action": QUEUE_ACTIONS,
        "Resource": queue_arn,
    })
}

/// The key policy statement a queue's customer-managed key needs for S3 to deliver to it.
pub fn s3_queue_key_statement() -> Value {
    json!({
        "Sid": "AllowS3ToEncryptQueueMessages",
        "Effect": "Allow",
        "Principal": { "Service": "s3.amazonaws.com" },
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*",
    })
}

/// The session names the connector uses: Microsoft sends `MicrosoftDefenderForClouds_` since
/// 2025-03-27, and older setups `MicrosoftSentinel_`; a trust policy must accept both.
pub const SESSION_NAME_PATTERNS: [&str; 2] =
    ["MicrosoftSentinel_*", "MicrosoftDefenderForClouds_*"];

/// Regions every account has without opting in. GuardDuty in any other region of the `aws`
/// partition (they all need opting in, new ones included) uses a regional service principal.
const DEFAULT_REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// GuardDuty's service principal in a region: `guardduty.amazonaws.com`, or
/// `guardduty.REGION.amazonaws.com` in a region that must be opted into.
pub fn guardduty_principal(partition: Partition, region: &str) -> String {
    if partition == Partition::Aws && !DEFAULT_REGIONS.contains(&region) {
        format!("guardduty.{region}.amazonaws.com")
    } else {
        "guardduty.amazonaws.com".to_string()
    }
}
