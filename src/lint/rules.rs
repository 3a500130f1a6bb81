//! The analytic rule of each check that asks for one, generated as `build` would and held to
//! the same published schema and limits (`content::rule`), each problem reported at the header
//! line that sets the field.

use crate::catalog::{Check, header};
use crate::content;
use crate::lint::diagnostic::{Diagnostic, code};
use crate::lint::schema::Table;

/// Findings for the rules of `checks`, which are also the checks `rule.quiet-when` may name.
pub fn check_rules(checks: &[Check], tables: &[Table]) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for check in checks {
        let Some(settings) = &check.rule else {
            continue;
        };
        let (known, unknown): (Vec<String>, Vec<String>) = (settings.quiet_when.iter().cloned())
            .partition(|id| {
                checks
                    .iter()
                    .any(|other| &other.id == id && other.id != check.id)
            });
        for id in &unknown {
            found.push(Diagnostic::warning(
                &check.path,
                position(check, "rule.quiet-when"),
                code::RULE,
                format!(
                    "`rule.quiet-when` names `{id}`, which is not among the checks linted; \
                     `build` needs it in the same catalog"
                ),
            ));
        }
        let mut checked = check.clone();
        if let Some(rule) = checked.rule.as_mut() {
            rule.quiet_when = known;
        }
        if let Err(problems) = content::rule(&checked, checks, tables) {
            found.extend(problems.into_iter().map(|problem| {
                let key = content::header_key(&problem.field);
                Diagnostic::error(
                    &check.path,
                    key.map_or_else(|| position(check, "rule"), |key| position(check, key)),
                    code::RULE,
                    format!("the rule's `{}`: {}", problem.field, problem.message),
                )
            }));
        }
    }
    found
}

/// Where header key `key` is written; a rule's name defaults to the title, and anything else
/// not written is reported at the `rule` line.
fn position(check: &Check, key: &str) -> (usize, usize) {
    let Ok(raw) = header::parse(&check.path, &check.text) else {
        return (1, 1);
    };
    let fallback = if key == "rule.name" { "title" } else { "rule" };
    (raw.fields.get(key))
        .or_else(|| raw.fields.get(fallback))
        .map_or((1, 1), |field| (field.line, field.column))
}
