//! Tests of the content pack: rule generation from small checks, every limit refused at its
//! field, the import files, and writing the pack atomically.

use std::path::{Path, PathBuf};

use super::*;
use crate::catalog::parse_check;

/// An events check on AWSCloudTrail; `rule` holds its `rule.*` lines (besides `rule: enabled`).
fn events_check(id: &str, title: &str, rule: &str) -> Check {
    let text = format!(
        "// id: {id}\n// version: 1.0.0\n// title: {title}\n// description: Finds denied \
         decrypts.\n// tables: AWSCloudTrail\n// group-by: AccountId, Region\n// severity: \
         high\n// classifier: events\n// thresholds: lookback\n// columns: Events, FirstSeen, \
         LastSeen, LastArrival\n// finding: denied\n// finding-message: {{Events}} denials\n\
         // rule: enabled\n{rule}let lookback = 3d;\nAWSCloudTrail\n\
         | where TimeGenerated > ago(lookback) // the rule's period covers it\n\
         | where ErrorCode == \"AccessDenied\"\n\
         | summarize Events = count(), FirstSeen = min(TimeGenerated), LastSeen = \
         max(TimeGenerated),\n    LastArrival = max(ingestion_time())\n    by AccountId = \
         RecipientAccountId, Region = AWSRegion\n"
    );
    parse_check(Path::new(&format!("queries/{id}.kql")), text.into_bytes())
        .unwrap_or_else(|errors| panic!("{errors:?}"))
}

fn tables() -> Vec<Table> {
    lint::schema::load(None).unwrap()
}

/// The fields the rule of a check with these `rule.*` lines is refused at.
fn refused_fields(rule_lines: &str) -> Vec<String> {
    let check = events_check("denials", "Denied decrypts", rule_lines);
    match rule(&check, std::slice::from_ref(&check), &tables()) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.into_iter().map(|problem| problem.field).collect(),
    }
}

#[test]
fn an_events_rule_reads_through_a_fuzzy_union_and_alerts_on_new_arrivals_once() {
    let check = events_check(
        "denials",
        "[prod] Denied decrypts",
        "// rule.frequency: 1h\n// rule.entities: Account(Name=AccountId)\n\
         // rule.custom-details: Region=Region\n// rule.alert-name: Denied in {{Group}}\n\
         // rule.grouping: 1d by Region\n// rule.tactics: DefenseEvasion\n\
         // rule.techniques: T1562\n",
    );
    let generated = rule(&check, std::slice::from_ref(&check), &tables()).unwrap();
    let query = &generated.query;
    assert!(
        query.contains(
            "let AWSCloudTrail_IfPresent = union isfuzzy=true (datatable(AWSRegion:string, \
             ErrorCode:string, RecipientAccountId:string, TimeGenerated:datetime)[]), \
             (AWSCloudTrail);"
        ),
        "{query}"
    );
    assert!(query.contains("let rule_window = 1h;"), "{query}");
    assert!(
        query.ends_with(
            "| extend Group = iff(isempty(AccountId) and isempty(Region), \"every group\", \
             strcat(AccountId, \"/\", Region))\n| where Status != \"healthy\" and \
             isnotnull(LastArrival) and LastArrival > ago(rule_window)\n"
        ),
        "{query}"
    );
    assert!(
        !query.contains("the rule's period covers it"),
        "comments are dropped"
    );

    let resource = &generated.resource;
    assert_eq!(
        resource["name"],
        format!(
            "[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{}')]",
            generated.name
        )
    );
    let properties = &resource["properties"];
    assert_eq!(
        properties["displayName"], "[prod] Denied decrypts",
        "only a string that also ends with `]` is an ARM expression"
    );
    assert_eq!(properties["queryFrequency"], "PT1H");
    assert_eq!(properties["queryPeriod"], "P3D", "the check's lookback");
    assert_eq!(properties["severity"], "High");
    assert_eq!(properties["triggerOperator"], "GreaterThan");
    assert_eq!(properties["templateVersion"], "1.0.0");
    assert_eq!(
        properties["entityMappings"],
        json!([{"entityType": "Account", "fieldMappings": [{"identifier": "Name", "columnName": "AccountId"}]}])
    );
    let grouping = &properties["incidentConfiguration"]["groupingConfiguration"];
    assert_eq!(grouping["matchingMethod"], "Selected");
    assert_eq!(grouping["groupByCustomDetails"], json!(["Region"]));
    assert_eq!(grouping["lookbackDuration"], "P1D");
}

