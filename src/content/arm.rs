//! ARM template details shared by the rules and the workbook: the template skeleton with its
//! `workspace` parameter, expression escaping, and ISO 8601 durations.

use chrono::TimeDelta;
use serde_json::{Value, json};

const TEMPLATE_SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

/// An ARM template holding `resources`, deployed to the workspace its `workspace` parameter
/// names (the parameter Sentinel Repositories fills in).
pub fn template(resources: Vec<Value>, workspace_description: &str) -> Value {
    json!({
        "$schema": TEMPLATE_SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {
            "workspace": {
                "type": "String",
                "metadata": { "description": workspace_description }
            }
        },
        "resources": resources,
    })
}

/// ARM reads a string that starts with `[` and ends with `]` as an expression; a literal one is
/// written with its first bracket doubled. A string that only starts with `[` is already literal
/// (doubling it would make the `[[` part of the value). Applied to every string below `value` (keys are never evaluated).
pub fn escape_expressions(value: &mut Value) {
    match value {
        Value::String(text) if text.starts_with('[') && text.ends_with(']') => text.insert(0, '['),
        Value::Array(items) => items.iter_mut().for_each(escape_expressions),
        Value::Object(map) => map.values_mut().for_each(escape_expressions),
        _ => {}
    }
}

/// An ISO 8601 duration with days in the date part (`PT5M`, `PT1H`, `P1D`, `P2DT1H30M`), as
/// Sentinel's own exports write them. Fractions of a second are dropped.
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

/// Reads back a duration in the form [`iso8601`] writes (whole days, hours, minutes and
/// seconds); `None` for anything else, including years, months and weeks, whose length the
/// service would have to guess.
pub fn parse_iso8601(text: &str) -> Option<TimeDelta> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total = TimeDelta::zero();
    if !date.is_empty() {
        total += TimeDelta::days(date.strip_suffix('D')?.parse::<u32>().ok()?.into());
    }
    let mut time = time.unwrap_or("");
    for (unit, seconds) in [('H', 3_600), ('M', 60), ('S', 1)] {
        if let Some((number, after)) = time.split_once(unit) {
            let count = i64::from(number.parse::<u32>().ok()?);
            total += TimeDelta::seconds(count * seconds);
            time = after;
        }
    }
    (time.is_empty() && (!date.is_empty() || text.contains('T'))).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_arm_would_evaluate_are_doubled_everywhere() {
        let mut value = json!({
            "displayName": "[prod] GuardDuty stopped",
            "alertName": "[prod] GuardDuty stopped [eu]",
            "query": "T | where x == '[a]'",
            "nested": [{"text": "[x]"}, 3, null],
        });
        escape_expressions(&mut value);
        assert_eq!(value["displayName"], "[prod] GuardDuty stopped");
        assert_eq!(value["alertName"], "[[prod] GuardDuty stopped [eu]");
        assert_eq!(value["query"], "T | where x == '[a]'");
        assert_eq!(value["nested"][0]["text"], "[[x]");
    }

    #[test]
    fn durations_put_days_in_the_date_part_and_read_back() {
        let cases = [
            (TimeDelta::minutes(5), "PT5M"),
            (TimeDelta::hours(1), "PT1H"),
            (TimeDelta::days(1), "P1D"),
            (TimeDelta::days(14), "P14D"),
            (TimeDelta::days(2) + TimeDelta::minutes(90), "P2DT1H30M"),
            (TimeDelta::seconds(90), "PT1M30S"),
            (TimeDelta::zero(), "PT0S"),
        ];
        for (span, text) in cases {
            assert_eq!(iso8601(span), text);
            assert_eq!(parse_iso8601(text), Some(span), "{text}");
        }
        for bad in [
            "", "P", "PT", "1D", "P1W", "P1Y", "PT1X", "P1DT", "PT-1H", "P1H",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?}");
        }
    }
}
