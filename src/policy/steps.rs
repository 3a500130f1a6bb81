//! The `aws` CLI commands that apply a remedy and check what can be checked without the
//! connector's own token: what the key policy says, what the role's IAM policies allow, which
//! key the newest export object is encrypted with, and a sample finding that travels the whole
//! pipeline into the workspace.

use crate::arn::{KmsKeyArn, RoleArn};

use super::{DECRYPT_ACTIONS, ExportKey, IDENTITY_POLICY_NAME};

/// A low-severity finding type, so the sample adds one quiet finding rather than an alert storm.
pub const SAMPLE_FINDING_TYPE: &str = "Recon:EC2/PortProbeUnprotectedPort";

/// One thing to run, and what its output should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step does or shows.
    pub purpose: String,
    /// Whose credentials the commands need.
    pub run_in: String,
    /// Shell commands, run in order.
    pub commands: Vec<String>,
    /// A KQL query to run in the workspace afterwards, where the step has one.
    pub kql: Option<String>,
    /// What a good result looks like.
    pub expect: String,
}

pub fn put_role_policy(role: &RoleArn, file: &str) -> Step {
    Step {
        purpose: format!(
            "attach the IAM policy to the role, as the inline policy `{IDENTITY_POLICY_NAME}`"
        ),
        run_in: format!("account {} (the role's)", role.account()),
        commands: vec![format!(
            "aws iam put-role-policy --role-name {} --policy-name {IDENTITY_POLICY_NAME} \
             --policy-document file://{file}",
            shell_word(role.name())
        )],
        kql: None,
        expect: "no output; an existing inline policy of that name is replaced".into(),
    }
}

pub fn put_key_policy(key: &KmsKeyArn, file: &str) -> Step {
    Step {
        purpose: "replace the key policy with the merged one".into(),
        run_in: format!("account {} (the key's)", key.account()),
        commands: vec![format!(
            "aws kms put-key-policy --region {} --key-id {key} --policy-name default \
             --policy file://{file}",
            key.region()
        )],
        kql: None,
        expect: "no output; KMS refuses a policy that would lock out the caller".into(),
    }
}

pub fn get_key_policy(key: &KmsKeyArn, file: &str) -> Step {
    Step {
        purpose: "save the current key policy, to merge the statement into it".into(),
        run_in: format!(
            "account {} (the key's: a key policy cannot be read from another account)",
            key.account()
        ),
        commands: vec![format!(
            "aws kms get-key-policy --region {} --key-id {key} --policy-name default \
             --query Policy --output text > {file}",
            key.region()
        )],
        kql: None,
        expect: format!(
            "no output; then `sentinel-kms policy` with `--key-policy {key}={file}` added prints \
             the whole policy, ready for put-key-policy"
        ),
    }
}

/// Shows the key policy's statements that name the role.
pub fn key_policy_names_role(key: &KmsKeyArn, role: &RoleArn) -> Step {
    Step {
        purpose: "show the key policy's statements that name the role".into(),
        run_in: format!("account {} (the key's)", key.account()),
        commands: vec![format!(
            "aws kms get-key-policy --region {} --key-id {key} --policy-name default \
             --query Policy --output text | jq --arg role {} '{}'",
            key.region(),
            shell_word(role.as_str()),
            ROLE_STATEMENTS_FILTER
        )],
        kql: None,
        expect: format!(
            "a list with an `Allow` statement whose `Action` covers {}; an empty list means the \
             key policy does not name the role (it may still delegate to the account through \
             `{}`). A principal shown as `AROA…` is a deleted role's ID",
            action_list(),
            role.account_root()
        ),
    }
}

/// The jq filter that keeps the statements whose `Principal.AWS` names `$role`, whether
/// `Statement` and `Principal.AWS` hold one value or an array.
pub const ROLE_STATEMENTS_FILTER: &str =
    "[.Statement] | flatten | map(select([.Principal.AWS?] | flatten | index($role) != null))";

