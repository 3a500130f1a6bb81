//! The Logs query API's response body: tables of typed columns, an optional partial error, and
//! the error bodies of failed requests with their inner chain.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::duration;

/// A column type, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Bool,
    DateTime,
    Dynamic,
    Int,
    Long,
    Real,
    String,
    Guid,
    Decimal,
    TimeSpan,
}

impl ColumnType {
    fn parse(name: &str) -> Option<ColumnType> {
        Some(match name {
            "bool" | "boolean" => ColumnType::Bool,
            "datetime" | "date" => ColumnType::DateTime,
            "dynamic" => ColumnType::Dynamic,
            "int" => ColumnType::Int,
            "long" => ColumnType::Long,
            "real" | "double" => ColumnType::Real,
            "string" => ColumnType::String,
            "guid" | "uuid" | "uniqueid" => ColumnType::Guid,
            "decimal" => ColumnType::Decimal,
            "timespan" | "time" => ColumnType::TimeSpan,
            _ => return None,
        })
    }
}

/// One cell, typed by its column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    DateTime(DateTime<Utc>),
    TimeSpan(TimeDelta),
    String(String),
    Guid(String),
    /// Kept as text: a decimal may not fit a float.
    Decimal(String),
    Dynamic(Json),
}

impl Cell {
    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            Cell::DateTime(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_timespan(&self) -> Option<TimeDelta> {
        match self {
            Cell::TimeSpan(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Long(value) => Some(*value),
            Cell::Real(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => {
                Some(*value as i64)
            }
            _ => None,
        }
    }

    /// The cell as a JSON value for evidence: times in RFC 3339, spans in seconds.
    pub fn to_json(&self) -> Json {
        match self {
            Cell::Null => Json::Null,
            Cell::Bool(value) => Json::Bool(*value),
            Cell::Long(value) => Json::from(*value),
            Cell::Real(value) => {
                serde_json::Number::from_f64(*value).map_or(Json::Null, Json::Number)
            }
            Cell::DateTime(value) => {
                Json::String(value.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            Cell::TimeSpan(value) => Json::from(value.num_seconds()),
            Cell::String(value) | Cell::Guid(value) | Cell::Decimal(value) => {
                Json::String(value.clone())
            }
            Cell::Dynamic(value) => value.clone(),
        }
    }

    /// The cell as text for a message: times to the minute, lists joined with commas.
    pub fn to_message_text(&self) -> String {
        match self {
            Cell::DateTime(value) => value.format("%Y-%m-%d %H:%M UTC").to_string(),
            Cell::Dynamic(Json::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map_or_else(|| item.to_string(), String::from))
                .collect::<Vec<_>>()
                .join(", "),
            Cell::Dynamic(Json::String(text)) => text.clone(),
            other => other.to_text().unwrap_or_else(|| "(none)".into()),
        }
    }

    /// The cell as text for grouping and messages; `None` for null.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Cell::Null => return None,
            Cell::Bool(value) => value.to_string(),
            Cell::Long(value) => value.to_string(),
            Cell::Real(value) => value.to_string(),
            Cell::DateTime(value) => value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            Cell::TimeSpan(value) => duration::human(*value),
            Cell::String(value) | Cell::Guid(value) | Cell::Decimal(value) => value.clone(),
            Cell::Dynamic(value) => value.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }
}

/// A successful (200) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub tables: Vec<Table>,
    /// Set when the service could only partly run the query (`PartialError`).
    pub partial: Option<ServiceError>,
}

impl QueryResult {
    /// The first table, `PrimaryResult`, which holds the query's output.
    pub fn primary(&self) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == "PrimaryResult")
            .or(self.tables.first())
    }
}

/// An error object from the service, with its nested inner errors.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ServiceError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(
        default,
        rename = "correlationId",
        skip_serializing_if = "Option::is_none"
    )]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ServiceError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub innererror: Option<Box<ServiceError>>,
}

