//! Credentials for the Logs query API: which identity to use (`--auth`), the token scope per
//! cloud, and a token cache so that one token serves every query until shortly before it
//! expires. Tokens and secrets are held in `Secret`, whose `Debug` never shows them.

use std::fmt;
use std::sync::Arc;

use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_core::time::{Duration as TimeDuration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, AzurePipelinesCredential, AzurePipelinesCredentialOptions,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use tokio::sync::Mutex;

use crate::error::Error;

/// The environment variable holding a ready bearer token for `--auth access-token`.
pub const ACCESS_TOKEN_VAR: &str = "SENTINEL_KMS_ACCESS_TOKEN";

/// A token is renewed when it has less than this left.
const REFRESH_MARGIN_MINUTES: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    Auto,
    AzureCli,
    ManagedIdentity,
    WorkloadIdentity,
    AzurePipelines,
    ClientSecret,
    AccessToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cloud {
    Public,
    Usgov,
    China,
}

impl Cloud {
    pub fn endpoint(self) -> &'static str {
        match self {
            Cloud::Public => "https://api.loganalytics.azure.com",
            Cloud::Usgov => "https://api.loganalytics.us",
            Cloud::China => "https://api.loganalytics.azure.cn",
        }
    }

    /// The token scope. The public cloud keeps the `.io` audience even on the `.azure.com` host.
    pub fn scope(self) -> &'static str {
        match self {
            Cloud::Public => "https://api.loganalytics.io/.default",
            Cloud::Usgov => "https://api.loganalytics.us/.default",
            Cloud::China => "https://api.loganalytics.azure.cn/.default",
        }
    }

    fn configuration(self) -> CloudConfiguration {
        match self {
            Cloud::Public => CloudConfiguration::AzurePublic,
            Cloud::Usgov => CloudConfiguration::AzureGovernment,
            Cloud::China => CloudConfiguration::AzureChina,
        }
    }
}

/// What the command line says about identity.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub cloud: Cloud,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub service_connection_id: Option<String>,
}

/// Reads environment variables; a seam so that tests need not change the process environment.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    }
}

/// Picks the mode `auto` stands for, from what the environment offers, in this order:
/// a ready token, a workload identity token file, an Azure Pipelines service connection,
/// a client secret, then the Azure CLI's login.
pub fn resolve_auto(env: &dyn Environment) -> AuthMode {
    let has = |name: &str| env.var(name).is_some();
    if has(ACCESS_TOKEN_VAR) {
        AuthMode::AccessToken
    } else if has("AZURE_FEDERATED_TOKEN_FILE") {
        AuthMode::WorkloadIdentity
    } else if has("SYSTEM_OIDCREQUESTURI") && has("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID") {
        AuthMode::AzurePipelines
    } else if has("AZURE_CLIENT_SECRET") {
        AuthMode::ClientSecret
    } else {
        AuthMode::AzureCli
    }
}

/// Hands out bearer tokens, fetching one only when none is cached or it is about to expire.
pub struct TokenProvider {
    credential: Arc<dyn TokenCredential>,
    scope: &'static str,
    mode: AuthMode,
    cached: Mutex<Cache>,
}

/// The token in use, or why none could be had: a credential that failed (after its own
/// retries) is not asked again in the same run, so a run without a token ends in the time of
/// one attempt rather than one per query.
#[derive(Default)]
struct Cache {
    token: Option<AccessToken>,
    failure: Option<String>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("mode", &self.mode)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    pub fn new(settings: &AuthSettings, env: &dyn Environment) -> Result<TokenProvider, Error> {
        let mode = match settings.mode {
            AuthMode::Auto => resolve_auto(env),
            explicit => explicit,
        };
        let credential = build_credential(mode, settings, env).map_err(|error| {
            Error::Auth(format!(
                "cannot set up `{}` authentication: {error}",
                mode_name(mode)
            ))
        })?;
        Ok(TokenProvider {
            credential,
            scope: settings.cloud.scope(),
            mode,
            cached: Mutex::new(Cache::default()),
        })
    }

