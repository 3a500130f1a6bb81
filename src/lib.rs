//! sentinel-kms: finds silent failures in the AWS GuardDuty to Microsoft Sentinel pipeline.

pub mod catalog;
pub mod duration;
pub mod error;
pub mod client;
pub mod classify;
pub mod verdict;
