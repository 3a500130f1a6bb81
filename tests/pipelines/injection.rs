//! Workspace values that try to issue logging commands (the `hostile` scenario: regions, a key
//! ARN and an error message holding `##vso[…]`, `##[…]` and `::…::` commands, line breaks
//! included) reach every output of a CI run only neutralised.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::common::{LocalWorkspace, RunResult, WORKSPACE};
use super::{agent_lines, read_junit, validate_with};

/// The commands this tool itself writes (a `doctor` annotation names no file); any other
/// command line is an injection.
pub(super) const OUR_COMMANDS: [&str; 7] = [
    "##vso[task.logissue type=",
    "##vso[task.uploadsummary]",
    "##vso[task.complete result=SucceededWithIssues;]",
    "::error file=",
    "::warning file=",
    "::error title=",
    "::warning title=",
];

/// Fails if `text` holds a command that is not ours: `##vso[` or `##[` anywhere (any case) other
/// than at the start of one of our lines, or a line starting `::` that is not ours.
pub(super) fn assert_no_injection(what: &str, text: &str) {
    for line in agent_lines(text) {
        let ours = OUR_COMMANDS.iter().any(|ours| line.starts_with(ours));
        let rest = if ours { &line[2..] } else { line };
        let lower = rest.to_ascii_lowercase();
        assert!(
            !lower.contains("##vso") && !lower.contains("##["),
            "{what}: a command prefix survived in {line:?}"
        );
        assert!(
            ours || !line.trim_start().starts_with("::"),
            "{what}: a line starts a GitHub command: {line:?}"
        );
    }
}

/// Every string in a JSON document, keys included.
pub(super) fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(map) => {
            for (key, item) in map {
                out.push(key.clone());
                strings(item, out);
            }
        }
        _ => {}
    }
}

pub(super) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(workspace: &LocalWorkspace, extra: &[&str], env: &[(&str, &str)]) -> RunResult {
    let args = [&["--workspace", WORKSPACE, "-vv"][..], extra].concat();
    validate_with(workspace, &args, env)
}

/// The runs of a hostile-values test: inside Azure Pipelines with `--junit` (the summary
/// uploaded from the agent's folder), `--ci azure-devops --format json`, inside GitHub Actions
/// with `--summary`, and `--ci none` inside Azure Pipelines.
pub(super) struct CiRuns {
    pub azure: RunResult,
    pub azure_json: RunResult,
    pub github: RunResult,
    pub silenced: RunResult,
    pub junit: PathBuf,
    pub summary: PathBuf,
    _dir: tempfile::TempDir,
}

impl CiRuns {
    /// Makes the runs with `run(extra arguments, extra environment)` and fails if any output
    /// holds a command that is not ours: stdout and stderr, the files, the uploaded and step
    /// summaries, and the values readers decode (JSON strings, JUnit as junitparser reads it).
    pub(super) fn new(run: impl Fn(&[&str], &[(&str, &str)]) -> RunResult) -> CiRuns {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let (junit, summary, agent_temp) = (path("junit.xml"), path("summary.md"), path("agent"));
        let step_summary = path("step-summary.md");
        let azure = run(
            &["--junit", junit.to_str().unwrap()],
            &[
                ("TF_BUILD", "True"),
                ("AGENT_TEMPDIRECTORY", agent_temp.to_str().unwrap()),
            ],
        );
        let azure_json = run(&["--format", "json", "--ci", "azure-devops"], &[]);
        let github = run(
            &["--summary", summary.to_str().unwrap()],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_STEP_SUMMARY", step_summary.to_str().unwrap()),
            ],
        );
        let silenced = run(&["--ci", "none"], &[("TF_BUILD", "True")]);

        let mut outputs: Vec<(String, String)> = vec![
            ("azure stdout".into(), azure.stdout.clone()),
            ("azure stderr".into(), azure.stderr.clone()),
            ("azure JSON stdout".into(), azure_json.stdout.clone()),
            ("azure JSON stderr".into(), azure_json.stderr.clone()),
            ("github stdout".into(), github.stdout.clone()),
            ("github stderr".into(), github.stderr.clone()),
            ("--ci none stdout".into(), silenced.stdout.clone()),
            ("--ci none stderr".into(), silenced.stderr.clone()),
            ("junit file".into(), read(&junit)),
            ("summary file".into(), read(&summary)),
            ("step summary".into(), read(&step_summary)),
        ];
        let uploaded: Vec<_> = std::fs::read_dir(&agent_temp).unwrap().collect();
        assert_eq!(uploaded.len(), 1, "one summary uploaded");
        for entry in uploaded {
            outputs.push(("uploaded summary".into(), read(&entry.unwrap().path())));
        }
        let mut decoded = Vec::new();
        strings(&azure_json.json(), &mut decoded);
        strings(&read_junit(&junit), &mut decoded);
        outputs.extend(
            decoded
                .into_iter()
                .map(|text| ("decoded value".into(), text)),
        );
        for (what, text) in &outputs {
            assert_no_injection(what, text);
        }
        CiRuns {
            azure,
            azure_json,
            github,
            silenced,
            junit,
            summary,
            _dir: dir,
        }
    }

    /// Whether the run with `--ci none` wrote none of our commands.
    pub(super) fn silenced_has_no_command(&self) -> bool {
        !agent_lines(&self.silenced.stdout)
            .iter()
            .any(|line| OUR_COMMANDS.iter().any(|ours| line.starts_with(ours)))
    }
}

