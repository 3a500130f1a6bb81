//! KMS key ARNs (`arn:aws:kms:REGION:ACCOUNT:key/ID`) and alias ARNs
//! (`arn:aws:kms:REGION:ACCOUNT:alias/NAME`).

use super::{Arn, ArnError, ArnPart, Shape, typed_arn};

const KMS: Shape = Shape {
    service: "kms",
    regional: true,
    account: true,
};

/// A KMS key by its ARN: a key ID (a UUID) or a multi-Region key ID (`mrk-` and 32 hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KmsKeyArn {
    arn: Arn,
}

typed_arn!(KmsKeyArn);

impl KmsKeyArn {
    const KIND: &'static str = "KMS key ARN";

    pub fn parse(text: &str) -> Result<KmsKeyArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(Self::KIND, KMS)?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        let resource = arn.resource();
        if resource.starts_with("alias/") {
            return Err(invalid(format!(
                "`{resource}` is an alias, and policies grant on the key itself: give the key \
                 ARN that `aws kms describe-key --key-id {text} --query KeyMetadata.Arn` prints"
            )));
        }
        let Some(id) = resource.strip_prefix("key/") else {
            return Err(invalid(format!(
                "the resource `{resource}` is not `key/KEY_ID`"
            )));
        };
        if !is_key_id(id) && !is_multi_region_key_id(id) {
            return Err(invalid(format!(
                "the key ID `{id}` is neither a UUID in lower case such as \
                 `1234abcd-12ab-34cd-56ef-1234567890ab` nor a multi-Region key ID \
                 (`mrk-` and 32 hex digits)"
            )));
        }
        Ok(KmsKeyArn { arn })
    }

    pub fn region(&self) -> &str {
        self.arn.region().expect("a KMS key ARN has a region")
    }

    pub fn account(&self) -> &str {
        self.arn.account().expect("a KMS key ARN has an account")
    }

    /// The key ID: the part after `key/`.
    pub fn key_id(&self) -> &str {
        &self.arn.resource()["key/".len()..]
    }

    pub fn is_multi_region(&self) -> bool {
        self.key_id().starts_with("mrk-")
    }
}

/// A KMS alias by its ARN. Aliases under `alias/aws/` belong to AWS-managed keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KmsAliasArn {
    arn: Arn,
}

typed_arn!(KmsAliasArn);

impl KmsAliasArn {
    const KIND: &'static str = "KMS alias ARN";

    pub fn parse(text: &str) -> Result<KmsAliasArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(Self::KIND, KMS)?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        let resource = arn.resource();
        let Some(name) = resource.strip_prefix("alias/") else {
            return Err(invalid(format!(
                "the resource `{resource}` is not `alias/NAME`"
            )));
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-');
        if name.is_empty() || resource.len() > 256 || !name.chars().all(allowed) {
            return Err(invalid(format!(
                "the alias name `{name}` is not 1 to 250 letters, digits, `/`, `_` or `-`"
            )));
        }
        Ok(KmsAliasArn { arn })
    }

    pub fn region(&self) -> &str {
        self.arn.region().expect("a KMS alias ARN has a region")
    }

    pub fn account(&self) -> &str {
        self.arn.account().expect("a KMS alias ARN has an account")
    }

    /// The alias as KMS names it, with its `alias/` prefix: `alias/aws/guardduty`.
    pub fn alias_name(&self) -> &str {
        self.arn.resource()
    }

    /// Whether the alias belongs to an AWS-managed key (`alias/aws/…`), whose key policy AWS
    /// owns and nobody can change.
    pub fn is_aws_managed(&self) -> bool {
        self.alias_name().starts_with("alias/aws/")
    }

    /// Whether this is GuardDuty's AWS-managed key, `alias/aws/guardduty`.
    pub fn is_guardduty_managed(&self) -> bool {
        self.alias_name() == "alias/aws/guardduty"
    }
}

/// A key ID as KMS writes it: a lower-case UUID.
fn is_key_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, length)| group.len() == length && is_lower_hex(group))
}

fn is_multi_region_key_id(id: &str) -> bool {
    id.strip_prefix("mrk-")
        .is_some_and(|hex| hex.len() == 32 && is_lower_hex(hex))
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
