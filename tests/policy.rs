//! `sentinel-kms policy`: the built binary's documents and commands, its usage errors, and the
//! shell commands it prints run against stand-ins for `aws` and `jq` (tests/policy/).
//!
//! The file is long because a third of it is data: the answers AWS gives in the stand-in world
//! and the options each call must carry, kept beside the tests that read them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{python, sentinel_kms};
use sentinel_kms::arn::KmsKeyArn;
use sentinel_kms::policy::document::{PolicyKind, problems};
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
const KEY_EAST: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_OTHER: &str =
    "arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const GUARDDUTY_ALIAS: &str = "arn:aws:kms:us-east-1:111122223333:alias/aws/guardduty";
const DETECTOR: &str = "12abc34d567e8fa901bc2d34e56789f0";
const DESTINATION: &str = "ea6b1ea8a1b7c5d2b4e0ad9c5e8a7b3f";
const BUCKET_ARN: &str = "arn:aws:s3:::guardduty-findings-111122223333/exports";

const DEFAULT_POLICY: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-consolepolicy-3",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:aws:iam::111122223333:root" },
    "Action" : "kms:*",
    "Resource" : "*"
  }, {
    "Sid" : "Allow GuardDuty to use the key",
    "Effect" : "Allow",
    "Principal" : { "Service" : "guardduty.amazonaws.com" },
    "Action" : "kms:GenerateDataKey",
    "Resource" : "*"
  } ]
}"#;

