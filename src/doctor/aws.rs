//! Reading the facts from AWS through the SDK, with read-only calls only (`Get*`, `List*`,
//! `Describe*`, `Head*` and the IAM policy simulator). Every call that fails is kept as a
//! [`Failure`] next to what was read; nothing here judges.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::arn::{Partition, RoleArn};

use super::evaluate::{Grant, Simulated};
use super::facts::*;

/// What to look at, from the command line.
#[derive(Debug, Clone)]
pub struct Scope {
    pub regions: Vec<String>,
    pub role: Option<RoleArn>,
    pub bucket: Option<String>,
    /// A queue ARN.
    pub queue: Option<String>,
    pub object_probe: bool,
}

/// Loads credentials and the default region from the standard chain (environment, profile,
/// SSO, process, web identity, container, instance).
pub async fn load_config(profile: Option<&str>) -> SdkConfig {
    // A pinned behaviour version: a crate update cannot change retry or timeout defaults.
    let mut loader = aws_config::defaults(BehaviorVersion::v2026_11_17());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// An endpoint override is in force (a local stand-in): S3 must then use path-style addresses.
fn endpoint_overridden(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
        || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| std::env::var_os(name).is_some())
}

fn failure<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    let code = error.code().map(str::to_string);
    let message = match (&code, error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => match status {
            Some(status) => format!("HTTP {status}"),
            None => error_chain(&error),
        },
    };
    let code = code.unwrap_or_default();
    let kind = if status == Some(403)
        || code.starts_with("AccessDenied")
        || code.contains("Unauthorized")
        || code == "AuthorizationError"
    {
        FailureKind::AccessDenied
    } else if status == Some(404)
        || ["NotFound", "NoSuch", "NonExistent", "DoesNotExist"]
            .iter()
            .any(|part| code.contains(part))
    {
        FailureKind::NotFound
    } else {
        FailureKind::Other
    };
    Failure {
        operation: operation.to_string(),
        kind,
        message,
    }
}

/// The error and its causes on one line, for failures that carry no service error code.
fn error_chain<E: std::error::Error + 'static>(error: &SdkError<E, HttpResponse>) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads everything the checks need.
pub async fn read(config: &SdkConfig, scope: &Scope) -> Result<Facts, Failure> {
    // STS is asked in the profile's region, or in the first region checked when it has none.
    let region = config
        .region()
        .cloned()
        .or_else(|| scope.regions.first().map(|r| Region::new(r.clone())));
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .region(region)
            .build(),
    );
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| failure("sts:GetCallerIdentity", e))?;
    let caller = Caller {
        account: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    };
    let role = match &scope.role {
        Some(arn) => Some(RoleFacts {
            arn: arn.clone(),
            details: read_role(config, arn).await,
        }),
        None => None,
    };
    let reads = scope
        .regions
        .iter()
        .map(|region| read_region(config, scope, &caller, role.as_ref(), region));
    let regions = futures::future::join_all(reads).await;
    Ok(Facts {
        caller,
        role,
        regions,
    })
}

fn iam_client(config: &SdkConfig, partition: Partition) -> aws_sdk_iam::Client {
    let region = match partition {
        Partition::Aws => "us-east-1",
        Partition::AwsCn => "cn-north-1",
        Partition::AwsUsGov => "us-gov-west-1",
    };
    aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(config)
            .region(Region::new(region))
            .build(),
    )
}

/// IAM returns policy documents URL-encoded.
fn iam_document(operation: &str, encoded: &str) -> Result<Value, Failure> {
    let decoded = percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&decoded).map_err(|error| Failure {
        operation: operation.to_string(),
        kind: FailureKind::Other,
        message: format!("the policy document is not JSON: {error}"),
    })
}

