//! The `rule*` header keys: how a check becomes a Sentinel scheduled analytic rule. Every value
//! is checked here, against the SecurityInsights API's enums and the limits the Sentinel service
//! and its content repository apply, so `lint` reports a bad setting at its line and `build`
//! never writes a rule Sentinel would refuse.

use chrono::TimeDelta;

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
    "rule.tactics",
    "rule.techniques",
    "rule.entities",
    "rule.custom-details",
    "rule.alert-name",
    "rule.alert-description",
    "rule.grouping",
    "rule.suppression",
];

/// The MITRE ATT&CK Enterprise tactics, as the SecurityInsights API spells them (its
/// `AttackTactic` enum also has `PreAttack` and two ICS tactics, which Sentinel's content
/// repository refuses for scheduled rules).
pub const TACTICS: &[&str] = &[
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "Exfiltration",
    "CommandAndControl",
    "Impact",
];

/// ATT&CK techniques a check of this tool can name, with the tactics each belongs to (ATT&CK
/// Enterprise). A technique must belong to one of the rule's tactics.
pub const TECHNIQUES: &[(&str, &[&str])] = &[
    (
        "T1078",
        &[
            "DefenseEvasion",
            "Persistence",
            "PrivilegeEscalation",
            "InitialAccess",
        ],
    ),
    ("T1098", &["Persistence", "PrivilegeEscalation"]),
    ("T1070", &["DefenseEvasion"]),
    ("T1485", &["Impact"]),
    ("T1486", &["Impact"]),
    ("T1490", &["Impact"]),
    ("T1531", &["Impact"]),
    ("T1562", &["DefenseEvasion"]),
];

/// Entity types of the SecurityInsights API (`EntityMappingType`), each with the identifiers
/// Sentinel accepts for it and, first, the strong ones: a mapping needs at least one of those.
pub const ENTITY_TYPES: &[(&str, &[&str], &[&str])] = &[
    (
        "Account",
        &["FullName", "Sid", "Name", "AadUserId", "PUID", "ObjectGuid"],
        &["NTDomain", "DnsDomain", "UPNSuffix", "DisplayName", "AadTenantId"],
    ),
    (
        "Host",
        &["FullName", "HostName", "NetBiosName", "AzureID", "OMSAgentID"],
        &["DnsDomain", "NTDomain", "OSFamily", "OSVersion"],
    ),
    ("IP", &["Address"], &[]),
    ("Malware", &["Name"], &["Category"]),
    ("File", &["Name"], &["Directory"]),
    ("Process", &["CommandLine", "ProcessId"], &["CreationTimeUtc"]),
    ("CloudApplication", &["AppId", "Name"], &["InstanceName"]),
    ("DNS", &["DomainName"], &[]),
    ("AzureResource", &["ResourceId"], &[]),
    ("FileHash", &["Value"], &["Algorithm"]),
    ("RegistryKey", &["Key"], &["Hive"]),
    ("RegistryValue", &["Name"], &["Value", "ValueType"]),
    (
        "SecurityGroup",
        &["DistinguishedName", "SID", "ObjectGuid"],
        &[],
    ),
    ("URL", &["Url"], &[]),
    ("Mailbox", &["MailboxPrimaryAddress"], &["DisplayName", "Upn"]),
    ("MailCluster", &["Query", "Source"], &[]),
    (
        "MailMessage",
        &["NetworkMessageId", "Recipient"],
        &["Sender", "Subject"],
    ),
    (
        "SubmissionMail",
        &["SubmissionId", "NetworkMessageId", "Recipient", "Submitter"],
        &[],
    ),
];

pub const MAX_ENTITY_MAPPINGS: usize = 10;
pub const MAX_IDENTIFIERS: usize = 3;
pub const MAX_CUSTOM_DETAILS: usize = 20;
pub const MAX_DISPLAY_NAME: usize = 256;
pub const MAX_DESCRIPTION: usize = 5000;
pub const MAX_PLACEHOLDERS: usize = 3;

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
    pub period: TimeDelta,
    pub trigger_operator: TriggerOperator,
    pub trigger_threshold: u32,
    /// For freshness checks: the verdict reasons that raise an alert.
    pub alert_on: Vec<String>,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub entities: Vec<EntityMapping>,
    /// (key, column), in the order written.
    pub custom_details: Vec<(String, String)>,
    pub alert_name: Option<String>,
    pub alert_description: Option<String>,
    pub grouping: Option<Grouping>,
    pub suppression: Option<TimeDelta>,
    /// Line of the `rule` key, for messages about the rule as a whole.
    pub line: usize,
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