impl ServiceError {
    /// The codes from the outermost error to the innermost, e.g.
    /// `BadArgumentError`, `SemanticError`, `SEM0100`.
    pub fn code_chain(&self) -> Vec<&str> {
        let mut codes = vec![self.code.as_str()];
        let mut inner = self.innererror.as_deref();
        while let Some(error) = inner {
            codes.push(error.code.as_str());
            inner = error.innererror.as_deref();
        }
        codes
    }

    /// The deepest message: the one that says what really went wrong. Details (used by
    /// partial errors) are searched when there is no inner error.
    pub fn deepest_message(&self) -> &str {
        let mut deepest = self;
        while let Some(inner) = deepest.innererror.as_deref() {
            deepest = inner;
        }
        if deepest.innererror.is_none()
            && let Some(detail) = deepest.details.first()
        {
            return detail.deepest_message();
        }
        if deepest.message.is_empty() {
            &self.message
        } else {
            &deepest.message
        }
    }

    /// For an unknown table or column (`SEM0100`), the name the service could not resolve.
    pub fn unresolved_name(&self) -> Option<&str> {
        let mut error = Some(self);
        while let Some(current) = error {
            if current.code == "SEM0100" {
                let marker = "named '";
                let start = current.message.find(marker)? + marker.len();
                let end = current.message[start..].find('\'')? + start;
                return Some(&current.message[start..end]);
            }
            error = current.innererror.as_deref();
        }
        None
    }
}

/// Why a 200 body could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error(
        "the response body is empty (the service does this when a request lacks `Content-Type: application/json`)"
    )]
    Empty,
    #[error("the response is not valid JSON: {0}")]
    NotJson(String),
    #[error("the response has no `tables`")]
    NoTables,
    #[error("table `{table}` column `{column}` has unknown type `{kind}`")]
    UnknownType {
        table: String,
        column: String,
        kind: String,
    },
    #[error("table `{table}` row {row} has {found} values for {expected} columns")]
    RowWidth {
        table: String,
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("table `{table}` row {row} column `{column}`: `{value}` is not a valid {kind}")]
    BadValue {
        table: String,
        row: usize,
        column: String,
        kind: &'static str,
        value: String,
    },
}

#[derive(Deserialize)]
struct RawBody {
    tables: Option<Vec<RawTable>>,
    error: Option<ServiceError>,
}

#[derive(Deserialize)]
struct RawTable {
    #[serde(default)]
    name: String,
    columns: Vec<RawColumn>,
    rows: Vec<Vec<Json>>,
}

#[derive(Deserialize)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Parses a 200 body into typed tables.
pub fn parse_success(body: &[u8]) -> Result<QueryResult, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let raw: RawBody =
        serde_json::from_slice(body).map_err(|e| BodyError::NotJson(e.to_string()))?;
    let raw_tables = raw.tables.ok_or(BodyError::NoTables)?;
    let tables = raw_tables
        .into_iter()
        .map(parse_table)
        .collect::<Result<_, _>>()?;
    Ok(QueryResult {
        tables,
        partial: raw.error,
    })
}

/// Parses an error body (`{"error": {...}}`); `None` when it is not one.
pub fn parse_error(body: &[u8]) -> Option<ServiceError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: ServiceError,
    }
    serde_json::from_slice::<Envelope>(body)
        .ok()
        .map(|envelope| envelope.error)
}

