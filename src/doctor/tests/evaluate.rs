//! The evaluator on policies shaped like real setups: Microsoft's template key policy, AWS's
//! default key policy with account delegation, a hardened key policy, grants, keys in another
//! account, and a trust policy pinned to one session prefix.

use serde_json::{Value, json};

use crate::arn::RoleArn;
use crate::doctor::evaluate::*;

const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:eu-west-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const OBJECT: &str = "arn:aws:s3:::guardduty-findings-111122223333/AWSLogs/111122223333/\
                      GuardDuty/eu-west-1/2026/12/03/5e1f2a3b-0000-4000-8000-000000000000.jsonl.gz";
const BUCKET: &str = "arn:aws:s3:::guardduty-findings-111122223333";
const DETECTOR: &str =
    "arn:aws:guardduty:eu-west-1:111122223333:detector/12abc34d567e8fa901bc2d34eexample";

fn fixture(name: &str) -> Value {
    let text = match name {
        "template" => include_str!("fixtures/key-policy-template.json"),
        "delegation" => include_str!("fixtures/key-policy-delegation.json"),
        "hardened" => include_str!("fixtures/key-policy-hardened.json"),
        "identity" => include_str!("fixtures/identity-policy-connector.json"),
        "trust-pinned" => include_str!("fixtures/trust-policy-pinned.json"),
        _ => unreachable!("no fixture {name}"),
    };
    serde_json::from_str(text).unwrap()
}

fn role() -> RoleArn {
    RoleArn::parse(ROLE).unwrap()
}

fn identity_policies() -> Vec<(String, Value)> {
    vec![(
        "inline policy `SentinelConnector` of the role".to_string(),
        fixture("identity"),
    )]
}

/// The identity fixture without its `kms:` statement.
fn identity_without_kms() -> Vec<(String, Value)> {
    let mut document = fixture("identity");
    document["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "DecryptGuardDutyExport");
    vec![(
        "inline policy `SentinelConnector` of the role".to_string(),
        document,
    )]
}

struct Case<'a> {
    key: &'a str,
    key_policy: Value,
    identity: Vec<(String, Value)>,
    grants: Vec<Grant>,
    simulated: Option<Simulated>,
    encryption_arn: &'a str,
}

impl Case<'_> {
    fn new(key_policy: Value) -> Case<'static> {
        Case {
            key: KEY,
            key_policy,
            identity: Vec::new(),
            grants: Vec::new(),
            simulated: None,
            encryption_arn: OBJECT,
        }
    }

    fn decrypt(&self) -> Evaluation {
        self.run(
            "kms:Decrypt",
            s3_decrypt_context(&role(), "eu-west-1", self.encryption_arn),
        )
    }

    fn describe(&self) -> Evaluation {
        self.run("kms:DescribeKey", direct_call_context(&role()))
    }

    fn run(&self, action: &str, context: Context) -> Evaluation {
        let role = role();
        let account = self.key.split(':').nth(4).unwrap();
        role_on_key(
            RolePolicies {
                role: &role,
                role_id: Some("AROAEXAMPLEROLEID0001"),
                identity: &self.identity,
                boundary: None,
            },
            self.key,
            account,
            &self.key_policy,
            &self.grants,
            self.simulated.as_ref(),
            action,
            context,
        )
    }
}

fn sids(evaluation: &Evaluation) -> Vec<String> {
    evaluation
        .deciding
        .iter()
        .map(|c| {
            c.body["Sid"]
                .as_str()
                .map_or(c.label.clone(), str::to_string)
        })
        .collect()
}

#[test]
fn a_role_named_in_the_key_policy_may_decrypt_without_any_iam_policy() {
    let case = Case::new(fixture("template"));
    let decrypt = case.decrypt();
    assert_eq!(decrypt.decision, Decision::Allow, "{}", decrypt.explanation);
    assert_eq!(sids(&decrypt), ["SentinelConnectorDecrypts"]);
    assert_eq!(case.describe().decision, Decision::Allow);
}

