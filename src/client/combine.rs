//! Cross-workspace queries: one request runs a check over up to 100 workspaces (the API's
//! `workspaces` list), and the answer is split back into one result per workspace, as if each
//! had been asked on its own.
//!
//! In a cross-workspace query the tables are the union of the workspaces' tables, and every row
//! keeps its workspace in `TenantId`. A check's query groups by its own columns, so it is
//! rewritten to carry `TenantId` through: every `summarize` also groups by it, every `project` and
//! `distinct` keeps it. That rewrite is only sound for queries made of operators that work row by
//! row or per group, so anything else is refused and the check is sent to each workspace on its
//! own: tabular `let`s, subqueries, joins, `take`/`top`, window functions, explicit
//! `workspace()` references, a query that already names `TenantId`.

use std::collections::HashMap;

use super::response::{Cell, QueryResult, Table};

/// The column that names a row's workspace in a cross-workspace answer.
pub const WORKSPACE_COLUMN: &str = "TenantId";

/// The service's limit on workspaces in one query.
pub const MAX_WORKSPACES: usize = 100;

/// A check's query rewritten to keep each row's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined {
    pub query: String,
    /// Whether a workspace without rows in the combined answer would also have answered no
    /// rows on its own. False when the query summarizes without grouping: on its own, such a
    /// workspace answers one row (a count of 0), which the combined answer cannot show.
    pub empty_is_exact: bool,
}

/// Why a query cannot be combined; it then runs once per workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Operators that keep every column they do not name, row by row: safe as they are.
const KEEPS_COLUMNS: &[&str] = &[
    "where",
    "filter",
    "extend",
    "order",
    "sort",
    "parse",
    "parse-where",
    "parse-kv",
    "project-rename",
    "project-reorder",
    "project-away",
    "mv-expand",
];

/// Functions whose result depends on rows of other workspaces, or that reach outside the
/// tables the `workspaces` list unites.
const CROSS_ROW_FUNCTIONS: &[&str] = &[
    "row_number",
    "row_cumsum",
    "row_rank_dense",
    "row_rank_min",
    "row_window_session",
    "prev",
    "next",
    "toscalar",
    "materialize",
    "workspace",
    "app",
    "resource",
    "cluster",
    "database",
    "table",
    "adx",
    "arg",
    "externaldata",
    "view",
];

/// Rewrites `query` so that its answer keeps each row's `TenantId`.
pub fn combine(query: &str) -> Result<Combined, Refusal> {
    let masked = mask(query)?;
    let refuse = |why: &str| Err(Refusal(why.to_string()));
    if contains_word(&masked, WORKSPACE_COLUMN, true) {
        return refuse("the query names TenantId itself");
    }
    for name in CROSS_ROW_FUNCTIONS {
        if calls(&masked, name) {
            return refuse(&format!("the query calls {name}()"));
        }
    }
    if nested_pipe(&masked) {
        return refuse("the query has a subquery");
    }
    let statements = split_top_level(&masked, b';', 0, masked.len());
    let mut body = None;
    for &(start, end) in &statements {
        let text = masked[start..end].trim();
        if text.is_empty() {
            continue;
        }
        if body.is_some() {
            return refuse("more than one query statement");
        }
        if first_word(text) == "let" {
            let value = text.split_once('=').map_or("", |(_, value)| value);
            if value.contains('|') || value.contains('{') {
                return refuse("a `let` holds a tabular expression or a function");
            }
            continue;
        }
        body = Some((start, end));
    }
    let Some((body_start, body_end)) = body else {
        return refuse("no query statement");
    };
    let stages = split_top_level(&masked, b'|', body_start, body_end);
    let source = masked[stages[0].0..stages[0].1].trim();
    if !is_identifier(source) {
        return refuse("the query does not start from one table");
    }
    // Insertions into the original text, by byte position (all at ASCII characters).
    let mut inserts: Vec<(usize, &str)> = Vec::new();
    let mut empty_is_exact = true;
    for &(start, end) in &stages[1..] {
        let stage = &masked[start..end];
        let offset = start + (stage.len() - stage.trim_start().len());
        let operator = operator_name(stage.trim_start());
        let after_operator = offset + operator.len();
        match operator.as_str() {
            name if KEEPS_COLUMNS.contains(&name) => {
                if name == "project-away" && stage.contains('*') {
                    return refuse("`project-away` with a wildcard");
                }
            }
            "summarize" => match find_word(&masked, "by", after_operator, end) {
                Some(by) => inserts.push((by + 2, " TenantId,")),
                None => {
                    empty_is_exact = false;
                    let trimmed_end = start + stage.trim_end().len();
                    inserts.push((trimmed_end, " by TenantId"));
                }
            },
            "project" | "project-keep" => inserts.push((after_operator, " TenantId,")),
            "distinct" => {
                if !stage.contains('*') {
                    inserts.push((after_operator, " TenantId,"));
                }
            }
            other => return refuse(&format!("the `{other}` operator")),
        }
    }
    inserts.sort_by_key(|(at, _)| *at);
    let mut text = String::with_capacity(query.len() + inserts.len() * 12);
    let mut from = 0;
    for (at, insert) in inserts {
        text.push_str(&query[from..at]);
        text.push_str(insert);
        from = at;
    }
    text.push_str(&query[from..]);
    Ok(Combined {
        query: text,
        empty_is_exact,
    })
}

