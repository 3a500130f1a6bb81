//! Sentinel scheduled analytic rules as ARM templates, in the shape the portal's Export writes
//! and its Import, `az deployment group create` and Sentinel Repositories accept: the nested
//! resource type `Microsoft.OperationalInsights/workspaces/providers/alertRules` under a
//! `workspace` parameter.

use chrono::TimeDelta;
use serde_json::{Value, json};

use super::arm;
use crate::catalog::{Check, Severity, rule::RuleSettings};

/// The newest stable SecurityInsights API version published to ARM whose scheduled rule has
/// every field the pack uses.
pub const API_VERSION: &str = "2025-09-01";
pub const RESOURCE_TYPE: &str = "Microsoft.OperationalInsights/workspaces/providers/alertRules";
/// Rule names are UUID v5 of the check id under this namespace, so a rebuilt rule keeps its
/// name and re-importing it updates the rule instead of adding a second one.
const RULE_NAMESPACE: uuid::Uuid = uuid::uuid!("372f4e3a-a1aa-4aa3-b893-79f5be07b03d");
/// Sentinel's portal Import takes at most this many rules per file.
pub const RULES_PER_FILE: usize = 50;

/// The rule's resource name: pinned by `rule.id`, or derived from the check id.
pub fn rule_id(check: &Check, rule: &RuleSettings) -> uuid::Uuid {
    rule.id
        .unwrap_or_else(|| uuid::Uuid::new_v5(&RULE_NAMESPACE, check.id.as_bytes()))
}

/// One rule resource of a template.
pub fn resource(check: &Check, rule: &RuleSettings, query: &str) -> Value {
    let id = rule_id(check, rule);
    let mut properties = serde_json::Map::new();
    let mut put = |key: &str, value: Value| {
        properties.insert(key.to_string(), value);
    };
    put(
        "displayName",
        json!(rule.name.as_deref().unwrap_or(&check.title)),
    );
    put("description", json!(check.description));
    put("severity", json!(severity(check.severity)));
    put("enabled", json!(rule.enabled));
    put("query", json!(query));
    put("queryFrequency", json!(iso8601(rule.frequency)));
    put("queryPeriod", json!(iso8601(rule.period)));
    put("triggerOperator", json!(rule.trigger_operator.name()));
    put("triggerThreshold", json!(rule.trigger_threshold));
    put(
        "suppressionDuration",
        json!(iso8601(rule.suppression.unwrap_or(TimeDelta::hours(1)))),
    );
    put("suppressionEnabled", json!(rule.suppression.is_some()));
    put("tactics", json!(rule.tactics));
    put("techniques", json!(rule.techniques));
    let grouping = match &rule.grouping {
        Some(grouping) => json!({
            "enabled": true,
            "reopenClosedIncident": false,
            "lookbackDuration": iso8601(grouping.lookback),
            "matchingMethod": if grouping.by.is_empty() { "AllEntities" } else { "Selected" },
            "groupByEntities": [],
            "groupByAlertDetails": [],
            "groupByCustomDetails": grouping.by,
        }),
        None => json!({
            "enabled": false,
            "reopenClosedIncident": false,
            "lookbackDuration": "PT5H",
            "matchingMethod": "AllEntities",
            "groupByEntities": [],
            "groupByAlertDetails": [],
            "groupByCustomDetails": [],
        }),
    };
    put(
        "incidentConfiguration",
        json!({ "createIncident": true, "groupingConfiguration": grouping }),
    );
    put(
        "eventGroupingSettings",
        json!({ "aggregationKind": "AlertPerResult" }),
    );
    if rule.alert_name.is_some() || rule.alert_description.is_some() {
        let mut details = serde_json::Map::new();
        if let Some(name) = &rule.alert_name {
            details.insert("alertDisplayNameFormat".into(), json!(name));
        }
        if let Some(description) = &rule.alert_description {
            details.insert("alertDescriptionFormat".into(), json!(description));
        }
        details.insert("alertDynamicProperties".into(), json!([]));
        put("alertDetailsOverride", Value::Object(details));
    }
    if !rule.custom_details.is_empty() {
        let details: serde_json::Map<String, Value> = rule
            .custom_details
            .iter()
            .map(|(key, column)| (key.clone(), json!(column)))
            .collect();
        put("customDetails", Value::Object(details));
    }
    if !rule.entities.is_empty() {
        let mappings: Vec<Value> = rule
            .entities
            .iter()
            .map(|mapping| {
                json!({
                    "entityType": mapping.entity_type,
                    "fieldMappings": mapping.fields.iter().map(|(identifier, column)| {
                        json!({ "identifier": identifier, "columnName": column })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        put("entityMappings", json!(mappings));
    }
    put("templateVersion", json!(check.version.to_string()));

    let mut properties = Value::Object(properties);
    arm::escape_expressions(&mut properties);
    json!({
        "id": format!(
            "[concat(resourceId('Microsoft.OperationalInsights/workspaces/providers', parameters('workspace'), 'Microsoft.SecurityInsights'),'/alertRules/{id}')]"
        ),
        "name": format!("[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{id}')]"),
        "type": RESOURCE_TYPE,
        "kind": "Scheduled",
        "apiVersion": API_VERSION,
        "properties": properties,
    })
}

/// An ARM template holding `resources`, with the `workspace` parameter they are deployed to.
pub fn template(resources: Vec<Value>) -> Value {
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "workspace": {
                "type": "String",
                "metadata": { "description": "Name of the Log Analytics workspace that Microsoft Sentinel runs on" }
            }
        },
        "resources": resources,
    })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
    }
}

/// An ISO 8601 duration with days in the date part (`PT5M`, `PT1H`, `P1D`, `P2DT1H30M`), as
/// Sentinel's own exports write them.
pub fn iso8601(span: TimeDelta) -> String {
    let total = span.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    let mut text = String::from("P");
    if days > 0 {
        text.push_str(&format!("{days}D"));
    }
    if hours + minutes + seconds > 0 || days == 0 {
        text.push('T');
        for (count, unit) in [(hours, 'H'), (minutes, 'M'), (seconds, 'S')] {
            if count > 0 {
                text.push_str(&format!("{count}{unit}"));
            }
        }
        if text == "PT" {
            text.push_str("0S");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_put_days_in_the_date_part() {
        assert_eq!(iso8601(TimeDelta::minutes(5)), "PT5M");
        assert_eq!(iso8601(TimeDelta::hours(1)), "PT1H");
        assert_eq!(iso8601(TimeDelta::days(1)), "P1D");
        assert_eq!(iso8601(TimeDelta::days(14)), "P14D");
        assert_eq!(
            iso8601(TimeDelta::days(2) + TimeDelta::minutes(90)),
            "P2DT1H30M"
        );
        assert_eq!(iso8601(TimeDelta::seconds(90)), "PT1M30S");
        assert_eq!(iso8601(TimeDelta::zero()), "PT0S");
    }

    #[test]
    fn rule_ids_are_uuid_v5_of_the_check_id() {
        let id = uuid::Uuid::new_v5(&RULE_NAMESPACE, b"guardduty-freshness");
        assert_eq!(id.get_version_num(), 5);
        assert_ne!(id, uuid::Uuid::new_v5(&RULE_NAMESPACE, b"kms-decrypt-denied"));
    }
}
