use super::*;
use chrono::TimeDelta;

const GOOD: &str = "\
// id: sample-check
// version: 1.2.3
// title: Sample
// description: A sample check
// tables: AWSGuardDuty
// group-by: AccountId, Region
// severity: High
// classifier: freshness
// thresholds: lookback, lag_warning, lag_failure, stale_after
// columns: AccountId, Region, Rows, LastArrival, SinceLastArrival, IngestionLag
// remedy.stale: fix {Region}
let lookback = 14d;
let lag_warning = 1h;
let lag_failure = 6h;
let stale_after = 24h;
AWSGuardDuty | summarize Rows = count() by AccountId, Region
";

fn parse_text(text: &str) -> std::result::Result<Check, Vec<String>> {
    parse_check(Path::new("queries/sample.kql"), text.as_bytes().to_vec())
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

#[test]
fn a_complete_check_parses() {
    let check = parse_text(GOOD).unwrap();
    assert_eq!(check.id, "sample-check");
    assert_eq!(check.version, semver::Version::new(1, 2, 3));
    assert_eq!(check.severity, Severity::High);
    assert_eq!(check.group_by, ["AccountId", "Region"]);
    assert_eq!(
        check.threshold("lag_failure"),
        Some(Value::Span(TimeDelta::hours(6)))
    );
    assert_eq!(check.thresholds[0].line, 12);
    assert_eq!(check.remedies["stale"], "fix {Region}");
}

#[test]
fn overrides_rewrite_the_let_statement() {
    let mut check = parse_text(GOOD).unwrap();
    check
        .set_threshold("lag_warning", Value::Span(TimeDelta::minutes(90)))
        .unwrap();
    assert!(check.query().contains("let lag_warning = 90m;\n"));
    assert_eq!(
        check.threshold("lag_warning"),
        Some(Value::Span(TimeDelta::minutes(90)))
    );

    let unknown = check
        .set_threshold("nope", Value::Span(TimeDelta::hours(1)))
        .unwrap_err();
    assert!(
        unknown.to_string().contains("has no threshold `nope`"),
        "{unknown}"
    );
    let wrong_kind = check
        .set_threshold("lookback", Value::Number(3.0))
        .unwrap_err();
    assert!(
        wrong_kind.to_string().contains("takes a timespan"),
        "{wrong_kind}"
    );
    let inverted = check
        .set_threshold("lag_warning", Value::Span(TimeDelta::hours(7)))
        .unwrap_err();
    assert!(
        inverted
            .to_string()
            .contains("must not be larger than `lag_failure`"),
        "{inverted}"
    );
}

#[test]
fn each_header_mistake_names_its_line() {
    let cases = [
        (
            "// version: 1.2.3",
            "// version: 1.2",
            "queries/sample.kql:2: version `1.2` is not semantic versioning",
        ),
        (
            "// id: sample-check",
            "// id: Sample_Check",
            "queries/sample.kql:1: id `Sample_Check` must be kebab-case",
        ),
        (
            "// severity: High",
            "// severity: urgent",
            "queries/sample.kql:7: severity `urgent` is not one of",
        ),
        (
            "// classifier: freshness",
            "// classifier: magic",
            "queries/sample.kql:8: classifier `magic` is not known",
        ),
        (
            "let lag_failure = 6h;",
            "let lag_failure = 6 hours;",
            "queries/sample.kql:14: threshold `lag_failure` = `6 hours` is neither",
        ),
        (
            "let lag_warning = 1h;",
            "let lag_warning = 8h;",
            "queries/sample.kql:13: threshold `lag_warning` must not be larger than `lag_failure`",
        ),
        (
            "let stale_after = 24h;",
            "let stale_after = 0m;",
            "queries/sample.kql:15: threshold `stale_after` must be above zero",
        ),
        (
            "// title: Sample\n",
            "",
            "queries/sample.kql:1: header has no `title:` line",
        ),
        (
            "// tables: AWSGuardDuty",
            "// tables:",
            "queries/sample.kql:5: header key `tables` is empty",
        ),
        (
            "// remedy.stale: fix {Region}",
            "// remedy.stale: x\n// owner: me",
            "queries/sample.kql:12: unknown header key `owner`",
        ),
        (
            "let stale_after = 24h;\n",
            "",
            "queries/sample.kql:9: threshold `stale_after` has no `let stale_after = …;` line",
        ),
        (
            "// columns: AccountId, Region, Rows,",
            "// columns: AccountId, Region,",
            "queries/sample.kql:10: the freshness classifier reads column `Rows`",
        ),
    ];
    for (from, to, expected) in cases {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "case {from:?} did not change the text");
        let errors = parse_text(&text).unwrap_err();
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "expected {expected:?} among {errors:?}"
        );
    }
}

