//! `lint` on analytic rule settings: the limits `build` enforces reported at their header
//! lines, and, with `--since`, a check whose rule gets another name reported as a new rule.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sentinel-kms lint ARGS` in `dir`, without the analyser (these findings do not need it).
fn lint_in(dir: &Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env(
            "SENTINEL_KMS_KUSTO_ANALYZER",
            repository_root().join("tests/content"),
        )
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().unwrap_or(-1), stdout)
}

#[test]
fn rule_settings_outside_the_limits_are_reported_at_their_lines() {
    let (code, stdout) = lint_in(
        &repository_root(),
        &["tests/content/rule-out-of-limits.kql"],
    );
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "tests/content/rule-out-of-limits.kql:15:20: error: the rule's `queryFrequency`: a \
             rule that looks back 3d must run at most once an hour, not every 30m [rule]",
            "tests/content/rule-out-of-limits.kql:17:21: error: the rule's `techniques/0`: \
             technique `T1562` belongs to DefenseEvasion, none of which is among the rule's \
             tactics [rule]",
            "tests/content/rule-out-of-limits.kql:18:19: error: the rule's `entityMappings/0`: \
             Account maps no strong identifier, so Sentinel cannot tell its entities apart: map \
             FullName or Sid or Name or AadUserId or PUID or ObjectGuid [rule]",
        ]
    );
    assert!(
        lines[3].starts_with("lint: 1 check file, 3 errors"),
        "{stdout}"
    );
}

#[test]
fn quiet_when_naming_a_check_outside_the_linted_files_is_a_warning() {
    let (code, stdout) = lint_in(&repository_root(), &["queries/guardduty/freshness.kql"]);
    assert_eq!(code, 0, "{stdout}");
    for id in [
        "connector-health-freshness",
        "connector-health-failures",
        "kms-decrypt-denied",
    ] {
        assert!(
            stdout.contains(&format!(
                "warning: `rule.quiet-when` names `{id}`, which is not among the checks linted; \
                 `build` needs it in the same catalog [rule]"
            )),
            "{stdout}"
        );
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=Content Test",
            "-c",
            "user.email=content@example.invalid",
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
fn since_a_revision_a_rule_that_changes_name_is_reported_as_a_new_rule() {
    let repo = tempfile::tempdir().unwrap();
    let queries = repo.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    let base =
        std::fs::read_to_string(repository_root().join("tests/content/rule-out-of-limits.kql"))
            .unwrap()
            .replace(
                "// rule.frequency: 30m\n// rule.tactics: Impact\n",
                "// rule.tactics: DefenseEvasion\n",
            )
            .replace("Account(NTDomain=AccountId)", "Account(Name=AccountId)");
    let with_id = |id: &str| base.replace("lint-rule-out-of-limits", id);
    let write = |name: &str, text: &str| std::fs::write(queries.join(name), text).unwrap();
    write("renamed.kql", &with_id("old-name"));
    write("pinned.kql", &with_id("old-pinned"));
    write("removed.kql", &with_id("removed"));
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "checks"]);
    let (code, stdout) = lint_in(repo.path(), &[]);
    assert_eq!(code, 0, "the committed checks are clean: {stdout}");

    // Rule names are UUID v5 of the check id under the tool's namespace.
    let rule_name = |id: &str| {
        let namespace = uuid::uuid!("372f4e3a-a1aa-4aa3-b893-79f5be07b03d");
        uuid::Uuid::new_v5(&namespace, id.as_bytes())
    };
    let (old_name, new_name) = (rule_name("old-name"), rule_name("new-name"));
    let (removed_name, pinned_name) = (rule_name("removed"), rule_name("old-pinned"));
    write("renamed.kql", &with_id("new-name"));
    let pinned = with_id("new-pinned").replace(
        "// rule: enabled\n",
        &format!("// rule: enabled\n// rule.id: {pinned_name}\n"),
    );
    write("pinned.kql", &pinned);
    std::fs::remove_file(queries.join("removed.kql")).unwrap();

    let (code, stdout) = lint_in(repo.path(), &["--since", "HEAD"]);
    assert_eq!(code, 1, "{stdout}");
    let rule_lines: Vec<&str> = (stdout.lines())
        .filter(|line| line.contains("[new-rule]") || line.contains("[id-removed]"))
        .collect();
    assert_eq!(
        rule_lines,
        [
            format!(
                "queries/removed.kql: warning: check `removed` existed at `HEAD` and is no longer \
                 in the catalog; its analytic rule {removed_name} stays in Sentinel until it is \
                 deleted there (deploying a pack never deletes a rule) [id-removed]"
            ),
            format!(
                "queries/renamed.kql:1:8: warning: the analytic rule of this check is named \
                 {new_name}, and was {old_name} at `HEAD`: importing the pack adds it as a new \
                 rule and leaves the old one running; to keep updating the old rule, set \
                 `rule.id: {old_name}` [new-rule]"
            ),
        ]
    );
    assert!(
        stdout.contains("queries/pinned.kql:1:8: error: check id changed from `old-pinned`"),
        "the id change itself stays an error: {stdout}"
    );
}
