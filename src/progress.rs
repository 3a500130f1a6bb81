//! The progress bar of a long `validate` run: on stderr, only when stderr is a terminal outside
//! CI, only with the default or a higher log level, and only once the run has taken longer than
//! a moment. It is cleared before the report is printed. Log lines written while it shows are
//! printed above it rather than through it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before the bar appears.
const SHOW_AFTER: Duration = Duration::from_millis(500);

/// Environment variables set by CI systems (a generic one, Azure Pipelines, GitHub Actions).
const CI_VARIABLES: &[&str] = &["CI", "TF_BUILD", "GITHUB_ACTIONS"];

/// The bar being shown, for the log writer.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Progress of a run over `total` check and workspace pairs.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// No bar at all.
    pub fn none() -> Progress {
        Progress { bar: None }
    }

    /// A bar when the run is watched on a terminal (see the module's description), else none.
    /// Must be called inside the tokio runtime.
    pub fn for_run(total: u64) -> Progress {
        let watched = std::io::stderr().is_terminal()
            && CI_VARIABLES
                .iter()
                .all(|name| std::env::var_os(name).is_none())
            && std::env::var("TERM").map_or(true, |term| term != "dumb")
            && tracing::enabled!(tracing::Level::WARN);
        if !watched || total == 0 {
            return Progress::none();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} checking {pos}/{len} check × workspace pairs {wide_bar} {elapsed}",
            )
            .expect("the progress template is valid")
            .progress_chars("=> "),
        );
        *ACTIVE.lock().expect("the progress lock is never poisoned") = Some(bar.clone());
        let delayed = bar.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SHOW_AFTER).await;
            if !delayed.is_finished() {
                delayed.set_draw_target(ProgressDrawTarget::stderr());
                delayed.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress { bar: Some(bar) }
    }

    /// `done` more pairs have their verdicts.
    pub fn advance(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(done);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            ACTIVE
                .lock()
                .expect("the progress lock is never poisoned")
                .take();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The log writer: stderr, with any bar on show lifted while a line is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log event, written out in one piece when dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let write = || {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&self.0);
            let _ = stderr.flush();
        };
        let bar = ACTIVE.lock().ok().and_then(|active| active.clone());
        match bar {
            Some(bar) if !bar.is_hidden() => bar.suspend(write),
            _ => write(),
        }
    }
}
