//! The Azure Monitor Logs query API: credentials, the HTTP exchange with its retries, and the
//! response and error bodies. The rest of the program sees `QueryResult` or `QueryFailure`.
//!
//! Retries are ours rather than azure_core's pipeline: only 429 and 503 are resent (a 504 means
//! the query itself ran out of time and would run out again), `Retry-After` is honoured up to a
//! cap so a run's length stays bounded, and a bearer token may go over plain HTTP to a loopback
//! address, which the local test workspace needs and azure_core's bearer policy refuses.

pub mod auth;
pub mod cli_process;
pub mod combine;
pub mod response;
pub mod schedule;

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use url::Url;

use crate::error::Error;
use auth::TokenProvider;
pub use response::{BodyError, Cell, QueryResult, ServiceError, Table};
pub use schedule::RateLimit;
use schedule::Scheduler;

/// How the client retries and how long it waits.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The server-side limit sent as `Prefer: wait=N` (the service allows up to 600 s).
    pub server_wait: Duration,
    /// Extra time the client gives the server beyond `server_wait` before it gives up itself.
    pub client_margin: Duration,
    /// Resends after a 429, a 503 or a connection failure.
    pub max_retries: u32,
    /// The longest `Retry-After` the client honours; a longer one ends the query as throttled.
    pub max_retry_after: Duration,
    /// The first backoff when the server gives no `Retry-After`; it doubles each time.
    pub first_backoff: Duration,
    /// Requests in flight at once for this identity (the service runs 5 per user).
    pub concurrency: usize,
    /// Requests per window for this identity (the service allows 200 per 30 s per user).
    pub rate_limit: RateLimit,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            server_wait: Duration::from_secs(180),
            client_margin: Duration::from_secs(15),
            max_retries: 3,
            max_retry_after: Duration::from_secs(60),
            first_backoff: Duration::from_millis(500),
            concurrency: 5,
            rate_limit: RateLimit::SERVICE,
        }
    }
}

/// Why a query produced no usable result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryFailure {
    #[error("could not get a token: {0}")]
    Token(String),
    #[error("the service rejected the token (401{})", code_suffix(.0))]
    Unauthorized(Option<ServiceError>),
    #[error("access denied (403{})", code_suffix(.0))]
    Forbidden(Option<ServiceError>),
    #[error("the workspace was not found (404{})", code_suffix(.0))]
    WorkspaceNotFound(Option<ServiceError>),
    #[error("the query was rejected (400 {}): {}", .0.code_chain().join(" > "), .0.deepest_message())]
    BadQuery(ServiceError),
    #[error("throttled (429) after {attempts} attempts{}", retry_suffix(*.retry_after))]
    Throttled {
        attempts: u32,
        retry_after: Option<Duration>,
    },
    #[error("the service answered {status}{} after {attempts} attempts", code_suffix(.error))]
    Unavailable {
        status: u16,
        error: Option<ServiceError>,
        attempts: u32,
    },
    #[error("the query ran longer than the server-side limit of {}s (504)", .wait.as_secs())]
    ServerTimeout { wait: Duration },
    #[error("no answer within {}s", .after.as_secs())]
    ClientTimeout { after: Duration },
    #[error("network error after {attempts} attempts: {message}")]
    Network { message: String, attempts: u32 },
    #[error(
        "the service answered 204 No Content (it does so for a workspace that holds no data at all)"
    )]
    NoContent,
    #[error("{0}")]
    BadBody(BodyError),
    #[error("unexpected answer {status}{}", code_suffix(.error))]
    UnexpectedStatus {
        status: u16,
        error: Option<ServiceError>,
    },
}

fn code_suffix(error: &Option<ServiceError>) -> String {
    match error {
        Some(error) => format!(
            " {}: {}",
            error.code_chain().join(" > "),
            error.deepest_message()
        ),
        None => String::new(),
    }
}

fn retry_suffix(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |after| {
        format!("; the service asked to wait {}s more", after.as_secs())
    })
}

impl QueryFailure {
    fn with_wait(self, server_wait: Duration) -> QueryFailure {
        match self {
            QueryFailure::ServerTimeout { .. } => QueryFailure::ServerTimeout { wait: server_wait },
            other => other,
        }
    }

    /// The reason code of the verdict this failure becomes.
    pub fn reason(&self) -> &'static str {
        match self {
            QueryFailure::Token(_) => "auth_failed",
            QueryFailure::Unauthorized(_) => "unauthorized",
            QueryFailure::Forbidden(_) => "forbidden",
            QueryFailure::WorkspaceNotFound(_) => "workspace_not_found",
            QueryFailure::BadQuery(_) => "query_rejected",
            QueryFailure::Throttled { .. } => "throttled",
            QueryFailure::Unavailable { .. } | QueryFailure::UnexpectedStatus { .. } => {
                "service_error"
            }
            QueryFailure::ServerTimeout { .. } => "server_timeout",
            QueryFailure::ClientTimeout { .. } => "client_timeout",
            QueryFailure::Network { .. } => "network",
            QueryFailure::NoContent => "no_content",
            QueryFailure::BadBody(_) => "bad_response",
        }
    }
}

