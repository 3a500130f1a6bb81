//! The catalog of checks: `.kql` files with a metadata header, loaded from a folder or from the
//! copy built into the binary, validated, and given threshold overrides.

pub mod header;
pub mod lets;
pub mod rule;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{CheckFileError, Error, Result};
use lets::Value;

/// The checks shipped with the tool, built into the binary.
static BUILT_IN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/queries");

/// Largest check file accepted; a real check is a few kilobytes.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How a check's result rows are turned into verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classifier {
    /// Arrival of rows per group: never seen, stale since T, quiet, late, or fresh.
    Freshness,
    /// Each result row is something that went wrong (a denial, a failure, a change); no rows
    /// is healthy.
    Events,
    /// One share of bad rows among all rows, against a maximum.
    Share,
}

impl Classifier {
    fn parse(text: &str) -> Option<Classifier> {
        match text {
            "freshness" => Some(Classifier::Freshness),
            "events" => Some(Classifier::Events),
            "share" => Some(Classifier::Share),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Classifier::Freshness => "freshness",
            Classifier::Events => "events",
            Classifier::Share => "share",
        }
    }

    /// Thresholds the classifier reads; each must be a `let` in the query.
    pub fn required_thresholds(self) -> &'static [&'static str] {
        match self {
            Classifier::Freshness => &["lookback", "lag_warning", "lag_failure", "stale_after"],
            Classifier::Events => &["lookback"],
            Classifier::Share => &["lookback", "max_share"],
        }
    }

    /// Output columns the classifier reads; each must be listed in `columns`.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Classifier::Freshness => &["Rows", "LastArrival", "SinceLastArrival", "IngestionLag"],
            Classifier::Events => &["Events", "FirstSeen", "LastSeen"],
            Classifier::Share => &["Rows", "Bad"],
        }
    }

    /// Whether the classifier reports findings, and so needs `finding` and `finding-message`.
    pub fn reports_findings(self) -> bool {
        matches!(self, Classifier::Events | Classifier::Share)
    }

    /// Thresholds that must hold a number rather than a timespan.
    pub fn number_thresholds(self) -> &'static [&'static str] {
        match self {
            Classifier::Share => &["max_share"],
            Classifier::Freshness | Classifier::Events => &[],
        }
    }
}

/// Sentinel's alert severities, used for ordering and for the rules built from a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    fn parse(text: &str) -> Option<Severity> {
        match text.to_ascii_lowercase().as_str() {
            "informational" => Some(Severity::Informational),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// What a missing table means for a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenMissing {
    /// No data, and the run fails: the table should exist.
    Fail,
    /// No data, reported without failing: the table is optional.
    Warn,
    /// Could not evaluate: the check needs the table to see anything.
    Blind,
}

impl WhenMissing {
    fn parse(text: &str) -> Option<WhenMissing> {
        match text {
            "fail" => Some(WhenMissing::Fail),
            "warn" => Some(WhenMissing::Warn),
            "blind" => Some(WhenMissing::Blind),
            _ => None,
        }
    }
}

/// How a check that reports findings names and words them.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The reason code of a finding, unless a row's `Reason` column says otherwise.
    pub reason: String,
    /// `no_data` (the default) or `lag`.
    pub status: crate::verdict::Status,
    /// One line per finding; `{Column}` is replaced by the row's value.
    pub message: String,
    /// The message when there is nothing to report.
    pub clear_message: Option<String>,
}

/// A threshold: a leading `let` of the query that the header names as tunable.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub name: String,
    pub value: Value,
    pub line: usize,
    /// Where the value starts on its line (1-based, in characters).
    pub column: usize,
}

/// One validated check.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub version: semver::Version,
    pub title: String,
    pub description: String,
    pub tables: Vec<String>,
    pub group_by: Vec<String>,
    pub severity: Severity,
    pub classifier: Classifier,
    pub thresholds: Vec<Threshold>,
    pub columns: Vec<String>,
    /// For checks that report findings: how they are named and worded.
    pub finding: Option<Finding>,
    pub when_missing: WhenMissing,
    /// Check-specific next steps, by verdict reason.
    pub remedies: BTreeMap<String, String>,
    /// How the check becomes a Sentinel analytic rule, when it does.
    pub rule: Option<rule::RuleSettings>,
    /// Where the check came from, as shown in messages (`queries/…` for built-in checks).
    pub path: PathBuf,
    /// The file's text; with overrides applied, this is the query sent.
    pub text: String,
}