/// Simulates the role's identity policies for every key whose policy the role depends on.
pub fn simulate(role: &RoleArn, keys: &[&KmsKeyArn]) -> Step {
    let resources: Vec<&str> = keys.iter().map(|key| key.as_str()).collect();
    Step {
        purpose: "simulate the role's IAM policies (with SCPs and a permissions boundary) on the \
                  keys"
            .into(),
        run_in: format!("account {} (the role's)", role.account()),
        commands: vec![format!(
            "aws iam simulate-principal-policy --policy-source-arn {} --action-names {} \
             --resource-arns {} --query '{SIMULATION_QUERY}' --output text",
            shell_word(role.as_str()),
            DECRYPT_ACTIONS.join(" "),
            resources.join(" ")
        )],
        kql: None,
        expect: "one line per action and key, each ending in `allowed`. The simulation leaves \
                 the key policy out (AWS does not simulate resource policies for roles), so \
                 `implicitDeny` here is only fine for a key in the role's account whose key \
                 policy names the role itself"
            .into(),
    }
}

pub const SIMULATION_QUERY: &str =
    "EvaluationResults[].[EvalActionName, EvalResourceName, EvalDecision]";

/// The export destination of the key's region, and the key its newest object is encrypted with.
pub fn export_uses_key(key: &ExportKey) -> Step {
    let region = key.region();
    let mut commands = detector_and_destination(region);
    commands.push(format!(
        "aws guardduty describe-publishing-destination --region {region} \
         --detector-id \"$DETECTOR_ID\" --destination-id \"$DESTINATION_ID\" \
         --query '[Status, DestinationProperties.DestinationArn, DestinationProperties.KmsKeyArn]' \
         --output text"
    ));
    if key.customer_key().is_some() {
        commands.push(format!(
            "BUCKET=$(aws guardduty describe-publishing-destination --region {region} \
             --detector-id \"$DETECTOR_ID\" --destination-id \"$DESTINATION_ID\" \
             --query DestinationProperties.DestinationArn --output text | cut -d: -f6 | cut -d/ -f1)"
        ));
        commands.push(format!(
            "OBJECT_KEY=$(aws s3api list-objects-v2 --bucket \"$BUCKET\" --query '{}' \
             --output text)",
            newest_object_query(region)
        ));
        commands.push(
            "aws s3api head-object --bucket \"$BUCKET\" --key \"$OBJECT_KEY\" \
             --query SSEKMSKeyId --output text"
                .into(),
        );
    }
    let expect = match key.customer_key() {
        Some(arn) => format!(
            "`PUBLISHING`, the bucket ARN, and `{arn}`; then head-object prints `{arn}` as well. \
             Another key there means the export or the bucket's default encryption moved to it, \
             and the role needs that key instead. The listing reads the whole bucket (add \
             `--prefix` for a large one); head-object needs `s3:GetObject` but no decrypt"
        ),
        None => format!(
            "`PUBLISHING`, the bucket ARN, and the key the export uses now (`{}` until it is \
             moved to a customer-managed key)",
            key.arn()
        ),
    };
    Step {
        purpose: format!("check that GuardDuty in {region} exports with this key"),
        run_in: "the account whose GuardDuty detector exports in this region (the GuardDuty \
                 administrator account, if there is one)"
            .into(),
        commands,
        kql: None,
        expect,
    }
}

/// The JMESPath query for the newest object under a `GuardDuty/REGION/` folder, `None` when the
/// bucket holds none. It goes in single quotes, so its literals are JSON in backticks.
pub fn newest_object_query(region: &str) -> String {
    format!(
        "sort_by(Contents[?contains(Key, `\"/GuardDuty/{region}/\"`)] || `[]`, &LastModified)[-1].Key"
    )
}

