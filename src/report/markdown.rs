//! The Markdown summary (`--summary FILE`, Azure Pipelines' run summary, GitHub's step summary):
//! the result per workspace, the diagnoses, the verdicts that are not healthy, and what to fix.
//!
//! Every value is escaped for Markdown (a region cannot start a link, a table cell or an HTML
//! tag); remedies sit in fenced blocks longer than any backtick run they hold. The summary is
//! built from pieces in order of importance, so that a size limit (GitHub keeps at most 1 MiB per
//! step) cuts the details, never the status table.

use std::fmt::Write;

use super::Run;
use super::outcome::{Outcome, Tally};
use crate::verdict::{Status, Verdict};
use crate::workspaces::Workspace;

/// Renders the summary; with a budget in bytes, stops before the piece that would exceed it
/// and says so.
pub fn render(run: &Run<'_>, budget: Option<usize>) -> String {
    let note = "\n_The rest of this summary is left out to fit the size limit of the summary \
                page; the JUnit and JSON outputs hold every verdict._\n";
    let mut text = String::new();
    for piece in pieces(run) {
        if budget.is_some_and(|limit| text.len() + piece.len() + note.len() > limit) {
            text.push_str(note);
            break;
        }
        text.push_str(&piece);
    }
    text
}

fn pieces(run: &Run<'_>) -> Vec<String> {
    let mut pieces = vec![heading(run), status_table(run)];
    for diagnosis in run.diagnoses {
        let mut piece = format!(
            "### {} ({})\n\n",
            escape(&diagnosis.summary),
            escape(&diagnosis.cause)
        );
        if run.workspaces.len() > 1 {
            let _ = writeln!(
                piece,
                "{}: {}\n",
                run.subject.heading(),
                escape(run.label(&diagnosis.workspace))
            );
        }
        piece.push_str("Evidence:\n\n");
        for &index in &diagnosis.verdicts {
            let verdict = &run.verdicts[index];
            let _ = writeln!(
                piece,
                "- {} {} ({}): {}",
                escape(&verdict.check),
                escape(&group_text(verdict)),
                escape(&verdict.reason),
                escape(&verdict.message)
            );
        }
        let _ = write!(
            piece,
            "\nWhat to do:\n\n{}\n",
            fenced(&diagnosis.remedy, "")
        );
        pieces.push(piece);
    }
    pieces.extend(not_healthy(run));
    pieces.extend(to_fix(run));
    if !run.skipped.is_empty() {
        let names: Vec<String> = run
            .skipped
            .iter()
            .map(|s| format!("{} ({})", escape(&s.check), escape(&s.why)))
            .collect();
        pieces.push(format!("Not run: {}.\n", names.join(", ")));
    }
    pieces
}

fn heading(run: &Run<'_>) -> String {
    let tally = Tally::of(run.verdicts);
    let code = super::json::exit_code(run);
    let result = if run.workspaces.is_empty() {
        "nothing to check".to_string()
    } else {
        format!(
            "{} failed, {} warnings, {} could not be evaluated, {} healthy",
            tally.failed, tally.warnings, tally.errors, tally.passed
        )
    };
    let mut facts = vec![
        format!("exit {code}"),
        count(run.workspaces.len(), run.subject.noun()),
        count(run.check_count(), "check"),
        format!("fail on {}", run.fail_on.describe()),
    ];
    if let Some(shard) = run.shard {
        facts.push(format!("shard {shard}"));
    }
    let seconds = (run.finished_at - run.started_at).num_milliseconds() as f64 / 1000.0;
    facts.push(format!(
        "started {} UTC, took {seconds:.1} s",
        run.started_at.format("%Y-%m-%d %H:%M:%S")
    ));
    if run.interrupted {
        facts.push("interrupted before every check finished".into());
    }
    format!(
        "## {}: {result}\n\n{}\n\n",
        run.subject.title(),
        facts.join(" · ")
    )
}

fn status_table(run: &Run<'_>) -> String {
    let mut table = format!(
        "| {} | Result | Healthy | Warnings | Failed | Could not evaluate |\n\
         | --- | --- | ---: | ---: | ---: | ---: |\n",
        run.subject.heading()
    );
    for workspace in run.workspaces {
        let verdicts: Vec<&Verdict> = run
            .verdicts
            .iter()
            .filter(|v| v.workspace == workspace.id)
            .collect();
        let tally = Tally::of(verdicts.iter().copied());
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} |",
            workspace_cell(workspace),
            workspace_result(&tally, verdicts.is_empty()),
            tally.passed,
            tally.warnings,
            tally.failed,
            tally.errors
        );
    }
    table.push('\n');
    table
}

fn workspace_cell(workspace: &Workspace) -> String {
    match &workspace.name {
        Some(name) => format!("{} (`{}`)", escape(name), workspace.id),
        None => format!("`{}`", workspace.id),
    }
}

fn workspace_result(tally: &Tally, no_verdicts: bool) -> &'static str {
    if no_verdicts {
        "not evaluated"
    } else if tally.failed > 0 {
        "❌ failed"
    } else if tally.errors > 0 {
        "❔ could not evaluate"
    } else if tally.warnings > 0 {
        "⚠️ warning"
    } else {
        "✅ healthy"
    }
}

