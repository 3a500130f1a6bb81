use super::*;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const MRK: &str = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";

/// The error's part and message, for one malformed input.
fn fails<T: std::fmt::Debug>(result: Result<T, ArnError>) -> (ArnPart, String) {
    let error = result.expect_err("the ARN is malformed");
    (error.part, error.to_string())
}

#[test]
fn a_generic_arn_keeps_its_parts() {
    let arn: Arn = KEY.parse().unwrap();
    assert_eq!(arn.partition(), Partition::Aws);
    assert_eq!(arn.service(), "kms");
    assert_eq!(arn.region(), Some("us-east-1"));
    assert_eq!(arn.account(), Some("111122223333"));
    assert_eq!(arn.resource(), "key/1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_eq!(arn.to_string(), KEY);

    let bucket: Arn = "arn:aws:s3:::my-bucket".parse().unwrap();
    assert_eq!((bucket.region(), bucket.account()), (None, None));
    let managed: Arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        .parse()
        .unwrap();
    assert_eq!(managed.account(), Some("aws"));
    // A resource may hold colons of its own.
    let log: Arn = "arn:aws:logs:us-east-1:111122223333:log-group:x:*"
        .parse()
        .unwrap();
    assert_eq!(log.resource(), "log-group:x:*");
}

#[test]
fn each_malformed_part_of_a_generic_arn_is_named() {
    let cases = [
        (
            "aws:kms:us-east-1:111122223333:key/x",
            ArnPart::Layout,
            "starts with `arn:`",
        ),
        (
            "arn:aws:kms:us-east-1",
            ArnPart::Layout,
            "it has 4 of the six",
        ),
        (" arn:aws:s3:::bucket", ArnPart::Layout, "whitespace"),
        (
            "arn:aws-iso:kms:us-east-1:111122223333:key/x",
            ArnPart::Partition,
            "`aws-iso`",
        ),
        (
            "arn:aws:KMS:us-east-1:111122223333:key/x",
            ArnPart::Service,
            "the service `KMS`",
        ),
        (
            "arn:aws::us-east-1:111122223333:key/x",
            ArnPart::Service,
            "the service ``",
        ),
        (
            "arn:aws:kms:us-east-1a:111122223333:key/x",
            ArnPart::Region,
            "`us-east-1a`",
        ),
        (
            "arn:aws:kms:US-EAST-1:111122223333:key/x",
            ArnPart::Region,
            "`US-EAST-1`",
        ),
        (
            "arn:aws:kms:cn-north-1:111122223333:key/x",
            ArnPart::Region,
            "partition `aws-cn`",
        ),
        (
            "arn:aws-us-gov:kms:us-east-1:111122223333:key/x",
            ArnPart::Region,
            "`aws`, not",
        ),
        (
            "arn:aws:kms:us-east-1:11112222333:key/x",
            ArnPart::Account,
            "`11112222333`",
        ),
        (
            "arn:aws:kms:us-east-1:11112222333a:key/x",
            ArnPart::Account,
            "12-digit",
        ),
        (
            "arn:aws:kms:us-east-1:111122223333:",
            ArnPart::Resource,
            "the resource is empty",
        ),
    ];
    for (text, part, expected) in cases {
        let (found, message) = fails(text.parse::<Arn>());
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
        assert!(
            message.contains(&format!("`{text}`")),
            "the ARN is quoted: {message}"
        );
    }
}

#[test]
fn regions_of_every_partition_parse() {
    for text in [
        "arn:aws:kms:ap-southeast-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-cn:kms:cn-northwest-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        let key = KmsKeyArn::parse(text).unwrap();
        assert_eq!(key.as_str(), text);
    }
}

#[test]
fn kms_key_arns_by_key_id_and_multi_region_id() {
    let key = KmsKeyArn::parse(KEY).unwrap();
    assert_eq!(key.region(), "us-east-1");
    assert_eq!(key.account(), "111122223333");
    assert_eq!(key.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
    assert!(!key.is_multi_region());

    let replica: KmsKeyArn = MRK.parse().unwrap();
    assert!(replica.is_multi_region());
    assert_eq!(replica.region(), "eu-west-1");
}

#[test]
fn malformed_kms_key_arns_say_what_is_wrong() {
    let cases = [
        (
            "arn:aws:kms:us-east-1:111122223333:alias/guardduty-export",
            ArnPart::Resource,
            "is an alias",
        ),
        (
            "arn:aws:kms:us-east-1:111122223333:keys/x",
            ArnPart::Resource,
            "not `key/KEY_ID`",
        ),
        (
            "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab",
            ArnPart::Resource,
            "the key ID `1234ABCD",
        ),
        (
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd",
            ArnPart::Resource,
            "neither a UUID",
        ),
        (
            "arn:aws:kms:us-east-1:111122223333:key/mrk-12",
            ArnPart::Resource,
            "multi-Region",
        ),
        (
            "arn:aws:kms::111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ArnPart::Region,
            "the region is missing",
        ),
        (
            "arn:aws:kms:us-east-1::key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ArnPart::Account,
            "account ID is missing",
        ),
        (
            "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ArnPart::Service,
            "the service is `s3`, not `kms`",
        ),
    ];
    for (text, part, expected) in cases {
        let (found, message) = fails(KmsKeyArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
        assert!(message.contains("is not a valid KMS key ARN"), "{message}");
    }
}

#[test]
fn kms_alias_arns_tell_aws_managed_keys() {
    let managed =
        KmsAliasArn::parse("arn:aws:kms:us-east-1:111122223333:alias/aws/guardduty").unwrap();
    assert_eq!(managed.alias_name(), "alias/aws/guardduty");
    assert!(managed.is_aws_managed() && managed.is_guardduty_managed());
    assert_eq!(
        (managed.region(), managed.account()),
        ("us-east-1", "111122223333")
    );

    let s3 = KmsAliasArn::parse("arn:aws:kms:us-east-1:111122223333:alias/aws/s3").unwrap();
    assert!(s3.is_aws_managed() && !s3.is_guardduty_managed());
    let own =
        KmsAliasArn::parse("arn:aws:kms:us-east-1:111122223333:alias/guardduty-export").unwrap();
    assert!(!own.is_aws_managed());

    let (part, message) = fails(KmsAliasArn::parse(KEY));
    assert_eq!(part, ArnPart::Resource);
    assert!(message.contains("is not `alias/NAME`"), "{message}");
    let (part, message) = fails(KmsAliasArn::parse(
        "arn:aws:kms:us-east-1:111122223333:alias/has space",
    ));
    assert_eq!(part, ArnPart::Layout, "{message}");
    let (part, message) = fails(KmsAliasArn::parse(
        "arn:aws:kms:us-east-1:111122223333:alias/a:b",
    ));
    assert_eq!(part, ArnPart::Resource, "{message}");
    assert!(message.contains("the alias name `a:b`"), "{message}");
}

#[test]
fn role_arns_with_and_without_a_path() {
    let role = RoleArn::parse(ROLE).unwrap();
    assert_eq!(role.account(), "111122223333");
    assert_eq!(role.name(), "OIDC_MicrosoftSentinelRole");
    assert_eq!(role.path(), "/");
    assert_eq!(role.account_root(), "arn:aws:iam::111122223333:root");

    let nested =
        RoleArn::parse("arn:aws:iam::111122223333:role/security/sentinel/OIDC_Reader").unwrap();
    assert_eq!(nested.name(), "OIDC_Reader");
    assert_eq!(nested.path(), "/security/sentinel/");

    let gov = RoleArn::parse("arn:aws-us-gov:iam::111122223333:role/OIDC_Gov").unwrap();
    assert_eq!(gov.partition(), Partition::AwsUsGov);
    assert_eq!(gov.account_root(), "arn:aws-us-gov:iam::111122223333:root");
}

#[test]
fn malformed_role_arns_say_what_is_wrong() {
    let cases = [
        (
            "arn:aws:iam:us-east-1:111122223333:role/R",
            ArnPart::Region,
            "have no region",
        ),
        (
            "arn:aws:iam::aws:role/R",
            ArnPart::Account,
            "the account is `aws`",
        ),
        (
            "arn:aws:iam::111122223333:user/alice",
            ArnPart::Resource,
            "is not a role",
        ),
        (
            "arn:aws:iam::111122223333:role/",
            ArnPart::Resource,
            "the role name ``",
        ),
        (
            "arn:aws:iam::111122223333:role/path/",
            ArnPart::Resource,
            "the role name ``",
        ),
        (
            "arn:aws:iam::111122223333:role/bad*name",
            ArnPart::Resource,
            "`bad*name`",
        ),
        (
            "arn:aws:iam::111122223333:role//R",
            ArnPart::Resource,
            "the role path `//`",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/OIDC_X/MicrosoftSentinel_1",
            ArnPart::Service,
            "names a session of the role",
        ),
        (
            "arn:aws:kms::111122223333:role/R",
            ArnPart::Service,
            "not `iam`",
        ),
    ];
    for (text, part, expected) in cases {
        let (found, message) = fails(RoleArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
    let long_name = format!("arn:aws:iam::111122223333:role/{}", "a".repeat(65));
    let (_, message) = fails(RoleArn::parse(&long_name));
    assert!(message.contains("1 to 64"), "{message}");
}

#[test]
fn an_assumed_role_becomes_a_role_only_with_its_path() {
    let session = AssumedRoleArn::parse(
        "arn:aws:sts::111122223333:assumed-role/OIDC_MicrosoftSentinelRole/\
         MicrosoftSentinel_2b2d3c4e-0000-0000-0000-000000000000",
    )
    .unwrap();
    assert_eq!(session.account(), "111122223333");
    assert_eq!(session.role_name(), "OIDC_MicrosoftSentinelRole");
    assert_eq!(
        session.session_name(),
        "MicrosoftSentinel_2b2d3c4e-0000-0000-0000-000000000000"
    );

    let error = session.role_arn(None).unwrap_err().to_string();
    assert!(error.contains("not its path"), "{error}");
    assert!(
        error.contains("aws iam get-role --role-name OIDC_MicrosoftSentinelRole"),
        "{error}"
    );

    assert_eq!(session.role_arn(Some("/")).unwrap().as_str(), ROLE);
    assert_eq!(
        session.role_arn(Some("/security/")).unwrap().as_str(),
        "arn:aws:iam::111122223333:role/security/OIDC_MicrosoftSentinelRole"
    );
    // A path given without its slashes is still understood.
    assert_eq!(
        session.role_arn(Some("security")).unwrap().path(),
        "/security/"
    );
}

#[test]
fn malformed_assumed_role_arns_say_what_is_wrong() {
    let cases = [
        (
            "arn:aws:sts::111122223333:assumed-role/R",
            ArnPart::Resource,
            "ROLE_NAME/SESSION_NAME",
        ),
        (
            "arn:aws:sts::111122223333:federated-user/bob",
            ArnPart::Resource,
            "assumed-role/",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/R/s",
            ArnPart::Resource,
            "session name `s`",
        ),
        (
            "arn:aws:iam::111122223333:assumed-role/R/session",
            ArnPart::Service,
            "not `sts`",
        ),
        (
            "arn:aws:sts:us-east-1:111122223333:assumed-role/R/session",
            ArnPart::Region,
            "region",
        ),
    ];
    for (text, part, expected) in cases {
        let (found, message) = fails(AssumedRoleArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn s3_bucket_and_object_arns() {
    let bucket = S3BucketArn::parse("arn:aws:s3:::guardduty-findings-111122223333").unwrap();
    assert_eq!(bucket.bucket(), "guardduty-findings-111122223333");

    let prefix = S3ObjectArn::parse("arn:aws:s3:::guardduty-findings/exports/").unwrap();
    assert_eq!(prefix.bucket(), "guardduty-findings");
    assert_eq!(prefix.key(), "exports/");
    assert_eq!(
        prefix.bucket_arn().as_str(),
        "arn:aws:s3:::guardduty-findings"
    );

    let object = S3ObjectArn::parse(
        "arn:aws:s3:::findings/AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/03/a.jsonl.gz",
    )
    .unwrap();
    assert_eq!(
        object.key(),
        "AWSLogs/111122223333/GuardDuty/us-east-1/2026/12/03/a.jsonl.gz"
    );
}

#[test]
fn malformed_s3_arns_say_what_is_wrong() {
    let buckets = [
        (
            "arn:aws:s3:us-east-1::bucket",
            ArnPart::Region,
            "have no region",
        ),
        (
            "arn:aws:s3::111122223333:bucket",
            ArnPart::Account,
            "have no account",
        ),
        (
            "arn:aws:s3:::bucket/key",
            ArnPart::Resource,
            "that is an object ARN",
        ),
        (
            "arn:aws:s3:::Bucket",
            ArnPart::Resource,
            "the bucket name `Bucket`",
        ),
        ("arn:aws:s3:::ab", ArnPart::Resource, "3 to 63"),
        ("arn:aws:s3:::-bucket", ArnPart::Resource, "begin and end"),
        ("arn:aws:s3:::my..bucket", ArnPart::Resource, "`my..bucket`"),
        (
            "arn:aws:s3:::192.168.5.4",
            ArnPart::Resource,
            "`192.168.5.4`",
        ),
    ];
    for (text, part, expected) in buckets {
        let (found, message) = fails(S3BucketArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
    let objects = [
        ("arn:aws:s3:::bucket", ArnPart::Resource, "has no key"),
        ("arn:aws:s3:::bucket/", ArnPart::Resource, "1 to 1024 bytes"),
        (
            "arn:aws:s3:::Bucket/key",
            ArnPart::Resource,
            "the bucket name `Bucket`",
        ),
    ];
    for (text, part, expected) in objects {
        let (found, message) = fails(S3ObjectArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn sqs_queue_arns() {
    let queue =
        SqsQueueArn::parse("arn:aws:sqs:us-east-1:111122223333:guardduty-findings").unwrap();
    assert_eq!(queue.name(), "guardduty-findings");
    assert_eq!(
        (queue.region(), queue.account()),
        ("us-east-1", "111122223333")
    );
    assert!(!queue.is_fifo());
    assert!(
        SqsQueueArn::parse("arn:aws:sqs:us-east-1:111122223333:q.fifo")
            .unwrap()
            .is_fifo()
    );

    let cases = [
        (
            "arn:aws:sqs::111122223333:q",
            ArnPart::Region,
            "the region is missing",
        ),
        (
            "arn:aws:sqs:us-east-1::q",
            ArnPart::Account,
            "account ID is missing",
        ),
        (
            "arn:aws:sqs:us-east-1:111122223333:q.name",
            ArnPart::Resource,
            "`q.name`",
        ),
        (
            "arn:aws:sqs:us-east-1:111122223333:.fifo",
            ArnPart::Resource,
            "1 to 80",
        ),
    ];
    for (text, part, expected) in cases {
        let (found, message) = fails(SqsQueueArn::parse(text));
        assert_eq!(found, part, "{text}: {message}");
        assert!(message.contains(expected), "{text}: {message}");
    }
    let long = format!("arn:aws:sqs:us-east-1:111122223333:{}", "q".repeat(81));
    assert_eq!(fails(SqsQueueArn::parse(&long)).0, ArnPart::Resource);
}

#[test]
fn typed_arns_compare_and_print_as_given() {
    let a: KmsKeyArn = KEY.parse().unwrap();
    let b: KmsKeyArn = MRK.parse().unwrap();
    let mut keys = vec![a.clone(), b.clone()];
    keys.sort();
    // Ordered by text (eu-west-1 before us-east-1), so output built from them is deterministic.
    assert_eq!(keys, [b, a.clone()]);
    assert_eq!(format!("{a}"), KEY);
    assert_eq!(a.as_arn().service(), "kms");
}
