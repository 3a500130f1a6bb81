//! S3 bucket ARNs (`arn:aws:s3:::BUCKET`) and object ARNs (`arn:aws:s3:::BUCKET/KEY`). GuardDuty's
//! export destination is one of these: a bucket, or a bucket and a key prefix.

use super::{Arn, ArnError, ArnPart, Shape, typed_arn};

const S3: Shape = Shape {
    service: "s3",
    regional: false,
    account: false,
};

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3BucketArn {
    arn: Arn,
}

typed_arn!(S3BucketArn);

impl S3BucketArn {
    const KIND: &'static str = "S3 bucket ARN";

    pub fn parse(text: &str) -> Result<S3BucketArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(Self::KIND, S3)?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        if arn.resource().contains('/') {
            return Err(invalid(format!(
                "`{}` has a key after the bucket name: that is an object ARN",
                arn.resource()
            )));
        }
        check_bucket_name(arn.resource()).map_err(invalid)?;
        Ok(S3BucketArn { arn })
    }

    pub fn bucket(&self) -> &str {
        self.arn.resource()
    }
}

/// An object, or a key prefix such as GuardDuty's `bucket/prefix/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3ObjectArn {
    arn: Arn,
}

typed_arn!(S3ObjectArn);

impl S3ObjectArn {
    const KIND: &'static str = "S3 object ARN";

    pub fn parse(text: &str) -> Result<S3ObjectArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(Self::KIND, S3)?;
        let invalid =
            |problem: String| ArnError::invalid(text, Self::KIND, ArnPart::Resource, problem);
        let Some((bucket, key)) = arn.resource().split_once('/') else {
            return Err(invalid(format!(
                "`{}` has no key: the resource of an object ARN is `BUCKET/KEY`",
                arn.resource()
            )));
        };
        check_bucket_name(bucket).map_err(invalid)?;
        if key.is_empty() || key.len() > 1024 {
            return Err(invalid(format!(
                "the object key `{key}` is not 1 to 1024 bytes"
            )));
        }
        Ok(S3ObjectArn { arn })
    }

    pub fn bucket(&self) -> &str {
        self.split().0
    }

    pub fn key(&self) -> &str {
        self.split().1
    }

    /// The ARN of the bucket the object is in.
    pub fn bucket_arn(&self) -> S3BucketArn {
        S3BucketArn::parse(&format!("arn:{}:s3:::{}", self.partition(), self.bucket()))
            .expect("the bucket name was checked")
    }

    fn split(&self) -> (&str, &str) {
        self.arn.resource().split_once('/').expect("checked")
    }
}

/// S3's rules for general purpose bucket names: 3 to 63 lower-case letters, digits, dots and
/// hyphens, beginning and ending with a letter or digit, no `..`, not an IP address.
fn check_bucket_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let bytes = name.as_bytes();
    let looks_like_ip = name.parse::<std::net::Ipv4Addr>().is_ok();
    if !(3..=63).contains(&bytes.len())
        || !bytes.iter().copied().all(allowed)
        || !edge(bytes.first())
        || !edge(bytes.last())
        || name.contains("..")
        || looks_like_ip
    {
        return Err(format!(
            "the bucket name `{name}` is not 3 to 63 lower-case letters, digits, dots or \
             hyphens that begin and end with a letter or digit"
        ));
    }
    Ok(())
}