impl Check {
    pub fn threshold(&self, name: &str) -> Option<Value> {
        self.thresholds
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value)
    }

    /// The query sent to the workspace: the whole file, header comments included.
    pub fn query(&self) -> &str {
        &self.text
    }

    /// Replaces a threshold's value in the query text.
    pub fn set_threshold(&mut self, name: &str, value: Value) -> Result<()> {
        let Some(index) = self.thresholds.iter().position(|t| t.name == name) else {
            return Err(Error::usage(format!(
                "check `{}` has no threshold `{name}` (it has: {})",
                self.id,
                self.threshold_names().join(", ")
            )));
        };
        let same_kind = matches!(
            (self.thresholds[index].value, value),
            (Value::Span(_), Value::Span(_)) | (Value::Number(_), Value::Number(_))
        );
        if !same_kind {
            return Err(Error::usage(format!(
                "threshold `{name}` of check `{}` takes a {}, not `{}`",
                self.id,
                kind_name(self.thresholds[index].value),
                value.to_kql()
            )));
        }
        let statement = lets::scan(&self.text)
            .into_iter()
            .find(|statement| statement.name == name)
            .expect("a threshold always has its let statement");
        self.text
            .replace_range(statement.value_range, &value.to_kql());
        self.thresholds[index].value = value;
        let mut errors = Vec::new();
        check_threshold_order(self, &mut errors);
        match errors.pop() {
            Some(error) => Err(Error::usage(format!(
                "with `{name}` = {}: {}",
                value.to_kql(),
                error.message
            ))),
            None => Ok(()),
        }
    }

    pub fn threshold_names(&self) -> Vec<&str> {
        self.thresholds.iter().map(|t| t.name.as_str()).collect()
    }

    /// Columns the query's result must have, each with the header key that asks for it: the
    /// grouping columns, then the columns the classifier reads. A name is listed once.
    pub fn required_output_columns(&self) -> Vec<(&'static str, &str)> {
        let mut required: Vec<(&'static str, &str)> = Vec::new();
        let rule_columns = self.rule.iter().flat_map(|rule| {
            rule.columns()
                .into_iter()
                .filter(|(_, name)| !rule::ADDED_COLUMNS.contains(name))
        });
        let keyed = (self.group_by.iter().map(|name| ("group-by", name.as_str())))
            .chain(self.columns.iter().map(|name| ("columns", name.as_str())))
            .chain(rule_columns);
        for (key, name) in keyed {
            if !required.iter().any(|(_, seen)| *seen == name) {
                required.push((key, name));
            }
        }
        required
    }
}

fn kind_name(value: Value) -> &'static str {
    match value {
        Value::Span(_) => "timespan such as `2h`",
        Value::Number(_) => "number",
    }
}

/// Loads the built-in catalog.
pub fn built_in() -> Result<Vec<Check>> {
    let mut sources = Vec::new();
    collect_built_in(&BUILT_IN, &mut sources);
    load_sources(&sources)
}

fn collect_built_in(dir: &Dir<'_>, sources: &mut Vec<Source>) {
    for file in dir.files() {
        if file.path().extension().is_some_and(|ext| ext == "kql") {
            sources.push(Source {
                path: Path::new("queries").join(file.path()),
                bytes: file.contents().to_vec(),
            });
        }
    }
    for child in dir.dirs() {
        collect_built_in(child, sources);
    }
}

/// Loads every `*.kql` file below `root` (or the one file `root` names).
pub fn load_dir(root: &Path) -> Result<Vec<Check>> {
    let (sources, errors) = read_dir(root)?;
    if !errors.is_empty() {
        return Err(Error::CheckFiles(errors));
    }
    if sources.is_empty() {
        return Err(Error::usage(format!(
            "no `.kql` check files under `{}`",
            root.display()
        )));
    }
    load_sources(&sources)
}

/// Reads every `*.kql` file below `root` (or the one file `root` names), in file-name order.
/// A file that cannot be read is reported beside the others; only a missing `root` stops.
pub fn read_dir(root: &Path) -> Result<(Vec<Source>, Vec<CheckFileError>)> {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    if !root.exists() {
        return Err(Error::usage(format!(
            "`{}` does not exist (give a check file or a folder of checks)",
            root.display()
        )));
    }
    for entry in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().unwrap_or(root).to_path_buf();
                let reason = if error.loop_ancestor().is_some() {
                    "symbolic link loop".to_string()
                } else {
                    error
                        .io_error()
                        .map_or_else(|| error.to_string(), ToString::to_string)
                };
                errors.push(CheckFileError::new(
                    path,
                    0,
                    format!("cannot read: {reason}"),
                ));
                continue;
            }
        };
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|ext| ext != "kql") {
            continue;
        }
        match read_limited(path) {
            Ok(bytes) => sources.push(Source {
                path: path.to_path_buf(),
                bytes,
            }),
            Err(message) => errors.push(CheckFileError::new(path, 0, message)),
        }
    }
    Ok((sources, errors))
}

