//! The `rule*` header keys: how a check becomes a Sentinel scheduled analytic rule. This module
//! reads them into [`RuleSettings`] and checks what only the header can tell (the spelling of
//! each value, columns the check produces, reasons its classifier gives). The limits Sentinel
//! and its content repository set on the rule itself (lengths, ranges, counts, entity
//! identifiers, tactics) are checked on the generated rule by `content::limits`, which `build`
//! and `lint` share.

use chrono::TimeDelta;

use super::Classifier;
use super::header::{Field, RawHeader, list};
use crate::duration;
use crate::error::CheckFileError;

/// Header keys of a rule, besides `rule` itself.
pub const KEYS: &[&str] = &[
    "rule.id",
    "rule.name",
    "rule.frequency",
    "rule.period",
    "rule.trigger",
    "rule.alert-on",
    "rule.quiet-when",
    "rule.tactics",
    "rule.techniques",
    "rule.entities",
    "rule.custom-details",
    "rule.alert-name",
    "rule.alert-description",
    "rule.grouping",
    "rule.suppression",
];

/// How often a rule runs when the header does not say.
pub const DEFAULT_FREQUENCY: TimeDelta = TimeDelta::hours(1);

/// Columns the rule's query adds to the check's own result, so the rule may name them:
/// the verdict reason and status `validate` would give, and the group as one text.
pub const ADDED_COLUMNS: &[&str] = &["Reason", "Status", "Group"];

/// Reasons a freshness rule may alert on.
pub const FRESHNESS_REASONS: &[&str] =
    &["never_seen", "stale", "quiet", "lag_failure", "lag_warning"];
/// What a freshness rule alerts on when the header does not say.
const DEFAULT_FRESHNESS_ALERTS: &[&str] = &["never_seen", "stale", "lag_failure"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerOperator {
    GreaterThan,
    LessThan,
    Equal,
    NotEqual,
}

impl TriggerOperator {
    fn parse(text: &str) -> Option<TriggerOperator> {
        match text {
            "gt" | "GreaterThan" => Some(TriggerOperator::GreaterThan),
            "lt" | "LessThan" => Some(TriggerOperator::LessThan),
            "eq" | "Equal" => Some(TriggerOperator::Equal),
            "ne" | "NotEqual" => Some(TriggerOperator::NotEqual),
            _ => None,
        }
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            TriggerOperator::GreaterThan => "GreaterThan",
            TriggerOperator::LessThan => "LessThan",
            TriggerOperator::Equal => "Equal",
            TriggerOperator::NotEqual => "NotEqual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMapping {
    pub entity_type: String,
    /// (identifier, column), in the order written.
    pub fields: Vec<(String, String)>,
}

/// How alerts of the rule are grouped into incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    pub lookback: TimeDelta,
    /// Custom detail keys to match on; empty: match on all entities.
    pub by: Vec<String>,
}

/// A check's analytic rule settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// `rule: enabled` or `rule: disabled`: how the rule is deployed.
    pub enabled: bool,
    /// The rule's resource name, when the header pins one.
    pub id: Option<uuid::Uuid>,
    pub name: Option<String>,
    pub frequency: TimeDelta,
    /// The rows the rule reads, by `TimeGenerated`: `rule.period`, or the check's lookback.
    pub period: TimeDelta,
    pub trigger_operator: TriggerOperator,
    pub trigger_threshold: u32,
    /// For freshness checks: the verdict reasons that raise an alert.
    pub alert_on: Vec<String>,
    /// For freshness checks: ids of checks that, all healthy, show that a table without rows
    /// is quiet rather than broken.
    pub quiet_when: Vec<String>,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub entities: Vec<EntityMapping>,
    /// (key, column), in the order written.
    pub custom_details: Vec<(String, String)>,
    pub alert_name: Option<String>,
    pub alert_description: Option<String>,
    pub grouping: Option<Grouping>,
    pub suppression: Option<TimeDelta>,
}

