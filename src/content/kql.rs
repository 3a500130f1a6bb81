//! The KQL of the content pack, derived from a check's own query.
//!
//! A check's query returns one row per group with the columns its classifier reads; `validate`
//! judges those rows in Rust. A Sentinel rule or workbook has no such judge, so here the
//! classifier's logic is written in KQL after the check's query: it adds `Reason` (the verdict
//! reason `validate` would give) and `Status`. A rule keeps the rows it alerts on; a workbook
//! shows them all.
//!
//! Three more things differ from the check as `validate` runs it:
//! - each table the check reads becomes `union isfuzzy=true (datatable(…)[]), (Table)`, so the
//!   query compiles where the table does not exist yet (Sentinel runs a rule's query when the
//!   rule is created, and a missing table would fail the deployment); the empty typed
//!   `datatable` declares the columns the query uses, with the types of the table's schema;
//! - the empty-`summarize` trap is closed: with `by`, no input rows give no output rows, so a
//!   second leg adds a `never_seen` row when the check's result is empty;
//! - a freshness rule with `rule.quiet-when` carries the queries of the checks named there:
//!   while all of them are healthy, a table without rows is `quiet`, as `validate` reports it,
//!   not `never_seen`.

use chrono::TimeDelta;

use crate::catalog::{Check, Classifier, header};
use crate::lint::schema::Table;

/// A tabular `let` holding the check's own result.
const RESULT: &str = "CheckResult";
/// A `let` holding a rule's run interval, for windows on arrival time.
const WINDOW: &str = "rule_window";
/// A `let` holding whether every check of `rule.quiet-when` is healthy.
const QUIET_PROVEN: &str = "QuietProven";

/// The check's query split into statements, its tables read through fuzzy unions when asked.
#[derive(Debug)]
struct Derived {
    /// The check's statements before its last one (thresholds, helper lets), tables replaced.
    statements: Vec<String>,
    /// The last statement, the check's result.
    result: String,
    /// `let Table_IfPresent = union isfuzzy=true (datatable(…)[]), (Table);` per table.
    fuzzy: Vec<String>,
}

/// Why a check's query cannot be turned into a rule or workbook query.
#[derive(Debug, PartialEq)]
pub struct Unusable(pub String);

impl Derived {
    /// Splits the check's query (the file without its header) into statements and, when
    /// `fuzzy` is set, replaces each table it reads with a union that tolerates its absence.
    fn of(check: &Check, schemas: &[Table], fuzzy: bool) -> Result<Derived, Unusable> {
        let body_line = header::parse(&check.path, &check.text)
            .map(|raw| raw.body_line)
            .unwrap_or(1);
        let body: String = check
            .text
            .split_inclusive('\n')
            .skip(body_line - 1)
            .collect();
        let tokens = tokenize(&body);
        let fuzzy_lets = if fuzzy {
            stand_ins(check, schemas, &body, &tokens)?
        } else {
            Vec::new()
        };
        let mut replaced = String::new();
        let mut statements = Vec::new();
        let mut statement_start = 0;
        let mut last = 0;
        for token in &tokens {
            match token.kind {
                Kind::Identifier if fuzzy => {
                    let word = &body[token.range.clone()];
                    if let Some(table) = check.tables.iter().find(|t| *t == word) {
                        replaced.push_str(&body[last..token.range.start]);
                        replaced.push_str(&stand_in(table));
                        last = token.range.end;
                    }
                }
                Kind::Semicolon => {
                    replaced.push_str(&body[last..token.range.end]);
                    last = token.range.end;
                    statements.push(replaced[statement_start..].trim().to_string());
                    statement_start = replaced.len();
                }
                _ => {}
            }
        }
        replaced.push_str(&body[last..]);
        let result = strip_comments(replaced[statement_start..].trim());
        if result.trim().is_empty() {
            return Err(Unusable(
                "the query ends with `;`: its last statement must be the result".into(),
            ));
        }
        Ok(Derived {
            statements,
            result: result.trim().to_string(),
            fuzzy: fuzzy_lets,
        })
    }

