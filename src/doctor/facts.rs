//! What the doctor read from AWS, before any judgement: one [`Facts`] per run, with the role
//! (global) and one [`RegionFacts`] per region. Every read can fail on its own; a failure is kept
//! as a [`Failure`] beside the facts that were read, so a check can say exactly what it could not
//! see and why.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::arn::RoleArn;

use super::evaluate::{Grant, Simulated};

/// A read that may have failed.
pub type Fetched<T> = Result<T, Failure>;

/// A call that failed, by operation, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `kms:GetKeyPolicy`, as the IAM action is named.
    pub operation: String,
    pub kind: FailureKind,
    /// The service's message, or the error as the SDK describes it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The doctor's own identity lacks the permission (or a resource policy keeps it out).
    AccessDenied,
    /// The resource does not exist (or is not visible from this account).
    NotFound,
    /// Anything else: network, throttling, a service error, an answer that cannot be read.
    Other,
}

impl Failure {
    /// The verdict reason for a check that could not read what it needs.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            FailureKind::AccessDenied => "aws_access_denied",
            FailureKind::NotFound => "aws_not_found",
            FailureKind::Other => "aws_error",
        }
    }

    pub fn describe(&self) -> String {
        format!("`{}` failed: {}", self.operation, self.message)
    }
}

/// Who the doctor runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Clone)]
pub struct Facts {
    pub caller: Caller,
    /// The connector's role, when `--role-arn` was given.
    pub role: Option<RoleFacts>,
    pub regions: Vec<RegionFacts>,
}

#[derive(Debug, Clone)]
pub struct RoleFacts {
    pub arn: RoleArn,
    pub details: Fetched<RoleDetails>,
}

#[derive(Debug, Clone)]
pub struct RoleDetails {
    /// The role's unique ID, `AROA…`.
    pub id: String,
    pub trust_policy: Value,
    /// Inline and attached policies, as `(source, document)`.
    pub identity: Vec<(String, Value)>,
    /// Policies attached to the role that could not be read: without them the identity side is
    /// incomplete.
    pub unreadable: Vec<Failure>,
    pub boundary: Option<(String, Value)>,
    pub last_used: Option<DateTime<Utc>>,
    /// The OIDC providers the trust policy names, as read from IAM.
    pub providers: Vec<(String, Fetched<OidcProvider>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// Without scheme, as IAM returns it: `sts.windows.net/TENANT/`.
    pub url: String,
    pub client_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RegionFacts {
    pub region: String,
    /// `Ok(None)`: GuardDuty has no detector in this region.
    pub detector: Fetched<Option<Detector>>,
    /// The GuardDuty administrator account, when this account is a member without a
    /// destination of its own.
    pub administrator: Option<String>,
    /// `None` when there is no detector to ask; `Ok(None)`: no publishing destination.
    pub destination: Option<Fetched<Option<Destination>>>,
    pub key: Option<KeyFacts>,
    pub bucket: Option<BucketFacts>,
    pub queue: Option<QueueFacts>,
    /// What the IAM policy simulator said about the role, by `(action, resource)`; `None` when
    /// there was no role or nothing to simulate.
    pub simulation: Option<Fetched<BTreeMap<(String, String), Simulated>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detector {
    pub id: String,
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// `FIFTEEN_MINUTES`, `ONE_HOUR` or `SIX_HOURS`.
    pub frequency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub id: String,
    /// `PUBLISHING`, `PENDING_VERIFICATION`, `UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY`,
    /// `STOPPED`, or a value this version does not know.
    pub status: String,
    pub failing_since: Option<DateTime<Utc>>,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/prefix/`.
    pub destination_arn: String,
    pub kms_key_arn: Option<String>,
    pub expected_bucket_owner: Option<String>,
}

impl Destination {
    /// The bucket and the key prefix (empty, or ending in `/`) GuardDuty writes under.
    pub fn bucket_and_prefix(&self) -> Option<(String, String)> {
        let rest = self.destination_arn.splitn(6, ':').nth(5)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        (!bucket.is_empty()).then(|| (bucket.to_string(), prefix))
    }
}

#[derive(Debug, Clone)]
pub struct KeyFacts {
    /// The key as the destination (or queue) names it.
    pub named: String,
    pub metadata: Fetched<KeyMetadata>,
    /// `None` when it was not read (the key is in another account: KMS does not serve a key
    /// policy across accounts).
    pub policy: Option<Fetched<Value>>,
    pub grants: Option<Fetched<Vec<Grant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    pub arn: String,
    pub account: String,
    pub region: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    /// `SYMMETRIC_DEFAULT`, …
    pub spec: String,
    /// `ENCRYPT_DECRYPT`, …; empty when the answer lacks it (a `SYMMETRIC_DEFAULT` key is
    /// always `ENCRYPT_DECRYPT`).
    pub usage: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: String,
}

#[derive(Debug, Clone)]
pub struct BucketFacts {
    pub name: String,
    /// The destination's prefix (empty, or ending in `/`).
    pub prefix: String,
    pub region: Fetched<String>,
    /// `Some(true)` when S3 confirmed the caller's account owns the bucket, `Some(false)` when
    /// it said another account does, `None` when unknown.
    pub owned_by_caller: Option<bool>,
    pub encryption: Fetched<Option<BucketEncryption>>,
    pub notifications: Fetched<Notifications>,
    /// The account and region folders under `PREFIX/AWSLogs/`, as listed.
    pub folders: Fetched<Vec<(String, String)>>,
    /// The newest export object of the region, when `--no-object-probe` was not given.
    pub newest_object: Option<Fetched<Option<ExportObject>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEncryption {
    /// `aws:kms`, `aws:kms:dsse` or `AES256`.
    pub algorithm: String,
    pub key: Option<String>,
    pub bucket_key: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    pub queues: Vec<QueueNotification>,
    /// Notifications to SNS topics (an S3 → SNS → SQS fan-out), by topic ARN.
    pub topics: Vec<String>,
    pub eventbridge: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNotification {
    pub id: Option<String>,
    pub queue_arn: String,
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportObject {
    pub key: String,
    pub last_modified: Option<DateTime<Utc>>,
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

#[derive(Debug, Clone)]
pub struct QueueFacts {
    pub arn: String,
    pub attributes: Fetched<QueueAttributes>,
    /// The customer-managed key the queue is encrypted with, when it has one.
    pub key: Option<KeyFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueAttributes {
    pub policy: Option<Value>,
    pub visible: u64,
    pub in_flight: u64,
    /// `KmsMasterKeyId`: a key ID, ARN or alias.
    pub kms_key: Option<String>,
    pub fifo: bool,
}
