//! The failure policy (`--fail-on`) and what each verdict means for the run: passed, a warning,
//! a failure, or could not evaluate. Every output format (table, JSON, JUnit, summary, CI
//! logging commands) and the exit code read the same classification from here.

use clap::ValueEnum;

use crate::verdict::{Status, Verdict};

/// One item of `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnItem {
    /// No data at the check's failure level (stopped, never seen, expected but missing).
    NoData,
    /// Lag past the check's failure level.
    Lag,
    /// Lag below the failure level, quiet groups, optional tables missing.
    Warning,
    /// Nothing fails the run; a run that could not evaluate everything still exits 3.
    None,
}

impl FailOnItem {
    /// `--fail-on no-data,lag`.
    pub const DEFAULT: [FailOnItem; 2] = [FailOnItem::NoData, FailOnItem::Lag];
}

/// Which verdicts fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOn {
    pub no_data: bool,
    pub lag: bool,
    pub warning: bool,
}

impl Default for FailOn {
    fn default() -> Self {
        FailOn {
            no_data: true,
            lag: true,
            warning: false,
        }
    }
}

impl FailOn {
    /// The policy the items of `--fail-on` choose; `none` cannot be combined with the others.
    pub fn from_items(items: &[FailOnItem]) -> Result<FailOn, String> {
        if items.contains(&FailOnItem::None) && items.len() > 1 {
            return Err("`--fail-on none` cannot be combined with other items".into());
        }
        Ok(FailOn {
            no_data: items.contains(&FailOnItem::NoData),
            lag: items.contains(&FailOnItem::Lag),
            warning: items.contains(&FailOnItem::Warning),
        })
    }

    /// Whether a verdict fails the run under this policy. `verdict.fails` holds the check's own
    /// judgement: no data or lag at its failure level.
    pub fn fails(&self, verdict: &Verdict) -> bool {
        match (verdict.status, verdict.fails) {
            (Status::Healthy | Status::Error, _) => false,
            (Status::NoData, true) => self.no_data,
            (Status::Lag, true) => self.lag,
            (Status::NoData | Status::Lag, false) => self.warning,
        }
    }

    /// Rewrites `fails` of every verdict to say whether it fails the run under this policy.
    pub fn apply(&self, verdicts: &mut [Verdict]) {
        for verdict in verdicts {
            verdict.fails = self.fails(verdict);
        }
    }

    /// The items, as `--fail-on` takes them.
    pub fn describe(&self) -> String {
        let items: Vec<&str> = [
            (self.no_data, "no-data"),
            (self.lag, "lag"),
            (self.warning, "warning"),
        ]
        .iter()
        .filter(|(chosen, _)| *chosen)
        .map(|(_, name)| *name)
        .collect();
        if items.is_empty() {
            "none".into()
        } else {
            items.join(",")
        }
    }
}

/// What one verdict means for the run, once the policy has been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Passed,
    /// Not healthy, but not failing the run: lag below the failure level, quiet, or a failure
    /// kind that `--fail-on` leaves out.
    Warning,
    Failed,
    /// Could not evaluate.
    Error,
}

impl Outcome {
    pub fn of(verdict: &Verdict) -> Outcome {
        match verdict.status {
            Status::Healthy => Outcome::Passed,
            Status::Error => Outcome::Error,
            Status::NoData | Status::Lag if verdict.fails => Outcome::Failed,
            Status::NoData | Status::Lag => Outcome::Warning,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Warning => "warning",
            Outcome::Failed => "failed",
            Outcome::Error => "could not evaluate",
        }
    }
}

/// Verdicts counted by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Tally {
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Tally {
        let mut tally = Tally::default();
        for verdict in verdicts {
            match Outcome::of(verdict) {
                Outcome::Passed => tally.passed += 1,
                Outcome::Warning => tally.warnings += 1,
                Outcome::Failed => tally.failed += 1,
                Outcome::Error => tally.errors += 1,
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::built_in;

    fn verdict(status: Status, fails: bool) -> Verdict {
        let checks = built_in().unwrap();
        let mut verdict = Verdict::new(&checks[0], "w", status, "r", String::new());
        verdict.fails = fails;
        verdict
    }

    #[test]
    fn the_default_fails_on_failure_levels_only() {
        let policy = FailOn::from_items(&FailOnItem::DEFAULT).unwrap();
        assert_eq!(policy, FailOn::default());
        assert!(policy.fails(&verdict(Status::NoData, true)));
        assert!(policy.fails(&verdict(Status::Lag, true)));
        assert!(!policy.fails(&verdict(Status::Lag, false)));
        assert!(!policy.fails(&verdict(Status::NoData, false)));
        assert!(!policy.fails(&verdict(Status::Error, false)));
        assert!(!policy.fails(&verdict(Status::Healthy, false)));
    }

    #[test]
    fn each_item_chooses_its_own_kind() {
        let lag_only = FailOn::from_items(&[FailOnItem::Lag]).unwrap();
        assert!(!lag_only.fails(&verdict(Status::NoData, true)));
        assert!(lag_only.fails(&verdict(Status::Lag, true)));

        let strict =
            FailOn::from_items(&[FailOnItem::NoData, FailOnItem::Lag, FailOnItem::Warning])
                .unwrap();
        assert!(strict.fails(&verdict(Status::Lag, false)));
        assert!(strict.fails(&verdict(Status::NoData, false)));
        assert!(!strict.fails(&verdict(Status::Error, false)));
        assert_eq!(strict.describe(), "no-data,lag,warning");

        let none = FailOn::from_items(&[FailOnItem::None]).unwrap();
        assert!(!none.fails(&verdict(Status::NoData, true)));
        assert_eq!(none.describe(), "none");
        assert!(FailOn::from_items(&[FailOnItem::None, FailOnItem::Lag]).is_err());
    }

    #[test]
    fn a_failure_left_out_by_the_policy_is_a_warning() {
        let mut verdicts = vec![
            verdict(Status::NoData, true),
            verdict(Status::Lag, true),
            verdict(Status::Healthy, false),
            verdict(Status::Error, false),
        ];
        FailOn::from_items(&[FailOnItem::Lag])
            .unwrap()
            .apply(&mut verdicts);
        let outcomes: Vec<Outcome> = verdicts.iter().map(Outcome::of).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Warning,
                Outcome::Failed,
                Outcome::Passed,
                Outcome::Error
            ]
        );
        assert_eq!(
            Tally::of(&verdicts),
            Tally {
                passed: 1,
                warnings: 1,
                failed: 1,
                errors: 1
            }
        );
    }
}