    /// The query text: the stand-in tables, `extra_lets`, the check's statements,
    /// `let CheckResult = …;`, then `tail` applied to it.
    fn with_tail(&self, extra_lets: &[String], tail: &str) -> String {
        let mut text = String::new();
        for line in self.fuzzy.iter().chain(extra_lets).chain(&self.statements) {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&format!("let {RESULT} = {};\n", indent(&self.result)));
        text.push_str(tail);
        text
    }
}

/// `let T_IfPresent = union isfuzzy=true (datatable(…)[]), (T);` for each table of the check,
/// declaring the table's columns that the query names.
fn stand_ins(
    check: &Check,
    schemas: &[Table],
    body: &str,
    tokens: &[Token],
) -> Result<Vec<String>, Unusable> {
    let mut lets = Vec::new();
    for table in &check.tables {
        let schema = schemas
            .iter()
            .find(|schema| schema.name.eq_ignore_ascii_case(table))
            .ok_or_else(|| {
                Unusable(format!(
                    "no schema for table `{table}`, so its columns cannot be declared for a \
                     query that must compile before the table exists (add one with --schemas)"
                ))
            })?;
        let used: Vec<String> = schema
            .columns
            .iter()
            .filter(|column| {
                tokens.iter().any(|token| {
                    token.kind == Kind::Identifier && body[token.range.clone()] == column.name
                })
            })
            .map(|column| format!("{}:{}", column.name, column.kind))
            .collect();
        lets.push(format!(
            "let {} = union isfuzzy=true (datatable({})[]), ({table});",
            stand_in(table),
            used.join(", ")
        ));
    }
    Ok(lets)
}

