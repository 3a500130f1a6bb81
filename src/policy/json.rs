//! A remedy for machines: one JSON document with stable keys (documented in the README; keys
//! are only ever added). Policies appear as JSON objects, never as strings holding JSON.

use serde_json::{Value, json};

use super::remedy::{IDENTITY_POLICY_FILE, current_policy_file, merged_policy_file};
use super::{KeyChange, KeyRemedy, MergeOutcome, MergedPolicy, Remedy, Step};

pub fn render(remedy: &Remedy) -> String {
    let mut text = serde_json::to_string_pretty(&document(remedy)).expect("JSON values serialise");
    text.push('\n');
    text
}

pub fn document(remedy: &Remedy) -> Value {
    let identity_policy = remedy.identity_policy.as_ref().map(|policy| {
        json!({
            "name": policy.name,
            "file": IDENTITY_POLICY_FILE,
            "document": policy.document,
            "apply": step(&policy.apply),
        })
    });
    json!({
        "tool": { "name": "sentinel-kms", "version": env!("CARGO_PKG_VERSION") },
        "role": {
            "arn": remedy.role.as_str(),
            "account": remedy.role.account(),
            "name": remedy.role.name(),
            "path": remedy.role.path(),
        },
        "identity_policy": identity_policy,
        "keys": remedy.keys.iter().map(key).collect::<Vec<_>>(),
        "verify": remedy.verify.iter().map(step).collect::<Vec<_>>(),
    })
}

fn key(key: &KeyRemedy) -> Value {
    let (required, statement, merged, fetch, new_key) = match &key.change {
        KeyChange::AddStatement {
            statement,
            merged,
            fetch,
        } => {
            let required = if key.cross_account {
                vec!["key_policy", "identity_policy"]
            } else {
                vec!["key_policy"]
            };
            let merged = merged.as_ref().map(|merged| merged_entry(key, merged));
            (required, Some(statement), merged, Some(step(fetch)), None)
        }
        KeyChange::MoveToCustomerKey {
            new_key_policy,
            policy_file,
            steps,
        } => {
            let new_key = json!({
                "policy": new_key_policy,
                "file": policy_file,
                "apply": step(steps),
            });
            (
                vec!["customer_managed_key"],
                None,
                None,
                None,
                Some(new_key),
            )
        }
    };
    json!({
        "arn": key.key.arn(),
        "region": key.key.region(),
        "account": key.key.account(),
        "aws_managed": key.key.is_aws_managed(),
        "cross_account": key.cross_account,
        "required": required,
        "statement": statement,
        "current_policy_file": fetch.as_ref().map(|_| current_policy_file(&key.key)),
        "fetch_current_policy": fetch,
        "merged": merged,
        "new_key": new_key,
        "notes": key.notes,
        "verify": key.verify.iter().map(step).collect::<Vec<_>>(),
    })
}

fn merged_entry(key: &KeyRemedy, merged: &MergedPolicy) -> Value {
    let (result, sid, clashed_with, granting) = match &merged.outcome {
        MergeOutcome::Appended { sid, clashed_with } => {
            ("appended", Some(sid), clashed_with.as_ref(), Vec::new())
        }
        MergeOutcome::AlreadyAllowed { statements } => {
            ("already_allowed", None, None, statements.clone())
        }
    };
    json!({
        "source": merged.source,
        "result": result,
        "sid": sid,
        "sid_clashed_with": clashed_with,
        "granting_statements": granting,
        "policy": merged.document,
        "file": merged_policy_file(&key.key),
        "apply": key.put_merged().as_ref().map(step),
        "notes": merged.notes,
    })
}

fn step(step: &Step) -> Value {
    json!({
        "purpose": step.purpose,
        "run_in": step.run_in,
        "commands": step.commands,
        "kql": step.kql,
        "expect": step.expect,
    })
}