async fn read_role(config: &SdkConfig, arn: &RoleArn) -> Fetched<RoleDetails> {
    let iam = iam_client(config, arn.partition());
    let answer = iam
        .get_role()
        .role_name(arn.name())
        .send()
        .await
        .map_err(|e| failure("iam:GetRole", e))?;
    let Some(role) = answer.role() else {
        return Err(Failure {
            operation: "iam:GetRole".into(),
            kind: FailureKind::Other,
            message: "the answer holds no role".into(),
        });
    };
    let trust_policy = iam_document(
        "iam:GetRole",
        role.assume_role_policy_document().unwrap_or("{}"),
    )?;
    let mut identity = Vec::new();
    let mut unreadable = Vec::new();

    match iam.list_role_policies().role_name(arn.name()).send().await {
        Err(e) => unreadable.push(failure("iam:ListRolePolicies", e)),
        Ok(list) => {
            for name in list.policy_names() {
                match iam
                    .get_role_policy()
                    .role_name(arn.name())
                    .policy_name(name)
                    .send()
                    .await
                {
                    Err(e) => unreadable.push(failure("iam:GetRolePolicy", e)),
                    Ok(policy) => {
                        match iam_document("iam:GetRolePolicy", policy.policy_document()) {
                            Ok(document) => identity
                                .push((format!("inline policy `{name}` of the role"), document)),
                            Err(f) => unreadable.push(f),
                        }
                    }
                }
            }
        }
    }
    match iam
        .list_attached_role_policies()
        .role_name(arn.name())
        .send()
        .await
    {
        Err(e) => unreadable.push(failure("iam:ListAttachedRolePolicies", e)),
        Ok(list) => {
            for attached in list.attached_policies() {
                let Some(policy_arn) = attached.policy_arn() else {
                    continue;
                };
                match managed_policy(&iam, policy_arn).await {
                    Ok(document) => {
                        identity.push((format!("managed policy `{policy_arn}`"), document))
                    }
                    Err(f) => unreadable.push(f),
                }
            }
        }
    }
    let boundary = match role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        None => None,
        Some(policy_arn) => match managed_policy(&iam, policy_arn).await {
            Ok(document) => Some((format!("permissions boundary `{policy_arn}`"), document)),
            Err(f) => {
                unreadable.push(f);
                None
            }
        },
    };
    let mut providers = Vec::new();
    for provider in federated_principals(&trust_policy) {
        let read = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&provider)
            .send()
            .await
            .map_err(|e| failure("iam:GetOpenIDConnectProvider", e))
            .map(|answer| OidcProvider {
                url: answer.url().unwrap_or_default().to_string(),
                client_ids: answer.client_id_list().to_vec(),
            });
        providers.push((provider, read));
    }
    Ok(RoleDetails {
        id: role.role_id().to_string(),
        trust_policy,
        identity,
        unreadable,
        boundary,
        last_used: role
            .role_last_used()
            .and_then(|used| used.last_used_date())
            .and_then(smithy_time),
        providers,
    })
}

fn smithy_time(time: &aws_sdk_sts::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

/// The `Principal.Federated` values of a trust policy.
fn federated_principals(trust: &Value) -> BTreeSet<String> {
    super::evaluate::statements(trust)
        .into_iter()
        .filter_map(|s| s["Principal"].get("Federated"))
        .filter_map(crate::policy::document::strings)
        .flatten()
        .filter(|p| p.contains(":oidc-provider/"))
        .map(str::to_string)
        .collect()
}

async fn managed_policy(iam: &aws_sdk_iam::Client, arn: &str) -> Fetched<Value> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| failure("iam:GetPolicy", e))?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1");
    let answer = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| failure("iam:GetPolicyVersion", e))?;
    let document = answer
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or("{}");
    iam_document("iam:GetPolicyVersion", document)
}

async fn read_region(
    config: &SdkConfig,
    scope: &Scope,
    caller: &Caller,
    role: Option<&RoleFacts>,
    region: &str,
) -> RegionFacts {
    let mut facts = RegionFacts {
        region: region.to_string(),
        detector: Ok(None),
        administrator: None,
        destination: None,
        key: None,
        bucket: None,
        queue: None,
        simulation: None,
    };
    let guardduty = aws_sdk_guardduty::Client::from_conf(
        aws_sdk_guardduty::config::Builder::from(config)
            .region(Region::new(region.to_string()))
            .build(),
    );
    facts.detector = read_detector(&guardduty).await;
    let detector_id = match &facts.detector {
        Ok(Some(detector)) if detector.status == "ENABLED" => detector.id.clone(),
        _ => return facts,
    };
    facts.destination = Some(read_destination(&guardduty, &detector_id).await);
    if let Some(Ok(None)) = &facts.destination {
        facts.administrator = read_administrator(&guardduty, &detector_id).await;
    }
    let Some(Ok(Some(destination))) = &facts.destination else {
        return facts;
    };
    let destination = destination.clone();
    if let Some(key) = &destination.kms_key_arn {
        let key_region = key
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .unwrap_or(region);
        facts.key = Some(read_key(config, key_region, key, &caller.account).await);
    }
    let (bucket_name, prefix) = match (&scope.bucket, destination.bucket_and_prefix()) {
        (Some(bucket), found) => (
            bucket.clone(),
            found.map(|(_, prefix)| prefix).unwrap_or_default(),
        ),
        (None, Some(found)) => found,
        (None, None) => return facts,
    };
    let bucket = read_bucket(config, scope, caller, region, &bucket_name, &prefix).await;
    let queue_arn = scope.queue.clone().or_else(|| match &bucket.notifications {
        Ok(notifications) => notifications
            .queues
            .iter()
            .find(|n| n.events.iter().any(|e| e.starts_with("s3:ObjectCreated")))
            .map(|n| n.queue_arn.clone()),
        Err(_) => None,
    });
    if let Some(queue_arn) = queue_arn {
        facts.queue = Some(read_queue(config, &queue_arn, &caller.account).await);
    }
    if let Some(role) = role.filter(|r| r.details.is_ok()) {
        facts.simulation = Some(simulate(config, &role.arn, &facts, &bucket, region).await);
    }
    facts.bucket = Some(bucket);
    facts
}

