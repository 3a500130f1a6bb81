//! A remedy: everything one role needs to decrypt a set of export keys, built from values found
//! at run time, ready for [`super::text`] and [`super::json`] to render.

use serde_json::Value;

use crate::arn::{KmsKeyArn, RoleArn};

use super::merge::{MergedPolicy, merge};
use super::statements::{KEY_STATEMENT_SID, identity_policy, new_key_policy, role_statement};
use super::steps::{self, Step};
use super::text::capitalise;
use super::{CurrentKeyPolicy, ExportKey, IDENTITY_POLICY_NAME, PolicyError};

/// The file name the text output suggests for the identity policy.
pub const IDENTITY_POLICY_FILE: &str = "identity-policy.json";

#[derive(Debug, Clone, PartialEq)]
pub struct Remedy {
    pub role: RoleArn,
    /// The role's IAM policy; `None` when every key is AWS-managed.
    pub identity_policy: Option<IdentityPolicy>,
    /// One entry per key, in ARN order.
    pub keys: Vec<KeyRemedy>,
    /// Checks that concern the role rather than one key.
    pub verify: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityPolicy {
    /// The inline policy's name.
    pub name: &'static str,
    pub document: Value,
    pub apply: Step,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRemedy {
    pub key: ExportKey,
    /// The key is in another account than the role: both policies are then required.
    pub cross_account: bool,
    pub change: KeyChange,
    /// Why this change, and what the two accounts each need.
    pub notes: Vec<String>,
    pub verify: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyChange {
    /// Add `statement` to the key policy. `merged` is the whole policy to put, once the current
    /// one is known; until then `fetch` saves the current one.
    AddStatement {
        statement: Value,
        merged: Option<MergedPolicy>,
        fetch: Step,
    },
    /// The key is AWS-managed and its policy cannot change: export with a new customer-managed
    /// key that has `new_key_policy`.
    MoveToCustomerKey {
        new_key_policy: Value,
        policy_file: String,
        steps: Step,
    },
}

impl Remedy {
    /// The remedy for `role` not being able to decrypt what is exported with `keys`. Keys are
    /// put in ARN order and listed once; a key given both ways counts as AWS-managed.
    pub fn for_decrypt(role: &RoleArn, keys: &[ExportKey]) -> Result<Remedy, PolicyError> {
        if keys.is_empty() {
            return Err(PolicyError::Keys("no KMS key to grant the role".into()));
        }
        let mut keys = keys.to_vec();
        keys.sort_by(|a, b| (a.arn(), !a.is_aws_managed()).cmp(&(b.arn(), !b.is_aws_managed())));
        keys.dedup_by(|later, earlier| later.arn() == earlier.arn());
        if let Some(key) = keys.iter().find(|key| key.partition() != role.partition()) {
            return Err(PolicyError::Keys(format!(
                "the key `{}` is in the partition `{}` and the role `{role}` in `{}`: a role \
                 cannot use a key of another partition",
                key.arn(),
                key.partition(),
                role.partition()
            )));
        }

        let customer: Vec<&KmsKeyArn> = keys.iter().filter_map(ExportKey::customer_key).collect();
        let identity_policy = (!customer.is_empty()).then(|| IdentityPolicy {
            name: IDENTITY_POLICY_NAME,
            document: identity_policy(&customer),
            apply: steps::put_role_policy(role, IDENTITY_POLICY_FILE),
        });
        let verify = if customer.is_empty() {
            Vec::new()
        } else {
            vec![steps::simulate(role, &customer)]
        };
        let keys = keys.iter().map(|key| key_remedy(role, key)).collect();
        Ok(Remedy {
            role: role.clone(),
            identity_policy,
            keys,
            verify,
        })
    }

    /// The `sentinel-kms policy` command line that prints this remedy in full.
    pub fn command_line(&self) -> String {
        let mut line = format!(
            "sentinel-kms policy --role-arn {}",
            steps::shell_word(self.role.as_str())
        );
        for entry in &self.keys {
            let flag = match entry.key {
                ExportKey::AwsManaged(_) => "--aws-managed-key",
                _ => "--key-arn",
            };
            line.push_str(&format!(" {flag} {}", entry.key.arn()));
        }
        line
    }

    /// The remedy in one paragraph, for a verdict: what to change, where, and the command that
    /// prints the documents and checks.
    pub fn summary(&self) -> String {
        let (customer, managed): (Vec<&KeyRemedy>, Vec<&KeyRemedy>) = self
            .keys
            .iter()
            .partition(|entry| !entry.key.is_aws_managed());
        let mut parts = Vec::new();
        if !customer.is_empty() {
            let keys: Vec<String> = customer
                .iter()
                .map(|entry| {
                    format!(
                        "`{}` ({}, account {})",
                        entry.key.arn(),
                        entry.key.region(),
                        entry.key.account()
                    )
                })
                .collect();
            parts.push(format!(
                "allow `{}` `kms:Decrypt` and `kms:DescribeKey` in the key policy of {} and in \
                 the role's IAM policy (account {})",
                self.role,
                keys.join(" and of "),
                self.role.account()
            ));
        }
        for entry in managed {
            parts.push(format!(
                "`{}` is AWS-managed and its policy cannot change: move GuardDuty's export in {} \
                 to a customer-managed key",
                entry.key.arn(),
                entry.key.region()
            ));
        }
        format!(
            "{}. `{}` prints the policies and the commands that check them.",
            capitalise(&parts.join("; ")),
            self.command_line()
        )
    }

    /// Whether a current policy can be merged for `key`: it must be one of the keys, and
    /// customer-managed. Callers may ask before reading the policy.
    pub fn check_mergeable(&self, key: &KmsKeyArn) -> Result<(), PolicyError> {
        match self
            .keys
            .iter()
            .find(|entry| entry.key.arn() == key.as_str())
        {
            None => Err(PolicyError::Keys(format!(
                "a key policy was given for `{key}`, which is not one of the keys"
            ))),
            Some(entry) if entry.key.is_aws_managed() => Err(PolicyError::Keys(format!(
                "a key policy was given for `{key}`, an AWS-managed key: its policy cannot be \
                 changed, so there is nothing to merge"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Merges the statement for `key` into its current policy, for a whole policy to put.
    pub fn merge_current_policy(
        &mut self,
        key: &KmsKeyArn,
        current: &CurrentKeyPolicy,
    ) -> Result<(), PolicyError> {
        self.check_mergeable(key)?;
        let role = self.role.clone();
        for entry in &mut self.keys {
            if let KeyChange::AddStatement { merged, .. } = &mut entry.change
                && entry.key.arn() == key.as_str()
            {
                *merged = Some(merge(current, &role, key));
            }
        }
        Ok(())
    }
}

fn key_remedy(role: &RoleArn, key: &ExportKey) -> KeyRemedy {
    let cross_account = key.account() != role.account();
    let mut notes = Vec::new();
    let change = match key.customer_key() {
        Some(arn) => {
            notes.push(if cross_account {
                format!(
                    "The key is in account {} and the role in account {}: both changes are \
                     required. The key policy (in {}) must allow the role, and the role's IAM \
                     policy (in {}) must allow the key; neither works alone.",
                    key.account(),
                    role.account(),
                    key.account(),
                    role.account()
                )
            } else {
                format!(
                    "The key and the role are both in account {}. The key policy statement \
                     alone lets the role decrypt; the IAM policy alone does too when the key \
                     policy delegates to the account (a statement for `{}`). Apply both, so \
                     neither depends on the other.",
                    role.account(),
                    role.account_root()
                )
            });
            KeyChange::AddStatement {
                statement: role_statement(role, KEY_STATEMENT_SID),
                merged: None,
                fetch: steps::get_key_policy(arn, &current_policy_file(key)),
            }
        }
        None => {
            notes.push(format!(
                "`{}` is an AWS-managed key: AWS owns its key policy and nobody can change it, \
                 so it can never allow the role. Export with a customer-managed key instead; \
                 its policy below lets GuardDuty encrypt (only for detectors of account {} in \
                 {}) and the role decrypt.",
                key.arn(),
                key.account(),
                key.region()
            ));
            let policy_file = format!("new-key-policy-{}.json", key.region());
            KeyChange::MoveToCustomerKey {
                new_key_policy: new_key_policy(key, role),
                steps: steps::move_to_customer_key(key, role, &policy_file),
                policy_file,
            }
        }
    };
    let verify = match key.customer_key() {
        Some(arn) => vec![
            steps::key_policy_names_role(arn, role),
            steps::export_uses_key(key),
            steps::sample_finding(key),
        ],
        None => vec![steps::export_uses_key(key)],
    };
    KeyRemedy {
        key: key.clone(),
        cross_account,
        change,
        notes,
        verify,
    }
}

/// Where the text output suggests saving a key's current policy.
pub fn current_policy_file(key: &ExportKey) -> String {
    format!("key-policy-{}.json", key.file_stem())
}

/// Where the text output suggests saving a key's merged policy.
pub fn merged_policy_file(key: &ExportKey) -> String {
    format!("key-policy-{}.merged.json", key.file_stem())
}

impl KeyRemedy {
    /// The command that puts the merged policy, when there is one that differs from the current.
    pub fn put_merged(&self) -> Option<Step> {
        match (&self.change, self.key.customer_key()) {
            (
                KeyChange::AddStatement {
                    merged: Some(merged),
                    ..
                },
                Some(arn),
            ) if merged.changed() => {
                Some(steps::put_key_policy(arn, &merged_policy_file(&self.key)))
            }
            _ => None,
        }
    }
}
