//! Microsoft's Kusto analyser (`@kusto/language-service-next`, from npm) run in Node.js: where
//! its package is found, and one Node process per lint run that analyses every query against
//! the table schemas. The driver script, `analyzer.js`, is built into the binary.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::lint::schema::{Column, Table};

pub const PACKAGE: &str = "@kusto/language-service-next";
/// Names the package folder, instead of looking for it in `node_modules`.
pub const ENV_VAR: &str = "SENTINEL_KMS_KUSTO_ANALYZER";
/// What to do when the analyser is missing.
pub const HOW_TO_ENABLE: &str = "install Node.js 20 and run `npm ci` at the repository root \
    (scripts/env.sh does), or set SENTINEL_KMS_KUSTO_ANALYZER to the package's folder";

const DRIVER: &str = include_str!("analyzer.js");
/// The file the driver loads; its presence marks a usable package folder.
const ENTRY_FILE: &str = "Kusto.Language.Bridge.min.js";

/// What the analyser said about the queries, in their order.
#[derive(Debug, serde::Deserialize)]
pub struct Analysis {
    /// The package's version.
    pub version: String,
    pub results: Vec<QueryAnalysis>,
}

#[derive(Debug, serde::Deserialize)]
pub struct QueryAnalysis {
    pub diagnostics: Vec<Finding>,
    /// The result's columns; `None` when the query returns no table.
    pub columns: Option<Vec<ResultColumn>>,
}

/// One analyser diagnostic; `start` and `length` count UTF-16 code units of the query.
#[derive(Debug, serde::Deserialize)]
pub struct Finding {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub start: usize,
    pub length: usize,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ResultColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Why KQL was not analysed.
#[derive(Debug)]
pub enum NotRun {
    /// Node.js or the package is not installed: the other checks still run.
    Skipped(String),
    /// The analyser was found but did not give an answer.
    Failed(String),
}

/// Finds the package folder: the environment variable when set, otherwise
/// `node_modules/@kusto/language-service-next` in the current folder or a folder above it,
/// then beside the executable or in a folder above it.
pub fn locate(
    configured: Option<OsString>,
    current_dir: &Path,
    executable: Option<&Path>,
) -> Result<PathBuf, String> {
    if let Some(folder) = configured.filter(|value| !value.is_empty()) {
        let folder = PathBuf::from(folder);
        if folder.join(ENTRY_FILE).is_file() {
            return Ok(folder);
        }
        return Err(format!(
            "{ENV_VAR} is `{}`, which holds no {ENTRY_FILE} (it should name the {PACKAGE} \
             package folder)",
            folder.display()
        ));
    }
    let starts = std::iter::once(current_dir).chain(executable.and_then(Path::parent));
    for start in starts {
        for folder in start.ancestors() {
            let package = folder.join("node_modules").join(PACKAGE);
            if package.join(ENTRY_FILE).is_file() {
                return Ok(package);
            }
        }
    }
    Err(format!(
        "{PACKAGE} is not installed: no node_modules/{PACKAGE} in `{}`, beside the executable, \
         or in a folder above them",
        current_dir.display()
    ))
}

/// Analyses every query in one Node.js process.
pub fn analyse(package: &Path, tables: &[Table], queries: &[&str]) -> Result<Analysis, NotRun> {
    #[derive(serde::Serialize)]
    struct Input<'a> {
        tables: Vec<TableInput<'a>>,
        queries: &'a [&'a str],
    }
    #[derive(serde::Serialize)]
    struct TableInput<'a> {
        name: &'a str,
        columns: &'a [Column],
    }
    let input = Input {
        tables: tables
            .iter()
            .map(|table| TableInput {
                name: &table.name,
                columns: &table.columns,
            })
            .collect(),
        queries,
    };
    let input = serde_json::to_vec(&input).expect("the analyser input serialises");

    let started = Instant::now();
    let output = run_node(package, input)?;
    let analysis: Analysis = serde_json::from_slice(&output)
        .map_err(|error| NotRun::Failed(format!("its answer is not the expected JSON: {error}")))?;
    if analysis.results.len() != queries.len() {
        return Err(NotRun::Failed(format!(
            "it answered for {} queries out of {}",
            analysis.results.len(),
            queries.len()
        )));
    }
    tracing::info!(
        queries = queries.len(),
        version = %analysis.version,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "analysed the queries with {PACKAGE}"
    );
    Ok(analysis)
}

fn run_node(package: &Path, input: Vec<u8>) -> Result<Vec<u8>, NotRun> {
    let spawned = Command::new("node")
        .arg("-e")
        .arg(DRIVER)
        .arg("--")
        .arg(package)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(NotRun::Skipped("Node.js (`node`) is not on PATH".into()));
        }
        Err(error) => return Err(NotRun::Failed(format!("cannot start `node`: {error}"))),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from its own thread so that a large answer cannot fill the output pipe while
    // the input is still being written.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .map_err(|error| NotRun::Failed(format!("cannot read from `node`: {error}")))?;
    let written = writer.join().expect("the input writer does not panic");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_lines: Vec<&str> = stderr.lines().take(3).collect();
        return Err(NotRun::Failed(format!(
            "`node` exited with {}: {}",
            output.status,
            first_lines.join(" | ")
        )));
    }
    written.map_err(|error| NotRun::Failed(format!("cannot write to `node`: {error}")))?;
    Ok(output.stdout)
}

/// The path of the running executable, for [`locate`].
pub fn current_executable() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .map(|path| std::fs::canonicalize(&path).unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_package(root: &Path) -> PathBuf {
        let package = root.join("node_modules").join(PACKAGE);
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join(ENTRY_FILE), "").unwrap();
        package
    }

    #[test]
    fn the_variable_wins_and_a_wrong_one_is_not_second_guessed() {
        let dir = tempfile::tempdir().unwrap();
        let package = fake_package(dir.path());
        let found = locate(Some(package.clone().into()), Path::new("/"), None);
        assert_eq!(found.unwrap(), package);

        let missing = dir.path().join("nowhere");
        let error = locate(Some(missing.clone().into()), dir.path(), None).unwrap_err();
        assert!(
            error.starts_with(&format!("{ENV_VAR} is `{}`", missing.display())),
            "{error}"
        );
    }

    #[test]
    fn node_modules_is_found_above_the_current_folder_then_above_the_executable() {
        let project = tempfile::tempdir().unwrap();
        let package = fake_package(project.path());
        let nested = project.path().join("queries/guardduty");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(locate(None, &nested, None).unwrap(), package);

        let elsewhere = tempfile::tempdir().unwrap();
        let executable = project.path().join("target/debug/sentinel-kms");
        assert_eq!(
            locate(None, elsewhere.path(), Some(&executable)).unwrap(),
            package
        );
        let error = locate(None, elsewhere.path(), None).unwrap_err();
        assert!(error.contains("is not installed"), "{error}");
    }
}
