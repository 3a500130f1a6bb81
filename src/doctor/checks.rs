//! From facts to verdicts: each AWS-side check turns what was read into verdicts in `validate`'s
//! language (status, reason, message, remedy, evidence), grouped by AWS account and region.
//!
//! A status says what a finding means for the data in Sentinel: `no_data` stops findings from
//! arriving (failing), `lag` delays or may lose some (a warning), `error` could not be evaluated
//! (including "cannot determine" from the policy evaluator), `healthy` is fine. A check whose
//! prerequisite failed (no destination, so no key to look at) adds no verdict of its own; the
//! prerequisite's message names what was not checked.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::arn::{KmsKeyArn, Partition, RoleArn};
use crate::catalog::Severity;
use crate::policy::statements::{
    QUEUE_ACTIONS, SESSION_NAME_PATTERNS, guardduty_principal, guardduty_statement,
    poll_queue_statement, queue_statement_for_role, queue_statement_for_s3, read_export_statement,
    s3_queue_key_statement,
};
use crate::policy::{CurrentKeyPolicy, ExportKey, Remedy};
use crate::verdict::{Status, Verdict};

use super::evaluate::{
    Context, Decision, Evaluation, PolicyKind, Principal, RolePolicies, Simulated,
    direct_call_context, principal_on_policy, role_on_key, role_on_resource, s3_decrypt_context,
};
use super::facts::{
    BucketFacts, Destination, Facts, Failure, KeyFacts, QueueFacts, RegionFacts, RoleDetails,
};

/// One AWS-side check: its id, what it looks at, and how much a failure matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoctorCheck {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
}

macro_rules! check {
    ($name:ident, $id:literal, $severity:ident, $title:literal) => {
        pub const $name: DoctorCheck = DoctorCheck {
            id: $id,
            title: $title,
            severity: Severity::$severity,
        };
    };
}

check!(
    EXPORT,
    "aws-export-destination",
    High,
    "GuardDuty's detector publishes findings to S3"
);
check!(
    KEY,
    "aws-export-key",
    High,
    "The export key is enabled, symmetric, customer-managed and in the bucket's region"
);
check!(
    KEY_GUARDDUTY,
    "aws-key-policy-guardduty",
    High,
    "The key policy lets GuardDuty generate data keys"
);
check!(
    KEY_ROLE,
    "aws-key-policy-role",
    High,
    "The connector's role may kms:Decrypt and kms:DescribeKey the export key"
);
check!(
    TRUST,
    "aws-connector-trust",
    High,
    "The role trusts Microsoft's OIDC issuer, audience and both session prefixes"
);
check!(
    PERMISSIONS,
    "aws-connector-permissions",
    High,
    "The role may read the export objects and poll the queue"
);
check!(
    SIMULATION,
    "aws-policy-simulation",
    Medium,
    "IAM's policy simulator (SCPs, boundary) agrees for the role"
);
check!(
    ENCRYPTION,
    "aws-bucket-encryption",
    Medium,
    "The bucket's default encryption uses the export key"
);
check!(
    NOTIFICATION,
    "aws-bucket-notification",
    High,
    "The bucket notifies the queue for every account and region folder"
);
check!(
    QUEUE,
    "aws-queue",
    High,
    "The queue accepts S3's notifications and can be read by the role"
);
check!(QUEUE_DEPTH, "aws-queue-depth", Medium, "The queue drains");
check!(
    OBJECT,
    "aws-export-object",
    Medium,
    "The newest export object is encrypted with the destination's key"
);

/// Every check, in the order verdicts are reported.
pub const ALL: [DoctorCheck; 12] = [
    EXPORT,
    KEY,
    KEY_GUARDDUTY,
    KEY_ROLE,
    TRUST,
    PERMISSIONS,
    SIMULATION,
    ENCRYPTION,
    NOTIFICATION,
    QUEUE,
    QUEUE_DEPTH,
    OBJECT,
];

/// The audience Microsoft's token carries for Sentinel (commercial cloud, then Azure Government).
pub const AUDIENCES: [&str; 2] = [
    "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e",
    "api://d4230588-5f84-4281-a9c7-2c15194b28f7",
];

/// Microsoft's Entra tenants that issue the connector's token (commercial, Azure Government).
pub const ISSUER_TENANTS: [&str; 2] = [
    "33e01921-4d64-4f8c-a055-5bdaffd5e33d",
    "cab8a31a-1906-4287-a0d8-4eef66b95f6e",
];

/// Messages piling up beyond this many, with none in flight, mean nobody polls.
const PILED_UP: u64 = 100;

/// Inputs besides the facts.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Workspace IDs, for the session names the trust policy must accept.
    pub workspaces: Vec<String>,
    /// Today's date, for the example object key an encryption context is evaluated with.
    pub today: Option<chrono::NaiveDate>,
}

/// Builds verdicts of one check.
struct Out<'a> {
    verdicts: &'a mut Vec<Verdict>,
    workspace: String,
}

impl Out<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        check: DoctorCheck,
        group: Option<(&str, &str)>,
        status: Status,
        reason: &str,
        message: String,
        remedy: Option<String>,
        evidence: Map<String, Value>,
    ) {
        let fails = match status {
            Status::NoData => true,
            Status::Lag | Status::Healthy | Status::Error => false,
        };
        self.verdicts.push(Verdict {
            check: check.id.to_string(),
            check_version: env!("CARGO_PKG_VERSION").to_string(),
            check_file: String::new(),
            severity: check.severity,
            workspace: self.workspace.clone(),
            status,
            reason: reason.to_string(),
            fails,
            partial: false,
            group: group.map(|(account, region)| {
                vec![
                    ("AccountId".to_string(), account.to_string()),
                    ("Region".to_string(), region.to_string()),
                ]
            }),
            last_seen: None,
            lag_seconds: None,
            message,
            remedy,
            evidence,
            elapsed: None,
        });
    }

    fn failed(&mut self, check: DoctorCheck, group: Option<(&str, &str)>, failure: &Failure) {
        let remedy = match failure.reason() {
            "aws_access_denied" => Some(format!(
                "Let the doctor's identity call `{}` (the README lists the least-privilege policy \
                 for running the doctor); for a resource in another account, run the doctor \
                 with a profile of that account.",
                failure.operation
            )),
            _ => None,
        };
        self.push(
            check,
            group,
            Status::Error,
            failure.reason(),
            format!("could not evaluate: {}", failure.describe()),
            remedy,
            evidence([("operation", json!(failure.operation))]),
        );
    }
}

fn evidence<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values serialise")
}

/// Every verdict the facts support.
pub fn judge(facts: &Facts, settings: &Settings) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    let mut out = Out {
        verdicts: &mut verdicts,
        workspace: facts.caller.account.clone(),
    };
    let role = facts.role.as_ref();
    if let Some(role) = role {
        match &role.details {
            Ok(details) => trust(&mut out, &role.arn, details, settings),
            Err(failure) => out.failed(TRUST, None, failure),
        }
    }
    for region in &facts.regions {
        judge_region(&mut out, facts, region, settings);
    }
    let order = |v: &Verdict| {
        ALL.iter()
            .position(|c| c.id == v.check)
            .unwrap_or(ALL.len())
    };
    verdicts.sort_by_key(|v| {
        (
            v.group.is_some(),
            v.group
                .as_ref()
                .map(|g| (g[1].1.clone(), g[0].1.clone()))
                .unwrap_or_default(),
            order(v),
        )
    });
    verdicts
}