#[test]
fn hostile_values_reach_every_output_only_neutralised() {
    let workspace = LocalWorkspace::start("hostile");

    // Outside any CI system the values come through as they are: the scenario carries them.
    let plain = run(&workspace, &[], &[]);
    assert!(
        plain.stdout.contains("##vso[task.setvariable variable=x]1")
            && plain.stdout.contains("\n::set-output name=y::2"),
        "{}",
        plain.stdout
    );

    let runs = CiRuns::new(|extra, env| run(&workspace, extra, env));
    let CiRuns {
        azure,
        azure_json,
        github,
        silenced,
        junit,
        summary,
        ..
    } = &runs;
    assert_eq!(azure.code, 1, "{}", azure.stderr);

    // The values are there, neutralised, in each output.
    let set_variable = "**vso[task.setvariable variable=x]1";
    for (what, text) in [
        ("azure", &azure.stdout),
        ("github", &github.stdout),
        ("silenced", &silenced.stdout),
        ("junit", &read(junit)),
    ] {
        assert!(text.contains(set_variable), "{what}: {text}");
        assert!(text.contains("*::set-output name=x::1"), "{what}: {text}");
    }
    assert!(read(summary).contains("\\*\\*vso\\[task.setvariable variable=x\\]1"));
    let document = azure_json.json();
    let regions: Vec<&str> = document["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["group"]["Region"].as_str())
        .collect();
    assert!(regions.contains(&set_variable), "{regions:?}");
    assert!(
        regions.contains(
            &"eu-west-9\\n*::set-output name=y::2\\n**[error]forged\\n**vso[task.complete result=Succeeded;]\u{fffd}[31m\u{fffe}"
        ),
        "{regions:?}"
    );

    // Our own commands: one issue per verdict that is not healthy, each on one line.
    let issues: Vec<&str> = agent_lines(&azure.stdout)
        .into_iter()
        .filter(|line| line.starts_with("##vso[task.logissue"))
        .collect();
    assert_eq!(issues.len(), 4, "{issues:#?}");
    assert!(
        issues.iter().any(|line| line
            .contains("444455556666/eu-west-9\\n*::set-output name=y::2\\n**[error]forged\\n")),
        "{issues:#?}"
    );
    assert!(runs.silenced_has_no_command(), "{}", silenced.stdout);
}

#[test]
fn any_command_run_inside_a_ci_system_neutralises_what_it_echoes() {
    // A check whose bad version carries a command: `list` echoes the value in its error.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hostile.kql"),
        "// id: hostile\n// version: 1.0##vso[task.setvariable variable=a]b\n// title: t\n\
         AWSGuardDuty\n",
    )
    .unwrap();
    let queries = dir.path().to_str().unwrap();
    let list = |env: &[(&str, &str)]| {
        super::common::sentinel_kms_env(&["list", "--queries", queries], env)
    };
    // `lint` echoes it in its report, on stdout.
    let lint = |format: &str, env: &[(&str, &str)]| {
        super::common::sentinel_kms_env(&["lint", "--format", format, queries], env)
    };
    // Outside CI the value is shown as written, so the checks below can tell.
    let plain = list(&[]);
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    assert!(plain.stderr.contains("1.0##vso[task"), "{}", plain.stderr);
    let plain = lint("text", &[]);
    assert!(plain.stdout.contains("1.0##vso[task"), "{}", plain.stdout);
    // Any value an agent may set, not only the ones that choose the commands to write.
    for value in ["True", "yes", "1"] {
        let env = [("TF_BUILD", value)];
        let run = list(&env);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("hostile.kql:2"), "{}", run.stderr);
        assert_no_injection(&format!("list stderr, TF_BUILD={value}"), &run.stderr);
        for format in ["text", "json"] {
            let run = lint(format, &env);
            assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
            assert!(run.stdout.contains("hostile.kql"), "{}", run.stdout);
            let what = format!("lint --format {format} stdout, TF_BUILD={value}");
            assert_no_injection(&what, &run.stdout);
            assert_no_injection(&what, &run.stderr);
        }
        // The JSON stays JSON.
        let json: Value = serde_json::from_str(&lint("json", &env).stdout).unwrap();
        let mut decoded = Vec::new();
        strings(&json, &mut decoded);
        decoded
            .iter()
            .for_each(|text| assert_no_injection("lint JSON value", text));
    }
}
