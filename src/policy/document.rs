//! The IAM policy grammar, as far as the tool relies on it: checks a document's shape (used on
//! every policy the tool generates, in tests, and on the key policies it is given), and matches
//! action patterns the way IAM does.

use serde_json::{Map, Value};

use crate::arn::{Arn, is_account_id};

/// Which grammar applies: identity policies have no `Principal`; resource policies need one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// A policy attached to an identity (`aws iam put-role-policy`).
    Identity,
    /// A key policy (`aws kms put-key-policy`).
    Key,
}

const STATEMENT_KEYS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Every grammar problem of `policy`, each naming the statement it is in; empty when valid.
pub fn problems(policy: &Value, kind: PolicyKind) -> Vec<String> {
    let Some(document) = policy.as_object() else {
        return vec!["a policy is a JSON object".into()];
    };
    let mut found = Vec::new();
    match document.get("Version").map(Value::as_str) {
        None if kind == PolicyKind::Key => {}
        Some(Some("2012-10-17")) => {}
        Some(Some("2008-10-17")) if kind == PolicyKind::Key => {}
        other => found.push(format!(
            "`Version` must be \"2012-10-17\", found {}",
            other
                .flatten()
                .map_or("nothing".into(), |v| format!("`{v}`"))
        )),
    }
    for key in document.keys() {
        if !["Version", "Id", "Statement"].contains(&key.as_str()) {
            found.push(format!("unknown top-level element `{key}`"));
        }
    }
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.iter().collect(),
        Some(Value::Object(_)) if kind == PolicyKind::Key => vec![&document["Statement"]],
        _ => {
            found.push("`Statement` must be a non-empty array of statements".into());
            Vec::new()
        }
    };
    let mut sids = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let label = statement_label(statement, index);
        match statement.as_object() {
            Some(statement) => {
                for problem in statement_problems(statement, kind) {
                    found.push(format!("{label}: {problem}"));
                }
                if let Some(Value::String(sid)) = statement.get("Sid") {
                    if sids.contains(sid) && kind == PolicyKind::Identity {
                        found.push(format!("{label}: the Sid `{sid}` is used twice"));
                    }
                    sids.push(sid.clone());
                }
            }
            None => found.push(format!("{label}: a statement is a JSON object")),
        }
    }
    found
}

/// "statement 2 (Sid `X`)", or "statement 2" without a Sid; numbered from 1.
pub fn statement_label(statement: &Value, index: usize) -> String {
    match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("statement {} (Sid `{sid}`)", index + 1),
        _ => format!("statement {}", index + 1),
    }
}

fn statement_problems(statement: &Map<String, Value>, kind: PolicyKind) -> Vec<String> {
    let mut found = Vec::new();
    for key in statement.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            found.push(format!("unknown element `{key}`"));
        }
    }
    match statement.get("Sid") {
        None => {}
        Some(Value::String(sid)) if kind == PolicyKind::Key || is_alphanumeric(sid) => {}
        Some(other) => found.push(format!(
            "the Sid {other} must be a string of letters and digits"
        )),
    }
    match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow" | "Deny") => {}
        _ => found.push("`Effect` must be \"Allow\" or \"Deny\"".into()),
    }
    found.extend(exactly_one(statement, "Action", "NotAction", check_action));
    found.extend(exactly_one(
        statement,
        "Resource",
        "NotResource",
        check_resource,
    ));
    let principals = ["Principal", "NotPrincipal"].map(|key| statement.contains_key(key));
    match (kind, principals) {
        (PolicyKind::Identity, [false, false]) => {}
        (PolicyKind::Identity, _) => found.push("an identity policy names no `Principal`".into()),
        (PolicyKind::Key, [false, false]) => {
            found.push("`Principal` or `NotPrincipal` is missing".into());
        }
        (PolicyKind::Key, [true, true]) => {
            found.push("`Principal` and `NotPrincipal` exclude each other".into());
        }
        (PolicyKind::Key, _) => {
            for key in ["Principal", "NotPrincipal"] {
                if let Some(value) = statement.get(key) {
                    found.extend(principal_problems(key, value));
                }
            }
        }
    }
    if let Some(condition) = statement.get("Condition") {
        let valid = condition
            .as_object()
            .is_some_and(|operators| operators.values().all(Value::is_object));
        if !valid {
            found.push("`Condition` must map operators to objects of keys and values".into());
        }
    }
    found
}

/// Exactly one of `name` and `not_name`, a string or a non-empty array of strings, each of which
/// passes `check`.
fn exactly_one(
    statement: &Map<String, Value>,
    name: &str,
    not_name: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let (key, value) = match (statement.get(name), statement.get(not_name)) {
        (Some(value), None) => (name, value),
        (None, Some(value)) => (not_name, value),
        (None, None) => return vec![format!("`{name}` or `{not_name}` is missing")],
        (Some(_), Some(_)) => return vec![format!("`{name}` and `{not_name}` exclude each other")],
    };
    match strings(value) {
        Some(items) if !items.is_empty() => items
            .into_iter()
            .filter_map(|item| check(item).err())
            .map(|problem| format!("`{key}`: {problem}"))
            .collect(),
        _ => vec![format!(
            "`{key}` must be a string or a non-empty array of strings"
        )],
    }
}

/// A string, or an array of strings, as a list; `None` for anything else.
pub fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(text) => Some(vec![text.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// `*`, or `service:Action` where the action may hold `*` and `?`. IAM compares actions
/// without regard to case, so `KMS:Decrypt` is as valid as `kms:Decrypt`.
fn check_action(action: &str) -> Result<(), String> {
    if action == "*" {
        return Ok(());
    }
    let valid = action.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
    });
    if valid {
        Ok(())
    } else {
        Err(format!("`{action}` is not an action such as `kms:Decrypt`"))
    }
}

