//! `build` run as a user runs it: the pack from the shipped catalog, validated against the
//! published schemas with a JSON Schema validator, every query through Microsoft's Kusto
//! analyser, snapshots of one rule and the workbook, two builds compared, and refusals.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `sentinel-kms build ARGS` in the repository, where the analyser is installed.
fn build(args: &[&str]) -> Run {
    run_build(args, true)
}

/// `build` for tests about the files, not the queries: the analyser (seconds per run) is
/// pointed at a folder without it, so the build skips it.
fn build_unanalysed(args: &[&str]) -> Run {
    run_build(args, false)
}

fn run_build(args: &[&str], analyse: bool) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"));
    command
        .arg("build")
        .args(args)
        .current_dir(repository_root())
        .env_remove("RUST_LOG")
        .env_remove("SENTINEL_KMS_QUERIES")
        .env_remove("SENTINEL_KMS_KUSTO_ANALYZER")
        .env("NO_COLOR", "1");
    if !analyse {
        command.env(
            "SENTINEL_KMS_KUSTO_ANALYZER",
            repository_root().join("tests/content"),
        );
    }
    let output = command.output().expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The pack of the shipped catalog, built once for the tests that only read it.
fn shipped_pack() -> &'static BTreeMap<String, Vec<u8>> {
    static PACK: std::sync::OnceLock<BTreeMap<String, Vec<u8>>> = std::sync::OnceLock::new();
    PACK.get_or_init(|| built_pack().1)
}

/// Builds the shipped catalog into a fresh folder; the folder and the pack's files by path.
fn built_pack() -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let run = build(&["--out", out.to_str().unwrap(), "--require-analyzer"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let files = read_tree(&out);
    (dir, files)
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in walkdir(root) {
        let relative = entry
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        files.insert(relative, std::fs::read(&entry).unwrap());
    }
    files
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walkdir(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn json(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    let bytes = files
        .get(path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", files.keys()));
    serde_json::from_slice(bytes).unwrap()
}

fn validator(file: &str, draft: jsonschema::Draft) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repository_root().join("schemas/content").join(file));
    let schema: Value = serde_json::from_str(&text.unwrap()).unwrap();
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// What ARM hands the API: a string that starts with `[[` and ends with `]` loses one `[`.
fn unescaped(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(match text.strip_prefix('[') {
            Some(rest) if rest.starts_with('[') && text.ends_with(']') => rest.to_string(),
            _ => text.clone(),
        }),
        Value::Array(items) => Value::Array(items.iter().map(unescaped).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), unescaped(v))).collect())
        }
        other => other.clone(),
    }
}

const RULES: &[&str] = &[
    "cloudtrail-freshness",
    "connector-health-failures",
    "connector-health-freshness",
    "guardduty-freshness",
    "kms-decrypt-denied",
    "kms-key-changes",
];

