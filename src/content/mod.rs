//! `build`: the content pack. Checks whose header has `rule:` become Sentinel scheduled analytic
//! rules ([`rules`], with queries from [`kql`]); every check becomes a status grid of the
//! Sentinel workbook, or of one of its parts when the catalog is large ([`workbook`]).
//! Everything is generated, then checked (the published schemas in [`schema`], the service's
//! and content repository's limits in [`limits`], the Kusto analyser over every query) and only
//! then written, atomically ([`write`]): a build that finds a problem leaves the previous pack
//! as it was.

pub mod arm;
pub mod kql;
pub mod limits;
pub mod rules;
pub mod schema;
pub mod workbook;
mod write;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::catalog::Check;
use crate::cli::BuildArgs;
use crate::error::{Error, Result, exit};
use crate::lint::{self, AnalyzerStatus, schema::Table};
pub use write::write_pack;

/// Something Sentinel would refuse: the field (a path below the rule's `properties`, or in the
/// workbook) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// A problem of the pack, with where it is: a check's rule, or a workbook.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError {
    pub what: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.what, self.field, self.message)
    }
}

/// The header key a rule field comes from, so a problem can be reported where it is written.
pub fn header_key(field: &str) -> Option<&'static str> {
    let top = field.split('/').next().unwrap_or_default();
    let key = match top {
        "displayName" => "rule.name",
        "description" => "description",
        "severity" => "severity",
        "templateVersion" => "version",
        "queryFrequency" => "rule.frequency",
        "queryPeriod" => "rule.period",
        "triggerOperator" | "triggerThreshold" => "rule.trigger",
        "suppressionDuration" | "suppressionEnabled" => "rule.suppression",
        "tactics" => "rule.tactics",
        "techniques" => "rule.techniques",
        "entityMappings" => "rule.entities",
        "customDetails" => "rule.custom-details",
        "incidentConfiguration" => "rule.grouping",
        "alertDetailsOverride" if field.ends_with("alertDescriptionFormat") => {
            "rule.alert-description"
        }
        "alertDetailsOverride" => "rule.alert-name",
        _ => return None,
    };
    Some(key)
}

/// One check's rule, generated and checked.
#[derive(Debug)]
pub struct Rule {
    pub name: uuid::Uuid,
    /// The ARM resource, its strings escaped.
    pub resource: Value,
    pub query: String,
}

/// Generates the rule of `check` and checks it against the SecurityInsights schema and the
/// limits; `catalog` holds the checks `rule.quiet-when` may name.
pub fn rule(
    check: &Check,
    catalog: &[Check],
    schemas: &[Table],
) -> std::result::Result<Rule, Vec<Problem>> {
    let settings = check.rule.as_ref().ok_or_else(|| {
        vec![Problem {
            field: "rule".into(),
            message: "the check asks for no rule".into(),
        }]
    })?;
    let query = kql::rule_query(check, catalog, schemas).map_err(|error| {
        vec![Problem {
            field: "query".into(),
            message: error.0,
        }]
    })?;
    let properties = rules::properties(check, settings, &query);
    // The schema sees what ARM hands the API: the strings before their escaping.
    let as_deployed = json!({ "kind": "Scheduled", "properties": properties });
    let mut problems = schema::rule_problems(&as_deployed);
    problems.extend(limits::rule_problems(&properties));
    if !problems.is_empty() {
        return Err(problems);
    }
    let name = rules::rule_name(&check.id, settings.id);
    Ok(Rule {
        name,
        resource: rules::resource(name, properties),
        query,
    })
}

/// The pack as files, by path relative to the output folder, in a fixed order.
pub struct Pack {
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Every KQL text in the pack, with where it lives (for the analyser).
    pub queries: Vec<(String, String)>,
    pub rules: usize,
    pub workbooks: usize,
}

