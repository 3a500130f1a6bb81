//! Tokens and secrets never reach output or logs, at any level, in any error, and the `Debug`
//! form of every type that holds one hides it.

mod common;

use std::sync::Arc;

use common::{LocalWorkspace, TOKEN, WORKSPACE, sentinel_kms_env};
use sentinel_kms::client::auth::{
    AuthMode, AuthSettings, Cloud, Environment, FixedToken, TokenProvider,
};
use sentinel_kms::client::{ClientSettings, LogsClient};

const CLIENT_SECRET: &str = "client-secret-7b0c2e-must-not-leak";
const SYSTEM_TOKEN: &str = "system-access-token-41f9-must-not-leak";
const FEDERATED_TOKEN: &str = "federated-token-9d3a-must-not-leak";

fn assert_hidden(text: &str, secrets: &[&str], context: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{context}: `{secret}` leaked in\n{text}"
        );
    }
}

/// A proxy for https that refuses connections, so that requests to Microsoft Entra fail at once
/// instead of leaving the machine.
fn refusing_proxy() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

#[test]
fn the_access_token_never_reaches_output_or_logs() {
    // A rejected token (403), a throttled request and a success: every path that logs.
    let workspace = LocalWorkspace::start_with(
        "healthy",
        &["status=403,times=1", "status=429,retry_after=0,times=1"],
    );
    for level in ["-vv", "-v", "-q"] {
        for format in ["table", "json"] {
            let run = sentinel_kms_env(
                &[
                    "validate",
                    "--check",
                    "guardduty-freshness",
                    "--check",
                    "cloudtrail-freshness",
                    "--workspace",
                    WORKSPACE,
                    "--endpoint",
                    &workspace.url,
                    "--auth",
                    "access-token",
                    "--format",
                    format,
                    level,
                ],
                &[("SENTINEL_KMS_ACCESS_TOKEN", TOKEN), ("RUST_LOG", "trace")],
            );
            assert!(run.stderr.len() > 1000, "trace logging produced little");
            assert_hidden(&run.stdout, &[TOKEN], level);
            assert_hidden(&run.stderr, &[TOKEN], level);
        }
    }
}

#[test]
fn a_refused_token_is_never_echoed() {
    let workspace = LocalWorkspace::start("healthy");
    let base = [
        "validate",
        "--workspace",
        WORKSPACE,
        "--endpoint",
        &workspace.url,
        "--auth",
        "access-token",
        "-vv",
    ];
    // Not accepted by the service; a bearer prefix pasted by mistake; an expired JWT.
    let expired = "eyJhbGciOiJub25lIn0.eyJleHAiOjE2MDAwMDAwMDB9.c2ln";
    for (token, code) in [
        ("someone-elses-token-6c1e", 3),
        ("Bearer token-with-its-prefix-52ad", 2),
        (expired, 2),
    ] {
        let run = sentinel_kms_env(
            &base,
            &[("SENTINEL_KMS_ACCESS_TOKEN", token), ("RUST_LOG", "trace")],
        );
        assert_eq!(run.code, code, "{token}: {}", run.stderr);
        assert_hidden(&run.stdout, &[token], token);
        assert_hidden(&run.stderr, &[token], token);
        if let Some(rest) = token.strip_prefix("Bearer ") {
            assert_hidden(&run.stderr, &[rest], token);
        }
    }
}