    /// A provider around any credential, for tests.
    pub fn with_credential(
        credential: Arc<dyn TokenCredential>,
        scope: &'static str,
    ) -> TokenProvider {
        TokenProvider {
            credential,
            scope,
            mode: AuthMode::AccessToken,
            cached: Mutex::new(Cache::default()),
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Whether asking again can give a different token (a fixed token cannot be renewed).
    pub fn can_renew(&self) -> bool {
        self.mode != AuthMode::AccessToken
    }

    /// A valid token: the cached one while it has more than five minutes left, else a new one.
    pub async fn token(&self) -> Result<Secret, String> {
        let mut cached = self.cached.lock().await;
        if let Some(failure) = &cached.failure {
            return Err(failure.clone());
        }
        let margin = TimeDuration::minutes(REFRESH_MARGIN_MINUTES);
        if let Some(token) = cached.token.as_ref()
            && token.expires_on - margin > OffsetDateTime::now_utc()
        {
            return Ok(token.token.clone());
        }
        let fresh = match self
            .credential
            .get_token(&[self.scope], Some(TokenRequestOptions::default()))
            .await
        {
            Ok(fresh) => fresh,
            Err(error) => {
                let failure = format!("could not get a token ({}): {error}", mode_name(self.mode));
                cached.failure = Some(failure.clone());
                return Err(failure);
            }
        };
        if fresh.expires_on <= OffsetDateTime::now_utc() {
            let expired = azure_core::time::to_rfc3339(&fresh.expires_on);
            return Err(if self.mode == AuthMode::AccessToken {
                format!(
                    "the token in {ACCESS_TOKEN_VAR} expired at {expired}, and a fixed token \
                     cannot be renewed"
                )
            } else {
                format!(
                    "the token from `{}` expired at {expired}",
                    mode_name(self.mode)
                )
            });
        }
        let secret = fresh.token.clone();
        cached.token = Some(fresh);
        Ok(secret)
    }

    /// Forgets the cached token, after the service rejected it.
    pub async fn invalidate(&self) {
        self.cached.lock().await.token = None;
    }
}

pub fn mode_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::Auto => "auto",
        AuthMode::AzureCli => "azure-cli",
        AuthMode::ManagedIdentity => "managed-identity",
        AuthMode::WorkloadIdentity => "workload-identity",
        AuthMode::AzurePipelines => "azure-pipelines",
        AuthMode::ClientSecret => "client-secret",
        AuthMode::AccessToken => "access-token",
    }
}

