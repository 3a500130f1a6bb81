//! From findings to diagnoses: verdicts of different checks that one cause explains are joined
//! into one diagnosis with one remedy, e.g. GuardDuty stale in eu-west-1 since 10:02 and the
//! connector's role denied `kms:Decrypt` on that region's key since 10:00.
//!
//! Two corrections are made to verdicts on the way, both on evidence from other checks: a check
//! that reads a feed which is itself not arriving cannot say "nothing found" (it is `blind`),
//! and a table that received nothing while the connector reports healthy fetches and no denial
//! is `quiet`, not failed.

use serde_json::{Map, Value};

use crate::arn::RoleArn;
use crate::catalog::{Check, Classifier};
use crate::policy::{self, ExportKey, Remedy};
use crate::verdict::{Status, Verdict};

/// One cause, the verdicts it explains, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub workspace: String,
    /// Stable code, e.g. `kms_grant_missing`.
    pub cause: String,
    /// One line for a person.
    pub summary: String,
    /// Indices into the run's verdicts.
    pub verdicts: Vec<usize>,
    pub remedy: String,
    pub evidence: Map<String, Value>,
}

/// Correlates the verdicts of every workspace, correcting them where other checks' evidence
/// requires, and returns the diagnoses in a stable order.
pub fn diagnose(checks: &[Check], verdicts: &mut [Verdict]) -> Vec<Diagnosis> {
    let mut workspaces: Vec<String> = verdicts.iter().map(|v| v.workspace.clone()).collect();
    workspaces.dedup();
    let mut diagnoses = Vec::new();
    for workspace in workspaces {
        let view = |verdicts: &[Verdict]| -> Vec<usize> {
            (0..verdicts.len())
                .filter(|&i| verdicts[i].workspace == workspace)
                .collect()
        };
        let indices = view(verdicts);
        // Quiet first: a quiet feed does not blind the checks that read it.
        diagnoses.extend(mark_quiet(checks, verdicts, &indices));
        diagnoses.extend(mark_blind(checks, verdicts, &indices));
        let mut explained = Vec::new();
        diagnoses.extend(disabled_keys(checks, verdicts, &indices, &mut explained));
        diagnoses.extend(kms_denials(checks, verdicts, &indices, &mut explained));
        diagnoses.extend(connector_failures(
            checks,
            verdicts,
            &indices,
            &mut explained,
        ));
        diagnoses.extend(partial_coverage(checks, verdicts, &indices, &explained));
    }
    diagnoses
}

fn check_of<'a>(checks: &'a [Check], verdict: &Verdict) -> Option<&'a Check> {
    checks.iter().find(|check| check.id == verdict.check)
}

fn reads(checks: &[Check], verdict: &Verdict, table: &str) -> bool {
    check_of(checks, verdict).is_some_and(|check| check.tables.iter().any(|t| t == table))
}

fn classifier(checks: &[Check], verdict: &Verdict) -> Option<Classifier> {
    check_of(checks, verdict).map(|check| check.classifier)
}

fn evidence_text<'a>(verdict: &'a Verdict, key: &str) -> Option<&'a str> {
    verdict.evidence.get(key).and_then(Value::as_str)
}

/// A GuardDuty freshness verdict that says findings are missing or late.
fn is_missing_findings(checks: &[Check], verdict: &Verdict) -> bool {
    reads(checks, verdict, "AWSGuardDuty")
        && classifier(checks, verdict) == Some(Classifier::Freshness)
        && (verdict.status == Status::NoData && verdict.fails || verdict.status == Status::Lag)
}

/// Whether a table's rows are arriving, as its freshness check judged it in one workspace.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Feed {
    /// Some group arrives (on time, late, or quiet by its own rhythm).
    Arriving,
    /// Not one group arrives: every verdict is a table with no rows, a missing table, or a
    /// group that stopped. Verdicts that could not be evaluated are left out.
    Down,
    /// No freshness check of this table ran, or none could be evaluated.
    Unknown,
}

/// The freshness verdicts of `table` in one workspace.
fn feed_verdicts(
    checks: &[Check],
    verdicts: &[Verdict],
    indices: &[usize],
    table: &str,
) -> Vec<usize> {
    indices
        .iter()
        .copied()
        .filter(|&i| {
            reads(checks, &verdicts[i], table)
                && classifier(checks, &verdicts[i]) == Some(Classifier::Freshness)
        })
        .collect()
}

