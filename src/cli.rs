//! The command line. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::auth::{AuthMode, Cloud};

/// Finds silent failures in the AWS GuardDuty to Microsoft Sentinel pipeline: runs versioned KQL
/// checks against Log Analytics workspaces and says, per AWS account and region, whether findings
/// arrive, arrive late, or have stopped, and what to fix.
#[derive(Debug, Parser)]
#[command(name = "sentinel-kms", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log output on stderr (-v: progress, -vv: requests); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks against one or more workspaces and report a verdict per check and group.
    Validate(Box<ValidateArgs>),
    /// Print the catalog of checks: id, version, title, tables.
    List(ListArgs),
    /// Find broken checks offline: headers, KQL against the table schemas (Microsoft's Kusto
    /// analyser), the output columns the header relies on, versions against a git revision.
    Lint(LintArgs),
    /// Print the key policy and IAM policy changes that let the connector's role decrypt
    /// GuardDuty's export keys, and the `aws` commands that verify them.
    Policy(crate::policy::PolicyArgs),
    /// Write the content pack: Sentinel analytic rules (ARM templates) from the checks that ask
    /// for one, and the pipeline workbook; everything is validated before anything is written.
    Build(BuildArgs),
    /// Check the AWS side of the pipeline with read-only calls: GuardDuty's publishing
    /// destination, the export key and its policy, the connector's role, the bucket's
    /// notification and the queue; join the causes to a `validate` result.
    #[cfg(feature = "aws")]
    Doctor(Box<crate::doctor::command::DoctorArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// A stable JSON document for machines (see the README).
    Json,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// A folder of `.kql` checks to use instead of the catalog built into the tool.
    #[arg(long, value_name = "DIR", env = "SENTINEL_KMS_QUERIES")]
    pub queries: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub catalog: CatalogArgs,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Check files, or folders searched for `*.kql` files.
    #[arg(value_name = "PATH", default_value = "queries")]
    pub paths: Vec<PathBuf>,

    /// A git revision (branch, tag, commit): a check whose query or settings changed since then
    /// must carry a higher version; a changed or removed id is reported.
    #[arg(long, value_name = "GIT-REF")]
    pub since: Option<String>,

    /// A folder of table schemas (`{"Name", "Properties"}` JSON) for tables the built-in ones
    /// lack; a table there replaces the built-in table of the same name.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,

    /// Exit 2 when the Kusto analyser is not installed, instead of skipping KQL analysis.
    #[arg(long)]
    pub require_analyzer: bool,

    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub catalog: CatalogArgs,

    /// The folder the pack is written to; replaced whole, and only when the new pack is valid.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out: PathBuf,

    /// A folder of table schemas (`{"Name", "Properties"}` JSON) for tables the built-in ones
    /// lack; a table there replaces the built-in table of the same name.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,

    /// Exit 2 when the Kusto analyser is not installed, instead of writing a pack whose queries
    /// were not analysed.
    #[arg(long)]
    pub require_analyzer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// `file:line:column: severity: message [code]` lines, then a summary.
    Text,
    /// One JSON document (see the README).
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Workspace ID (a GUID; the "Workspace ID" on the workspace's Overview page). Repeatable;
    /// required unless the config file lists workspaces.
    #[arg(long = "workspace", value_name = "GUID", value_parser = parse_workspace_id)]
    pub workspaces: Vec<String>,

    /// A TOML file listing workspaces and the AWS accounts and regions each should receive
    /// findings from (see the README).
    #[arg(long, value_name = "FILE", env = "SENTINEL_KMS_CONFIG")]
    pub config: Option<PathBuf>,

    /// An AWS account and region that must deliver findings, as ACCOUNT/REGION
    /// (e.g. 111122223333/eu-west-1). Repeatable; applies to every workspace.
    #[arg(long = "expect", value_name = "ACCOUNT/REGION", value_parser = parse_expected)]
    pub expect: Vec<String>,

    /// Leave out this check (by id). Repeatable.
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,

    #[command(flatten)]
    pub catalog: CatalogArgs,

    /// Run only this check (by id). Repeatable; default: every check.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,

    /// Override a threshold: `name=value` for every check that has it, or `check-id.name=value`.
    /// Timespans are KQL literals such as `30m`, `6h`, `14d`. Repeatable.
    #[arg(long = "set", value_name = "[CHECK.]NAME=VALUE")]
    pub overrides: Vec<String>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// The Azure cloud: picks the API host and the token scope.
    #[arg(long, value_enum, default_value_t = Cloud::Public, env = "SENTINEL_KMS_CLOUD")]
    pub cloud: Cloud,

    /// The Logs query API base URL, instead of the cloud's own (private endpoints, tests).
    /// Plain http is accepted only for a loopback address.
    #[arg(long, value_name = "URL", env = "SENTINEL_KMS_ENDPOINT")]
    pub endpoint: Option<String>,

    /// How to get a token; `auto` picks from the environment (see the README).
    #[arg(long, value_enum, default_value_t = AuthMode::Auto, env = "SENTINEL_KMS_AUTH")]
    pub auth: AuthMode,

    /// Entra tenant for azure-cli, workload-identity, azure-pipelines and client-secret.
    #[arg(long, value_name = "TENANT")]
    pub tenant_id: Option<String>,

    /// Client (application) ID of the identity; for managed-identity, a user-assigned identity.
    #[arg(long, value_name = "GUID")]
    pub client_id: Option<String>,

    /// Azure DevOps service connection ID, for azure-pipelines.
    #[arg(long, value_name = "GUID")]
    pub service_connection_id: Option<String>,

    /// Seconds the service may spend on one query (sent as `Prefer: wait`), 1 to 600.
    #[arg(long, value_name = "SECONDS", default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub wait: u64,

    /// Queries in flight at once; the service runs 5 per user and queues the rest.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub concurrency: u64,

    /// Requests allowed per window, as REQUESTS/SECONDS; the service allows 200 per 30 s per user.
    #[arg(
        long,
        value_name = "N/SECONDS",
        default_value = "200/30",
        env = "SENTINEL_KMS_RATE_LIMIT"
    )]
    pub rate_limit: crate::client::RateLimit,

    /// Workspaces one cross-workspace query covers (the service takes up to 100); 1 sends each
    /// check to each workspace on its own.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub workspaces_per_query: u64,

    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// Outputs and policy for scheduled runs in a pipeline.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// Check only shard I of N of the workspaces (1-based, e.g. `2/4`), for a pipeline matrix:
    /// the N shards together cover every workspace exactly once.
    #[arg(long, value_name = "I/N", value_parser = crate::workspaces::Shard::parse)]
    pub shard: Option<crate::workspaces::Shard>,
}