fn stand_in(table: &str) -> String {
    format!("{table}_IfPresent")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// Drops `//` comments (a trailing comment after the result would swallow the `;` added
/// after it).
fn strip_comments(text: &str) -> String {
    let tokens = tokenize(text);
    let mut kept = String::new();
    let mut last = 0;
    for token in tokens.iter().filter(|t| t.kind == Kind::Comment) {
        kept.push_str(&text[last..token.range.start]);
        last = token.range.end;
    }
    kept.push_str(&text[last..]);
    kept
}

/// The verdict logic of the check's classifier, as KQL over `CheckResult`: every row gets
/// `Reason` and `Status`, as `validate` would judge it. `quiet` is a boolean expression that,
/// when true, makes a freshness check's `never_seen` a `quiet`.
fn status_tail(check: &Check, quiet: Option<&str>) -> String {
    match check.classifier {
        Classifier::Freshness => freshness_tail(check, quiet),
        Classifier::Events => events_tail(check),
        Classifier::Share => share_tail(check),
    }
}

fn freshness_tail(check: &Check, quiet: Option<&str>) -> String {
    let has = |column: &str| check.columns.iter().any(|c| c == column);
    let factor = check.threshold("silence_factor").is_some();
    let mut tail = format!("{RESULT}\n");
    // As in `validate`: with `silence_factor`, a silent group has stopped only when its silence
    // is that many times its usual gap, which needs three arrival bins to be known; without
    // it, every silence past `stale_after` is a stop.
    let stopped = if !factor {
        "true"
    } else if has("Batches") && has("FirstArrival") {
        tail.push_str(
            "| extend GapSeconds = iff(Batches >= 3, \
             (LastArrival - FirstArrival) / 1s / (Batches - 1), real(null))\n",
        );
        "isnotnull(GapSeconds) and SilentFor / 1s >= silence_factor * GapSeconds"
    } else {
        "false"
    };
    tail.push_str(
        "| extend SilentFor = iff(isnull(SinceLastArrival), now() - LastArrival, SinceLastArrival)\n\
         | extend SilentFor = iff(SilentFor < 0s, 0s, SilentFor)\n",
    );
    tail.push_str(&format!(
        "| extend Reason = case(Rows == 0 or isnull(LastArrival), \"never_seen\",\n    \
         SilentFor >= stale_after and {stopped}, \"stale\",\n    \
         SilentFor >= stale_after, \"quiet\",\n    \
         isnull(IngestionLag), \"incomplete_row\",\n    \
         IngestionLag >= lag_failure, \"lag_failure\",\n    \
         IngestionLag >= lag_warning, \"lag_warning\",\n    \
         \"fresh\")\n"
    ));
    tail.push_str(&format!(
        "| union ({RESULT} | count | where Count == 0 | project Reason = \"never_seen\")\n"
    ));
    if let Some(quiet) = quiet {
        tail.push_str(&format!(
            "| extend Reason = iff(Reason == \"never_seen\" and {quiet}, \"quiet\", Reason)\n"
        ));
    }
    tail.push_str(
        "| extend Status = case(Reason in (\"never_seen\", \"stale\", \"quiet\"), \"no_data\",\n    \
         Reason startswith \"lag_\", \"lag\", Reason == \"incomplete_row\", \"error\", \"healthy\")\n",
    );
    tail
}

fn events_tail(check: &Check) -> String {
    let finding = check.finding.as_ref();
    let reason = finding.map_or("finding", |f| f.reason.as_str());
    let status = finding.map_or("no_data", |f| f.status.name());
    let mut tail = format!("{RESULT}\n");
    if !check.columns.iter().any(|c| c == "Reason") {
        tail.push_str(&format!("| extend Reason = \"{reason}\"\n"));
    }
    tail.push_str(&format!("| extend Status = \"{status}\"\n"));
    tail.push_str(&format!(
        "| union ({RESULT} | count | where Count == 0 \
         | project Reason = \"none_found\", Status = \"healthy\")\n"
    ));
    tail
}

fn share_tail(check: &Check) -> String {
    let finding = check.finding.as_ref();
    let reason = finding.map_or("finding", |f| f.reason.as_str());
    let status = finding.map_or("no_data", |f| f.status.name());
    format!(
        "{RESULT}\n\
         | extend Reason = case(isnull(Rows) or Rows == 0, \"never_seen\",\n    \
         todouble(Bad) / Rows > max_share, \"{reason}\", \"within_limit\")\n\
         | union ({RESULT} | count | where Count == 0 | project Reason = \"never_seen\")\n\
         | extend Status = case(Reason == \"never_seen\", \"no_data\", \
         Reason == \"within_limit\", \"healthy\", \"{status}\")\n"
    )
}

/// `Group`: the row's grouping values joined with `/`, or `every group` for a row without
/// them (the one that stands for a result without rows).
fn group_column(check: &Check) -> String {
    if check.group_by.is_empty() {
        return "| extend Group = \"every group\"\n".to_string();
    }
    let empty: Vec<String> = (check.group_by.iter())
        .map(|column| format!("isempty({column})"))
        .collect();
    let joined: Vec<&str> = check.group_by.iter().map(String::as_str).collect();
    format!(
        "| extend Group = iff({}, \"every group\", strcat({}))\n",
        empty.join(" and "),
        joined.join(", \"/\", ")
    )
}

/// The rule's query: the check, its verdict logic, and a filter that keeps the rows that raise
/// an alert. Freshness rules alert on the reasons listed in `rule.alert-on` for as long as the
/// condition lasts (incident grouping folds the repeats into one incident). Event and share
/// rules alert on findings with rows that arrived since the previous run, so late rows are
/// seen once and never twice.
pub fn rule_query(check: &Check, catalog: &[Check], schemas: &[Table]) -> Result<String, Unusable> {
    let rule = check
        .rule
        .as_ref()
        .ok_or_else(|| Unusable("the check has no `rule` settings".into()))?;
    let derived = Derived::of(check, schemas, true)?;
    let mut extra = Vec::new();
    let quiet = if rule.quiet_when.is_empty() {
        None
    } else {
        extra.extend(quiet_proofs(check, rule.period, catalog, schemas)?);
        Some(QUIET_PROVEN)
    };
    let filter = match check.classifier {
        Classifier::Freshness => {
            let reasons: Vec<String> = rule.alert_on.iter().map(|r| format!("\"{r}\"")).collect();
            format!("| where Reason in ({})\n", reasons.join(", "))
        }
        Classifier::Events | Classifier::Share => {
            extra.push(format!(
                "let {WINDOW} = {};",
                crate::duration::to_kql(rule.frequency)
            ));
            format!(
                "| where Status != \"healthy\" and isnotnull(LastArrival) \
                 and LastArrival > ago({WINDOW})\n"
            )
        }
    };
    let mut tail = status_tail(check, quiet);
    tail.push_str(&group_column(check));
    tail.push_str(&filter);
    let header = format!(
        "// {} (sentinel-kms check {} {})",
        check.title, check.id, check.version
    );
    Ok(format!("{header}\n{}", derived.with_tail(&extra, &tail)))
}

/// The statements that set `QuietProven`: for each check named, its query and verdict logic
/// with every name it declares given its own prefix (`q1_`, `q2_`, …), reduced to whether all
/// its rows are healthy; then their conjunction.
fn quiet_proofs(
    check: &Check,
    period: TimeDelta,
    catalog: &[Check],
    schemas: &[Table],
) -> Result<Vec<String>, Unusable> {
    let ids = check.rule.iter().flat_map(|rule| &rule.quiet_when);
    let mut statements = Vec::new();
    let mut proven = Vec::new();
    for (index, id) in ids.enumerate() {
        let proof = (catalog.iter())
            .find(|candidate| &candidate.id == id && candidate.id != check.id)
            .ok_or_else(|| {
                Unusable(format!(
                    "`rule.quiet-when` names `{id}`, which is not another check of the catalog"
                ))
            })?;
        let lookback = proof
            .threshold("lookback")
            .and_then(|value| value.as_span());
        if let Some(lookback) = lookback.filter(|lookback| *lookback > period) {
            return Err(Unusable(format!(
                "`rule.quiet-when` names `{id}`, which looks back {}, longer than the rule's \
                 period {}: the rule would judge it on fewer rows than `validate` does",
                crate::duration::to_kql(lookback),
                crate::duration::to_kql(period)
            )));
        }
        let derived = Derived::of(proof, schemas, true)?;
        let tail = format!(
            "let Proven = toscalar({}| summarize Unhealthy = countif(Status != \"healthy\"), \
             All = count()\n| project Unhealthy == 0 and All > 0);",
            status_tail(proof, None)
        );
        let prefix = format!("q{}_", index + 1);
        let text = prefix_declared_names(&derived.with_tail(&[], &tail), &prefix);
        statements.push(format!("// healthy {} proves a quiet account", proof.id));
        statements.extend(text.lines().map(str::to_string));
        proven.push(format!("{prefix}Proven"));
    }
    statements.push(format!("let {QUIET_PROVEN} = {};", proven.join(" and ")));
    Ok(statements)
}

/// Gives every name a `let` of `text` declares the prefix, wherever the name is used.
fn prefix_declared_names(text: &str, prefix: &str) -> String {
    let tokens = tokenize(text);
    let identifiers: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Identifier)
        .collect();
    let declared: Vec<&str> = identifiers
        .windows(2)
        .filter(|pair| &text[pair[0].range.clone()] == "let")
        .map(|pair| &text[pair[1].range.clone()])
        .collect();
    let mut renamed = String::new();
    let mut last = 0;
    for token in identifiers {
        if declared.contains(&&text[token.range.clone()]) {
            renamed.push_str(&text[last..token.range.start]);
            renamed.push_str(prefix);
            last = token.range.start;
        }
    }
    renamed.push_str(&text[last..]);
    renamed
}

