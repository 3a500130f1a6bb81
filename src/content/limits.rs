//! What Sentinel refuses beyond its OpenAPI definitions: the service's limits on a scheduled
//! rule, and the stricter rules Microsoft's Sentinel content repository applies to the rules it
//! accepts (lengths, ATT&CK techniques under their tactics, strong entity identifiers). Checked
//! on the generated rule's `properties` and on the workbook, by `build` before anything is
//! written and by `lint` for each check with a rule.

use chrono::TimeDelta;
use serde_json::Value;

use super::Problem;
use super::arm::parse_iso8601;

pub const MAX_QUERY: usize = 10_000;
const MAX_DISPLAY_NAME: usize = 256;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_ENTITY_MAPPINGS: usize = 10;
const MAX_IDENTIFIERS: usize = 3;
const MAX_CUSTOM_DETAILS: usize = 20;
const MAX_PLACEHOLDERS: usize = 3;
const MAX_TRIGGER_THRESHOLD: u64 = 10_000;
const MAX_COLUMN_NAME: usize = 500;
const MAX_CUSTOM_DETAIL_KEY: usize = 20;
const MAX_VERSION: usize = 20;
const SHORTEST_RUN: TimeDelta = TimeDelta::minutes(5);
const LONGEST_RUN: TimeDelta = TimeDelta::days(14);
const MAX_SUPPRESSION: TimeDelta = TimeDelta::hours(24);
const LONGEST_GROUPING: TimeDelta = TimeDelta::days(7);
/// The workbook guidance's steps and Log Analytics queries per workbook (advice, reported as
/// warnings), and the serialized size above which a workbook fails to save.
pub const MAX_WORKBOOK_STEPS: usize = 100;
pub const MAX_WORKBOOK_QUERIES: usize = 40;
pub const MAX_WORKBOOK_CHARS: usize = 500_000;

/// The MITRE ATT&CK Enterprise tactics, as the API spells them. The API's `AttackTactic` also
/// has `PreAttack` and two ICS tactics, which the content repository refuses.
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

/// ATT&CK Enterprise techniques a rule of this tool may name, with the tactics each belongs
/// to. No ATT&CK data set is read at run time; a technique outside this table is refused.
pub const TECHNIQUES: &[(&str, &[&str])] = &[
    ("T1070", &["DefenseEvasion"]),
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
    ("T1485", &["Impact"]),
    ("T1486", &["Impact"]),
    ("T1490", &["Impact"]),
    ("T1531", &["Impact"]),
    ("T1562", &["DefenseEvasion"]),
];

/// An entity type with the identifiers Sentinel knows for it.
pub struct EntityType {
    pub name: &'static str,
    /// The combinations of which at least one must be mapped: its strong identifiers.
    pub strong: &'static [&'static [&'static str]],
    /// Its other identifiers.
    pub other: &'static [&'static str],
}