fn judge_region(out: &mut Out<'_>, facts: &Facts, facts_region: &RegionFacts, settings: &Settings) {
    let region = facts_region.region.as_str();
    let account = facts.caller.account.as_str();
    let group = Some((account, region));
    let Some(destination) = export(out, facts_region, account) else {
        return;
    };
    let role = facts.role.as_ref().and_then(|role| match &role.details {
        Ok(details) => Some((&role.arn, details)),
        Err(_) => None,
    });
    match &facts.role {
        None => out.push(
            KEY_ROLE,
            group,
            Status::Error,
            "role_not_given",
            "not checked: give the connector's role with --role-arn to check what it may \
             decrypt, read and poll"
                .into(),
            None,
            Map::new(),
        ),
        Some(role) => {
            if let Err(failure) = &role.details {
                out.push(
                    KEY_ROLE,
                    group,
                    Status::Error,
                    failure.reason(),
                    format!(
                        "not checked: the role {} could not be read ({}), so neither what it \
                         may decrypt nor what it may read and poll",
                        role.arn,
                        failure.describe()
                    ),
                    None,
                    Map::new(),
                );
            }
        }
    }

    let bucket = facts_region.bucket.as_ref();
    let bucket_region = bucket
        .and_then(|b| b.region.as_ref().ok())
        .map(String::as_str);
    if let Some(key) = &facts_region.key {
        export_key(out, group, key, bucket_region, role.map(|(arn, _)| arn));
        key_policy_guardduty(out, group, key, account, facts_region);
        if let Some((arn, details)) = role {
            let context = decrypt_context(arn, bucket, bucket_region.unwrap_or(region), settings);
            key_policy_role(out, group, key, arn, details, facts_region, context);
        }
    } else if destination.kms_key_arn.is_none() {
        out.push(
            KEY,
            group,
            Status::NoData,
            "no_export_key",
            "the publishing destination names no KMS key; GuardDuty requires one to export".into(),
            Some(
                "Set the destination's key: `aws guardduty update-publishing-destination \
                 --destination-properties DestinationArn=…,KmsKeyArn=…`."
                    .into(),
            ),
            Map::new(),
        );
    }
    if let Some(bucket) = bucket {
        if let Some((arn, details)) = role {
            permissions(out, group, arn, details, bucket, facts_region);
        }
        encryption(out, group, bucket, &destination);
        notification(out, account, region, bucket, facts_region.queue.as_ref());
        if let Some(queue) = &facts_region.queue {
            queue_checks(out, group, queue, bucket, role, facts_region);
        }
        export_object(out, group, bucket, &destination);
    }
    if role.is_some() {
        simulation(out, group, facts_region);
    }
}

/// Check 1: the detector and its publishing destination. Returns the destination when there is
/// one to follow.
fn export(out: &mut Out<'_>, facts: &RegionFacts, account: &str) -> Option<Destination> {
    let region = facts.region.as_str();
    let group = Some((account, region));
    let detector = match &facts.detector {
        Err(failure) => {
            out.failed(EXPORT, group, failure);
            return None;
        }
        Ok(None) => {
            out.push(
                EXPORT,
                group,
                Status::NoData,
                "no_detector",
                format!(
                    "GuardDuty has no detector in {region}, so nothing is exported there; the \
                     key, bucket and queue were not checked"
                ),
                Some(format!(
                    "Enable GuardDuty in {region}: `aws guardduty create-detector --region \
                     {region} --enable --finding-publishing-frequency FIFTEEN_MINUTES`, then add \
                     a publishing destination."
                )),
                Map::new(),
            );
            return None;
        }
        Ok(Some(detector)) => detector,
    };
    let mut base = evidence([
        ("DetectorId", json!(detector.id)),
        ("DetectorStatus", json!(detector.status)),
        ("FindingPublishingFrequency", json!(detector.frequency)),
    ]);
    if detector.status != "ENABLED" {
        out.push(
            EXPORT,
            group,
            Status::NoData,
            "detector_disabled",
            format!(
                "the GuardDuty detector {} in {region} is {}: it finds and exports nothing",
                detector.id, detector.status
            ),
            Some(format!(
                "`aws guardduty update-detector --region {region} --detector-id {} --enable`",
                detector.id
            )),
            base,
        );
        return None;
    }
    let destination = match &facts.destination {
        None => return None,
        Some(Err(failure)) => {
            out.failed(EXPORT, group, failure);
            return None;
        }
        Some(Ok(None)) if facts.administrator.is_some() => {
            let admin = facts.administrator.as_deref().unwrap_or_default();
            out.push(
                EXPORT,
                group,
                Status::Error,
                "exported_by_administrator",
                format!(
                    "this account is a GuardDuty member of account {admin}, whose publishing \
                     destination in {region} exports its findings; that destination, its key, \
                     bucket and queue were not checked from this account"
                ),
                Some(format!(
                    "Run `sentinel-kms doctor --aws --region {region}` with a profile of account \
                     {admin}, the GuardDuty administrator."
                )),
                base,
            );
            return None;
        }
        Some(Ok(None)) => {
            out.push(
                EXPORT,
                group,
                Status::NoData,
                "no_destination",
                format!(
                    "the detector {} in {region} has no publishing destination: findings are \
                     not exported to S3; the key, bucket and queue were not checked",
                    detector.id
                ),
                Some(format!(
                    "`aws guardduty create-publishing-destination --region {region} \
                     --detector-id {} --destination-type S3 --destination-properties \
                     DestinationArn=arn:aws:s3:::BUCKET,KmsKeyArn=KEY_ARN` with the bucket the \
                     connector reads and a customer-managed key in the bucket's region.",
                    detector.id
                )),
                base,
            );
            return None;
        }
        Some(Ok(Some(destination))) => destination.clone(),
    };
    base.extend(evidence([
        ("DestinationId", json!(destination.id)),
        ("Status", json!(destination.status)),
        ("DestinationArn", json!(destination.destination_arn)),
        ("KmsKeyArn", json!(destination.kms_key_arn)),
        (
            "ExpectedBucketOwner",
            json!(destination.expected_bucket_owner),
        ),
        (
            "PublishingFailureStartTimestamp",
            json!(destination.failing_since.map(|t| t.to_rfc3339())),
        ),
    ]));
    let frequency_note = match detector.frequency.as_deref() {
        Some("SIX_HOURS") => {
            "; updates of existing findings are exported every six hours (FIFTEEN_MINUTES is \
             what Microsoft recommends)"
        }
        _ => "",
    };
    let target = format!(
        "s3://{}",
        destination
            .destination_arn
            .splitn(6, ':')
            .nth(5)
            .unwrap_or(&destination.destination_arn)
    );
    match destination.status.as_str() {
        "PUBLISHING" => out.push(
            EXPORT,
            group,
            Status::Healthy,
            "publishing",
            format!(
                "detector {} publishes to {target} with key {}{frequency_note}",
                detector.id,
                destination.kms_key_arn.as_deref().unwrap_or("(none)")
            ),
            None,
            base,
        ),
        "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" | "STOPPED" | "PENDING_VERIFICATION" => {
            let since = destination.failing_since.map_or(String::new(), |t| {
                format!(" since {}", t.format("%Y-%m-%d %H:%M UTC"))
            });
            out.push(
                EXPORT,
                group,
                Status::NoData,
                "destination_not_publishing",
                format!(
                    "the publishing destination to {target} is {}{since}: GuardDuty is not \
                     writing findings",
                    destination.status
                ),
                Some(
                    "GuardDuty cannot write to the bucket with the key: the bucket policy must \
                     let `guardduty.amazonaws.com` `s3:GetBucketLocation` and `s3:PutObject`, \
                     and the key policy must let it `kms:GenerateDataKey` (see \
                     aws-key-policy-guardduty); the key must be enabled and in the bucket's \
                     region (see aws-export-key)."
                        .into(),
                ),
                base,
            );
        }
        other => out.push(
            EXPORT,
            group,
            Status::Error,
            "unknown_destination_status",
            format!(
                "the publishing destination to {target} has the status `{other}`, which this \
                 version does not know"
            ),
            None,
            base,
        ),
    }
    Some(destination)
}

