//! The pack against Microsoft's published definitions, with a JSON Schema validator: each rule
//! resource against the SecurityInsights OpenAPI's `ScheduledAlertRule`, the workbook content
//! against the workbook schema. Both schemas are derived from the published files by
//! `scripts/derive-content-schemas.py` (structure kept, prose dropped) and built into the
//! binary; `schemas/content/README.md` names their sources.

use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::Value;

use super::Problem;

const ALERT_RULE: &str = include_str!("../../schemas/content/alert-rule.schema.json");
const WORKBOOK: &str = include_str!("../../schemas/content/workbook.schema.json");

fn compile(text: &str, draft: Draft) -> Validator {
    let schema: Value = serde_json::from_str(text).expect("the built-in schema is JSON");
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the built-in schema compiles")
}

fn alert_rule() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(ALERT_RULE, Draft::Draft202012))
}

fn workbook() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(WORKBOOK, Draft::Draft7))
}

/// Where a rule resource breaks the OpenAPI definition; fields are relative to `properties`.
pub fn rule_problems(resource: &Value) -> Vec<Problem> {
    problems(
        alert_rule(),
        resource,
        "/properties",
        "SecurityInsights API 2025-12-01",
    )
}

/// Where the workbook's content (the `Notebook/1.0` document) breaks the workbook schema.
pub fn workbook_problems(content: &Value) -> Vec<Problem> {
    problems(workbook(), content, "", "workbook schema")
}

/// One problem per schema error; its field is the instance path below `base` (`properties`
/// for `base` itself, whose required keys are reported there).
fn problems(validator: &Validator, instance: &Value, base: &str, source: &str) -> Vec<Problem> {
    validator
        .iter_errors(instance)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            let field = pointer.strip_prefix(base).unwrap_or(&pointer);
            let field = field.trim_start_matches('/');
            Problem {
                field: if field.is_empty() {
                    "properties"
                } else {
                    field
                }
                .to_string(),
                message: format!("{error} ({source})"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definitions() -> Value {
        serde_json::from_str(ALERT_RULE).unwrap()
    }

    #[test]
    fn the_derived_rule_schema_keeps_the_published_enums_and_required_fields() {
        let schema = definitions();
        let defs = &schema["$defs"];
        assert_eq!(
            defs["ScheduledAlertRuleProperties"]["required"],
            serde_json::json!([
                "displayName",
                "enabled",
                "severity",
                "query",
                "queryFrequency",
                "queryPeriod",
                "triggerOperator",
                "triggerThreshold",
                "suppressionEnabled",
                "suppressionDuration"
            ])
        );
        assert_eq!(
            defs["AlertSeverityEnum"]["enum"],
            serde_json::json!(["High", "Medium", "Low", "Informational"])
        );
        assert_eq!(
            defs["AlertRuleTriggerOperator"]["enum"],
            serde_json::json!(["GreaterThan", "LessThan", "Equal", "NotEqual"])
        );
        assert_eq!(defs["AttackTactic"]["enum"].as_array().unwrap().len(), 17);
        assert_eq!(
            defs["EntityMappingType"]["enum"].as_array().unwrap().len(),
            18
        );
    }

    #[test]
    fn a_rule_with_a_wrong_enum_or_duration_is_refused_at_its_field() {
        let resource = serde_json::json!({
            "kind": "Scheduled",
            "properties": {
                "displayName": "x", "enabled": true, "severity": "Critical", "query": "T",
                "queryFrequency": "1 hour", "queryPeriod": "P1D", "triggerOperator": "GreaterThan",
                "triggerThreshold": 0, "suppressionEnabled": false,
                "entityMappings": [{"entityType": "AwsAccount", "fieldMappings": []}]
            }
        });
        let fields: Vec<String> = rule_problems(&resource)
            .into_iter()
            .map(|p| p.field)
            .collect();
        for expected in [
            "severity",
            "queryFrequency",
            "entityMappings/0/entityType",
            "properties",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected}: {fields:?}"
            );
        }
    }

    #[test]
    fn a_workbook_item_without_content_is_refused() {
        let content = serde_json::json!({
            "version": "Notebook/1.0",
            "items": [{"type": 3, "name": "q"}]
        });
        assert!(!workbook_problems(&content).is_empty());
        let fine = serde_json::json!({
            "version": "Notebook/1.0",
            "items": [{"type": 1, "name": "t", "content": {"json": "hello"}}]
        });
        assert_eq!(workbook_problems(&fine), Vec::new());
    }
}
