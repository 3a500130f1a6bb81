//! The analytic rules of the content pack executed against the local workspace, one scenario
//! per pipeline state. Each rule query runs as Sentinel runs it: over the rows of its
//! `queryPeriod` (the request's `timespan`). A rule alerts when its query returns rows.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

use common::{LocalWorkspace, TOKEN, WORKSPACE};
use serde_json::Value;

/// One rule of the pack: its query and its period.
struct PackRule {
    query: String,
    period: String,
}

/// The shipped catalog's pack, built once with `sentinel-kms build`: its rules by check id,
/// and the workbook's status steps by step name, each with the time range it runs over.
struct Pack {
    rules: BTreeMap<String, PackRule>,
    status_steps: BTreeMap<String, PackRule>,
}

fn pack_rules() -> &'static BTreeMap<String, PackRule> {
    &pack().rules
}

fn pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let output = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
            .args(["build", "--out", dir.path().to_str().unwrap()])
            .current_dir(root)
            // The queries' analysis is another test's; this one runs them.
            .env("SENTINEL_KMS_KUSTO_ANALYZER", root.join("tests/content"))
            .env_remove("SENTINEL_KMS_QUERIES")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let mut rules = BTreeMap::new();
        for entry in std::fs::read_dir(dir.path().join("arm")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix("-rule.json") else {
                continue;
            };
            let template: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let properties = &template["resources"][0]["properties"];
            rules.insert(
                id.to_string(),
                PackRule {
                    query: properties["query"].as_str().unwrap().to_string(),
                    period: properties["queryPeriod"].as_str().unwrap().to_string(),
                },
            );
        }
        let gallery = std::fs::read(dir.path().join("gallery/pipeline-health.json")).unwrap();
        let gallery: Value = serde_json::from_slice(&gallery).unwrap();
        let mut status_steps = BTreeMap::new();
        for group in gallery["items"].as_array().unwrap() {
            for step in group["content"]["items"].as_array().into_iter().flatten() {
                let content = &step["content"];
                let milliseconds = content["timeContext"]["durationMs"].as_i64().unwrap();
                status_steps.insert(
                    step["name"].as_str().unwrap().to_string(),
                    PackRule {
                        query: content["query"].as_str().unwrap().to_string(),
                        period: format!("PT{}S", milliseconds / 1000),
                    },
                );
            }
        }
        Pack {
            rules,
            status_steps,
        }
    })
}

/// Runs `rule` (or a workbook step) in `workspace`; the `(Group, Reason)` of each row, sorted.
fn alerts(workspace: &LocalWorkspace, id: &str, rule: &PackRule) -> Vec<(String, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = format!("{}/v1/workspaces/{WORKSPACE}/query", workspace.url);
    let body = serde_json::json!({ "query": rule.query, "timespan": rule.period });
    let (status, answer): (u16, Value) = runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    });
    assert_eq!(status, 200, "rule {id}: {answer}");
    let table = &answer["tables"][0];
    let columns: Vec<&str> = (table["columns"].as_array().unwrap().iter())
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    // A column the result lacks reads as empty (the workbook's steps have no `Group`).
    let cell = |row: &Value, name: &str| match columns.iter().position(|c| *c == name) {
        Some(index) => row[index].as_str().unwrap_or_default().to_string(),
        None => String::new(),
    };
    let mut rows: Vec<(String, String)> = (table["rows"].as_array().unwrap().iter())
        .map(|row| (cell(row, "Group"), cell(row, "Reason")))
        .collect();
    rows.sort();
    rows
}

/// Starts `scenario` and checks the rows of the rules listed; with `all_others_quiet`, every
/// rule not listed must return nothing.
fn expect(scenario: &str, expected: &[(&str, &[(&str, &str)])], all_others_quiet: bool) {
    let workspace = LocalWorkspace::start(scenario);
    for (id, rule) in pack_rules() {
        let wanted = expected.iter().find(|(rule_id, _)| rule_id == id);
        let Some(wanted) = wanted
            .map(|(_, rows)| *rows)
            .or(all_others_quiet.then_some(&[]))
        else {
            continue;
        };
        let wanted: Vec<(String, String)> = (wanted.iter())
            .map(|(group, reason)| (group.to_string(), reason.to_string()))
            .collect();
        assert_eq!(
            alerts(&workspace, id, rule),
            wanted,
            "{scenario}: rule {id}"
        );
    }
}

const EVERY_GROUP_NEVER_SEEN: &[(&str, &str)] = &[("every group", "never_seen")];

#[test]
fn the_pack_has_the_rules_these_tests_run() {
    let ids: Vec<&str> = pack_rules().keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "cloudtrail-freshness",
            "connector-health-failures",
            "connector-health-freshness",
            "guardduty-freshness",
            "kms-decrypt-denied",
            "kms-key-changes"
        ]
    );
    for (id, rule) in pack_rules() {
        assert!(
            rule.query.contains("union isfuzzy=true (datatable("),
            "{id} reads its tables through a fuzzy union"
        );
    }
}