fn feed(checks: &[Check], verdicts: &[Verdict], indices: &[usize], table: &str) -> Feed {
    let judged: Vec<&Verdict> = feed_verdicts(checks, verdicts, indices, table)
        .into_iter()
        .map(|i| &verdicts[i])
        .filter(|v| v.status != Status::Error)
        .collect();
    let arrives =
        |v: &Verdict| matches!(v.status, Status::Healthy | Status::Lag) || v.reason == "quiet";
    if judged.is_empty() {
        Feed::Unknown
    } else if judged.iter().any(|v| arrives(v)) {
        Feed::Arriving
    } else {
        Feed::Down
    }
}

/// Whether every group of `table` was judged healthy in one workspace, and there is at least
/// one: the only state in which a check reading it can show that something did not happen. A
/// quiet group (too few arrivals to know its rhythm, or silent within it) or one that could not
/// be evaluated leaves room for events the workspace never received.
fn feed_on_time(checks: &[Check], verdicts: &[Verdict], indices: &[usize], table: &str) -> bool {
    let feeds = feed_verdicts(checks, verdicts, indices, table);
    !feeds.is_empty() && feeds.iter().all(|&i| verdicts[i].status == Status::Healthy)
}

/// Checks that report findings from a feed that is not arriving at all saw nothing because
/// they could not see: their "nothing found" becomes `blind`. A feed that arrives late still
/// shows what it carries, only later, so lag blinds nothing.
fn mark_blind(checks: &[Check], verdicts: &mut [Verdict], indices: &[usize]) -> Vec<Diagnosis> {
    let mut tables: Vec<String> = indices
        .iter()
        .filter(|&&i| classifier(checks, &verdicts[i]) == Some(Classifier::Freshness))
        .filter_map(|&i| check_of(checks, &verdicts[i])?.tables.first().cloned())
        .collect();
    tables.sort();
    tables.dedup();
    let mut diagnoses = Vec::new();
    for table in tables {
        if feed(checks, verdicts, indices, &table) != Feed::Down {
            continue;
        }
        let feeds: Vec<usize> = feed_verdicts(checks, verdicts, indices, &table)
            .into_iter()
            .filter(|&i| verdicts[i].status != Status::Error)
            .collect();
        let blinded: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                !feeds.contains(&i)
                    && reads(checks, &verdicts[i], &table)
                    && classifier(checks, &verdicts[i]) == Some(Classifier::Events)
                    && verdicts[i].reason == "none_found"
            })
            .collect();
        if blinded.is_empty() {
            continue;
        }
        let since = feeds
            .iter()
            .filter_map(|&i| verdicts[i].last_seen)
            .max()
            .map_or_else(
                || "it has no rows".to_string(),
                |t| format!("nothing arrived since {}", t.format("%Y-%m-%d %H:%M UTC")),
            );
        let feed_check = verdicts[feeds[0]].check.clone();
        for &i in &blinded {
            let verdict = &mut verdicts[i];
            verdict.status = Status::Error;
            verdict.reason = "blind".into();
            verdict.fails = false;
            verdict.message = format!(
                "could not evaluate `{}` in workspace {}: nothing found, but {table} is not \
                 arriving ({since}), so this check cannot see",
                verdict.check, verdict.workspace
            );
            verdict.remedy = Some(format!(
                "Restore the {table} feed first; see `{feed_check}`."
            ));
        }
        let names = blinded
            .iter()
            .map(|&i| format!("`{}`", verdicts[i].check))
            .collect::<Vec<_>>()
            .join(", ");
        let mut all = feeds.clone();
        all.extend(&blinded);
        diagnoses.push(Diagnosis {
            workspace: verdicts[feeds[0]].workspace.clone(),
            cause: "feed_blind".into(),
            summary: format!(
                "{table} is not arriving ({since}): {names} read {table}, so finding nothing \
                 there proves nothing"
            ),
            verdicts: all,
            remedy: verdicts[feeds[0]].remedy.clone().unwrap_or_default(),
            evidence: Map::new(),
        });
    }
    diagnoses
}