impl RuleSettings {
    /// Columns of the check's result the rule reads: entity and custom detail columns, and the
    /// columns named in the alert name and description, each with the key that names it.
    pub fn columns(&self) -> Vec<(&'static str, &str)> {
        let mut found: Vec<(&'static str, &str)> = Vec::new();
        for mapping in &self.entities {
            for (_, column) in &mapping.fields {
                found.push(("rule.entities", column));
            }
        }
        for (_, column) in &self.custom_details {
            found.push(("rule.custom-details", column));
        }
        for (key, format) in [
            ("rule.alert-name", &self.alert_name),
            ("rule.alert-description", &self.alert_description),
        ] {
            if let Some(format) = format {
                for column in placeholders(format) {
                    found.push((key, column));
                }
            }
        }
        found
    }
}

/// `{{Column}}` placeholders of an alert name or description format.
pub fn placeholders(format: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    found
}

/// What the rest of the header says that the rule settings depend on.
pub struct Context<'a> {
    pub classifier: Classifier,
    pub columns: &'a [String],
    pub group_by: &'a [String],
    /// The check's `lookback` threshold, the default period.
    pub lookback: Option<TimeDelta>,
}

/// Reads the rule settings; `None` when the check has no `rule` key (or it is unusable).
pub fn parse(
    path: &std::path::Path,
    raw: &RawHeader,
    context: &Context<'_>,
    errors: &mut Vec<CheckFileError>,
) -> Option<RuleSettings> {
    let mut reader = Reader { path, raw, errors };
    let Some(switch) = raw.fields.get("rule") else {
        if let Some((key, field)) = raw.fields.iter().find(|(key, _)| key.starts_with("rule.")) {
            reader.at(
                field,
                format!("`{key}` needs a `rule: enabled` (or `rule: disabled`) line"),
            );
        }
        return None;
    };
    let enabled = match switch.value.as_str() {
        "enabled" => true,
        "disabled" => false,
        other => {
            reader.at(
                switch,
                format!("`rule` is `enabled` or `disabled`, not `{other}`"),
            );
            true
        }
    };
    let id = reader.get("rule.id").and_then(|field| {
        let parsed = uuid::Uuid::try_parse(&field.value).ok();
        if parsed.is_none() {
            reader.at(field, format!("`rule.id` `{}` is not a GUID", field.value));
        }
        parsed
    });
    let frequency = reader.span("rule.frequency").unwrap_or(DEFAULT_FREQUENCY);
    let period = match (reader.span("rule.period"), context.lookback) {
        (Some(period), _) => period,
        (None, Some(lookback)) => lookback,
        (None, None) => {
            reader.at(
                switch,
                "a rule needs `rule.period` when the check has no `lookback` threshold".into(),
            );
            TimeDelta::days(1)
        }
    };
    if let (Some(lookback), Some(field)) = (context.lookback, reader.get("rule.period"))
        && period < lookback
    {
        reader.at(
            field,
            format!(
                "`rule.period` ({}) is shorter than the check's lookback ({}): Sentinel gives \
                 the query only the rows of the period, so the rule would judge less than the \
                 check does",
                duration::to_kql(period),
                duration::to_kql(lookback)
            ),
        );
    }
    let (trigger_operator, trigger_threshold) = parse_trigger(&mut reader);
    let alert_on = parse_alert_on(&mut reader, context.classifier);
    let quiet_when = reader
        .get("rule.quiet-when")
        .map(|field| {
            if context.classifier != Classifier::Freshness {
                reader.at(
                    field,
                    "`rule.quiet-when` is for freshness checks, whose rules alert on a table \
                     without rows"
                        .into(),
                );
            }
            list(&field.value)
        })
        .unwrap_or_default();
    let entities = reader
        .get("rule.entities")
        .map(|field| parse_entities(field, &mut reader))
        .unwrap_or_default();
    let custom_details = reader
        .get("rule.custom-details")
        .map(|field| parse_custom_details(field, &mut reader))
        .unwrap_or_default();
    let grouping = reader
        .get("rule.grouping")
        .and_then(|field| parse_grouping(field, &custom_details, &mut reader));

    let settings = RuleSettings {
        enabled,
        id,
        name: reader.text("rule.name"),
        frequency,
        period,
        trigger_operator,
        trigger_threshold,
        alert_on,
        quiet_when,
        tactics: reader.list("rule.tactics"),
        techniques: reader.list("rule.techniques"),
        entities,
        custom_details,
        alert_name: reader.text("rule.alert-name"),
        alert_description: reader.text("rule.alert-description"),
        grouping,
        suppression: reader.span("rule.suppression"),
    };
    check_columns(&settings, context, switch, &mut reader);
    Some(settings)
}

