//! `lint --since REF`: the checks as they were at a git revision against the checks now. A
//! check whose query or settings changed must carry a higher version; a check keeps its id for
//! life; a check that disappeared is pointed out; an analytic rule whose resource name changed
//! (a renamed check, a changed `rule.id`) is reported as the new rule it becomes in Sentinel.
//!
//! What counts as a change: a threshold's value, the rest of the query (every line after the
//! header, trailing spaces and trailing blank lines aside), and every header value except the
//! prose ones (`title`, `description`, `remedy.*`), which do not change what the check finds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::{Check, Source, header, lets};
use crate::error::{Error, Result};
use crate::lint::diagnostic::{Diagnostic, code};

/// Header keys whose changes need no new version.
fn is_prose_key(key: &str) -> bool {
    matches!(key, "title" | "description" | "version") || key.starts_with("remedy.")
}

/// A check file as it was at the revision, or as it is now, reduced to what is compared.
struct Snapshot {
    /// Path relative to the repository's top folder.
    relative: PathBuf,
    id: String,
    version: Option<semver::Version>,
    settings: BTreeMap<String, String>,
    /// Threshold values as written, by name.
    thresholds: BTreeMap<String, String>,
    /// The query's lines, threshold values left out.
    query: Vec<String>,
}

impl Snapshot {
    fn read(relative: PathBuf, text: &str) -> Option<Snapshot> {
        let raw = header::parse(&relative, text).ok()?;
        let id = raw.fields.get("id")?.value.clone();
        let version =
            (raw.fields.get("version")).and_then(|f| semver::Version::parse(&f.value).ok());
        let settings = (raw.fields.iter())
            .filter(|(key, _)| !is_prose_key(key))
            .map(|(key, field)| (key.clone(), field.value.clone()))
            .collect();
        let threshold_names = (raw.fields.get("thresholds"))
            .map(|field| header::list(&field.value))
            .unwrap_or_default();
        let mut masked = text.to_string();
        let mut thresholds = BTreeMap::new();
        // From the last statement back, so that earlier byte ranges stay valid.
        for statement in lets::scan(text).into_iter().rev() {
            if threshold_names.contains(&statement.name) {
                masked.replace_range(statement.value_range, "");
                thresholds.insert(statement.name, statement.value_text);
            }
        }
        let mut query: Vec<String> = (masked.lines().skip(raw.body_line.saturating_sub(1)))
            .map(|line| line.trim_end().to_string())
            .collect();
        while query.last().is_some_and(String::is_empty) {
            query.pop();
        }
        Some(Snapshot {
            relative,
            id,
            version,
            settings,
            thresholds,
            query,
        })
    }

    /// The resource name of the check's analytic rule, when it has one.
    fn rule_name(&self) -> Option<uuid::Uuid> {
        self.settings.get("rule")?;
        let pinned = (self.settings.get("rule.id")).and_then(|id| uuid::Uuid::try_parse(id).ok());
        Some(crate::content::rules::rule_name(&self.id, pinned))
    }

    /// What changed from `before` to `self`, in words; empty when nothing did.
    fn changes_since(&self, before: &Snapshot) -> Vec<String> {
        let mut changes = Vec::new();
        if self.query != before.query {
            changes.push("the query".to_string());
        }
        let names: std::collections::BTreeSet<&String> = self
            .thresholds
            .keys()
            .chain(before.thresholds.keys())
            .collect();
        for name in names {
            if self.thresholds.get(name) != before.thresholds.get(name) {
                changes.push(format!("threshold `{name}`"));
            }
        }
        let keys: std::collections::BTreeSet<&String> =
            self.settings.keys().chain(before.settings.keys()).collect();
        for key in keys {
            if key != "id" && self.settings.get(key) != before.settings.get(key) {
                changes.push(format!("`{key}`"));
            }
        }
        changes
    }
}

