//! `doctor --aws` end to end: the built binary against a local AWS (moto in server mode behind
//! tests/aws/standin.py, which also serves GuardDuty's publishing destinations and IAM's policy
//! simulator, and records every operation), reached through `AWS_ENDPOINT_URL`. One world per
//! test, each with the verdict and remedy it must produce; the recording proves the doctor only
//! reads.

#![cfg(feature = "aws")]

mod common;

use std::process::Command;

use common::aws::{ACCOUNT, BUCKET, CHECKS, LocalAws, MEMBER, QUEUE, ROLE};
use serde_json::Value;

/// `doctor --aws --role-arn ROLE --format json` with `extra`.
fn doctor(aws: &LocalAws, extra: &[&str]) -> Report {
    let run = aws.doctor(&[&["--format", "json"][..], extra].concat(), &[]);
    Report {
        code: run.code,
        json: run.json(),
    }
}

struct Report {
    code: i32,
    json: Value,
}

impl Report {
    fn results(&self) -> &Vec<Value> {
        self.json["results"].as_array().expect("results")
    }

    /// `check status reason` of every verdict that is not healthy, with its group.
    fn troubles(&self) -> Vec<String> {
        self.results()
            .iter()
            .filter(|r| r["status"] != "healthy")
            .map(|r| {
                let group = match &r["group"] {
                    Value::Object(g) => format!(
                        " {}/{}",
                        g["AccountId"].as_str().unwrap(),
                        g["Region"].as_str().unwrap()
                    ),
                    _ => String::new(),
                };
                format!("{} {} {}{group}", r["check"], r["status"], r["reason"]).replace('"', "")
            })
            .collect()
    }

    fn verdict(&self, check: &str) -> &Value {
        self.results()
            .iter()
            .find(|r| r["check"] == check && r["status"] != "healthy")
            .unwrap_or_else(|| panic!("no failing {check} in {:#?}", self.json["results"]))
    }

    fn remedy(&self, check: &str) -> &str {
        self.verdict(check)["remedy"].as_str().expect("a remedy")
    }
}

/// The JSON of the first statement in `text` (a remedy) that mentions `needle`.
fn statement_in(text: &str, needle: &str) -> Value {
    let start = text.find('{').expect("a JSON block in the remedy");
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    let value = stream.next().unwrap().unwrap();
    assert!(
        value.to_string().contains(needle),
        "{needle} not in {value}"
    );
    value
}

#[test]
fn a_healthy_world_passes_every_check_with_read_only_calls() {
    let aws = LocalAws::start("healthy");
    let report = doctor(&aws, &[]);
    assert_eq!(report.troubles(), Vec::<String>::new());
    assert_eq!(report.code, 0);
    let checks: Vec<&str> = report
        .results()
        .iter()
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, CHECKS);
    assert_eq!(report.json["aws"]["account"], ACCOUNT);
    assert_eq!(report.json["aws"]["regions"][0], "eu-west-1");
    let key_role = report
        .results()
        .iter()
        .find(|r| r["check"] == "aws-key-policy-role")
        .unwrap();
    assert!(
        key_role["message"]
            .as_str()
            .unwrap()
            .contains("statement 3 (Sid `AllowSentinelConnectorDecrypt`) of the key policy"),
        "{key_role:#}"
    );

    let operations = aws.operations();
    let names: Vec<String> = operations
        .iter()
        .map(|o| {
            format!(
                "{}:{}",
                o["service"].as_str().unwrap(),
                o["operation"].as_str().unwrap()
            )
        })
        .collect();
    // The recording is complete: every service the checks read shows up.
    for expected in [
        "sts:GetCallerIdentity",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:GetOpenIDConnectProvider",
        "iam:SimulatePrincipalPolicy",
        "guardduty:ListDetectors",
        "guardduty:DescribePublishingDestination",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:ListGrants",
        "s3:GetBucketLocation",
        "s3:GetBucketNotificationConfiguration",
        "s3:ListObjectsV2",
        "s3:HeadObject",
        "sqs:GetQueueAttributes",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    // And only reads: every operation is a Get, List, Describe, Head or the simulator, and no
    // REST call (S3, GuardDuty) uses a method that writes.
    for operation in &operations {
        let name = operation["operation"].as_str().unwrap();
        assert!(
            ["Get", "List", "Describe", "Head", "Simulate"]
                .iter()
                .any(|prefix| name.starts_with(prefix)),
            "a call that is not a read: {operation}"
        );
        let method = operation["method"].as_str().unwrap();
        let rest = matches!(operation["service"].as_str(), Some("s3" | "guardduty"));
        assert!(
            if rest {
                ["GET", "HEAD"].contains(&method)
            } else {
                method == "POST"
            },
            "{operation}"
        );
    }
    // The simulator was asked about exactly what the connector does.
    let simulated: Vec<String> = operations
        .iter()
        .filter(|o| o["operation"] == "SimulatePrincipalPolicy")
        .flat_map(|o| o["actions"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        simulated,
        [
            "kms:Decrypt",
            "kms:DescribeKey",
            "s3:GetObject",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueUrl"
        ]
    );
}

#[test]
fn a_key_policy_without_the_role_is_denied_and_the_remedy_is_the_statement_to_add() {
    let aws = LocalAws::start("key-policy-without-role");
    let report = doctor(&aws, &[]);
    assert_eq!(
        report.troubles(),
        [
            "aws-key-policy-role no_data key_policy_denies_role 111122223333/eu-west-1",
            "aws-policy-simulation lag simulated_denied 111122223333/eu-west-1",
        ]
    );
    assert_eq!(report.code, 1);
    let verdict = report.verdict("aws-key-policy-role");
    let message = verdict["message"].as_str().unwrap();
    assert!(
        message.contains("delegates to the role's account")
            && message.contains("statement 1 (Sid `EnableIamPolicies`) of the key policy"),
        "{message}"
    );
    let remedy = report.remedy("aws-key-policy-role");
    let statement = statement_in(
        &remedy[remedy.find("Statement to add").unwrap()..],
        "kms:Decrypt",
    );
    assert_eq!(statement["Principal"]["AWS"], ROLE);
    assert_eq!(
        statement["Action"],
        serde_json::json!(["kms:Decrypt", "kms:DescribeKey"])
    );
    assert!(
        remedy.contains("sentinel-kms policy --role-arn"),
        "{remedy}"
    );
    // The merged policy keeps the two statements there and appends the role's.
    let merged = &verdict["evidence"]["merged_key_policy"]["Statement"];
    let sids: Vec<&str> = merged
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids,
        [
            "EnableIamPolicies",
            "AllowGuardDutyExport",
            "AllowSentinelConnectorDecrypt"
        ]
    );
}