#[test]
fn account_delegation_needs_the_roles_iam_policy() {
    let mut case = Case::new(fixture("delegation"));
    case.identity = identity_policies();
    let allowed = case.decrypt();
    assert_eq!(allowed.decision, Decision::Allow, "{}", allowed.explanation);
    assert_eq!(
        sids(&allowed),
        ["Enable IAM User Permissions", "DecryptGuardDutyExport"]
    );

    case.identity = identity_without_kms();
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert!(
        denied
            .explanation
            .contains("delegates to the role's account")
            && denied
                .explanation
                .contains("none of the role's IAM policies"),
        "{}",
        denied.explanation
    );
    // The deciding statements include the delegation, so a reader sees why IAM mattered.
    assert!(sids(&denied).contains(&"Enable IAM User Permissions".to_string()));
}

#[test]
fn a_key_policy_without_the_role_or_delegation_denies_whatever_iam_says() {
    let mut policy = fixture("template");
    policy["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "SentinelConnectorDecrypts" && s["Sid"] != "AccountAdministration");
    let mut case = Case::new(policy);
    case.identity = identity_policies();
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert!(
        denied.explanation.contains("neither names"),
        "{}",
        denied.explanation
    );
}

#[test]
fn an_explicit_deny_wins_over_the_roles_own_statement() {
    let mut policy = fixture("template");
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "NoDecryptExceptAuditors",
        "Effect": "Deny",
        "Principal": { "AWS": "*" },
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": { "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/Auditor*" } }
    }));
    let case = Case::new(policy);
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert_eq!(sids(&denied), ["NoDecryptExceptAuditors"]);
    assert!(denied.explanation.contains("explicit deny"));
    // The deny is about Decrypt only.
    assert_eq!(case.describe().decision, Decision::Allow);
}

#[test]
fn an_explicit_deny_in_an_identity_policy_wins_too() {
    let mut identity = identity_policies();
    identity.push((
        "managed policy `DenyKms`".into(),
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "NoKms", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}),
    ));
    let mut case = Case::new(fixture("template"));
    case.identity = identity;
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert_eq!(sids(&denied), ["NoKms"]);
}

#[test]
fn source_account_conditions_decide_guarddutys_statement() {
    let policy = fixture("delegation");
    let ask = |account: &str, detector: &str| {
        principal_on_policy(
            Principal::Service("guardduty.amazonaws.com".into()),
            &policy,
            "key policy",
            PolicyKind::Resource,
            "kms:GenerateDataKey",
            KEY,
            Context::new()
                .with("aws:SourceAccount", account)
                .with("aws:SourceArn", detector),
        )
    };
    let allowed = ask("111122223333", DETECTOR);
    assert_eq!(allowed.decision, Decision::Allow, "{}", allowed.explanation);
    assert_eq!(sids(&allowed), ["Allow GuardDuty to encrypt findings"]);
    let other_account = ask(
        "444455556666",
        "arn:aws:guardduty:eu-west-1:444455556666:detector/12abc34d567e8fa901bc2d34eexample",
    );
    assert_eq!(other_account.decision, Decision::Deny);
    // A service principal is never let in by the account root statement.
    assert!(other_account.explanation.contains("no statement"));
}

#[test]
fn a_source_account_condition_on_the_roles_statement_cannot_be_determined() {
    let mut policy = fixture("template");
    policy["Statement"][2]["Condition"] =
        json!({"StringEquals": {"aws:SourceAccount": "111122223333"}});
    policy["Statement"].as_array_mut().unwrap().remove(0);
    let undecided = Case::new(policy).decrypt();
    assert_eq!(undecided.decision, Decision::CannotDetermine);
    assert!(
        undecided.explanation.contains("`aws:SourceAccount`"),
        "{}",
        undecided.explanation
    );
}

#[test]
fn via_service_and_encryption_context_conditions_hold_only_for_the_bucket_region_and_objects() {
    let case = Case::new(fixture("hardened"));
    let allowed = case.decrypt();
    assert_eq!(allowed.decision, Decision::Allow, "{}", allowed.explanation);
    assert_eq!(sids(&allowed), ["ConnectorDecryptsThroughS3Only"]);

    // The same request through S3 in another region does not match kms:ViaService.
    let elsewhere = case.run(
        "kms:Decrypt",
        s3_decrypt_context(&role(), "us-east-1", OBJECT),
    );
    assert_eq!(elsewhere.decision, Decision::Deny);

    // With an S3 Bucket Key the encryption context is the bucket's ARN, which the condition,
    // written for objects under AWSLogs/, does not match.
    let mut bucket_key = Case::new(fixture("hardened"));
    bucket_key.encryption_arn = BUCKET;
    assert_eq!(bucket_key.decrypt().decision, Decision::Deny);
}

