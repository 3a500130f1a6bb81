//! `doctor --aws` delivered as `validate` delivers: JUnit with a suite per AWS account, read back
//! by junitparser; the Markdown summary; the CI logging commands under the failure policy; and
//! values from AWS (a key policy's statement Sid) and from a validate result (regions) that try
//! to issue commands.

use serde_json::Value;

use super::commands::{COMPLETE, commands, last_line};
use super::common::aws::{ACCOUNT, CHECKS, LocalAws};
use super::common::{self, LocalWorkspace};
use super::injection::{CiRuns, read};
use super::{agent_lines, read_junit};

const SET_VARIABLE: &str = "##vso[task.setvariable variable=x]1";
const NEUTRALISED: &str = "**vso[task.setvariable variable=x]1";

/// (case, kind, type) of every case of a suite, in the file's order.
fn cases(suite: &Value) -> Vec<(String, String, String)> {
    suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            (
                case["name"].as_str().unwrap().to_string(),
                case["kind"].as_str().unwrap().to_string(),
                case["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every check of the account in eu-west-1 (the trust policy role-wide) passes, but `failing`:
/// `(check, kind, type)`.
fn expected(failing: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    CHECKS
        .iter()
        .map(|check| {
            let name = if *check == "aws-connector-trust" {
                format!("{ACCOUNT}: {check}")
            } else {
                format!("{ACCOUNT}: {check} {ACCOUNT}/eu-west-1")
            };
            match failing.iter().find(|(c, ..)| c == check) {
                Some((_, kind, ty)) => (name, kind.to_string(), ty.to_string()),
                None => (name, "passed".into(), String::new()),
            }
        })
        .collect()
}

fn case<'a>(suite: &'a Value, check: &str) -> &'a Value {
    suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["classname"] == check)
        .unwrap_or_else(|| panic!("no case of {check} in {suite:#}"))
}

#[test]
fn a_broken_world_reads_back_as_one_suite_per_account_with_the_failing_cases() {
    let aws = LocalAws::start("key-policy-without-role");
    let junit = aws.dir.path().join("results/doctor.xml");
    let summary = aws.dir.path().join("results/doctor.md");
    let args = [
        "--junit",
        junit.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
        "--format",
        "json",
    ];
    let run = aws.doctor(&args, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The JSON on stdout is still the doctor's own document.
    let document = run.json();
    assert_eq!(document["aws"]["account"], ACCOUNT);
    assert_eq!(document["fail_on"], "no-data,lag");
    assert_eq!(document["checks"].as_array().unwrap().len(), 12);
    assert!(document["results"][0].get("check_file").is_none());

    let suites = read_junit(&junit);
    assert_eq!(suites.as_array().unwrap().len(), 1, "{suites:#}");
    let suite = &suites[0];
    assert_eq!(suite["name"], ACCOUNT);
    assert_eq!(
        [
            &suite["tests"],
            &suite["failures"],
            &suite["errors"],
            &suite["skipped"]
        ],
        [12, 1, 0, 0].map(Value::from).each_ref()
    );
    assert_eq!(suite["properties"]["aws_account"], ACCOUNT);
    assert!(suite["properties"].get("workspace_id").is_none());
    assert_eq!(suite["properties"]["fail_on"], "no-data,lag");
    assert_eq!(
        cases(suite),
        expected(&[("aws-key-policy-role", "failure", "no_data")])
    );
    let denied = case(suite, "aws-key-policy-role");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .starts_with("[key_policy_denies_role] the key policy delegates to the role's account"),
        "{denied:#}"
    );
    let text = denied["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("AWS account: {ACCOUNT}"))
            && text.contains("what to do: Allow `arn:aws:iam::111122223333:role/OIDC_")
            && text.contains("\"Sid\": \"AllowSentinelConnectorDecrypt\""),
        "{text}"
    );
    let simulated = case(suite, "aws-policy-simulation");
    assert!(
        simulated["system_out"]
            .as_str()
            .unwrap()
            .starts_with("warning: the simulator denies kms:Decrypt"),
        "{simulated:#}"
    );

    let page = read(&summary);
    assert!(
        page.starts_with(
            "## sentinel-kms doctor: 1 failed, 1 warnings, 0 could not be evaluated, 10 healthy\n\n\
             exit 1 · 1 AWS account · 12 checks · fail on no-data,lag · "
        ),
        "{page}"
    );
    assert!(
        page.contains("| AWS account | Result |")
            && page.contains(&format!("| `{ACCOUNT}` | ❌ failed | 10 | 1 | 1 | 0 |"))
            && page.contains(&format!(
                "| failed | {ACCOUNT} | aws-key-policy-role | {ACCOUNT} / eu-west-1 |"
            ))
            && page.contains("    \"Sid\": \"AllowSentinelConnectorDecrypt\","),
        "{page}"
    );

    // Warnings fail the run when asked to, and are failures in the file too; `none` fails nothing.
    let strict = aws.doctor(
        &[&args[..], &["--fail-on", "no-data,lag,warning"]].concat(),
        &[],
    );
    assert_eq!(strict.code, 1);
    assert_eq!(
        cases(&read_junit(&junit)[0]),
        expected(&[
            ("aws-key-policy-role", "failure", "no_data"),
            ("aws-policy-simulation", "failure", "lag"),
        ])
    );
    let lenient = aws.doctor(&[&args[..], &["--fail-on", "none"]].concat(), &[]);
    assert_eq!(lenient.code, 0, "{}", lenient.stderr);
    assert_eq!(lenient.json()["summary"]["warnings"], 2);
    assert_eq!(cases(&read_junit(&junit)[0]), expected(&[]));
    assert!(read(&summary).starts_with("## sentinel-kms doctor: 0 failed, 2 warnings"));
}