fn policy_json(extra: &[&str]) -> Value {
    let mut args = vec!["policy", "--role-arn", ROLE, "--format", "json"];
    args.extend_from_slice(extra);
    let run = sentinel_kms(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Checks a generated policy by the IAM grammar after parsing its printed text back.
fn assert_grammar(document: &Value, kind: PolicyKind) {
    let reparsed: Value = serde_json::from_str(&document.to_string()).unwrap();
    assert_eq!(
        problems(&reparsed, kind),
        Vec::<String>::new(),
        "{reparsed:#}"
    );
    assert_eq!(reparsed["Version"], "2012-10-17");
}

#[test]
fn two_regions_in_two_accounts_give_one_iam_policy_and_two_statements() {
    let document = policy_json(&["--key-arn", KEY_OTHER, "--key-arn", KEY_EAST]);

    let identity = &document["identity_policy"];
    assert_grammar(&identity["document"], PolicyKind::Identity);
    let resources = identity["document"]["Statement"][0]["Resource"]
        .as_array()
        .unwrap();
    let resources: Vec<&str> = resources.iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(resources, [KEY_OTHER, KEY_EAST]);
    for resource in resources {
        KmsKeyArn::parse(resource).unwrap();
    }
    assert_eq!(
        identity["apply"]["commands"][0],
        "aws iam put-role-policy --role-name OIDC_MicrosoftSentinelRole --policy-name \
         SentinelGuardDutyExportDecrypt --policy-document file://identity-policy.json"
    );

    let keys = document["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["arn"], KEY_OTHER);
    assert_eq!(keys[0]["cross_account"], true);
    assert_eq!(
        keys[0]["required"],
        json!(["key_policy", "identity_policy"])
    );
    assert_eq!(keys[1]["cross_account"], false);
    for key in keys {
        let statement = &key["statement"];
        assert_grammar(
            &json!({ "Version": "2012-10-17", "Statement": [statement] }),
            PolicyKind::Key,
        );
        assert_eq!(statement["Principal"]["AWS"], ROLE);
        assert_eq!(statement["Resource"], "*");
        assert!(key["merged"].is_null(), "no current policy was given");
        assert_eq!(
            key["fetch_current_policy"]["commands"][0],
            format!(
                "aws kms get-key-policy --region {} --key-id {} --policy-name default \
                 --query Policy --output text > {}",
                key["region"].as_str().unwrap(),
                key["arn"].as_str().unwrap(),
                key["current_policy_file"].as_str().unwrap()
            )
        );
    }
}

#[test]
fn a_key_policy_file_is_merged_into_a_whole_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "current.json", DEFAULT_POLICY);
    let document = policy_json(&[
        "--key-arn",
        KEY_EAST,
        "--key-policy",
        file.to_str().unwrap(),
    ]);
    let merged = &document["keys"][0]["merged"];
    assert_eq!(merged["result"], "appended");
    assert_eq!(merged["sid"], "AllowSentinelConnectorDecrypt");
    assert_grammar(&merged["policy"], PolicyKind::Key);
    let statements = merged["policy"]["Statement"].as_array().unwrap();
    let original: Value = serde_json::from_str(DEFAULT_POLICY).unwrap();
    assert_eq!(
        statements[..2],
        original["Statement"].as_array().unwrap()[..]
    );
    assert_eq!(statements[2], document["keys"][0]["statement"]);
    assert!(
        merged["apply"]["commands"][0]
            .as_str()
            .unwrap()
            .starts_with("aws kms put-key-policy --region us-east-1 --key-id")
    );

    // With several keys, each file names its key; a policy that already allows the role
    // is left as it is, with nothing to apply.
    let granted = write(
        dir.path(),
        "granted.json",
        &serde_json::to_string(&merged["policy"]).unwrap(),
    );
    let document = policy_json(&[
        "--key-arn",
        KEY_EAST,
        "--key-arn",
        KEY_OTHER,
        "--key-policy",
        &format!("{KEY_EAST}={}", granted.display()),
    ]);
    let east = &document["keys"][1];
    assert_eq!(east["arn"], KEY_EAST);
    assert_eq!(east["merged"]["result"], "already_allowed");
    assert_eq!(
        east["merged"]["granting_statements"],
        json!(["statement 3 (Sid `AllowSentinelConnectorDecrypt`)"])
    );
    assert!(east["merged"]["apply"].is_null());
    assert!(document["keys"][0]["merged"].is_null());

    // IAM compares actions without regard to case: a grant written `KMS:Decrypt` is read, and
    // counts, as the same grant.
    let shouted = serde_json::to_string(&merged["policy"])
        .unwrap()
        .replace("\"kms:Decrypt\"", "\"KMS:Decrypt\"")
        .replace("\"kms:DescribeKey\"", "\"Kms:describekey\"");
    assert!(shouted.contains("KMS:Decrypt"), "{shouted}");
    let shouted = write(dir.path(), "shouted.json", &shouted);
    let document = policy_json(&[
        "--key-arn",
        KEY_EAST,
        "--key-policy",
        shouted.to_str().unwrap(),
    ]);
    assert_eq!(document["keys"][0]["merged"]["result"], "already_allowed");
}

#[test]
fn a_key_policy_can_come_from_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
        .args([
            "policy",
            "--role-arn",
            ROLE,
            "--key-arn",
            KEY_EAST,
            "--key-policy",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let answer = json!({ "Policy": DEFAULT_POLICY, "PolicyName": "default" }).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("The current policy (-) with the statement appended"),
        "{text}"
    );
}

#[test]
fn the_text_output_has_each_document_and_command() {
    let run = sentinel_kms(&[
        "policy",
        "--role-arn",
        ROLE,
        "--key-arn",
        KEY_EAST,
        "--key-arn",
        GUARDDUTY_ALIAS,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Compared with runs of whitespace made single, as the text wraps at 100 characters.
    let text = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "== 1. The IAM policy of role OIDC_MicrosoftSentinelRole ==",
        "Save this as identity-policy.json, then attach it:",
        &format!("== 2. Key {GUARDDUTY_ALIAS} (us-east-1) =="),
        "is an AWS-managed key: AWS owns its key policy and nobody can change it",
        "Save it as new-key-policy-us-east-1.json:",
        "\"aws:SourceArn\": \"arn:aws:guardduty:us-east-1:111122223333:detector/*\"",
        &format!("== 3. Key {KEY_EAST} (us-east-1) =="),
        "It is one statement, not a policy",
        "== 4. Verify ==",
        "aws iam simulate-principal-policy \\",
        "# | where tobool(ServiceDetails.additionalInfo.sample)",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{}", run.stdout);
    }
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn bad_input_is_exit_2_and_names_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(
        dir.path(),
        "broken.json",
        "{\n  \"Statement\": [\n    {\"Effect\": }\n",
    );
    let not_policy = write(dir.path(), "list.json", "[1, 2]");
    let broken_arg = broken.to_str().unwrap();
    let missing = dir.path().join("missing.json");
    let missing_arg = missing.to_str().unwrap();
    let other_key_policy = format!("{KEY_OTHER}={broken_arg}");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "--role-arn",
                "arn:aws:iam::1111:role/R",
                "--key-arn",
                KEY_EAST,
            ],
            "`arn:aws:iam::1111:role/R` is not a valid IAM role ARN: the account `1111`".into(),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                "arn:aws:kms:us-east-1:111122223333:key/x",
            ],
            "the key ID `x` is neither".into(),
        ),
        (vec!["--role-arn", ROLE], "--key-arn <ARN>".into()),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                KEY_EAST,
                "--key-policy",
                broken_arg,
            ],
            format!("`{broken_arg}`:3:16: not a key policy: the JSON is invalid"),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                KEY_EAST,
                "--key-policy",
                not_policy.to_str().unwrap(),
            ],
            "not a valid key policy: a policy is a JSON object".into(),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                KEY_EAST,
                "--key-policy",
                missing_arg,
            ],
            format!("cannot read the key policy `{missing_arg}`"),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                KEY_EAST,
                "--key-arn",
                KEY_OTHER,
                "--key-policy",
                broken_arg,
            ],
            "does not say which of the 2 keys it belongs to".into(),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                KEY_EAST,
                "--key-policy",
                &other_key_policy,
            ],
            "which is not one of the keys".into(),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                GUARDDUTY_ALIAS,
                "--key-policy",
                broken_arg,
            ],
            "is an AWS-managed key, whose policy cannot be changed".into(),
        ),
        (
            vec![
                "--role-arn",
                ROLE,
                "--key-arn",
                "arn:aws:kms:us-east-1:111122223333:alias/guardduty-export",
            ],
            "is the alias of a customer-managed key".into(),
        ),
        (
            vec![
                "--role-arn",
                "arn:aws:sts::111122223333:assumed-role/OIDC_X/MicrosoftSentinel_1",
                "--key-arn",
                KEY_EAST,
            ],
            "names a session of the role".into(),
        ),
    ];
    for (args, expected) in cases {
        let run = sentinel_kms(&[&["policy"][..], &args].concat());
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&expected),
            "{args:?}: expected {expected:?} in {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