/// Compares the linted files with their state at `revision`. `roots` are the paths given to
/// `lint`; `sources` the files read from them; `checks` the ones that are valid.
pub fn compare(
    revision: &str,
    roots: &[PathBuf],
    sources: &[Source],
    checks: &[Check],
) -> Result<Vec<Diagnostic>> {
    let repository = Repository::containing(&roots[0])?;
    repository.verify(revision)?;
    let mut before = Vec::new();
    for root in roots {
        let root_relative = repository.relative(root)?;
        for relative in repository.kql_files_at(revision, &root_relative)? {
            let text = repository.file_at(revision, &relative)?;
            let shown = shown_under(root, &root_relative, &relative);
            before.extend(Snapshot::read(relative, &text).map(|old| (shown, old)));
        }
    }
    let mut now = Vec::new();
    for source in sources {
        if let Ok(text) = std::str::from_utf8(&source.bytes) {
            now.extend(Snapshot::read(repository.relative(&source.path)?, text));
        }
    }

    let mut diagnostics = Vec::new();
    for check in checks {
        let Some(current) = now.iter().find(|s| s.id == check.id) else {
            continue;
        };
        match before.iter().find(|(_, old)| old.id == check.id) {
            Some((_, old)) => {
                diagnostics.extend(version_rule(revision, check, current, old));
                diagnostics.extend(new_rule(revision, check, current, old));
            }
            None => {
                let renamed = renamed(revision, check, current, &before, &now);
                if let Some((diagnostic, old)) = renamed {
                    diagnostics.push(diagnostic);
                    diagnostics.extend(new_rule(revision, check, current, old));
                }
            }
        }
    }
    for (shown, old) in &before {
        let still_there = now.iter().any(|current| current.id == old.id);
        let renamed_in_place = now.iter().any(|current| current.relative == old.relative);
        if !still_there && !renamed_in_place {
            let rule = old.rule_name().map_or_else(String::new, |name| {
                format!(
                    "; its analytic rule {name} stays in Sentinel until it is deleted there \
                     (deploying a pack never deletes a rule)"
                )
            });
            diagnostics.push(Diagnostic::warning(
                shown,
                (0, 0),
                code::ID_REMOVED,
                format!(
                    "check `{}` existed at `{revision}` and is no longer in the catalog{rule}",
                    old.id
                ),
            ));
        }
    }
    Ok(diagnostics)
}

/// A check whose analytic rule has another resource name than at the revision: the id changed
/// without `rule.id` pinning the old name, or `rule.id` itself changed.
fn new_rule(
    revision: &str,
    check: &Check,
    current: &Snapshot,
    old: &Snapshot,
) -> Option<Diagnostic> {
    let (now_name, old_name) = (current.rule_name()?, old.rule_name()?);
    if now_name == old_name {
        return None;
    }
    let key = if check.id != old.id { "id" } else { "rule.id" };
    let position = header::parse(&check.path, &check.text)
        .ok()
        .and_then(|raw| {
            (raw.fields.get(key))
                .or_else(|| raw.fields.get("rule"))
                .map(|field| (field.line, field.column))
        })
        .unwrap_or((1, 1));
    Some(Diagnostic::warning(
        &check.path,
        position,
        code::NEW_RULE,
        format!(
            "the analytic rule of this check is named {now_name}, and was {old_name} at \
             `{revision}`: importing the pack adds it as a new rule and leaves the old one \
             running; to keep updating the old rule, set `rule.id: {old_name}`"
        ),
    ))
}

/// A file of the revision shown the way the files found under `root` are: `root` as given,
/// joined with the file's path below it.
fn shown_under(root: &Path, root_relative: &Path, relative: &Path) -> PathBuf {
    match relative.strip_prefix(root_relative) {
        Ok(below) if !below.as_os_str().is_empty() => root.join(below),
        _ => root.to_path_buf(),
    }
}

fn version_rule(
    revision: &str,
    check: &Check,
    current: &Snapshot,
    old: &Snapshot,
) -> Option<Diagnostic> {
    let old_version = old.version.as_ref()?;
    let position = field_position(check, "version");
    if check.version < *old_version {
        return Some(Diagnostic::error(
            &check.path,
            position,
            code::VERSION,
            format!(
                "version {} is lower than {old_version} at `{revision}`",
                check.version
            ),
        ));
    }
    let changes = current.changes_since(old);
    if changes.is_empty() || check.version > *old_version {
        return None;
    }
    Some(Diagnostic::error(
        &check.path,
        position,
        code::VERSION,
        format!(
            "{} changed since `{revision}` but the version is still {old_version}: raise it",
            changes.join(" and ")
        ),
    ))
}

/// A check whose file had another id at the revision, and that id is gone now; with the
/// check as it was.
fn renamed<'a>(
    revision: &str,
    check: &Check,
    current: &Snapshot,
    before: &'a [(PathBuf, Snapshot)],
    now: &[Snapshot],
) -> Option<(Diagnostic, &'a Snapshot)> {
    let (_, old) = before
        .iter()
        .find(|(_, old)| old.relative == current.relative)?;
    if now.iter().any(|other| other.id == old.id) {
        return None;
    }
    let diagnostic = Diagnostic::error(
        &check.path,
        field_position(check, "id"),
        code::ID_CHANGED,
        format!(
            "check id changed from `{}` at `{revision}` to `{}`: an id is permanent (results and \
             rules are keyed by it); restore it, or add the new check beside the old one",
            old.id, check.id
        ),
    );
    Some((diagnostic, old))
}

fn field_position(check: &Check, key: &str) -> (usize, usize) {
    header::parse(&check.path, &check.text)
        .ok()
        .and_then(|raw| raw.fields.get(key).map(|field| (field.line, field.column)))
        .unwrap_or((1, 1))
}

