//! Runs every check in every workspace as few requests as the answers allow.
//!
//! With more than one workspace, a check whose query can be rewritten to keep each row's
//! workspace ([`combine`]) is sent once per batch of up to 100 workspaces (the API's
//! `workspaces` list), and the answer is split back per workspace. Each workspace still gets the
//! verdicts it would get if asked on its own, because whatever a cross-workspace answer cannot
//! vouch for is asked again:
//!
//! - a failed cross-workspace query, or one with a partial error: the service answers for the
//!   list as a whole (one workspace may be missing, unreadable or lack a table), so the batch is
//!   halved and each half asked; a half that fails again is halved in turn, and when both
//!   halves fail, each of their workspaces is asked alone. One bad workspace among 100 costs
//!   about 14 more requests; a check that fails in every workspace costs W + 3. Failures of the
//!   identity rather than of a workspace (no token, token rejected, throttled after the
//!   retries) are reported for the whole batch without asking again;
//! - a workspace without rows in the answer is asked alone, unless no rows is exactly what it
//!   would have answered alone and the check passes on no rows (`events` checks); otherwise the
//!   empty answer could hide one row of zeros (an ungrouped `summarize`) or a missing table.
//!   Even for `events` checks, an empty answer is only trusted at the end of the run, for a
//!   workspace that has shown itself readable by then (rows in some answer, or an answer of its
//!   own): a service that left an unreadable workspace out of the union without a word would
//!   otherwise have it reported healthy;
//! - a workspace found unreadable or missing when asked alone is asked alone for the rest of
//!   the run.
//!
//! The client's scheduler keeps all of it within the service's limits.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use crate::catalog::{Check, Classifier};
use crate::classify::classify;
use crate::client::combine::{self, Combined};
use crate::client::{LogsClient, QueryFailure, QueryResult};
use crate::progress::Progress;
use crate::verdict::{Status, Verdict};

/// How a run spreads its checks over requests.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Workspaces per cross-workspace query, 1 to 100; 1 sends one request per workspace.
    pub workspaces_per_query: usize,
    /// Checks in progress at once (their requests share the client's limits).
    pub concurrency: usize,
}

/// Verdicts of one check in one workspace, keyed by (workspace index, check index).
type Finished = Vec<((usize, usize), Vec<Verdict>)>;

enum Job<'a> {
    Single {
        check: usize,
        workspace: usize,
    },
    Across {
        check: usize,
        combined: &'a Combined,
        workspaces: Vec<usize>,
    },
}

struct Runner<'a> {
    client: &'a LogsClient,
    checks: &'a [Check],
    workspaces: &'a [String],
    /// Workspaces that answered alone that they cannot be read: asked alone from then on.
    alone: Mutex<HashSet<usize>>,
    /// Workspaces shown readable: rows in a cross-workspace answer, or an answer of their own.
    readable: Mutex<HashSet<usize>>,
    /// Empty cross-workspace answers of `events` checks, trusted at the end of the run for the
    /// workspaces shown readable by then, asked again alone for the others.
    unproven: Mutex<Vec<(usize, usize, QueryResult, Duration)>>,
}

/// Runs every check in every workspace. Verdicts come back in catalog order per workspace,
/// whatever order the answers arrive in; the flag says whether Ctrl-C cut the run short.
pub async fn run_all(
    client: &LogsClient,
    checks: &[Check],
    workspaces: &[String],
    plan: Plan,
    progress: &Progress,
) -> (Vec<Verdict>, bool) {
    let per_query = plan.workspaces_per_query.clamp(1, combine::MAX_WORKSPACES);
    let combined: Vec<Option<Combined>> = checks
        .iter()
        .map(|check| {
            if per_query < 2 || workspaces.len() < 2 {
                return None;
            }
            match combine::combine(check.query()) {
                Ok(combined) => Some(combined),
                Err(refusal) => {
                    tracing::info!(check = %check.id, "one request per workspace: {}", refusal.0);
                    None
                }
            }
        })
        .collect();
    let runner = Runner {
        client,
        checks,
        workspaces,
        alone: Mutex::new(HashSet::new()),
        readable: Mutex::new(HashSet::new()),
        unproven: Mutex::new(Vec::new()),
    };
    let runner = &runner;
    let combined = &combined;
    // Jobs are planned check by check as the run gets to them, so that a workspace found
    // unreadable is left out of the batches planned after that.
    let jobs = futures::stream::iter(0..checks.len()).flat_map(|check| {
        futures::stream::iter(runner.plan(check, combined[check].as_ref(), per_query))
    });
    let answers = jobs
        .map(|job| runner.run(job))
        .buffer_unordered(plan.concurrency.max(1) * 2);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut finished: Finished = Vec::new();
    let mut interrupted = collect(answers, &mut finished, progress, &mut ctrl_c).await;
    if !interrupted {
        let unproven = std::mem::take(&mut *runner.unproven.lock().expect("never poisoned"));
        let settle = futures::stream::iter(unproven)
            .map(|(check, workspace, part, took)| runner.settle(check, workspace, part, took))
            .buffer_unordered(plan.concurrency.max(1) * 2);
        interrupted = collect(settle, &mut finished, progress, &mut ctrl_c).await;
    }
    if interrupted {
        tracing::warn!(
            "interrupted: reporting the {} check runs that finished",
            finished.len()
        );
    }
    progress.finish();
    finished.sort_by_key(|(order, _)| *order);
    (
        finished
            .into_iter()
            .flat_map(|(_, verdicts)| verdicts)
            .collect(),
        interrupted,
    )
}