/// Check 2: the export key itself.
fn export_key(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    key: &KeyFacts,
    bucket_region: Option<&str>,
    role: Option<&RoleArn>,
) {
    let metadata = match &key.metadata {
        Ok(metadata) => metadata,
        Err(failure) => return out.failed(KEY, group, failure),
    };
    let ev = evidence([
        ("KeyArn", json!(metadata.arn)),
        ("KeyState", json!(metadata.state)),
        ("KeySpec", json!(metadata.spec)),
        ("KeyUsage", json!(metadata.usage)),
        ("KeyManager", json!(metadata.manager)),
        ("BucketRegion", json!(bucket_region)),
    ]);
    let arn = &metadata.arn;
    let (status, reason, message, remedy) = if metadata.state == "PendingDeletion" {
        (
            Status::NoData,
            "key_pending_deletion",
            format!(
                "the export key {arn} is scheduled for deletion: nothing encrypted with it can be read"
            ),
            Some(format!(
                "`aws kms cancel-key-deletion --region {0} --key-id {arn}` then `aws kms enable-key --region {0} --key-id {arn}`",
                metadata.region
            )),
        )
    } else if metadata.state != "Enabled" {
        (
            Status::NoData,
            "key_disabled",
            format!(
                "the export key {arn} is {}: GuardDuty cannot encrypt and the connector cannot decrypt",
                metadata.state
            ),
            Some(format!(
                "`aws kms enable-key --region {} --key-id {arn}`",
                metadata.region
            )),
        )
    } else if metadata.spec != "SYMMETRIC_DEFAULT"
        || !(metadata.usage.is_empty() || metadata.usage == "ENCRYPT_DECRYPT")
    {
        (
            Status::NoData,
            "key_not_symmetric",
            format!(
                "the export key {arn} is {} for {}: GuardDuty and S3 need a symmetric encryption key",
                metadata.spec, metadata.usage
            ),
            Some("Export with a symmetric (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) customer-managed key in the bucket's region.".into()),
        )
    } else if bucket_region.is_some_and(|b| b != metadata.region) {
        let bucket_region = bucket_region.unwrap_or_default();
        (
            Status::NoData,
            "key_region_mismatch",
            format!(
                "the export key {arn} is in {}, the bucket in {bucket_region}: GuardDuty requires the key and the bucket in the same region",
                metadata.region
            ),
            Some(new_key_remedy(role, &metadata.account, bucket_region, arn)),
        )
    } else if metadata.manager != "CUSTOMER" {
        let remedy = KmsKeyArn::parse(arn)
            .ok()
            .zip(role)
            .and_then(|(key, role)| Remedy::for_decrypt(role, &[ExportKey::AwsManaged(key)]).ok());
        (
            Status::NoData,
            "key_aws_managed",
            format!(
                "the export key {arn} is AWS-managed: its policy cannot allow the connector's role"
            ),
            remedy.map(|r| r.summary()),
        )
    } else {
        (
            Status::Healthy,
            "key_usable",
            format!(
                "the export key {arn} is enabled, symmetric, customer-managed and in the bucket's region"
            ),
            None,
        )
    };
    out.push(KEY, group, status, reason, message, remedy, ev);
}

fn new_key_remedy(role: Option<&RoleArn>, account: &str, region: &str, old: &str) -> String {
    let partition = old.split(':').nth(1).unwrap_or("aws");
    let alias = format!("arn:{partition}:kms:{region}:{account}:alias/aws/guardduty");
    let policy = match (role, crate::arn::KmsAliasArn::parse(&alias)) {
        (Some(role), Ok(alias)) => ExportKey::alias(alias)
            .ok()
            .map(|key| crate::policy::statements::new_key_policy(&key, role)),
        _ => None,
    };
    let mut text = format!(
        "Create a symmetric customer-managed key in {region} (`aws kms create-key --region \
         {region} --policy file://new-key-policy.json`) and point the publishing destination \
         at it (`aws guardduty update-publishing-destination --region {region} … \
         --destination-properties DestinationArn=…,KmsKeyArn=NEW_KEY_ARN`)."
    );
    if let Some(policy) = policy {
        text.push_str(&format!(
            " new-key-policy.json, letting GuardDuty encrypt and the role decrypt:\n{}",
            pretty(&policy)
        ));
    }
    text
}

/// Check 2b: GuardDuty may generate data keys.
fn key_policy_guardduty(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    key: &KeyFacts,
    account: &str,
    facts: &RegionFacts,
) {
    let Ok(metadata) = &key.metadata else { return };
    let policy = match &key.policy {
        None => {
            return out.push(
                KEY_GUARDDUTY,
                group,
                Status::Error,
                "key_in_other_account",
                format!(
                    "the key {} is in account {}, and KMS serves a key policy only to its own \
                     account: not checked",
                    metadata.arn, metadata.account
                ),
                Some(format!(
                    "Run the doctor with a profile of account {} to check the key policy.",
                    metadata.account
                )),
                Map::new(),
            );
        }
        Some(Err(failure)) => return out.failed(KEY_GUARDDUTY, group, failure),
        Some(Ok(policy)) => policy,
    };
    let region = facts.region.as_str();
    let partition = partition_of(&metadata.arn);
    let principal = guardduty_principal(partition, region);
    let detector = match &facts.detector {
        Ok(Some(detector)) => detector.id.clone(),
        _ => String::new(),
    };
    let detector_arn = format!("arn:{partition}:guardduty:{region}:{account}:detector/{detector}");
    let evaluation = principal_on_policy(
        Principal::Service(principal.clone()),
        policy,
        "key policy",
        PolicyKind::Resource,
        "kms:GenerateDataKey",
        &metadata.arn,
        Context::new()
            .with("aws:SourceAccount", account)
            .with("aws:SourceArn", detector_arn),
    );
    let statement = guardduty_statement(partition, account, region);
    let remedy = format!(
        "Add this statement to the key policy of {} (`aws kms get-key-policy` saves the \
         current one; `put-key-policy` replaces it whole):\n{}",
        metadata.arn,
        pretty(&statement)
    );
    decision_verdict(
        out,
        KEY_GUARDDUTY,
        group,
        &[evaluation],
        &format!(
            "`{principal}` may `kms:GenerateDataKey` with {}",
            metadata.arn
        ),
        "guardduty_cannot_encrypt",
        remedy,
        evidence([("statement_to_add", statement)]),
    );
}

fn partition_of(arn: &str) -> Partition {
    match arn.split(':').nth(1) {
        Some("aws-cn") => Partition::AwsCn,
        Some("aws-us-gov") => Partition::AwsUsGov,
        _ => Partition::Aws,
    }
}