/// `OPERATOR COUNT`, e.g. `gt 0`; the default fires on any row.
fn parse_trigger(reader: &mut Reader<'_>) -> (TriggerOperator, u32) {
    let Some(field) = reader.get("rule.trigger") else {
        return (TriggerOperator::GreaterThan, 0);
    };
    let parts: Vec<&str> = field.value.split_whitespace().collect();
    let parsed = match parts.as_slice() {
        [operator, threshold] => {
            TriggerOperator::parse(operator).zip(threshold.parse::<u32>().ok())
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        reader.at(
            field,
            format!(
                "`rule.trigger` `{}` is not OPERATOR COUNT, with an operator of gt, lt, eq, ne \
                 and a whole number (e.g. `gt 0`)",
                field.value
            ),
        );
        (TriggerOperator::GreaterThan, 0)
    })
}

fn parse_alert_on(reader: &mut Reader<'_>, classifier: Classifier) -> Vec<String> {
    let field = reader.get("rule.alert-on");
    match (field, classifier) {
        (None, Classifier::Freshness) => DEFAULT_FRESHNESS_ALERTS
            .iter()
            .map(|reason| reason.to_string())
            .collect(),
        (None, _) => Vec::new(),
        (Some(field), Classifier::Freshness) => {
            let reasons = list(&field.value);
            for reason in &reasons {
                if !FRESHNESS_REASONS.contains(&reason.as_str()) {
                    reader.at(
                        field,
                        format!(
                            "`rule.alert-on` names `{reason}`, which the freshness classifier \
                             never gives (it gives {})",
                            FRESHNESS_REASONS.join(", ")
                        ),
                    );
                }
            }
            if reasons.is_empty() {
                reader.at(field, "`rule.alert-on` lists no reason".into());
            }
            reasons
        }
        (Some(field), classifier) => {
            reader.at(
                field,
                format!(
                    "`rule.alert-on` is for freshness checks; a rule of the {} classifier \
                     alerts on every finding",
                    classifier.name()
                ),
            );
            Vec::new()
        }
    }
}

/// `Type(Identifier=Column, …); Type(…)`. Whether the type and identifiers are ones Sentinel
/// knows is checked on the generated rule.
fn parse_entities(field: &Field, reader: &mut Reader<'_>) -> Vec<EntityMapping> {
    let mut mappings = Vec::new();
    for part in field
        .value
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let parsed = part
            .strip_suffix(')')
            .and_then(|rest| rest.split_once('('))
            .map(|(kind, inner)| (kind.trim(), inner));
        let Some((kind, inner)) = parsed else {
            reader.at(
                field,
                format!("entity mapping `{part}` is not Type(Identifier=Column, …)"),
            );
            continue;
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((identifier, column)) => {
                    fields.push((identifier.trim().to_string(), column.trim().to_string()))
                }
                None => reader.at(
                    field,
                    format!("`{pair}` in `{kind}(…)` is not Identifier=Column"),
                ),
            }
        }
        mappings.push(EntityMapping {
            entity_type: kind.to_string(),
            fields,
        });
    }
    mappings
}

