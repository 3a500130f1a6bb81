use super::*;
use serde_json::json;

fn single(kind: &str, value: Json) -> Result<Cell, BodyError> {
    let body = json!({"tables": [{"name": "PrimaryResult", "columns": [{"name": "c", "type": kind}], "rows": [[value]]}]});
    parse_success(body.to_string().as_bytes()).map(|result| result.tables[0].rows[0][0].clone())
}

#[test]
fn every_column_type_parses() {
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert_eq!(single("bool", json!(true)).unwrap(), Cell::Bool(true));
    assert_eq!(single("bool", json!("False")).unwrap(), Cell::Bool(false));
    assert_eq!(single("long", json!(42)).unwrap(), Cell::Long(42));
    assert_eq!(single("long", json!("42")).unwrap(), Cell::Long(42));
    assert_eq!(single("int", json!(-7)).unwrap(), Cell::Long(-7));
    assert_eq!(single("real", json!(1.286)).unwrap(), Cell::Real(1.286));
    assert_eq!(single("real", json!("1.286")).unwrap(), Cell::Real(1.286));
    assert!(matches!(single("real", json!("NaN")).unwrap(), Cell::Real(v) if v.is_nan()));
    assert_eq!(
        single("real", json!("-Infinity")).unwrap(),
        Cell::Real(f64::NEG_INFINITY)
    );
    assert_eq!(
        single("datetime", json!("2026-12-03T10:15:00.1234567Z")).unwrap(),
        Cell::DateTime(time("2026-12-03T10:15:00.1234567Z"))
    );
    assert_eq!(
        single("datetime", json!("2018-02-02T15:03:12.18Z")).unwrap(),
        Cell::DateTime(time("2018-02-02T15:03:12.18Z"))
    );
    assert_eq!(
        single("timespan", json!("1.02:03:04.5000000")).unwrap(),
        Cell::TimeSpan(
            TimeDelta::days(1) + TimeDelta::seconds(7384) + TimeDelta::milliseconds(500)
        )
    );
    assert_eq!(
        single("timespan", json!("-00:30:00")).unwrap(),
        Cell::TimeSpan(TimeDelta::minutes(-30))
    );
    assert_eq!(
        single("string", json!("")).unwrap(),
        Cell::String(String::new())
    );
    assert_eq!(
        single("guid", json!("74be27de-1e4e-49d9-b579-fe0b331d3642")).unwrap(),
        Cell::Guid("74be27de-1e4e-49d9-b579-fe0b331d3642".into())
    );
    assert_eq!(
        single("decimal", json!("12345678901234567890.123")).unwrap(),
        Cell::Decimal("12345678901234567890.123".into())
    );
    assert_eq!(
        single("dynamic", json!("{\"sample\":true}")).unwrap(),
        Cell::Dynamic(json!({"sample": true}))
    );
    assert_eq!(
        single("dynamic", json!({"a": [1]})).unwrap(),
        Cell::Dynamic(json!({"a": [1]}))
    );
    assert_eq!(
        single("dynamic", json!("not json")).unwrap(),
        Cell::Dynamic(json!("not json"))
    );
    for kind in [
        "bool", "datetime", "dynamic", "int", "long", "real", "string", "guid", "decimal",
        "timespan",
    ] {
        assert_eq!(single(kind, Json::Null).unwrap(), Cell::Null, "null {kind}");
    }
}

#[test]
fn bad_values_name_table_row_and_column() {
    let error = single("datetime", json!("yesterday")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "table `PrimaryResult` row 0 column `c`: `\"yesterday\"` is not a valid datetime"
    );
    assert!(single("long", json!(1.5)).is_err());
    assert!(single("timespan", json!("25:00:00")).is_err());
    assert!(single("guid", json!("not-a-guid")).is_err());
    assert!(single("string", json!(3)).is_err());
    assert!(matches!(
        single("geometry", json!(1)),
        Err(BodyError::UnknownType { .. })
    ));
}

#[test]
fn bodies_that_are_not_results() {
    assert_eq!(parse_success(b"").unwrap_err(), BodyError::Empty);
    assert_eq!(parse_success(b"  \n").unwrap_err(), BodyError::Empty);
    assert!(matches!(
        parse_success(b"{\"tables\": [").unwrap_err(),
        BodyError::NotJson(_)
    ));
    assert_eq!(parse_success(b"{}").unwrap_err(), BodyError::NoTables);
    let ragged = json!({"tables": [{"name": "PrimaryResult", "columns": [{"name": "a", "type": "long"}], "rows": [[1, 2]]}]});
    assert!(matches!(
        parse_success(ragged.to_string().as_bytes()).unwrap_err(),
        BodyError::RowWidth {
            found: 2,
            expected: 1,
            ..
        }
    ));
}

#[test]
fn a_partial_error_is_kept_beside_the_tables() {
    let body = json!({
        "tables": [{"name": "PrimaryResult", "columns": [{"name": "n", "type": "long"}], "rows": [[3]]}],
        "error": {"code": "PartialError", "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196790", "message": "'extend' operator: Failed to resolve scalar expression named 'x'", "severity": 3, "severityName": "Warning"}}]}
    });
    let result = parse_success(body.to_string().as_bytes()).unwrap();
    assert_eq!(result.primary().unwrap().rows, vec![vec![Cell::Long(3)]]);
    let partial = result.partial.unwrap();
    assert_eq!(partial.code, "PartialError");
    assert_eq!(
        partial.deepest_message(),
        "'extend' operator: Failed to resolve scalar expression named 'x'"
    );
}

#[test]
fn the_error_chain_of_an_unknown_table() {
    let body = json!({"error": {"message": "The request had some invalid properties", "code": "BadArgumentError",
        "correlationId": "5ec5e1d3-1b6a-4f6b-9b1c-0d5a1b2c3d4e",
        "innererror": {"code": "SemanticError", "message": "A semantic error occurred.",
            "innererror": {"code": "SEM0100", "message": "'where' operator: Failed to resolve table or column expression named 'AWSGuardDuty'"}}}});
    let error = parse_error(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        error.code_chain(),
        ["BadArgumentError", "SemanticError", "SEM0100"]
    );
    assert_eq!(error.unresolved_name(), Some("AWSGuardDuty"));
    assert_eq!(
        error.deepest_message(),
        "'where' operator: Failed to resolve table or column expression named 'AWSGuardDuty'"
    );
    assert_eq!(
        error.correlation_id.as_deref(),
        Some("5ec5e1d3-1b6a-4f6b-9b1c-0d5a1b2c3d4e")
    );
}

#[test]
fn error_bodies_of_other_statuses() {
    let not_found = parse_error(
        br#"{"error":{"code":"PathNotFoundError","message":"The requested path does not exist"}}"#,
    )
    .unwrap();
    assert_eq!(not_found.code_chain(), ["PathNotFoundError"]);
    assert_eq!(
        not_found.deepest_message(),
        "The requested path does not exist"
    );
    assert_eq!(not_found.unresolved_name(), None);
    assert!(parse_error(b"<html>bad gateway</html>").is_none());
    assert!(parse_error(b"").is_none());
}
