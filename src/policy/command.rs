//! `sentinel-kms policy`: reads a role ARN, the export keys and optionally their current key
//! policies from the command line, builds the [`Remedy`] and prints it. Every bad value is a
//! usage error (exit 2) that names it.

use std::io::Read;
use std::path::Path;

use clap::{ArgGroup, Args, ValueEnum};

use crate::arn::{KmsKeyArn, RoleArn};
use crate::error::{Error, Result, exit};

use super::{CurrentKeyPolicy, ExportKey, Remedy};

/// The doc comments are the `--help` text of `sentinel-kms policy`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("keys").required(true).multiple(true)
    .args(["key_arns", "aws_managed_keys"])))]
pub struct PolicyArgs {
    /// The connector's IAM role, with its path if it has one:
    /// `arn:aws:iam::ACCOUNT:role/NAME` (the role ARN the Sentinel AWS S3 connector was given).
    #[arg(long, value_name = "ARN", value_parser = parse_role)]
    pub role_arn: RoleArn,

    /// A KMS key GuardDuty exports findings with: `arn:aws:kms:REGION:ACCOUNT:key/ID`, or the
    /// alias ARN of the AWS-managed key, `arn:aws:kms:REGION:ACCOUNT:alias/aws/guardduty`.
    /// Repeatable: one per region, or per account.
    #[arg(long = "key-arn", value_name = "ARN")]
    pub key_arns: Vec<String>,

    /// A key GuardDuty exports with that is AWS-managed (`KeyManager` is `AWS` in
    /// `aws kms describe-key`), by its key ARN. Repeatable.
    #[arg(long = "aws-managed-key", value_name = "ARN")]
    pub aws_managed_keys: Vec<String>,

    /// A key's current policy, as `aws kms get-key-policy --query Policy --output text` prints
    /// it (`-` reads standard input), to print the whole policy with the statement merged in:
    /// `FILE` when there is one key, `KEY_ARN=FILE` for each key otherwise. Repeatable.
    #[arg(long = "key-policy", value_name = "[KEY_ARN=]FILE")]
    pub key_policies: Vec<String>,

    #[arg(long, value_enum, default_value_t = PolicyFormat::Text)]
    pub format: PolicyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    /// The policies, statements and commands, for people.
    Text,
    /// One JSON document with stable keys (see the README).
    Json,
}

fn parse_role(text: &str) -> std::result::Result<RoleArn, String> {
    RoleArn::parse(text.trim()).map_err(|error| error.to_string())
}

pub fn run(args: &PolicyArgs) -> Result<u8> {
    let remedy = build(args)?;
    let text = match args.format {
        PolicyFormat::Text => super::text::render(&remedy),
        PolicyFormat::Json => super::json::render(&remedy),
    };
    crate::output::print(&text)?;
    Ok(exit::OK)
}

/// The remedy the arguments describe, with every given key policy merged.
pub fn build(args: &PolicyArgs) -> Result<Remedy> {
    let usage = |error: super::PolicyError| Error::usage(error.to_string());
    let mut keys = Vec::new();
    for text in &args.key_arns {
        keys.push(ExportKey::parse(text.trim(), false).map_err(usage)?);
    }
    for text in &args.aws_managed_keys {
        keys.push(ExportKey::parse(text.trim(), true).map_err(usage)?);
    }
    let mut remedy = Remedy::for_decrypt(&args.role_arn, &keys).map_err(usage)?;

    let mut seen: Vec<KmsKeyArn> = Vec::new();
    for spec in &args.key_policies {
        let (key, file) = key_policy_target(spec, &remedy)?;
        if seen.contains(&key) {
            return Err(Error::usage(format!(
                "`--key-policy` is given twice for `{key}`"
            )));
        }
        remedy.check_mergeable(&key).map_err(usage)?;
        let current = CurrentKeyPolicy::parse(&read_policy(file)?, file).map_err(usage)?;
        remedy.merge_current_policy(&key, &current).map_err(usage)?;
        seen.push(key);
    }
    Ok(remedy)
}

/// Splits `KEY_ARN=FILE`, or pairs a bare `FILE` with the only key.
fn key_policy_target<'a>(spec: &'a str, remedy: &Remedy) -> Result<(KmsKeyArn, &'a str)> {
    if spec.starts_with("arn:") {
        let Some((arn, file)) = spec.split_once('=') else {
            return Err(Error::usage(format!(
                "`--key-policy {spec}` names a key but no file: give `KEY_ARN=FILE`"
            )));
        };
        let key = KmsKeyArn::parse(arn).map_err(|error| Error::usage(error.to_string()))?;
        return Ok((key, file));
    }
    match &remedy.keys[..] {
        [only] => match only.key.customer_key() {
            Some(key) => Ok((key.clone(), spec)),
            None => Err(Error::usage(format!(
                "`--key-policy {spec}`: `{}` is an AWS-managed key, whose policy cannot be \
                 changed, so there is nothing to merge",
                only.key.arn()
            ))),
        },
        keys => Err(Error::usage(format!(
            "`--key-policy {spec}` does not say which of the {} keys it belongs to: give \
             `KEY_ARN=FILE`",
            keys.len()
        ))),
    }
}

fn read_policy(file: &str) -> Result<String> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(Path::new(file)).map(|content| text = content)
    };
    read.map_err(|error| Error::usage(format!("cannot read the key policy `{file}`: {error}")))?;
    Ok(text)
}
