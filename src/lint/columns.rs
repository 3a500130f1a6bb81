//! The columns a check's header says its result has (grouping columns, the columns the
//! classifier reads) against the result schema the analyser derived from the query.

use crate::catalog::{Check, header};
use crate::lint::analyzer::ResultColumn;
use crate::lint::diagnostic::{Diagnostic, code, position_of_byte_offset};

/// Findings for one check whose query the analyser read without errors.
pub fn check_output(check: &Check, result: Option<&[ResultColumn]>) -> Vec<Diagnostic> {
    let Some(result) = result else {
        return vec![Diagnostic::error(
            &check.path,
            body_position(check),
            code::NO_TABLE,
            "the query returns no table: its last statement must be a tabular expression".into(),
        )];
    };
    let produced: Vec<&str> = result.iter().map(|column| column.name.as_str()).collect();
    check
        .required_output_columns()
        .into_iter()
        .filter(|(_, name)| !produced.contains(name))
        .map(|(key, name)| {
            Diagnostic::error(
                &check.path,
                header_position(check, key, name),
                code::OUTPUT_COLUMN,
                format!(
                    "`{key}` names column `{name}`, but the query's result has no such column \
                     (it has: {})",
                    produced.join(", ")
                ),
            )
        })
        .collect()
}

/// Where `name` is written in the value of header key `key`, continuation lines included; the
/// key's line when the name cannot be found there.
fn header_position(check: &Check, key: &str, name: &str) -> (usize, usize) {
    let Ok(raw) = header::parse(&check.path, &check.text) else {
        return (1, 1);
    };
    let Some(field) = raw.fields.get(key) else {
        return (1, 1);
    };
    let mut offset = line_offset(&check.text, field.line);
    for (index, line) in check.text[offset..].split_inclusive('\n').enumerate() {
        let continues = index == 0 || line.starts_with("//  ");
        if !continues {
            break;
        }
        let search_from = if index == 0 {
            line.find(':').map_or(0, |colon| colon + 1)
        } else {
            2
        };
        if let Some(found) = find_word(&line[search_from..], name) {
            return position_of_byte_offset(&check.text, offset + search_from + found);
        }
        offset += line.len();
    }
    (field.line, field.column)
}

/// The byte offset where 1-based `line` starts.
fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// The first occurrence of `word` not inside a longer name.
fn find_word(haystack: &str, word: &str) -> Option<usize> {
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    haystack.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = haystack[..at].bytes().next_back();
        let after = haystack[at + word.len()..].bytes().next();
        !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte)
    })
}

/// The first line of the query after the header.
fn body_position(check: &Check) -> (usize, usize) {
    match header::parse(&check.path, &check.text) {
        Ok(raw) => (raw.body_line, 1),
        Err(_) => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::parse_check;

    const CHECK: &str = "\
// id: sample
// version: 1.0.0
// title: Sample
// description: A sample
// tables: AWSGuardDuty
// group-by: AccountId, Region
// severity: low
// classifier: freshness
// thresholds: lookback, lag_warning, lag_failure, stale_after
// columns: AccountId, Rows, LastArrival,
//   SinceLastArrival, IngestionLag
let lookback = 14d;
let lag_warning = 1h;
let lag_failure = 6h;
let stale_after = 24h;
AWSGuardDuty | summarize Rows = count() by AccountId, Region
";

    fn columns(names: &[&str]) -> Vec<ResultColumn> {
        let column = |name: &&str| ResultColumn {
            name: name.to_string(),
            kind: "string".into(),
        };
        names.iter().map(column).collect()
    }

    #[test]
    fn each_missing_column_is_reported_where_the_header_names_it() {
        let check = parse_check(Path::new("q.kql"), CHECK.as_bytes().to_vec()).unwrap();
        let result = columns(&["AccountId", "Rows", "LastArrival"]);
        let found: Vec<String> = check_output(&check, Some(&result))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "q.kql:6:25: error: `group-by` names column `Region`, but the query's result has \
                 no such column (it has: AccountId, Rows, LastArrival) [output-column]",
                "q.kql:11:6: error: `columns` names column `SinceLastArrival`, but the query's \
                 result has no such column (it has: AccountId, Rows, LastArrival) [output-column]",
                "q.kql:11:24: error: `columns` names column `IngestionLag`, but the query's result \
                 has no such column (it has: AccountId, Rows, LastArrival) [output-column]",
            ]
        );
    }

    #[test]
    fn a_query_without_a_table_is_reported_at_its_first_line() {
        let check = parse_check(Path::new("q.kql"), CHECK.as_bytes().to_vec()).unwrap();
        let found = check_output(&check, None);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].column), (12, 1));
        assert_eq!(found[0].code, code::NO_TABLE);
    }

    #[test]
    fn words_are_matched_whole() {
        assert_eq!(find_word("RowsTotal, Rows", "Rows"), Some(11));
        assert_eq!(find_word("_Rows", "Rows"), None);
    }
}