#[test]
fn a_healthy_pipeline_raises_nothing() {
    expect("healthy", &[], true);
}

#[test]
fn a_quiet_account_with_a_healthy_connector_raises_nothing() {
    // No finding at all, but the connector reports healthy fetches and nothing was denied:
    // the GuardDuty rule's `rule.quiet-when` checks prove the pipeline works.
    expect("quiet", &[], true);
}

#[test]
fn an_empty_table_is_not_quiet_while_cloudtrail_cannot_show_denials() {
    // As `validate`: with the CloudTrail feed stopped, "no denied decrypt" proves nothing.
    expect(
        "quiet-cloudtrail-stopped",
        &[
            ("guardduty-freshness", EVERY_GROUP_NEVER_SEEN),
            ("cloudtrail-freshness", &[("every group", "stale")]),
        ],
        true,
    );
}

#[test]
fn late_findings_below_the_failure_level_raise_nothing() {
    expect("lag", &[], true);
}

#[test]
fn an_empty_table_raises_never_seen() {
    expect(
        "empty-table",
        &[
            ("guardduty-freshness", EVERY_GROUP_NEVER_SEEN),
            ("connector-health-freshness", EVERY_GROUP_NEVER_SEEN),
        ],
        true,
    );
}

#[test]
fn a_missing_table_raises_never_seen_and_every_rule_still_runs() {
    expect(
        "table-missing",
        &[
            ("guardduty-freshness", EVERY_GROUP_NEVER_SEEN),
            ("connector-health-freshness", EVERY_GROUP_NEVER_SEEN),
        ],
        true,
    );
    // SentinelHealth missing: health monitoring was never enabled.
    expect(
        "health-off",
        &[("connector-health-freshness", EVERY_GROUP_NEVER_SEEN)],
        true,
    );
}

#[test]
fn a_region_that_stopped_is_stale_while_the_others_flow() {
    expect(
        "region-stopped",
        &[(
            "guardduty-freshness",
            &[("111122223333/us-east-1", "stale")],
        )],
        true,
    );
    expect(
        "all-stopped",
        &[(
            "guardduty-freshness",
            &[
                ("111122223333/eu-west-1", "stale"),
                ("111122223333/us-east-1", "stale"),
                ("444455556666/eu-west-1", "stale"),
            ],
        )],
        false,
    );
}

#[test]
fn denied_decrypts_raise_the_kms_rule_and_the_connector_failure() {
    expect(
        "kms-denied",
        &[
            (
                "kms-decrypt-denied",
                &[("111122223333/eu-west-1", "kms_decrypt_denied")],
            ),
            (
                "connector-health-failures",
                &[("Amazon Web Services S3", "object_access_denied")],
            ),
            (
                "guardduty-freshness",
                &[("111122223333/eu-west-1", "stale")],
            ),
            // The key policy change arrived 8 hours ago: the run after its arrival alerted
            // on it, later runs do not alert again.
            ("kms-key-changes", &[]),
        ],
        true,
    );
    expect(
        "oidc-broken",
        &[(
            "connector-health-failures",
            &[("Amazon Web Services S3", "oidc_token_failed")],
        )],
        false,
    );
}

#[test]
fn a_key_change_that_arrived_late_is_still_seen() {
    // ScheduleKeyDeletion happened 5 h 20 min ago and arrived 20 min ago: a window on
    // TimeGenerated would miss it, the window on arrival does not.
    expect(
        "key-deletion-scheduled",
        &[(
            "kms-key-changes",
            &[("111122223333/eu-west-1", "key_deletion_scheduled")],
        )],
        true,
    );
}

#[test]
fn feeds_that_stopped_raise_their_freshness_rules() {
    expect(
        "cloudtrail-stale",
        &[("cloudtrail-freshness", &[("every group", "stale")])],
        false,
    );
    expect(
        "health-stopped",
        &[(
            "connector-health-freshness",
            &[("Amazon Web Services S3", "stale")],
        )],
        true,
    );
}

#[test]
fn the_workbook_shows_a_quiet_account_as_quiet_and_an_empty_table_as_never_seen() {
    let step = &pack().status_steps["status guardduty-freshness"];
    let quiet = LocalWorkspace::start("quiet");
    assert_eq!(
        alerts(&quiet, "status guardduty-freshness", step),
        [("".to_string(), "quiet".to_string())]
    );
    let empty = LocalWorkspace::start("empty-table");
    assert_eq!(
        alerts(&empty, "status guardduty-freshness", step),
        [("".to_string(), "never_seen".to_string())]
    );
}
