//! The `doctor` subcommand: read the AWS side, judge it, correlate it with a `validate` result,
//! and report in `validate`'s formats.

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;
use serde_json::{Value, json};

use crate::arn::{RoleArn, SqsQueueArn};
use crate::cli::{DeliveryArgs, Format};
use crate::client::auth::ProcessEnvironment;
use crate::error::{Error, Result};
use crate::report::ci::neutralise;
use crate::report::deliver::{Delivery, deliver};
use crate::report::{Run, Subject};

use super::aws::{self, Scope};
use super::checks::{self, Settings};
use super::correlate::{ValidateResult, correlate};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check the AWS side (the only side the doctor checks today; required, so that a later
    /// side is never checked by surprise).
    #[arg(long)]
    pub aws: bool,

    /// The AWS profile to read with (shared config and credentials files); default: the
    /// standard chain (environment, `AWS_PROFILE`, SSO, web identity, instance role).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// A region to check. Repeatable; default: the regions of `--validate-result`, else the
    /// profile's region.
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,

    /// The connector's IAM role (`arn:aws:iam::ACCOUNT:role/OIDC_…`). Without it the role's
    /// trust, permissions and key access are not checked (and the report says so).
    #[arg(long, value_name = "ARN", value_parser = parse_role)]
    pub role_arn: Option<RoleArn>,

    /// The export bucket, when it is not the publishing destination's.
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,

    /// The connector's queue (ARN or URL), when it is not the one the bucket notifies.
    #[arg(long, value_name = "ARN|URL", value_parser = parse_queue)]
    pub queue: Option<String>,

    /// A `sentinel-kms validate --format json` result: its regions are checked, its troubled
    /// groups are joined to the AWS-side causes, its workspaces name the session the trust
    /// policy must accept.
    #[arg(long, value_name = "FILE")]
    pub validate_result: Option<PathBuf>,

    /// Do not read the newest export object's metadata (`HeadObject` needs `s3:GetObject`).
    #[arg(long)]
    pub no_object_probe: bool,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

fn parse_role(text: &str) -> std::result::Result<RoleArn, String> {
    RoleArn::parse(text.trim()).map_err(|e| e.to_string())
}

/// A queue ARN, or a queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`) turned into one.
fn parse_queue(text: &str) -> std::result::Result<String, String> {
    let text = text.trim();
    if text.starts_with("arn:") {
        return SqsQueueArn::parse(text)
            .map(|arn| arn.to_string())
            .map_err(|e| e.to_string());
    }
    let url = url::Url::parse(text).map_err(|_| {
        format!("`{text}` is neither a queue ARN nor a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)")
    })?;
    let host = url.host_str().unwrap_or_default();
    let region = host
        .strip_prefix("sqs.")
        .and_then(|rest| rest.split('.').next())
        .unwrap_or_default();
    let parts: Vec<&str> = url.path().trim_matches('/').split('/').collect();
    let [account, name] = parts[..] else {
        return Err(format!("`{text}`: a queue URL ends in /ACCOUNT/NAME"));
    };
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    SqsQueueArn::parse(&format!("arn:{partition}:sqs:{region}:{account}:{name}"))
        .map(|arn| arn.to_string())
        .map_err(|e| format!("`{text}`: {e}"))
}

pub async fn run(args: DoctorArgs) -> Result<u8> {
    if !args.aws {
        return Err(Error::usage(
            "say which side to check: `sentinel-kms doctor --aws`",
        ));
    }
    let fail_on = args.delivery.fail_on()?;
    let validate = match &args.validate_result {
        Some(path) => Some(ValidateResult::load(path)?),
        None => None,
    };
    let started_at = Utc::now();
    let config = aws::load_config(args.profile.as_deref()).await;
    let mut regions = args.regions.clone();
    if let Some(validate) = &validate {
        regions.extend(validate.regions());
    }
    if regions.is_empty()
        && let Some(region) = config.region()
    {
        regions.push(region.to_string());
    }
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(Error::usage(
            "no region to check: give --region, a --validate-result with regions, or a profile \
             with a region (AWS_REGION)",
        ));
    }
    let scope = Scope {
        regions,
        role: args.role_arn.clone(),
        bucket: args.bucket.clone(),
        queue: args.queue.clone(),
        object_probe: !args.no_object_probe,
    };
    tracing::info!(regions = ?scope.regions, "reading the AWS side");
    let facts = match aws::read(&config, &scope).await {
        Ok(facts) => facts,
        Err(failure) if failure.message.to_ascii_lowercase().contains("credential") => {
            return Err(Error::Auth(format!(
                "no AWS credentials: {} (set AWS_PROFILE or --profile, or sign in with `aws sso \
                 login`)",
                failure.describe()
            )));
        }
        Err(failure) => {
            return Err(Error::NotEvaluated(format!(
                "cannot tell who the doctor runs as: {}",
                failure.describe()
            )));
        }
    };
    let settings = Settings {
        workspaces: validate
            .as_ref()
            .map(|v| v.workspaces.clone())
            .unwrap_or_default(),
        today: Some(Utc::now().date_naive()),
    };
    let mut verdicts = checks::judge(&facts, &settings);
    let mut diagnoses = validate
        .as_ref()
        .map(|v| correlate(v, &verdicts))
        .unwrap_or_default();
    fail_on.apply(&mut verdicts);

    let environment = ProcessEnvironment;
    let mut delivery = Delivery::new(args.format, &args.delivery, &environment);
    // Policies, names and error messages come from AWS, and a validate result's values from a
    // workspace: in or for a CI system they are neutralised like `validate`'s.
    if delivery.protect {
        verdicts.iter_mut().for_each(neutralise::verdict);
        diagnoses.iter_mut().for_each(neutralise::diagnosis);
    }
    let workspaces = vec![crate::workspaces::Workspace {
        id: facts.caller.account.clone(),
        name: None,
    }];
    let run = Run {
        subject: Subject::AwsAccount,
        checks: &[],
        skipped: &[],
        workspaces: &workspaces,
        verdicts: &verdicts,
        diagnoses: &diagnoses,
        started_at,
        finished_at: Utc::now(),
        interrupted: false,
        fail_on,
        shard: None,
    };
    let protect = delivery.protect;
    let transform = |rendered: String| {
        json_document(
            &rendered,
            &facts.caller,
            &scope,
            validate.as_ref(),
            &args,
            protect,
        )
    };
    delivery.json_transform = Some(&transform);
    deliver(&run, &delivery)
}