/// The workbook's query for a check: every group with its `Status` and `Reason`. Only a check
/// whose missing table means "no data" reads it through the fuzzy union; for the others a
/// missing table shows as the query's error, which is what it is: the check cannot see. A
/// rule's `rule.quiet-when` applies here too, so a quiet account shows `quiet`, as in
/// `validate`.
pub fn workbook_query(
    check: &Check,
    catalog: &[Check],
    schemas: &[Table],
) -> Result<String, Unusable> {
    let fuzzy = check.classifier == Classifier::Freshness;
    let derived = Derived::of(check, schemas, fuzzy)?;
    let mut extra = Vec::new();
    let quiet = match &check.rule {
        Some(rule) if fuzzy && !rule.quiet_when.is_empty() => {
            extra.extend(quiet_proofs(check, rule.period, catalog, schemas)?);
            Some(QUIET_PROVEN)
        }
        _ => None,
    };
    let mut tail = status_tail(check, quiet);
    let mut shown: Vec<&str> = check.group_by.iter().map(String::as_str).collect();
    shown.extend(["Status", "Reason"]);
    for column in [
        "LastArrival",
        "LastSeen",
        "Events",
        "Rows",
        "Bad",
        "KeyArn",
        "StatusCode",
    ] {
        if check.columns.iter().any(|c| c == column) && !shown.contains(&column) {
            shown.push(column);
        }
    }
    tail.push_str(&format!("| project {}\n", shown.join(", ")));
    Ok(derived.with_tail(&extra, &tail))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identifier,
    Semicolon,
    Comment,
    Other,
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    range: std::ops::Range<usize>,
}