/// The entity types a rule may map.
pub const ENTITY_TYPES: &[EntityType] = &[
    EntityType {
        name: "Account",
        strong: &[
            &["FullName"],
            &["Sid"],
            &["Name"],
            &["AadUserId"],
            &["PUID"],
            &["ObjectGuid"],
        ],
        other: &[
            "NTDomain",
            "DnsDomain",
            "UPNSuffix",
            "DisplayName",
            "AadTenantId",
            "IsDomainJoined",
            "CloudAppAccountId",
        ],
    },
    EntityType {
        name: "Host",
        strong: &[
            &["FullName"],
            &["HostName"],
            &["NetBiosName"],
            &["AzureID"],
            &["OMSAgentID"],
        ],
        other: &["DnsDomain", "NTDomain", "OSFamily", "OSVersion"],
    },
    EntityType {
        name: "IP",
        strong: &[&["Address"]],
        other: &[],
    },
    EntityType {
        name: "Malware",
        strong: &[&["Name"]],
        other: &["Category"],
    },
    EntityType {
        name: "File",
        strong: &[&["Name"]],
        other: &["Directory"],
    },
    EntityType {
        name: "Process",
        strong: &[&["CommandLine"], &["ProcessId"]],
        other: &["CreationTimeUtc"],
    },
    EntityType {
        name: "CloudApplication",
        strong: &[&["AppId"], &["Name"]],
        other: &["InstanceName"],
    },
    EntityType {
        name: "DNS",
        strong: &[&["DomainName"]],
        other: &[],
    },
    EntityType {
        name: "AzureResource",
        strong: &[&["ResourceId"]],
        other: &[],
    },
    EntityType {
        name: "FileHash",
        strong: &[&["Algorithm", "Value"]],
        other: &[],
    },
    EntityType {
        name: "RegistryKey",
        strong: &[&["Key"], &["Hive"]],
        other: &[],
    },
    EntityType {
        name: "RegistryValue",
        strong: &[&["Name"]],
        other: &["Value", "ValueType"],
    },
    EntityType {
        name: "SecurityGroup",
        strong: &[&["DistinguishedName"], &["SID"], &["ObjectGuid"]],
        other: &[],
    },
    EntityType {
        name: "URL",
        strong: &[&["Url"]],
        other: &[],
    },
    EntityType {
        name: "Mailbox",
        strong: &[&["MailboxPrimaryAddress"]],
        other: &["DisplayName", "Upn"],
    },
    EntityType {
        name: "MailCluster",
        strong: &[&["Query"], &["Source"]],
        other: &[],
    },
    EntityType {
        name: "MailMessage",
        strong: &[&["NetworkMessageId"], &["Recipient"]],
        other: &["Sender", "Subject"],
    },
    EntityType {
        name: "SubmissionMail",
        strong: &[
            &["SubmissionId"],
            &["NetworkMessageId"],
            &["Recipient"],
            &["Submitter"],
        ],
        other: &[],
    },
];

/// Every limit a rule's `properties` break.
pub fn rule_problems(properties: &Value) -> Vec<Problem> {
    let mut found = Found::default();
    texts(properties, &mut found);
    durations(properties, &mut found);
    attack(properties, &mut found);
    entities(properties, &mut found);
    custom_details(properties, &mut found);
    alert_details(properties, &mut found);
    found.0
}

#[derive(Default)]
struct Found(Vec<Problem>);

impl Found {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }
}

fn text<'a>(properties: &'a Value, key: &str) -> &'a str {
    properties[key].as_str().unwrap_or_default()
}

fn texts(properties: &Value, found: &mut Found) {
    let name = text(properties, "displayName");
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME {
        found.add(
            "displayName",
            format!(
                "the rule's name is {} characters; Sentinel takes 1 to {MAX_DISPLAY_NAME}",
                name.chars().count()
            ),
        );
    }
    let description = text(properties, "description");
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
        found.add(
            "description",
            format!(
                "the rule's description is {} characters; Sentinel's content repository takes \
                 1 to {MAX_DESCRIPTION}",
                description.chars().count()
            ),
        );
    }
    let query = text(properties, "query");
    let length = query.chars().count();
    if length == 0 || length > MAX_QUERY {
        found.add(
            "query",
            format!(
                "the rule's query is {length} characters; Sentinel takes 1 to {MAX_QUERY} \
                 (shorten the check's query, or its `rule.quiet-when` list)"
            ),
        );
    }
    let squashed: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    for refused in ["search *", "union *"] {
        if squashed.contains(refused) {
            found.add("query", format!("a rule's query may not use `{refused}`"));
        }
    }
    let version = text(properties, "templateVersion");
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() == 3
        && (parts.iter()).all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || version.len() > MAX_VERSION {
        found.add(
            "templateVersion",
            format!("version `{version}` must be plain numbers x.y.z (no pre-release or build)"),
        );
    }
    let threshold = properties["triggerThreshold"].as_u64();
    if threshold.is_none_or(|t| t > MAX_TRIGGER_THRESHOLD) {
        found.add(
            "triggerThreshold",
            format!("the trigger count must be 0 to {MAX_TRIGGER_THRESHOLD}"),
        );
    }
}

fn span(properties: &Value, pointer: &str, found: &mut Found) -> Option<TimeDelta> {
    let field = pointer.trim_start_matches('/');
    let text = properties.pointer(pointer)?.as_str()?;
    let parsed = parse_iso8601(text);
    if parsed.is_none() {
        found.add(
            field,
            format!("`{text}` is not an ISO 8601 duration such as PT1H or P1D"),
        );
    }
    parsed
}

