//! Amazon Resource Names: the generic `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` form,
//! parsed and validated, and one type per kind of resource the tool names (KMS keys and aliases,
//! IAM roles, STS sessions, S3 buckets and objects, SQS queues).
//!
//! Parsing is strict: a wrong partition, a region in an ARN that has none, an account that is not
//! twelve digits or a resource of the wrong shape is an [`ArnError`] that quotes the ARN and says
//! which part is wrong. Policies compare ARNs as text, so a value accepted here is kept exactly
//! as given.

mod iam;
mod kms;
mod s3;
mod sqs;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use iam::{AssumedRoleArn, RoleArn};
pub use kms::{KmsAliasArn, KmsKeyArn};
pub use s3::{S3BucketArn, S3ObjectArn};
pub use sqs::SqsQueueArn;

/// The AWS partitions the tool supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    pub fn name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    fn from_name(name: &str) -> Option<Partition> {
        match name {
            "aws" => Some(Partition::Aws),
            "aws-cn" => Some(Partition::AwsCn),
            "aws-us-gov" => Some(Partition::AwsUsGov),
            _ => None,
        }
    }

    /// The partition a region belongs to, judged by its name.
    fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The part of an ARN a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArnPart {
    /// The overall shape: the `arn:` prefix, the six colon-separated fields, stray whitespace.
    Layout,
    Partition,
    Service,
    Region,
    Account,
    Resource,
}

/// A malformed ARN, or one of another kind than expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArnError {
    /// The ARN as given.
    pub arn: String,
    /// Where the problem is.
    pub part: ArnPart,
    message: String,
}

impl ArnError {
    /// "`ARN` is not a valid KIND: PROBLEM".
    pub(crate) fn invalid(
        arn: &str,
        kind: &str,
        part: ArnPart,
        problem: impl fmt::Display,
    ) -> Self {
        ArnError {
            arn: arn.to_string(),
            part,
            message: format!("`{arn}` is not a valid {kind}: {problem}"),
        }
    }

    /// A message that is not of the "is not a valid" form, e.g. a conversion that lacks a fact.
    pub(crate) fn other(arn: &str, part: ArnPart, message: String) -> Self {
        ArnError {
            arn: arn.to_string(),
            part,
            message,
        }
    }
}

/// A syntactically valid ARN of any service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    text: String,
    partition: Partition,
    service: String,
    region: String,
    account: String,
    resource: String,
}