/// The few token kinds the derivation needs: identifiers (outside strings, comments and
/// member access), top-level `;`, and `//` comments. String literals are skipped whole:
/// `"…"` and `'…'` with backslash escapes, verbatim `@"…"` and `@'…'`, and ```` ```…``` ````.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            tokens.push(Token {
                kind: Kind::Comment,
                range: start..end,
            });
            i = end;
        } else if text[i..].starts_with("```") {
            i = text[i + 3..]
                .find("```")
                .map_or(bytes.len(), |n| i + 3 + n + 3);
        } else if b == b'@' && matches!(bytes.get(i + 1), Some(b'"' | b'\'')) {
            i = skip_verbatim(bytes, i + 1);
        } else if b == b'"' || b == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else if b == b';' {
            tokens.push(Token {
                kind: Kind::Semicolon,
                range: start..i + 1,
            });
            i += 1;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let member = start > 0 && bytes[start - 1] == b'.';
            tokens.push(Token {
                kind: if member {
                    Kind::Other
                } else {
                    Kind::Identifier
                },
                range: start..i,
            });
        } else {
            // Multi-byte characters only occur inside strings and comments in valid KQL;
            // step over them whole.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    tokens
}

/// Skips a verbatim string whose opening quote is at `quote_at` (a doubled quote stays inside).
fn skip_verbatim(bytes: &[u8], quote_at: usize) -> usize {
    let quote = bytes[quote_at];
    let mut i = quote_at + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_strings_comments_and_member_access() {
        let text = "let a = \"T;x\"; // T; here\nT | where b.T == @'it''s;' and c == 'q\\'T'\n\
                    | extend s = ```T;```;";
        let tokens = tokenize(text);
        let identifiers: Vec<&str> = tokens
            .iter()
            .filter(|t| t.kind == Kind::Identifier)
            .map(|t| &text[t.range.clone()])
            .collect();
        assert_eq!(
            identifiers,
            ["let", "a", "T", "where", "b", "and", "c", "extend", "s"]
        );
        let semicolons = tokens.iter().filter(|t| t.kind == Kind::Semicolon).count();
        assert_eq!(semicolons, 2);
        assert_eq!(tokens.iter().filter(|t| t.kind == Kind::Comment).count(), 1);
    }

    #[test]
    fn declared_names_get_the_prefix_everywhere_but_members_and_strings() {
        let text = "let lookback = 1d;\nlet CheckResult = T | where X.lookback > ago(lookback) \
                    | extend s = \"lookback\";\nCheckResult | count";
        assert_eq!(
            prefix_declared_names(text, "q1_"),
            "let q1_lookback = 1d;\nlet q1_CheckResult = T | where X.lookback > \
             ago(q1_lookback) | extend s = \"lookback\";\nq1_CheckResult | count"
        );
    }

    #[test]
    fn comments_are_dropped_from_the_result_statement() {
        assert_eq!(
            strip_comments("T // all rows; really\n| take 1 // one"),
            "T \n| take 1 "
        );
    }
}