/// A table that received nothing, while the connector reports healthy fetches and no failure
/// or denial: GuardDuty may have nothing to export. Reported as quiet, with the way to prove it.
fn mark_quiet(checks: &[Check], verdicts: &mut [Verdict], indices: &[usize]) -> Vec<Diagnosis> {
    let is = |i: usize, table: &str, kind: Classifier| {
        reads(checks, &verdicts[i], table) && classifier(checks, &verdicts[i]) == Some(kind)
    };
    let health_reports: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| is(i, "SentinelHealth", Classifier::Freshness))
        .collect();
    let health_fine = !health_reports.is_empty()
        && health_reports
            .iter()
            .all(|&i| verdicts[i].status == Status::Healthy);
    let health_failures: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| is(i, "SentinelHealth", Classifier::Events))
        .collect();
    let no_failures = !health_failures.is_empty()
        && health_failures
            .iter()
            .all(|&i| verdicts[i].status == Status::Healthy);
    // "No denial" counts only when the denial check ran, found nothing, and every group of the
    // feed it reads is healthy, as the rule demands of the same checks: a skipped check, or one
    // that reads a stopped, late or merely quiet feed, proves nothing.
    let denial_checks: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            check_of(checks, &verdicts[i])
                .and_then(|check| check.finding.as_ref())
                .is_some_and(|finding| finding.reason == "kms_decrypt_denied")
        })
        .collect();
    let no_denials = !denial_checks.is_empty()
        && denial_checks.iter().all(|&i| {
            verdicts[i].status == Status::Healthy
                && check_of(checks, &verdicts[i]).is_some_and(|check| {
                    check
                        .tables
                        .iter()
                        .all(|table| feed_on_time(checks, verdicts, indices, table))
                })
        });
    if !(health_fine && no_failures && no_denials) {
        return Vec::new();
    }
    let silent: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            is(i, "AWSGuardDuty", Classifier::Freshness) && verdicts[i].reason == "never_seen"
        })
        .collect();
    let mut diagnoses = Vec::new();
    for i in silent {
        let verdict = &mut verdicts[i];
        verdict.reason = "quiet".into();
        verdict.fails = false;
        verdict.message = format!(
            "{}; the connector reports healthy fetches and no failure or denial, so GuardDuty may \
             simply have had nothing to export",
            verdict.message
        );
        let remedy = "Prove the pipeline end to end: in one region, run `aws guardduty \
            create-sample-findings --detector-id $(aws guardduty list-detectors --query \
            'DetectorIds[0]' --output text) --finding-types Recon:EC2/PortProbeUnprotectedPort`, \
            and expect the sample in AWSGuardDuty within about 30 minutes. If it does not \
            arrive, check the export destination (status PUBLISHING) and the bucket's \
            notification to the queue, which Sentinel cannot see."
            .to_string();
        verdict.remedy = Some(remedy.clone());
        let mut all = vec![i];
        all.extend(&health_reports);
        all.extend(&health_failures);
        diagnoses.push(Diagnosis {
            workspace: verdict.workspace.clone(),
            cause: "quiet_unproven".into(),
            summary: "No GuardDuty finding arrived, but the connector fetches without failure and \
                no decrypt was denied: a quiet organisation, which Sentinel alone cannot tell \
                from a broken export or notification"
                .into(),
            verdicts: all,
            remedy,
            evidence: Map::new(),
        });
    }
    diagnoses
}

