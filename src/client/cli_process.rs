//! Running the Azure CLI for `--auth azure-cli`, within a time limit.
//!
//! The credential asks `az account get-access-token` through `/bin/sh`. An `az` that hangs
//! (a stuck proxy, an interactive prompt, a broken Python) would otherwise hold every query of
//! the run, and an abandoned request (Ctrl-C, the time limit) would leave `az` running behind
//! the tool. So the shell runs in a process group of its own, and the whole group is killed
//! when the answer takes longer than [`CLI_TIMEOUT`] or the request is dropped. A process group
//! of its own also keeps a terminal's Ctrl-C from reaching `az` directly: the tool decides.
//!
//! On other platforms than Unix only the shell itself is killed: `az` started by it may run on
//! until it ends by itself.

use std::ffi::OsStr;
use std::io;
use std::process::{Output, Stdio};
use std::time::Duration;

use azure_identity::Executor;

/// How long `az account get-access-token` may take. It answers in one to three seconds when
/// signed in; a first run that refreshes its own token takes longer, never this long.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(15);

/// An [`Executor`] that gives up after a time limit and leaves no process behind.
#[derive(Debug)]
pub struct BoundedExecutor {
    pub timeout: Duration,
}

#[async_trait::async_trait]
impl Executor for BoundedExecutor {
    async fn run(&self, program: &OsStr, args: &[&OsStr]) -> io::Result<Output> {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let child = command.spawn()?;
        let mut group = Group(child.id());
        match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(output) => {
                group.0 = None;
                output
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the Azure CLI did not answer within {:?} (run `az account \
                     get-access-token` by hand to see why)",
                    self.timeout
                ),
            )),
        }
    }
}

/// The process group of a running request, killed as a whole unless it finished.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(id) = self.0.and_then(|id| libc::pid_t::try_from(id).ok()) {
            // SAFETY: killpg only sends a signal and touches no memory. The group is the one
            // this request started. Its leader, the shell, may already be killed and reaped
            // here (dropping the request drops the child first); the group id stays in use,
            // and unavailable to any new process, as long as one member such as `az` lives,
            // which is the case this call exists for. With no member left the signal finds
            // nothing, unless the system handed out that id again in the moment since: pids
            // are reused only after the whole range has gone round.
            unsafe {
                libc::killpg(id, libc::SIGKILL);
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn alive(pid: &str) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_with_everything_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // The shell starts a grandchild that would sleep on, as `az` (a Python process) does.
        let script = format!("sleep 60 & echo $! > '{}'; wait", pid_file.display());
        let executor = BoundedExecutor {
            timeout: Duration::from_millis(500),
        };
        let started = std::time::Instant::now();
        let error = executor
            .run(
                OsStr::new("/bin/sh"),
                &[OsStr::new("-c"), OsStr::new(&script)],
            )
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().contains("did not answer within 500ms"),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.trim();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(pid), "the grandchild {pid} still runs");
    }

    #[tokio::test]
    async fn a_quick_command_answers() {
        let executor = BoundedExecutor {
            timeout: Duration::from_secs(5),
        };
        let output = executor
            .run(
                OsStr::new("/bin/sh"),
                &[OsStr::new("-c"), OsStr::new("echo hi")],
            )
            .await
            .unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout, b"hi\n");
    }
}
