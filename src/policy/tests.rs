use serde_json::{Value, json};

use super::document::{PolicyKind, problems};
use super::statements::guardduty_principal;
use super::steps::shell_word;
use super::*;
use crate::arn::{KmsKeyArn, Partition, RoleArn};

const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
const KEY_EAST: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_WEST: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const KEY_OTHER: &str =
    "arn:aws:kms:us-east-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const GUARDDUTY_ALIAS: &str = "arn:aws:kms:us-east-1:111122223333:alias/aws/guardduty";

fn role() -> RoleArn {
    RoleArn::parse(ROLE).unwrap()
}

fn key(text: &str) -> ExportKey {
    ExportKey::parse(text, false).unwrap()
}

fn remedy(keys: &[&str]) -> Remedy {
    let keys: Vec<ExportKey> = keys.iter().map(|text| key(text)).collect();
    Remedy::for_decrypt(&role(), &keys).unwrap()
}

/// Asserts an IAM identity policy is valid by the grammar and only names valid KMS key ARNs,
/// after a round trip through its JSON text.
fn assert_valid_identity_policy(document: &Value) -> Vec<String> {
    let text = serde_json::to_string_pretty(document).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        problems(&parsed, PolicyKind::Identity),
        Vec::<String>::new()
    );
    assert_eq!(parsed["Version"], "2012-10-17");
    let statements = parsed["Statement"].as_array().expect("a Statement array");
    let mut resources = Vec::new();
    for statement in statements {
        assert!(["Allow", "Deny"].contains(&statement["Effect"].as_str().unwrap()));
        for resource in statement["Resource"].as_array().unwrap() {
            let arn = resource.as_str().unwrap();
            KmsKeyArn::parse(arn).unwrap_or_else(|error| panic!("{error}"));
            resources.push(arn.to_string());
        }
    }
    resources
}

/// Asserts a key policy is valid by the grammar after a round trip through its JSON text.
fn assert_valid_key_policy(document: &Value) {
    let text = serde_json::to_string_pretty(document).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        problems(&parsed, PolicyKind::Key),
        Vec::<String>::new(),
        "{text}"
    );
    assert_eq!(parsed["Version"], "2012-10-17");
    let sids: Vec<&str> = parsed["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|statement| statement["Sid"].as_str())
        .collect();
    let mut unique = sids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(sids.len(), unique.len(), "Sids are unique: {sids:?}");
}

/// A statement alone, checked as the only statement of a key policy.
fn assert_valid_statement(statement: &Value) {
    assert_valid_key_policy(&json!({ "Version": "2012-10-17", "Statement": [statement] }));
}

fn statement_of(entry: &KeyRemedy) -> &Value {
    match &entry.change {
        KeyChange::AddStatement { statement, .. } => statement,
        other => panic!("expected a statement to add, found {other:?}"),
    }
}

fn merged_of(entry: &KeyRemedy) -> &MergedPolicy {
    match &entry.change {
        KeyChange::AddStatement {
            merged: Some(merged),
            ..
        } => merged,
        other => panic!("expected a merged policy, found {other:?}"),
    }
}

#[test]
fn one_key_in_the_role_account() {
    let remedy = remedy(&[KEY_EAST]);

    let identity = remedy.identity_policy.as_ref().unwrap();
    assert_eq!(identity.name, "SentinelGuardDutyExportDecrypt");
    assert_eq!(assert_valid_identity_policy(&identity.document), [KEY_EAST]);
    assert_eq!(
        identity.document["Statement"][0]["Action"],
        json!(["kms:Decrypt", "kms:DescribeKey"])
    );
    assert_eq!(
        identity.apply.commands,
        [
            "aws iam put-role-policy --role-name OIDC_MicrosoftSentinelRole \
          --policy-name SentinelGuardDutyExportDecrypt --policy-document file://identity-policy.json"
        ]
    );

    let [entry] = &remedy.keys[..] else {
        panic!("one key")
    };
    assert!(!entry.cross_account);
    let statement = statement_of(entry);
    assert_valid_statement(statement);
    assert_eq!(
        *statement,
        json!({
            "Sid": "AllowSentinelConnectorDecrypt",
            "Effect": "Allow",
            "Principal": { "AWS": ROLE },
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        })
    );
    assert!(
        entry.notes[0].contains("both in account 111122223333"),
        "{:?}",
        entry.notes
    );
    assert!(entry.notes[0].contains("arn:aws:iam::111122223333:root"));

    let purposes: Vec<&str> = remedy
        .verify
        .iter()
        .chain(&entry.verify)
        .map(|step| step.purpose.as_str())
        .collect();
    assert_eq!(purposes.len(), 4, "{purposes:?}");
    assert!(purposes[0].starts_with("simulate the role's IAM policies"));
    assert!(purposes[1].contains("key policy's statements that name the role"));
    assert!(purposes[2].contains("GuardDuty in us-east-1 exports with this key"));
    assert!(purposes[3].contains("sample finding from us-east-1"));
}