/// The result files, the CI system's logging commands and the failure policy, as `validate` and
/// `doctor` deliver their verdicts.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Also write the verdicts as JUnit XML (a test case per verdict, a suite per workspace or,
    /// for `doctor`, per AWS account), for Azure Pipelines' PublishTestResults@2 or any JUnit
    /// reader.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write a Markdown report (status per workspace or AWS account, diagnoses, what to
    /// fix), for the run's summary page.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Logging commands for the CI system: issues, the summary page, the run's result. `auto`
    /// detects Azure Pipelines (TF_BUILD) and GitHub Actions (GITHUB_ACTIONS).
    #[arg(long, value_enum, value_name = "SYSTEM", default_value_t = crate::report::ci::CiChoice::Auto, env = "SENTINEL_KMS_CI")]
    pub ci: crate::report::ci::CiChoice,

    /// Which verdicts fail the run (exit 1), comma-separated: `no-data`, `lag` (past its
    /// failure level), `warning` (lag below it, quiet groups; every `lag` of `doctor`), or
    /// `none`. Whatever is chosen, a run that could not evaluate everything exits 3 (1 when
    /// something also failed).
    #[arg(
        long,
        value_enum,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "no-data,lag"
    )]
    pub fail_on: Vec<crate::report::outcome::FailOnItem>,
}

impl DeliveryArgs {
    /// The failure policy `--fail-on` chooses.
    pub fn fail_on(&self) -> crate::error::Result<crate::report::outcome::FailOn> {
        crate::report::outcome::FailOn::from_items(&self.fail_on)
            .map_err(crate::error::Error::usage)
    }
}

fn parse_expected(text: &str) -> Result<String, String> {
    crate::config::Expected::parse(text).map(|_| text.trim().to_string())
}

fn parse_workspace_id(text: &str) -> Result<String, String> {
    match uuid::Uuid::try_parse(text.trim()) {
        Ok(id) => Ok(id.hyphenated().to_string()),
        Err(_) => Err(format!(
            "`{text}` is not a workspace ID: give the workspace's GUID (Workspace ID on its Overview page), \
             not its name or resource ID"
        )),
    }
}