/// Denied decrypts by the connector's role, joined with the regions whose findings stopped.
fn kms_denials(
    checks: &[Check],
    verdicts: &[Verdict],
    indices: &[usize],
    explained: &mut Vec<usize>,
) -> Vec<Diagnosis> {
    let mut diagnoses = Vec::new();
    let denials: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| verdicts[i].reason == "kms_decrypt_denied" && !explained.contains(&i))
        .collect();
    for denial in denials {
        let denied = &verdicts[denial];
        let region = denied.group_value("Region").unwrap_or_default().to_string();
        let account = denied
            .group_value("AccountId")
            .unwrap_or_default()
            .to_string();
        let key = evidence_text(denied, "KeyArn")
            .unwrap_or_default()
            .to_string();
        let role = evidence_text(denied, "RoleArn")
            .unwrap_or_default()
            .to_string();
        let first_seen = evidence_text(denied, "FirstSeen")
            .map(|text| {
                chrono::DateTime::parse_from_rfc3339(text).map_or_else(
                    |_| text.to_string(),
                    |time| time.format("%Y-%m-%d %H:%M UTC").to_string(),
                )
            })
            .unwrap_or_default();
        let affected: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| is_missing_findings(checks, &verdicts[i]))
            .filter(|&i| {
                verdicts[i]
                    .group_value("Region")
                    .is_none_or(|r| r == region)
            })
            .collect();
        let related: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                let v = &verdicts[i];
                v.reason == "object_access_denied"
                    || (v.check != denied.check && evidence_text(v, "KeyArn") == Some(key.as_str()))
            })
            .collect();
        let stopped = affected
            .iter()
            .map(|&i| {
                let v = &verdicts[i];
                let since = v.last_seen.map_or_else(String::new, |t| {
                    format!(" since {}", t.format("%Y-%m-%d %H:%M UTC"))
                });
                format!("{}{since}", v.group_label())
            })
            .collect::<Vec<_>>();
        let policy_change = related
            .iter()
            .map(|&i| &verdicts[i])
            .find(|v| v.reason == "key_policy_changed")
            .map(|v| {
                format!(
                    "; the key policy was replaced before the denials began ({})",
                    v.message
                )
            })
            .unwrap_or_default();
        let sample_object = evidence_text(denied, "SampleObjectArn")
            .unwrap_or_default()
            .to_string();
        let summary = if stopped.is_empty() {
            format!(
                "The connector's role {role} is denied kms:Decrypt on {key} ({region}) since \
                 {first_seen}: findings encrypted with that key cannot be read"
            )
        } else {
            format!(
                "GuardDuty findings stopped for {} while the connector's role {role} has been \
                 denied kms:Decrypt on {key} since {first_seen}: the key does not grant the role \
                 decrypt",
                stopped.join("; ")
            )
        };
        let mut all = vec![denial];
        all.extend(&affected);
        all.extend(&related);
        explained.extend(&all);
        diagnoses.push(Diagnosis {
            workspace: denied.workspace.clone(),
            cause: "kms_grant_missing".into(),
            summary: format!("{summary}{policy_change}"),
            verdicts: all,
            remedy: decrypt_remedy(&role, &key, &region, &sample_object),
            evidence: evidence(&[
                ("role_arn", &role),
                ("key_arn", &key),
                ("region", &region),
                ("account_id", &account),
                (
                    "denied_since",
                    evidence_text(denied, "FirstSeen").unwrap_or_default(),
                ),
            ]),
        });
    }
    diagnoses
}

/// The statements and commands that restore the role's decrypt on one key, from the ARNs the
/// denials carry; `sentinel-kms policy` prints the same, and merges into a current key policy.
fn decrypt_remedy(role: &str, key: &str, region: &str, sample_object: &str) -> String {
    let built = RoleArn::parse(role)
        .map_err(|error| error.to_string())
        .and_then(|role| {
            let key = ExportKey::parse(key, false).map_err(|error| error.to_string())?;
            Remedy::for_decrypt(&role, &[key]).map_err(|error| error.to_string())
        });
    let object = object_check(sample_object, region);
    match built {
        Ok(remedy) => format!("{}{object}", policy::text::render(&remedy).trim_end()),
        Err(error) => format!(
            "Allow the role {role} kms:Decrypt and kms:DescribeKey on {key}, in the role's IAM \
             policy and in the key policy (the ARNs found could not be used to write the \
             statements: {error}).{object}"
        ),
    }
}

/// The command that shows which key encrypted an exported object (`arn:aws:s3:::bucket/key`).
fn object_check(object_arn: &str, region: &str) -> String {
    match object_arn
        .strip_prefix("arn:aws:s3:::")
        .and_then(|path| path.split_once('/'))
    {
        Some((bucket, key)) => format!(
            " An exported object the role could not read is encrypted with this key: `aws s3api \
             head-object --bucket {bucket} --key {key} --region {region} --query SSEKMSKeyId`."
        ),
        None => String::new(),
    }
}

/// A disabled key or one pending deletion, joined with the regions whose findings stopped.
fn disabled_keys(
    checks: &[Check],
    verdicts: &[Verdict],
    indices: &[usize],
    explained: &mut Vec<usize>,
) -> Vec<Diagnosis> {
    let mut diagnoses = Vec::new();
    for &change in indices.iter().filter(|&&i| {
        matches!(
            verdicts[i].reason.as_str(),
            "key_disabled" | "key_deletion_scheduled"
        )
    }) {
        let changed = &verdicts[change];
        let region = changed
            .group_value("Region")
            .unwrap_or_default()
            .to_string();
        let key = evidence_text(changed, "KeyArn")
            .unwrap_or_default()
            .to_string();
        let affected: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                is_missing_findings(checks, &verdicts[i])
                    || verdicts[i].reason == "kms_decrypt_denied"
            })
            .filter(|&i| {
                verdicts[i]
                    .group_value("Region")
                    .is_none_or(|r| r == region)
            })
            .filter(|&i| !explained.contains(&i) || verdicts[i].reason == "kms_decrypt_denied")
            .collect();
        let what = if changed.reason == "key_disabled" {
            "disabled"
        } else {
            "scheduled for deletion"
        };
        let mut all = vec![change];
        all.extend(&affected);
        explained.extend(&all);
        diagnoses.push(Diagnosis {
            workspace: changed.workspace.clone(),
            cause: "export_key_unusable".into(),
            summary: format!(
                "The export key {key} in {region} was {what} ({}); GuardDuty cannot encrypt new \
                 exports with it and the connector cannot decrypt",
                changed.message
            ),
            verdicts: all,
            remedy: changed.remedy.clone().unwrap_or_default(),
            evidence: evidence(&[("key_arn", &key), ("region", &region)]),
        });
    }
    diagnoses
}

