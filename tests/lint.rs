//! `lint` run as a user runs it: the corpus of broken checks in `tests/lint/`, the shipped
//! catalog, `--since` in a temporary git repository, and the analyser missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ANALYZER_VAR: &str = "SENTINEL_KMS_KUSTO_ANALYZER";

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The analyser package `npm ci` installs; the tests that analyse KQL need it.
fn analyzer_package() -> PathBuf {
    let package = repository_root().join("node_modules/@kusto/language-service-next");
    assert!(
        package.join("package.json").exists(),
        "the Kusto analyser is not installed: run the tests with `./scripts/test.sh` (npm ci)"
    );
    package
}

/// The analyser version pinned in package-lock.json.
fn pinned_analyzer_version() -> String {
    let lock = std::fs::read_to_string(repository_root().join("package-lock.json")).unwrap();
    let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
    let package = &lock["packages"]["node_modules/@kusto/language-service-next"];
    package["version"].as_str().unwrap().to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `sentinel-kms lint ARGS` in `dir` with the analyser at `analyzer` (None: unset).
fn lint_in(dir: &Path, args: &[&str], analyzer: Option<&Path>) -> Run {
    run(&mut lint_command(dir, args, analyzer))
}

fn lint_command(dir: &Path, args: &[&str], analyzer: Option<&Path>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"));
    command
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove(ANALYZER_VAR)
        .env("NO_COLOR", "1");
    if let Some(package) = analyzer {
        command.env(ANALYZER_VAR, package);
    }
    command
}

fn run(command: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn lint(args: &[&str]) -> Run {
    lint_in(&repository_root(), args, Some(&analyzer_package()))
}

const CORPUS: &[&str] = &[
    "tests/lint/bad-duration.kql",
    "tests/lint/dropped-output-column.kql",
    "tests/lint/duplicate-id",
    "tests/lint/missing-header-field.kql",
    "tests/lint/misspelt-column.kql",
    "tests/lint/syntax-error.kql",
    "tests/lint/thresholds-out-of-order.kql",
    "tests/lint/type-error.kql",
    "tests/lint/unknown-table.kql",
];

#[test]
fn each_kind_of_mistake_is_reported_at_its_line_and_column() {
    let run = lint(CORPUS);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let expected = [
        "tests/lint/bad-duration.kql:14:19: error: threshold `stale_after` = `1 day` is neither a \
         timespan (such as `30m`, `6h`, `14d`) nor a number [catalog]",
        "tests/lint/bad-duration.kql:14:21: error: Expected: ; [KS005]",
        "tests/lint/bad-duration.kql:14:21: error: The name 'day' does not refer to any known \
         column, table, variable or function. [KS142]",
        "tests/lint/dropped-output-column.kql:10:69: error: `columns` names column \
         `IngestionLag`, but the query's result has no such column (it has: AccountId, Region, \
         Rows, LastArrival, SinceLastArrival) [output-column]",
        "tests/lint/duplicate-id/second.kql:1:8: error: check id `lint-duplicate-id` is already \
         used by `tests/lint/duplicate-id/first.kql` [catalog]",
        "tests/lint/missing-header-field.kql:1:1: error: header has no `title:` line [catalog]",
        "tests/lint/misspelt-column.kql:18:19: error: The name 'Regoin' does not refer to any \
         known column, table, variable or function. [KS142]",
        "tests/lint/syntax-error.kql:16:37: error: Expected: ) [KS005]",
        "tests/lint/thresholds-out-of-order.kql:12:19: error: threshold `lag_warning` must not be \
         larger than `lag_failure` [catalog]",
        "tests/lint/type-error.kql:17:18: error: The operator '>' is not defined for the operand \
         types int and string. [KS106]",
        "tests/lint/unknown-table.kql:15:1: error: The name 'AWSGuardDutyFindings' does not \
         refer to any known table, tabular variable or function. [KS204]",
        &format!(
            "lint: 10 check files, 11 errors; KQL analysed with @kusto/language-service-next {}",
            pinned_analyzer_version()
        ),
    ];
    assert_eq!(run.lines(), expected);
}

#[test]
fn the_shipped_catalog_lints_clean_and_produces_every_column_it_declares() {
    let run = lint(&["queries"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let summary = run.lines().last().unwrap().to_string();
    let clean = format!(
        ", no problems; KQL analysed with @kusto/language-service-next {}",
        pinned_analyzer_version()
    );
    assert!(
        run.lines().len() == 1 && summary.starts_with("lint: ") && summary.ends_with(&clean),
        "{}",
        run.stdout
    );

    let document = lint(&["queries", "--format", "json"]).json();
    assert_eq!(document["analyzer"]["status"], "ran");
    assert_eq!(document["diagnostics"], serde_json::json!([]));
    let checks = document["checks"].as_array().unwrap();
    for check in checks {
        let columns = check["result_columns"].as_array();
        assert!(columns.is_some_and(|c| !c.is_empty()), "{check}");
    }
    let freshness = checks
        .iter()
        .find(|c| c["id"] == "guardduty-freshness")
        .expect("the freshness check is linted");
    let columns: Vec<(&str, &str)> = freshness["result_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    // What the freshness classifier reads, with the types the analyser derived.
    for expected in [
        ("AccountId", "string"),
        ("Region", "string"),
        ("Rows", "long"),
        ("LastArrival", "datetime"),
        ("SinceLastArrival", "timespan"),
        ("IngestionLag", "timespan"),
    ] {
        assert!(
            columns.contains(&expected),
            "{expected:?} not in {columns:?}"
        );
    }
}

#[test]
fn json_gives_each_diagnostic_with_its_position_and_the_result_schema() {
    let run = lint(&[
        "tests/lint/misspelt-column.kql",
        "tests/lint/dropped-output-column.kql",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document = run.json();
    assert_eq!(
        document["diagnostics"][1],
        serde_json::json!({
            "file": "tests/lint/misspelt-column.kql",
            "line": 18,
            "column": 19,
            "severity": "error",
            "code": "KS142",
            "message": "The name 'Regoin' does not refer to any known column, table, variable or \
                        function."
        })
    );
    assert_eq!(document["diagnostics"][0]["code"], "output-column");
    assert_eq!(document["summary"]["errors"], 2);
    assert_eq!(document["summary"]["exit_code"], 1);
    let dropped = &document["checks"][0];
    assert_eq!(dropped["id"], "lint-dropped-output-column");
    let names: Vec<&str> = dropped["result_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "AccountId",
            "Region",
            "Rows",
            "LastArrival",
            "SinceLastArrival"
        ]
    );
}

#[test]
fn without_the_analyser_the_other_checks_run_and_the_skip_is_said_once() {
    let missing = tempfile::tempdir().unwrap().path().join("not-installed");
    let root = repository_root();
    let run = lint_in(&root, CORPUS, Some(&missing));
    assert_eq!(run.code, 1, "{}", run.stdout);
    let findings: Vec<&str> = run.lines()[..run.lines().len() - 1].to_vec();
    assert_eq!(
        findings,
        [
            "tests/lint/bad-duration.kql:14:19: error: threshold `stale_after` = `1 day` is \
             neither a timespan (such as `30m`, `6h`, `14d`) nor a number [catalog]",
            "tests/lint/duplicate-id/second.kql:1:8: error: check id `lint-duplicate-id` is \
             already used by `tests/lint/duplicate-id/first.kql` [catalog]",
            "tests/lint/missing-header-field.kql:1:1: error: header has no `title:` line [catalog]",
            "tests/lint/thresholds-out-of-order.kql:12:19: error: threshold `lag_warning` must not \
             be larger than `lag_failure` [catalog]",
        ]
    );
    let summary = run.lines().last().unwrap().to_string();
    assert_eq!(
        summary,
        format!(
            "lint: 10 check files, 4 errors; KQL analysis skipped: SENTINEL_KMS_KUSTO_ANALYZER is \
             `{}`, which holds no Kusto.Language.Bridge.min.js (it should name the \
             @kusto/language-service-next package folder); to enable it, install Node.js 20 and \
             run `npm ci` at the repository root (scripts/env.sh does), or set \
             SENTINEL_KMS_KUSTO_ANALYZER to the package's folder",
            missing.display()
        )
    );
    assert_eq!(run.stderr, "");

    // A clean catalog is not called clean without saying that KQL was not analysed.
    let clean = lint_in(&root, &["queries"], Some(&missing));
    assert_eq!(clean.code, 0);
    assert_eq!(
        clean.stdout.matches("KQL analysis skipped").count(),
        1,
        "{}",
        clean.stdout
    );
    assert!(
        clean
            .stdout
            .contains(", no problems; KQL analysis skipped: "),
        "{}",
        clean.stdout
    );

    let json = lint_in(&root, &["queries", "--format", "json"], Some(&missing));
    assert_eq!(json.code, 0);
    assert_eq!(json.json()["analyzer"]["status"], "skipped");
    assert_eq!(
        json.stderr.matches("KQL analysis skipped").count(),
        1,
        "{}",
        json.stderr
    );

    let required = lint_in(&root, &["queries", "--require-analyzer"], Some(&missing));
    assert_eq!(required.code, 2, "{}", required.stdout);
}

#[test]
fn without_node_or_with_a_broken_package_the_run_says_so() {
    let root = repository_root();
    let mut without_node = lint_command(&root, &["queries"], Some(&analyzer_package()));
    let no_node = run(without_node.env("PATH", "/nonexistent"));
    assert_eq!(no_node.code, 0, "{}", no_node.stderr);
    assert!(
        no_node
            .stdout
            .contains("; KQL analysis skipped: Node.js (`node`) is not on PATH; to enable"),
        "{}",
        no_node.stdout
    );

    // A folder that looks like the package but cannot be loaded: the analyser fails (exit 3)
    // unless something else is wrong (exit 1).
    let fake = tempfile::tempdir().unwrap();
    std::fs::write(fake.path().join("Kusto.Language.Bridge.min.js"), "").unwrap();
    let failed = lint_in(&root, &["queries"], Some(fake.path()));
    assert_eq!(failed.code, 3, "{}", failed.stdout);
    assert!(
        failed
            .stdout
            .contains("; KQL analysis failed: `node` exited with"),
        "{}",
        failed.stdout
    );
    assert!(failed.stdout.contains("bridge.min.js"), "{}", failed.stdout);
    let with_findings = lint_in(
        &root,
        &["tests/lint/missing-header-field.kql"],
        Some(fake.path()),
    );
    assert_eq!(with_findings.code, 1, "{}", with_findings.stdout);
}

#[test]
fn the_analyser_is_found_above_the_executable_from_any_folder() {
    analyzer_package();
    let elsewhere = tempfile::tempdir().unwrap();
    let queries = repository_root().join("queries");
    let run = lint_in(elsewhere.path(), &[queries.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("no problems; KQL analysed with @kusto/language-service-next"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_schemas_folder_declares_tables_the_built_in_schemas_lack() {
    let dir = tempfile::tempdir().unwrap();
    let check = std::fs::read_to_string(repository_root().join("tests/lint/misspelt-column.kql"))
        .unwrap()
        .replace("Regoin", "Region")
        .replace("AWSGuardDuty\n|", "KmsGrants_CL\n|");
    std::fs::write(dir.path().join("custom.kql"), check).unwrap();
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    let table = r#"{"Name": "KmsGrants_CL", "Properties": [
        {"name": "AccountId", "type": "string"}, {"name": "Region", "type": "string"}]}"#;
    std::fs::write(schemas.join("KmsGrants_CL.json"), table).unwrap();
    let path = dir.path().join("custom.kql");
    let path = path.to_str().unwrap();

    let without = lint(&[path]);
    assert_eq!(without.code, 1);
    assert!(
        without
            .stdout
            .contains(":15:1: error: The name 'KmsGrants_CL' does not refer"),
        "{}",
        without.stdout
    );
    // TimeGenerated comes from the standard columns every table has.
    let with = lint(&[path, "--schemas", schemas.to_str().unwrap()]);
    assert_eq!(with.code, 0, "{}", with.stdout);
}

#[test]
fn bad_paths_and_schemas_are_usage_errors() {
    let run = lint(&["no/such/folder"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`no/such/folder` does not exist"),
        "{}",
        run.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"Name\": \"T\",").unwrap();
    let run = lint(&["queries", "--schemas", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.json"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=Lint Test",
            "-c",
            "user.email=lint@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn since_a_revision_changed_checks_need_a_new_version_and_ids_are_permanent() {
    let repo = tempfile::tempdir().unwrap();
    let queries = repo.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    let corpus = repository_root().join("tests/lint/version-not-bumped");
    let before = std::fs::read_to_string(corpus.join("before.kql")).unwrap();
    let after = std::fs::read_to_string(corpus.join("after.kql")).unwrap();
    let with_id = |text: &str, id: &str| text.replace("lint-version-not-bumped", id);
    let write = |name: &str, text: &str| std::fs::write(queries.join(name), text).unwrap();
    write("changed.kql", &before);
    write("renamed.kql", &with_id(&before, "old-name"));
    write("removed.kql", &with_id(&before, "removed"));
    write("reworded.kql", &with_id(&before, "reworded"));
    write("raised.kql", &with_id(&before, "raised"));
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "checks"]);

    write("changed.kql", &after);
    write("renamed.kql", &with_id(&before, "new-name"));
    std::fs::remove_file(queries.join("removed.kql")).unwrap();
    let reworded = before.replace("// title: Changes its query", "// title: Edits its query");
    write("reworded.kql", &with_id(&reworded, "reworded"));
    let raised = after.replace("// version: 1.0.0", "// version: 1.1.0");
    write("raised.kql", &with_id(&raised, "raised"));

    let run = lint_in(repo.path(), &["--since", "HEAD"], Some(&analyzer_package()));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.lines()[..3],
        [
            "queries/changed.kql:2:13: error: threshold `lag_warning` changed since `HEAD` but the \
             version is still 1.0.0: raise it [version]",
            "queries/removed.kql: warning: check `removed` existed at `HEAD` and is no longer in \
             the catalog [id-removed]",
            "queries/renamed.kql:1:8: error: check id changed from `old-name` at `HEAD` to \
             `new-name`: an id is permanent (results and rules are keyed by it); restore it, or \
             add the new check beside the old one [id-changed]",
        ]
    );
    assert!(
        run.lines()[3].starts_with("lint: 4 check files, 2 errors, 1 warning; KQL analysed"),
        "{}",
        run.stdout
    );

    let unknown = lint_in(repo.path(), &["--since", "no-such-branch"], None);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("`--since no-such-branch`: no such commit in the git repository"),
        "{}",
        unknown.stderr
    );
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("a.kql"), &before).unwrap();
    let not_a_repository = lint_in(outside.path(), &[".", "--since", "HEAD"], None);
    assert_eq!(not_a_repository.code, 2);
    assert!(
        not_a_repository
            .stderr
            .contains("`--since` needs the checks in a git repository"),
        "{}",
        not_a_repository.stderr
    );
}