#[test]
fn a_deny_outside_the_organizations_accounts_does_not_catch_the_role() {
    let evaluation = Case::new(fixture("hardened")).decrypt();
    assert!(
        !evaluation
            .deciding
            .iter()
            .any(|c| c.body["Sid"] == "DenyDecryptOutsideTheOrganization"),
        "{:#?}",
        evaluation.deciding
    );
}

#[test]
fn an_unknown_operator_or_key_gives_cannot_determine_never_allow() {
    for condition in [
        json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}),
        json!({"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}),
        json!({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}),
    ] {
        let mut policy = fixture("template");
        policy["Statement"].as_array_mut().unwrap().remove(0);
        policy["Statement"][1]["Condition"] = condition.clone();
        let evaluation = Case::new(policy).decrypt();
        assert_eq!(
            evaluation.decision,
            Decision::CannotDetermine,
            "{condition}: {}",
            evaluation.explanation
        );
        assert_eq!(sids(&evaluation), ["SentinelConnectorDecrypts"]);
        assert!(evaluation.deciding[0].effect.starts_with("may allow"));
    }
}

#[test]
fn an_allow_next_to_a_deny_that_may_apply_cannot_be_determined() {
    let mut policy = fixture("template");
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "DenyOutsideOrganization", "Effect": "Deny", "Principal": "*",
        "Action": "kms:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-exampleorgid"}}
    }));
    let evaluation = Case::new(policy).decrypt();
    assert_eq!(evaluation.decision, Decision::CannotDetermine);
}

#[test]
fn a_grant_lets_the_role_decrypt_when_the_key_policy_does_not() {
    let mut policy = fixture("delegation");
    policy["Statement"].as_array_mut().unwrap().remove(0);
    let mut case = Case::new(policy);
    assert_eq!(case.decrypt().decision, Decision::Deny);

    let object_context = [("aws:s3:arn".to_string(), OBJECT.to_string())]
        .into_iter()
        .collect();
    case.grants = vec![
        Grant {
            id: "grant-for-someone-else".into(),
            grantee: "arn:aws:iam::111122223333:role/Other".into(),
            operations: vec!["Decrypt".into()],
            context_subset: None,
            context_equals: None,
        },
        Grant {
            id: "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60".into(),
            grantee: ROLE.into(),
            operations: vec!["Decrypt".into()],
            context_subset: Some(object_context),
            context_equals: None,
        },
    ];
    let allowed = case.decrypt();
    assert_eq!(allowed.decision, Decision::Allow, "{}", allowed.explanation);
    assert_eq!(
        sids(&allowed),
        ["grant `0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60`"]
    );
    // The grant covers Decrypt only, and only with that encryption context.
    assert_eq!(case.describe().decision, Decision::Deny);
    case.encryption_arn = BUCKET;
    assert_eq!(case.decrypt().decision, Decision::Deny);
}

#[test]
fn a_key_in_another_account_needs_the_key_policy_and_the_roles_iam_policy() {
    let key_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "SentinelRoleInSecurityAccount", "Effect": "Allow",
         "Principal": {"AWS": ROLE}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}
    ]});
    let identity_for_other_key = || {
        let mut document = fixture("identity");
        document["Statement"][1]["Resource"] = json!(OTHER_KEY);
        vec![("inline policy".to_string(), document)]
    };
    let mut case = Case::new(key_policy.clone());
    case.key = OTHER_KEY;
    // The key policy alone is not enough across accounts.
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert!(
        denied.explanation.contains("across accounts"),
        "{}",
        denied.explanation
    );
    case.identity = identity_for_other_key();
    assert_eq!(case.decrypt().decision, Decision::Allow);

    // Delegating to the role's account counts across accounts as well, with the IAM policy.
    let mut delegated = key_policy;
    delegated["Statement"][1]["Principal"] = json!({"AWS": "111122223333"});
    let mut case = Case::new(delegated);
    case.key = OTHER_KEY;
    case.identity = identity_for_other_key();
    assert_eq!(case.decrypt().decision, Decision::Allow);
    // The role's IAM policy alone, with a key policy that names neither the role nor its
    // account (only the key's own), is denied.
    let mut own_account_only = fixture("delegation");
    own_account_only["Statement"][0]["Principal"]["AWS"] = json!("arn:aws:iam::444455556666:root");
    let mut unrelated = Case::new(own_account_only);
    unrelated.key = OTHER_KEY;
    unrelated.identity = identity_for_other_key();
    assert_eq!(unrelated.decrypt().decision, Decision::Deny);
}