impl Arn {
    /// Parses `text` as an ARN of any kind; `kind` names what was expected in error messages.
    fn parse_as(text: &str, kind: &str) -> Result<Arn, ArnError> {
        let invalid = |part, problem: String| ArnError::invalid(text, kind, part, problem);
        if text.chars().any(char::is_whitespace) {
            return Err(invalid(ArnPart::Layout, "it contains whitespace".into()));
        }
        let Some(rest) = text.strip_prefix("arn:") else {
            return Err(invalid(ArnPart::Layout, "an ARN starts with `arn:`".into()));
        };
        let fields: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = fields[..] else {
            return Err(invalid(
                ArnPart::Layout,
                format!(
                    "it has {} of the six colon-separated fields \
                     `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`",
                    fields.len() + 1
                ),
            ));
        };

        let Some(partition) = Partition::from_name(partition) else {
            return Err(invalid(
                ArnPart::Partition,
                format!("the partition `{partition}` is not `aws`, `aws-cn` or `aws-us-gov`"),
            ));
        };
        if !is_service_name(service) {
            return Err(invalid(
                ArnPart::Service,
                format!("the service `{service}` is not a service name such as `kms` or `iam`"),
            ));
        }
        if !region.is_empty() {
            check_region(region, partition).map_err(|problem| invalid(ArnPart::Region, problem))?;
        }
        if !account.is_empty() && account != "aws" && !is_account_id(account) {
            return Err(invalid(
                ArnPart::Account,
                format!("the account `{account}` is not a 12-digit AWS account ID"),
            ));
        }
        if resource.is_empty() {
            return Err(invalid(ArnPart::Resource, "the resource is empty".into()));
        }
        Ok(Arn {
            text: text.to_string(),
            partition,
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn partition(&self) -> Partition {
        self.partition
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// The region; `None` for global resources (IAM, STS, S3 buckets).
    pub fn region(&self) -> Option<&str> {
        Some(self.region.as_str()).filter(|region| !region.is_empty())
    }

    /// The owning account; `None` where the ARN has none (S3 buckets and objects).
    pub fn account(&self) -> Option<&str> {
        Some(self.account.as_str()).filter(|account| !account.is_empty())
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Checks the service, and that a region and an account are present or absent, as a kind
    /// of ARN requires. Returns the ARN for the typed constructors to finish.
    fn expect(self, kind: &str, shape: Shape) -> Result<Arn, ArnError> {
        let invalid = |part, problem: String| ArnError::invalid(&self.text, kind, part, problem);
        if self.service != shape.service {
            return Err(invalid(
                ArnPart::Service,
                format!("the service is `{}`, not `{}`", self.service, shape.service),
            ));
        }
        match (shape.regional, self.region()) {
            (true, None) => {
                return Err(invalid(
                    ArnPart::Region,
                    "the region is missing (such as `us-east-1`)".into(),
                ));
            }
            (false, Some(region)) => {
                return Err(invalid(
                    ArnPart::Region,
                    format!(
                        "{} ARNs have no region, but this one has `{region}`",
                        shape.service
                    ),
                ));
            }
            _ => {}
        }
        match (shape.account, self.account()) {
            (true, None) => {
                return Err(invalid(
                    ArnPart::Account,
                    "the 12-digit account ID is missing".into(),
                ));
            }
            (true, Some("aws")) => {
                return Err(invalid(
                    ArnPart::Account,
                    "the account is `aws`, not a 12-digit account ID".into(),
                ));
            }
            (false, Some(account)) => {
                return Err(invalid(
                    ArnPart::Account,
                    format!(
                        "{} ARNs have no account, but this one has `{account}`",
                        shape.service
                    ),
                ));
            }
            _ => {}
        }
        Ok(self)
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(text: &str) -> Result<Arn, ArnError> {
        Arn::parse_as(text, "ARN")
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a kind of ARN requires besides a valid generic form.
struct Shape {
    service: &'static str,
    regional: bool,
    account: bool,
}

/// `true` for twelve ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_service_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A region name such as `us-east-1`, `us-gov-west-1` or `cn-north-1`, in the right partition.
fn check_region(region: &str, partition: Partition) -> Result<(), String> {
    let words: Vec<&str> = region.split('-').collect();
    let well_formed = words.len() >= 3
        && words[0].len() == 2
        && words[..words.len() - 1]
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && words[words.len() - 1].len() <= 2
        && words[words.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !words[words.len() - 1].is_empty();
    if !well_formed {
        return Err(format!(
            "the region `{region}` is not a region name such as `us-east-1`"
        ));
    }
    let expected = Partition::of_region(region);
    if expected != partition {
        return Err(format!(
            "the region `{region}` belongs to the partition `{expected}`, not `{partition}`"
        ));
    }
    Ok(())
}

/// Implements `Display`, `FromStr` and the common accessors for a typed ARN wrapping `arn: Arn`.
macro_rules! typed_arn {
    ($type:ident) => {
        impl $type {
            pub fn as_arn(&self) -> &$crate::arn::Arn {
                &self.arn
            }

            pub fn as_str(&self) -> &str {
                self.arn.as_str()
            }

            pub fn partition(&self) -> $crate::arn::Partition {
                self.arn.partition()
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.arn.as_str())
            }
        }

        impl std::str::FromStr for $type {
            type Err = $crate::arn::ArnError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $type::parse(text)
            }
        }
    };
}
pub(crate) use typed_arn;