fn read_limited(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "file is {size} bytes; a check file may be at most {MAX_FILE_BYTES}"
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// A check file's path, as shown in messages, and its contents.
pub struct Source {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

fn load_sources(sources: &[Source]) -> Result<Vec<Check>> {
    let (checks, errors) = validate_sources(sources);
    if !errors.is_empty() {
        return Err(Error::CheckFiles(errors));
    }
    Ok(checks)
}

/// Parses and validates every file, then checks that ids are unique across them. Returns the
/// valid checks, sorted by id, and every problem found, so a caller can report them all.
pub fn validate_sources(sources: &[Source]) -> (Vec<Check>, Vec<CheckFileError>) {
    let mut checks: Vec<Check> = Vec::new();
    let mut errors = Vec::new();
    for source in sources {
        match parse_check(&source.path, source.bytes.clone()) {
            Ok(check) => checks.push(check),
            Err(mut found) => errors.append(&mut found),
        }
    }
    let mut first_by_id: BTreeMap<&str, &Check> = BTreeMap::new();
    for check in &checks {
        if let Some(first) = first_by_id.insert(&check.id, check) {
            let (line, column) = header::parse(&check.path, &check.text)
                .ok()
                .and_then(|raw| raw.fields.get("id").map(|id| (id.line, id.column)))
                .unwrap_or((1, 1));
            errors.push(
                CheckFileError::new(
                    &check.path,
                    line,
                    format!(
                        "check id `{}` is already used by `{}`",
                        check.id,
                        first.path.display()
                    ),
                )
                .at_column(column),
            );
        }
    }
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    (checks, errors)
}

/// Parses and validates one check file, reporting every problem it finds.
pub fn parse_check(path: &Path, bytes: Vec<u8>) -> std::result::Result<Check, Vec<CheckFileError>> {
    let mut text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        vec![CheckFileError::new(
            path,
            line,
            "the file is not valid UTF-8",
        )]
    })?;
    // Some Windows editors start a UTF-8 file with a byte order mark; it is no part of the check.
    if text.starts_with('\u{feff}') {
        text.remove(0);
    }
    let raw = header::parse(path, &text)?;
    let mut errors = Vec::new();
    let mut fields = Fields {
        path,
        raw: &raw,
        errors: &mut errors,
    };

    let id = fields.required("id").unwrap_or_default();
    if !id.is_empty() && !is_kebab_case(&id) {
        fields.error(
            "id",
            format!("id `{id}` must be kebab-case: lowercase letters, digits and single hyphens"),
        );
    }
    let version = fields
        .required("version")
        .and_then(|text| match semver::Version::parse(&text) {
            Ok(version) => Some(version),
            Err(error) => {
                fields.error(
                    "version",
                    format!("version `{text}` is not semantic versioning (x.y.z): {error}"),
                );
                None
            }
        });
    let title = fields.required("title").unwrap_or_default();
    let description = fields.required("description").unwrap_or_default();
    let tables = fields
        .required("tables")
        .map(|v| header::list(&v))
        .unwrap_or_default();
    let group_by = fields
        .optional("group-by")
        .map(|v| header::list(&v))
        .unwrap_or_default();
    let columns = fields
        .required("columns")
        .map(|v| header::list(&v))
        .unwrap_or_default();
    let severity = fields.required("severity").and_then(|text| {
        let parsed = Severity::parse(&text);
        if parsed.is_none() {
            fields.error(
                "severity",
                format!("severity `{text}` is not one of informational, low, medium, high"),
            );
        }
        parsed
    });
    let classifier = fields.required("classifier").and_then(|text| {
        let parsed = Classifier::parse(&text);
        if parsed.is_none() {
            fields.error(
                "classifier",
                format!("classifier `{text}` is not known (known: freshness)"),
            );
        }
        parsed
    });
    let when_missing = match fields.optional("when-missing") {
        None => WhenMissing::Fail,
        Some(text) => WhenMissing::parse(&text).unwrap_or_else(|| {
            fields.error(
                "when-missing",
                format!("when-missing `{text}` is not one of fail, warn, blind"),
            );
            WhenMissing::Fail
        }),
    };
    let finding = parse_finding(&mut fields, classifier);
    let threshold_names = fields
        .optional("thresholds")
        .map(|v| header::list(&v))
        .unwrap_or_default();
    for name in &tables {
        if !is_identifier(name) {
            fields.error("tables", format!("`{name}` is not a table name"));
        }
    }
    for name in group_by.iter().chain(&columns) {
        if !is_identifier(name) {
            fields.error("columns", format!("`{name}` is not a column name"));
        }
    }

    let statements = lets::scan(&text);
    let mut thresholds = Vec::new();
    for name in &threshold_names {
        let Some(statement) = statements.iter().find(|s| &s.name == name) else {
            fields.error(
                "thresholds",
                format!("threshold `{name}` has no `let {name} = …;` line in the query"),
            );
            continue;
        };
        match Value::parse(&statement.value_text) {
            Some(value) => thresholds.push(Threshold {
                name: name.clone(),
                value,
                line: statement.line,
                column: statement.column,
            }),
            None => fields.errors.push(
                CheckFileError::new(
                    path,
                    statement.line,
                    format!(
                        "threshold `{name}` = `{}` is neither a timespan (such as `30m`, `6h`, `14d`) nor a number",
                        statement.value_text
                    ),
                )
                .at_column(statement.column),
            ),
        }
    }

    if let Some(classifier) = classifier {
        let mut fields = Fields {
            path,
            raw: &raw,
            errors: &mut errors,
        };
        for needed in classifier.required_thresholds() {
            match thresholds.iter().find(|t| &t.name == needed) {
                None if !threshold_names.iter().any(|name| name == needed) => {
                    fields.error(
                        "thresholds",
                        format!(
                            "the {} classifier needs threshold `{needed}`",
                            classifier.name()
                        ),
                    );
                }
                Some(threshold)
                    if classifier.number_thresholds().contains(needed)
                        && threshold.value.as_number().is_none() =>
                {
                    fields.errors.push(
                        CheckFileError::new(
                            path,
                            threshold.line,
                            format!("threshold `{needed}` must be a number such as `0.05`"),
                        )
                        .at_column(threshold.column),
                    )
                }
                Some(threshold)
                    if !classifier.number_thresholds().contains(needed)
                        && threshold.value.as_span().is_none() =>
                {
                    fields.errors.push(
                        CheckFileError::new(
                            path,
                            threshold.line,
                            format!("threshold `{needed}` must be a timespan such as `6h`"),
                        )
                        .at_column(threshold.column),
                    )
                }
                _ => {}
            }
        }
        for needed in classifier.required_columns() {
            if !columns.iter().any(|name| name == needed) {
                fields.error(
                    "columns",
                    format!(
                        "the {} classifier reads column `{needed}`: list it in `columns`",
                        classifier.name()
                    ),
                );
            }
        }
    }
    if raw.body_line > text.lines().count()
        || text
            .lines()
            .skip(raw.body_line - 1)
            .all(|l| l.trim().is_empty())
    {
        errors.push(CheckFileError::new(
            path,
            raw.body_line,
            "the file has a header but no query",
        ));
    }

    let remedies = raw
        .fields
        .iter()
        .filter_map(|(key, field)| {
            key.strip_prefix("remedy.")
                .map(|reason| (reason.to_string(), field.value.clone()))
        })
        .collect();
    let rule = classifier.and_then(|classifier| {
        rule::parse(
            path,
            &raw,
            &rule::Context {
                classifier,
                columns: &columns,
                group_by: &group_by,
                lookback: thresholds
                    .iter()
                    .find(|t| t.name == "lookback")
                    .and_then(|t| t.value.as_span()),
            },
            &mut errors,
        )
    });
    let (Some(version), Some(severity), Some(classifier), true) =
        (version, severity, classifier, errors.is_empty())
    else {
        return Err(errors);
    };
    let check = Check {
        id,
        version,
        title,
        description,
        tables,
        group_by,
        severity,
        classifier,
        thresholds,
        columns,
        finding,
        when_missing,
        remedies,
        rule,
        path: path.to_path_buf(),
        text,
    };
    check_threshold_order(&check, &mut errors);
    if errors.is_empty() {
        Ok(check)
    } else {
        Err(errors)
    }
}