/// One verdict from evaluations of several actions: the worst decides.
#[allow(clippy::too_many_arguments)]
fn decision_verdict(
    out: &mut Out<'_>,
    check: DoctorCheck,
    group: Option<(&str, &str)>,
    evaluations: &[Evaluation],
    healthy_message: &str,
    deny_reason: &str,
    remedy: String,
    mut ev: Map<String, Value>,
) {
    let denied: Vec<&Evaluation> = evaluations
        .iter()
        .filter(|e| e.decision == Decision::Deny)
        .collect();
    let undecided: Vec<&Evaluation> = evaluations
        .iter()
        .filter(|e| e.decision == Decision::CannotDetermine)
        .collect();
    ev.insert(
        "decisions".into(),
        Value::Array(
            evaluations
                .iter()
                .map(|e| {
                    json!({
                        "action": e.action,
                        "decision": e.decision,
                        "explanation": e.explanation,
                        "deciding": e.deciding.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ),
    );
    let deciding_lines = |list: &[&Evaluation]| {
        let mut lines = Vec::new();
        for evaluation in list {
            for cited in &evaluation.deciding {
                let line = cited.line();
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
        lines
    };
    if !denied.is_empty() {
        let explanation = merged_explanations(&denied);
        let deciding = deciding_lines(&denied);
        let message = if deciding.is_empty() {
            explanation.join("; ")
        } else {
            format!(
                "{} (decided by: {})",
                explanation.join("; "),
                deciding.join("; ")
            )
        };
        out.push(
            check,
            group,
            Status::NoData,
            deny_reason,
            message,
            Some(remedy),
            ev,
        );
    } else if !undecided.is_empty() {
        let explanation = merged_explanations(&undecided);
        out.push(
            check,
            group,
            Status::Error,
            "cannot_determine",
            explanation.join("; "),
            Some(format!(
                "Check the statements named by hand, or make them unconditional for this \
                 principal. If they do not hold: {remedy}"
            )),
            ev,
        );
    } else {
        let mut deciding: Vec<String> = Vec::new();
        for cited in evaluations.iter().flat_map(|e| &e.deciding) {
            let name = cited.name();
            if !deciding.contains(&name) {
                deciding.push(name);
            }
        }
        out.push(
            check,
            group,
            Status::Healthy,
            "allowed",
            format!("{healthy_message} (allowed by: {})", deciding.join("; ")),
            None,
            ev,
        );
    }
}

/// The explanations of several actions, those that differ only in the action said once:
/// "… allows `kms:Decrypt` and `kms:DescribeKey` on the key".
fn merged_explanations(evaluations: &[&Evaluation]) -> Vec<String> {
    let mut shapes: Vec<(String, Vec<String>)> = Vec::new();
    for evaluation in evaluations {
        let marker = format!("`{}`", evaluation.action);
        let shape = evaluation.explanation.replace(&marker, "\u{0}");
        match shapes.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, actions)) => actions.push(marker),
            None => shapes.push((shape, vec![marker])),
        }
    }
    shapes
        .into_iter()
        .map(|(shape, actions)| shape.replace('\u{0}', &actions.join(" and ")))
        .collect()
}

/// The encryption context S3 uses when it decrypts for the role: the newest object's ARN, or an
/// object of today's folder; the bucket's ARN with an S3 Bucket Key.
fn decrypt_context(
    role: &RoleArn,
    bucket: Option<&BucketFacts>,
    bucket_region: &str,
    settings: &Settings,
) -> Context {
    let partition = role.partition();
    let Some(bucket) = bucket else {
        return Context::new()
            .with(
                "kms:ViaService",
                format!("s3.{bucket_region}.amazonaws.com"),
            )
            .with("kms:CallerAccount", role.account())
            .with("aws:PrincipalArn", role.as_str())
            .with("aws:PrincipalAccount", role.account());
    };
    let newest = match &bucket.newest_object {
        Some(Ok(Some(object))) => Some(object),
        _ => None,
    };
    let bucket_key = newest.map_or_else(
        || matches!(&bucket.encryption, Ok(Some(e)) if e.bucket_key),
        |o| o.bucket_key,
    );
    let arn = if bucket_key {
        format!("arn:{partition}:s3:::{}", bucket.name)
    } else {
        let key = newest.map_or_else(
            || {
                let day = settings
                    .today
                    .unwrap_or_else(|| chrono::Utc::now().date_naive());
                format!(
                    "{}AWSLogs/{}/GuardDuty/{bucket_region}/{}/00000000-0000-4000-8000-000000000000.jsonl.gz",
                    bucket.prefix,
                    role.account(),
                    day.format("%Y/%m/%d")
                )
            },
            |o| o.key.clone(),
        );
        format!("arn:{partition}:s3:::{}/{key}", bucket.name)
    };
    s3_decrypt_context(role, bucket_region, &arn)
}

fn role_policies<'a>(role: &'a RoleArn, details: &'a RoleDetails) -> RolePolicies<'a> {
    RolePolicies {
        role,
        role_id: Some(&details.id),
        identity: &details.identity,
        boundary: details.boundary.as_ref(),
    }
}

fn simulated<'a>(facts: &'a RegionFacts, action: &str, resource: &str) -> Option<&'a Simulated> {
    match &facts.simulation {
        Some(Ok(results)) => results.get(&(action.to_string(), resource.to_string())),
        _ => None,
    }
}

/// Check 2c: the role may decrypt and describe the export key.
fn key_policy_role(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    key: &KeyFacts,
    role: &RoleArn,
    details: &RoleDetails,
    facts: &RegionFacts,
    context: Context,
) {
    let Ok(metadata) = &key.metadata else { return };
    let policy = match &key.policy {
        None => {
            return out.push(
                KEY_ROLE,
                group,
                Status::Error,
                "key_in_other_account",
                format!(
                    "the key {} is in account {}, whose key policy cannot be read from account \
                     {}: whether the role may decrypt was not checked",
                    metadata.arn, metadata.account, out.workspace
                ),
                Some(format!(
                    "Run the doctor with a profile of account {} (and --role-arn {role}).",
                    metadata.account
                )),
                Map::new(),
            );
        }
        Some(Err(failure)) => return out.failed(KEY_ROLE, group, failure),
        Some(Ok(policy)) => policy,
    };
    let grants = match &key.grants {
        Some(Ok(grants)) => grants.clone(),
        _ => Vec::new(),
    };
    let mut evaluations = vec![role_on_key(
        role_policies(role, details),
        &metadata.arn,
        &metadata.account,
        policy,
        &grants,
        simulated(facts, "kms:Decrypt", &metadata.arn),
        "kms:Decrypt",
        context.clone(),
    )];
    evaluations.push(role_on_key(
        role_policies(role, details),
        &metadata.arn,
        &metadata.account,
        policy,
        &grants,
        simulated(facts, "kms:DescribeKey", &metadata.arn),
        "kms:DescribeKey",
        direct_call_context(role),
    ));
    let mut ev = evidence([
        ("KeyArn", json!(metadata.arn)),
        ("RoleArn", json!(role.as_str())),
        ("request_context", context.to_json()),
    ]);
    if let Some(Err(failure)) = &key.grants {
        ev.insert("grants_unread".into(), json!(failure.describe()));
    }
    let remedy = key_remedy(role, metadata.arn.as_str(), policy, &mut ev);
    unread_policies(&mut evaluations, details, facts, &metadata.arn, &mut ev);
    decision_verdict(
        out,
        KEY_ROLE,
        group,
        &evaluations,
        &format!("`{role}` may decrypt and describe {}", metadata.arn),
        "key_policy_denies_role",
        remedy,
        ev,
    );
}

/// Some of the role's policies could not be read: an unread policy may allow what looked denied,
/// or deny what looked allowed. Only an explicit deny, or the simulator's allow (it reads every
/// identity policy), still stands; everything else becomes cannot-determine.
fn unread_policies(
    evaluations: &mut [Evaluation],
    details: &RoleDetails,
    facts: &RegionFacts,
    resource: &str,
    ev: &mut Map<String, Value>,
) {
    if details.unreadable.is_empty() {
        return;
    }
    let unread: Vec<String> = details.unreadable.iter().map(Failure::describe).collect();
    ev.insert("identity_policies_unread".into(), json!(unread));
    for evaluation in evaluations {
        let stands = match evaluation.decision {
            Decision::Deny => evaluation.explanation.starts_with("an explicit deny"),
            Decision::Allow => simulated(facts, &evaluation.action, resource)
                .is_some_and(|s| s.decision == "allowed" && s.missing_context.is_empty()),
            Decision::CannotDetermine => false,
        };
        if stands {
            continue;
        }
        evaluation.decision = Decision::CannotDetermine;
        evaluation.explanation = format!(
            "{}, but some of the role's policies could not be read: {}",
            evaluation.explanation,
            unread.join("; ")
        );
    }
}

/// The remedy for the role on a key: `policy`'s summary, the statement for the key policy, the
/// role's IAM policy, and the merged key policy (in the evidence).
fn key_remedy(role: &RoleArn, key: &str, current: &Value, ev: &mut Map<String, Value>) -> String {
    let Ok(key) = KmsKeyArn::parse(key) else {
        return format!(
            "`sentinel-kms policy --role-arn {role} --key-arn {key}` prints the change."
        );
    };
    let Ok(mut remedy) = Remedy::for_decrypt(role, &[ExportKey::Customer(key.clone())]) else {
        return format!(
            "`sentinel-kms policy --role-arn {role} --key-arn {key}` prints the change (or says \
             why it cannot be made)."
        );
    };
    // The merge cannot fail for the remedy's own customer-managed key; a policy that does not
    // parse as a key policy leaves the remedy without a merged policy.
    if let Ok(current) =
        CurrentKeyPolicy::parse(&current.to_string(), "the key policy read from KMS")
        && remedy.merge_current_policy(&key, &current).is_err()
    {
        tracing::debug!("no merged key policy for {key}");
    }
    let mut text = remedy.summary();
    if let Some(entry) = remedy.keys.first()
        && let crate::policy::KeyChange::AddStatement {
            statement, merged, ..
        } = &entry.change
    {
        text.push_str(&format!(
            "\nStatement to add to the key policy:\n{}",
            pretty(statement)
        ));
        ev.insert("statement_to_add".into(), statement.clone());
        if let Some(merged) = merged {
            ev.insert("merged_key_policy".into(), merged.document.clone());
        }
    }
    if let Some(identity) = &remedy.identity_policy {
        text.push_str(&format!(
            "\nThe role's IAM policy ({}):\n{}",
            identity.name,
            pretty(&identity.document)
        ));
        ev.insert("identity_policy".into(), identity.document.clone());
    }
    text
}

/// Check 3: the role's trust policy and OIDC provider.
fn trust(out: &mut Out<'_>, role: &RoleArn, details: &RoleDetails, settings: &Settings) {
    let trust = &details.trust_policy;
    // The session name carries the workspace ID: from the validate result, else from a session
    // name the trust policy spells out, else any ID (a pattern accepts it as well as another).
    let known_workspace = settings
        .workspaces
        .first()
        .cloned()
        .or_else(|| workspace_in_trust(trust));
    let workspace = known_workspace
        .clone()
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into());
    let mut ev = evidence([
        ("RoleArn", json!(role.as_str())),
        ("RoleId", json!(details.id)),
        ("trust_policy", trust.clone()),
        (
            "RoleLastUsed",
            json!(details.last_used.map(|t| t.to_rfc3339())),
        ),
    ]);
    let mut problems = Vec::new();
    if !role.name().starts_with("OIDC_") {
        problems.push(format!(
            "the role's name `{}` does not start with `OIDC_`, which the connector requires",
            role.name()
        ));
    }
    // The provider Microsoft's token is federated through, in the role's account.
    let providers: Vec<String> = ISSUER_TENANTS
        .iter()
        .map(|tenant| {
            format!(
                "arn:{}:iam::{}:oidc-provider/sts.windows.net/{tenant}/",
                role.partition(),
                role.account()
            )
        })
        .collect();
    let mut evaluations = Vec::new();
    let mut reached = None;
    for (index, provider) in providers.iter().enumerate() {
        let named = details.providers.iter().find(|(arn, _)| arn == provider);
        let Some((_, fetched)) = named else { continue };
        reached = Some(index);
        match fetched {
            Err(failure) if failure.kind == super::facts::FailureKind::NotFound => {
                problems.push(format!(
                    "the trust policy names the OIDC provider `{provider}`, which does not exist"
                ));
            }
            Err(failure) => return out.failed(TRUST, None, failure),
            Ok(found) if !found.client_ids.iter().any(|id| id == AUDIENCES[index]) => {
                problems.push(format!(
                    "the OIDC provider `{provider}` lacks the audience `{}`",
                    AUDIENCES[index]
                ));
            }
            Ok(_) => {}
        }
        let provider_host = provider.split("oidc-provider/").nth(1).unwrap_or_default();
        for prefix in ["MicrosoftSentinel_", "MicrosoftDefenderForClouds_"] {
            let mut evaluation = principal_on_policy(
                Principal::Federated(provider.clone()),
                trust,
                "trust policy",
                PolicyKind::Trust,
                "sts:AssumeRoleWithWebIdentity",
                role.as_str(),
                Context::new()
                    .with(&format!("{provider_host}:aud"), AUDIENCES[index])
                    .with("sts:RoleSessionName", format!("{prefix}{workspace}")),
            );
            evaluation.action = format!("sts:AssumeRoleWithWebIdentity as {prefix}…");
            evaluations.push((prefix, evaluation));
        }
        break;
    }
    let Some(index) = reached else {
        problems.push(format!(
            "the trust policy does not name Microsoft's OIDC provider (`{}`) as a federated \
             principal",
            providers[0]
        ));
        return trust_verdict(
            out,
            role,
            "trust_not_microsoft_oidc",
            problems,
            ev,
            fixed_trust_policy(trust, role, None, known_workspace.as_deref()),
        );
    };
    let decision = |prefix: &str| {
        evaluations
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, e)| e.decision)
    };
    ev.insert(
        "decisions".into(),
        Value::Array(
            evaluations
                .iter()
                .map(|(_, e)| {
                    json!({
                        "action": e.action, "decision": e.decision, "explanation": e.explanation,
                        "deciding": e.deciding.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ),
    );
    let sentinel = decision("MicrosoftSentinel_");
    let defender = decision("MicrosoftDefenderForClouds_");
    let reason = match (sentinel, defender) {
        (_, Some(Decision::Deny)) if sentinel == Some(Decision::Allow) => {
            problems.push(
                "the trust policy accepts the session name `MicrosoftSentinel_…` but not \
                 `MicrosoftDefenderForClouds_…`, which Microsoft sends since 2025-03-27: \
                 the connector cannot assume the role (health code S3B40029)"
                    .into(),
            );
            "trust_session_name_pinned"
        }
        (Some(Decision::Deny), _) | (_, Some(Decision::Deny)) => {
            let explanation = evaluations
                .iter()
                .find(|(_, e)| e.decision == Decision::Deny)
                .map(|(_, e)| e.explanation.clone())
                .unwrap_or_default();
            problems.push(format!(
                "the trust policy does not let the connector assume the role: {explanation}"
            ));
            "trust_denies_connector"
        }
        (Some(Decision::CannotDetermine), _) | (_, Some(Decision::CannotDetermine)) => {
            if problems.is_empty() {
                let explanation = evaluations
                    .iter()
                    .find(|(_, e)| e.decision == Decision::CannotDetermine)
                    .map(|(_, e)| e.explanation.clone())
                    .unwrap_or_default();
                out.push(
                    TRUST,
                    None,
                    Status::Error,
                    "cannot_determine",
                    explanation,
                    Some(
                        "Check the trust policy's conditions by hand: it must accept both \
                         session prefixes."
                            .into(),
                    ),
                    ev,
                );
                return;
            }
            "trust_problem"
        }
        _ => "trust_problem",
    };
    if problems.is_empty() {
        out.push(
            TRUST,
            None,
            Status::Healthy,
            "trusted",
            format!(
                "the role trusts Microsoft's OIDC provider with the audience {} and both \
                 session prefixes",
                AUDIENCES[index]
            ),
            None,
            ev,
        );
        return;
    }
    trust_verdict(
        out,
        role,
        reason,
        problems,
        ev,
        fixed_trust_policy(
            trust,
            role,
            Some(&providers[index]),
            known_workspace.as_deref(),
        ),
    );
}

/// A workspace ID a trust policy's `sts:RoleSessionName` condition spells out after one of the
/// connector's session prefixes.
fn workspace_in_trust(trust: &Value) -> Option<String> {
    super::evaluate::statements(trust)
        .into_iter()
        .filter_map(|statement| statement["Condition"].as_object())
        .flat_map(|blocks| blocks.values())
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.iter())
        .filter(|(key, _)| key.eq_ignore_ascii_case("sts:RoleSessionName"))
        .filter_map(|(_, values)| crate::policy::document::strings(values))
        .flatten()
        .filter_map(|name| {
            ["MicrosoftSentinel_", "MicrosoftDefenderForClouds_"]
                .iter()
                .find_map(|prefix| name.strip_prefix(prefix))
        })
        .find(|id| uuid::Uuid::try_parse(id).is_ok())
        .map(str::to_string)
}

fn trust_verdict(
    out: &mut Out<'_>,
    role: &RoleArn,
    reason: &str,
    problems: Vec<String>,
    mut ev: Map<String, Value>,
    fixed: Value,
) {
    ev.insert("trust_policy_to_put".into(), fixed.clone());
    let remedy = format!(
        "Save this as trust-policy.json and run `aws iam update-assume-role-policy --role-name \
         {} --policy-document file://trust-policy.json` (the OIDC provider, if missing, comes \
         first: `aws iam create-open-id-connect-provider --url https://sts.windows.net/{}/ \
         --client-id-list {}`):\n{}",
        role.name(),
        ISSUER_TENANTS[0],
        AUDIENCES[0],
        pretty(&fixed)
    );
    out.push(
        TRUST,
        None,
        Status::NoData,
        reason,
        problems.join("; "),
        Some(remedy),
        ev,
    );
}

/// The trust policy with its web-identity statement accepting both session prefixes, for the
/// workspace where it is known (any workspace otherwise); a policy without such a statement gets
/// Microsoft's.
fn fixed_trust_policy(
    trust: &Value,
    role: &RoleArn,
    provider: Option<&str>,
    workspace: Option<&str>,
) -> Value {
    let sessions: Vec<String> = match workspace {
        Some(id) => ["MicrosoftSentinel_", "MicrosoftDefenderForClouds_"]
            .iter()
            .map(|prefix| format!("{prefix}{id}"))
            .collect(),
        None => SESSION_NAME_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .collect(),
    };
    let default_provider = format!(
        "arn:{}:iam::{}:oidc-provider/sts.windows.net/{}/",
        role.partition(),
        role.account(),
        ISSUER_TENANTS[0]
    );
    let provider = provider.unwrap_or(&default_provider);
    let host = provider.split("oidc-provider/").nth(1).unwrap_or_default();
    let mut fixed = trust.clone();
    let mut changed = false;
    if let Some(list) = fixed["Statement"].as_array_mut() {
        for statement in list {
            let federated = statement["Principal"]["Federated"] == provider;
            if !federated || statement["Effect"] != "Allow" {
                continue;
            }
            let Some(conditions) = statement["Condition"].as_object_mut() else {
                continue;
            };
            for (_, keys) in conditions.iter_mut() {
                if let Some(keys) = keys.as_object_mut() {
                    keys.retain(|key, _| !key.eq_ignore_ascii_case("sts:RoleSessionName"));
                }
            }
            conditions.retain(|_, keys| keys.as_object().is_none_or(|k| !k.is_empty()));
            if let Some(like) = conditions
                .entry("StringLike")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                like.insert("sts:RoleSessionName".into(), json!(sessions));
            }
            changed = true;
        }
    }
    if changed {
        return fixed;
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": { format!("{host}:aud"): AUDIENCES[0] },
                "StringLike": { "sts:RoleSessionName": sessions },
            },
        }],
    })
}