/// Where rule templates and the workbook's template go: the folder to deploy.
pub const ARM_FOLDER: &str = "arm";
/// Where the rules go in files of at most 50, for the portal's Import.
pub const IMPORT_FOLDER: &str = "import";
/// Where the workbook's gallery JSON goes, for the workbook's Advanced Editor.
pub const GALLERY_FOLDER: &str = "gallery";

/// Generates the pack and checks what can be checked without the analyser.
pub fn generate(checks: &[Check], schemas: &[Table]) -> std::result::Result<Pack, Vec<BuildError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut queries = Vec::new();
    let mut resources = Vec::new();
    let mut names: Vec<(uuid::Uuid, &str)> = Vec::new();
    for check in checks.iter().filter(|check| check.rule.is_some()) {
        let what = format!("check `{}` ({})", check.id, check.path.display());
        let rule = match rule(check, checks, schemas) {
            Ok(rule) => rule,
            Err(problems) => {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|problem| rule_error(&what, problem)),
                );
                continue;
            }
        };
        if let Some((_, other)) = names.iter().find(|(seen, _)| *seen == rule.name) {
            errors.push(BuildError {
                what: what.clone(),
                field: "rule name (header `rule.id`)".into(),
                message: format!(
                    "{} is already the name of check `{other}`'s rule",
                    rule.name
                ),
            });
        }
        names.push((rule.name, &check.id));
        queries.push((format!("{what}, rule query"), rule.query));
        files.push((
            Path::new(ARM_FOLDER).join(format!("{}-rule.json", check.id)),
            render(&rules::template(vec![rule.resource.clone()])),
        ));
        resources.push(rule.resource);
    }
    for (index, chunk) in resources.chunks(rules::RULES_PER_FILE).enumerate() {
        files.push((
            Path::new(IMPORT_FOLDER).join(format!("sentinel-kms-rules-{}.json", index + 1)),
            render(&rules::template(chunk.to_vec())),
        ));
    }
    let mut workbooks = 0;
    match workbook_files(checks, schemas) {
        Ok((mut workbook_files, workbook_queries, count)) => {
            files.append(&mut workbook_files);
            queries.extend(workbook_queries);
            workbooks = count;
        }
        Err(mut found) => errors.append(&mut found),
    }
    if errors.is_empty() {
        Ok(Pack {
            rules: resources.len(),
            workbooks,
            files,
            queries,
        })
    } else {
        Err(errors)
    }
}

fn rule_error(what: &str, problem: Problem) -> BuildError {
    let field = match header_key(&problem.field) {
        Some(key) => format!("rule {} (header `{key}`)", problem.field),
        None => format!("rule {}", problem.field),
    };
    BuildError {
        what: what.to_string(),
        field,
        message: problem.message,
    }
}

type Files = Vec<(PathBuf, Vec<u8>)>;
type Queries = Vec<(String, String)>;