/// Creates a sample finding in the key's region and looks for it in the workspace.
pub fn sample_finding(key: &ExportKey) -> Step {
    let region = key.region();
    let mut commands = vec![detector(region)];
    commands.push(format!(
        "aws guardduty create-sample-findings --region {region} --detector-id \"$DETECTOR_ID\" \
         --finding-types '{SAMPLE_FINDING_TYPE}'"
    ));
    Step {
        purpose: format!("prove the pipeline end to end with a sample finding from {region}"),
        run_in: "the account whose GuardDuty detector exports in this region".into(),
        commands,
        kql: Some(sample_query(region)),
        expect: "the query returns the sample within about 30 minutes: GuardDuty exports a new \
                 finding within about 5 minutes, and the connector adds its polling. Nothing \
                 after an hour, while the bucket got a new object, means the connector still \
                 cannot read it. Analytic rules on AWSGuardDuty may raise an incident for the \
                 sample"
            .into(),
    }
}

pub fn sample_query(region: &str) -> String {
    format!(
        "AWSGuardDuty\n\
         | where ingestion_time() > ago(2h)\n\
         | where Region == \"{region}\" and ActivityType == \"{SAMPLE_FINDING_TYPE}\"\n\
         | where tobool(ServiceDetails.additionalInfo.sample)\n\
         | project TimeGenerated, Arrived = ingestion_time(), AccountId, Region, Id, Title"
    )
}

/// Steps that move the export from an AWS-managed key to a new customer-managed one.
pub fn move_to_customer_key(key: &ExportKey, role: &RoleArn, policy_file: &str) -> Step {
    let region = key.region();
    let mut commands = vec![format!(
        "NEW_KEY_ARN=$(aws kms create-key --region {region} \
         --description 'GuardDuty findings export' --policy file://{policy_file} \
         --query KeyMetadata.Arn --output text)"
    )];
    commands.extend(detector_and_destination(region));
    commands.push(format!(
        "BUCKET_ARN=$(aws guardduty describe-publishing-destination --region {region} \
         --detector-id \"$DETECTOR_ID\" --destination-id \"$DESTINATION_ID\" \
         --query DestinationProperties.DestinationArn --output text)"
    ));
    commands.push(format!(
        "aws guardduty update-publishing-destination --region {region} \
         --detector-id \"$DETECTOR_ID\" --destination-id \"$DESTINATION_ID\" \
         --destination-properties \"DestinationArn=$BUCKET_ARN,KmsKeyArn=$NEW_KEY_ARN\""
    ));
    commands.push(format!(
        "sentinel-kms policy --role-arn {} --key-arn \"$NEW_KEY_ARN\"",
        shell_word(role.as_str())
    ));
    Step {
        purpose: format!(
            "create a customer-managed key in {region} with the policy above and export with it"
        ),
        run_in: format!("account {} (the one GuardDuty exports from)", key.account()),
        commands,
        kql: None,
        expect: "the last command prints the role's IAM policy for the new key. A bucket policy \
                 that denies uploads under any other key (a condition on \
                 `s3:x-amz-server-side-encryption-aws-kms-key-id`) must name the new key too. \
                 Objects exported under the AWS-managed key stay unreadable to the role"
            .into(),
    }
}

fn detector(region: &str) -> String {
    format!(
        "DETECTOR_ID=$(aws guardduty list-detectors --region {region} \
         --query 'DetectorIds[0]' --output text)"
    )
}

fn detector_and_destination(region: &str) -> Vec<String> {
    vec![
        detector(region),
        format!(
            "DESTINATION_ID=$(aws guardduty list-publishing-destinations --region {region} \
             --detector-id \"$DETECTOR_ID\" --query 'Destinations[0].DestinationId' \
             --output text)"
        ),
    ]
}

fn action_list() -> String {
    format!("`{}`", DECRYPT_ACTIONS.join("` and `"))
}

/// `text` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes. Role paths may hold almost any printable character.
pub fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@+,%-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