fn build_credential(
    mode: AuthMode,
    settings: &AuthSettings,
    env: &dyn Environment,
) -> Result<Arc<dyn TokenCredential>, String> {
    // A token request that keeps failing is given up after about 15 s, not azure_core's
    // default of a minute and more: the run has queries waiting for it.
    let client_options = || ClientOptions {
        cloud: Some(Arc::new(settings.cloud.configuration())),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: TimeDuration::milliseconds(500),
            max_retries: 3,
            max_total_elapsed: TimeDuration::seconds(15),
            max_delay: TimeDuration::seconds(5),
        }),
        ..Default::default()
    };
    let tenant = || {
        settings
            .tenant_id
            .clone()
            .or_else(|| env.var("AZURE_TENANT_ID"))
    };
    let client = || {
        settings
            .client_id
            .clone()
            .or_else(|| env.var("AZURE_CLIENT_ID"))
    };
    let required =
        |value: Option<String>, what: &str| value.ok_or_else(|| format!("no {what} given"));

    let credential: Arc<dyn TokenCredential> = match mode {
        AuthMode::Auto => unreachable!("auto is resolved before credentials are built"),
        AuthMode::AccessToken => {
            let token = env
                .var(ACCESS_TOKEN_VAR)
                .ok_or_else(|| format!("the environment variable {ACCESS_TOKEN_VAR} is not set"))?;
            Arc::new(FixedToken::new(Secret::new(token.trim().to_string()))?)
        }
        AuthMode::AzureCli => {
            AzureCliCredential::new(Some(azure_identity::AzureCliCredentialOptions {
                tenant_id: settings.tenant_id.clone(),
                executor: Some(Arc::new(super::cli_process::BoundedExecutor {
                    timeout: super::cli_process::CLI_TIMEOUT,
                })),
                ..Default::default()
            }))
            .map_err(|e| e.to_string())?
        }
        AuthMode::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                client_options: client_options(),
            }))
            .map_err(|e| e.to_string())?
        }
        AuthMode::WorkloadIdentity => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(),
                },
                tenant_id: tenant(),
                client_id: client(),
                ..Default::default()
            }))
            .map_err(|e| e.to_string())?
        }
        AuthMode::AzurePipelines => {
            let tenant = required(
                settings
                    .tenant_id
                    .clone()
                    .or_else(|| env.var("AZURESUBSCRIPTION_TENANT_ID")),
                "tenant ID (--tenant-id or AZURESUBSCRIPTION_TENANT_ID)",
            )?;
            let client = required(
                settings
                    .client_id
                    .clone()
                    .or_else(|| env.var("AZURESUBSCRIPTION_CLIENT_ID")),
                "client ID (--client-id or AZURESUBSCRIPTION_CLIENT_ID)",
            )?;
            let connection = required(
                settings
                    .service_connection_id
                    .clone()
                    .or_else(|| env.var("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")),
                "service connection ID (--service-connection-id or AZURESUBSCRIPTION_SERVICE_CONNECTION_ID)",
            )?;
            let system_token = required(
                env.var("SYSTEM_ACCESSTOKEN"),
                "SYSTEM_ACCESSTOKEN (map it from $(System.AccessToken))",
            )?;
            AzurePipelinesCredential::new(
                tenant,
                client,
                &connection,
                Secret::new(system_token),
                Some(AzurePipelinesCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: client_options(),
                    },
                }),
            )
            .map_err(|e| e.to_string())?
        }
        AuthMode::ClientSecret => {
            let tenant = required(tenant(), "tenant ID (--tenant-id or AZURE_TENANT_ID)")?;
            let client = required(client(), "client ID (--client-id or AZURE_CLIENT_ID)")?;
            let secret = required(
                env.var("AZURE_CLIENT_SECRET"),
                "client secret (AZURE_CLIENT_SECRET)",
            )?;
            ClientSecretCredential::new(
                &tenant,
                client,
                Secret::new(secret),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(|e| e.to_string())?
        }
    };
    Ok(credential)
}

/// A bearer token handed over ready-made. When it is a JWT, its `exp` claim gives the expiry,
/// so an expired token is refused before any query is sent; otherwise it is trusted for a day.
pub struct FixedToken {
    token: Secret,
    expires_on: OffsetDateTime,
}

impl fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedToken")
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

impl FixedToken {
    pub fn new(token: Secret) -> Result<FixedToken, String> {
        if token.secret().is_empty() {
            return Err(format!("{ACCESS_TOKEN_VAR} is empty"));
        }
        if token.secret().chars().any(|c| c.is_control() || c == ' ') {
            return Err(format!(
                "{ACCESS_TOKEN_VAR} holds spaces or control characters; it must be the bare token"
            ));
        }
        let expires_on = jwt_expiry(token.secret())
            .unwrap_or_else(|| OffsetDateTime::now_utc() + TimeDuration::days(1));
        if expires_on <= OffsetDateTime::now_utc() {
            return Err(format!(
                "the token in {ACCESS_TOKEN_VAR} expired at {expires_on}"
            ));
        }
        Ok(FixedToken { token, expires_on })
    }
}

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(self.token.clone(), self.expires_on))
    }
}