/// The table of verdicts that are not healthy, header then one piece per row.
fn not_healthy(run: &Run<'_>) -> Vec<String> {
    let rows: Vec<String> = run
        .verdicts
        .iter()
        .filter(|v| v.status != Status::Healthy)
        .map(|verdict| {
            format!(
                "| {} | {} | {} | {} | {} |\n",
                Outcome::of(verdict).name(),
                escape(run.label(&verdict.workspace)),
                escape(&verdict.check),
                escape(&group_text(verdict)),
                escape(&verdict.message)
            )
        })
        .collect();
    if rows.is_empty() {
        return rows;
    }
    let mut pieces = vec![format!(
        "### Not healthy\n\n| Result | {} | Check | Account / region | Finding |\n\
         | --- | --- | --- | --- | --- |\n",
        run.subject.heading()
    )];
    pieces.extend(rows);
    pieces.push("\n".into());
    pieces
}

/// `1 check`, `2 checks`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What to fix for each verdict that no diagnosis explains.
fn to_fix(run: &Run<'_>) -> Vec<String> {
    let explained: Vec<usize> = run
        .diagnoses
        .iter()
        .flat_map(|d| d.verdicts.iter().copied())
        .collect();
    let items: Vec<String> = run
        .verdicts
        .iter()
        .enumerate()
        .filter(|(index, v)| v.status != Status::Healthy && !explained.contains(index))
        .map(|(_, verdict)| {
            let mut item = format!(
                "- **{}** ({}), {} in {}: {}\n",
                escape(&verdict.check),
                escape(&verdict.reason),
                escape(&group_text(verdict)),
                escape(run.label(&verdict.workspace)),
                escape(&verdict.message)
            );
            if let Some(remedy) = &verdict.remedy {
                let _ = writeln!(item, "\n{}", fenced(remedy, "  "));
            }
            item
        })
        .collect();
    if items.is_empty() {
        return items;
    }
    let heading = if run.diagnoses.is_empty() {
        "### What to fix\n\n"
    } else {
        "### Also to fix\n\n"
    };
    let mut pieces = vec![heading.to_string()];
    pieces.extend(items);
    pieces.push("\n".into());
    pieces
}

fn group_text(verdict: &Verdict) -> String {
    super::group_values(verdict, " / ").unwrap_or_else(|| "-".into())
}

/// Escapes text for a Markdown paragraph or table cell: punctuation that could start markup is
/// backslash-escaped, line breaks become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` in a fenced block (no Markdown inside), its fence longer than any backtick run in
/// it, every line indented by `indent`.
fn fenced(text: &str, indent: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let mut block = format!("{indent}{fence}text\n");
    for line in text.lines() {
        let _ = writeln!(block, "{indent}{line}");
    }
    let _ = writeln!(block, "{indent}{fence}");
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::outcome::FailOn;

    #[test]
    fn a_size_limit_cuts_the_details_and_keeps_the_status_table() {
        let checks = crate::catalog::built_in().unwrap();
        let workspaces = vec![Workspace {
            id: "w".into(),
            name: Some("Contoso | prod".into()),
        }];
        let verdicts: Vec<Verdict> = (0..2000)
            .map(|n| {
                let mut verdict = Verdict::new(
                    &checks[0],
                    "w",
                    Status::NoData,
                    "stale",
                    format!("region {n} stopped {}", "long text ".repeat(20)),
                );
                verdict.fails = true;
                verdict.remedy = Some("do this\nthen that".into());
                verdict
            })
            .collect();
        let now = chrono::Utc::now();
        let run = Run {
            subject: crate::report::Subject::Workspaces,
            checks: &checks,
            skipped: &[],
            workspaces: &workspaces,
            verdicts: &verdicts,
            diagnoses: &[],
            started_at: now,
            finished_at: now,
            interrupted: false,
            fail_on: FailOn::default(),
            shard: None,
        };
        let whole = render(&run, None);
        assert!(whole.len() > 200_000, "{}", whole.len());
        let cut = render(&run, Some(100_000));
        assert!(cut.len() <= 100_000, "{}", cut.len());
        assert!(cut.starts_with("## sentinel-kms: 2000 failed, 0 warnings"));
        assert!(cut.contains("| Contoso \\| prod (`w`) | ❌ failed | 0 | 0 | 2000 | 0 |"));
        assert!(cut.ends_with("the JUnit and JSON outputs hold every verdict._\n"));
        assert!(!whole.contains("size limit"));
    }

    #[test]
    fn values_cannot_start_markup() {
        assert_eq!(
            escape("[click](https://x) <img> a|b\n# h"),
            "\\[click\\](https://x) \\<img\\> a\\|b \\# h"
        );
        assert_eq!(escape("##vso[x]"), "\\#\\#vso\\[x\\]");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_inside() {
        let block = fenced("a ```` b\nc", "  ");
        assert_eq!(block, "  `````text\n  a ```` b\n  c\n  `````\n");
        assert_eq!(fenced("x", ""), "```text\nx\n```\n");
    }
}
