use serde_json::{Value, json};

use super::super::statements::guardduty_principal;
use super::*;
use crate::arn::Partition;

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