/// A client for one endpoint and one identity, shared by every query of a run. Its connection
/// pool is shared too: connections are kept open and reused, and over https the service's
/// HTTP/2 is used when it offers it (ALPN), so concurrent queries share one connection.
#[derive(Debug)]
pub struct LogsClient {
    http: reqwest::Client,
    endpoint: Url,
    tokens: TokenProvider,
    settings: ClientSettings,
    scheduler: Scheduler,
}

impl LogsClient {
    pub fn new(
        endpoint: &str,
        tokens: TokenProvider,
        settings: ClientSettings,
    ) -> Result<LogsClient, Error> {
        let endpoint = parse_endpoint(endpoint)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .timeout(settings.server_wait + settings.client_margin)
            .tcp_nodelay(true)
            .user_agent(concat!("sentinel-kms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::usage(format!("cannot set up the HTTP client: {error}")))?;
        let scheduler = Scheduler::new(settings.concurrency, settings.rate_limit);
        Ok(LogsClient {
            http,
            endpoint,
            tokens,
            settings,
            scheduler,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Runs one query against one workspace, retrying what is worth retrying.
    pub async fn query(&self, workspace: &str, query: &str) -> Result<QueryResult, QueryFailure> {
        self.query_across(workspace, &[], query).await
    }

    /// Runs one query over `workspace` and the `others` (the API's `workspaces` list: one
    /// request, the union of their rows, each row's `TenantId` naming its workspace).
    pub async fn query_across(
        &self,
        workspace: &str,
        others: &[&str],
        query: &str,
    ) -> Result<QueryResult, QueryFailure> {
        let url = self
            .endpoint
            .join(&format!("v1/workspaces/{workspace}/query"))
            .map_err(|error| QueryFailure::Network {
                message: format!("cannot build the query URL: {error}"),
                attempts: 0,
            })?;
        let body = if others.is_empty() {
            serde_json::json!({ "query": query })
        } else {
            serde_json::json!({ "query": query, "workspaces": others })
        };
        let body = serde_json::to_vec(&body).expect("a JSON object serialises");
        let mut attempts = 0;
        let mut renewed_token = false;
        loop {
            attempts += 1;
            // The slot first: a token taken before a long wait in the queue could expire there.
            let slot = self.scheduler.slot().await;
            let token = self.tokens.token().await.map_err(QueryFailure::Token)?;
            let outcome = self.send(&url, &body, token.secret()).await;
            drop(slot);
            let retry_delay = match outcome {
                Ok((status, headers, body)) => match status {
                    StatusCode::OK => {
                        return response::parse_success(&body).map_err(QueryFailure::BadBody);
                    }
                    StatusCode::NO_CONTENT => return Err(QueryFailure::NoContent),
                    StatusCode::UNAUTHORIZED if !renewed_token && self.tokens.can_renew() => {
                        // The token may have expired or been revoked mid-run: fetch a new one once.
                        renewed_token = true;
                        self.tokens.invalidate().await;
                        attempts -= 1;
                        continue;
                    }
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        let asked = retry_after(&headers);
                        let delay = asked.unwrap_or_else(|| self.backoff(attempts));
                        if attempts > self.settings.max_retries
                            || delay > self.settings.max_retry_after
                        {
                            return Err(final_status(status, &body, attempts, asked));
                        }
                        if status == StatusCode::TOO_MANY_REQUESTS {
                            // The limit is the identity's, not this query's: every request waits.
                            self.scheduler.pause(delay);
                        }
                        tracing::info!(%workspace, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "retrying");
                        delay
                    }
                    _ => {
                        return Err(final_status(status, &body, attempts, None)
                            .with_wait(self.settings.server_wait));
                    }
                },
                Err(error) if error.is_timeout() => {
                    return Err(QueryFailure::ClientTimeout {
                        after: self.settings.server_wait + self.settings.client_margin,
                    });
                }
                Err(error) => {
                    let message = error_chain(&error);
                    if attempts > self.settings.max_retries {
                        return Err(QueryFailure::Network { message, attempts });
                    }
                    tracing::info!(%workspace, %message, "retrying after a network error");
                    self.backoff(attempts)
                }
            };
            tokio::time::sleep(retry_delay).await;
        }
    }

    async fn send(
        &self,
        url: &Url,
        body: &[u8],
        token: &str,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
        authorization.set_sensitive(true);
        let response = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                "Prefer",
                format!("wait={}", self.settings.server_wait.as_secs().max(1)),
            )
            .header("x-ms-app", "sentinel-kms")
            .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string())
            .header(AUTHORIZATION, authorization)
            .body(body.to_vec())
            .send()
            .await?;
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        tracing::debug!(
            status = status.as_u16(),
            bytes = bytes.len(),
            ?version,
            "answer"
        );
        Ok((status, headers, bytes.to_vec()))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(6);
        let base = self.settings.first_backoff * 2u32.pow(exponent);
        // Spread simultaneous retries a little, without a random number generator.
        let jitter_ms = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_millis())
                % 100,
        );
        base + Duration::from_millis(jitter_ms)
    }
}