#[test]
fn client_secrets_and_federated_tokens_never_reach_output_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, FEDERATED_TOKEN).unwrap();
    let proxy = refusing_proxy();
    let workspace = LocalWorkspace::start("healthy");
    let common_env = [
        ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("AZURE_CLIENT_ID", "0d4f1a43-3d0e-4a3a-9f2a-6a1d3f0c5b11"),
        ("HTTPS_PROXY", proxy.as_str()),
        ("https_proxy", proxy.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let modes: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "client-secret",
            vec![("AZURE_CLIENT_SECRET", CLIENT_SECRET)],
        ),
        (
            "workload-identity",
            vec![("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap())],
        ),
        (
            "azure-pipelines",
            vec![
                ("SYSTEM_ACCESSTOKEN", SYSTEM_TOKEN),
                (
                    "SYSTEM_OIDCREQUESTURI",
                    "https://dev.azure.com/contoso/_apis/distributedtask/hubs/build/plans/1/jobs/2/oidctoken",
                ),
                (
                    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                    "5a1b7f3c-2d4e-4f60-8a9b-0c1d2e3f4a5b",
                ),
                (
                    "AZURESUBSCRIPTION_TENANT_ID",
                    "72f988bf-86f1-41af-91ab-2d7cd011db47",
                ),
                (
                    "AZURESUBSCRIPTION_CLIENT_ID",
                    "0d4f1a43-3d0e-4a3a-9f2a-6a1d3f0c5b11",
                ),
            ],
        ),
    ];
    let url = workspace.url.as_str();
    std::thread::scope(|scope| {
        for (mode, extra) in modes {
            let common_env = &common_env;
            scope.spawn(move || run_without_token(url, mode, common_env, extra));
        }
    });
}

/// `validate` with `--auth mode` where the token cannot be had: no secret in its output.
fn run_without_token(url: &str, mode: &str, common_env: &[(&str, &str)], extra: Vec<(&str, &str)>) {
    let env: Vec<(&str, &str)> = common_env.iter().copied().chain(extra).collect();
    let run = sentinel_kms_env(
        &[
            "validate",
            "--check",
            "guardduty-freshness",
            "--workspace",
            WORKSPACE,
            "--endpoint",
            url,
            "--auth",
            mode,
            "--format",
            "json",
            "-vv",
        ],
        &env,
    );
    // The token cannot be fetched through the refusing proxy: an auth error verdict.
    assert_eq!(run.code, 3, "{mode}: {}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["results"][0]["reason"], "auth_failed", "{mode}");
    let secrets = [CLIENT_SECRET, SYSTEM_TOKEN, FEDERATED_TOKEN];
    assert_hidden(&run.stdout, &secrets, mode);
    assert_hidden(&run.stderr, &secrets, mode);
}

struct Env(Vec<(&'static str, String)>);

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    }
}

fn settings(mode: AuthMode) -> AuthSettings {
    AuthSettings {
        mode,
        cloud: Cloud::Public,
        tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
        client_id: Some("0d4f1a43-3d0e-4a3a-9f2a-6a1d3f0c5b11".into()),
        service_connection_id: Some("5a1b7f3c-2d4e-4f60-8a9b-0c1d2e3f4a5b".into()),
    }
}

#[tokio::test]
async fn debug_output_of_every_type_holding_a_secret_hides_it() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("federated-token");
    std::fs::write(&token_file, FEDERATED_TOKEN).unwrap();
    let env = Env(vec![
        ("SENTINEL_KMS_ACCESS_TOKEN", TOKEN.to_string()),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("SYSTEM_ACCESSTOKEN", SYSTEM_TOKEN.to_string()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ]);
    let secrets = [TOKEN, CLIENT_SECRET, SYSTEM_TOKEN, FEDERATED_TOKEN];
    // `azure-pipelines` and `workload-identity` are left out here: azure_identity reads their
    // request URL and token file from the process environment, which a test cannot set safely;
    // the runs of the binary above cover them.
    for mode in [
        AuthMode::AccessToken,
        AuthMode::ClientSecret,
        AuthMode::AzureCli,
        AuthMode::ManagedIdentity,
    ] {
        let provider =
            TokenProvider::new(&settings(mode), &env).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        if mode == AuthMode::AccessToken {
            // With the token fetched and cached.
            assert_eq!(provider.token().await.unwrap().secret(), TOKEN);
        }
        assert_hidden(&format!("{provider:?}"), &secrets, &format!("{mode:?}"));
        let client =
            LogsClient::new("http://127.0.0.1:9", provider, ClientSettings::default()).unwrap();
        assert_hidden(&format!("{client:?}"), &secrets, &format!("{mode:?}"));
    }
    let fixed = FixedToken::new(azure_core::credentials::Secret::new(TOKEN)).unwrap();
    assert_hidden(&format!("{fixed:?}"), &secrets, "FixedToken");
    let provider = TokenProvider::with_credential(Arc::new(fixed), Cloud::Public.scope());
    let token = provider.token().await.unwrap();
    assert_hidden(&format!("{token:?} {provider:?}"), &secrets, "Secret");

    // The errors that mention a token say what is wrong with it, never what it is.
    let bad = Env(vec![(
        "SENTINEL_KMS_ACCESS_TOKEN",
        format!("Bearer {TOKEN}"),
    )]);
    let error = TokenProvider::new(&settings(AuthMode::AccessToken), &bad).unwrap_err();
    assert_hidden(&format!("{error} {error:?}"), &secrets, "refused token");
}