#[test]
fn the_simulator_overrides_a_local_allow_when_an_scp_denies() {
    let mut case = Case::new(fixture("delegation"));
    case.identity = identity_policies();
    case.simulated = Some(Simulated {
        decision: "implicitDeny".into(),
        allowed_by_organizations: Some(false),
        missing_context: Vec::new(),
        matched: Vec::new(),
    });
    let denied = case.decrypt();
    assert_eq!(denied.decision, Decision::Deny);
    assert!(
        denied.deciding.iter().any(|c| c.effect.contains("SCP")),
        "{:#?}",
        denied.deciding
    );
}

#[test]
fn a_deleted_roles_id_in_the_key_policy_does_not_match_the_new_role() {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Connector", "Effect": "Allow", "Principal": {"AWS": "AROAOLDDELETEDROLE01"},
         "Action": "kms:Decrypt", "Resource": "*"}]});
    assert_eq!(Case::new(policy.clone()).decrypt().decision, Decision::Deny);
    let mut same_id = policy;
    same_id["Statement"][0]["Principal"]["AWS"] = json!("AROAEXAMPLEROLEID0001");
    assert_eq!(Case::new(same_id).decrypt().decision, Decision::Allow);
}

#[test]
fn a_trust_policy_pinned_to_the_old_session_prefix_refuses_the_new_one() {
    let trust = fixture("trust-pinned");
    let provider = "arn:aws:iam::111122223333:oidc-provider/sts.windows.net/\
                    33e01921-4d64-4f8c-a055-5bdaffd5e33d/";
    let assume = |session: &str| {
        principal_on_policy(
            Principal::Federated(provider.into()),
            &trust,
            "trust policy",
            PolicyKind::Trust,
            "sts:AssumeRoleWithWebIdentity",
            ROLE,
            Context::new()
                .with(
                    "sts.windows.net/33e01921-4d64-4f8c-a055-5bdaffd5e33d/:aud",
                    "api://1462b192-27f7-4cb9-8523-0f4ecb54b47e",
                )
                .with("sts:RoleSessionName", session),
        )
        .decision
    };
    assert_eq!(
        assume("MicrosoftSentinel_2b2d3c4e-0000-0000-0000-000000000000"),
        Decision::Allow
    );
    assert_eq!(
        assume("MicrosoftDefenderForClouds_2b2d3c4e-0000-0000-0000-000000000000"),
        Decision::Deny
    );
}

#[test]
fn queue_access_in_the_same_account_needs_either_side() {
    let queue = "arn:aws:sqs:eu-west-1:111122223333:guardduty-findings-queue";
    let role = role();
    let none: Vec<(String, Value)> = Vec::new();
    let identity = identity_policies();
    let ask = |identity: &[(String, Value)], policy: Option<&Value>| {
        role_on_resource(
            RolePolicies {
                role: &role,
                role_id: None,
                identity,
                boundary: None,
            },
            queue,
            Some("111122223333"),
            policy.map(|p| ("queue policy", p)),
            None,
            "sqs:DeleteMessage",
            direct_call_context(&role),
        )
        .decision
    };
    assert_eq!(ask(&identity, None), Decision::Allow);
    assert_eq!(ask(&none, None), Decision::Deny);
    let queue_policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:*", "Resource": queue}]});
    assert_eq!(ask(&none, Some(&queue_policy)), Decision::Allow);
}

#[test]
fn arn_like_wildcards_stay_within_one_field() {
    assert!(arn_like(
        "arn:aws:s3:::bucket/*",
        "arn:aws:s3:::bucket/a/b.gz"
    ));
    assert!(arn_like(
        "arn:aws:guardduty:*:111122223333:detector/*",
        DETECTOR
    ));
    assert!(!arn_like("arn:aws:guardduty:*", DETECTOR));
    assert!(arn_like("*", DETECTOR));
}