/// Gathers answers until the stream ends (false) or Ctrl-C (true).
async fn collect<S, F>(
    mut answers: S,
    finished: &mut Finished,
    progress: &Progress,
    ctrl_c: &mut std::pin::Pin<&mut F>,
) -> bool
where
    S: futures::Stream<Item = Finished> + Unpin,
    F: std::future::Future,
{
    loop {
        tokio::select! {
            next = answers.next() => match next {
                Some(answer) => {
                    progress.advance(answer.len() as u64);
                    finished.extend(answer);
                }
                None => return false,
            },
            _ = ctrl_c.as_mut() => return true,
        }
    }
}

impl<'a> Runner<'a> {
    fn plan(&self, check: usize, combined: Option<&'a Combined>, per_query: usize) -> Vec<Job<'a>> {
        let Some(combined) = combined else {
            return (0..self.workspaces.len())
                .map(|workspace| Job::Single { check, workspace })
                .collect();
        };
        let alone = self
            .alone
            .lock()
            .expect("the lock is never poisoned")
            .clone();
        let (solo, together): (Vec<usize>, Vec<usize>) =
            (0..self.workspaces.len()).partition(|w| alone.contains(w));
        let mut jobs: Vec<Job> = solo
            .into_iter()
            .map(|workspace| Job::Single { check, workspace })
            .collect();
        for batch in together.chunks(per_query) {
            jobs.push(match batch {
                [workspace] => Job::Single {
                    check,
                    workspace: *workspace,
                },
                _ => Job::Across {
                    check,
                    combined,
                    workspaces: batch.to_vec(),
                },
            });
        }
        jobs
    }

    /// An empty cross-workspace answer of an `events` check, now that the run knows which
    /// workspaces are readable: trusted for one that is; one that is not may have been left out
    /// of the union for being unreadable, and is asked alone.
    async fn settle(
        &self,
        check: usize,
        workspace: usize,
        part: QueryResult,
        took: Duration,
    ) -> Finished {
        let readable = self
            .readable
            .lock()
            .expect("the lock is never poisoned")
            .contains(&workspace);
        if readable {
            vec![(
                (workspace, check),
                self.verdicts(check, workspace, &Ok(part), took),
            )]
        } else {
            vec![self.alone(check, workspace).await]
        }
    }

    async fn run(&self, job: Job<'_>) -> Finished {
        match job {
            Job::Single { check, workspace } => vec![self.alone(check, workspace).await],
            Job::Across {
                check,
                combined,
                workspaces,
            } => self.across(check, combined, workspaces).await,
        }
    }

    /// One check in one workspace, on its own.
    async fn alone(&self, check: usize, workspace: usize) -> ((usize, usize), Vec<Verdict>) {
        let started = Instant::now();
        let outcome = self
            .client
            .query(&self.workspaces[workspace], self.checks[check].query())
            .await;
        let took = started.elapsed();
        match &outcome {
            Err(
                QueryFailure::Forbidden(_)
                | QueryFailure::WorkspaceNotFound(_)
                | QueryFailure::Unauthorized(_),
            ) => {
                self.alone
                    .lock()
                    .expect("the lock is never poisoned")
                    .insert(workspace);
            }
            Ok(_) => {
                self.readable
                    .lock()
                    .expect("the lock is never poisoned")
                    .insert(workspace);
            }
            Err(_) => {}
        }
        (
            (workspace, check),
            self.verdicts(check, workspace, &outcome, took),
        )
    }

    /// One check over a batch of workspaces in one request, and whatever the answer cannot
    /// vouch for asked again.
    async fn across(&self, check: usize, combined: &Combined, batch: Vec<usize>) -> Finished {
        match self.try_across(check, combined, batch).await {
            Ok(finished) => finished,
            Err(failed) => self.narrow_down(check, combined, failed).await,
        }
    }

    /// After a batch failed as a whole: ask each half; a half that fails again is narrowed down
    /// the same way, and when both halves fail the failure is likely common to many of them, so
    /// each of their workspaces is asked alone.
    fn narrow_down<'s>(
        &'s self,
        check: usize,
        combined: &'s Combined,
        failed: Vec<usize>,
    ) -> BoxFuture<'s, Finished> {
        async move {
            let (first, second) = failed.split_at(failed.len() / 2);
            let (first, second) = futures::join!(
                self.try_across(check, combined, first.to_vec()),
                self.try_across(check, combined, second.to_vec())
            );
            match (first, second) {
                (Ok(mut one), Ok(two)) => {
                    one.extend(two);
                    one
                }
                (Ok(mut done), Err(failed)) | (Err(failed), Ok(mut done)) => {
                    done.extend(self.narrow_down(check, combined, failed).await);
                    done
                }
                (Err(mut one), Err(two)) => {
                    one.extend(two);
                    self.each_alone(check, one).await
                }
            }
        }
        .boxed()
    }

    /// One request for the batch (a single workspace is asked alone). `Err` gives back the
    /// workspaces of a batch whose answer says nothing about which of them it concerns.
    async fn try_across(
        &self,
        check: usize,
        combined: &Combined,
        batch: Vec<usize>,
    ) -> Result<Finished, Vec<usize>> {
        let known_alone = self
            .alone
            .lock()
            .expect("the lock is never poisoned")
            .clone();
        let (solo, batch): (Vec<usize>, Vec<usize>) =
            batch.into_iter().partition(|w| known_alone.contains(w));
        let mut finished = self.each_alone(check, solo).await;
        if batch.len() < 2 {
            finished.extend(self.each_alone(check, batch).await);
            return Ok(finished);
        }
        let names: Vec<&str> = batch.iter().map(|&w| self.workspaces[w].as_str()).collect();
        let started = Instant::now();
        let outcome = self
            .client
            .query_across(names[0], &names[1..], &combined.query)
            .await;
        let took = started.elapsed();
        let parts = match outcome {
            // The identity's failures, not a workspace's: asking again would fail again.
            Err(
                failure @ (QueryFailure::Token(_)
                | QueryFailure::Unauthorized(_)
                | QueryFailure::Throttled { .. }),
            ) => {
                let outcome = Err(failure);
                finished.extend(
                    batch
                        .iter()
                        .map(|&w| ((w, check), self.verdicts(check, w, &outcome, took))),
                );
                return Ok(finished);
            }
            Err(failure) => Err(failure.to_string()),
            Ok(result) if result.partial.is_some() => {
                Err("the service could only partly run it".to_string())
            }
            Ok(result) => combine::split(&result, &names),
        };
        let mut parts: HashMap<String, QueryResult> = match parts {
            Ok(parts) => parts,
            Err(why) => {
                tracing::info!(
                    check = %self.checks[check].id,
                    workspaces = batch.len(),
                    "a cross-workspace query is asked again in smaller parts: {why}"
                );
                if finished.is_empty() {
                    return Err(batch);
                }
                // Workspaces already asked alone are done; the batch is narrowed down here.
                finished.extend(self.narrow_down(check, combined, batch).await);
                return Ok(finished);
            }
        };
        let accept_empty =
            combined.empty_is_exact && self.checks[check].classifier == Classifier::Events;
        let mut again = Vec::new();
        for workspace in batch {
            match parts.remove(&self.workspaces[workspace].to_ascii_lowercase()) {
                Some(part) if part.primary().is_some_and(|t| !t.rows.is_empty()) => {
                    self.readable
                        .lock()
                        .expect("the lock is never poisoned")
                        .insert(workspace);
                    finished.push((
                        (workspace, check),
                        self.verdicts(check, workspace, &Ok(part), took),
                    ));
                }
                Some(part) if accept_empty => self
                    .unproven
                    .lock()
                    .expect("the lock is never poisoned")
                    .push((check, workspace, part, took)),
                _ => again.push(workspace),
            }
        }
        finished.extend(self.each_alone(check, again).await);
        Ok(finished)
    }

    async fn each_alone(&self, check: usize, workspaces: Vec<usize>) -> Finished {
        futures::future::join_all(workspaces.into_iter().map(|w| self.alone(check, w))).await
    }

    fn verdicts(
        &self,
        check: usize,
        workspace: usize,
        outcome: &Result<QueryResult, QueryFailure>,
        took: Duration,
    ) -> Vec<Verdict> {
        let check = &self.checks[check];
        let workspace = &self.workspaces[workspace];
        let mut verdicts = classify(check, workspace, outcome, Utc::now());
        if let Err(failure) = outcome {
            // A failure can be a verdict of its own (an unknown table is `table_missing`, no
            // data): only one that leaves the check unevaluated is warned about.
            if verdicts.iter().any(|v| v.status == Status::Error) {
                tracing::warn!(check = %check.id, %workspace, "could not evaluate: {failure}");
            } else {
                tracing::info!(check = %check.id, %workspace, "answered with {failure}");
            }
        }
        // The time of the request that answered: a cross-workspace answer's is shared.
        verdicts.iter_mut().for_each(|v| v.elapsed = Some(took));
        verdicts
    }
}