/// A shell with `aws` and `jq` replaced by the stand-in, and `sentinel-kms` by the built binary,
/// that runs commands in a scratch folder.
struct Shell {
    dir: tempfile::TempDir,
    world: PathBuf,
    calls: PathBuf,
}

impl Shell {
    fn new(answers: Value, expect: Value) -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls.jsonl");
        let world = json!({
            "answers": answers,
            "expect": expect,
            "files": ["--policy-document", "--policy"],
            "calls": calls,
        });
        let world_path = write(dir.path(), "world.json", &world.to_string());
        Shell {
            dir,
            world: world_path,
            calls,
        }
    }

    /// Runs `commands` with `set -euo pipefail`; returns standard output.
    fn run(&self, commands: &[Value]) -> String {
        let stand_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy/cli_stand_in.py");
        let prelude = format!(
            "set -euo pipefail\n\
             aws() {{ '{python}' '{stand_in}' '{world}' aws \"$@\"; }}\n\
             jq() {{ '{python}' '{stand_in}' '{world}' jq \"$@\"; }}\n\
             sentinel-kms() {{ '{binary}' \"$@\"; }}\n",
            python = python().display(),
            stand_in = stand_in.display(),
            world = self.world.display(),
            binary = env!("CARGO_BIN_EXE_sentinel-kms"),
        );
        let lines: Vec<&str> = commands.iter().map(|c| c.as_str().unwrap()).collect();
        let script = format!("{prelude}{}\n", lines.join("\n"));
        let output = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{script}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// The calls made so far, as `SERVICE OPERATION` and their options.
    fn calls(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(&self.calls).unwrap_or_default();
        text.lines()
            .map(|line| {
                let call: Value = serde_json::from_str(line).unwrap();
                (
                    call["call"].as_str().unwrap().to_string(),
                    call["options"].clone(),
                )
            })
            .collect()
    }
}

