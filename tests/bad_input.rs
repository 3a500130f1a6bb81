//! Bad input: malformed check files, invalid UTF-8, oversized files, huge folders, duplicate ids,
//! symbolic link loops, unreadable files, bad config files, ARNs, durations and GUIDs. Each is a
//! clear error naming the file and line (or the value), exit code 2 as the README documents, no
//! panic, and nothing on stdout. Large inputs are generated at test time, never committed.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{LocalWorkspace, RunResult, WORKSPACE, sentinel_kms};

fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("queries")
            .join(name),
    )
    .unwrap()
}

/// A valid freshness check with its own id.
/// The 1-based number of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"))
        + 1
}

fn valid_check(id: &str) -> String {
    shipped("guardduty/freshness.kql")
        .replace("// id: guardduty-freshness", &format!("// id: {id}"))
}

/// What follows `prefix` on the line that starts with it.
fn line_of_value(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?}"))
        .to_string()
}

fn list(dir: &Path) -> RunResult {
    sentinel_kms(&[
        "list",
        "--queries",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ])
}

/// Exit 2, no panic, nothing on stdout, and each expected text on stderr.
fn assert_refused(run: &RunResult, expected: &[String]) {
    assert_eq!(
        run.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    for text in expected {
        assert!(
            run.stderr.contains(text.as_str()),
            "{text:?} not in\n{}",
            run.stderr
        );
    }
}

fn at(path: &Path, line: usize, message: &str) -> String {
    format!("{}:{line}: {message}", path.display())
}

#[test]
fn malformed_headers_are_each_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let good = valid_check("fine");
    let unknown = file(
        "unknown-key.kql",
        &good.replacen("// severity: high", "// severity: high\n// colour: red", 1),
    );
    let no_colon = file(
        "no-colon.kql",
        &valid_check("no-colon").replacen("// severity: high", "// severity high", 1),
    );
    let repeated = file(
        "repeated.kql",
        &valid_check("repeated").replacen(
            "// severity: high",
            "// severity: high\n// severity: low",
            1,
        ),
    );
    let dangling = file(
        "dangling.kql",
        &format!("//   continues nothing\n{}", valid_check("dangling")),
    );
    let missing = file(
        "missing.kql",
        &valid_check("missing").replacen("// severity: high\n", "", 1),
    );
    let bad_values = file(
        "bad-values.kql",
        &valid_check("Bad Id")
            .replacen(
                &format!(
                    "// version: {}",
                    line_of_value(&valid_check("x"), "// version: ")
                ),
                "// version: one",
                1,
            )
            .replacen("// severity: high", "// severity: urgent", 1)
            .replacen(
                "// classifier: freshness",
                "// classifier: freshness\n// when-missing: shrug",
                1,
            ),
    );
    let no_let = file(
        "no-let.kql",
        &valid_check("no-let").replacen("let lag_warning = 1h;\n", "", 1),
    );
    let no_query = file(
        "no-query.kql",
        "// id: no-query\n// version: 1.0.0\n// title: t\n// description: d\n// tables: T\n\
         // severity: low\n// classifier: events\n// thresholds: lookback\n\
         // columns: Events, FirstSeen, LastSeen\n// finding: x\n// finding-message: m\n",
    );
    let empty = file("empty.kql", "");
    let run = list(dir.path());
    assert_refused(
        &run,
        &[
            at(&unknown, 13, "unknown header key `colour`"),
            at(
                &no_colon,
                12,
                "header line `// severity high` is not `key: value`",
            ),
            at(&repeated, 13, "header key `severity` repeats line 12"),
            at(&dangling, 1, "an indented header line continues nothing"),
            at(&missing, 1, "header has no `severity:` line"),
            at(&bad_values, 1, "id `Bad Id` must be kebab-case"),
            at(&bad_values, 2, "version `one` is not semantic versioning"),
            at(&bad_values, 12, "severity `urgent` is not one of"),
            at(
                &bad_values,
                14,
                "when-missing `shrug` is not one of fail, warn, blind",
            ),
            at(
                &no_let,
                line_of(&good, "// thresholds:"),
                "threshold `lag_warning` has no `let lag_warning = …;` line",
            ),
            at(&no_query, 12, "the file has a header but no query"),
            at(&empty, 1, "header has no `id:` line"),
        ],
    );
    // The valid file beside them is not blamed.
    assert!(!run.stderr.contains("fine.kql"), "{}", run.stderr);
}