#[test]
fn invalid_utf8_names_the_line() {
    let mut bytes = GOOD.as_bytes().to_vec();
    let second_line = GOOD.find('\n').unwrap() + 5;
    bytes[second_line] = 0xff;
    let errors = parse_check(Path::new("queries/bad.kql"), bytes).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "queries/bad.kql:2: the file is not valid UTF-8"
    );
}

#[test]
fn a_header_without_a_query_is_an_error() {
    let header_only: String = GOOD.lines().take(11).map(|l| format!("{l}\n")).collect();
    let errors = parse_text(&header_only).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("has a header but no query")),
        "{errors:?}"
    );
}

#[test]
fn duplicate_ids_across_folders_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    std::fs::write(dir.path().join("a/one.kql"), GOOD).unwrap();
    std::fs::write(dir.path().join("b/two.kql"), GOOD).unwrap();
    let error = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("b/two.kql:1: check id `sample-check` is already used by"),
        "{error}"
    );
    assert!(error.contains("a/one.kql"), "{error}");
}

#[test]
fn the_built_in_catalog_is_valid() {
    let checks = built_in().unwrap();
    let freshness = checks
        .iter()
        .find(|c| c.id == "guardduty-freshness")
        .unwrap();
    assert_eq!(freshness.tables, ["AWSGuardDuty"]);
    assert_eq!(freshness.group_by, ["AccountId", "Region"]);
    assert!(freshness.remedies.contains_key("stale"));
}

#[test]
fn errors_point_at_the_value_they_are_about() {
    let text = GOOD
        .replacen("// version: 1.2.3", "// version: 1.2", 1)
        .replacen("let lag_failure = 6h;", "let lag_failure = 6 hours;", 1);
    let errors = parse_check(Path::new("queries/sample.kql"), text.into_bytes()).unwrap_err();
    let positions: Vec<(usize, Option<usize>)> =
        errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(positions, [(2, Some(13)), (14, Some(19))], "{errors:?}");

    let missing = GOOD.replacen("// title: Sample\n", "", 1);
    let errors = parse_check(Path::new("queries/sample.kql"), missing.into_bytes()).unwrap_err();
    assert_eq!((errors[0].line, errors[0].column), (1, None));
}

#[test]
fn validating_sources_keeps_the_valid_checks_beside_the_errors() {
    let sources = [
        Source {
            path: "queries/good.kql".into(),
            bytes: GOOD.as_bytes().to_vec(),
        },
        Source {
            path: "queries/bad.kql".into(),
            bytes: GOOD
                .replacen("// severity: High", "// severity: dire", 1)
                .into_bytes(),
        },
    ];
    let (checks, errors) = validate_sources(&sources);
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].path, Path::new("queries/good.kql"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .starts_with("queries/bad.kql:7: severity `dire`")
    );
}

#[test]
fn required_output_columns_list_each_name_once_with_its_key() {
    let check = parse_text(GOOD).unwrap();
    assert_eq!(
        check.required_output_columns(),
        [
            ("group-by", "AccountId"),
            ("group-by", "Region"),
            ("columns", "Rows"),
            ("columns", "LastArrival"),
            ("columns", "SinceLastArrival"),
            ("columns", "IngestionLag"),
        ]
    );
}