#[test]
fn the_shipped_catalog_builds_and_every_rule_and_the_workbook_match_the_published_schemas() {
    let files = shipped_pack();
    let mut expected: Vec<String> = RULES
        .iter()
        .map(|id| format!("arm/{id}-rule.json"))
        .collect();
    expected.extend([
        "arm/pipeline-health-workbook.json".to_string(),
        "gallery/pipeline-health.json".to_string(),
        "import/sentinel-kms-rules-1.json".to_string(),
        ".sentinel-kms-pack".to_string(),
    ]);
    expected.sort();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), expected);

    let rules = validator("alert-rule.schema.json", jsonschema::Draft::Draft202012);
    let import = json(files, "import/sentinel-kms-rules-1.json");
    let imported = import["resources"].as_array().unwrap();
    assert_eq!(imported.len(), RULES.len());
    for (id, in_import) in RULES.iter().zip(imported) {
        let template = json(files, &format!("arm/{id}-rule.json"));
        assert_eq!(
            template["$schema"],
            "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
        );
        assert_eq!(template["parameters"]["workspace"]["type"], "String");
        let resource = &template["resources"][0];
        assert_eq!(
            resource, in_import,
            "{id}: the import file holds the same rule"
        );
        assert_eq!(
            resource["type"],
            "Microsoft.OperationalInsights/workspaces/providers/alertRules"
        );
        assert_eq!(resource["kind"], "Scheduled");
        assert_eq!(resource["apiVersion"], "2025-09-01");
        let name = resource["name"].as_str().unwrap();
        let guid = name
            .strip_prefix("[concat(parameters('workspace'),'/Microsoft.SecurityInsights/")
            .and_then(|rest| rest.strip_suffix("')]"))
            .unwrap();
        assert_eq!(uuid::Uuid::try_parse(guid).unwrap().get_version_num(), 5);

        let deployed = unescaped(resource);
        let errors: Vec<String> = rules
            .iter_errors(&deployed)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{id}: {errors:?}");
        assert!(deployed["properties"]["query"].as_str().unwrap().len() <= 10_000);
    }

    let workbook_schema = validator("workbook.schema.json", jsonschema::Draft::Draft7);
    let gallery = json(files, "gallery/pipeline-health.json");
    let errors: Vec<String> = (workbook_schema.iter_errors(&gallery))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(gallery["version"], "Notebook/1.0");

    let template = json(files, "arm/pipeline-health-workbook.json");
    let resource = &template["resources"][0];
    assert_eq!(resource["type"], "Microsoft.Insights/workbooks");
    assert_eq!(resource["kind"], "shared");
    assert_eq!(resource["properties"]["category"], "sentinel");
    assert_eq!(
        resource["properties"]["sourceId"],
        "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspace'))]"
    );
    let guid = uuid::Uuid::try_parse(resource["name"].as_str().unwrap()).unwrap();
    assert_eq!(guid.get_version_num(), 5);
    let serialized = resource["properties"]["serializedData"].as_str().unwrap();
    let embedded: Value = serde_json::from_str(serialized).unwrap();
    assert_eq!(embedded, gallery, "the template carries the gallery JSON");
}

/// Every KQL text of the pack: the rule queries, and each Log Analytics query of the workbook.
fn pack_queries(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    let import = json(files, "import/sentinel-kms-rules-1.json");
    for resource in import["resources"].as_array().unwrap() {
        let properties = unescaped(&resource["properties"]);
        queries.push((
            properties["displayName"].as_str().unwrap().to_string(),
            properties["query"].as_str().unwrap().to_string(),
        ));
    }
    fn steps(value: &Value, queries: &mut Vec<(String, String)>) {
        for item in value["items"].as_array().into_iter().flatten() {
            if item["type"] == 3 {
                let name = item["name"].as_str().unwrap().to_string();
                queries.push((name, item["content"]["query"].as_str().unwrap().to_string()));
            }
            steps(&item["content"], queries);
        }
    }
    steps(&json(files, "gallery/pipeline-health.json"), &mut queries);
    queries
}

#[test]
fn every_query_of_the_pack_passes_the_kusto_analyser() {
    let queries = pack_queries(shipped_pack());
    // 6 rules; the workbook's status steps (one per check) and its 3 charts.
    assert_eq!(
        queries.len(),
        6 + 8 + 3,
        "{:?}",
        queries.iter().map(|q| &q.0).collect::<Vec<_>>()
    );
    let tables = sentinel_kms::lint::schema::load(None).unwrap();
    let texts: Vec<(&Path, &str)> = (queries.iter())
        .map(|(_, query)| (Path::new("pack"), query.as_str()))
        .collect();
    let (status, analysis) = sentinel_kms::lint::analyse(&tables, &texts);
    let analysis = analysis.unwrap_or_else(|| panic!("the analyser did not run: {status:?}"));
    for ((what, query), result) in queries.iter().zip(&analysis.results) {
        let errors: Vec<_> = (result.diagnostics.iter())
            .filter(|d| d.severity == "Error")
            .map(|d| format!("{} [{}] at {}", d.message, d.code, d.start))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:?}\n{query}");
        assert!(result.columns.is_some(), "{what} returns a table");
    }
}