async fn read_detector(guardduty: &aws_sdk_guardduty::Client) -> Fetched<Option<Detector>> {
    let list = guardduty
        .list_detectors()
        .send()
        .await
        .map_err(|e| failure("guardduty:ListDetectors", e))?;
    let Some(id) = list.detector_ids().first() else {
        return Ok(None);
    };
    let detector = guardduty
        .get_detector()
        .detector_id(id)
        .send()
        .await
        .map_err(|e| failure("guardduty:GetDetector", e))?;
    Ok(Some(Detector {
        id: id.clone(),
        status: detector
            .status()
            .map_or("UNKNOWN", |s| s.as_str())
            .to_string(),
        frequency: detector
            .finding_publishing_frequency()
            .map(|f| f.as_str().to_string()),
    }))
}

/// The GuardDuty administrator account, for a member account (whose findings the
/// administrator's destination exports). A failure here only loses that hint, so it is logged.
async fn read_administrator(
    guardduty: &aws_sdk_guardduty::Client,
    detector: &str,
) -> Option<String> {
    match guardduty
        .get_administrator_account()
        .detector_id(detector)
        .send()
        .await
    {
        Ok(answer) => answer
            .administrator()
            .filter(|a| a.relationship_status() == Some("Enabled"))
            .and_then(|a| a.account_id())
            .map(str::to_string),
        Err(e) => {
            tracing::info!(
                "{}",
                failure("guardduty:GetAdministratorAccount", e).describe()
            );
            None
        }
    }
}

async fn read_destination(
    guardduty: &aws_sdk_guardduty::Client,
    detector: &str,
) -> Fetched<Option<Destination>> {
    let list = guardduty
        .list_publishing_destinations()
        .detector_id(detector)
        .send()
        .await
        .map_err(|e| failure("guardduty:ListPublishingDestinations", e))?;
    let Some(id) = list
        .destinations()
        .iter()
        .find_map(|d| d.destination_id().map(str::to_string))
    else {
        return Ok(None);
    };
    let answer = guardduty
        .describe_publishing_destination()
        .detector_id(detector)
        .destination_id(&id)
        .send()
        .await
        .map_err(|e| failure("guardduty:DescribePublishingDestination", e))?;
    let properties = answer.destination_properties();
    Ok(Some(Destination {
        id,
        status: answer
            .status()
            .map_or("UNKNOWN", |s| s.as_str())
            .to_string(),
        failing_since: answer
            .publishing_failure_start_timestamp()
            .filter(|&ms| ms > 0)
            .and_then(DateTime::from_timestamp_millis),
        destination_arn: properties
            .and_then(|p| p.destination_arn())
            .unwrap_or_default()
            .to_string(),
        kms_key_arn: properties.and_then(|p| p.kms_key_arn()).map(str::to_string),
        expected_bucket_owner: properties
            .and_then(|p| p.expected_bucket_owner())
            .map(str::to_string),
    }))
}

fn kms_client(config: &SdkConfig, region: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(config)
            .region(Region::new(region.to_string()))
            .build(),
    )
}

