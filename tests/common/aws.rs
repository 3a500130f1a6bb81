//! The local AWS for `doctor --aws` tests: moto in server mode behind tests/aws/standin.py,
//! which also serves GuardDuty's publishing destinations and IAM's policy simulator and records
//! every operation, reached through `AWS_ENDPOINT_URL`. One world per instance.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::RunResult;

pub const ACCOUNT: &str = "111122223333";
pub const MEMBER: &str = "444455556666";
pub const ROLE: &str = "arn:aws:iam::111122223333:role/OIDC_MicrosoftSentinelRole";
pub const BUCKET: &str = "guardduty-findings-111122223333";
pub const QUEUE: &str = "arn:aws:sqs:eu-west-1:111122223333:guardduty-findings-queue";

/// The doctor's checks, in the order of its report, when every one gives a verdict.
pub const CHECKS: [&str; 12] = [
    "aws-connector-trust",
    "aws-export-destination",
    "aws-export-key",
    "aws-key-policy-guardduty",
    "aws-key-policy-role",
    "aws-connector-permissions",
    "aws-policy-simulation",
    "aws-bucket-encryption",
    "aws-bucket-notification",
    "aws-queue",
    "aws-queue-depth",
    "aws-export-object",
];

pub struct LocalAws {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl LocalAws {
    pub fn start(world: &str) -> LocalAws {
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws/standin.py");
        let mut child = Command::new(super::python())
            .arg(script)
            .args(["--world", world, "--record"])
            .arg(dir.path().join("operations.jsonl"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the local AWS starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the local AWS prints READY");
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| {
                panic!("the local AWS did not start (moto[server] missing?): {line:?}")
            })
            .trim()
            .to_string();
        std::fs::write(dir.path().join("config"), "").unwrap();
        LocalAws { child, url, dir }
    }

    /// Every operation the doctor asked, as the stand-in recorded it.
    pub fn operations(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("operations.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// `doctor --aws --role-arn ROLE` with `args`, in an environment that holds only the local
    /// AWS's settings and `env` (nothing of the machine's AWS or CI settings).
    pub fn doctor(&self, args: &[&str], env: &[(&str, &str)]) -> RunResult {
        let config = self.dir.path().join("config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sentinel-kms"));
        command
            .args(["doctor", "--aws", "--role-arn", ROLE])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &config)
            .env("NO_COLOR", "1");
        super::run_command(&mut command, env)
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
