//! Table schemas the analyser checks queries against: the project's `schemas/` folder (built
//! into the binary), each table completed with the standard columns every Log Analytics table
//! has, plus the tables of an optional `--schemas DIR`, which replace built-in ones by name.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{Error, Result};

static BUILT_IN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schemas/tables");
const STANDARD_COLUMNS: &str = include_str!("../../schemas/standard-columns.json");

/// Kusto scalar type names a schema may use (the analyser knows each of them).
const KUSTO_TYPES: &[&str] = &[
    "bool", "datetime", "decimal", "dynamic", "guid", "int", "long", "real", "string", "timespan",
];

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

/// A schema file: the `{Name, Properties: [{name, type}]}` shape of Sentinel's table schemas.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableFile {
    name: String,
    properties: Vec<ColumnFile>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StandardColumnsFile {
    properties: Vec<ColumnFile>,
}

#[derive(serde::Deserialize)]
struct ColumnFile {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The built-in tables, then those of `extra` (every `*.json` file in it), with the standard
/// columns added to each table that lacks them.
pub fn load(extra: Option<&Path>) -> Result<Vec<Table>> {
    let mut tables = Vec::new();
    for file in BUILT_IN.files() {
        if file.path().extension().is_some_and(|ext| ext == "json") {
            let shown = Path::new("schemas/tables").join(file.path());
            tables.push(parse_table(&shown, file.contents())?);
        }
    }
    if let Some(folder) = extra {
        for (path, bytes) in read_folder(folder)? {
            let table = parse_table(&path, &bytes)?;
            tables.retain(|known: &Table| known.name != table.name);
            tables.push(table);
        }
    }
    let standard = standard_columns()?;
    for table in &mut tables {
        for column in &standard {
            if !table.columns.iter().any(|known| known.name == column.name) {
                table.columns.push(column.clone());
            }
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}

fn read_folder(folder: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let cannot_read = |error: std::io::Error| {
        Error::usage(format!(
            "cannot read table schemas in `{}`: {error}",
            folder.display()
        ))
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(cannot_read)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()
        .map_err(cannot_read)?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    paths.sort();
    if paths.is_empty() {
        return Err(Error::usage(format!(
            "no `.json` table schemas in `{}`",
            folder.display()
        )));
    }
    paths
        .into_iter()
        .map(|path| match std::fs::read(&path) {
            Ok(bytes) => Ok((path, bytes)),
            Err(error) => Err(Error::usage(format!(
                "cannot read table schema `{}`: {error}",
                path.display()
            ))),
        })
        .collect()
}

fn parse_table(path: &Path, bytes: &[u8]) -> Result<Table> {
    let file: TableFile = serde_json::from_slice(bytes).map_err(|error| {
        Error::usage(format!(
            "table schema `{}` is not {{\"Name\", \"Properties\": [{{\"name\", \"type\"}}]}}: \
             {error}",
            path.display()
        ))
    })?;
    if !is_name(&file.name) {
        return Err(schema_error(
            path,
            format!("`{}` is not a table name", file.name),
        ));
    }
    let columns = columns(path, file.properties)?;
    Ok(Table {
        name: file.name,
        columns,
    })
}

fn standard_columns() -> Result<Vec<Column>> {
    let path = Path::new("schemas/standard-columns.json");
    let file: StandardColumnsFile = serde_json::from_str(STANDARD_COLUMNS)
        .map_err(|error| schema_error(path, error.to_string()))?;
    columns(path, file.properties)
}

fn columns(path: &Path, properties: Vec<ColumnFile>) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::new();
    for property in properties {
        if !is_name(&property.name) {
            return Err(schema_error(
                path,
                format!("`{}` is not a column name", property.name),
            ));
        }
        if !KUSTO_TYPES.contains(&property.kind.as_str()) {
            return Err(schema_error(
                path,
                format!(
                    "column `{}` has type `{}`, not one of {}",
                    property.name,
                    property.kind,
                    KUSTO_TYPES.join(", ")
                ),
            ));
        }
        if columns.iter().any(|known| known.name == property.name) {
            return Err(schema_error(
                path,
                format!("column `{}` is listed twice", property.name),
            ));
        }
        columns.push(Column {
            name: property.name,
            kind: property.kind,
        });
    }
    Ok(columns)
}

fn schema_error(path: &Path, message: String) -> Error {
    Error::usage(format!("table schema `{}`: {message}", path.display()))
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table<'a>(tables: &'a [Table], name: &str) -> &'a Table {
        tables.iter().find(|t| t.name == name).unwrap()
    }

    fn kind<'a>(table: &'a Table, column: &str) -> &'a str {
        let found = table.columns.iter().find(|c| c.name == column);
        &found
            .unwrap_or_else(|| panic!("{} has no {column}", table.name))
            .kind
    }

    #[test]
    fn the_built_in_tables_have_their_reference_columns_and_the_standard_ones() {
        let tables = load(None).unwrap();
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["AWSCloudTrail", "AWSGuardDuty", "SentinelHealth", "Usage"]
        );
        let guardduty = table(&tables, "AWSGuardDuty");
        assert_eq!(kind(guardduty, "Severity"), "int");
        assert_eq!(kind(guardduty, "ServiceDetails"), "dynamic");
        assert_eq!(kind(guardduty, "_ResourceId"), "string");
        assert_eq!(kind(guardduty, "_TimeReceived"), "datetime");
        // The Azure Monitor reference wins over other copies: booleans, JSON held as strings.
        let cloudtrail = table(&tables, "AWSCloudTrail");
        assert_eq!(kind(cloudtrail, "ReadOnly"), "bool");
        assert_eq!(kind(cloudtrail, "RequestParameters"), "string");
        // A standard column a table already lists is not added twice.
        let tenant = guardduty.columns.iter().filter(|c| c.name == "TenantId");
        assert_eq!(tenant.count(), 1);
    }

    #[test]
    fn a_schemas_folder_adds_tables_and_replaces_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        let custom = r#"{"Name": "Custom_CL", "Properties": [{"name": "Value", "type": "long"}]}"#;
        std::fs::write(dir.path().join("custom.json"), custom).unwrap();
        let usage = r#"{"Name": "Usage", "Properties": [{"name": "Only", "type": "string"}]}"#;
        std::fs::write(dir.path().join("usage.json"), usage).unwrap();
        let tables = load(Some(dir.path())).unwrap();
        assert_eq!(kind(table(&tables, "Custom_CL"), "Value"), "long");
        let usage = table(&tables, "Usage");
        assert_eq!(usage.columns[0].name, "Only");
        assert!(!usage.columns.iter().any(|c| c.name == "Quantity"));
    }

    #[test]
    fn a_malformed_schema_names_the_file_and_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"{"Name": "T", "Properties": [{"name": "A", "type": "String"}]}"#,
                "column `A` has type `String`, not one of bool, datetime",
            ),
            (
                r#"{"Name": "T", "Properties": [
                    {"name": "A", "type": "long"}, {"name": "A", "type": "long"}]}"#,
                "column `A` is listed twice",
            ),
            (
                r#"{"Name": "1T", "Properties": []}"#,
                "`1T` is not a table name",
            ),
            (
                r#"{"Name": "T"}"#,
                "missing field `Properties` at line 1 column 13",
            ),
        ];
        for (text, expected) in cases {
            std::fs::write(dir.path().join("t.json"), text).unwrap();
            let error = load(Some(dir.path())).unwrap_err().to_string();
            assert!(error.contains("t.json"), "{error}");
            assert!(error.contains(expected), "expected {expected:?} in {error}");
        }
    }
}