/// Each workbook's two files, checked against the workbook schema and the gallery's limits,
/// with the number of workbooks.
fn workbook_files(
    checks: &[Check],
    schemas: &[Table],
) -> std::result::Result<(Files, Queries, usize), Vec<BuildError>> {
    let books = workbook::build(checks, schemas).map_err(|error| {
        vec![BuildError {
            what: error.what,
            field: error.problem.field,
            message: error.problem.message,
        }]
    })?;
    let (mut files, mut queries, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for book in &books {
        let what = format!("workbook `{}`", book.key);
        for warning in limits::workbook_warnings(&book.content) {
            tracing::warn!("{what}: {}: {}", warning.field, warning.message);
        }
        let mut problems = schema::workbook_problems(&book.content);
        problems.extend(limits::workbook_problems(&book.content, &book.serialized));
        errors.extend(problems.into_iter().map(|problem| BuildError {
            what: what.clone(),
            field: problem.field,
            message: problem.message,
        }));
        queries.extend(
            (book.queries.iter())
                .map(|(step, query)| (format!("{what}, step `{step}`"), query.clone())),
        );
        files.push((
            Path::new(ARM_FOLDER).join(format!("{}-workbook.json", book.key)),
            render(&book.template),
        ));
        files.push((
            Path::new(GALLERY_FOLDER).join(format!("{}.json", book.key)),
            render(&book.content),
        ));
    }
    if errors.is_empty() {
        Ok((files, queries, books.len()))
    } else {
        Err(errors)
    }
}

fn render(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text.into_bytes()
}

pub fn run(args: &BuildArgs) -> Result<u8> {
    let checks = crate::validate::load_catalog(&args.catalog)?;
    let schemas = lint::schema::load(args.schemas.as_deref())?;
    let pack = generate(&checks, &schemas).map_err(|errors| refused(&errors))?;
    let analysed = match analyse(&pack, &schemas, args.require_analyzer)? {
        Ok(note) => note,
        Err(reason) => {
            eprintln!(
                "error: the Kusto analyser failed, so the pack's queries are unchecked and \
                 nothing was written: {reason}"
            );
            return Ok(exit::NOT_EVALUATED);
        }
    };
    write_pack(&args.out, &pack.files)?;

    let mut text = String::new();
    for (path, _) in &pack.files {
        text.push_str(&format!("{}\n", args.out.join(path).display()));
    }
    text.push_str(&format!(
        "build: {} analytic rules and {} from {} checks in {}; {analysed}\n\
         build: rule queries read their tables through `union isfuzzy=true`, so the rules \
         deploy before the tables exist\n",
        pack.rules,
        match pack.workbooks {
            1 => "1 workbook".to_string(),
            count => format!("{count} workbooks"),
        },
        checks.len(),
        args.out.display()
    ));
    crate::output::print(&text)?;
    Ok(exit::OK)
}

/// Runs the Kusto analyser over every query of the pack. `Ok(Ok(note))`: the queries are
/// clean (or analysis was skipped, as the note says); `Ok(Err(reason))`: the analyser failed;
/// `Err`: a query has errors, or the analyser is required and missing.
fn analyse(
    pack: &Pack,
    schemas: &[Table],
    require_analyzer: bool,
) -> Result<std::result::Result<String, String>> {
    let texts: Vec<(&Path, &str)> = (pack.queries.iter())
        .map(|(_, query)| (Path::new(""), query.as_str()))
        .collect();
    match lint::analyse(schemas, &texts) {
        (AnalyzerStatus::Ran { version }, Some(analysis)) => {
            let mut errors = Vec::new();
            for ((what, query), result) in pack.queries.iter().zip(&analysis.results) {
                for finding in result.diagnostics.iter().filter(|d| d.severity == "Error") {
                    let (line, column) =
                        lint::diagnostic::position_of_utf16_offset(query, finding.start);
                    errors.push(BuildError {
                        what: what.clone(),
                        field: format!("query line {line} column {column}"),
                        message: format!("{} [{}]", finding.message, finding.code),
                    });
                }
            }
            if !errors.is_empty() {
                return Err(refused(&errors));
            }
            Ok(Ok(format!(
                "KQL analysed with {} {version}",
                lint::analyzer::PACKAGE
            )))
        }
        (AnalyzerStatus::Failed { reason }, _) => Ok(Err(reason)),
        (AnalyzerStatus::Skipped { reason }, _) => {
            if require_analyzer {
                return Err(Error::usage(format!(
                    "--require-analyzer: KQL analysis cannot run: {reason}; to enable it, {}",
                    lint::analyzer::HOW_TO_ENABLE
                )));
            }
            tracing::warn!(
                "KQL analysis skipped: {reason}; to enable it, {}",
                lint::analyzer::HOW_TO_ENABLE
            );
            Ok(Ok(
                "KQL analysis skipped (the queries were not checked)".into()
            ))
        }
        (AnalyzerStatus::Ran { .. }, None) => Ok(Err("no analysis came back".into())),
    }
}

fn refused(errors: &[BuildError]) -> Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Error::usage(format!(
        "the pack would be refused by Sentinel, so nothing was written:\n{}",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests;