/// Splits a cross-workspace answer into one answer per workspace, without the `TenantId`
/// column. `workspaces` are the GUIDs asked for; a workspace without rows gets an empty table.
/// An answer that does not show where each row comes from is refused.
pub fn split(
    result: &QueryResult,
    workspaces: &[&str],
) -> Result<HashMap<String, QueryResult>, String> {
    let table = result
        .primary()
        .ok_or_else(|| "the answer holds no result table".to_string())?;
    let column = table
        .column(WORKSPACE_COLUMN)
        .ok_or_else(|| format!("the answer has no `{WORKSPACE_COLUMN}` column"))?;
    let mut tables: HashMap<String, Table> = workspaces
        .iter()
        .map(|workspace| {
            let mut columns = table.columns.clone();
            columns.remove(column);
            (
                workspace.to_ascii_lowercase(),
                Table {
                    name: table.name.clone(),
                    columns,
                    rows: Vec::new(),
                },
            )
        })
        .collect();
    for row in &table.rows {
        let tenant = match &row[column] {
            Cell::String(text) | Cell::Guid(text) => text.to_ascii_lowercase(),
            other => return Err(format!("a row has `{WORKSPACE_COLUMN}` {other:?}")),
        };
        let Some(target) = tables.get_mut(&tenant) else {
            return Err(format!(
                "a row belongs to workspace `{tenant}`, which was not asked for"
            ));
        };
        let mut row = row.clone();
        row.remove(column);
        target.rows.push(row);
    }
    Ok(tables
        .into_iter()
        .map(|(workspace, table)| {
            (
                workspace,
                QueryResult {
                    tables: vec![table],
                    partial: None,
                },
            )
        })
        .collect())
}

/// The query with string literals and comments blanked out (same length, same line breaks),
/// so that structure can be read without being fooled by their contents.
fn mask(query: &str) -> Result<String, Refusal> {
    let bytes = query.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"```") {
            let end = find_from(bytes, b"```", i + 3)
                .ok_or_else(|| Refusal("an unterminated ``` string".into()))?;
            blank(&mut out, i + 3, end);
            i = end + 3;
        } else if let Some(open) = string_opening(bytes, i) {
            let quote_at = i + open;
            let quote = bytes[quote_at];
            let verbatim = bytes[i..quote_at].contains(&b'@');
            let mut j = quote_at + 1;
            loop {
                match bytes.get(j) {
                    None | Some(b'\n') => return Err(Refusal("an unterminated string".into())),
                    Some(b'\\') if !verbatim => j += 2,
                    Some(&b) if b == quote => {
                        if verbatim && bytes.get(j + 1) == Some(&quote) {
                            j += 2;
                        } else {
                            break;
                        }
                    }
                    Some(_) => j += 1,
                }
            }
            blank(&mut out, quote_at + 1, j);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // Blanked bytes are spaces, so the text stays UTF-8 wherever the query was.
    String::from_utf8(out).map_err(|_| Refusal("the query is not UTF-8 outside strings".into()))
}

