//! Sentinel scheduled analytic rules as ARM templates, in the shape the portal's Export writes
//! and its Import, `az deployment group create` and Sentinel Repositories accept: the nested
//! resource type `Microsoft.OperationalInsights/workspaces/providers/alertRules` under a
//! `workspace` parameter. The rule's properties follow the API's own order and names.

use chrono::TimeDelta;
use serde_json::{Map, Value, json};

use super::arm;
use crate::catalog::{Check, Severity, rule::RuleSettings};

/// The SecurityInsights API version the templates ask for: the newest stable version that is
/// published to ARM. Every property written here exists unchanged in it and in the newest
/// stable specification (2025-12-01), which the pack is validated against.
pub const API_VERSION: &str = "2025-09-01";
pub const RESOURCE_TYPE: &str = "Microsoft.OperationalInsights/workspaces/providers/alertRules";
/// Rule names are UUID v5 of the check id under this namespace, so a rebuilt rule keeps its
/// name and re-importing it updates the rule instead of adding a second one.
const RULE_NAMESPACE: uuid::Uuid = uuid::uuid!("372f4e3a-a1aa-4aa3-b893-79f5be07b03d");
/// Sentinel's portal Import takes at most this many rules per file.
pub const RULES_PER_FILE: usize = 50;
/// Suppression written (disabled) when the header sets none; the API requires a value.
const DEFAULT_SUPPRESSION: TimeDelta = TimeDelta::hours(1);

/// The rule's resource name: pinned by `rule.id`, or derived from the check id.
pub fn rule_name(check_id: &str, pinned: Option<uuid::Uuid>) -> uuid::Uuid {
    pinned.unwrap_or_else(|| uuid::Uuid::new_v5(&RULE_NAMESPACE, check_id.as_bytes()))
}

/// The rule's `properties`, before ARM escaping: what the API validates.
pub fn properties(check: &Check, rule: &RuleSettings, query: &str) -> Value {
    let mut properties = Map::new();
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
    put("queryFrequency", json!(arm::iso8601(rule.frequency)));
    put("queryPeriod", json!(arm::iso8601(rule.period)));
    put("triggerOperator", json!(rule.trigger_operator.name()));
    put("triggerThreshold", json!(rule.trigger_threshold));
    let suppression = rule.suppression.unwrap_or(DEFAULT_SUPPRESSION);
    put("suppressionDuration", json!(arm::iso8601(suppression)));
    put("suppressionEnabled", json!(rule.suppression.is_some()));
    put("tactics", json!(rule.tactics));
    put("techniques", json!(rule.techniques));
    put(
        "incidentConfiguration",
        json!({ "createIncident": true, "groupingConfiguration": grouping(rule) }),
    );
    put(
        "eventGroupingSettings",
        json!({ "aggregationKind": "AlertPerResult" }),
    );
    if let Some(details) = alert_details(rule) {
        put("alertDetailsOverride", details);
    }
    if !rule.custom_details.is_empty() {
        let details: Map<String, Value> = (rule.custom_details.iter())
            .map(|(key, column)| (key.clone(), json!(column)))
            .collect();
        put("customDetails", Value::Object(details));
    }
    if !rule.entities.is_empty() {
        put("entityMappings", entity_mappings(rule));
    }
    put("templateVersion", json!(check.version.to_string()));
    Value::Object(properties)
}

/// Alerts of one rule go to one incident per group of entities (or of the custom details
/// named), within the lookback; without `rule.grouping`, each alert is its own incident.
fn grouping(rule: &RuleSettings) -> Value {
    let (enabled, lookback, method, by) = match &rule.grouping {
        Some(grouping) if grouping.by.is_empty() => {
            (true, grouping.lookback, "AllEntities", Vec::new())
        }
        Some(grouping) => (true, grouping.lookback, "Selected", grouping.by.clone()),
        None => (false, TimeDelta::hours(5), "AllEntities", Vec::new()),
    };
    json!({
        "enabled": enabled,
        "reopenClosedIncident": false,
        "lookbackDuration": arm::iso8601(lookback),
        "matchingMethod": method,
        "groupByEntities": [],
        "groupByAlertDetails": [],
        "groupByCustomDetails": by,
    })
}

fn alert_details(rule: &RuleSettings) -> Option<Value> {
    if rule.alert_name.is_none() && rule.alert_description.is_none() {
        return None;
    }
    let mut details = Map::new();
    if let Some(name) = &rule.alert_name {
        details.insert("alertDisplayNameFormat".into(), json!(name));
    }
    if let Some(description) = &rule.alert_description {
        details.insert("alertDescriptionFormat".into(), json!(description));
    }
    details.insert("alertDynamicProperties".into(), json!([]));
    Some(Value::Object(details))
}

fn entity_mappings(rule: &RuleSettings) -> Value {
    let mappings: Vec<Value> = (rule.entities.iter())
        .map(|mapping| {
            let fields: Vec<Value> = (mapping.fields.iter())
                .map(|(identifier, column)| json!({ "identifier": identifier, "columnName": column }))
                .collect();
            json!({ "entityType": mapping.entity_type, "fieldMappings": fields })
        })
        .collect();
    Value::Array(mappings)
}

/// One rule resource of a template, its strings escaped for ARM.
pub fn resource(name: uuid::Uuid, mut properties: Value) -> Value {
    arm::escape_expressions(&mut properties);
    json!({
        "id": format!(
            "[concat(resourceId('Microsoft.OperationalInsights/workspaces/providers', \
             parameters('workspace'), 'Microsoft.SecurityInsights'),'/alertRules/{name}')]"
        ),
        "name": format!("[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{name}')]"),
        "type": RESOURCE_TYPE,
        "kind": "Scheduled",
        "apiVersion": API_VERSION,
        "properties": properties,
    })
}

/// An ARM template holding rule resources.
pub fn template(resources: Vec<Value>) -> Value {
    arm::template(
        resources,
        "Name of the Log Analytics workspace that Microsoft Sentinel runs on",
    )
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_uuid_v5_of_the_check_id_unless_pinned() {
        let derived = rule_name("guardduty-freshness", None);
        assert_eq!(derived.get_version_num(), 5);
        assert_eq!(derived, rule_name("guardduty-freshness", None));
        assert_ne!(derived, rule_name("kms-decrypt-denied", None));
        let pinned = uuid::uuid!("0b7c9f3e-52f1-4a51-9c1e-6f0d2b8c1a11");
        assert_eq!(rule_name("guardduty-freshness", Some(pinned)), pinned);
    }
}
