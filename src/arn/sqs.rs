//! SQS queue ARNs (`arn:aws:sqs:REGION:ACCOUNT:QUEUE`): the queue S3 notifies and the connector
//! polls.

use super::{Arn, ArnError, ArnPart, Shape, typed_arn};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SqsQueueArn {
    arn: Arn,
}

typed_arn!(SqsQueueArn);

impl SqsQueueArn {
    const KIND: &'static str = "SQS queue ARN";

    pub fn parse(text: &str) -> Result<SqsQueueArn, ArnError> {
        let arn = Arn::parse_as(text, Self::KIND)?.expect(
            Self::KIND,
            Shape {
                service: "sqs",
                regional: true,
                account: true,
            },
        )?;
        let name = arn.resource();
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if base.is_empty() || name.len() > 80 || !base.chars().all(allowed) {
            return Err(ArnError::invalid(
                text,
                Self::KIND,
                ArnPart::Resource,
                format!(
                    "the queue name `{name}` is not 1 to 80 letters, digits, `-` or `_` \
                     (with `.fifo` at the end of a FIFO queue)"
                ),
            ));
        }
        Ok(SqsQueueArn { arn })
    }

    pub fn region(&self) -> &str {
        self.arn.region().expect("a queue ARN has a region")
    }

    pub fn account(&self) -> &str {
        self.arn.account().expect("a queue ARN has an account")
    }

    pub fn name(&self) -> &str {
        self.arn.resource()
    }

    /// FIFO queues cannot receive S3 event notifications, which the connector relies on.
    pub fn is_fifo(&self) -> bool {
        self.name().ends_with(".fifo")
    }
}
