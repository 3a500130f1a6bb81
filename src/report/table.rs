//! The report for people: one table row per verdict, then what to fix, then a one-line summary.

use std::fmt::Write;

use chrono::Utc;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::Run;
use crate::catalog::Check;
use crate::duration::human;
use crate::verdict::{Status, Verdict};

pub fn render(run: &Run<'_>, colour: bool) -> String {
    let several_workspaces = run.workspaces.len() > 1;
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let mut header = vec!["Status", "Check"];
    if several_workspaces {
        header.push("Workspace");
    }
    header.extend(["Account / region", "Last seen", "Lag", "Finding"]);
    table.set_header(header);

    for verdict in run.verdicts {
        let mut row = vec![status_cell(verdict, colour), Cell::new(&verdict.check)];
        if several_workspaces {
            row.push(Cell::new(run.label(&verdict.workspace)));
        }
        row.push(Cell::new(group_text(verdict)));
        row.push(Cell::new(last_seen(verdict)));
        row.push(Cell::new(
            verdict
                .lag_seconds
                .map_or("-".into(), |s| human(chrono::TimeDelta::seconds(s))),
        ));
        row.push(Cell::new(&verdict.message));
        table.add_row(row);
    }

    let mut text = diagnoses(run);
    let _ = writeln!(text, "{table}");
    let explained: Vec<usize> = run
        .diagnoses
        .iter()
        .flat_map(|d| d.verdicts.iter().copied())
        .collect();
    let to_fix: Vec<&Verdict> = run
        .verdicts
        .iter()
        .enumerate()
        .filter(|(index, v)| v.status != Status::Healthy && !explained.contains(index))
        .map(|(_, v)| v)
        .collect();
    if !to_fix.is_empty() {
        text.push_str(if run.diagnoses.is_empty() {
            "\nWhat to fix:\n"
        } else {
            "\nAlso to fix:\n"
        });
        for (index, verdict) in to_fix.iter().enumerate() {
            let where_ = if several_workspaces {
                format!(
                    "{} in {}",
                    group_text(verdict),
                    run.label(&verdict.workspace)
                )
            } else {
                group_text(verdict)
            };
            let _ = writeln!(
                text,
                "{}. {} [{}] {}: {}",
                index + 1,
                verdict.check,
                verdict.reason,
                where_,
                verdict.message
            );
            if let Some(remedy) = &verdict.remedy {
                let _ = writeln!(text, "   {remedy}");
            }
        }
    }
    let summary = run.summary();
    let _ = write!(
        text,
        "\n{} healthy, {} lag, {} no data, {} could not be evaluated",
        summary.healthy, summary.lag, summary.no_data, summary.error
    );
    if summary.partial > 0 {
        let _ = write!(text, ", {} from partial results", summary.partial);
    }
    if run.interrupted {
        text.push_str("; interrupted before every check finished");
    }
    let _ = writeln!(text, " (exit {})", super::json::exit_code(run));
    text
}

/// The diagnoses first, each with the verdicts it rests on and its remedy.
fn diagnoses(run: &Run<'_>) -> String {
    let mut text = String::new();
    for (number, diagnosis) in run.diagnoses.iter().enumerate() {
        let _ = writeln!(
            text,
            "Diagnosis {}: {} [{}]",
            number + 1,
            diagnosis.summary,
            diagnosis.cause
        );
        if run.workspaces.len() > 1 {
            let _ = writeln!(text, "  workspace {}", run.label(&diagnosis.workspace));
        }
        let _ = writeln!(text, "  Evidence:");
        for &index in &diagnosis.verdicts {
            let verdict = &run.verdicts[index];
            let _ = writeln!(
                text,
                "  - {} {} ({}): {}",
                verdict.check,
                group_text(verdict),
                verdict.reason,
                verdict.message
            );
        }
        let _ = writeln!(text, "  What to do:");
        for line in diagnosis.remedy.lines() {
            let _ = writeln!(text, "    {line}");
        }
        text.push('\n');
    }
    text
}

fn status_cell(verdict: &Verdict, colour: bool) -> Cell {
    let name = verdict.status.name().replace('_', " ");
    let label = match (verdict.status, verdict.fails) {
        (Status::Lag | Status::NoData, false) => format!("{name} (warning)"),
        _ => name,
    };
    let label = if verdict.partial {
        format!("{label} (partial)")
    } else {
        label
    };
    let cell = Cell::new(label);
    if !colour {
        return cell;
    }
    cell.fg(match (verdict.status, verdict.fails) {
        (Status::Healthy, _) => Color::Green,
        (Status::Lag | Status::NoData, false) => Color::Yellow,
        (Status::Lag | Status::NoData, true) => Color::Red,
        (Status::Error, _) => Color::Magenta,
    })
}

fn group_text(verdict: &Verdict) -> String {
    super::group_values(verdict, " / ").unwrap_or_else(|| "-".into())
}

fn last_seen(verdict: &Verdict) -> String {
    match verdict.last_seen {
        None => "-".into(),
        Some(time) => format!(
            "{} ({} ago)",
            time.format("%Y-%m-%d %H:%M"),
            human(Utc::now() - time)
        ),
    }
}

pub fn render_catalog(checks: &[Check]) -> String {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(vec!["Id", "Version", "Title", "Tables"]);
    for check in checks {
        table.add_row(vec![
            Cell::new(&check.id),
            Cell::new(check.version.to_string()),
            Cell::new(&check.title),
            Cell::new(check.tables.join(", ")),
        ]);
    }
    format!("{table}\n")
}