#[test]
fn line_endings_and_a_byte_order_mark_do_not_break_a_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crlf.kql"),
        valid_check("crlf").replace('\n', "\r\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bom.kql"),
        format!("\u{feff}{}", valid_check("bom")),
    )
    .unwrap();
    let run = list(dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let document = run.json();
    let ids: Vec<&str> = document["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bom", "crlf"]);
    assert_eq!(document["checks"][1]["thresholds"]["lag_failure"], "6h");
}

#[test]
fn invalid_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.kql");
    let mut bytes = b"// id: latin1\n// version: 1.0.0\n// title: caf".to_vec();
    bytes.push(0xe9); // `é` in Latin-1, not UTF-8
    bytes.extend_from_slice(b"\nT\n");
    std::fs::write(&path, bytes).unwrap();
    assert_refused(
        &list(dir.path()),
        &[at(&path, 3, "the file is not valid UTF-8")],
    );
}

#[test]
fn a_10_mb_file_is_refused_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.kql");
    let mut text = valid_check("huge");
    let filler = "// ".to_string() + &"x".repeat(1021) + "\n";
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(&filler);
    }
    std::fs::write(&path, &text).unwrap();
    let started = Instant::now();
    let run = list(dir.path());
    assert_refused(
        &run,
        &[format!(
            "{}: file is {} bytes; a check file may be at most 1048576",
            path.display(),
            text.len()
        )],
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_query_of_20000_characters_runs() {
    // No length limit is documented for the query text, which goes in a POST body: a long query
    // is sent whole and evaluated.
    let regions: Vec<String> = (0..2000).map(|i| format!("\"xx-test-{i:04}\"")).collect();
    let text = valid_check("long-query").replace(
        "| where ArrivedAt > ago(lookback)",
        &format!(
            "| where ArrivedAt > ago(lookback)\n| where Region !in ({})",
            regions.join(", ")
        ),
    );
    let query_chars = text
        .lines()
        .skip_while(|l| l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
        .chars()
        .count();
    assert!(query_chars >= 20_000, "{query_chars}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("long.kql"), &text).unwrap();
    let workspace = LocalWorkspace::start("healthy");
    let run = common::validate(&workspace, &["--queries", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts.iter().all(|(_, status, _)| status == "healthy"));
}

#[test]
fn a_folder_of_5000_checks_loads_and_one_bad_file_among_them_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let template = valid_check("ID");
    for i in 0..5000 {
        let folder = dir.path().join(format!("group-{:02}", i % 50));
        std::fs::create_dir_all(&folder).unwrap();
        let id = format!("check-{i:04}");
        std::fs::write(
            folder.join(format!("{id}.kql")),
            template.replace("// id: ID", &format!("// id: {id}")),
        )
        .unwrap();
    }
    let started = Instant::now();
    let run = list(dir.path());
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["checks"].as_array().unwrap().len(), 5000);
    println!("5000 checks listed in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");

    let broken = dir.path().join("group-07/check-0007.kql");
    std::fs::write(
        &broken,
        template.replace("// id: ID", "// id: check-0007\n// id: again"),
    )
    .unwrap();
    let run = list(dir.path());
    assert_refused(&run, &[at(&broken, 2, "header key `id` repeats line 1")]);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn duplicate_ids_across_folders_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["a", "b"] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        std::fs::write(
            dir.path().join(folder).join("check.kql"),
            valid_check("twice"),
        )
        .unwrap();
    }
    let first = dir.path().join("a/check.kql");
    let second = dir.path().join("b/check.kql");
    assert_refused(
        &list(dir.path()),
        &[at(
            &second,
            1,
            &format!("check id `twice` is already used by `{}`", first.display()),
        )],
    );
}

#[cfg(unix)]
#[test]
fn symbolic_link_loops_and_dangling_links_are_reported() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("real.kql"), valid_check("real")).unwrap();
    // A folder that contains itself, two files that point at each other, a link to nothing.
    symlink(dir.path(), dir.path().join("again")).unwrap();
    symlink(dir.path().join("b.kql"), dir.path().join("a.kql")).unwrap();
    symlink(dir.path().join("a.kql"), dir.path().join("b.kql")).unwrap();
    symlink(
        dir.path().join("nowhere.kql"),
        dir.path().join("dangling.kql"),
    )
    .unwrap();
    let started = Instant::now();
    let run = list(dir.path());
    assert_refused(
        &run,
        &[
            format!(
                "{}: cannot read: symbolic link loop",
                dir.path().join("again").display()
            ),
            format!("{}: cannot read:", dir.path().join("a.kql").display()),
            format!(
                "{}: cannot read:",
                dir.path().join("dangling.kql").display()
            ),
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_folders_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("locked.kql");
    std::fs::write(&file, valid_check("locked")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let folder = dir.path().join("closed");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("inside.kql"), valid_check("inside")).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o000)).unwrap();

    // Permission bits do not bind a process that may override them (root, CAP_DAC_OVERRIDE).
    // Then the run is repeated as the unprivileged user `nobody` when `setpriv` can switch to it;
    // failing that, the files are readable and loading them is the right outcome.
    let privileged = std::fs::read(&file).is_ok();
    let run = if privileged {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        as_nobody(&["list", "--queries", dir.path().to_str().unwrap()])
    } else {
        Some(list(dir.path()))
    };
    match run {
        Some(run) => assert_refused(
            &run,
            &[
                format!("{}: cannot read: Permission denied", file.display()),
                format!("{}: cannot read: Permission denied", folder.display()),
            ],
        ),
        None => {
            println!("cannot drop the power to read mode-000 files: they load");
            let run = list(dir.path());
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert_eq!(run.json()["checks"].as_array().unwrap().len(), 2);
        }
    }
    for path in [&file, &folder] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Runs the binary as the user `nobody` (uid 65534) through `setpriv`; `None` when that is not