/// `Key=Column, …`.
fn parse_custom_details(field: &Field, reader: &mut Reader<'_>) -> Vec<(String, String)> {
    let mut details: Vec<(String, String)> = Vec::new();
    for pair in list(&field.value) {
        let Some((key, column)) = pair.split_once('=') else {
            reader.at(field, format!("custom detail `{pair}` is not Key=Column"));
            continue;
        };
        let (key, column) = (key.trim(), column.trim());
        if details.iter().any(|(seen, _)| seen == key) {
            reader.at(field, format!("custom detail `{key}` is given twice"));
        }
        details.push((key.to_string(), column.to_string()));
    }
    details
}

/// `LOOKBACK` (match on every entity) or `LOOKBACK by Key, Key` (match on custom details).
fn parse_grouping(
    field: &Field,
    details: &[(String, String)],
    reader: &mut Reader<'_>,
) -> Option<Grouping> {
    let (lookback_text, by_text) = match field.value.split_once(" by ") {
        Some((lookback, by)) => (lookback.trim(), Some(by)),
        None => (field.value.trim(), None),
    };
    let Some(lookback) = duration::parse_kql(lookback_text) else {
        reader.at(
            field,
            format!(
                "`rule.grouping` `{}` is not LOOKBACK or LOOKBACK by KEY, … (e.g. `1d by \
                 AccountId, Region`)",
                field.value
            ),
        );
        return None;
    };
    let by = by_text.map(list).unwrap_or_default();
    for key in &by {
        if !details.iter().any(|(detail, _)| detail == key) {
            reader.at(
                field,
                format!("`rule.grouping` groups by `{key}`, which is not a custom detail"),
            );
        }
    }
    if by_text.is_some() && by.is_empty() {
        reader.at(field, "`rule.grouping` has `by` but no key".into());
    }
    Some(Grouping { lookback, by })
}

/// The columns the rule reads must be ones the check's result has (or the rule query adds),
/// and a rule that alerts on findings needs their arrival time to look at each one once.
fn check_columns(
    settings: &RuleSettings,
    context: &Context<'_>,
    switch: &Field,
    reader: &mut Reader<'_>,
) {
    if context.classifier != Classifier::Freshness
        && !context.columns.iter().any(|c| c == "LastArrival")
    {
        reader.at(
            switch,
            format!(
                "a rule of the {} classifier alerts on rows by when they arrived: list a \
                 `LastArrival` column (max(ingestion_time())) in `columns`",
                context.classifier.name()
            ),
        );
    }
    for (key, column) in settings.columns() {
        let known = context
            .columns
            .iter()
            .chain(context.group_by)
            .any(|c| c == column)
            || ADDED_COLUMNS.contains(&column);
        if !known {
            reader.key_or_rule(
                key,
                switch,
                format!("`{key}` names column `{column}`, which is not in `group-by` or `columns`"),
            );
        }
    }
}

struct Reader<'a> {
    path: &'a std::path::Path,
    raw: &'a RawHeader,
    errors: &'a mut Vec<CheckFileError>,
}

impl<'a> Reader<'a> {
    fn get(&self, key: &str) -> Option<&'a Field> {
        self.raw.fields.get(key)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(|field| field.value.clone())
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|field| list(&field.value))
            .unwrap_or_default()
    }

    fn at(&mut self, field: &Field, message: String) {
        self.errors
            .push(CheckFileError::new(self.path, field.line, message).at_column(field.column));
    }

    /// An error at `key`'s line when the header has it, else at the `rule` line.
    fn key_or_rule(&mut self, key: &str, rule: &Field, message: String) {
        let field = self.get(key).unwrap_or(rule);
        self.at(field, message);
    }

    fn span(&mut self, key: &str) -> Option<TimeDelta> {
        let field = self.get(key)?;
        let span = duration::parse_kql(&field.value);
        if span.is_none() {
            self.at(
                field,
                format!(
                    "`{key}` `{}` is not a timespan such as `1h` or `14d`",
                    field.value
                ),
            );
        }
        span
    }
}