#[test]
fn every_limit_is_refused_at_its_field() {
    let cases: &[(&str, &str)] = &[
        ("// rule.frequency: 30m\n", "queryFrequency"),
        ("// rule.frequency: 4d\n", "queryFrequency"),
        ("// rule.period: 20d\n", "queryPeriod"),
        (
            "// rule.frequency: 2m\n// rule.period: 3d\n",
            "queryFrequency",
        ),
        ("// rule.trigger: gt 20000\n", "triggerThreshold"),
        ("// rule.suppression: 2d\n", "suppressionDuration"),
        (
            "// rule.grouping: 8d\n",
            "incidentConfiguration/groupingConfiguration/lookbackDuration",
        ),
        ("// rule.tactics: Exfil\n", "tactics/0"),
        ("// rule.tactics: PreAttack\n", "tactics/0"),
        ("// rule.tactics: Impact, Impact\n", "tactics/1"),
        (
            "// rule.tactics: Impact\n// rule.techniques: T1562\n",
            "techniques/0",
        ),
        (
            "// rule.tactics: DefenseEvasion\n// rule.techniques: T1562.008\n",
            "techniques/0",
        ),
        (
            "// rule.tactics: DefenseEvasion\n// rule.techniques: T9999\n",
            "techniques/0",
        ),
        (
            "// rule.entities: Account(NTDomain=AccountId)\n",
            "entityMappings/0",
        ),
        (
            "// rule.entities: FileHash(Value=AccountId)\n",
            "entityMappings/0",
        ),
        (
            "// rule.entities: Account(Colour=AccountId)\n",
            "entityMappings/0/fieldMappings/0/identifier",
        ),
        (
            "// rule.entities: AwsAccount(Name=AccountId)\n",
            "entityMappings/0/entityType",
        ),
        (
            "// rule.entities: Account(Name=AccountId, Sid=Region, FullName=Events, PUID=LastSeen)\n",
            "entityMappings/0",
        ),
        (
            "// rule.entities: Account(Name=AccountId, Name=Region)\n",
            "entityMappings/0/fieldMappings/1/identifier",
        ),
        (
            "// rule.custom-details: ThisKeyIsLongerThanTwenty=Region\n",
            "customDetails/ThisKeyIsLongerThanTwenty",
        ),
        ("// rule.custom-details: 1st=Region\n", "customDetails/1st"),
        (
            "// rule.alert-name: {{AccountId}} {{Region}} {{Events}} {{LastSeen}}\n",
            "alertDetailsOverride/alertDisplayNameFormat",
        ),
        ("// rule.name: \n", "displayName"),
    ];
    for (lines, field) in cases {
        let fields = refused_fields(lines);
        assert!(fields.iter().any(|f| f == field), "{lines:?}: {fields:?}");
    }
    let eleven: Vec<String> = (0..11)
        .map(|_| "IP(Address=AccountId)".to_string())
        .collect();
    let fields = refused_fields(&format!("// rule.entities: {}\n", eleven.join("; ")));
    assert!(fields.contains(&"entityMappings".to_string()), "{fields:?}");
    let details: Vec<String> = (0..21).map(|n| format!("Detail{n}=Region")).collect();
    let fields = refused_fields(&format!("// rule.custom-details: {}\n", details.join(", ")));
    assert!(fields.contains(&"customDetails".to_string()), "{fields:?}");
    let long_name = "n".repeat(257);
    let fields = refused_fields(&format!("// rule.name: {long_name}\n"));
    assert_eq!(fields, ["displayName"]);
    assert_eq!(
        refused_fields(""),
        Vec::<String>::new(),
        "the defaults are valid"
    );
}

#[test]
fn a_version_with_a_pre_release_and_an_overlong_query_are_refused() {
    let check = events_check("denials", "Denied", "");
    let mut text = check
        .text
        .replace("// version: 1.0.0", "// version: 1.0.0-beta.1");
    let with_version = parse_check(&check.path, text.clone().into_bytes()).unwrap();
    let problems = rule(&with_version, &[], &tables()).unwrap_err();
    assert_eq!(problems[0].field, "templateVersion");

    text = check.text.clone();
    let padding = format!("| where ErrorCode != \"{}\"\n", "x".repeat(10_000));
    text.push_str(&padding);
    let long = parse_check(&check.path, text.into_bytes()).unwrap();
    let problems = rule(&long, &[], &tables()).unwrap_err();
    assert_eq!(problems[0].field, "query");
    assert!(
        problems[0].message.contains("Sentinel takes 1 to 10000"),
        "{}",
        problems[0].message
    );
}