/// The `exp` claim of a JWT, read without checking the signature (the service checks it).
fn jwt_expiry(token: &str) -> Option<OffsetDateTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = azure_core::base64::decode_url_safe(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    OffsetDateTime::from_unix_timestamp(claims.get("exp")?.as_i64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(pairs.iter().copied().collect())
    }

    #[test]
    fn auto_follows_the_documented_order() {
        assert_eq!(resolve_auto(&env(&[])), AuthMode::AzureCli);
        assert_eq!(
            resolve_auto(&env(&[("AZURE_CLIENT_SECRET", "s")])),
            AuthMode::ClientSecret
        );
        let pipelines = [
            ("SYSTEM_OIDCREQUESTURI", "u"),
            ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        assert_eq!(resolve_auto(&env(&pipelines)), AuthMode::AzurePipelines);
        assert_eq!(
            resolve_auto(&env(&[
                ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
                ("AZURE_CLIENT_SECRET", "s")
            ])),
            AuthMode::WorkloadIdentity
        );
        assert_eq!(
            resolve_auto(&env(&[
                (ACCESS_TOKEN_VAR, "t"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f")
            ])),
            AuthMode::AccessToken
        );
    }

    #[test]
    fn scopes_per_cloud() {
        assert_eq!(
            Cloud::Public.scope(),
            "https://api.loganalytics.io/.default"
        );
        assert_eq!(
            Cloud::Public.endpoint(),
            "https://api.loganalytics.azure.com"
        );
        assert_eq!(Cloud::Usgov.scope(), "https://api.loganalytics.us/.default");
        assert_eq!(Cloud::China.endpoint(), "https://api.loganalytics.azure.cn");
    }

    fn jwt(exp: i64) -> String {
        let payload =
            azure_core::base64::encode_url_safe(format!("{{\"exp\":{exp},\"aud\":\"x\"}}"));
        format!("eyJhbGciOiJub25lIn0.{payload}.c2ln")
    }

    #[test]
    fn a_fixed_token_reads_its_expiry_and_refuses_expired_ones() {
        let later = OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let token = FixedToken::new(Secret::new(jwt(later))).unwrap();
        assert_eq!(token.expires_on.unix_timestamp(), later);
        let expired = FixedToken::new(Secret::new(jwt(1_600_000_000))).unwrap_err();
        assert!(expired.contains("expired at 2020-09-13"), "{expired}");
        assert!(FixedToken::new(Secret::new("Bearer abc")).is_err());
        let opaque = FixedToken::new(Secret::new("opaque-token")).unwrap();
        assert!(opaque.expires_on > OffsetDateTime::now_utc() + TimeDuration::hours(23));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = FixedToken::new(Secret::new("very-secret-value")).unwrap();
        let provider = TokenProvider::with_credential(Arc::new(token), Cloud::Public.scope());
        let shown = format!(
            "{provider:?} {:?}",
            FixedToken::new(Secret::new("very-secret-value")).unwrap()
        );
        assert!(!shown.contains("very-secret-value"), "{shown}");
    }

    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        lifetime_minutes: i64,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(
                Secret::new(format!("token-{n}")),
                OffsetDateTime::now_utc() + TimeDuration::minutes(self.lifetime_minutes),
            ))
        }
    }

    #[derive(Debug)]
    struct Failing {
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Failing {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "AADSTS7000215: Invalid client secret provided.",
            ))
        }
    }

    #[tokio::test]
    async fn a_credential_that_failed_is_not_asked_again_in_the_same_run() {
        let failing = Arc::new(Failing {
            calls: AtomicUsize::new(0),
        });
        let provider = TokenProvider::with_credential(failing.clone(), Cloud::Public.scope());
        let first = provider.token().await.unwrap_err();
        assert!(first.contains("AADSTS7000215"), "{first}");
        assert_eq!(provider.token().await.unwrap_err(), first);
        provider.invalidate().await;
        assert_eq!(provider.token().await.unwrap_err(), first);
        assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn tokens_are_reused_until_close_to_expiry() {
        let long = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime_minutes: 60,
        });
        let provider = TokenProvider::with_credential(long.clone(), Cloud::Public.scope());
        for _ in 0..5 {
            assert_eq!(provider.token().await.unwrap().secret(), "token-0");
        }
        assert_eq!(long.calls.load(Ordering::SeqCst), 1);
        provider.invalidate().await;
        assert_eq!(provider.token().await.unwrap().secret(), "token-1");

        // A token with less than five minutes left is renewed on every request.
        let short = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime_minutes: 4,
        });
        let provider = TokenProvider::with_credential(short.clone(), Cloud::Public.scope());
        provider.token().await.unwrap();
        provider.token().await.unwrap();
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
    }
}