/// What AWS answers in a world where GuardDuty in us-east-1 exports to `BUCKET_ARN` with
/// `key_arn`, and the key policy is `key_policy`.
fn answers(key_arn: &str, key_policy: &str) -> Value {
    json!({
        "guardduty list-detectors": { "DetectorIds": [DETECTOR] },
        "guardduty list-publishing-destinations": {
            "Destinations": [{ "DestinationId": DESTINATION, "DestinationType": "S3",
                               "Status": "PUBLISHING" }]
        },
        "guardduty describe-publishing-destination": {
            "DestinationId": DESTINATION,
            "DestinationType": "S3",
            "Status": "PUBLISHING",
            "PublishingFailureStartTimestamp": 0,
            "DestinationProperties": { "DestinationArn": BUCKET_ARN, "KmsKeyArn": key_arn }
        },
        "guardduty create-sample-findings": {},
        "guardduty update-publishing-destination": {},
        "s3api list-objects-v2": { "Contents": [
            { "Key": "exports/AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/01/a.jsonl.gz",
              "LastModified": "2026-12-01T08:00:00+00:00" },
            { "Key": "exports/AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/03/c.jsonl.gz",
              "LastModified": "2026-12-03T09:30:00+00:00" },
            { "Key": "exports/AWSLogs/111122223333/GuardDuty/eu-west-1/2026/12/03/d.jsonl.gz",
              "LastModified": "2026-12-03T11:00:00+00:00" },
            { "Key": "exports/AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/02/b.jsonl.gz",
              "LastModified": "2026-12-02T10:00:00+00:00" }
        ] },
        "s3api head-object": { "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn },
        "kms get-key-policy": { "Policy": key_policy, "PolicyName": "default" },
        "kms put-key-policy": {},
        "kms create-key": { "KeyMetadata": {
            "Arn": "arn:aws:kms:us-east-1:111122223333:key/0f0f0f0f-1111-2222-3333-444455556666"
        } },
        "iam put-role-policy": {},
        "iam simulate-principal-policy": { "EvaluationResults": [
            { "EvalActionName": "kms:Decrypt", "EvalResourceName": key_arn,
              "EvalDecision": "allowed" },
            { "EvalActionName": "kms:DescribeKey", "EvalResourceName": key_arn,
              "EvalDecision": "implicitDeny" }
        ] }
    })
}

/// The options the calls must carry: the detector, destination, bucket and newest object.
fn expectations() -> Value {
    let destination = json!({ "--detector-id": DETECTOR, "--destination-id": DESTINATION });
    json!({
        "guardduty list-publishing-destinations": { "--detector-id": DETECTOR },
        "guardduty describe-publishing-destination": destination,
        "guardduty update-publishing-destination": destination,
        "guardduty create-sample-findings": {
            "--detector-id": DETECTOR,
            "--finding-types": "Recon:EC2/PortProbeUnprotectedPort"
        },
        "s3api list-objects-v2": { "--bucket": "guardduty-findings-111122223333" },
        "s3api head-object": {
            "--bucket": "guardduty-findings-111122223333",
            "--key": "exports/AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/03/c.jsonl.gz"
        }
    })
}

fn step<'a>(steps: &'a Value, purpose: &str) -> &'a Value {
    steps
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["purpose"].as_str().unwrap().contains(purpose))
        .unwrap_or_else(|| panic!("no step about {purpose:?} in {steps:#}"))
}