async fn read_key(config: &SdkConfig, region: &str, named: &str, caller_account: &str) -> KeyFacts {
    let kms = kms_client(config, region);
    let metadata = kms
        .describe_key()
        .key_id(named)
        .send()
        .await
        .map_err(|e| failure("kms:DescribeKey", e))
        .and_then(|answer| {
            let m = answer.key_metadata().ok_or_else(|| Failure {
                operation: "kms:DescribeKey".into(),
                kind: FailureKind::Other,
                message: "the answer holds no key metadata".into(),
            })?;
            let arn = m.arn().unwrap_or(named).to_string();
            Ok(KeyMetadata {
                account: m.aws_account_id().unwrap_or_default().to_string(),
                region: arn.split(':').nth(3).unwrap_or(region).to_string(),
                arn,
                state: m.key_state().map_or("Unknown", |s| s.as_str()).to_string(),
                spec: m.key_spec().map_or("Unknown", |s| s.as_str()).to_string(),
                usage: m.key_usage().map_or("", |s| s.as_str()).to_string(),
                manager: m
                    .key_manager()
                    .map_or("Unknown", |s| s.as_str())
                    .to_string(),
            })
        });
    let (policy, grants) = match &metadata {
        Ok(m) if m.account == caller_account => {
            let policy = kms
                .get_key_policy()
                .key_id(&m.arn)
                .policy_name("default")
                .send()
                .await
                .map_err(|e| failure("kms:GetKeyPolicy", e))
                .and_then(|answer| {
                    serde_json::from_str(answer.policy().unwrap_or("{}")).map_err(|error| Failure {
                        operation: "kms:GetKeyPolicy".into(),
                        kind: FailureKind::Other,
                        message: format!("the key policy is not JSON: {error}"),
                    })
                });
            let grants = read_grants(&kms, &m.arn).await;
            (Some(policy), Some(grants))
        }
        _ => (None, None),
    };
    KeyFacts {
        named: named.to_string(),
        metadata,
        policy,
        grants,
    }
}

async fn read_grants(kms: &aws_sdk_kms::Client, key: &str) -> Fetched<Vec<Grant>> {
    let answer = kms
        .list_grants()
        .key_id(key)
        .send()
        .await
        .map_err(|e| failure("kms:ListGrants", e))?;
    let to_map = |map: Option<&std::collections::HashMap<String, String>>| {
        map.map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        })
    };
    Ok(answer
        .grants()
        .iter()
        .map(|g| Grant {
            id: g.grant_id().unwrap_or_default().to_string(),
            grantee: g.grantee_principal().unwrap_or_default().to_string(),
            operations: g
                .operations()
                .iter()
                .map(|o| o.as_str().to_string())
                .collect(),
            context_subset: to_map(g.constraints().and_then(|c| c.encryption_context_subset())),
            context_equals: to_map(g.constraints().and_then(|c| c.encryption_context_equals())),
        })
        .collect())
}

fn s3_client(config: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .region(Region::new(region.to_string()))
            .force_path_style(endpoint_overridden(config))
            .build(),
    )
}