#[test]
fn quiet_when_must_name_another_check_of_the_catalog() {
    let check = freshness_check("arrivals", "// rule.quiet-when: denials\n");
    let problems = rule(&check, std::slice::from_ref(&check), &tables()).unwrap_err();
    assert_eq!(problems[0].field, "query");
    assert!(problems[0].message.contains("`denials`"), "{problems:?}");

    let proof = events_check("denials", "Denied decrypts", "");
    let long_text = proof
        .text
        .replace("let lookback = 3d;", "let lookback = 10d;");
    let long = parse_check(&proof.path, long_text.into_bytes()).unwrap();
    let problems = rule(&check, &[check.clone(), long], &tables()).unwrap_err();
    assert!(
        problems[0]
            .message
            .contains("looks back 10d, longer than the rule's period 7d"),
        "{problems:?}"
    );
    let catalog = [check.clone(), proof];
    let generated = rule(&check, &catalog, &tables()).unwrap();
    assert!(
        generated.query.contains("let q1_lookback = 3d;"),
        "{}",
        generated.query
    );
    assert!(generated.query.contains("let QuietProven = q1_Proven;"));
    assert!(generated.query.contains(
        "| extend Reason = iff(Reason == \"never_seen\" and QuietProven, \"quiet\", Reason)"
    ));
}

fn freshness_check(id: &str, rule: &str) -> Check {
    let text = format!(
        "// id: {id}\n// version: 2.1.0\n// title: Arrivals\n// description: Arrivals per \
         group.\n// tables: AWSGuardDuty\n// group-by: AccountId, Region\n// severity: medium\n\
         // classifier: freshness\n// thresholds: lookback, lag_warning, lag_failure, \
         stale_after\n// columns: Rows, LastArrival, SinceLastArrival, IngestionLag\n\
         // rule: enabled\n{rule}let lookback = 7d;\nlet lag_warning = 1h;\nlet lag_failure = \
         6h;\nlet stale_after = 6h;\nAWSGuardDuty\n| where TimeGenerated > ago(lookback)\n\
         | summarize Rows = count(), LastArrival = max(ingestion_time()), LastGenerated = \
         max(TimeGenerated) by AccountId, Region\n| extend SinceLastArrival = now() - \
         LastArrival, IngestionLag = LastArrival - LastGenerated\n"
    );
    parse_check(Path::new(&format!("queries/{id}.kql")), text.into_bytes())
        .unwrap_or_else(|errors| panic!("{errors:?}"))
}

#[test]
fn a_freshness_rule_alerts_on_its_reasons_and_without_silence_factor_any_silence_is_a_stop() {
    let check = freshness_check("arrivals", "// rule.alert-on: stale\n");
    let generated = rule(&check, std::slice::from_ref(&check), &tables()).unwrap();
    assert!(
        generated
            .query
            .contains("SilentFor >= stale_after and true, \"stale\""),
        "{}",
        generated.query
    );
    assert!(generated.query.ends_with("| where Reason in (\"stale\")\n"));
    assert!(generated.query.contains(
        "| union (CheckResult | count | where Count == 0 | project Reason = \"never_seen\")"
    ));
    assert_eq!(generated.resource["properties"]["queryPeriod"], "P7D");
}

#[test]
fn two_rules_with_one_name_are_refused() {
    let pin = "// rule.id: 0b7c9f3e-52f1-4a51-9c1e-6f0d2b8c1a11\n";
    let catalog = [
        events_check("first", "First", pin),
        events_check("second", "Second", pin),
    ];
    let errors = generate(&catalog, &tables()).err().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].what, "check `second` (queries/second.kql)");
    assert_eq!(errors[0].field, "rule name (header `rule.id`)");
    assert!(errors[0].message.contains("check `first`"), "{errors:?}");
}

#[test]
fn rules_are_imported_fifty_a_file_and_every_build_is_the_same() {
    let catalog: Vec<Check> = (0..51)
        .map(|n| events_check(&format!("check-{n:02}"), &format!("Check {n}"), ""))
        .collect();
    let pack = generate(&catalog, &tables()).unwrap();
    assert_eq!(pack.rules, 51);
    let imports: Vec<&(PathBuf, Vec<u8>)> = (pack.files.iter())
        .filter(|(path, _)| path.starts_with(IMPORT_FOLDER))
        .collect();
    assert_eq!(imports.len(), 2);
    let count = |bytes: &[u8]| {
        let template: Value = serde_json::from_slice(bytes).unwrap();
        template["resources"].as_array().unwrap().len()
    };
    assert_eq!(count(&imports[0].1), 50);
    assert_eq!(count(&imports[1].1), 1);
    assert_eq!(
        imports[1].0,
        Path::new("import/sentinel-kms-rules-2.json"),
        "file names stay within [A-Za-z0-9_-]"
    );
    let again = generate(&catalog, &tables()).unwrap();
    assert_eq!(pack.files, again.files);
}