#[test]
fn the_printed_commands_apply_and_verify_against_stand_ins() {
    let dir = tempfile::tempdir().unwrap();
    let current = write(dir.path(), "current.json", DEFAULT_POLICY);
    let document = policy_json(&[
        "--key-arn",
        KEY_EAST,
        "--key-policy",
        current.to_str().unwrap(),
    ]);
    let key = &document["keys"][0];
    let merged = serde_json::to_string_pretty(&key["merged"]["policy"]).unwrap();

    // Before the change the key policy names no role; after it, the added statement.
    let before = Shell::new(answers(KEY_EAST, DEFAULT_POLICY), expectations());
    let names_role = &step(&key["verify"], "statements that name the role")["commands"];
    let found: Value = serde_json::from_str(&before.run(names_role.as_array().unwrap())).unwrap();
    assert_eq!(found, json!([]));
    let shell = Shell::new(answers(KEY_EAST, &merged), expectations());
    let found: Value = serde_json::from_str(&shell.run(names_role.as_array().unwrap())).unwrap();
    assert_eq!(found, json!([key["statement"]]));

    // Applying: the documents saved under the names the output gives are what the calls read.
    write(
        shell.dir.path(),
        document["identity_policy"]["file"].as_str().unwrap(),
        &document["identity_policy"]["document"].to_string(),
    );
    write(
        shell.dir.path(),
        key["merged"]["file"].as_str().unwrap(),
        &merged,
    );
    shell.run(
        document["identity_policy"]["apply"]["commands"]
            .as_array()
            .unwrap(),
    );
    shell.run(key["merged"]["apply"]["commands"].as_array().unwrap());
    let calls = shell.calls();
    assert_eq!(calls[1].0, "iam put-role-policy");
    assert_eq!(calls[1].1["--role-name"], "OIDC_MicrosoftSentinelRole");
    assert_eq!(calls[2].0, "kms put-key-policy");
    assert_eq!(calls[2].1["--key-id"], KEY_EAST);
    assert_eq!(calls[2].1["--region"], "us-east-1");

    let simulate = step(&document["verify"], "simulate")["commands"]
        .as_array()
        .unwrap();
    assert_eq!(
        shell.run(simulate),
        format!("kms:Decrypt\t{KEY_EAST}\tallowed\nkms:DescribeKey\t{KEY_EAST}\timplicitDeny\n")
    );

    let export = step(&key["verify"], "exports with this key")["commands"]
        .as_array()
        .unwrap();
    assert_eq!(
        shell.run(export),
        format!("PUBLISHING\t{BUCKET_ARN}\t{KEY_EAST}\n{KEY_EAST}\n"),
        "the destination, then the key of the newest us-east-1 object"
    );

    let sample = step(&key["verify"], "sample finding");
    shell.run(sample["commands"].as_array().unwrap());
    let (call, options) = shell.calls().pop().unwrap();
    assert_eq!(call, "guardduty create-sample-findings");
    assert_eq!(options["--region"], "us-east-1");
    assert!(
        sample["kql"]
            .as_str()
            .unwrap()
            .contains("Region == \"us-east-1\"")
    );
}

#[test]
fn the_move_off_the_aws_managed_key_runs_through() {
    let document = policy_json(&["--key-arn", GUARDDUTY_ALIAS]);
    let new_key = &document["keys"][0]["new_key"];
    assert_grammar(&new_key["policy"], PolicyKind::Key);
    let new_arn = "arn:aws:kms:us-east-1:111122223333:key/0f0f0f0f-1111-2222-3333-444455556666";

    let mut expect = expectations();
    expect["guardduty update-publishing-destination"]["--destination-properties"] =
        json!(format!("DestinationArn={BUCKET_ARN},KmsKeyArn={new_arn}"));
    let shell = Shell::new(answers(GUARDDUTY_ALIAS, DEFAULT_POLICY), expect);
    write(
        shell.dir.path(),
        new_key["file"].as_str().unwrap(),
        &new_key["policy"].to_string(),
    );
    let output = shell.run(new_key["apply"]["commands"].as_array().unwrap());

    let calls: Vec<String> = shell.calls().into_iter().map(|(call, _)| call).collect();
    assert_eq!(
        calls,
        [
            "kms create-key",
            "guardduty list-detectors",
            "guardduty list-publishing-destinations",
            "guardduty describe-publishing-destination",
            "guardduty update-publishing-destination"
        ]
    );
    // The last command is this tool again, for the new key.
    assert!(output.contains(&format!("\"{new_arn}\"")), "{output}");
    assert!(output.contains("== 1. The IAM policy of role OIDC_MicrosoftSentinelRole =="));
}