#[test]
fn a_key_in_another_region_than_the_bucket_is_named_with_a_key_to_create_there() {
    let aws = LocalAws::start("key-wrong-region");
    let report = doctor(&aws, &[]);
    assert_eq!(
        report.troubles(),
        ["aws-export-key no_data key_region_mismatch 111122223333/eu-west-1"]
    );
    let message = report.verdict("aws-export-key")["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains(":kms:us-east-1:")
            && message.contains("is in us-east-1, the bucket in eu-west-1"),
        "{message}"
    );
    let remedy = report.remedy("aws-export-key");
    assert!(
        remedy.contains("aws kms create-key --region eu-west-1"),
        "{remedy}"
    );
    let policy = statement_in(
        &remedy[remedy.find("new-key-policy.json,").unwrap()..],
        "guardduty",
    );
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(
        statements[1]["Principal"]["Service"],
        "guardduty.amazonaws.com"
    );
    assert_eq!(
        statements[1]["Condition"]["StringLike"]["aws:SourceArn"],
        "arn:aws:guardduty:eu-west-1:111122223333:detector/*"
    );
    assert_eq!(statements[2]["Principal"]["AWS"], ROLE);
}

#[test]
fn a_notification_prefix_of_one_account_misses_the_others_folder() {
    let aws = LocalAws::start("notification-one-account");
    let report = doctor(&aws, &[]);
    assert_eq!(
        report.troubles(),
        [format!(
            "aws-bucket-notification no_data notification_misses_folder {MEMBER}/eu-west-1"
        )]
    );
    let covered = report
        .results()
        .iter()
        .find(|r| r["check"] == "aws-bucket-notification" && r["group"]["AccountId"] == ACCOUNT)
        .unwrap();
    assert_eq!(covered["status"], "healthy");
    let message = report.verdict("aws-bucket-notification")["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains(&format!("AWSLogs/{MEMBER}/GuardDuty/eu-west-1/"))
            && message.contains(&format!("prefix `AWSLogs/{ACCOUNT}/GuardDuty/`")),
        "{message}"
    );
    let remedy = report.remedy("aws-bucket-notification");
    assert!(
        remedy.contains(&format!(
            "put-bucket-notification-configuration --bucket {BUCKET}"
        )),
        "{remedy}"
    );
    let configuration = statement_in(remedy, "QueueConfigurations");
    let queue = &configuration["QueueConfigurations"][0];
    assert_eq!(queue["QueueArn"], QUEUE);
    assert_eq!(
        queue["Filter"]["Key"]["FilterRules"][0]["Value"],
        "AWSLogs/"
    );
    assert_eq!(queue["Filter"]["Key"]["FilterRules"][1]["Value"], ".gz");
}