/// At `i`, the length of a string literal's prefix (`'`, `@'`, `h'`, `h@'`, ...) up to its quote.
fn string_opening(bytes: &[u8], i: usize) -> Option<usize> {
    let is_quote = |b: Option<&u8>| matches!(b, Some(b'\'') | Some(b'"'));
    let after_word = i == 0 || !is_identifier_byte(bytes[i - 1]);
    match bytes[i] {
        b'\'' | b'"' => Some(0),
        b'@' if is_quote(bytes.get(i + 1)) => Some(1),
        b'h' | b'H' if after_word && is_quote(bytes.get(i + 1)) => Some(1),
        b'h' | b'H'
            if after_word && bytes.get(i + 1) == Some(&b'@') && is_quote(bytes.get(i + 2)) =>
        {
            Some(2)
        }
        _ => None,
    }
}

fn find_from(bytes: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|n| from + n)
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(is_identifier_byte)
}

fn first_word(text: &str) -> &str {
    let end = text
        .bytes()
        .position(|b| !is_identifier_byte(b))
        .unwrap_or(text.len());
    &text[..end]
}

/// The operator at the start of a stage: a word, possibly hyphenated (`project-away`).
fn operator_name(stage: &str) -> String {
    let end = stage
        .bytes()
        .position(|b| !(is_identifier_byte(b) || b == b'-'))
        .unwrap_or(stage.len());
    stage[..end].to_ascii_lowercase()
}

/// Byte ranges of `text[start..end]` split at `separator` outside brackets.
fn split_top_level(text: &str, separator: u8, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut from = start;
    for (i, byte) in text.as_bytes()[start..end].iter().enumerate() {
        match byte {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            &b if b == separator && depth == 0 => {
                parts.push((from, start + i));
                from = start + i + 1;
            }
            _ => {}
        }
    }
    parts.push((from, end));
    parts
}

/// Whether a `|` appears inside brackets: a subquery.
fn nested_pipe(text: &str) -> bool {
    let mut depth = 0i32;
    for byte in text.bytes() {
        match byte {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'|' if depth > 0 => return true,
            _ => {}
        }
    }
    false
}

/// The position of `word` as a whole word in `text[start..end]`, outside brackets.
fn find_word(text: &str, word: &str, start: usize, end: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut i = start;
    while i < end {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ if depth == 0 && word_at(bytes, i, word.as_bytes(), false) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn word_at(bytes: &[u8], i: usize, word: &[u8], ignore_case: bool) -> bool {
    let Some(candidate) = bytes.get(i..i + word.len()) else {
        return false;
    };
    let same = if ignore_case {
        candidate.eq_ignore_ascii_case(word)
    } else {
        candidate == word
    };
    same && (i == 0 || !is_identifier_byte(bytes[i - 1]))
        && bytes
            .get(i + word.len())
            .is_none_or(|b| !is_identifier_byte(*b))
}

fn contains_word(text: &str, word: &str, ignore_case: bool) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| word_at(bytes, i, word.as_bytes(), ignore_case))
}

/// Whether `name(` is called (spaces allowed before the parenthesis).
fn calls(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        word_at(bytes, i, name.as_bytes(), false)
            && bytes[i + name.len()..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_some_and(|b| *b == b'(')
    })
}

#[cfg(test)]
mod tests;