fn files(pairs: &[(&str, &str)]) -> Vec<(PathBuf, Vec<u8>)> {
    (pairs.iter())
        .map(|(path, text)| (PathBuf::from(path), text.as_bytes().to_vec()))
        .collect()
}

fn leftovers(parent: &Path) -> Vec<String> {
    (std::fs::read_dir(parent).unwrap())
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".sentinel-kms-"))
        .collect()
}

#[test]
fn a_pack_replaces_the_previous_one_whole_and_a_failed_write_leaves_it_as_it_was() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("dist");
    write_pack(
        &out,
        &files(&[("arm/a.json", "one"), ("gallery/b.json", "two")]),
    )
    .unwrap();
    write_pack(&out, &files(&[("arm/c.json", "three")])).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("arm/c.json")).unwrap(),
        "three"
    );
    assert!(
        !out.join("arm/a.json").exists(),
        "files of the previous pack go"
    );
    assert_eq!(
        std::fs::read_to_string(out.join(write::MARKER)).unwrap(),
        "# Written by sentinel-kms build; replaced whole by the next build.\narm/c.json\n"
    );

    // `arm/c.json` as a file and as a folder cannot both be written.
    let broken = files(&[("arm/c.json", "x"), ("arm/c.json/d.json", "y")]);
    assert!(matches!(
        write_pack(&out, &broken),
        Err(Error::Write { .. })
    ));
    assert_eq!(
        std::fs::read_to_string(out.join("arm/c.json")).unwrap(),
        "three"
    );
    assert_eq!(leftovers(parent.path()), Vec::<String>::new());
}

#[test]
fn a_folder_that_holds_something_else_is_never_replaced() {
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let error = write_pack(&out, &files(&[("arm/a.json", "one")])).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("holds no content pack written by sentinel-kms"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    write_pack(&empty, &files(&[("arm/a.json", "one")])).unwrap();
    assert!(empty.join("arm/a.json").is_file());
}

#[test]
fn rule_fields_map_to_the_header_keys_that_set_them() {
    assert_eq!(header_key("queryFrequency"), Some("rule.frequency"));
    assert_eq!(
        header_key("entityMappings/0/fieldMappings/1/identifier"),
        Some("rule.entities")
    );
    assert_eq!(
        header_key("alertDetailsOverride/alertDescriptionFormat"),
        Some("rule.alert-description")
    );
    assert_eq!(
        header_key("alertDetailsOverride/alertDisplayNameFormat"),
        Some("rule.alert-name")
    );
    assert_eq!(header_key("query"), None);
}

#[test]
fn a_workbook_with_a_fixed_subscription_is_refused_and_a_crowded_one_warned_about() {
    let fixed = "/subscriptions/2b2d3c4e-0000-0000-0000-000000000000/resourceGroups/rg";
    let content = json!({
        "version": "Notebook/1.0",
        "items": [{"type": 9, "name": "parameters", "content": {"value": fixed}}],
    });
    let serialized = serde_json::to_string(&content).unwrap();
    let problems = limits::workbook_problems(&content, &serialized);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("fixed resource ID"),
        "{problems:?}"
    );
    let placeholder = serialized.replace(fixed, "/subscriptions/{Subscription}");
    assert_eq!(
        limits::workbook_problems(&content, &placeholder),
        Vec::new()
    );

    let step = json!({"type": 3, "name": "q", "content": {"query": "T", "queryType": 0}});
    let crowded = json!({"version": "Notebook/1.0", "items": vec![step; 41]});
    let warnings = limits::workbook_warnings(&crowded);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].message.starts_with("41 Log Analytics queries"),
        "{warnings:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_link_to_a_pack_is_followed_and_kept() {
    let parent = tempfile::tempdir().unwrap();
    let real = parent.path().join("real");
    let link = parent.path().join("link");
    write_pack(&real, &files(&[("arm/a.json", "one")])).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write_pack(&link, &files(&[("arm/b.json", "two")])).unwrap();
    assert!(link.is_symlink(), "the link is still a link");
    assert_eq!(
        std::fs::read_to_string(real.join("arm/b.json")).unwrap(),
        "two"
    );
    assert!(!real.join("arm/a.json").exists());
}