/// `*`, an ARN, or an ARN pattern with wildcards in its region, account or resource.
fn check_resource(resource: &str) -> Result<(), String> {
    if resource == "*" || resource.parse::<Arn>().is_ok() {
        return Ok(());
    }
    let fields: Vec<&str> = resource.splitn(6, ':').collect();
    if fields.len() == 6 && fields[0] == "arn" && resource.contains(['*', '?']) {
        return Ok(());
    }
    Err(format!("`{resource}` is neither `*` nor an ARN"))
}

fn principal_problems(key: &str, principal: &Value) -> Vec<String> {
    let entries = match principal {
        Value::String(text) if text == "*" => return Vec::new(),
        Value::Object(entries) if !entries.is_empty() => entries,
        _ => {
            return vec![format!(
                "`{key}` must be \"*\" or an object such as {{\"AWS\": …}}"
            )];
        }
    };
    let mut found = Vec::new();
    for (kind, value) in entries {
        if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&kind.as_str()) {
            found.push(format!("`{key}` has an unknown principal type `{kind}`"));
            continue;
        }
        let Some(names) = strings(value).filter(|names| !names.is_empty()) else {
            found.push(format!(
                "`{key}.{kind}` must be a string or an array of strings"
            ));
            continue;
        };
        if kind == "AWS" {
            for name in names.into_iter().filter(|name| !is_aws_principal(name)) {
                found.push(format!(
                    "`{key}.AWS` value `{name}` is neither `*`, an account ID, an ARN nor a \
                     unique ID"
                ));
            }
        }
    }
    found
}

/// `*`, a 12-digit account, an IAM or STS ARN, or a unique ID (`AROA…`, `AIDA…`), which is how
/// a key policy shows a principal that was deleted.
fn is_aws_principal(name: &str) -> bool {
    name == "*"
        || is_account_id(name)
        || name.parse::<Arn>().is_ok()
        || (name.len() >= 16
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

fn is_alphanumeric(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether an IAM action pattern (`kms:*`, `kms:Decrypt*`, `*`) matches `action`. Action names
/// are matched without regard to case, as IAM does.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match(
        pattern.to_ascii_lowercase().as_bytes(),
        action.to_ascii_lowercase().as_bytes(),
    )
}

/// `*` matches any run of characters, `?` any one character (case-sensitive).
pub fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard_match(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard_match(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard_match(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn action_patterns_match_as_iam_does() {
        assert!(action_matches("kms:Decrypt", "kms:Decrypt"));
        assert!(action_matches("KMS:decrypt", "kms:Decrypt"));
        assert!(action_matches("kms:*", "kms:DescribeKey"));
        assert!(action_matches("*", "kms:Decrypt"));
        assert!(action_matches("kms:Describe*", "kms:DescribeKey"));
        assert!(action_matches("kms:De?rypt", "kms:Decrypt"));
        assert!(!action_matches("kms:Encrypt", "kms:Decrypt"));
        assert!(!action_matches("kms:Decrypt", "kms:DecryptSomething"));
        assert!(!action_matches("s3:*", "kms:Decrypt"));
    }

    #[test]
    fn grammar_problems_name_the_statement() {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Sid": "Ok", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*" },
                { "Sid": "Case", "Effect": "Allow", "Action": ["KMS:Decrypt", "Kms:describekey"],
                  "Resource": "*" },
                { "Sid": "Bad", "Effect": "Permit", "Action": "Decrypt", "Resource": "key" },
                { "Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "kms:*",
                  "NotAction": "kms:Decrypt", "Resource": "*" },
            ]
        });
        let found = problems(&policy, PolicyKind::Identity);
        let expected = [
            "statement 3 (Sid `Bad`): `Effect` must be \"Allow\" or \"Deny\"",
            "statement 3 (Sid `Bad`): `Action`: `Decrypt` is not an action",
            "statement 3 (Sid `Bad`): `Resource`: `key` is neither `*` nor an ARN",
            "statement 4: `Action` and `NotAction` exclude each other",
            "statement 4: an identity policy names no `Principal`",
        ];
        for text in expected {
            assert!(
                found.iter().any(|p| p.contains(text)),
                "{text} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    #[test]
    fn key_policies_need_principals_and_accept_deleted_role_ids() {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEID1234567"},
                  "Action": "kms:Decrypt", "Resource": "*" },
                { "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*" },
                { "Effect": "Allow", "Principal": {"AWS": "root"}, "Action": "kms:*",
                  "Resource": "*" },
                { "Effect": "Allow", "Principal": {"Robot": "r2"}, "Action": "kms:*",
                  "Resource": "*" },
            ]
        });
        let found = problems(&policy, PolicyKind::Key);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("statement 2: `Principal` or `NotPrincipal` is missing"));
        assert!(found[1].contains("statement 3: `Principal.AWS` value `root`"));
        assert!(found[2].contains("unknown principal type `Robot`"));
    }

    #[test]
    fn top_level_shape_is_checked() {
        assert_eq!(
            problems(&json!([]), PolicyKind::Key),
            ["a policy is a JSON object"]
        );
        let found = problems(
            &json!({"Version": "2012-10-17", "Statement": []}),
            PolicyKind::Key,
        );
        assert_eq!(
            found,
            ["`Statement` must be a non-empty array of statements"]
        );
        let found = problems(
            &json!({"Version": "2008-10-17", "Statements": [], "Statement": [
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
            PolicyKind::Identity,
        );
        assert!(found[0].contains("`Version` must be \"2012-10-17\", found `2008-10-17`"));
        assert!(found[1].contains("unknown top-level element `Statements`"));
    }
}