#[test]
fn ci_issues_point_at_no_file_and_the_result_follows_the_failure_policy() {
    let aws = LocalAws::start("key-policy-without-role");
    let agent_temp = aws.dir.path().join("agent");
    std::fs::create_dir(&agent_temp).unwrap();
    let azure = [
        ("TF_BUILD", "True"),
        ("AGENT_TEMPDIRECTORY", agent_temp.to_str().unwrap()),
    ];
    let run = aws.doctor(&[], &azure);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = commands(&run.stdout);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "##vso[task.logissue type=error;code=key_policy_denies_role]{ACCOUNT}: \
             aws-key-policy-role {ACCOUNT}/eu-west-1: the key policy delegates to the role's \
             account, but none of the role's IAM policies allows `kms:Decrypt`"
        )),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!(
            "##vso[task.logissue type=warning;code=simulated_denied]{ACCOUNT}: \
             aws-policy-simulation {ACCOUNT}/eu-west-1: the simulator denies kms:Decrypt"
        )),
        "{}",
        lines[1]
    );
    let uploaded = lines[2]
        .strip_prefix("##vso[task.uploadsummary]")
        .expect("the summary is uploaded");
    assert!(
        read(std::path::Path::new(uploaded)).starts_with("## sentinel-kms doctor: 1 failed"),
        "{uploaded}"
    );
    // A failure: the exit code is the step's result, no `task.complete`.
    assert!(!run.stdout.contains("task.complete"), "{}", run.stdout);

    // Nothing fails under `--fail-on none`: warnings only, so the step ends orange, last.
    let lenient = aws.doctor(&["--fail-on", "none"], &azure);
    assert_eq!(lenient.code, 0);
    let issues: Vec<&str> = commands(&lenient.stdout)
        .into_iter()
        .filter(|line| line.starts_with("##vso[task.logissue"))
        .collect();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert!(
        issues
            .iter()
            .all(|line| line.starts_with("##vso[task.logissue type=warning;code=")),
        "{issues:#?}"
    );
    assert_eq!(last_line(&lenient.stdout), COMPLETE);

    // Forced on with JSON: stdout stays the document, the commands go to stderr.
    let json = aws.doctor(&["--ci", "azure-devops", "--format", "json"], &[]);
    assert_eq!(json.json()["summary"]["failed"], 1);
    assert_eq!(commands(&json.stderr).len(), 2, "{}", json.stderr);

    // GitHub: annotations without a file or line, and the step summary.
    let step_summary = aws.dir.path().join("step-summary.md");
    let github = aws.doctor(
        &["--ci", "github"],
        &[("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap())],
    );
    let annotations = commands(&github.stdout);
    assert_eq!(annotations.len(), 2, "{annotations:#?}");
    assert!(
        annotations[0].starts_with(&format!(
            "::error title=aws-key-policy-role (key_policy_denies_role)::{ACCOUNT}: \
             aws-key-policy-role {ACCOUNT}/eu-west-1: the key policy delegates"
        )),
        "{}",
        annotations[0]
    );
    assert!(read(&step_summary).starts_with("## sentinel-kms doctor: 1 failed"));

    let healthy = LocalAws::start("healthy");
    let run = healthy.doctor(&[], &azure);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = commands(&run.stdout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("##vso[task.uploadsummary]"));
}

/// A key policy statement's Sid is free text that whoever may put the key policy writes; a
/// validate result's regions come from the workspace. Both carry logging commands here.
#[test]
fn values_from_aws_and_a_validate_result_reach_every_output_only_neutralised() {
    let workspace = LocalWorkspace::start("hostile");
    let validate = common::validate(&workspace, &[]);
    let aws = LocalAws::start("hostile-key-policy-sid");
    let result = aws.dir.path().join("validate.json");
    std::fs::write(&result, &validate.stdout).unwrap();
    let doctor = |extra: &[&str], env: &[(&str, &str)]| {
        let args = [
            &["--validate-result", result.to_str().unwrap(), "-vv"][..],
            extra,
        ]
        .concat();
        aws.doctor(&args, env)
    };

    // Outside any CI system the values come through as they are: both paths are real.
    let plain = doctor(&[], &[]);
    let sid = format!("Sid `EnableIamPolicies {SET_VARIABLE}`");
    assert!(
        plain.stdout.contains(&sid)
            && plain.stdout.contains(&format!(
                "Diagnosis 1: {ACCOUNT} {SET_VARIABLE} stale since"
            ))
            && plain.stdout.contains("\n::set-output name=y::2"),
        "{}",
        plain.stdout
    );

    let runs = CiRuns::new(doctor);
    let CiRuns {
        azure,
        azure_json,
        github,
        silenced,
        junit,
        summary,
        ..
    } = &runs;
    assert_eq!(azure.code, 1, "{}", azure.stderr);

    // The values are there, neutralised, in each output.
    let sid = format!("Sid `EnableIamPolicies {NEUTRALISED}`");
    for (what, text) in [
        ("azure", &azure.stdout),
        ("github", &github.stdout),
        ("silenced", &silenced.stdout),
        ("junit", &read(junit)),
    ] {
        assert!(text.contains(&sid), "{what}: {text}");
        assert!(text.contains("*::set-output name=y::2"), "{what}: {text}");
    }
    assert!(
        read(summary).contains("EnableIamPolicies \\*\\*vso\\[task.setvariable variable=x\\]1")
    );
    let document = azure_json.json();
    let regions: Vec<&str> = document["aws"]["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(regions.contains(&NEUTRALISED), "{regions:?}");
    let statements = document["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "aws-key-policy-role" && r["status"] == "no_data")
        .map(|r| &r["evidence"]["merged_key_policy"]["Statement"])
        .expect("the key policy verdict");
    assert_eq!(
        statements[0]["Sid"],
        format!("EnableIamPolicies {NEUTRALISED}")
    );

    // Our own commands: the key policy's issue carries the Sid, on one line.
    let issues: Vec<&str> = agent_lines(&azure.stdout)
        .into_iter()
        .filter(|line| line.starts_with("##vso[task.logissue"))
        .collect();
    assert!(
        issues.iter().any(|line| line
            .starts_with("##vso[task.logissue type=error;code=key_policy_denies_role]")
            && line.contains(&sid)),
        "{issues:#?}"
    );
    assert!(runs.silenced_has_no_command(), "{}", silenced.stdout);
}
