//! `build`: the content pack. Checks whose header has `rule:` become Sentinel scheduled analytic
//! rules ([`rules`], with queries from [`kql`]); every check becomes a status grid of the
//! Sentinel workbook ([`workbook`]). Everything is generated, checked (service limits, the
//! Kusto analyser over every query) and only then written, atomically: a build that finds a
//! problem leaves the previous pack as it was.

pub mod arm;
pub mod kql;
pub mod rules;
pub mod workbook;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::catalog::Check;
use crate::cli::BuildArgs;
use crate::error::{Error, Result, exit};
use crate::lint::{self, AnalyzerStatus, schema::Table};

/// Sentinel refuses a rule query longer than this.
pub const MAX_QUERY: usize = 10_000;
/// Marks a folder as a pack this tool wrote, so `build` may replace it.
const MARKER: &str = ".sentinel-kms-pack";

/// A reason the pack cannot be written: which check (or file), which field, what is wrong.
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

/// The pack as files, by path relative to the output folder, in a fixed order.
pub struct Pack {
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// Every KQL text in the pack, with where it lives (for the analyser).
    pub queries: Vec<(String, String)>,
    pub rules: usize,
}

/// Generates the pack and checks what can be checked without the analyser.
pub fn generate(checks: &[Check], schemas: &[Table]) -> std::result::Result<Pack, Vec<BuildError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut queries = Vec::new();
    let mut resources = Vec::new();
    let mut names: Vec<(uuid::Uuid, &str)> = Vec::new();
    for check in checks {
        let Some(rule) = &check.rule else { continue };
        let what = check.path.display().to_string();
        let query = match kql::rule_query(check, schemas) {
            Ok(query) => query,
            Err(error) => {
                errors.push(BuildError {
                    what,
                    field: "query".into(),
                    message: error.0,
                });
                continue;
            }
        };
        for problem in query_problems(&query) {
            errors.push(BuildError {
                what: what.clone(),
                field: "query".into(),
                message: problem,
            });
        }
        let id = rules::rule_id(check, rule);
        if let Some((_, other)) = names.iter().find(|(seen, _)| *seen == id) {
            errors.push(BuildError {
                what: what.clone(),
                field: "rule.id".into(),
                message: format!("rule name {id} is already the name of check `{other}`'s rule"),
            });
        }
        names.push((id, &check.id));
        queries.push((format!("{what} (rule)"), query.clone()));
        let resource = rules::resource(check, rule, &query);
        files.push((
            Path::new("analytic-rules").join(format!("{}.json", check.id)),
            render(&rules::template(vec![resource.clone()])),
        ));
        resources.push(resource);
    }
    for (index, chunk) in resources.chunks(rules::RULES_PER_FILE).enumerate() {
        files.push((
            Path::new("analytic-rules-import").join(format!("sentinel-kms-rules-{}.json", index + 1)),
            render(&rules::template(chunk.to_vec())),
        ));
    }
    match workbook::build(checks, schemas) {
        Ok(book) => {
            for (step, query) in &book.queries {
                queries.push((format!("workbook step `{step}`"), query.clone()));
            }
            files.push((
                Path::new("workbooks").join(format!("{}.json", book.key)),
                render(&book.template),
            ));
            files.push((
                Path::new("workbooks-gallery").join(format!("{}.json", book.key)),
                render(&book.content),
            ));
        }
        Err(error) => errors.push(error),
    }
    if errors.is_empty() {
        Ok(Pack {
            rules: resources.len(),
            files,
            queries,
        })
    } else {
        Err(errors)
    }
}

/// What Sentinel refuses in a rule query.
fn query_problems(query: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let length = query.chars().count();
    if length > MAX_QUERY {
        problems.push(format!(
            "the rule's query is {length} characters; Sentinel takes at most {MAX_QUERY} \
             (shorten the check's query or its table's declared columns)"
        ));
    }
    let squashed: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
    for refused in ["search *", "union *"] {
        if squashed.contains(refused) {
            problems.push(format!("a rule's query may not use `{refused}`"));
        }
    }
    problems
}