#[test]
fn a_catalog_too_big_for_one_workbook_is_shared_out_among_several_that_keep_to_the_guidance() {
    let single = generate(&[events_check("denials", "Denied decrypts", "")], &tables()).unwrap();
    assert_eq!(single.workbooks, 1);
    let single_name = workbook_name(&single, "arm/pipeline-health-workbook.json");

    let catalog: Vec<Check> = (0..80)
        .map(|n| events_check(&format!("denials-{n:02}"), "Denied decrypts", ""))
        .collect();
    let pack = generate(&catalog, &tables()).unwrap();
    assert_eq!(pack.workbooks, 3);
    // The first part keeps the single workbook's resource name: a deployed one is updated.
    assert_eq!(
        workbook_name(&pack, "arm/pipeline-health-workbook.json"),
        single_name
    );
    let mut shown = Vec::new();
    let mut names = Vec::new();
    for (part, gallery) in [
        (1, "gallery/pipeline-health.json"),
        (2, "gallery/pipeline-health-2.json"),
        (3, "gallery/pipeline-health-3.json"),
    ] {
        let content: Value = serde_json::from_slice(file(&pack, gallery)).unwrap();
        let mut steps = Vec::new();
        collect_status_steps(&content, &mut steps);
        assert!(limits::workbook_warnings(&content).is_empty(), "{gallery}");
        assert_eq!(steps.len(), if part < 3 { 37 } else { 6 }, "{gallery}");
        shown.extend(steps);
        let arm = gallery
            .replace("gallery/", "arm/")
            .replace(".json", "-workbook.json");
        let template: Value = serde_json::from_slice(file(&pack, &arm)).unwrap();
        let properties = &template["resources"][0]["properties"];
        assert!(
            properties["displayName"]
                .as_str()
                .unwrap()
                .ends_with(&format!("({part} of 3)")),
            "{properties}"
        );
        let (first, last) = [(1, 37), (38, 74), (75, 80)][part - 1];
        assert!(
            properties["description"]
                .as_str()
                .unwrap()
                .ends_with(&format!("checks {first} to {last} of the catalog's 80.")),
            "{properties}"
        );
        names.push(workbook_name(&pack, &arm));
    }
    let expected: Vec<String> = catalog.iter().map(|c| format!("status {}", c.id)).collect();
    assert_eq!(shown, expected, "every check once, in catalog order");
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "every part has a name of its own");
}

fn file<'a>(pack: &'a Pack, path: &str) -> &'a [u8] {
    &pack
        .files
        .iter()
        .find(|(p, _)| p == Path::new(path))
        .unwrap_or_else(|| panic!("{path} is not in the pack"))
        .1
}

fn workbook_name(pack: &Pack, arm: &str) -> String {
    let template: Value = serde_json::from_slice(file(pack, arm)).unwrap();
    template["resources"][0]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

fn collect_status_steps(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map.get("name").and_then(Value::as_str)
                && name.starts_with("status ")
            {
                found.push(name.to_string());
            }
            map.values().for_each(|v| collect_status_steps(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_status_steps(v, found)),
        _ => {}
    }
}

#[test]
fn a_workbook_is_also_split_before_it_grows_too_long_to_save() {
    // 30 checks, under the 37 status steps a workbook takes, but of 20,000 characters each.
    let catalog: Vec<Check> = (0..30)
        .map(|n| {
            let id = format!("long-{n:02}");
            let text = String::from_utf8(events_check(&id, "Long", "").text.into_bytes())
                .unwrap()
                .replace("// rule: enabled\n", "")
                .replace(
                    "| where ErrorCode",
                    &format!(
                        "| where EventName != \"{}\"\n| where ErrorCode",
                        "x".repeat(20_000)
                    ),
                );
            parse_check(Path::new(&format!("queries/{id}.kql")), text.into_bytes())
                .unwrap_or_else(|errors| panic!("{errors:?}"))
        })
        .collect();
    let pack = generate(&catalog, &tables()).unwrap();
    assert_eq!(pack.workbooks, 2);
    let mut shown = 0;
    for gallery in [
        "gallery/pipeline-health.json",
        "gallery/pipeline-health-2.json",
    ] {
        let content: Value = serde_json::from_slice(file(&pack, gallery)).unwrap();
        let serialized = serde_json::to_string(&content).unwrap();
        if gallery == "gallery/pipeline-health.json" {
            assert!(serialized.len() > 450_000, "the first part takes what fits");
        }
        assert!(limits::workbook_problems(&content, &serialized).is_empty());
        let mut steps = Vec::new();
        collect_status_steps(&content, &mut steps);
        shown += steps.len();
    }
    assert_eq!(shown, 30);
}