/// Connector failures (access denied without a CloudTrail denial naming the key, or a broken
/// OIDC trust) joined with the findings that stopped.
fn connector_failures(
    checks: &[Check],
    verdicts: &[Verdict],
    indices: &[usize],
    explained: &mut Vec<usize>,
) -> Vec<Diagnosis> {
    let mut diagnoses = Vec::new();
    let candidates: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| verdicts[i].fails && !explained.contains(&i))
        .collect();
    for failure in candidates {
        let failed = &verdicts[failure];
        let (cause, what) = match failed.reason.as_str() {
            "object_access_denied" => (
                "connector_access_denied",
                "the connector reads its queue but is denied the exported objects (S3B40023): \
                 its role lacks s3:GetObject on the bucket or kms:Decrypt on the export key, and \
                 no CloudTrail denial names the key",
            ),
            "oidc_token_failed" => (
                "oidc_trust_broken",
                "the connector cannot assume its role (S3B40029): the role's trust policy or \
                 the OIDC identity provider changed",
            ),
            "queue_access_failed" => (
                "queue_access_failed",
                "the connector cannot use its SQS queue",
            ),
            "objects_unreadable" => (
                "objects_unreadable",
                "the connector cannot read or parse the objects its queue names",
            ),
            "connector_failing" => ("connector_failing", "the connector reports fetch failures"),
            _ => continue,
        };
        let affected: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| is_missing_findings(checks, &verdicts[i]) && !explained.contains(&i))
            .collect();
        let stopped = if affected.is_empty() {
            String::new()
        } else {
            format!(
                "GuardDuty findings stopped for {}: ",
                affected
                    .iter()
                    .map(|&i| verdicts[i].group_label())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        let mut all = vec![failure];
        all.extend(&affected);
        explained.extend(&all);
        diagnoses.push(Diagnosis {
            workspace: failed.workspace.clone(),
            cause: cause.into(),
            summary: format!("{stopped}{what}"),
            verdicts: all,
            remedy: failed.remedy.clone().unwrap_or_default(),
            evidence: Map::new(),
        });
    }
    diagnoses
}

/// Some account/region groups stopped while others flow, with no other evidence: the cause is
/// specific to those groups.
fn partial_coverage(
    checks: &[Check],
    verdicts: &[Verdict],
    indices: &[usize],
    explained: &[usize],
) -> Vec<Diagnosis> {
    let grouped: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            reads(checks, &verdicts[i], "AWSGuardDuty")
                && classifier(checks, &verdicts[i]) == Some(Classifier::Freshness)
                && verdicts[i].group.is_some()
        })
        .collect();
    let stopped: Vec<usize> = grouped
        .iter()
        .copied()
        .filter(|&i| {
            verdicts[i].status == Status::NoData && verdicts[i].fails && !explained.contains(&i)
        })
        .collect();
    let flowing = grouped
        .iter()
        .filter(|&&i| verdicts[i].status == Status::Healthy)
        .count();
    if stopped.is_empty() || flowing == 0 {
        return Vec::new();
    }
    let labels: Vec<String> = stopped.iter().map(|&i| verdicts[i].group_label()).collect();
    vec![Diagnosis {
        workspace: verdicts[stopped[0]].workspace.clone(),
        cause: "partial_coverage".into(),
        summary: format!(
            "{} of {} account/region groups stopped while {flowing} keep flowing ({}): the cause is \
             specific to them",
            stopped.len(),
            grouped.len(),
            labels.join("; ")
        ),
        verdicts: stopped.clone(),
        remedy: "For each stopped region: that region's GuardDuty export destination (status \
            PUBLISHING, same bucket), the KMS key it exports with (the connector's role needs \
            kms:Decrypt and kms:DescribeKey on it), and that the bucket notification's prefix \
            covers AWSLogs/<account>/GuardDuty/<region>/."
            .into(),
        evidence: Map::new(),
    }]
}

fn evidence(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (key.to_string(), Value::String(value.to_string())))
        .collect()
}
