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
            {
                "Sid": "AllowGuardDutyExport",
                "Effect": "Allow",
                "Principal": { "Service": guardduty_principal(partition, region) },
                "Action": "kms:GenerateDataKey",
                "Resource": "*",
                "Condition": {
                    "StringEquals": { "aws:SourceAccount": account },
                    "StringLike": {
                        "aws:SourceArn": format!(
                            "arn:{partition}:guardduty:{region}:{account}:detector/*"
                        ),
                    },
                },
            },
            role_statement(role, KEY_STATEMENT_SID),
        ],
    })
}

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