fn durations(properties: &Value, found: &mut Found) {
    let frequency = span(properties, "/queryFrequency", found);
    let period = span(properties, "/queryPeriod", found);
    for (field, value) in [("queryFrequency", frequency), ("queryPeriod", period)] {
        if let Some(value) = value
            && !(SHORTEST_RUN..=LONGEST_RUN).contains(&value)
        {
            found.add(
                field,
                format!(
                    "{} is outside what Sentinel accepts: 5 minutes to 14 days",
                    human(value)
                ),
            );
        }
    }
    if let (Some(frequency), Some(period)) = (frequency, period) {
        if frequency > period {
            found.add(
                "queryFrequency",
                format!(
                    "the rule runs every {} but looks back only {}: rows between runs would \
                     never be looked at",
                    human(frequency),
                    human(period)
                ),
            );
        }
        if period >= TimeDelta::days(2) && frequency < TimeDelta::hours(1) {
            found.add(
                "queryFrequency",
                format!(
                    "a rule that looks back {} must run at most once an hour, not every {}",
                    human(period),
                    human(frequency)
                ),
            );
        }
    }
    if let Some(suppression) = span(properties, "/suppressionDuration", found)
        && suppression > MAX_SUPPRESSION
    {
        found.add(
            "suppressionDuration",
            format!(
                "Sentinel suppresses for at most 24 hours, not {}",
                human(suppression)
            ),
        );
    }
    let grouping = "/incidentConfiguration/groupingConfiguration";
    if let Some(lookback) = span(properties, &format!("{grouping}/lookbackDuration"), found)
        && !(SHORTEST_RUN..=LONGEST_GROUPING).contains(&lookback)
    {
        found.add(
            format!("{}/lookbackDuration", &grouping[1..]),
            format!(
                "incident grouping looks back 5 minutes to 7 days, not {}",
                human(lookback)
            ),
        );
    }
    let method = properties.pointer(&format!("{grouping}/matchingMethod"));
    let lists = [
        "groupByEntities",
        "groupByAlertDetails",
        "groupByCustomDetails",
    ];
    let any_list = lists.iter().any(|list| {
        (properties.pointer(&format!("{grouping}/{list}")))
            .and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty())
    });
    if method.and_then(Value::as_str) == Some("Selected") && !any_list {
        found.add(
            format!("{}/matchingMethod", &grouping[1..]),
            "grouping by selected details needs at least one entity, alert detail or custom \
             detail to group by",
        );
    }
}

fn human(span: TimeDelta) -> String {
    crate::duration::to_kql(span)
}

fn strings(properties: &Value, key: &str) -> Vec<String> {
    (properties[key].as_array().into_iter().flatten())
        .filter_map(|item| item.as_str().map(String::from))
        .collect()
}