fn parse_table(raw: RawTable) -> Result<Table, BodyError> {
    let columns = raw
        .columns
        .into_iter()
        .map(|column| match ColumnType::parse(&column.kind) {
            Some(kind) => Ok(Column {
                name: column.name,
                kind,
            }),
            None => Err(BodyError::UnknownType {
                table: raw.name.clone(),
                column: column.name,
                kind: column.kind,
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Vec::with_capacity(raw.rows.len());
    for (index, raw_row) in raw.rows.into_iter().enumerate() {
        if raw_row.len() != columns.len() {
            return Err(BodyError::RowWidth {
                table: raw.name,
                row: index,
                found: raw_row.len(),
                expected: columns.len(),
            });
        }
        let row = raw_row
            .into_iter()
            .zip(&columns)
            .map(|(value, column)| {
                parse_cell(column.kind, value).map_err(|(kind, value)| BodyError::BadValue {
                    table: raw.name.clone(),
                    row: index,
                    column: column.name.clone(),
                    kind,
                    value,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
    }
    Ok(Table {
        name: raw.name,
        columns,
        rows,
    })
}

/// Turns one JSON value into a cell of the column's type. Numbers and booleans are accepted as
/// strings too, as older API versions sent them.
fn parse_cell(kind: ColumnType, value: Json) -> Result<Cell, (&'static str, String)> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let fail = |kind: &'static str, value: &Json| Err((kind, truncate(&value.to_string())));
    match kind {
        ColumnType::Bool => match &value {
            Json::Bool(flag) => Ok(Cell::Bool(*flag)),
            Json::String(text) if text.eq_ignore_ascii_case("true") => Ok(Cell::Bool(true)),
            Json::String(text) if text.eq_ignore_ascii_case("false") => Ok(Cell::Bool(false)),
            Json::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Cell::Bool(n.as_i64() == Some(1)))
            }
            _ => fail("bool", &value),
        },
        ColumnType::Int | ColumnType::Long => match &value {
            Json::Number(n) => n
                .as_i64()
                .map(Cell::Long)
                .map_or_else(|| fail("long", &value), Ok),
            Json::String(text) => text
                .trim()
                .parse()
                .map(Cell::Long)
                .or_else(|_| fail("long", &value)),
            _ => fail("long", &value),
        },
        ColumnType::Real => match &value {
            Json::Number(n) => n
                .as_f64()
                .map(Cell::Real)
                .map_or_else(|| fail("real", &value), Ok),
            Json::String(text) => match text.as_str() {
                "NaN" => Ok(Cell::Real(f64::NAN)),
                "Infinity" | "+Infinity" => Ok(Cell::Real(f64::INFINITY)),
                "-Infinity" => Ok(Cell::Real(f64::NEG_INFINITY)),
                other => other
                    .trim()
                    .parse()
                    .map(Cell::Real)
                    .or_else(|_| fail("real", &value)),
            },
            _ => fail("real", &value),
        },
        ColumnType::DateTime => match &value {
            Json::String(text) => DateTime::parse_from_rfc3339(text)
                .map(|time| Cell::DateTime(time.with_timezone(&Utc)))
                .or_else(|_| fail("datetime", &value)),
            _ => fail("datetime", &value),
        },
        ColumnType::TimeSpan => match &value {
            Json::String(text) => duration::parse_dotnet(text)
                .map(Cell::TimeSpan)
                .map_or_else(|| fail("timespan", &value), Ok),
            _ => fail("timespan", &value),
        },
        ColumnType::String => match value {
            Json::String(text) => Ok(Cell::String(text)),
            other => fail("string", &other),
        },
        ColumnType::Guid => match &value {
            Json::String(text) if uuid::Uuid::parse_str(text).is_ok() => {
                Ok(Cell::Guid(text.clone()))
            }
            _ => fail("guid", &value),
        },
        ColumnType::Decimal => match &value {
            Json::String(text) if text.trim().parse::<f64>().is_ok() => {
                Ok(Cell::Decimal(text.trim().to_string()))
            }
            Json::Number(n) => Ok(Cell::Decimal(n.to_string())),
            _ => fail("decimal", &value),
        },
        ColumnType::Dynamic => match value {
            // Dynamic values arrive as JSON text; a value that is not JSON text stays a string.
            Json::String(text) => Ok(Cell::Dynamic(
                serde_json::from_str(&text).unwrap_or(Json::String(text)),
            )),
            other => Ok(Cell::Dynamic(other)),
        },
    }
}

fn truncate(text: &str) -> String {
    const LIMIT: usize = 80;
    match text.char_indices().nth(LIMIT) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
