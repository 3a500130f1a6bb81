//! Joining the AWS side to a `validate` result: a group that stopped or lags in Sentinel, and the
//! AWS-side verdicts of the same region (and account) that explain it, become one diagnosis:
//! "eu-west-1 stale since 10:02: the key policy of X does not let role Y decrypt".

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::diagnose::Diagnosis;
use crate::error::{Error, Result};
use crate::verdict::{Status, Verdict};

/// The parts of a `validate --format json` document the doctor reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ValidateResult {
    #[serde(default)]
    pub workspaces: Vec<String>,
    pub results: Vec<ValidateVerdict>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ValidateVerdict {
    pub check: String,
    pub workspace: String,
    pub status: String,
    pub reason: String,
    #[serde(default)]
    pub fails: bool,
    pub group: Option<Map<String, Value>>,
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(default)]
    pub message: String,
}

impl ValidateVerdict {
    fn group_value(&self, name: &str) -> Option<&str> {
        self.group.as_ref()?.get(name)?.as_str()
    }

    pub fn region(&self) -> Option<&str> {
        self.group_value("Region").filter(|r| !r.is_empty())
    }

    pub fn account(&self) -> Option<&str> {
        self.group_value("AccountId").filter(|a| !a.is_empty())
    }

    /// Findings stopped or lag in this group.
    fn is_trouble(&self) -> bool {
        matches!(self.status.as_str(), "no_data" | "lag") && (self.fails || self.status == "lag")
    }
}

impl ValidateResult {
    /// Reads a `validate --format json` document; a file that is not one is a usage error that
    /// names the file and, for bad JSON, the line and column.
    pub fn load(path: &Path) -> Result<ValidateResult> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::usage(format!(
                "cannot read the validate result `{}`: {error}",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|error| {
            Error::usage(format!(
                "`{}`:{}:{}: not a `sentinel-kms validate --format json` result: {error}",
                path.display(),
                error.line(),
                error.column()
            ))
        })
    }

    /// The AWS regions Sentinel knows of, in order, each once.
    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self
            .results
            .iter()
            .filter_map(|r| r.region().map(str::to_string))
            .collect();
        regions.sort();
        regions.dedup();
        regions
    }
}

