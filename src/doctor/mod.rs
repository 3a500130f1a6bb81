//! `doctor --aws`: reads the AWS side of the pipeline with read-only calls and says, per region,
//! what keeps findings from reaching Sentinel: GuardDuty's publishing destination, the export
//! key and its policy, the connector's role (trust and permissions), the bucket's encryption and
//! notification, and the queue.
//!
//! [`aws`] reads [`facts`] through the AWS SDK (feature `aws`); [`checks`] judges them into
//! `validate`'s verdicts, with [`evaluate`], our own evaluator of key, queue and trust policies;
//! [`correlate`] joins them to a `validate` result. Everything but the reading is plain code
//! that builds and is tested without the AWS SDK.

#[cfg(feature = "aws")]
pub mod aws;
pub mod checks;
#[cfg(feature = "aws")]
pub mod command;
pub mod correlate;
pub mod evaluate;
pub mod facts;
#[cfg(test)]
mod tests;
