use serde_json::{Value, json};

use super::*;

pub(super) const DEFAULT_POLICY: &str = r#"{
    "Version": "2012-10-17",
    "Id": "key-consolepolicy-3",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111122223333:root" },
            "Action": "kms:*",
            "Resource": "*"
        },
        {
            "Sid": "Allow GuardDuty to use the key",
            "Effect": "Allow",
            "Principal": { "Service": "guardduty.amazonaws.com" },
            "Action": "kms:GenerateDataKey",
            "Resource": "*"
        }
    ]
}"#;

fn merge_into(policy: &str) -> (Remedy, MergedPolicy) {
    let mut remedy = remedy(&[KEY_EAST]);
    let current = CurrentKeyPolicy::parse(policy, "key-policy.json").unwrap();
    remedy
        .merge_current_policy(&KmsKeyArn::parse(KEY_EAST).unwrap(), &current)
        .unwrap();
    let merged = merged_of(&remedy.keys[0]).clone();
    (remedy, merged)
}

#[test]
fn merging_appends_the_statement_and_keeps_the_rest() {
    let (remedy, merged) = merge_into(DEFAULT_POLICY);
    assert_eq!(
        merged.outcome,
        MergeOutcome::Appended {
            sid: "AllowSentinelConnectorDecrypt".into(),
            clashed_with: None
        }
    );
    assert!(merged.notes.is_empty(), "{:?}", merged.notes);
    assert_valid_key_policy(&merged.document);

    let original: Value = serde_json::from_str(DEFAULT_POLICY).unwrap();
    let statements = merged.document["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    assert_eq!(
        statements[..2],
        original["Statement"].as_array().unwrap()[..]
    );
    assert_eq!(statements[2], *statement_of(&remedy.keys[0]));
    assert_eq!(merged.document["Id"], "key-consolepolicy-3");
    // Existing keys keep their order, so a diff against the current policy shows one addition.
    let keys: Vec<&String> = merged.document.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Version", "Id", "Statement"]);

    let put = remedy.keys[0].put_merged().unwrap();
    assert_eq!(
        put.commands,
        [format!(
            "aws kms put-key-policy --region us-east-1 --key-id {KEY_EAST} --policy-name default \
             --policy file://key-policy-1234abcd-12ab-34cd-56ef-1234567890ab.merged.json"
        )]
    );
}

#[test]
fn an_equivalent_statement_leaves_the_policy_as_it_is() {
    let granted = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Sid": "Readers", "Effect": "Allow",
              "Principal": {{"AWS": ["arn:aws:iam::111122223333:role/Other", "{ROLE}"]}},
              "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}}]}}"#
    );
    let (remedy, merged) = merge_into(&granted);
    assert_eq!(
        merged.outcome,
        MergeOutcome::AlreadyAllowed {
            statements: vec!["statement 1 (Sid `Readers`)".into()]
        }
    );
    assert_eq!(
        merged.document,
        serde_json::from_str::<Value>(&granted).unwrap()
    );
    assert!(remedy.keys[0].put_merged().is_none(), "nothing to put");

    // Split across two statements, with wildcards and the key's own ARN as resource.
    let split = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": "kms:Decrypt",
              "Resource": "*"}},
            {{"Sid": "Describe", "Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}},
              "Action": "kms:Describe*", "Resource": "{KEY_EAST}"}}]}}"#
    );
    let (_, merged) = merge_into(&split);
    assert_eq!(
        merged.outcome,
        MergeOutcome::AlreadyAllowed {
            statements: vec!["statement 1".into(), "statement 2 (Sid `Describe`)".into()]
        }
    );
}

#[test]
fn statements_that_only_look_equivalent_do_not_count() {
    let conditional = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
            {{"Sid": "Viaservice", "Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}},
              "Action": "kms:*", "Resource": "*",
              "Condition": {{"StringEquals": {{"kms:ViaService": "s3.us-west-2.amazonaws.com"}}}}}},
            {{"Sid": "Half", "Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}},
              "Action": "kms:Decrypt", "Resource": "*"}},
            {{"Sid": "OtherKey", "Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}},
              "Action": "kms:DescribeKey", "Resource": "{KEY_WEST}"}}]}}"#
    );
    let (_, merged) = merge_into(&conditional);
    assert!(merged.changed());
    assert_eq!(merged.notes.len(), 1, "{:?}", merged.notes);
    assert!(merged.notes[0].starts_with("statement 1 (Sid `Viaservice`) allows the role only"));
    assert_eq!(merged.document["Statement"].as_array().unwrap().len(), 4);
    assert_valid_key_policy(&merged.document);
}