/// One diagnosis per troubled `validate` group: the failing AWS-side verdicts of its region and
/// account, or, when the AWS side is clear there, a diagnosis that says so. A group whose
/// account or region this run did not read gets a diagnosis that says that, never "clear".
pub fn correlate(validate: &ValidateResult, verdicts: &[Verdict]) -> Vec<Diagnosis> {
    // The accounts this run read: the one it ran in (a doctor verdict's workspace), and every
    // account a grouped verdict names. A GuardDuty administrator's bucket holds its members'
    // folders too, and the doctor checks each folder's notification; a member's findings
    // then travel the administrator's path (its detector's export, key, bucket, queue and
    // connector role), so those verdicts concern the member as well.
    let mut read_accounts: Vec<&str> = (verdicts.iter())
        .map(|v| v.workspace.as_str())
        .chain(verdicts.iter().filter_map(|v| v.group_value("AccountId")))
        .collect();
    read_accounts.sort_unstable();
    read_accounts.dedup();
    let mut diagnoses = Vec::new();
    for trouble in validate.results.iter().filter(|r| r.is_trouble()) {
        let Some(region) = trouble.region() else {
            continue;
        };
        let other_account = trouble
            .account()
            .filter(|account| !read_accounts.contains(account));
        let in_scope = |verdict: &Verdict| {
            if verdict.group.is_none() {
                // Role-wide verdicts (the trust policy) concern every account and region whose
                // export this run read; an account it did not read has a connector role of
                // its own.
                return other_account.is_none();
            }
            if verdict.group_value("Region") != Some(region) {
                return false;
            }
            let Some(account) = trouble.account() else {
                return true;
            };
            // The path of the account the run ran in, when this account's folder is in its
            // bucket; but not the notification of its own folder, which is not this account's.
            let owner = verdict.group_value("AccountId");
            owner == Some(account)
                || owner == Some(verdict.workspace.as_str())
                    && verdict.check != super::checks::NOTIFICATION.id
                    && verdicts.iter().any(|other| {
                        other.workspace == verdict.workspace
                            && other.group_value("AccountId") == Some(account)
                    })
        };
        let related: Vec<usize> = (0..verdicts.len())
            .filter(|&i| in_scope(&verdicts[i]))
            .collect();
        if verdicts.is_empty() {
            continue;
        }
        let read_here = related.iter().any(|&i| verdicts[i].group.is_some());
        let causes: Vec<usize> = related
            .iter()
            .copied()
            .filter(|&i| verdicts[i].fails || verdicts[i].status == Status::Lag)
            .collect();
        let undecided: Vec<usize> = related
            .iter()
            .copied()
            .filter(|&i| verdicts[i].status == Status::Error)
            .collect();
        let since = trouble.last_seen.map_or_else(
            || "with nothing seen".to_string(),
            |t| format!("since {}", t.format("%Y-%m-%d %H:%M UTC")),
        );
        let who = match trouble.account() {
            Some(account) => format!("{account} {region}"),
            None => region.to_string(),
        };
        let headline = format!("{who} {} {since}", trouble.reason.replace('_', " "));
        let evidence = json!({
            "validate_check": trouble.check,
            "validate_status": trouble.status,
            "validate_reason": trouble.reason,
            "validate_message": trouble.message,
            "last_seen": trouble.last_seen.map(|t| t.to_rfc3339()),
            "AccountId": trouble.account(),
            "Region": region,
        });
        let evidence = evidence.as_object().cloned().unwrap_or_default();
        let (cause, summary, remedy, indices) = if !causes.is_empty() {
            let reasons: Vec<String> = causes
                .iter()
                .map(|&i| format!("{}: {}", verdicts[i].check, verdicts[i].message))
                .collect();
            let remedies: Vec<String> = causes
                .iter()
                .filter_map(|&i| {
                    verdicts[i]
                        .remedy
                        .as_ref()
                        .map(|r| format!("[{}] {r}", verdicts[i].check))
                })
                .collect();
            (
                "aws_side_cause",
                format!("{headline}: {}", verdicts[causes[0]].message),
                if reasons.len() > 1 {
                    format!(
                        "{} AWS-side causes, in the order to fix:\n{}",
                        reasons.len(),
                        remedies.join("\n")
                    )
                } else {
                    remedies.join("\n")
                },
                causes,
            )
        } else if !read_here {
            let (what, remedy) = match other_account {
                Some(account) => (
                    format!(
                        "AWS account {account} was not read (this run read {}), so nothing is \
                         known of its side",
                        read_accounts.join(", ")
                    ),
                    format!(
                        "Run `sentinel-kms doctor --aws` again with credentials of account \
                         {account} (--profile) and --region {region}: its export, key, role, \
                         bucket and queue are its own."
                    ),
                ),
                None => (
                    format!("{region} was not read in this run, so nothing is known of its side"),
                    format!("Run `sentinel-kms doctor --aws` again with --region {region}."),
                ),
            };
            (
                "aws_side_not_checked",
                format!("{headline}: {what}"),
                remedy,
                related,
            )
        } else if !undecided.is_empty() {
            (
                "aws_side_undetermined",
                format!(
                    "{headline}: the AWS side shows no fault, but {} of its checks could not be \
                     evaluated",
                    undecided.len()
                ),
                "See the verdicts listed: each says what could not be read or decided.".into(),
                undecided,
            )
        } else {
            (
                "aws_side_clear",
                format!(
                    "{headline}: every AWS-side check of {region} passes ({} verdicts)",
                    related.len()
                ),
                "The export, key, role, bucket notification and queue check out: look at the \
                 connector itself (its collector, SentinelHealth), or at an account that simply \
                 has no findings (a sample finding settles it)."
                    .into(),
                related,
            )
        };
        diagnoses.push(Diagnosis {
            workspace: trouble.workspace.clone(),
            cause: cause.into(),
            summary,
            verdicts: indices,
            remedy,
            evidence,
        });
    }
    diagnoses
}
