//! Twenty workspaces in one run, each reported on its own, and the same twenty over the shards
//! of a pipeline matrix: every workspace checked exactly once.

use std::collections::BTreeSet;

use serde_json::Value;

use super::common::{self, LocalWorkspace};
use super::{config_file, read_junit, validate_with, workspace_id};

const COUNT: usize = 20;
/// Workspaces served with the `region-stopped` scenario; the others get `healthy`.
const STOPPED: [usize; 3] = [4, 11, 17];
/// The workspace whose config entry expects a group it never receives.
const EXPECTING: usize = 7;

fn name(n: usize) -> String {
    format!("Customer {n:02}")
}

/// The local workspace serving all twenty, and their config file.
fn twenty() -> (LocalWorkspace, tempfile::TempDir, String) {
    let served: Vec<String> = (1..=COUNT)
        .map(|n| {
            if STOPPED.contains(&n) {
                format!("{}=region-stopped", workspace_id(n))
            } else {
                workspace_id(n)
            }
        })
        .collect();
    let served: Vec<&str> = served.iter().map(String::as_str).collect();
    let workspace = LocalWorkspace::serve("healthy", &served, &[]);
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<_> = (1..=COUNT)
        .map(|n| {
            let expect = if n == EXPECTING {
                vec!["999988887777/ap-south-1"]
            } else {
                vec![]
            };
            (workspace_id(n), name(n), expect)
        })
        .collect();
    let config = config_file(dir.path(), &entries);
    (workspace, dir, config.to_str().unwrap().to_string())
}

/// A verdict as (account/region, status, reason).
type Verdict = (String, String, String);

/// The verdicts of workspace `n` that its data implies.
fn expected(n: usize) -> Vec<Verdict> {
    let row = |group: &str, status: &str, reason: &str| {
        (group.to_string(), status.to_string(), reason.to_string())
    };
    let mut rows = vec![
        row("111122223333/eu-west-1", "healthy", "fresh"),
        if STOPPED.contains(&n) {
            row("111122223333/us-east-1", "no_data", "stale")
        } else {
            row("111122223333/us-east-1", "healthy", "fresh")
        },
        row("444455556666/eu-west-1", "healthy", "fresh"),
    ];
    if n == EXPECTING {
        rows.push(row(
            "999988887777/ap-south-1",
            "no_data",
            "expected_missing",
        ));
    }
    rows
}