/// Check 3b: the role may read the export objects and poll the queue.
fn permissions(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    role: &RoleArn,
    details: &RoleDetails,
    bucket: &BucketFacts,
    facts: &RegionFacts,
) {
    let partition = role.partition();
    let region = facts.region.as_str();
    let object = example_object_arn(bucket, role, region);
    let bucket_account = match bucket.owned_by_caller {
        Some(true) => Some(out.workspace.clone()),
        _ => None,
    };
    let mut evaluations = vec![role_on_resource(
        role_policies(role, details),
        &object,
        bucket_account.as_deref(),
        None,
        simulated(facts, "s3:GetObject", &object),
        "s3:GetObject",
        direct_call_context(role),
    )];
    let mut statements = vec![read_export_statement(
        partition,
        &bucket.name,
        &bucket.prefix,
    )];
    if let Some(queue) = &facts.queue {
        let queue_account = queue.arn.split(':').nth(4);
        let policy = queue
            .attributes
            .as_ref()
            .ok()
            .and_then(|a| a.policy.as_ref());
        for action in QUEUE_ACTIONS {
            evaluations.push(role_on_resource(
                role_policies(role, details),
                &queue.arn,
                queue_account,
                policy.map(|p| ("queue policy", p)),
                simulated(facts, action, &queue.arn),
                action,
                direct_call_context(role),
            ));
        }
        statements.push(poll_queue_statement(&queue.arn));
    }
    let mut unread = Map::new();
    unread_policies(&mut evaluations[..1], details, facts, &object, &mut unread);
    if let Some(queue) = &facts.queue {
        unread_policies(
            &mut evaluations[1..],
            details,
            facts,
            &queue.arn,
            &mut unread,
        );
    }
    let document = json!({ "Version": "2012-10-17", "Statement": statements });
    let remedy = format!(
        "Attach to the role (`aws iam put-role-policy --role-name {} --policy-name \
         SentinelGuardDutyExportRead --policy-document file://read-policy.json`):\n{}",
        role.name(),
        pretty(&document)
    );
    let mut ev = evidence([("ObjectArn", json!(object)), ("identity_policy", document)]);
    ev.extend(unread);
    if bucket_account.is_none() {
        ev.insert(
            "bucket_owner".into(),
            json!("not confirmed to be the caller's account: a bucket policy may also be needed"),
        );
    }
    decision_verdict(
        out,
        PERMISSIONS,
        group,
        &evaluations,
        &format!("`{role}` may read the export objects and poll the queue"),
        "role_cannot_read",
        remedy,
        ev,
    );
}

