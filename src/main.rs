use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sentinel_kms::cli::Cli;
use sentinel_kms::report::ci::neutralise;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let protect = sentinel_kms::report::ci::protects_command(&cli);
    init_logging(cli.verbose, cli.quiet, protect);
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
            let text = format!("error: {error}");
            if protect {
                eprintln!("{}", neutralise::text(&text));
            } else {
                eprintln!("{text}");
            }
            error.exit_code()
        }
    }
}

/// Logs go to stderr; stdout carries only the report. In a CI system, log lines are filtered so
/// that no value in them can be taken for a logging command.
fn init_logging(verbose: u8, quiet: bool, protect: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("sentinel_kms={level},warn")));
    // Colour only when a person reads stderr on a terminal, and never with NO_COLOR.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_target(false);
    if protect {
        logs.with_writer(|| neutralise::LineFilter::new(std::io::stderr()))
            .init();
    } else {
        logs.with_writer(sentinel_kms::progress::LogWriter).init();
    }
}