/// The `finding*` keys: required for classifiers that report findings, refused elsewhere.
fn parse_finding(fields: &mut Fields<'_>, classifier: Option<Classifier>) -> Option<Finding> {
    let classifier = classifier?;
    if !classifier.reports_findings() {
        for key in [
            "finding",
            "finding-status",
            "finding-message",
            "clear-message",
        ] {
            if fields.raw.fields.contains_key(key) {
                fields.error(
                    key,
                    format!("`{key}` is only for the events and share classifiers"),
                );
            }
        }
        return None;
    }
    let reason = fields.required("finding")?;
    if !reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        fields.error(
            "finding",
            format!("finding `{reason}` must be a reason code: lowercase letters and `_`"),
        );
    }
    let status = match fields.optional("finding-status").as_deref() {
        None | Some("no_data") => crate::verdict::Status::NoData,
        Some("lag") => crate::verdict::Status::Lag,
        Some(other) => {
            fields.error(
                "finding-status",
                format!("finding-status `{other}` is not one of no_data, lag"),
            );
            crate::verdict::Status::NoData
        }
    };
    let message = fields.required("finding-message")?;
    let clear_message = fields.optional("clear-message");
    Some(Finding {
        reason,
        status,
        message,
        clear_message,
    })
}

/// Thresholds that only make sense in one order: warning before failure, both inside the
/// lookback window.
fn check_threshold_order(check: &Check, errors: &mut Vec<CheckFileError>) {
    let span = |name: &str| check.threshold(name).and_then(Value::as_span);
    let position = |name: &str| {
        check
            .thresholds
            .iter()
            .find(|t| t.name == name)
            .map_or((1, 1), |t| (t.line, t.column))
    };
    let mut require = |smaller: &str, larger: &str| {
        if let (Some(a), Some(b)) = (span(smaller), span(larger))
            && a > b
        {
            let (line, column) = position(smaller);
            errors.push(
                CheckFileError::new(
                    &check.path,
                    line,
                    format!("threshold `{smaller}` must not be larger than `{larger}`"),
                )
                .at_column(column),
            );
        }
    };
    require("lag_warning", "lag_failure");
    require("stale_after", "lookback");
    require("lag_failure", "lookback");
    if let Some(threshold) = check.thresholds.iter().find(|t| t.name == "max_share")
        && !threshold
            .value
            .as_number()
            .is_some_and(|share| share > 0.0 && share <= 1.0)
    {
        errors.push(CheckFileError::new(
            &check.path,
            threshold.line,
            "threshold `max_share` must be a number above 0 and at most 1 (a share of rows)",
        ));
    }
    if let Some(threshold) = check.thresholds.iter().find(|t| t.name == "silence_factor")
        && !threshold
            .value
            .as_number()
            .is_some_and(|factor| factor >= 1.0)
    {
        errors.push(CheckFileError::new(
            &check.path,
            threshold.line,
            "threshold `silence_factor` must be a number of at least 1 (how many usual gaps of \
             silence mean a group has stopped)",
        ));
    }
    for threshold in &check.thresholds {
        if threshold
            .value
            .as_span()
            .is_some_and(|span| span <= chrono::TimeDelta::zero())
        {
            errors.push(
                CheckFileError::new(
                    &check.path,
                    threshold.line,
                    format!("threshold `{}` must be above zero", threshold.name),
                )
                .at_column(threshold.column),
            );
        }
    }
}