fn example_object_arn(bucket: &BucketFacts, role: &RoleArn, region: &str) -> String {
    let key = match &bucket.newest_object {
        Some(Ok(Some(object))) => object.key.clone(),
        _ => format!(
            "{}AWSLogs/{}/GuardDuty/{region}/example.jsonl.gz",
            bucket.prefix,
            role.account()
        ),
    };
    format!("arn:{}:s3:::{}/{key}", role.partition(), bucket.name)
}

/// Check 4a: default encryption.
fn encryption(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    bucket: &BucketFacts,
    destination: &Destination,
) {
    let encryption = match &bucket.encryption {
        Err(failure) => return out.failed(ENCRYPTION, group, failure),
        Ok(encryption) => encryption,
    };
    let name = &bucket.name;
    let ev = evidence([
        ("Bucket", json!(name)),
        (
            "SSEAlgorithm",
            json!(encryption.as_ref().map(|e| &e.algorithm)),
        ),
        (
            "KMSMasterKeyID",
            json!(encryption.as_ref().and_then(|e| e.key.clone())),
        ),
        (
            "BucketKeyEnabled",
            json!(encryption.as_ref().map(|e| e.bucket_key)),
        ),
    ]);
    let wanted = destination.kms_key_arn.as_deref().unwrap_or_default();
    let same = |key: &str| key == wanted || wanted.ends_with(&format!("key/{key}"));
    match encryption {
        Some(e) if e.algorithm.starts_with("aws:kms") && e.key.as_deref().is_some_and(same) => out
            .push(
                ENCRYPTION,
                group,
                Status::Healthy,
                "default_encryption_matches",
                format!("bucket {name} encrypts by default with the export key"),
                None,
                ev,
            ),
        other => {
            let found = match other {
                None => "no default encryption".to_string(),
                Some(e) => format!(
                    "default encryption {} with {}",
                    e.algorithm,
                    e.key.as_deref().unwrap_or("the AWS-managed key")
                ),
            };
            out.push(
                ENCRYPTION,
                group,
                Status::Lag,
                "default_encryption_differs",
                format!(
                    "bucket {name} has {found}, not the export key {wanted}: GuardDuty sets its \
                     key on its own uploads, but anything else written there is encrypted \
                     otherwise, and the connector may not read it"
                ),
                Some(format!(
                    "`aws s3api put-bucket-encryption --bucket {name} \
                     --server-side-encryption-configuration \
                     '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"{wanted}\"}},\"BucketKeyEnabled\":true}}]}}'`"
                )),
                ev,
            );
        }
    }
}

