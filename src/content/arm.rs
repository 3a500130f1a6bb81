//! ARM template details shared by the rules and the workbook.

use serde_json::Value;

/// ARM reads a string that starts with `[` as an expression; a literal one is written with the
/// bracket doubled. Applied to every string below `value` (keys are never evaluated).
pub fn escape_expressions(value: &mut Value) {
    match value {
        Value::String(text) if text.starts_with('[') => text.insert(0, '['),
        Value::Array(items) => items.iter_mut().for_each(escape_expressions),
        Value::Object(map) => map.values_mut().for_each(escape_expressions),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_starting_with_a_bracket_are_doubled_everywhere() {
        let mut value = serde_json::json!({
            "displayName": "[prod] GuardDuty stopped",
            "query": "T | where x == '[a]'",
            "nested": [{"text": "[x]"}, 3, null],
        });
        escape_expressions(&mut value);
        assert_eq!(value["displayName"], "[[prod] GuardDuty stopped");
        assert_eq!(value["query"], "T | where x == '[a]'");
        assert_eq!(value["nested"][0]["text"], "[[x]");
    }
}
