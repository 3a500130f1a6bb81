//! Ctrl-C during a run: the queries in flight stop, what finished is still reported, the exit
//! code is 130, and nothing half-written is left behind.

mod common;

#[cfg(unix)]
mod unix {
    use std::io::{BufRead, BufReader, Read};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::common::{LocalWorkspace, TOKEN, WORKSPACE};

    /// The shipped freshness check, and a copy whose query the local workspace answers slowly.
    fn catalog(dir: &Path) {
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/queries/guardduty/freshness.kql"
        ))
        .unwrap();
        std::fs::write(dir.join("a.kql"), &shipped).unwrap();
        let slow = shipped
            .replace("// id: guardduty-freshness", "// id: slow-copy")
            .replace("let lookback = 14d;", "let lookback = 14d; // slow copy");
        std::fs::write(dir.join("b.kql"), slow).unwrap();
    }

    /// Starts `validate` in `cwd`, and returns it with a channel of its stderr lines.
    fn start(
        workspace: &LocalWorkspace,
        queries: &Path,
        cwd: &Path,
        format: &str,
    ) -> (Child, mpsc::Receiver<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
            .args([
                "validate",
                "--queries",
                queries.to_str().unwrap(),
                "--workspace",
                WORKSPACE,
                "--endpoint",
                &workspace.url,
                "--auth",
                "access-token",
                "--format",
                format,
                "-vv",
            ])
            .current_dir(cwd)
            .env_remove("RUST_LOG")
            .env("SENTINEL_KMS_ACCESS_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                if send.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        (child, lines)
    }

    /// Waits for a stderr line holding all of `words`.
    fn wait_for(lines: &mpsc::Receiver<String>, words: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(line) = lines.recv_timeout(Duration::from_millis(100))
                && words.iter().all(|word| line.contains(word))
            {
                return;
            }
        }
        panic!("no log line with {words:?}");
    }

    fn interrupt(child: &Child) {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the child at most `limit`; its exit code and stdout.
    fn finish(mut child: Child, limit: Duration) -> (i32, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stdout = String::new();
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut stdout)
                    .unwrap();
                return (status.code().unwrap_or(-1), stdout);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("still running {limit:?} after Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ctrl_c_reports_what_finished_and_exits_130() {
        let queries = tempfile::tempdir().unwrap();
        catalog(queries.path());
        let cwd = tempfile::tempdir().unwrap();
        let workspace = LocalWorkspace::start_with("healthy", &["delay=60,match=slow copy"]);
        let (child, lines) = start(&workspace, queries.path(), cwd.path(), "json");
        // The fast check's answer has arrived; the slow one is in flight.
        wait_for(&lines, &["answer", "status=200"]);
        interrupt(&child);
        let sent = Instant::now();
        let (code, stdout) = finish(child, Duration::from_secs(10));
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "{:?}",
            sent.elapsed()
        );
        assert_eq!(code, 130, "{stdout}");

        let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let results = document["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{results:?}");
        assert!(
            results
                .iter()
                .all(|r| r["check"] == "guardduty-freshness" && r["status"] == "healthy")
        );
        assert_eq!(document["summary"]["interrupted"], true);
        assert_eq!(document["summary"]["exit_code"], 130);
        // Both checks are listed as run, though only one has results.
        assert_eq!(document["checks"].as_array().unwrap().len(), 2);
        assert!(
            leftovers(cwd.path()).is_empty(),
            "{:?}",
            leftovers(cwd.path())
        );
    }

    #[test]
    fn ctrl_c_while_the_azure_cli_hangs_leaves_no_az_behind() {
        let queries = tempfile::tempdir().unwrap();
        catalog(queries.path());
        let bin = tempfile::tempdir().unwrap();
        let pid_file = bin.path().join("pid");
        let az = bin.path().join("az");
        std::fs::write(
            &az,
            format!(
                "#!/bin/sh\necho $$ > '{}'\nexec sleep 300\n",
                pid_file.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        let workspace = LocalWorkspace::start("healthy");
        let path = format!(
            "{}:{}",
            bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"))
            .args([
                "validate",
                "--queries",
                queries.path().to_str().unwrap(),
                "--workspace",
                WORKSPACE,
                "--endpoint",
                &workspace.url,
                "--auth",
                "azure-cli",
                "--format",
                "json",
            ])
            .env("PATH", path)
            .env_remove("SENTINEL_KMS_ACCESS_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            match std::fs::read_to_string(&pid_file) {
                Ok(pid) if !pid.trim().is_empty() => break pid.trim().to_string(),
                _ if Instant::now() > deadline => panic!("az was never started"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        interrupt(&child);
        let (code, stdout) = finish(child, Duration::from_secs(10));
        assert_eq!(code, 130, "{stdout}");
        let gone = Instant::now() + Duration::from_secs(5);
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        while alive() && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(), "az ({pid}) still runs after Ctrl-C");
    }

    #[test]
    fn ctrl_c_before_anything_finished_still_prints_a_whole_report() {
        let queries = tempfile::tempdir().unwrap();
        catalog(queries.path());
        let cwd = tempfile::tempdir().unwrap();
        let workspace = LocalWorkspace::start_with("healthy", &["delay=60"]);
        let (child, lines) = start(&workspace, queries.path(), cwd.path(), "table");
        wait_for(&lines, &["running checks"]);
        // Let both requests reach the server before the interrupt.
        std::thread::sleep(Duration::from_millis(500));
        interrupt(&child);
        let (code, stdout) = finish(child, Duration::from_secs(10));
        assert_eq!(code, 130, "{stdout}");
        assert!(
            stdout.contains("interrupted before every check finished"),
            "{stdout}"
        );
        assert!(leftovers(cwd.path()).is_empty());
    }
}