async fn read_bucket(
    config: &SdkConfig,
    scope: &Scope,
    caller: &Caller,
    region: &str,
    name: &str,
    prefix: &str,
) -> BucketFacts {
    let probe = s3_client(config, region);
    // Asking with the caller's account as the expected owner tells whose bucket it is: S3
    // refuses (403) when another account owns it.
    let (location, owned_by_caller) = match probe
        .get_bucket_location()
        .bucket(name)
        .expected_bucket_owner(&caller.account)
        .send()
        .await
    {
        Ok(answer) => (Ok(answer), Some(true)),
        Err(first) => match probe.get_bucket_location().bucket(name).send().await {
            Ok(answer) => (Ok(answer), Some(false)),
            Err(_) => (Err(failure("s3:GetBucketLocation", first)), None),
        },
    };
    let bucket_region =
        location.map(
            |answer| match answer.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(other) => other.to_string(),
            },
        );
    let s3 = s3_client(config, bucket_region.as_deref().unwrap_or(region));
    let encryption = match s3.get_bucket_encryption().bucket(name).send().await {
        Ok(answer) => Ok(answer
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .map(|rule| {
                let default = rule.apply_server_side_encryption_by_default();
                BucketEncryption {
                    algorithm: default
                        .map(|d| d.sse_algorithm().as_str().to_string())
                        .unwrap_or_default(),
                    key: default
                        .and_then(|d| d.kms_master_key_id())
                        .map(str::to_string),
                    bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                }
            })),
        Err(e) => {
            let f = failure("s3:GetEncryptionConfiguration", e);
            if f.kind == FailureKind::NotFound {
                Ok(None)
            } else {
                Err(f)
            }
        }
    };
    let notifications = s3
        .get_bucket_notification_configuration()
        .bucket(name)
        .send()
        .await
        .map_err(|e| failure("s3:GetBucketNotification", e))
        .map(|answer| Notifications {
            queues: answer
                .queue_configurations()
                .iter()
                .map(|q| {
                    let rule = |wanted: &str| {
                        q.filter()
                            .and_then(|f| f.key())
                            .map(|k| k.filter_rules())
                            .unwrap_or_default()
                            .iter()
                            .find(|r| {
                                r.name()
                                    .is_some_and(|n| n.as_str().eq_ignore_ascii_case(wanted))
                            })
                            .and_then(|r| r.value())
                            .unwrap_or_default()
                            .to_string()
                    };
                    QueueNotification {
                        id: q.id().map(str::to_string),
                        queue_arn: q.queue_arn().to_string(),
                        events: q.events().iter().map(|e| e.as_str().to_string()).collect(),
                        prefix: rule("prefix"),
                        suffix: rule("suffix"),
                    }
                })
                .collect(),
            topics: answer
                .topic_configurations()
                .iter()
                .map(|t| t.topic_arn().to_string())
                .collect(),
            eventbridge: answer.event_bridge_configuration().is_some(),
        });
    let folders = read_folders(&s3, name, prefix).await;
    let newest_object = if scope.object_probe {
        let folder = format!("{prefix}AWSLogs/{}/GuardDuty/{region}/", caller.account);
        Some(newest_object(&s3, name, &folder).await)
    } else {
        None
    };
    BucketFacts {
        name: name.to_string(),
        prefix: prefix.to_string(),
        region: bucket_region,
        owned_by_caller,
        encryption,
        notifications,
        folders,
        newest_object,
    }
}

/// The sub-folders of `prefix` (with delimiter `/`), at most ten pages of them.
async fn list_folders(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Fetched<Vec<String>> {
    let mut folders = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let answer = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| failure("s3:ListBucket", e))?;
        folders.extend(
            answer
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(|p| p[prefix.len()..].trim_end_matches('/').to_string()),
        );
        token = answer.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(folders)
}

/// `(account, region)` for every `PREFIX/AWSLogs/ACCOUNT/GuardDuty/REGION/` folder.
async fn read_folders(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Fetched<Vec<(String, String)>> {
    let root = format!("{prefix}AWSLogs/");
    let mut folders = Vec::new();
    for account in list_folders(s3, bucket, &root).await? {
        if !crate::arn::is_account_id(&account) {
            continue;
        }
        let guardduty = format!("{root}{account}/GuardDuty/");
        for region in list_folders(s3, bucket, &guardduty).await? {
            folders.push((account.clone(), region));
        }
    }
    Ok(folders)
}

/// The newest object of a `…/GuardDuty/REGION/` folder, following the newest year, month and
/// day folders down, and its encryption (`HeadObject`).
async fn newest_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    folder: &str,
) -> Fetched<Option<ExportObject>> {
    let mut prefix = folder.to_string();
    for _ in 0..3 {
        let Some(newest) = list_folders(s3, bucket, &prefix).await?.into_iter().max() else {
            return Ok(None);
        };
        prefix = format!("{prefix}{newest}/");
    }
    let mut newest: Option<(String, Option<DateTime<Utc>>)> = None;
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let answer = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| failure("s3:ListBucket", e))?;
        for object in answer.contents() {
            let time = object.last_modified().and_then(smithy_time);
            if newest.as_ref().is_none_or(|(_, t)| time > *t)
                && let Some(key) = object.key()
            {
                newest = Some((key.to_string(), time));
            }
        }
        token = answer.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let Some((key, last_modified)) = newest else {
        return Ok(None);
    };
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| failure("s3:GetObject (HeadObject)", e))?;
    Ok(Some(ExportObject {
        key,
        last_modified,
        kms_key: head.ssekms_key_id().map(str::to_string),
        bucket_key: head.bucket_key_enabled().unwrap_or(false),
    }))
}

