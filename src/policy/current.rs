//! A key's current policy, as `aws kms get-key-policy --query Policy --output text` prints it.
//! The whole answer of `get-key-policy` (`{"Policy": "…", "PolicyName": "default"}`) is
//! accepted too, since that is what the command prints without `--query`.

use serde_json::Value;

use super::PolicyError;
use super::document::{PolicyKind, problems};

#[derive(Debug, Clone, PartialEq)]
pub struct CurrentKeyPolicy {
    /// Where the policy came from (a file name), for messages.
    pub source: String,
    pub document: Value,
}

impl CurrentKeyPolicy {
    /// Parses and checks a key policy. Errors name `source`, and the line and column of a JSON
    /// syntax error or the statement of a grammar error.
    pub fn parse(text: &str, source: &str) -> Result<CurrentKeyPolicy, PolicyError> {
        let fail = |message: String| PolicyError::KeyPolicy(format!("`{source}`{message}"));
        let document: Value = serde_json::from_str(text).map_err(|error| {
            fail(format!(
                ":{}:{}: not a key policy: the JSON is invalid: {}",
                error.line(),
                error.column(),
                without_position(&error)
            ))
        })?;
        let document = match document {
            Value::Object(mut answer)
                if !answer.contains_key("Statement") && answer.contains_key("Policy") =>
            {
                let Some(Value::String(inner)) = answer.remove("Policy") else {
                    return Err(fail(
                        ": `Policy` is not a string holding the key policy".into(),
                    ));
                };
                serde_json::from_str(&inner).map_err(|error| {
                    fail(format!(
                        ": the policy in `Policy` is invalid JSON at its line {}, column {}: {}",
                        error.line(),
                        error.column(),
                        without_position(&error)
                    ))
                })?
            }
            document => document,
        };
        let found = problems(&document, PolicyKind::Key);
        if !found.is_empty() {
            return Err(fail(format!(
                ": not a valid key policy: {}",
                found.join("; ")
            )));
        }
        Ok(CurrentKeyPolicy {
            source: source.to_string(),
            document,
        })
    }

    /// The statements, whether `Statement` holds an array or a single statement.
    pub fn statements(&self) -> Vec<&Value> {
        match &self.document["Statement"] {
            Value::Array(list) => list.iter().collect(),
            single => vec![single],
        }
    }
}

/// serde_json's message without its trailing " at line L column C", which is printed first.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
