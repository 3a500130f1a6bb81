//! The policy changes that let the connector's IAM role decrypt what GuardDuty exports, and the
//! `aws` commands that verify them.
//!
//! S3 decrypts an SSE-KMS object with the reader's own identity, so the role needs `kms:Decrypt`
//! (and `kms:DescribeKey`) from two sides: the key policy, which KMS always consults, and the
//! role's IAM policy, which counts only where the key policy delegates to the role's account.
//! [`Remedy::for_decrypt`] builds both from a role ARN and the export keys, with one statement
//! per key to add to its key policy; [`Remedy::merge_current_policy`] turns a statement into a
//! whole policy for `aws kms put-key-policy`, which replaces a key policy rather than editing it.
//! An AWS-managed key cannot be granted anything: its remedy is a customer-managed key.
//!
//! This module builds documents and commands; it calls no AWS API and prints nothing itself
//! ([`text`] and [`json`] render a remedy, [`command`] is the `policy` subcommand).

pub mod command;
mod current;
pub mod document;
mod key;
mod merge;
mod remedy;
pub mod statements;
mod steps;
#[cfg(test)]
mod tests;

pub mod json;
pub mod text;

pub use command::{PolicyArgs, PolicyFormat};
pub use current::CurrentKeyPolicy;
pub use key::ExportKey;
pub use merge::{MergeOutcome, MergedPolicy};
pub use remedy::{IdentityPolicy, KeyChange, KeyRemedy, Remedy};
pub use steps::Step;

/// What the connector's role needs on each export key.
pub const DECRYPT_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:DescribeKey"];

/// The name of the inline policy `aws iam put-role-policy` attaches to the role.
pub const IDENTITY_POLICY_NAME: &str = "SentinelGuardDutyExportDecrypt";

/// A problem with the keys or policies a remedy is built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Arn(#[from] crate::arn::ArnError),

    /// The keys given cannot make a remedy (none, another partition, an unusable alias).
    #[error("{0}")]
    Keys(String),

    /// A current key policy that is unreadable, not JSON, or not a policy.
    #[error("{0}")]
    KeyPolicy(String),
}