/// The git repository the checks live in, driven through the `git` command.
struct Repository {
    top: PathBuf,
}

impl Repository {
    fn containing(path: &Path) -> Result<Repository> {
        let absolute = std::fs::canonicalize(path).map_err(|error| {
            Error::usage(format!(
                "`--since`: cannot resolve `{}`: {error}",
                path.display()
            ))
        })?;
        let folder = if absolute.is_dir() {
            absolute.as_path()
        } else {
            absolute.parent().unwrap_or(&absolute)
        };
        let top = git(folder, &["rev-parse", "--show-toplevel"]).map_err(|error| {
            Error::usage(format!(
                "`--since` needs the checks in a git repository: `{}`: {error}",
                path.display()
            ))
        })?;
        let top = String::from_utf8_lossy(&top).trim().to_string();
        Ok(Repository {
            top: std::fs::canonicalize(&top).unwrap_or_else(|_| top.into()),
        })
    }

    fn verify(&self, revision: &str) -> Result<()> {
        let commit = format!("{revision}^{{commit}}");
        git(
            &self.top,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &commit,
            ],
        )
        .map(drop)
        .map_err(|_| {
            Error::usage(format!(
                "`--since {revision}`: no such commit in the git repository `{}`",
                self.top.display()
            ))
        })
    }

    /// `path` relative to the repository's top folder.
    fn relative(&self, path: &Path) -> Result<PathBuf> {
        let absolute = std::fs::canonicalize(path).map_err(|error| {
            Error::usage(format!("cannot resolve `{}`: {error}", path.display()))
        })?;
        absolute
            .strip_prefix(&self.top)
            .map(Path::to_path_buf)
            .map_err(|_| {
                Error::usage(format!(
                    "`{}` is outside the git repository `{}` that `--since` reads",
                    path.display(),
                    self.top.display()
                ))
            })
    }

    fn kql_files_at(&self, revision: &str, under: &Path) -> Result<Vec<PathBuf>> {
        let under = if under.as_os_str().is_empty() {
            Path::new(".")
        } else {
            under
        };
        let under = under.to_string_lossy();
        let listing = git(
            &self.top,
            &[
                "ls-tree",
                "-r",
                "-z",
                "--name-only",
                "--full-tree",
                revision,
                "--",
                &under,
            ],
        )
        .map_err(|error| Error::usage(format!("`--since {revision}`: {error}")))?;
        Ok(listing
            .split(|&b| b == 0)
            .filter(|name| name.ends_with(b".kql"))
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            .collect())
    }

    fn file_at(&self, revision: &str, relative: &Path) -> Result<String> {
        let object = format!("{revision}:{}", relative.to_string_lossy());
        let bytes = git(&self.top, &["show", &object])
            .map_err(|error| Error::usage(format!("`--since {revision}`: {error}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Runs `git` in `folder`; its stdout, or its first line of stderr as the error.
fn git(folder: &Path, args: &[&str]) -> std::result::Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run `git`: {error}"))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr
        .lines()
        .next()
        .unwrap_or("git failed without a message")
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: &str = "// id: a\n// version: 1.0.0\n// title: T\n// tables: X\n\
        // thresholds: limit\nlet limit = 1h;\nX | where TimeGenerated > ago(limit) | take 1\n";

    fn snapshot(text: &str) -> Snapshot {
        Snapshot::read("q/a.kql".into(), text).unwrap()
    }

    #[test]
    fn prose_and_whitespace_are_not_changes() {
        let before = snapshot(CHECK);
        let edited = CHECK
            .replace("title: T", "title: Better")
            .replace("take 1\n", "take 1  \n\n");
        assert!(snapshot(&edited).changes_since(&before).is_empty());
    }

    #[test]
    fn files_of_the_revision_are_shown_under_the_root_as_given() {
        let shown = shown_under(Path::new("./q"), Path::new("a/q"), Path::new("a/q/x/y.kql"));
        assert_eq!(shown, Path::new("./q/x/y.kql"));
        let file = shown_under(
            Path::new("q/y.kql"),
            Path::new("q/y.kql"),
            Path::new("q/y.kql"),
        );
        assert_eq!(file, Path::new("q/y.kql"));
    }

    #[test]
    fn query_and_settings_changes_are_named() {
        let before = snapshot(CHECK);
        let edited = CHECK
            .replace("take 1", "take 2")
            .replace("tables: X", "tables: X, Y");
        assert_eq!(
            snapshot(&edited).changes_since(&before),
            ["the query", "`tables`"]
        );
        let edited = CHECK.replace("limit = 1h", "limit = 2h");
        assert_eq!(
            snapshot(&edited).changes_since(&before),
            ["threshold `limit`"]
        );
    }
}