/// possible here.
#[cfg(unix)]
fn as_nobody(args: &[&str]) -> Option<RunResult> {
    let started = Instant::now();
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_sentinel-kms"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // setpriv's own failure (no such program, not permitted) is not the tool's answer.
    if stderr.starts_with("setpriv:") {
        return None;
    }
    Some(RunResult {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
        elapsed: started.elapsed(),
    })
}

#[test]
fn bad_config_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sentinel-kms.toml");
    let run_with = |text: &[u8]| {
        std::fs::write(&config, text).unwrap();
        sentinel_kms(&[
            "validate",
            "--config",
            config.to_str().unwrap(),
            "--endpoint",
            "http://127.0.0.1:9",
            "--auth",
            "access-token",
        ])
    };
    let workspace = "[[workspace]]\nid = \"00000000-0000-0000-0000-000000000001\"\n";
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            b"expect = [\"111122223333/eu-west-1\"\n".to_vec(),
            at(&config, 1, ""),
        ),
        (
            format!("{workspace}colour = \"red\"\n").into_bytes(),
            at(&config, 3, "unknown field `colour`"),
        ),
        (
            format!("{workspace}expect = \"111122223333/eu-west-1\"\n").into_bytes(),
            at(&config, 3, "invalid type: string"),
        ),
        (
            b"# workspaces\n\n[[workspace]]\nid = \"contoso-prod\"\n".to_vec(),
            at(&config, 4, "workspace id `contoso-prod` is not a GUID"),
        ),
        (
            format!(
                "{workspace}expect = [\n  \"111122223333/eu-west-1\",\n  \"12345/eu-west-1\",\n]\n"
            )
            .into_bytes(),
            at(
                &config,
                5,
                "expected group `12345/eu-west-1`: the account `12345` is not a 12-digit",
            ),
        ),
        (
            [workspace.as_bytes(), b"name = \"Caf\xe9\"\n"].concat(),
            at(&config, 3, "the config file is not valid UTF-8"),
        ),
    ];
    for (text, expected) in cases {
        let run = run_with(&text);
        assert_refused(&run, &[expected]);
    }

    let missing = dir.path().join("absent.toml");
    let run = sentinel_kms(&["validate", "--config", missing.to_str().unwrap()]);
    assert_refused(
        &run,
        &[format!("cannot read config `{}`", missing.display())],
    );
    let run = sentinel_kms(&["validate", "--config", dir.path().to_str().unwrap()]);
    assert_refused(
        &run,
        &[format!("cannot read config `{}`", dir.path().display())],
    );
}