struct Fields<'a> {
    path: &'a Path,
    raw: &'a header::RawHeader,
    errors: &'a mut Vec<CheckFileError>,
}

impl Fields<'_> {
    fn required(&mut self, key: &str) -> Option<String> {
        match self.raw.fields.get(key) {
            Some(field) if !field.value.is_empty() => Some(field.value.clone()),
            Some(field) => {
                self.errors.push(
                    CheckFileError::new(
                        self.path,
                        field.line,
                        format!("header key `{key}` is empty"),
                    )
                    .at_column(field.column),
                );
                None
            }
            None => {
                self.errors.push(CheckFileError::new(
                    self.path,
                    1,
                    format!("header has no `{key}:` line"),
                ));
                None
            }
        }
    }

    fn optional(&mut self, key: &str) -> Option<String> {
        self.raw.fields.get(key).map(|field| field.value.clone())
    }

    /// An error about the value of `key`, at that value (or at the file's start without it).
    fn error(&mut self, key: &str, message: String) {
        let (line, column) = self
            .raw
            .fields
            .get(key)
            .map_or((1, 1), |field| (field.line, field.column));
        self.errors
            .push(CheckFileError::new(self.path, line, message).at_column(column));
    }
}

fn is_kebab_case(id: &str) -> bool {
    id.len() <= 64
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests;
