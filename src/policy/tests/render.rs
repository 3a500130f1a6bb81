use serde_json::{Value, json};

use super::super::steps::shell_word;
use super::merge::DEFAULT_POLICY;
use super::*;

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
    assert!(text.contains("then `sentinel-kms policy` with `--key-policy"));

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

#[test]
fn a_summary_for_a_verdict_names_every_key_and_the_command() {
    let remedy = remedy(&[KEY_EAST, KEY_OTHER, GUARDDUTY_ALIAS]);
    assert_eq!(
        remedy.summary(),
        format!(
            "Allow `{ROLE}` `kms:Decrypt` and `kms:DescribeKey` in the key policy of \
             `{KEY_EAST}` (us-east-1, account 111122223333) and of `{KEY_OTHER}` (us-east-1, \
             account 444455556666) and in the role's IAM policy (account 111122223333); \
             `{GUARDDUTY_ALIAS}` is AWS-managed and its policy cannot change: move GuardDuty's \
             export in us-east-1 to a customer-managed key. `sentinel-kms policy --role-arn \
             {ROLE} --key-arn {GUARDDUTY_ALIAS} --key-arn {KEY_EAST} --key-arn {KEY_OTHER}` \
             prints the policies and the commands that check them."
        )
    );
}
