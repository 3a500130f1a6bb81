//! Cross-workspace queries: one request per check over many workspaces, reported per workspace
//! exactly as if each workspace had been asked on its own, including when the combined request
//! fails because of one workspace.

mod common;

use std::collections::BTreeMap;

use common::{LocalWorkspace, RunResult, serve_args, validate_over, workspace_ids};

/// Each workspace's verdicts as (check, group, status, reason, fails), sorted.
fn per_workspace(run: &RunResult) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for result in run.json()["results"].as_array().unwrap() {
        map.entry(result["workspace"].as_str().unwrap().to_string())
            .or_default()
            .push(format!(
                "{} {} {} {} {}",
                result["check"],
                result["group"],
                result["status"],
                result["reason"],
                result["fails"]
            ));
    }
    for verdicts in map.values_mut() {
        verdicts.sort();
    }
    map
}

fn reset(server: &LocalWorkspace) {
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys,urllib.request;urllib.request.urlopen(urllib.request.Request(sys.argv[1],data=b''))"])
        .arg(format!("{}/_reset", server.url))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_dozen_workspaces_need_one_request_per_check_and_get_the_same_verdicts() {
    let workspaces = workspace_ids(12);
    let server = LocalWorkspace::start_args("region-stopped", &serve_args(&workspaces));

    let alone = validate_over(&server, &workspaces, &["--workspaces-per-query", "1"]);
    assert_eq!(alone.code, 1, "{}", alone.stderr);
    assert_eq!(server.requests(), 8 * 12);
    reset(&server);

    let together = validate_over(&server, &workspaces, &[]);
    assert_eq!(together.code, 1, "{}", together.stderr);
    // Seven checks combine; kms-key-changes (a tabular `let`) goes to each workspace.
    assert_eq!(server.requests(), 7 + 12);
    let expected = per_workspace(&alone);
    assert_eq!(expected.len(), 12);
    assert!(
        expected
            .values()
            .all(|verdicts| verdicts.len() == expected[&workspaces[0]].len())
    );
    assert_eq!(per_workspace(&together), expected);
    // Every workspace sees its own stopped region.
    for verdicts in expected.values() {
        assert!(
            verdicts
                .iter()
                .any(|v| v.contains("us-east-1") && v.contains("\"stale\"")),
            "{verdicts:?}"
        );
    }
    reset(&server);

    let batches = validate_over(&server, &workspaces, &["--workspaces-per-query", "5"]);
    assert_eq!(server.requests(), 7 * 3 + 12, "batches of 5, 5 and 2");
    assert_eq!(per_workspace(&batches), expected);
}

#[test]
fn an_unreadable_workspace_is_reported_alone_and_the_others_are_unaffected() {
    // Whether the service fails a query whose list holds an unreadable workspace, or leaves
    // that workspace out of the union without a word, it is reported `forbidden`, never healthy.
    for mode in ["fails", "omits"] {
        let readable = workspace_ids(6);
        let forbidden = "00000000-0000-0000-0000-0000000000ff".to_string();
        let mut args = serve_args(&readable);
        args.extend(["--forbidden-workspace", forbidden.as_str()]);
        if mode == "omits" {
            args.push("--omit-forbidden");
        }
        let server = LocalWorkspace::start_args("healthy", &args);

        let clean = validate_over(&server, &readable, &[]);
        assert_eq!(clean.code, 0, "{}", clean.stderr);
        reset(&server);

        let mut all = readable.clone();
        all.insert(3, forbidden.clone());
        let run = validate_over(&server, &all, &[]);
        assert_eq!(run.code, 3, "{mode}: {}", run.stderr);
        let mut verdicts = per_workspace(&run);
        let refused = verdicts.remove(&forbidden).unwrap();
        assert_eq!(refused.len(), 8, "{mode}: {refused:?}");
        assert!(
            refused
                .iter()
                .all(|v| v.contains("\"error\" \"forbidden\"")),
            "{mode}: {refused:?}"
        );
        assert_eq!(verdicts, per_workspace(&clean), "{mode}");
        // Narrowing the failed batches down costs far less than asking every workspace alone.
        let requests = server.requests();
        assert!(requests < 7 * 8, "{mode}: {requests} requests");

        // An `events` check alone finds nothing in a healthy workspace; an empty answer is not
        // taken for the unreadable one, which is asked on its own.
        reset(&server);
        let events = validate_over(&server, &all, &["--check", "connector-health-failures"]);
        let mut verdicts = per_workspace(&events);
        let refused = verdicts.remove(&forbidden).unwrap();
        assert!(
            refused[0].contains("\"error\" \"forbidden\""),
            "{mode}: {refused:?}"
        );
        assert!(
            verdicts
                .values()
                .all(|v| v[0].contains("\"healthy\" \"none_found\"")),
            "{mode}: {verdicts:?}"
        );
    }
}

#[test]
fn a_missing_table_and_empty_answers_are_judged_as_each_workspace_alone() {
    for scenario in ["table-missing", "empty-table"] {
        let workspaces = workspace_ids(3);
        let server = LocalWorkspace::start_args(scenario, &serve_args(&workspaces));
        let alone = validate_over(&server, &workspaces, &["--workspaces-per-query", "1"]);
        reset(&server);
        let together = validate_over(&server, &workspaces, &[]);
        assert_eq!(together.code, alone.code, "{scenario}: {}", together.stderr);
        assert_eq!(
            per_workspace(&together),
            per_workspace(&alone),
            "{scenario}"
        );
        // No request saving to check here: with every workspace failing or empty, most checks
        // end up asking each workspace alone after the cross-workspace query.
    }
}