/// Columns that the rule's query adds to the check's own result, so the rule may name them.
pub const ADDED_COLUMNS: &[&str] = &["Reason", "Status"];

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

/// What the classifier of the check lets a rule do.
pub struct Context<'a> {
    pub classifier: super::Classifier,
    pub columns: &'a [String],
    pub group_by: &'a [String],
    pub title: &'a str,
    pub description: &'a str,
    pub version: Option<&'a semver::Version>,
}

/// Reasons a freshness rule may alert on.
pub const FRESHNESS_REASONS: &[&str] = &["never_seen", "stale", "quiet", "lag_failure", "lag_warning"];

/// Reads the rule settings; `None` when the check has no `rule` key.
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
        match uuid::Uuid::try_parse(&field.value) {
            Ok(id) => Some(id),
            Err(_) => {
                reader.at(field, format!("`rule.id` `{}` is not a GUID", field.value));
                None
            }
        }
    });
    let name = reader.get("rule.name").map(|field| field.value.clone());
    let display_name = name.as_deref().unwrap_or(context.title);
    if display_name.chars().count() > MAX_DISPLAY_NAME {
        let message = format!(
            "the rule's name is {} characters; Sentinel takes at most {MAX_DISPLAY_NAME}",
            display_name.chars().count()
        );
        reader.key_or_rule("rule.name", switch, message);
    }
    if context.description.chars().count() > MAX_DESCRIPTION {
        reader.errors.push(CheckFileError::new(
            path,
            switch.line,
            format!(
                "the description is {} characters; a rule's description may have at most \
                 {MAX_DESCRIPTION}",
                context.description.chars().count()
            ),
        ));
    }
    if let Some(version) = context.version
        && (!version.pre.is_empty() || !version.build.is_empty())
    {
        reader.errors.push(CheckFileError::new(
            path,
            switch.line,
            format!("a rule's version must be plain x.y.z, not `{version}`"),
        ));
    }

    let frequency = reader.span("rule.frequency").unwrap_or(TimeDelta::hours(1));
    let period = reader.span("rule.period").unwrap_or(TimeDelta::days(1));
    let five_minutes = TimeDelta::minutes(5);
    let fourteen_days = TimeDelta::days(14);
    for (key, value) in [("rule.frequency", frequency), ("rule.period", period)] {
        if value < five_minutes || value > fourteen_days {
            let message = format!(
                "`{key}` is {}; Sentinel runs rules between every 5 minutes and every 14 days, \
                 over 5 minutes to 14 days",
                duration::to_kql(value)
            );
            reader.key_or_rule(key, switch, message);
        }
    }
    if frequency > period {
        reader.key_or_rule(
            "rule.frequency",
            switch,
            format!(
                "`rule.frequency` ({}) is longer than `rule.period` ({}): rows between runs \
                 would never be looked at",
                duration::to_kql(frequency),
                duration::to_kql(period)
            ),
        );
    }
    if period >= TimeDelta::days(2) && frequency < TimeDelta::hours(1) {
        reader.key_or_rule(
            "rule.frequency",
            switch,
            format!(
                "a rule that looks back {} must run at most once an hour, not every {}",
                duration::to_kql(period),
                duration::to_kql(frequency)
            ),
        );
    }

    let (trigger_operator, trigger_threshold) = match reader.get("rule.trigger") {
        None => (TriggerOperator::GreaterThan, 0),
        Some(field) => {
            let parts: Vec<&str> = field.value.split_whitespace().collect();
            let parsed = match parts.as_slice() {
                [operator, threshold] => TriggerOperator::parse(operator)
                    .zip(threshold.parse::<u32>().ok().filter(|t| *t <= 10_000)),
                _ => None,
            };
            parsed.unwrap_or_else(|| {
                reader.at(
                    field,
                    format!(
                        "`rule.trigger` `{}` is not OPERATOR COUNT, with an operator of gt, lt, \
                         eq, ne and a count from 0 to 10000 (e.g. `gt 0`)",
                        field.value
                    ),
                );
                (TriggerOperator::GreaterThan, 0)
            })
        }
    };

    let alert_on = match (reader.get("rule.alert-on"), context.classifier) {
        (None, super::Classifier::Freshness) => vec![
            "never_seen".to_string(),
            "stale".to_string(),
            "lag_failure".to_string(),
        ],
        (None, _) => Vec::new(),
        (Some(field), super::Classifier::Freshness) => {
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
    };

    let tactics = reader
        .get("rule.tactics")
        .map(|field| {
            let tactics = list(&field.value);
            for (index, tactic) in tactics.iter().enumerate() {
                if !TACTICS.contains(&tactic.as_str()) {
                    reader.at(
                        field,
                        format!(
                            "`{tactic}` is not an ATT&CK tactic Sentinel knows (one of {})",
                            TACTICS.join(", ")
                        ),
                    );
                } else if tactics[..index].contains(tactic) {
                    reader.at(field, format!("tactic `{tactic}` is listed twice"));
                }
            }
            tactics
        })
        .unwrap_or_default();
    let techniques = reader
        .get("rule.techniques")
        .map(|field| {
            let techniques = list(&field.value);
            for technique in &techniques {
                match TECHNIQUES.iter().find(|(id, _)| id == technique) {
                    None if is_technique_id(technique) => reader.at(
                        field,
                        format!(
                            "technique `{technique}` is not one this tool knows the tactics of \
                             (known: {})",
                            TECHNIQUES
                                .iter()
                                .map(|(id, _)| *id)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                    None => reader.at(
                        field,
                        format!(
                            "technique `{technique}` is not T followed by four digits (a \
                             sub-technique such as T1562.008 needs a preview API version)"
                        ),
                    ),
                    Some((_, of)) if !of.iter().any(|t| tactics.iter().any(|own| own == t)) => {
                        reader.at(
                            field,
                            format!(
                                "technique `{technique}` belongs to {}, none of which is in \
                                 `rule.tactics`",
                                of.join(", ")
                            ),
                        )
                    }
                    Some(_) => {}
                }
            }
            techniques
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

    let mut formats = Vec::new();
    for (key, limit) in [
        ("rule.alert-name", MAX_DISPLAY_NAME),
        ("rule.alert-description", MAX_DESCRIPTION),
    ] {
        formats.push(reader.get(key).map(|field| {
            let count = placeholders(&field.value).len();
            if count > MAX_PLACEHOLDERS {
                reader.at(
                    field,
                    format!(
                        "`{key}` has {count} {{{{column}}}} placeholders; Sentinel takes at most \
                         {MAX_PLACEHOLDERS}"
                    ),
                );
            }
            if field.value.chars().count() > limit {
                reader.at(field, format!("`{key}` is longer than {limit} characters"));
            }
            field.value.clone()
        }));
    }
    let alert_description = formats.pop().flatten();
    let alert_name = formats.pop().flatten();

    let grouping = reader
        .get("rule.grouping")
        .and_then(|field| parse_grouping(field, &custom_details, &mut reader));
    let suppression = reader.span("rule.suppression");
    if let Some(suppression) = suppression
        && suppression > TimeDelta::hours(24)
    {
        reader.key_or_rule(
            "rule.suppression",
            switch,
            format!(
                "`rule.suppression` is {}; Sentinel suppresses for at most 24 hours",
                duration::to_kql(suppression)
            ),
        );
    }

    let settings = RuleSettings {
        enabled,
        id,
        name,
        frequency,
        period,
        trigger_operator,
        trigger_threshold,
        alert_on,
        tactics,
        techniques,
        entities,
        custom_details,
        alert_name,
        alert_description,
        grouping,
        suppression,
        line: switch.line,
    };
    if context.classifier != super::Classifier::Freshness
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
        let known = context.columns.iter().chain(context.group_by).any(|c| c == column)
            || ADDED_COLUMNS.contains(&column);
        if !known {
            reader.key_or_rule(
                key,
                switch,
                format!(
                    "`{key}` names column `{column}`, which is not in `group-by` or `columns`"
                ),
            );
        }
    }
    Some(settings)
}

fn is_technique_id(text: &str) -> bool {
    text.len() == 5 && text.starts_with('T') && text[1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_column_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 500
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !text.as_bytes()[0].is_ascii_digit()
}

/// `Type(Identifier=Column, …); Type(…)`.
fn parse_entities(field: &Field, reader: &mut Reader<'_>) -> Vec<EntityMapping> {
    let mut mappings = Vec::new();
    for part in field.value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
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
        let Some((_, strong, weak)) = ENTITY_TYPES.iter().find(|(name, _, _)| *name == kind) else {
            reader.at(
                field,
                format!(
                    "`{kind}` is not a Sentinel entity type (one of {})",
                    ENTITY_TYPES
                        .iter()
                        .map(|(name, _, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((identifier, column)) = pair.split_once('=') else {
                reader.at(field, format!("`{pair}` in `{kind}(…)` is not Identifier=Column"));
                continue;
            };
            let (identifier, column) = (identifier.trim(), column.trim());
            if !strong.contains(&identifier) && !weak.contains(&identifier) {
                reader.at(
                    field,
                    format!(
                        "`{identifier}` is not an identifier of {kind} (it has {})",
                        strong.iter().chain(weak.iter()).copied().collect::<Vec<_>>().join(", ")
                    ),
                );
            } else if fields.iter().any(|(seen, _)| seen == identifier) {
                reader.at(field, format!("{kind} maps `{identifier}` twice"));
            }
            if !is_column_name(column) {
                reader.at(field, format!("`{column}` is not a column name"));
            }
            fields.push((identifier.to_string(), column.to_string()));
        }
        if fields.is_empty() || fields.len() > MAX_IDENTIFIERS {
            reader.at(
                field,
                format!(
                    "{kind} maps {} identifiers; an entity mapping takes 1 to {MAX_IDENTIFIERS}",
                    fields.len()
                ),
            );
        } else if !fields.iter().any(|(identifier, _)| strong.contains(&identifier.as_str())) {
            reader.at(
                field,
                format!(
                    "{kind} maps no strong identifier, so Sentinel cannot tell entities apart: \
                     map one of {}",
                    strong.join(", ")
                ),
            );
        }
        mappings.push(EntityMapping {
            entity_type: kind.to_string(),
            fields,
        });
    }
    if mappings.len() > MAX_ENTITY_MAPPINGS {
        reader.at(
            field,
            format!(
                "{} entity mappings; a rule takes at most {MAX_ENTITY_MAPPINGS}",
                mappings.len()
            ),
        );
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
        let key_ok = !key.is_empty()
            && key.len() <= 20
            && key.as_bytes()[0].is_ascii_alphabetic()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok {
            reader.at(
                field,
                format!(
                    "custom detail key `{key}` must be a letter then letters, digits or `_`, at \
                     most 20 characters"
                ),
            );
        } else if details.iter().any(|(seen, _)| seen == key) {
            reader.at(field, format!("custom detail `{key}` is given twice"));
        }
        if !is_column_name(column) {
            reader.at(field, format!("`{column}` is not a column name"));
        }
        details.push((key.to_string(), column.to_string()));
    }
    if details.len() > MAX_CUSTOM_DETAILS {
        reader.at(
            field,
            format!(
                "{} custom details; a rule takes at most {MAX_CUSTOM_DETAILS}",
                details.len()
            ),
        );
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
    if lookback < TimeDelta::minutes(5) || lookback > TimeDelta::days(7) {
        reader.at(
            field,
            format!(
                "incident grouping looks back 5 minutes to 7 days, not {}",
                duration::to_kql(lookback)
            ),
        );
    }
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

struct Reader<'a> {
    path: &'a std::path::Path,
    raw: &'a RawHeader,
    errors: &'a mut Vec<CheckFileError>,
}

impl<'a> Reader<'a> {
    fn get(&self, key: &str) -> Option<&'a Field> {
        self.raw.fields.get(key)
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