fn attack(properties: &Value, found: &mut Found) {
    let tactics = strings(properties, "tactics");
    for (index, tactic) in tactics.iter().enumerate() {
        if !TACTICS.contains(&tactic.as_str()) {
            found.add(
                format!("tactics/{index}"),
                format!(
                    "`{tactic}` is not an ATT&CK Enterprise tactic (one of {})",
                    TACTICS.join(", ")
                ),
            );
        } else if tactics[..index].contains(tactic) {
            found.add(
                format!("tactics/{index}"),
                format!("tactic `{tactic}` is listed twice"),
            );
        }
    }
    for (index, technique) in strings(properties, "techniques").iter().enumerate() {
        let field = format!("techniques/{index}");
        let well_formed = technique.len() == 5
            && technique.starts_with('T')
            && technique[1..].bytes().all(|b| b.is_ascii_digit());
        match TECHNIQUES.iter().find(|(id, _)| id == technique) {
            None if !well_formed => found.add(
                field,
                format!(
                    "technique `{technique}` is not T and four digits (a sub-technique such as \
                     T1562.008 needs a preview API version)"
                ),
            ),
            None => found.add(
                field,
                format!(
                    "technique `{technique}` is not one whose tactics this tool knows (known: {})",
                    TECHNIQUES
                        .iter()
                        .map(|(id, _)| *id)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some((_, of)) if !of.iter().any(|t| tactics.iter().any(|own| own == t)) => found.add(
                field,
                format!(
                    "technique `{technique}` belongs to {}, none of which is among the rule's \
                     tactics",
                    of.join(", ")
                ),
            ),
            Some(_) => {}
        }
    }
}

fn is_column_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && text.len() <= MAX_COLUMN_NAME
}

fn entities(properties: &Value, found: &mut Found) {
    let Some(mappings) = properties["entityMappings"].as_array() else {
        return;
    };
    if mappings.len() > MAX_ENTITY_MAPPINGS {
        found.add(
            "entityMappings",
            format!(
                "{} entity mappings; a rule takes at most {MAX_ENTITY_MAPPINGS}",
                mappings.len()
            ),
        );
    }
    for (index, mapping) in mappings.iter().enumerate() {
        let field = format!("entityMappings/{index}");
        let kind = mapping["entityType"].as_str().unwrap_or_default();
        let fields = mapping["fieldMappings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let identifiers: Vec<&str> = (fields.iter())
            .map(|f| f["identifier"].as_str().unwrap_or_default())
            .collect();
        if identifiers.is_empty() || identifiers.len() > MAX_IDENTIFIERS {
            found.add(
                &field,
                format!(
                    "{kind} maps {} identifiers; an entity mapping takes 1 to {MAX_IDENTIFIERS}",
                    identifiers.len()
                ),
            );
        }
        for (position, item) in fields.iter().enumerate() {
            let column = item["columnName"].as_str().unwrap_or_default();
            if !is_column_name(column) {
                found.add(
                    format!("{field}/fieldMappings/{position}/columnName"),
                    format!("`{column}` is not a column name"),
                );
            }
            if identifiers[..position].contains(&identifiers[position]) {
                found.add(
                    format!("{field}/fieldMappings/{position}/identifier"),
                    format!("{kind} maps `{}` twice", identifiers[position]),
                );
            }
        }
        entity_identifiers(kind, &identifiers, &field, found);
    }
}

fn entity_identifiers(kind: &str, identifiers: &[&str], field: &str, found: &mut Found) {
    let Some(EntityType { strong, other, .. }) = ENTITY_TYPES.iter().find(|t| t.name == kind)
    else {
        let known: Vec<&str> = ENTITY_TYPES.iter().map(|t| t.name).collect();
        found.add(
            format!("{field}/entityType"),
            format!(
                "`{kind}` is not an entity type Sentinel maps (one of {})",
                known.join(", ")
            ),
        );
        return;
    };
    let known = |identifier: &str| {
        strong.iter().any(|set| set.contains(&identifier)) || other.contains(&identifier)
    };
    for (position, identifier) in identifiers.iter().enumerate() {
        if !known(identifier) {
            let mut all: Vec<&str> = strong.iter().flat_map(|set| set.iter().copied()).collect();
            all.extend(other.iter());
            found.add(
                format!("{field}/fieldMappings/{position}/identifier"),
                format!(
                    "`{identifier}` is not an identifier of {kind} (it has {})",
                    all.join(", ")
                ),
            );
        }
    }
    let has_strong = strong
        .iter()
        .any(|set| set.iter().all(|needed| identifiers.contains(needed)));
    if !identifiers.is_empty() && !has_strong {
        let sets: Vec<String> = strong.iter().map(|set| set.join("+")).collect();
        found.add(
            field,
            format!(
                "{kind} maps no strong identifier, so Sentinel cannot tell its entities apart: \
                 map {}",
                sets.join(" or ")
            ),
        );
    }
}

fn custom_details(properties: &Value, found: &mut Found) {
    let Some(details) = properties["customDetails"].as_object() else {
        return;
    };
    if details.len() > MAX_CUSTOM_DETAILS {
        found.add(
            "customDetails",
            format!(
                "{} custom details; a rule takes at most {MAX_CUSTOM_DETAILS}",
                details.len()
            ),
        );
    }
    for (key, column) in details {
        let key_ok = key.len() <= MAX_CUSTOM_DETAIL_KEY
            && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok {
            found.add(
                format!("customDetails/{key}"),
                format!(
                    "custom detail key `{key}` must be a letter, then letters, digits or `_`, \
                     at most {MAX_CUSTOM_DETAIL_KEY} characters"
                ),
            );
        }
        let column = column.as_str().unwrap_or_default();
        if !is_column_name(column) {
            found.add(
                format!("customDetails/{key}"),
                format!("`{column}` is not a column name"),
            );
        }
    }
}

fn alert_details(properties: &Value, found: &mut Found) {
    let overrides = &properties["alertDetailsOverride"];
    for (key, limit) in [
        ("alertDisplayNameFormat", MAX_DISPLAY_NAME),
        ("alertDescriptionFormat", MAX_DESCRIPTION),
    ] {
        let Some(format) = overrides[key].as_str() else {
            continue;
        };
        let field = format!("alertDetailsOverride/{key}");
        let length = format.chars().count();
        if length == 0 || length > limit {
            found.add(
                &field,
                format!("the format is {length} characters; Sentinel takes 1 to {limit}"),
            );
        }
        let count = crate::catalog::rule::placeholders(format).len();
        if count > MAX_PLACEHOLDERS {
            found.add(
                &field,
                format!(
                    "the format has {count} {{{{column}}}} placeholders; Sentinel takes at most \
                     {MAX_PLACEHOLDERS}"
                ),
            );
        }
    }
}

/// What Sentinel and its content repository refuse in a workbook: a saved workbook over
/// 500,000 characters, a fixed subscription's resource ID, the marker of a portal-saved one.
pub fn workbook_problems(content: &Value, serialized: &str) -> Vec<Problem> {
    let mut found = Found::default();
    let length = serialized.chars().count();
    if length > MAX_WORKBOOK_CHARS {
        found.add(
            "serializedData",
            format!("{length} characters; a workbook is saved up to {MAX_WORKBOOK_CHARS}"),
        );
    }
    if let Some(at) = subscription_literal(serialized) {
        found.add(
            "serializedData",
            format!(
                "holds a fixed resource ID (`{}…`); a shared workbook takes its resources from \
                 parameters",
                &serialized[at..(at + 24).min(serialized.len())]
            ),
        );
    }
    if content["fromTemplateId"] == "sentinel-UserWorkbook" {
        found.add(
            "fromTemplateId",
            "`sentinel-UserWorkbook` marks a workbook saved from the portal, not a template",
        );
    }
    found.0
}

/// What the workbook gallery's guidance advises against, which still loads: more than 100
/// steps, more than 40 Log Analytics queries (each runs when the workbook opens).
pub fn workbook_warnings(content: &Value) -> Vec<Problem> {
    let mut found = Found::default();
    let (steps, queries) = workbook_load(content["items"].as_array().map_or(&[], Vec::as_slice));
    if steps > MAX_WORKBOOK_STEPS {
        found.add(
            "items",
            format!("{steps} steps; the workbook guidance keeps to {MAX_WORKBOOK_STEPS}"),
        );
    }
    if queries > MAX_WORKBOOK_QUERIES {
        found.add(
            "items",
            format!(
                "{queries} Log Analytics queries run when the workbook opens; the workbook \
                 guidance keeps to {MAX_WORKBOOK_QUERIES}"
            ),
        );
    }
    found.0
}

/// The steps among `items`, nested ones included, and how many of them are Log Analytics
/// queries, as the workbook guidance counts them.
pub fn workbook_load(items: &[Value]) -> (usize, usize) {
    let (mut steps, mut queries) = (0, 0);
    for item in items {
        steps += 1;
        let content = &item["content"];
        if item["type"] == 3 && content["queryType"].as_i64().unwrap_or(0) == 0 {
            queries += 1;
        }
        let (inner_steps, inner_queries) =
            workbook_load(content["items"].as_array().map_or(&[], Vec::as_slice));
        steps += inner_steps;
        queries += inner_queries;
    }
    (steps, queries)
}

/// Where `/subscriptions/<GUID>` appears, if it does.
fn subscription_literal(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("/subscriptions/") {
        let at = from + found;
        let rest = &lower[at + "/subscriptions/".len()..];
        if rest.len() >= 36 && uuid::Uuid::try_parse(&rest[..36]).is_ok() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