#[test]
fn bad_durations_are_refused_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.kql");
    std::fs::write(
        &path,
        valid_check("durations")
            .replace("let lag_warning = 1h;", "let lag_warning = 1 hour;")
            .replace("let stale_after = 6h;", "let stale_after = 200000d;"),
    )
    .unwrap();
    assert_refused(
        &list(dir.path()),
        &[
            at(
                &path,
                line_of(&valid_check("durations"), "let lag_warning = 1h;"),
                "threshold `lag_warning` = `1 hour` is neither a timespan",
            ),
            at(
                &path,
                line_of(&valid_check("durations"), "let stale_after = 6h;"),
                "threshold `stale_after` = `200000d` is neither a timespan",
            ),
        ],
    );

    let base = [
        "validate",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        "http://127.0.0.1:9",
        "--auth",
        "access-token",
    ];
    for (extra, expected) in [
        (["--set", "lookback=-1d"], "`-1d` is neither a KQL timespan"),
        (
            ["--set", "lookback=1e3s"],
            "`1e3s` is neither a KQL timespan",
        ),
        (
            ["--set", "lookback=200000d"],
            "`200000d` is neither a KQL timespan",
        ),
        (
            ["--set", "lookback=0s"],
            "threshold `lookback` must be above zero",
        ),
        (["--wait", "0"], "0 is not in 1..=600"),
        (
            ["--wait", "soon"],
            "invalid value 'soon' for '--wait <SECONDS>'",
        ),
    ] {
        let args = [&base[..], &extra[..]].concat();
        assert_refused(&sentinel_kms(&args), &[expected.to_string()]);
    }
}

#[test]
fn bad_guids_and_arns_name_the_value() {
    for (value, expected) in [
        ("contoso-prod", "`contoso-prod` is not a workspace ID"),
        (
            "00000000-0000-0000-0000-00000000000g",
            "`00000000-0000-0000-0000-00000000000g` is not a workspace ID",
        ),
        ("", "`` is not a workspace ID"),
        (
            "/subscriptions/x/resourceGroups/y/providers/Microsoft.OperationalInsights/workspaces/z",
            "not its name or resource ID",
        ),
    ] {
        let run = sentinel_kms(&["validate", "--workspace", value]);
        assert_refused(&run, &[expected.to_string()]);
    }

    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    for (role, key, expected) in [
        ("not-an-arn", key, "an ARN starts with `arn:`"),
        (
            "arn:aws:iam::12345:role/R",
            key,
            "the account `12345` is not a 12-digit AWS account ID",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/R/session",
            key,
            "it names a session of the role",
        ),
        (
            "arn:aws:iam::111122223333:role/R",
            "arn:aws:kms:nowhere:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "the region `nowhere` is not a region name",
        ),
        (
            "arn:aws:iam::111122223333:role/R",
            "arn:aws:kms:us-east-1:111122223333:alias/mine",
            "is the alias of a customer-managed key",
        ),
    ] {
        let run = sentinel_kms(&["policy", "--role-arn", role, "--key-arn", key]);
        assert_refused(&run, &[expected.to_string()]);
    }
}
