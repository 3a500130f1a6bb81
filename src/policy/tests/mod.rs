//! Remedies built from role and key ARNs ([`remedy`]), merged into current key policies
//! ([`merge`]), and rendered ([`render`]). Every generated policy is checked by the IAM grammar
//! after a round trip through its JSON text.

mod merge;
mod remedy;
mod render;

use serde_json::{Value, json};

use super::document::{PolicyKind, problems};
use super::*;
use crate::arn::{KmsKeyArn, RoleArn};

pub(super) const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
pub(super) const KEY_EAST: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub(super) const KEY_WEST: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
pub(super) const KEY_OTHER: &str =
    "arn:aws:kms:us-east-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab";
pub(super) const GUARDDUTY_ALIAS: &str = "arn:aws:kms:us-east-1:111122223333:alias/aws/guardduty";

pub(super) fn role() -> RoleArn {
    RoleArn::parse(ROLE).unwrap()
}

pub(super) fn key(text: &str) -> ExportKey {
    ExportKey::parse(text, false).unwrap()
}

pub(super) fn remedy(keys: &[&str]) -> Remedy {
    let keys: Vec<ExportKey> = keys.iter().map(|text| key(text)).collect();
    Remedy::for_decrypt(&role(), &keys).unwrap()
}

/// Asserts an IAM identity policy is valid by the grammar and only names valid KMS key ARNs,
/// after a round trip through its JSON text.
pub(super) fn assert_valid_identity_policy(document: &Value) -> Vec<String> {
    let text = serde_json::to_string_pretty(document).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        problems(&parsed, PolicyKind::Identity),
        Vec::<String>::new()
    );
    assert_eq!(parsed["Version"], "2012-10-17");
    let statements = parsed["Statement"].as_array().expect("a Statement array");
    let mut resources = Vec::new();
    for statement in statements {
        assert!(["Allow", "Deny"].contains(&statement["Effect"].as_str().unwrap()));
        for resource in statement["Resource"].as_array().unwrap() {
            let arn = resource.as_str().unwrap();
            KmsKeyArn::parse(arn).unwrap_or_else(|error| panic!("{error}"));
            resources.push(arn.to_string());
        }
    }
    resources
}

/// Asserts a key policy is valid by the grammar after a round trip through its JSON text.
pub(super) fn assert_valid_key_policy(document: &Value) {
    let text = serde_json::to_string_pretty(document).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        problems(&parsed, PolicyKind::Key),
        Vec::<String>::new(),
        "{text}"
    );
    assert_eq!(parsed["Version"], "2012-10-17");
    let sids: Vec<&str> = parsed["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|statement| statement["Sid"].as_str())
        .collect();
    let mut unique = sids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(sids.len(), unique.len(), "Sids are unique: {sids:?}");
}

/// A statement alone, checked as the only statement of a key policy.
pub(super) fn assert_valid_statement(statement: &Value) {
    assert_valid_key_policy(&json!({ "Version": "2012-10-17", "Statement": [statement] }));
}

pub(super) fn statement_of(entry: &KeyRemedy) -> &Value {
    match &entry.change {
        KeyChange::AddStatement { statement, .. } => statement,
        other => panic!("expected a statement to add, found {other:?}"),
    }
}

pub(super) fn merged_of(entry: &KeyRemedy) -> &MergedPolicy {
    match &entry.change {
        KeyChange::AddStatement {
            merged: Some(merged),
            ..
        } => merged,
        other => panic!("expected a merged policy, found {other:?}"),
    }
}
