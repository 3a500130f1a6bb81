//! A remedy for people: each document to save, the command that applies it, then the checks.
//! Policies are printed flush left so they paste into a file unchanged, and every command block
//! pastes into a shell (explanations are `#` comments).

use std::fmt::Write;

use serde_json::Value;

use super::remedy::{IDENTITY_POLICY_FILE, merged_policy_file};
use super::{KeyChange, KeyRemedy, MergeOutcome, MergedPolicy, Remedy, Step};

const WIDTH: usize = 100;

pub fn render(remedy: &Remedy) -> String {
    let mut out = String::new();
    let count = remedy.keys.len();
    paragraph(
        &mut out,
        &format!(
            "What `{}` needs to decrypt GuardDuty's export ({count} key{}).",
            remedy.role,
            if count == 1 { "" } else { "s" }
        ),
    );
    let mut section = 0;
    let mut heading = |out: &mut String, title: String| {
        section += 1;
        let _ = write!(out, "\n== {section}. {title} ==\n\n");
    };

    if let Some(policy) = &remedy.identity_policy {
        heading(
            &mut out,
            format!("The IAM policy of role {}", remedy.role.name()),
        );
        paragraph(
            &mut out,
            &format!("Save this as {IDENTITY_POLICY_FILE}, then attach it:"),
        );
        out.push('\n');
        out.push_str(&pretty(&policy.document));
        out.push('\n');
        step(&mut out, &policy.apply);
    }
    for key in &remedy.keys {
        heading(
            &mut out,
            format!("Key {} ({})", key.key.arn(), key.key.region()),
        );
        key_section(&mut out, key);
    }

    heading(&mut out, "Verify".into());
    paragraph(
        &mut out,
        "These checks need no Sentinel token: they read the AWS side, and the last of each key \
         sends a sample finding through the pipeline.",
    );
    for check in remedy
        .verify
        .iter()
        .chain(remedy.keys.iter().flat_map(|k| &k.verify))
    {
        out.push('\n');
        step(&mut out, check);
    }
    out
}

fn key_section(out: &mut String, key: &KeyRemedy) {
    for note in &key.notes {
        paragraph(out, note);
    }
    match &key.change {
        KeyChange::AddStatement {
            merged: Some(merged),
            ..
        } if !merged.changed() => merged_section(out, key, merged),
        KeyChange::AddStatement {
            statement,
            merged,
            fetch,
        } => {
            out.push('\n');
            paragraph(
                out,
                "The statement to add to the key policy. It is one statement, not a policy: \
                 put-key-policy replaces the whole key policy, so the statement goes into the \
                 current policy's `Statement` list.",
            );
            out.push('\n');
            out.push_str(&pretty(statement));
            match merged {
                Some(merged) => merged_section(out, key, merged),
                None => {
                    out.push('\n');
                    step(out, fetch);
                }
            }
        }
        KeyChange::MoveToCustomerKey {
            new_key_policy,
            policy_file,
            steps,
        } => {
            out.push('\n');
            paragraph(
                out,
                &format!(
                    "The whole policy of the new key (it keeps the account's administrators, \
                     so create-key accepts it). Save it as {policy_file}:"
                ),
            );
            out.push('\n');
            out.push_str(&pretty(new_key_policy));
            out.push('\n');
            step(out, steps);
        }
    }
}

fn merged_section(out: &mut String, key: &KeyRemedy, merged: &MergedPolicy) {
    merge_notes(out, merged);
    out.push('\n');
    match &merged.outcome {
        MergeOutcome::AlreadyAllowed { statements } => {
            paragraph(
                out,
                &format!(
                    "The current policy ({}) already allows the role both actions on this key, \
                     in {}: its policy needs no change.",
                    merged.source,
                    statements.join(" and ")
                ),
            );
        }
        MergeOutcome::Appended { sid, clashed_with } => {
            let sid_note = match clashed_with {
                Some(taken) => format!(
                    " Another statement already has the Sid `{taken}`, so the statement added \
                     is `{sid}`."
                ),
                None => String::new(),
            };
            paragraph(
                out,
                &format!(
                    "The current policy ({}) with the statement appended, its other statements \
                     unchanged.{sid_note} Save it as {}:",
                    merged.source,
                    merged_policy_file(&key.key)
                ),
            );
            out.push('\n');
            out.push_str(&pretty(&merged.document));
            if let Some(put) = key.put_merged() {
                out.push('\n');
                step(out, &put);
            }
        }
    }
}

/// What in the current policy may still keep the role out, before anything is applied.
fn merge_notes(out: &mut String, merged: &MergedPolicy) {
    if merged.notes.is_empty() {
        return;
    }
    out.push('\n');
    paragraph(
        out,
        "Before putting a policy, note what the current one holds:",
    );
    for note in &merged.notes {
        wrap(out, note, "- ", "  ");
    }
}

/// A step as a shell block: comments for its purpose, account and expectation.
fn step(out: &mut String, step: &Step) {
    wrap(out, &format!("{}.", capitalise(&step.purpose)), "# ", "# ");
    wrap(out, &format!("Credentials: {}.", step.run_in), "# ", "#   ");
    for command in &step.commands {
        out.push_str(&continued(command));
        out.push('\n');
    }
    if let Some(kql) = &step.kql {
        out.push_str("# then, in the workspace's Logs:\n");
        for line in kql.lines() {
            let _ = writeln!(out, "#   {line}");
        }
    }
    wrap(out, &format!("expect: {}", step.expect), "# ", "#   ");
}

/// A long command split before its ` --option`s and pipes into lines of at most `WIDTH` characters where
/// the options allow, joined by ` \` continuations. Quoted text is never split.
fn continued(command: &str) -> String {
    let mut breaks = Vec::new();
    let mut quote = None;
    for (at, c) in command.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, ' ') if command[at..].starts_with(" --") || command[at..].starts_with(" | ") => {
                breaks.push(at)
            }
            _ => {}
        }
    }
    breaks.push(command.len());

    let mut text = String::new();
    let (mut line_start, mut last) = (0, 0);
    for &at in &breaks {
        let indent = if line_start == 0 { 0 } else { 4 };
        if at - line_start + indent > WIDTH - 2 && last > line_start {
            text.push_str(&command[line_start..last]);
            text.push_str(" \\\n    ");
            line_start = last + 1;
        }
        last = at;
    }
    text.push_str(&command[line_start..]);
    text
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}

fn paragraph(out: &mut String, text: &str) {
    wrap(out, text, "", "");
}

/// Appends `text` in lines of at most `WIDTH` characters where its words allow, the first line
/// led by `first` and the rest by `rest`.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// `text` with its first letter in upper case.
pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