#[test]
fn several_regions_with_different_keys() {
    let remedy = remedy(&[KEY_EAST, KEY_WEST, KEY_EAST]);

    let identity = remedy.identity_policy.as_ref().unwrap();
    // In ARN order, each once, whatever order and repetition they were given in.
    assert_eq!(
        assert_valid_identity_policy(&identity.document),
        [KEY_WEST, KEY_EAST]
    );
    let regions: Vec<&str> = remedy.keys.iter().map(|entry| entry.key.region()).collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    for entry in &remedy.keys {
        assert_valid_statement(statement_of(entry));
        let sample = entry.verify.last().unwrap();
        assert!(
            sample.commands[1].contains(&format!("--region {}", entry.key.region())),
            "{:?}",
            sample.commands
        );
        assert!(sample.kql.as_ref().unwrap().contains(entry.key.region()));
    }
    let simulate = &remedy.verify[0].commands[0];
    assert!(
        simulate.contains(&format!("--resource-arns {KEY_WEST} {KEY_EAST} ")),
        "{simulate}"
    );

    // The same input always gives the same documents.
    let again = self::remedy(&[KEY_WEST, KEY_EAST]);
    assert_eq!(json::render(&again), json::render(&remedy));
}

#[test]
fn a_key_in_another_account_needs_both_sides() {
    let remedy = remedy(&[KEY_OTHER, KEY_EAST]);
    let other = remedy
        .keys
        .iter()
        .find(|entry| entry.key.arn() == KEY_OTHER)
        .unwrap();
    assert!(other.cross_account);
    let note = &other.notes[0];
    assert!(note.contains("both changes are required"), "{note}");
    assert!(note.contains("account 444455556666") && note.contains("account 111122223333"));
    // The role's own account stays the principal, in the other account's key policy.
    assert_eq!(statement_of(other)["Principal"]["AWS"], ROLE);
    assert_eq!(
        assert_valid_identity_policy(&remedy.identity_policy.as_ref().unwrap().document),
        [KEY_EAST, KEY_OTHER]
    );
    // Reading the key policy needs the key owner's credentials.
    assert!(other.verify[0].run_in.contains("account 444455556666"));

    let document = json::document(&remedy);
    let required: Vec<&Value> = document["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["required"])
        .collect();
    assert_eq!(
        required,
        [
            &json!(["key_policy"]),
            &json!(["key_policy", "identity_policy"])
        ]
    );
}

#[test]
fn the_aws_managed_guardduty_key_must_be_replaced() {
    let remedy = remedy(&[GUARDDUTY_ALIAS]);
    assert!(
        remedy.identity_policy.is_none(),
        "no key the role could be granted"
    );
    assert!(remedy.verify.is_empty());

    let [entry] = &remedy.keys[..] else {
        panic!("one key")
    };
    assert!(entry.key.is_aws_managed());
    assert!(
        entry.notes[0].contains("AWS-managed key"),
        "{:?}",
        entry.notes
    );
    assert!(entry.notes[0].contains("nobody can change it"));
    let KeyChange::MoveToCustomerKey {
        new_key_policy,
        policy_file,
        steps,
    } = &entry.change
    else {
        panic!("expected a new key, found {:?}", entry.change);
    };
    assert_eq!(policy_file, "new-key-policy-us-east-1.json");
    assert_valid_key_policy(new_key_policy);

    let statements = new_key_policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    assert_eq!(
        statements[0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(
        statements[1],
        json!({
            "Sid": "AllowGuardDutyExport",
            "Effect": "Allow",
            "Principal": { "Service": "guardduty.amazonaws.com" },
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {
                "StringEquals": { "aws:SourceAccount": "111122223333" },
                "StringLike": {
                    "aws:SourceArn": "arn:aws:guardduty:us-east-1:111122223333:detector/*"
                },
            },
        })
    );
    assert_eq!(statements[2]["Principal"]["AWS"], ROLE);
    assert_eq!(
        statements[2]["Action"],
        json!(["kms:Decrypt", "kms:DescribeKey"])
    );

    let script = steps.commands.join("\n");
    assert!(
        script.contains("aws kms create-key --region us-east-1"),
        "{script}"
    );
    assert!(script.contains("--policy file://new-key-policy-us-east-1.json"));
    assert!(script.contains("KmsKeyArn=$NEW_KEY_ARN"));
    assert!(script.contains(&format!("sentinel-kms policy --role-arn {ROLE} --key-arn")));
    // Only the export's key can be checked until it moves.
    assert_eq!(entry.verify.len(), 1);
    assert!(entry.verify[0].expect.contains(GUARDDUTY_ALIAS));
}

#[test]
fn an_aws_managed_key_arn_and_an_opt_in_region() {
    let bahrain = "arn:aws:kms:me-south-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let managed = ExportKey::parse(bahrain, true).unwrap();
    let remedy = Remedy::for_decrypt(&role(), &[managed, key(KEY_EAST)]).unwrap();
    assert_eq!(
        assert_valid_identity_policy(&remedy.identity_policy.as_ref().unwrap().document),
        [KEY_EAST],
        "an AWS-managed key is left out of the IAM policy"
    );
    let entry = remedy
        .keys
        .iter()
        .find(|entry| entry.key.arn() == bahrain)
        .unwrap();
    let KeyChange::MoveToCustomerKey { new_key_policy, .. } = &entry.change else {
        panic!("expected a new key");
    };
    assert_eq!(
        new_key_policy["Statement"][1]["Principal"]["Service"],
        "guardduty.me-south-1.amazonaws.com"
    );

    // A key given both as customer- and AWS-managed counts as AWS-managed.
    let twice = [key(bahrain), ExportKey::parse(bahrain, true).unwrap()];
    let remedy = Remedy::for_decrypt(&role(), &twice).unwrap();
    assert_eq!(remedy.keys.len(), 1);
    assert!(remedy.keys[0].key.is_aws_managed());
}

#[test]
fn guardduty_principal_by_region_and_partition() {
    assert_eq!(
        guardduty_principal(Partition::Aws, "eu-north-1"),
        "guardduty.amazonaws.com"
    );
    assert_eq!(
        guardduty_principal(Partition::Aws, "ap-southeast-7"),
        "guardduty.ap-southeast-7.amazonaws.com"
    );
    assert_eq!(
        guardduty_principal(Partition::AwsUsGov, "us-gov-west-1"),
        "guardduty.amazonaws.com"
    );
}

#[test]
fn keys_that_cannot_make_a_remedy_are_refused() {
    let error = ExportKey::parse("arn:aws:kms:us-east-1:111122223333:alias/guardduty", false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("alias of a customer-managed key"), "{error}");
    assert!(
        error.contains("aws kms describe-key --region us-east-1"),
        "{error}"
    );

    let error = Remedy::for_decrypt(&role(), &[]).unwrap_err().to_string();
    assert_eq!(error, "no KMS key to grant the role");

    let china =
        key("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let error = Remedy::for_decrypt(&role(), &[china])
        .unwrap_err()
        .to_string();
    assert!(error.contains("partition `aws-cn`"), "{error}");

    let error = ExportKey::parse("arn:aws:kms:us-east-1:111122223333:key/nope", false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("the key ID `nope`"), "{error}");
}

const DEFAULT_POLICY: &str = r#"{
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

#[test]
fn role_arns_are_quoted_for_the_shell_only_when_needed() {
    assert_eq!(shell_word(ROLE), ROLE);
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    let odd = RoleArn::parse("arn:aws:iam::111122223333:role/a$b/OIDC_R").unwrap();
    let remedy = Remedy::for_decrypt(&odd, &[key(KEY_EAST)]).unwrap();
    let simulate = &remedy.verify[0].commands[0];
    assert!(
        simulate.contains("--policy-source-arn 'arn:aws:iam::111122223333:role/a$b/OIDC_R'"),
        "{simulate}"
    );
}

#[test]
fn the_json_document_has_stable_keys() {
    let mut remedy = remedy(&[KEY_EAST, GUARDDUTY_ALIAS]);
    let current = CurrentKeyPolicy::parse(DEFAULT_POLICY, "kp.json").unwrap();
    remedy
        .merge_current_policy(&KmsKeyArn::parse(KEY_EAST).unwrap(), &current)
        .unwrap();
    let document: Value = serde_json::from_str(&json::render(&remedy)).unwrap();
    let keys =
        |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };

    assert_eq!(
        keys(&document),
        ["tool", "role", "identity_policy", "keys", "verify"]
    );
    assert_eq!(keys(&document["role"]), ["arn", "account", "name", "path"]);
    assert_eq!(
        keys(&document["identity_policy"]),
        ["name", "file", "document", "apply"]
    );
    let entry_keys = [
        "arn",
        "region",
        "account",
        "aws_managed",
        "cross_account",
        "required",
        "statement",
        "current_policy_file",
        "fetch_current_policy",
        "merged",
        "new_key",
        "notes",
        "verify",
    ];
    for entry in document["keys"].as_array().unwrap() {
        assert_eq!(keys(entry), entry_keys);
    }
    // `alias/aws/…` sorts before `key/…`.
    let [managed, customer] = &document["keys"].as_array().unwrap()[..] else {
        panic!("two keys");
    };
    assert_eq!(managed["required"], json!(["customer_managed_key"]));
    assert_eq!(keys(&managed["new_key"]), ["policy", "file", "apply"]);
    assert!(managed["merged"].is_null() && managed["statement"].is_null());
    assert_eq!(
        keys(&customer["merged"]),
        [
            "source",
            "result",
            "sid",
            "sid_clashed_with",
            "granting_statements",
            "policy",
            "file",
            "apply",
            "notes"
        ]
    );
    assert_eq!(customer["merged"]["result"], "appended");
    assert_eq!(
        keys(&customer["verify"][0]),
        ["purpose", "run_in", "commands", "kql", "expect"]
    );
}

#[test]
fn the_text_says_a_statement_is_not_a_policy_and_fits_the_width() {
    let mut remedy = remedy(&[KEY_EAST]);
    let text = text::render(&remedy);
    assert!(text.contains("It is one statement, not a policy: put-key-policy replaces"));
    assert!(text.contains("run this command again with `--key-policy"));

    let current = CurrentKeyPolicy::parse(DEFAULT_POLICY, "kp.json").unwrap();
    remedy
        .merge_current_policy(&KmsKeyArn::parse(KEY_EAST).unwrap(), &current)
        .unwrap();
    let text = text::render(&remedy);
    assert!(text.contains("The current policy (kp.json) with the statement appended"));
    assert!(text.contains("aws kms put-key-policy --region us-east-1"));
    for line in text.lines() {
        // A line runs past the width only where it holds a single option with a long value
        // (an ARN, a quoted filter): there was no place left to break it.
        let long = line.chars().count() > 100;
        assert!(!long || !line.trim().contains(" --"), "{line}");
    }
    // Prose wraps at the width; only a single long word (an ARN) may stand alone past it.
    let prose = text
        .lines()
        .filter(|line| line.starts_with('#') || line.starts_with(char::is_alphabetic))
        .filter(|line| !line.starts_with("aws ") && !line.contains("=$("));
    for line in prose.filter(|line| line.chars().count() > 100) {
        let words = line
            .trim_start_matches(['#', ' '])
            .split_whitespace()
            .count();
        assert_eq!(words, 1, "{line}");
    }
}