fn render(value: &Value) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text.into_bytes()
}

pub fn run(args: &BuildArgs) -> Result<u8> {
    let checks = crate::validate::load_catalog(&args.catalog)?;
    let schemas = lint::schema::load(args.schemas.as_deref())?;
    let pack = match generate(&checks, &schemas) {
        Ok(pack) => pack,
        Err(errors) => return Err(refused(&errors)),
    };
    let texts: Vec<(&Path, &str)> = pack
        .queries
        .iter()
        .map(|(_, query)| (Path::new(""), query.as_str()))
        .collect();
    let (status, analysis) = lint::analyse(&schemas, &texts);
    let analysed = match (&status, analysis) {
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
            format!("KQL analysed with {} {version}", lint::analyzer::PACKAGE)
        }
        (AnalyzerStatus::Failed { reason }, _) => {
            return Err(Error::usage(format!(
                "the Kusto analyser failed, so the pack's queries are unchecked and nothing was \
                 written: {reason}"
            )));
        }
        (AnalyzerStatus::Skipped { reason }, _) | (AnalyzerStatus::Ran { .. }, None) => {
            let reason = match &status {
                AnalyzerStatus::Skipped { reason } => reason.as_str(),
                _ => "no analysis came back",
            };
            if args.require_analyzer {
                return Err(Error::usage(format!(
                    "--require-analyzer: KQL analysis cannot run: {reason}; to enable it, {}",
                    lint::analyzer::HOW_TO_ENABLE
                )));
            }
            tracing::warn!(
                "KQL analysis skipped: {reason}; to enable it, {}",
                lint::analyzer::HOW_TO_ENABLE
            );
            "KQL analysis skipped (the queries were not checked)".to_string()
        }
    };
    write_pack(&args.out, &pack.files)?;
    let mut text = String::new();
    for (path, _) in &pack.files {
        text.push_str(&format!("{}\n", args.out.join(path).display()));
    }
    text.push_str(&format!(
        "build: {} analytic rules and 1 workbook from {} checks in {}; {analysed}\n",
        pack.rules,
        checks.len(),
        args.out.display()
    ));
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })?;
    Ok(exit::OK)
}

fn refused(errors: &[BuildError]) -> Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Error::usage(format!(
        "the pack would be refused by Sentinel, so nothing was written:\n{}",
        lines.join("\n")
    ))
}

/// Writes the pack into a fresh folder beside `out`, then puts it in `out`'s place. A folder
/// that is not empty and was not written by `build` is never replaced.
pub fn write_pack(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let failed = |path: &Path, source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if out.exists() {
        let is_pack = out.join(MARKER).is_file();
        let empty = std::fs::read_dir(out)
            .map_err(|e| failed(out, e))?
            .next()
            .is_none();
        if !is_pack && !empty {
            return Err(Error::usage(format!(
                "`{}` is not empty and holds no content pack written by sentinel-kms; give \
                 `--out` a new or empty folder",
                out.display()
            )));
        }
    }
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| failed(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".sentinel-kms-build-")
        .tempdir_in(&parent)
        .map_err(|e| failed(&parent, e))?;
    let mut listing = String::from("# Written by sentinel-kms build; replaced whole by the next build.\n");
    for (path, bytes) in files {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(|e| failed(folder, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| failed(&out.join(path), e))?;
        listing.push_str(&format!("{}\n", path.display()));
    }
    std::fs::write(staging.path().join(MARKER), listing).map_err(|e| failed(out, e))?;
    let old = if out.exists() {
        let old = tempfile::Builder::new()
            .prefix(".sentinel-kms-previous-")
            .tempdir_in(&parent)
            .map_err(|e| failed(&parent, e))?;
        let old_path = old.keep();
        std::fs::remove_dir(&old_path).map_err(|e| failed(&old_path, e))?;
        std::fs::rename(out, &old_path).map_err(|e| failed(out, e))?;
        Some(old_path)
    } else {
        None
    };
    let staged = staging.keep();
    if let Err(error) = std::fs::rename(&staged, out) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(failed(out, error));
    }
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