async fn read_queue(config: &SdkConfig, arn: &str, caller_account: &str) -> QueueFacts {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (region, account, name) = match parts[..] {
        [_, _, _, region, account, name] => (region, account, name),
        _ => ("", "", ""),
    };
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(config)
            .region(Region::new(region.to_string()))
            .build(),
    );
    let attributes = async {
        let url = sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| failure("sqs:GetQueueUrl", e))?;
        let answer = sqs
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap_or_default())
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| failure("sqs:GetQueueAttributes", e))?;
        let map = answer.attributes().cloned().unwrap_or_default();
        let get = |name: &str| {
            map.get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
                .cloned()
        };
        let count = |name: &str| get(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        let policy = match get("Policy") {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|error| Failure {
                operation: "sqs:GetQueueAttributes".into(),
                kind: FailureKind::Other,
                message: format!("the queue policy is not JSON: {error}"),
            })?),
        };
        Ok(QueueAttributes {
            policy,
            visible: count("ApproximateNumberOfMessages"),
            in_flight: count("ApproximateNumberOfMessagesNotVisible"),
            kms_key: get("KmsMasterKeyId").filter(|k| !k.is_empty()),
            fifo: get("FifoQueue").is_some_and(|v| v == "true"),
        })
    }
    .await;
    let key = match &attributes {
        Ok(QueueAttributes {
            kms_key: Some(key), ..
        }) if !key.contains("alias/aws/sqs") => {
            Some(read_key(config, region, key, caller_account).await)
        }
        _ => None,
    };
    QueueFacts {
        arn: arn.to_string(),
        attributes,
        key,
    }
}

/// Asks the IAM policy simulator about what the role needs in this region: decrypt and describe
/// the key, read an export object, poll the queue.
async fn simulate(
    config: &SdkConfig,
    role: &RoleArn,
    facts: &RegionFacts,
    bucket: &BucketFacts,
    region: &str,
) -> Fetched<BTreeMap<(String, String), Simulated>> {
    use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
    let iam = iam_client(config, role.partition());
    let bucket_region = bucket.region.as_deref().unwrap_or(region);
    let mut questions: Vec<(Vec<&str>, String, Vec<ContextEntry>)> = Vec::new();
    let entry = |name: &str, value: &str| {
        ContextEntry::builder()
            .context_key_name(name)
            .context_key_values(value)
            .context_key_type(ContextKeyTypeEnum::String)
            .build()
    };
    if let Some(Ok(metadata)) = facts.key.as_ref().map(|k| &k.metadata) {
        questions.push((
            vec!["kms:Decrypt", "kms:DescribeKey"],
            metadata.arn.clone(),
            vec![
                entry(
                    "kms:ViaService",
                    &format!("s3.{bucket_region}.amazonaws.com"),
                ),
                entry("kms:CallerAccount", role.account()),
            ],
        ));
    }
    let object_key = match &bucket.newest_object {
        Some(Ok(Some(object))) => object.key.clone(),
        _ => format!(
            "{}AWSLogs/{}/GuardDuty/{region}/example.jsonl.gz",
            bucket.prefix,
            role.account()
        ),
    };
    questions.push((
        vec!["s3:GetObject"],
        format!("arn:{}:s3:::{}/{object_key}", role.partition(), bucket.name),
        Vec::new(),
    ));
    if let Some(queue) = &facts.queue {
        questions.push((
            crate::policy::statements::QUEUE_ACTIONS.to_vec(),
            queue.arn.clone(),
            Vec::new(),
        ));
    }
    let mut results = BTreeMap::new();
    for (actions, resource, context) in questions {
        let answer = iam
            .simulate_principal_policy()
            .policy_source_arn(role.as_str())
            .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()))
            .resource_arns(&resource)
            .set_context_entries(Some(context))
            .send()
            .await
            .map_err(|e| failure("iam:SimulatePrincipalPolicy", e))?;
        for result in answer.evaluation_results() {
            results.insert(
                (
                    result.eval_action_name().to_string(),
                    result.eval_resource_name().unwrap_or(&resource).to_string(),
                ),
                Simulated {
                    decision: result.eval_decision().as_str().to_string(),
                    allowed_by_organizations: result
                        .organizations_decision_detail()
                        .map(|d| d.allowed_by_organizations()),
                    missing_context: result.missing_context_values().to_vec(),
                    matched: result
                        .matched_statements()
                        .iter()
                        .filter_map(|s| s.source_policy_id().map(str::to_string))
                        .collect(),
                },
            );
        }
    }
    Ok(results)
}