#[test]
fn two_builds_of_one_catalog_are_byte_identical() {
    let first = shipped_pack();
    let dir = tempfile::tempdir().unwrap();
    let run = build_unanalysed(&["--out", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("KQL analysis skipped"),
        "{}",
        run.stderr
    );
    let second = read_tree(dir.path());
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in first {
        assert!(bytes == &second[path], "{path} differs between builds");
    }
}

/// Compares `actual` with the snapshot `name` under tests/content/snapshots; with
/// `SENTINEL_KMS_UPDATE_SNAPSHOTS=1`, writes it instead.
fn assert_snapshot(name: &str, actual: &[u8]) {
    let path = repository_root().join("tests/content/snapshots").join(name);
    if std::env::var_os("SENTINEL_KMS_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_default();
    if expected != actual {
        let (expected, actual) = (
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        );
        let first = (expected.lines().zip(actual.lines()))
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot from line {}:\n  snapshot: {:?}\n  built:    {:?}\n\
             (run with SENTINEL_KMS_UPDATE_SNAPSHOTS=1 to accept the new output)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn one_rule_and_the_workbook_match_their_snapshots() {
    let files = shipped_pack();
    assert_snapshot(
        "guardduty-freshness-rule.json",
        &files["arm/guardduty-freshness-rule.json"],
    );
    assert_snapshot(
        "pipeline-health.json",
        &files["gallery/pipeline-health.json"],
    );
}

/// `build --queries CATALOG --out OUT`, without the analyser.
fn build_catalog(catalog: &Path, out: &Path) -> Run {
    build_unanalysed(&[
        "--queries",
        catalog.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The shipped catalog copied into a folder, with `edit` applied to one file's text.
fn edited_catalog(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = repository_root().join("queries");
    for entry in walkdir(&source) {
        let relative = entry.strip_prefix(&source).unwrap();
        let target = dir.path().join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        let text = if relative == Path::new(file) {
            edit(&text)
        } else {
            text
        };
        std::fs::write(target, text).unwrap();
    }
    dir
}

#[test]
fn a_pack_sentinel_would_refuse_is_not_written_and_the_previous_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    assert_eq!(build_unanalysed(&["--out", out.to_str().unwrap()]).code, 0);
    let before = read_tree(&out);
    let catalog = edited_catalog("cloudtrail/kms-decrypt-denied.kql", |text| {
        text.replace("// rule.frequency: 1h", "// rule.frequency: 30m")
    });
    let run = build_catalog(catalog.path(), &out);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("check `kms-decrypt-denied`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "rule queryFrequency (header `rule.frequency`): a rule that looks back 3d must run at \
             most once an hour, not every 30m"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(read_tree(&out), before, "the previous pack is untouched");

    let foreign = dir.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), "mine").unwrap();
    let run = build_unanalysed(&["--out", foreign.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("holds no content pack written by sentinel-kms"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("todo.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn strings_that_arm_would_evaluate_are_escaped() {
    let catalog = edited_catalog("health/connector-failures.kql", |text| {
        text.replace(
            "// title: The AWS S3 connector reports fetch failures",
            "// title: [prod] The AWS S3 connector reports fetch failures [all]",
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let run = build_catalog(catalog.path(), &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let template: Value = serde_json::from_slice(
        &std::fs::read(out.join("arm/connector-health-failures-rule.json")).unwrap(),
    )
    .unwrap();
    let properties = &template["resources"][0]["properties"];
    assert_eq!(
        properties["displayName"],
        "[[prod] The AWS S3 connector reports fetch failures [all]"
    );
    assert!(
        properties["query"]
            .as_str()
            .unwrap()
            .starts_with("// [prod] The AWS S3 connector reports fetch failures [all]"),
        "a string that only contains a bracket later is left alone"
    );
}
