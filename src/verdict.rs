//! Verdicts: what the tool concludes about one check, in one workspace, for one group (an AWS
//! account and region, where the check has groups), and the exit code a set of them implies.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::{Check, Severity};
use crate::error::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Lag,
    NoData,
    /// Could not evaluate: nothing is known about the data.
    Error,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Healthy, Status::Lag, Status::NoData, Status::Error];

    pub fn name(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Lag => "lag",
            Status::NoData => "no_data",
            Status::Error => "error",
        }
    }
}

/// The grouping columns of a result row, in the order the check declares them.
pub type Group = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub check: String,
    pub check_version: String,
    pub check_file: String,
    pub severity: Severity,
    pub workspace: String,
    pub status: Status,
    /// Stable, machine-readable cause, e.g. `stale`, `table_missing`, `forbidden`.
    pub reason: String,
    /// Whether this verdict fails the run (exit 1): no data, or lag past its failure level.
    pub fails: bool,
    /// Drawn from a result the service returned only in part.
    pub partial: bool,
    pub group: Option<Group>,
    pub last_seen: Option<DateTime<Utc>>,
    pub lag_seconds: Option<i64>,
    pub message: String,
    pub remedy: Option<String>,
    /// The values the verdict rests on (ARNs, codes, counts, times), by column name.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// How long the query behind the verdict took, retries included; unknown for verdicts not
    /// drawn from a query of their own (an expected group that never reported).
    pub elapsed: Option<std::time::Duration>,
}

impl Verdict {
    /// A verdict for `check` in `workspace`, to be completed by the caller.
    pub fn new(
        check: &Check,
        workspace: &str,
        status: Status,
        reason: &str,
        message: String,
    ) -> Verdict {
        Verdict {
            check: check.id.clone(),
            check_version: check.version.to_string(),
            check_file: check.path.display().to_string(),
            severity: check.severity,
            workspace: workspace.to_string(),
            fails: matches!(status, Status::NoData),
            status,
            reason: reason.to_string(),
            partial: false,
            group: None,
            last_seen: None,
            lag_seconds: None,
            message,
            remedy: None,
            evidence: serde_json::Map::new(),
            elapsed: None,
        }
    }

    /// The value of one grouping column (`AccountId`, `Region`), if the verdict is grouped by it.
    pub fn group_value(&self, column: &str) -> Option<&str> {
        (self.group.as_ref()?.iter())
            .find(|(name, _)| name == column)
            .map(|(_, value)| value.as_str())
    }

    /// `AccountId=111122223333, Region=eu-west-1`, or `-` for an ungrouped verdict.
    pub fn group_label(&self) -> String {
        match &self.group {
            None => "-".into(),
            Some(pairs) => pairs
                .iter()
                .map(|(name, value)| {
                    if value.is_empty() {
                        format!("{name}=(empty)")
                    } else {
                        format!("{name}={value}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Counts per status, and the exit code they imply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub healthy: usize,
    pub lag: usize,
    pub no_data: usize,
    pub error: usize,
    pub failed: usize,
    pub partial: usize,
}

impl Summary {
    pub fn of(verdicts: &[Verdict]) -> Summary {
        let mut summary = Summary::default();
        for verdict in verdicts {
            match verdict.status {
                Status::Healthy => summary.healthy += 1,
                Status::Lag => summary.lag += 1,
                Status::NoData => summary.no_data += 1,
                Status::Error => summary.error += 1,
            }
            summary.failed += usize::from(verdict.fails);
            summary.partial += usize::from(verdict.partial);
        }
        summary
    }

    pub fn total(&self) -> usize {
        self.healthy + self.lag + self.no_data + self.error
    }

    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Healthy => self.healthy,
            Status::Lag => self.lag,
            Status::NoData => self.no_data,
            Status::Error => self.error,
        }
    }

    /// 1 when anything failed (it wins over 3, being the actionable signal); 3 when anything
    /// could not be evaluated or rests on a partial result; 0 otherwise. A run with no verdicts
    /// at all evaluated nothing, so it is 3 as well.
    pub fn exit_code(&self) -> u8 {
        if self.failed > 0 {
            exit::FAILED
        } else if self.error > 0 || self.partial > 0 || self.total() == 0 {
            exit::NOT_EVALUATED
        } else {
            exit::OK
        }
    }
}