/// The verdicts of the JSON report, by workspace.
fn by_workspace(document: &Value) -> Vec<(String, Vec<Verdict>)> {
    let ids: Vec<String> = document["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    ids.into_iter()
        .map(|id| {
            let verdicts = document["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["workspace"] == id.as_str())
                .map(|r| {
                    let group = format!(
                        "{}/{}",
                        r["group"]["AccountId"].as_str().unwrap(),
                        r["group"]["Region"].as_str().unwrap()
                    );
                    let text = |key: &str| r[key].as_str().unwrap().to_string();
                    (group, text("status"), text("reason"))
                })
                .collect();
            (id, verdicts)
        })
        .collect()
}

/// `validate --format json` of the freshness check over the config's workspaces.
fn freshness(workspace: &LocalWorkspace, config: &str, extra: &[&str]) -> common::RunResult {
    let args = [
        &[
            "--config",
            config,
            "--check",
            "guardduty-freshness",
            "--format",
            "json",
        ][..],
        extra,
    ]
    .concat();
    validate_with(workspace, &args, &[])
}

fn failing(n: usize) -> bool {
    STOPPED.contains(&n) || n == EXPECTING
}

#[test]
fn twenty_workspaces_are_reported_each_on_its_own() {
    let (workspace, dir, config) = twenty();
    let junit = dir.path().join("junit.xml");
    let summary = dir.path().join("summary.md");
    let run = freshness(
        &workspace,
        &config,
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document = run.json();
    let wanted: Vec<_> = (1..=COUNT)
        .map(|n| (workspace_id(n), expected(n)))
        .collect();
    assert_eq!(by_workspace(&document), wanted);
    assert_eq!(document["workspace_names"][workspace_id(9)], "Customer 09");
    // One cross-workspace query covers all twenty, and each workspace's verdicts come from its
    // own data.
    assert_eq!(workspace.requests(), 1);

    let suites = read_junit(&junit);
    let suites = suites.as_array().unwrap();
    assert_eq!(suites.len(), COUNT);
    for (n, suite) in (1..=COUNT).zip(suites) {
        assert_eq!(suite["name"], name(n));
        assert_eq!(suite["properties"]["workspace_id"], workspace_id(n));
        assert_eq!(suite["failures"], usize::from(failing(n)), "{}", name(n));
        // The verdicts, and the seven checks left out.
        assert_eq!(suite["tests"], expected(n).len() + 7, "{}", name(n));
    }

    let page = std::fs::read_to_string(&summary).unwrap();
    for n in 1..=COUNT {
        let (result, failed) = if failing(n) {
            ("❌ failed", 1)
        } else {
            ("✅ healthy", 0)
        };
        let row = format!(
            "| {} (`{}`) | {result} | {} | 0 | {failed} | 0 |",
            name(n),
            workspace_id(n),
            3 - usize::from(STOPPED.contains(&n)),
        );
        assert!(page.contains(&row), "no row {row} in\n{page}");
    }
}

#[test]
fn shards_cover_every_workspace_exactly_once() {
    let (workspace, dir, config) = twenty();
    let mut seen: Vec<String> = Vec::new();
    let mut results = 0;
    for index in 1..=3 {
        let shard = format!("{index}/3");
        let junit = dir.path().join(format!("junit-{index}.xml"));
        let run = freshness(
            &workspace,
            &config,
            // One request per workspace, so the count below shows each was asked once.
            &[
                "--shard",
                &shard,
                "--junit",
                junit.to_str().unwrap(),
                "--workspaces-per-query",
                "1",
            ],
        );
        let document = run.json();
        assert_eq!(document["shard"], shard.as_str());
        let part = by_workspace(&document);
        let size = COUNT / 3 + usize::from(index <= COUNT % 3);
        assert_eq!(part.len(), size, "shard {shard}");
        let any_failing = part
            .iter()
            .any(|(id, _)| (1..=COUNT).any(|n| failing(n) && workspace_id(n) == *id));
        assert_eq!(run.code, if any_failing { 1 } else { 0 }, "shard {shard}");
        for (id, verdicts) in part {
            let n = (1..=COUNT).find(|&n| workspace_id(n) == id).unwrap();
            assert_eq!(verdicts, expected(n), "{id} in shard {shard}");
            seen.push(id);
        }
        results += document["results"].as_array().unwrap().len();
        assert_eq!(read_junit(&junit).as_array().unwrap().len(), size);
    }
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), COUNT, "a workspace was checked twice: {seen:?}");
    assert_eq!(distinct.len(), COUNT);
    assert_eq!(
        results,
        (1..=COUNT).map(|n| expected(n).len()).sum::<usize>()
    );
    assert_eq!(workspace.requests(), COUNT as u64);

    // More shards than workspaces: the spare shard has nothing to do, and says so.
    let junit = dir.path().join("junit-spare.xml");
    let spare = validate_with(
        &workspace,
        &[
            "--config",
            &config,
            "--shard",
            "25/25",
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(spare.code, 0, "{}", spare.stderr);
    assert!(
        spare.stderr.contains("shard 25/25 has no workspace"),
        "{}",
        spare.stderr
    );
    let suites = read_junit(&junit);
    assert_eq!(suites[0]["cases"][0]["kind"], "passed");
    assert_eq!(suites[0]["tests"], 1);
    assert_eq!(workspace.requests(), COUNT as u64);
}
