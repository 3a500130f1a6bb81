//! Adding the role's statement to a key's current policy, for `aws kms put-key-policy`, which
//! replaces the policy whole.
//!
//! Existing statements are kept exactly as they are, in their order. The statement is appended
//! unless the policy already lets the role `kms:Decrypt` and `kms:DescribeKey` this key without
//! conditions (in one statement or several); a statement with a condition does not count, since
//! its condition may not hold when S3 decrypts for the connector. A Sid already in use gets a
//! number appended. What the policy holds that may still stop the role (an explicit deny, a
//! deleted role's ID) is reported as a note; the statements are not evaluated any further.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::arn::{KmsKeyArn, RoleArn};

use super::document::{action_matches, statement_label, strings};
use super::statements::{KEY_STATEMENT_SID, role_statement};
use super::{CurrentKeyPolicy, DECRYPT_ACTIONS};

/// The most a key policy may hold, in bytes.
const KEY_POLICY_LIMIT: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct MergedPolicy {
    /// Where the current policy came from.
    pub source: String,
    pub outcome: MergeOutcome,
    /// The whole policy to put: the current one, plus the statement where it was missing.
    pub document: Value,
    /// What in the current policy may still keep the role out, or makes the policy unusable.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The statement was appended under `sid`; `clashed_with` is the Sid it would have had, had
    /// another statement not used it already.
    Appended {
        sid: String,
        clashed_with: Option<String>,
    },
    /// The policy already grants both actions to the role; these statements do it.
    AlreadyAllowed { statements: Vec<String> },
}

impl MergedPolicy {
    /// Whether the policy must be put again.
    pub fn changed(&self) -> bool {
        matches!(self.outcome, MergeOutcome::Appended { .. })
    }
}

pub fn merge(current: &CurrentKeyPolicy, role: &RoleArn, key: &KmsKeyArn) -> MergedPolicy {
    let statements = current.statements();
    let mut notes = deny_notes(&statements);
    notes.extend(deleted_principal_notes(&statements));

    let mut granting = BTreeSet::new();
    let mut covered = 0;
    for action in DECRYPT_ACTIONS {
        let found: Vec<usize> = (0..statements.len())
            .filter(|&i| grant(statements[i], role, key, action) == Grant::Unconditional)
            .collect();
        covered += usize::from(!found.is_empty());
        granting.extend(found);
    }
    if covered == DECRYPT_ACTIONS.len() {
        return MergedPolicy {
            source: current.source.clone(),
            outcome: MergeOutcome::AlreadyAllowed {
                statements: granting
                    .into_iter()
                    .map(|i| statement_label(statements[i], i))
                    .collect(),
            },
            document: current.document.clone(),
            notes,
        };
    }

    notes.extend(conditional_notes(&statements, role, key));
    let (sid, clashed_with) = free_sid(&statements);
    let mut document = current.document.clone();
    let list = match document["Statement"].take() {
        Value::Array(list) => list,
        single => vec![single],
    };
    let mut list = list;
    list.push(role_statement(role, &sid));
    document["Statement"] = Value::Array(list);
    let size = serde_json::to_string(&document).map_or(0, |text| text.len());
    if size > KEY_POLICY_LIMIT {
        notes.push(format!(
            "the merged policy is {size} bytes, more than the {KEY_POLICY_LIMIT} bytes KMS \
             accepts for a key policy: put-key-policy will refuse it"
        ));
    }
    MergedPolicy {
        source: current.source.clone(),
        outcome: MergeOutcome::Appended { sid, clashed_with },
        document,
        notes,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    None,
    Conditional,
    Unconditional,
}

/// Whether `statement` allows `action` on this key to the role, named by its ARN.
fn grant(statement: &Value, role: &RoleArn, key: &KmsKeyArn, action: &str) -> Grant {
    let negated = ["NotPrincipal", "NotAction", "NotResource"]
        .iter()
        .any(|name| statement.get(name).is_some());
    if statement["Effect"] != "Allow" || negated {
        return Grant::None;
    }
    let names_role = statement["Principal"]
        .get("AWS")
        .and_then(strings)
        .is_some_and(|names| names.contains(&role.as_str()));
    let allows_action = strings(&statement["Action"])
        .is_some_and(|patterns| patterns.iter().any(|p| action_matches(p, action)));
    let on_key = strings(&statement["Resource"])
        .is_some_and(|resources| resources.iter().any(|r| *r == "*" || *r == key.as_str()));
    if !(names_role && allows_action && on_key) {
        return Grant::None;
    }
    match statement.get("Condition") {
        Some(Value::Object(conditions)) if !conditions.is_empty() => Grant::Conditional,
        _ => Grant::Unconditional,
    }
}

/// The statement's Sid, or the first of `Sid2`, `Sid3`, … that no statement uses.
fn free_sid(statements: &[&Value]) -> (String, Option<String>) {
    let used: BTreeSet<&str> = statements
        .iter()
        .filter_map(|statement| statement.get("Sid").and_then(Value::as_str))
        .collect();
    if !used.contains(KEY_STATEMENT_SID) {
        return (KEY_STATEMENT_SID.to_string(), None);
    }
    let sid = (2..)
        .map(|n| format!("{KEY_STATEMENT_SID}{n}"))
        .find(|sid| !used.contains(sid.as_str()))
        .expect("an unused number exists");
    (sid, Some(KEY_STATEMENT_SID.to_string()))
}

/// Deny statements whose actions include decrypting or describing: an explicit deny overrides
/// any allow, so each is worth a look.
fn deny_notes(statements: &[&Value]) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        if statement["Effect"] != "Deny" {
            continue;
        }
        let denied: Vec<&str> = DECRYPT_ACTIONS
            .into_iter()
            .filter(
                |action| match statement.get("NotAction").and_then(strings) {
                    Some(excluded) => !excluded.iter().any(|p| action_matches(p, action)),
                    None => strings(&statement["Action"])
                        .is_some_and(|patterns| patterns.iter().any(|p| action_matches(p, action))),
                },
            )
            .collect();
        if !denied.is_empty() {
            notes.push(format!(
                "{} denies `{}`: an explicit deny overrides every allow, so make sure its \
                 principal and conditions do not match the role",
                statement_label(statement, index),
                denied.join("`, `")
            ));
        }
    }
    notes
}

/// Principals shown as unique IDs (`AROA…`): KMS shows a role that way once it was deleted, and
/// a role re-created under the same name is not matched by the old statement.
fn deleted_principal_notes(statements: &[&Value]) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let names = statement["Principal"]
            .get("AWS")
            .and_then(strings)
            .unwrap_or_default();
        for name in names.into_iter().filter(|name| name.starts_with("AROA")) {
            notes.push(format!(
                "{} names `{name}`, the ID KMS shows for a role that was deleted: if that was \
                 the connector's role, re-created since, the statement no longer applies to it \
                 and can be removed",
                statement_label(statement, index)
            ));
        }
    }
    notes
}

/// Statements that grant the role only under conditions.
fn conditional_notes(statements: &[&Value], role: &RoleArn, key: &KmsKeyArn) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let conditional = DECRYPT_ACTIONS
            .into_iter()
            .any(|action| grant(statement, role, key, action) == Grant::Conditional);
        if conditional {
            notes.push(format!(
                "{} allows the role only under its `Condition`, which may not hold when S3 \
                 decrypts for the connector; the statement added has no condition",
                statement_label(statement, index)
            ));
        }
    }
    notes
}