/// Check 4b: the notification reaches the queue for every folder GuardDuty writes to.
fn notification(
    out: &mut Out<'_>,
    account: &str,
    region: &str,
    bucket: &BucketFacts,
    queue: Option<&QueueFacts>,
) {
    let group = Some((account, region));
    let notifications = match &bucket.notifications {
        Err(failure) => return out.failed(NOTIFICATION, group, failure),
        Ok(n) => n,
    };
    let name = &bucket.name;
    let queue_arn = queue.map(|q| q.arn.as_str());
    let creates = |events: &[String]| {
        events.iter().any(|e| {
            matches!(
                e.as_str(),
                "s3:ObjectCreated:*"
                    | "s3:ObjectCreated:Put"
                    | "s3:ObjectCreated:CompleteMultipartUpload"
            )
        })
    };
    let to_queue: Vec<_> = notifications
        .queues
        .iter()
        .filter(|n| queue_arn.is_none_or(|arn| n.queue_arn == arn) && creates(&n.events))
        .collect();
    let mut folders: Vec<(String, String)> = match &bucket.folders {
        Ok(folders) => folders
            .iter()
            .filter(|(_, r)| r == region)
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    if !folders.iter().any(|(a, _)| a == account) {
        folders.push((account.to_string(), region.to_string()));
    }
    folders.sort();
    let ev = |folder: &str| {
        evidence([
            ("Bucket", json!(name)),
            ("Folder", json!(folder)),
            ("QueueArn", json!(queue_arn)),
            (
                "QueueConfigurations",
                json!(
                    notifications
                        .queues
                        .iter()
                        .map(
                            |n| json!({"Id": n.id, "QueueArn": n.queue_arn, "Events": n.events,
                                    "Prefix": n.prefix, "Suffix": n.suffix})
                        )
                        .collect::<Vec<_>>()
                ),
            ),
        ])
    };
    if to_queue.is_empty() {
        let (reason, message) = if !notifications.topics.is_empty() || notifications.eventbridge {
            (
                "notification_not_followed",
                format!(
                    "bucket {name} notifies {} rather than a queue directly; this version does \
                     not follow an SNS fan-out or EventBridge to the queue",
                    if notifications.topics.is_empty() {
                        "EventBridge".to_string()
                    } else {
                        format!("the SNS topic(s) {}", notifications.topics.join(", "))
                    }
                ),
            )
        } else {
            (
                "no_notification",
                format!(
                    "bucket {name} sends no object-created notification to {}: the connector \
                     never hears of new findings",
                    queue_arn.unwrap_or("any queue")
                ),
            )
        };
        let status = if reason == "notification_not_followed" {
            Status::Error
        } else {
            Status::NoData
        };
        let folder = folder_of(&bucket.prefix, account, region);
        out.push(
            NOTIFICATION,
            group,
            status,
            reason,
            message,
            queue_arn.map(|arn| notification_remedy(name, &bucket.prefix, arn, notifications)),
            ev(&folder),
        );
        return;
    }
    for (folder_account, folder_region) in &folders {
        let folder = folder_of(&bucket.prefix, folder_account, folder_region);
        // An object's key is FOLDER + `yyyy/mm/dd/UUID.jsonl.gz`: the prefix must be the
        // folder itself or a beginning of it, and the suffix must end that name.
        let covering = to_queue
            .iter()
            .find(|n| folder.starts_with(&n.prefix) && ".jsonl.gz".ends_with(&n.suffix));
        let group = Some((folder_account.as_str(), folder_region.as_str()));
        match covering {
            Some(n) => out.push(
                NOTIFICATION,
                group,
                Status::Healthy,
                "notification_covers",
                format!(
                    "objects under s3://{name}/{folder} reach {} (prefix `{}`, suffix `{}`)",
                    n.queue_arn, n.prefix, n.suffix
                ),
                None,
                ev(&folder),
            ),
            None => {
                let filters: Vec<String> = to_queue
                    .iter()
                    .map(|n| format!("prefix `{}` suffix `{}`", n.prefix, n.suffix))
                    .collect();
                out.push(
                    NOTIFICATION,
                    group,
                    Status::NoData,
                    "notification_misses_folder",
                    format!(
                        "GuardDuty writes account {folder_account}'s {folder_region} findings \
                         under s3://{name}/{folder}, which the notification to the queue \
                         ({}) does not cover: they never reach Sentinel",
                        filters.join("; ")
                    ),
                    queue_arn
                        .map(|arn| notification_remedy(name, &bucket.prefix, arn, notifications)),
                    ev(&folder),
                );
            }
        }
    }
}

fn folder_of(prefix: &str, account: &str, region: &str) -> String {
    format!("{prefix}AWSLogs/{account}/GuardDuty/{region}/")
}

/// The bucket's whole notification configuration with one queue configuration covering every
/// folder (`put-bucket-notification-configuration` replaces the configuration whole).
fn notification_remedy(
    bucket: &str,
    prefix: &str,
    queue_arn: &str,
    current: &super::facts::Notifications,
) -> String {
    let mut queues: Vec<Value> = current
        .queues
        .iter()
        .filter(|n| n.queue_arn != queue_arn)
        .map(|n| {
            json!({"Id": n.id, "QueueArn": n.queue_arn, "Events": n.events, "Filter": {"Key": {
                "FilterRules": [{"Name": "Prefix", "Value": n.prefix}, {"Name": "Suffix", "Value": n.suffix}]}}})
        })
        .collect();
    queues.push(json!({
        "Id": "GuardDutyFindingsToSentinel",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": { "Key": { "FilterRules": [
            { "Name": "Prefix", "Value": format!("{prefix}AWSLogs/") },
            { "Name": "Suffix", "Value": ".gz" },
        ]}},
    }));
    let mut configuration = json!({ "QueueConfigurations": queues });
    if !current.topics.is_empty() {
        configuration["TopicConfigurations"] = json!("(keep the current ones)");
    }
    format!(
        "Put a notification whose prefix covers every account's folder (`{prefix}AWSLogs/`) and \
         whose suffix is `.gz`: save this as notification.json and run `aws s3api \
         put-bucket-notification-configuration --bucket {bucket} --notification-configuration \
         file://notification.json` (it replaces the bucket's whole configuration):\n{}",
        pretty(&configuration)
    )
}

/// Check 5: the queue's policy, its key, and whether it drains.
fn queue_checks(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    queue: &QueueFacts,
    bucket: &BucketFacts,
    role: Option<(&RoleArn, &RoleDetails)>,
    facts: &RegionFacts,
) {
    let attributes = match &queue.attributes {
        Err(failure) => return out.failed(QUEUE, group, failure),
        Ok(a) => a,
    };
    let arn = &queue.arn;
    let partition = partition_of(arn);
    if attributes.fifo {
        out.push(
            QUEUE,
            group,
            Status::NoData,
            "queue_is_fifo",
            format!("{arn} is a FIFO queue: S3 event notifications need a standard queue"),
            Some("Create a standard queue, point the bucket notification at it, and use it in the connector.".into()),
            Map::new(),
        );
        return;
    }
    let owner = match bucket.owned_by_caller {
        Some(true) => Some(out.workspace.clone()),
        _ => None,
    };
    let bucket_arn = format!("arn:{partition}:s3:::{}", bucket.name);
    let mut context = Context::new().with("aws:SourceArn", bucket_arn.clone());
    if let Some(owner) = &owner {
        context = context.with("aws:SourceAccount", owner.clone());
    }
    let empty = json!({"Version": "2012-10-17", "Statement": []});
    let policy = attributes.policy.as_ref().unwrap_or(&empty);
    let mut evaluations = vec![principal_on_policy(
        Principal::Service("s3.amazonaws.com".into()),
        policy,
        "queue policy",
        PolicyKind::Resource,
        "sqs:SendMessage",
        arn,
        context.clone(),
    )];
    let mut statements = vec![queue_statement_for_s3(
        partition,
        arn,
        &bucket.name,
        owner.as_deref(),
    )];
    if let Some((role_arn, details)) = role {
        for action in ["sqs:ReceiveMessage", "sqs:DeleteMessage"] {
            evaluations.push(role_on_resource(
                role_policies(role_arn, details),
                arn,
                arn.split(':').nth(4),
                Some(("queue policy", policy)),
                simulated(facts, action, arn),
                action,
                direct_call_context(role_arn),
            ));
        }
        unread_policies(&mut evaluations[1..], details, facts, arn, &mut Map::new());
        if evaluations[1..]
            .iter()
            .any(|e| e.decision != Decision::Allow)
        {
            statements.push(queue_statement_for_role(role_arn, arn));
        }
    }
    let statements_only_needed: Vec<Value> = statements
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 || evaluations[0].decision != Decision::Allow)
        .map(|(_, s)| s)
        .collect();
    let mut merged = policy.clone();
    if merged.get("Version").is_none() {
        merged["Version"] = json!("2012-10-17");
    }
    let mut list = super::evaluate::statements(&merged)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    list.extend(statements_only_needed.iter().cloned());
    merged["Statement"] = Value::Array(list);
    let remedy = format!(
        "Add to the queue policy:\n{}\nThe whole policy to set (`aws sqs set-queue-attributes \
         --queue-url URL --attributes Policy=…` replaces it whole):\n{}",
        pretty(&Value::Array(statements_only_needed.clone())),
        serde_json::to_string(&merged).expect("JSON values serialise")
    );
    let ev = evidence([
        ("QueueArn", json!(arn)),
        (
            "queue_policy",
            attributes.policy.clone().unwrap_or(Value::Null),
        ),
        ("statements_to_add", Value::Array(statements_only_needed)),
        ("queue_policy_to_set", merged),
    ]);
    let s3_denied = evaluations[0].decision == Decision::Deny;
    decision_verdict(
        out,
        QUEUE,
        group,
        &evaluations,
        &format!(
            "S3 may send {}'s notifications to {arn} and the role may receive and delete",
            bucket.name
        ),
        if s3_denied {
            "queue_policy_refuses_s3"
        } else {
            "queue_policy_refuses_role"
        },
        remedy,
        ev,
    );
    if let Some(key) = &queue.key {
        queue_key(out, group, key, role, &bucket_arn);
    } else if let Some(kms) = &attributes.kms_key
        && kms.contains("alias/aws/sqs")
    {
        out.push(
            QUEUE,
            group,
            Status::NoData,
            "queue_key_aws_managed",
            format!(
                "{arn} is encrypted with the AWS-managed key alias/aws/sqs, whose policy cannot \
                 let S3 encrypt notifications: S3 cannot deliver to it"
            ),
            Some(format!(
                "Use SSE-SQS (`aws sqs set-queue-attributes --attributes SqsManagedSseEnabled=true,KmsMasterKeyId=`) or a customer-managed key whose policy holds:\n{}",
                pretty(&s3_queue_key_statement())
            )),
            Map::new(),
        );
    }
    depth(out, group, arn, attributes.visible, attributes.in_flight);
}

