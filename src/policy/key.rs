//! The KMS keys GuardDuty exports findings with, and who manages each: a customer-managed key's
//! policy can be changed, an AWS-managed key's cannot.

use crate::arn::{KmsAliasArn, KmsKeyArn, Partition};

use super::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportKey {
    /// A customer-managed key: its key policy can grant the role.
    Customer(KmsKeyArn),
    /// An AWS-managed key given by its key ARN (`KeyManager` is `AWS` in `aws kms describe-key`).
    AwsManaged(KmsKeyArn),
    /// An AWS-managed key given by its alias, such as `alias/aws/guardduty`.
    AwsManagedAlias(KmsAliasArn),
}

impl From<KmsKeyArn> for ExportKey {
    fn from(key: KmsKeyArn) -> ExportKey {
        ExportKey::Customer(key)
    }
}

impl ExportKey {
    /// Reads a key ARN, or the alias ARN of an AWS-managed key. `aws_managed` marks a key ARN as
    /// AWS-managed; an `alias/aws/…` alias is AWS-managed whatever it says.
    pub fn parse(text: &str, aws_managed: bool) -> Result<ExportKey, PolicyError> {
        let is_alias = text
            .split(':')
            .nth(5)
            .is_some_and(|r| r.starts_with("alias/"));
        if !is_alias {
            let key = KmsKeyArn::parse(text)?;
            return Ok(if aws_managed {
                ExportKey::AwsManaged(key)
            } else {
                ExportKey::Customer(key)
            });
        }
        ExportKey::alias(KmsAliasArn::parse(text)?)
    }

    /// An AWS-managed key by its alias. The alias of a customer-managed key is refused: IAM and
    /// key policies grant on the key ARN, which the alias hides.
    pub fn alias(alias: KmsAliasArn) -> Result<ExportKey, PolicyError> {
        if alias.is_aws_managed() {
            return Ok(ExportKey::AwsManagedAlias(alias));
        }
        Err(PolicyError::Keys(format!(
            "`{alias}` is the alias of a customer-managed key, and policies grant on the key \
             itself: give the key ARN that `aws kms describe-key --region {} --key-id {alias} \
             --query KeyMetadata.Arn --output text` prints",
            alias.region()
        )))
    }

    /// The ARN as given: the key ARN, or the alias ARN.
    pub fn arn(&self) -> &str {
        match self {
            ExportKey::Customer(key) | ExportKey::AwsManaged(key) => key.as_str(),
            ExportKey::AwsManagedAlias(alias) => alias.as_str(),
        }
    }

    pub fn region(&self) -> &str {
        match self {
            ExportKey::Customer(key) | ExportKey::AwsManaged(key) => key.region(),
            ExportKey::AwsManagedAlias(alias) => alias.region(),
        }
    }

    /// The account that owns the key.
    pub fn account(&self) -> &str {
        match self {
            ExportKey::Customer(key) | ExportKey::AwsManaged(key) => key.account(),
            ExportKey::AwsManagedAlias(alias) => alias.account(),
        }
    }

    pub fn partition(&self) -> Partition {
        match self {
            ExportKey::Customer(key) | ExportKey::AwsManaged(key) => key.partition(),
            ExportKey::AwsManagedAlias(alias) => alias.partition(),
        }
    }

    pub fn is_aws_managed(&self) -> bool {
        !matches!(self, ExportKey::Customer(_))
    }

    /// The key, when its policy can be changed.
    pub fn customer_key(&self) -> Option<&KmsKeyArn> {
        match self {
            ExportKey::Customer(key) => Some(key),
            _ => None,
        }
    }

    /// A short name for file names: the key ID, or the region for an alias.
    pub(crate) fn file_stem(&self) -> String {
        match self {
            ExportKey::Customer(key) | ExportKey::AwsManaged(key) => key.key_id().to_string(),
            ExportKey::AwsManagedAlias(alias) => format!(
                "{}-{}",
                alias.region(),
                alias
                    .alias_name()
                    .trim_start_matches("alias/")
                    .replace('/', "-")
            ),
        }
    }
}
