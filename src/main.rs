use std::process::ExitCode;

use clap::Parser;
use sentinel_kms::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(sentinel_kms::error::exit::NOT_EVALUATED);
        }
    };
    match runtime.block_on(sentinel_kms::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

/// Logs go to stderr; stdout carries only the report.
fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("sentinel_kms={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sentinel_kms::progress::LogWriter)
        .with_target(false)
        .init();
}