/// `validate`'s JSON document, with the doctor's own checks and an `aws` section: which
/// account and regions were read, as whom, for which role. With `protect`, the values that
/// come from AWS, a validate result or the command line are neutralised like the verdicts'.
fn json_document(
    rendered: &str,
    caller: &super::facts::Caller,
    scope: &Scope,
    validate: Option<&ValidateResult>,
    args: &DoctorArgs,
    protect: bool,
) -> String {
    let mut document: Value = serde_json::from_str(rendered).expect("the report is JSON");
    document["checks"] = Value::Array(
        checks::ALL
            .iter()
            .map(|c| json!({ "id": c.id, "title": c.title, "severity": c.severity }))
            .collect(),
    );
    document["workspaces"] = json!(validate.map(|v| v.workspaces.clone()).unwrap_or_default());
    document["aws"] = json!({
        "account": caller.account,
        "caller_arn": caller.arn,
        "profile": args.profile,
        "regions": scope.regions,
        "role_arn": scope.role.as_ref().map(|r| r.as_str()),
        "bucket": scope.bucket,
        "queue": scope.queue,
        "object_probe": scope.object_probe,
        "validate_result": args.validate_result.as_ref().map(|p| p.display().to_string()),
    });
    if protect {
        neutralise::json(&mut document["workspaces"]);
        neutralise::json(&mut document["aws"]);
    }
    if let Some(results) = document["results"].as_array_mut() {
        for result in results {
            if let Some(map) = result.as_object_mut() {
                map.remove("check_file");
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialise");
    text.push('\n');
    text
}