#[test]
fn a_queue_policy_without_s3_refuses_the_notifications() {
    let aws = LocalAws::start("queue-policy-without-s3");
    let report = doctor(&aws, &[]);
    assert_eq!(
        report.troubles(),
        ["aws-queue no_data queue_policy_refuses_s3 111122223333/eu-west-1"]
    );
    let remedy = report.remedy("aws-queue");
    let list = &remedy[remedy.find("\n[").unwrap() + 1..];
    let statements: Value = serde_json::Deserializer::from_str(list)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        statements.as_array().unwrap().len(),
        1,
        "only S3's statement is missing"
    );
    let statement = &statements[0];
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(statement["Resource"], QUEUE);
    assert_eq!(
        statement["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:s3:::{BUCKET}")
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        ACCOUNT
    );
    // The whole policy to set keeps the role's statement and adds S3's.
    let to_set = &report.verdict("aws-queue")["evidence"]["queue_policy_to_set"]["Statement"];
    assert_eq!(to_set.as_array().unwrap().len(), 2);
}

#[test]
fn a_trust_policy_pinned_to_the_old_session_prefix_gets_both_prefixes() {
    let aws = LocalAws::start("trust-pinned-old-prefix");
    let report = doctor(&aws, &[]);
    assert_eq!(
        report.troubles(),
        ["aws-connector-trust no_data trust_session_name_pinned"]
    );
    let verdict = report.verdict("aws-connector-trust");
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .contains("MicrosoftDefenderForClouds_"),
        "{verdict:#}"
    );
    let fixed = &verdict["evidence"]["trust_policy_to_put"]["Statement"][0]["Condition"];
    // Both prefixes, for the workspace the pinned policy named.
    assert_eq!(
        fixed["StringLike"]["sts:RoleSessionName"],
        serde_json::json!([
            "MicrosoftSentinel_00000000-0000-0000-0000-000000000001",
            "MicrosoftDefenderForClouds_00000000-0000-0000-0000-000000000001"
        ])
    );
    assert_eq!(
        fixed["StringEquals"]["sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/:aud"],
        "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e"
    );
    assert!(
        fixed["StringEquals"].get("sts:RoleSessionName").is_none(),
        "{fixed:#}"
    );
    assert!(
        report
            .remedy("aws-connector-trust")
            .contains("aws iam update-assume-role-policy --role-name OIDC_MicrosoftSentinelRole")
    );
}

/// A real `validate` result (the local workspace's region-stopped scenario: us-east-1 of
/// 111122223333 stopped two days ago) joined to the AWS side, where us-east-1 has no detector.
#[test]
fn a_validate_result_is_correlated_with_the_aws_side_cause_per_region() {
    let workspace = common::LocalWorkspace::start("region-stopped");
    let validate = common::validate(&workspace, &[]);
    let aws = LocalAws::start("healthy");
    let file = aws.dir.path().join("validate.json");
    std::fs::write(&file, &validate.stdout).unwrap();
    let report = doctor(&aws, &["--validate-result", file.to_str().unwrap()]);
    assert_eq!(
        report.json["aws"]["regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    assert_eq!(
        report.troubles(),
        ["aws-export-destination no_data no_detector 111122223333/us-east-1"]
    );
    let diagnoses = report.json["diagnoses"].as_array().unwrap();
    assert_eq!(diagnoses.len(), 1, "{diagnoses:#?}");
    let diagnosis = &diagnoses[0];
    assert_eq!(diagnosis["cause"], "aws_side_cause");
    let summary = diagnosis["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("111122223333 us-east-1 stale since ")
            && summary.contains(": GuardDuty has no detector in us-east-1"),
        "{summary}"
    );
    assert_eq!(diagnosis["workspace"], common::WORKSPACE);
    let index = diagnosis["verdicts"][0].as_u64().unwrap() as usize;
    assert_eq!(report.results()[index]["reason"], "no_detector");
    assert!(
        diagnosis["remedy"]
            .as_str()
            .unwrap()
            .contains("create-detector --region us-east-1")
    );
}

#[test]
fn unreachable_aws_is_could_not_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
        .args(["doctor", "--aws", "--region", "eu-west-1"])
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sts:GetCallerIdentity") && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn no_credentials_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
        .args(["doctor", "--aws", "--region", "eu-west-1"])
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}

#[test]
fn usage_errors_name_the_value() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
            .args(args)
            .output()
            .unwrap()
    };
    let missing_side = run(&["doctor"]);
    assert_eq!(missing_side.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_side.stderr).contains("doctor --aws"));
    let bad_role = run(&["doctor", "--aws", "--role-arn", "arn:aws:iam::1234:role/x"]);
    assert_eq!(bad_role.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("12-digit"));
    let bad_policy = run(&["doctor", "--aws", "--fail-on", "none,lag"]);
    assert_eq!(bad_policy.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_policy.stderr).contains("cannot be combined"));
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("validate.json");
    std::fs::write(&bad_file, "{\"results\": [}").unwrap();
    let bad_result = run(&[
        "doctor",
        "--aws",
        "--validate-result",
        bad_file.to_str().unwrap(),
    ]);
    assert_eq!(bad_result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_result.stderr);
    assert!(stderr.contains("validate.json`:1:"), "{stderr}");
}