fn queue_key(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    key: &KeyFacts,
    role: Option<(&RoleArn, &RoleDetails)>,
    bucket_arn: &str,
) {
    let Ok(metadata) = &key.metadata else {
        if let Err(failure) = &key.metadata {
            out.failed(QUEUE, group, failure);
        }
        return;
    };
    let Some(Ok(policy)) = &key.policy else {
        if let Some(Err(failure)) = &key.policy {
            out.failed(QUEUE, group, failure);
        }
        return;
    };
    let source = "queue key's policy";
    let mut evaluations: Vec<Evaluation> = ["kms:GenerateDataKey", "kms:Decrypt"]
        .iter()
        .map(|action| {
            principal_on_policy(
                Principal::Service("s3.amazonaws.com".into()),
                policy,
                source,
                PolicyKind::Resource,
                action,
                &metadata.arn,
                Context::new().with("aws:SourceArn", bucket_arn),
            )
        })
        .collect();
    if let Some((role, details)) = role {
        evaluations.push(role_on_key(
            role_policies(role, details),
            &metadata.arn,
            &metadata.account,
            policy,
            &[],
            None,
            "kms:Decrypt",
            Context::new()
                .with(
                    "kms:ViaService",
                    format!("sqs.{}.amazonaws.com", metadata.region),
                )
                .with("kms:CallerAccount", role.account())
                .with("aws:PrincipalArn", role.as_str())
                .with("aws:PrincipalAccount", role.account()),
        ));
    }
    let mut statements = vec![s3_queue_key_statement()];
    if let Some((role, _)) = role {
        statements.push(crate::policy::statements::role_statement(
            role,
            "AllowSentinelConnectorQueueDecrypt",
        ));
    }
    decision_verdict(
        out,
        QUEUE,
        group,
        &evaluations,
        &format!("S3 and the role may use the queue's key {}", metadata.arn),
        "queue_key_refuses",
        format!(
            "Add to the key policy of the queue's key {}:\n{}",
            metadata.arn,
            pretty(&Value::Array(statements))
        ),
        evidence([("QueueKeyArn", json!(metadata.arn))]),
    );
}

fn depth(out: &mut Out<'_>, group: Option<(&str, &str)>, arn: &str, visible: u64, in_flight: u64) {
    let ev = evidence([
        ("ApproximateNumberOfMessages", json!(visible)),
        ("ApproximateNumberOfMessagesNotVisible", json!(in_flight)),
    ]);
    let (status, reason, message, remedy) = if in_flight > 0 && visible > 0 {
        (
            Status::Lag,
            "messages_not_deleted",
            format!(
                "{arn} holds {visible} waiting and {in_flight} in-flight messages: the connector \
                 receives messages but does not delete them, as it does when it cannot read the \
                 objects (KMS)"
            ),
            Some("See aws-key-policy-role and aws-connector-permissions; SentinelHealth shows S3B40023 for this.".to_string()),
        )
    } else if visible >= PILED_UP && in_flight == 0 {
        (
            Status::Lag,
            "messages_not_polled",
            format!(
                "{arn} holds {visible} messages and none in flight: nobody polls the queue \
                 (the connector cannot assume the role, or its collector is gone)"
            ),
            Some("See aws-connector-trust; check that the connector's collector uses this queue's URL.".to_string()),
        )
    } else {
        (
            Status::Healthy,
            "drains",
            format!("{arn} holds {visible} waiting and {in_flight} in-flight messages"),
            None,
        )
    };
    out.push(QUEUE_DEPTH, group, status, reason, message, remedy, ev);
}

/// Check 6: the newest export object's key.
fn export_object(
    out: &mut Out<'_>,
    group: Option<(&str, &str)>,
    bucket: &BucketFacts,
    destination: &Destination,
) {
    let Some(newest) = &bucket.newest_object else {
        return;
    };
    let object = match newest {
        Err(failure) => return out.failed(OBJECT, group, failure),
        Ok(None) => {
            return out.push(
                OBJECT,
                group,
                Status::Healthy,
                "no_objects_yet",
                "no export object in this region's folder yet: nothing to compare (a quiet \
                 account exports nothing)"
                    .into(),
                None,
                Map::new(),
            );
        }
        Ok(Some(object)) => object,
    };
    let wanted = destination.kms_key_arn.as_deref().unwrap_or_default();
    let ev = evidence([
        ("Key", json!(object.key)),
        (
            "LastModified",
            json!(object.last_modified.map(|t| t.to_rfc3339())),
        ),
        ("SSEKMSKeyId", json!(object.kms_key)),
        ("DestinationKmsKeyArn", json!(wanted)),
    ]);
    let found = object.kms_key.as_deref().unwrap_or("(no KMS key)");
    let before = out.verdicts.len();
    if found == wanted {
        out.push(
            OBJECT,
            group,
            Status::Healthy,
            "object_key_matches",
            format!(
                "the newest export object {} is encrypted with the destination's key",
                object.key
            ),
            None,
            ev,
        );
    } else {
        out.push(
            OBJECT,
            group,
            Status::Lag,
            "object_key_differs",
            format!(
                "the newest export object {} is encrypted with {found}, not the destination's key \
                 {wanted}: the role must be able to decrypt that key as well",
                object.key
            ),
            Some(format!(
                "`sentinel-kms policy --role-arn ROLE --key-arn {found}` prints what the role needs for it."
            )),
            ev,
        );
    }
    // The newest export is what "last seen" means on the AWS side.
    if let Some(verdict) = out.verdicts.get_mut(before) {
        verdict.last_seen = object.last_modified;
    }
}

/// Whether the simulator could be asked about the role.
fn simulation(out: &mut Out<'_>, group: Option<(&str, &str)>, facts: &RegionFacts) {
    match &facts.simulation {
        None => {}
        Some(Err(failure)) => out.push(
            SIMULATION,
            group,
            Status::Error,
            "simulation_unavailable",
            format!(
                "the IAM policy simulator could not be asked ({}): the role's identity side was \
                 evaluated from its policies alone, without SCPs",
                failure.describe()
            ),
            Some(
                "Let the doctor's identity call `iam:SimulatePrincipalPolicy` on the role.".into(),
            ),
            Map::new(),
        ),
        Some(Ok(results)) => {
            let denied: Vec<String> = results
                .iter()
                .filter(|(_, s)| s.decision != "allowed")
                .map(|((action, resource), s)| format!("{action} on {resource}: {}", s.decision))
                .collect();
            let summary: BTreeMap<String, String> = results
                .iter()
                .map(|((action, resource), s)| (format!("{action} {resource}"), s.decision.clone()))
                .collect();
            let ev = evidence([("simulated", json!(summary))]);
            if denied.is_empty() {
                out.push(
                    SIMULATION,
                    group,
                    Status::Healthy,
                    "simulated_allowed",
                    format!(
                        "the simulator allows all {} actions the role needs",
                        results.len()
                    ),
                    None,
                    ev,
                );
            } else {
                out.push(
                    SIMULATION,
                    group,
                    Status::Lag,
                    "simulated_denied",
                    format!(
                        "the simulator denies {} (for a key in the role's account whose key \
                         policy names the role, an IAM denial of kms: actions is harmless)",
                        denied.join("; ")
                    ),
                    Some(
                        "See the key, permissions and queue verdicts for the statements to add."
                            .into(),
                    ),
                    ev,
                );
            }
        }
    }
}
