//! sentinel-kms: finds silent failures in the AWS GuardDuty to Microsoft Sentinel pipeline.
//!
//! `validate`: [`catalog`] loads the checks, [`client`] runs them through the Logs query API,
//! [`classify`] turns rows into [`verdict`]s, [`report`] prints them. See [`validate::run`].
//!
//! `lint`: [`lint`] checks the catalog offline (headers, KQL analysis, versions). See
//! [`lint::run`].
//!
//! `build`: [`content`] turns the checks that ask for it into Sentinel analytic rules and writes
//! them with the pipeline workbook, validated first. See [`content::run`].
//!
//! `policy`: [`policy`] builds the key and IAM policies the connector's role needs from [`arn`]s,
//! and the commands that verify them. See [`policy::command::run`].
//!
//! `doctor --aws` (feature `aws`): [`doctor`] reads the AWS side with read-only calls, evaluates
//! the key, queue and trust policies itself, and joins the causes to a `validate` result.

pub mod arn;
pub mod catalog;
pub mod classify;
pub mod cli;
pub mod client;
pub mod content;
pub mod duration;
pub mod error;
pub mod lint;
pub mod output;
pub mod policy;
pub mod progress;
pub mod report;
pub mod runner;
pub mod validate;
pub mod verdict;

use cli::{Cli, Command};
use error::Result;

/// Runs one command and returns its exit code.
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Validate(args) => validate::run(*args).await,
        Command::Lint(args) => lint::run(&args),
        Command::Policy(args) => policy::command::run(&args),
        Command::Build(args) => content::run(&args),
        #[cfg(feature = "aws")]
        Command::Doctor(args) => doctor::command::run(*args).await,
        Command::List(args) => {
            let checks = validate::load_catalog(&args.catalog)?;
            let text = report::render_catalog(args.format, &checks);
            output::print(&text)?;
            Ok(error::exit::OK)
        }
    }
}
pub mod config;
pub mod coverage;
pub mod diagnose;
pub mod doctor;
pub mod workspaces;