#[test]
fn a_sid_clash_gets_the_next_free_number() {
    let clash = r#"{"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowSentinelConnectorDecrypt", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:role/OIDC_OtherWorkspace"},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "AllowSentinelConnectorDecrypt2", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*",
         "Resource": "*"}]}"#;
    let (_, merged) = merge_into(clash);
    assert_eq!(
        merged.outcome,
        MergeOutcome::Appended {
            sid: "AllowSentinelConnectorDecrypt3".into(),
            clashed_with: Some("AllowSentinelConnectorDecrypt".into())
        }
    );
    let statements = merged.document["Statement"].as_array().unwrap();
    assert_eq!(statements[2]["Sid"], "AllowSentinelConnectorDecrypt3");
    assert_eq!(
        statements[0]["Principal"]["AWS"], "arn:aws:iam::111122223333:role/OIDC_OtherWorkspace",
        "the clashing statement is untouched"
    );
    assert_valid_key_policy(&merged.document);
}

#[test]
fn denies_deleted_roles_and_oversized_policies_are_reported() {
    let risky = r#"{"Version": "2012-10-17", "Statement": {
            "Sid": "OldReader", "Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEID1234567"},
            "Action": "kms:Decrypt", "Resource": "*"}}"#;
    let (_, merged) = merge_into(risky);
    assert!(merged.notes[0].contains("`AROAEXAMPLEID1234567`, the ID KMS shows for a role"));
    // A lone statement object becomes an array of two.
    assert_eq!(merged.document["Statement"].as_array().unwrap().len(), 2);

    let deny = r#"{"Version": "2012-10-17", "Statement": [
        {"Sid": "NoDecryptOutsideS3", "Effect": "Deny", "Principal": "*",
         "NotAction": ["kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringNotLike": {"kms:ViaService": "s3.*.amazonaws.com"}}}]}"#;
    let (_, merged) = merge_into(deny);
    assert_eq!(merged.notes.len(), 1, "{:?}", merged.notes);
    assert!(
        merged.notes[0].starts_with("statement 1 (Sid `NoDecryptOutsideS3`) denies `kms:Decrypt`:")
    );

    let filler: Vec<String> = (0..300)
        .map(|n| {
            format!(
                r#"{{"Sid": "Filler{n}", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/R{n}"}}, "Action": "kms:Encrypt", "Resource": "*"}}"#
            )
        })
        .collect();
    let big = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        filler.join(",")
    );
    let (_, merged) = merge_into(&big);
    assert!(
        merged
            .notes
            .iter()
            .any(|note| note.contains("more than the 32768 bytes")),
        "{:?}",
        merged.notes
    );
}

#[test]
fn current_policies_that_are_not_policies_are_refused() {
    let error = CurrentKeyPolicy::parse(
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
        "kp.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("`kp.json`:4:1: not a key policy: the JSON is invalid"),
        "{error}"
    );

    let error = CurrentKeyPolicy::parse(r#"{"Version": "2012-10-17"}"#, "kp.json")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`kp.json`: not a valid key policy: `Statement` must be"),
        "{error}"
    );

    let error = CurrentKeyPolicy::parse(
        r#"{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#,
        "kp.json",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("statement 1: `Principal` or `NotPrincipal` is missing"),
        "{error}"
    );

    // The whole answer of `aws kms get-key-policy` without --query is understood.
    let answer = json!({ "Policy": DEFAULT_POLICY, "PolicyName": "default" }).to_string();
    let current = CurrentKeyPolicy::parse(&answer, "answer.json").unwrap();
    assert_eq!(current.statements().len(), 2);
    let error = CurrentKeyPolicy::parse(r#"{"Policy": "{oops"}"#, "answer.json")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`answer.json`: the policy in `Policy` is invalid JSON"),
        "{error}"
    );
}

#[test]
fn a_key_policy_for_a_key_without_one_is_refused() {
    let current = CurrentKeyPolicy::parse(DEFAULT_POLICY, "kp.json").unwrap();
    let mut remedy = Remedy::for_decrypt(&role(), &[key(GUARDDUTY_ALIAS), key(KEY_EAST)]).unwrap();
    let west = KmsKeyArn::parse(KEY_WEST).unwrap();
    let error = remedy
        .merge_current_policy(&west, &current)
        .unwrap_err()
        .to_string();
    assert!(error.contains("which is not one of the keys"), "{error}");

    let managed = KmsKeyArn::parse(
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ff",
    )
    .unwrap();
    let mut remedy =
        Remedy::for_decrypt(&role(), &[ExportKey::AwsManaged(managed.clone())]).unwrap();
    let error = remedy
        .merge_current_policy(&managed, &current)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("an AWS-managed key: its policy cannot be changed"),
        "{error}"
    );
}