fn final_status(
    status: StatusCode,
    body: &[u8],
    attempts: u32,
    retry_after: Option<Duration>,
) -> QueryFailure {
    let error = response::parse_error(body);
    match status {
        StatusCode::BAD_REQUEST => match error {
            Some(error) => QueryFailure::BadQuery(error),
            None => QueryFailure::UnexpectedStatus {
                status: 400,
                error: None,
            },
        },
        StatusCode::UNAUTHORIZED => QueryFailure::Unauthorized(error),
        // A 403 about the token itself (malformed, wrong audience, bad signature) is not a
        // missing role: report it as a rejected token.
        StatusCode::FORBIDDEN if error.as_ref().is_some_and(is_token_error) => {
            QueryFailure::Unauthorized(error)
        }
        StatusCode::FORBIDDEN => QueryFailure::Forbidden(error),
        StatusCode::NOT_FOUND => QueryFailure::WorkspaceNotFound(error),
        StatusCode::TOO_MANY_REQUESTS => QueryFailure::Throttled {
            attempts,
            retry_after,
        },
        StatusCode::GATEWAY_TIMEOUT => QueryFailure::ServerTimeout {
            wait: Duration::ZERO,
        },
        status if status.is_server_error() => QueryFailure::Unavailable {
            status: status.as_u16(),
            error,
            attempts,
        },
        status => QueryFailure::UnexpectedStatus {
            status: status.as_u16(),
            error,
        },
    }
}

fn is_token_error(error: &ServiceError) -> bool {
    error
        .code_chain()
        .iter()
        .any(|code| code.starts_with("InvalidAuthenticationToken") || *code == "InvalidTokenError")
}

/// The wait the server asks for: `x-ms-retry-after-ms` or `retry-after-ms` in milliseconds, or
/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = text(RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Checks the endpoint URL: `https`, or plain `http` only to a loopback address, because the
/// request carries a bearer token.
pub fn parse_endpoint(text: &str) -> Result<Url, Error> {
    let mut url = Url::parse(text)
        .map_err(|error| Error::usage(format!("endpoint `{text}` is not a URL: {error}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::usage(format!(
                "refusing to send a bearer token over plain http to `{}`: use https (plain http is allowed only to a loopback address)",
                url.host_str().unwrap_or_default()
            )));
        }
        other => {
            return Err(Error::usage(format!(
                "endpoint `{text}` has scheme `{other}`; use https"
            )));
        }
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(Error::usage(format!(
            "endpoint `{}` must be a plain base URL, without credentials, query or fragment",
            url.host_str().unwrap_or_default()
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://api.loganalytics.azure.com",
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://[::1]:9000/",
            "http://localhost:1",
        ] {
            assert!(parse_endpoint(ok).is_ok(), "{ok}");
        }
        let refused = parse_endpoint("http://10.0.0.5:8080")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("refusing to send a bearer token over plain http to `10.0.0.5`"),
            "{refused}"
        );
        assert!(parse_endpoint("http://127.0.0.1.example.com").is_err());
        assert!(parse_endpoint("ftp://127.0.0.1").is_err());
        assert!(parse_endpoint("https://user:pw@example.com").is_err());
        assert!(parse_endpoint("not a url").is_err());
        assert_eq!(
            parse_endpoint("https://x.example/base").unwrap().as_str(),
            "https://x.example/base/"
        );
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        let mut dated = HeaderMap::new();
        dated.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&dated), Some(Duration::ZERO));
    }

    #[test]
    fn statuses_become_failures() {
        let body = br#"{"error":{"code":"InsufficientAccessError","message":"The provided credentials have insufficient access to perform the requested operation"}}"#;
        let forbidden = final_status(StatusCode::FORBIDDEN, body, 1, None);
        assert_eq!(forbidden.reason(), "forbidden");
        assert!(forbidden.to_string().contains("InsufficientAccessError"));
        assert_eq!(
            final_status(StatusCode::NOT_FOUND, b"", 1, None).reason(),
            "workspace_not_found"
        );
        let bad_token = br#"{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}"#;
        assert_eq!(
            final_status(StatusCode::FORBIDDEN, bad_token, 1, None).reason(),
            "unauthorized"
        );
        assert_eq!(
            final_status(StatusCode::GATEWAY_TIMEOUT, b"", 1, None).reason(),
            "server_timeout"
        );
        assert_eq!(
            final_status(StatusCode::INTERNAL_SERVER_ERROR, b"", 1, None).reason(),
            "service_error"
        );
        assert_eq!(
            final_status(StatusCode::BAD_REQUEST, b"nope", 1, None).reason(),
            "service_error"
        );
        let throttled = final_status(
            StatusCode::TOO_MANY_REQUESTS,
            b"",
            4,
            Some(Duration::from_secs(120)),
        );
        assert_eq!(
            throttled.to_string(),
            "throttled (429) after 4 attempts; the service asked to wait 120s more"
        );
    }
}
