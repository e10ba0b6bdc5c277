//! watchfire's own integrations, one module each, and what they share (HTTP client setup,
//! credentials).

pub mod alertmanager;
pub mod chat_text;
pub mod discord;
pub mod email;
pub mod incident_text;
pub mod log;
pub mod msteams;
pub mod msteamsv2;
pub mod opsgenie;
pub mod pagerduty;
pub mod pushover;
pub mod slack;
pub mod telegram;
pub mod webex;
pub mod webhook;

use super::integration::{parse_retry_after, NotifyError};
use crate::config::HttpClientConfig;
use crate::notify::FailureReason;
use std::time::Duration;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("watchfire/", env!("CARGO_PKG_VERSION"));

/// Adds basic auth or an `Authorization` header to a request.
pub(crate) fn with_auth(
    req: reqwest::RequestBuilder,
    http: &HttpClientConfig,
) -> reqwest::RequestBuilder {
    crate::config::authorize(req, http.basic_auth.as_ref(), http.authorization.as_ref())
}

/// Reads a URL from a `*_file` (trimmed); an unreadable or empty file is a permanent error.
pub(crate) fn read_url_file(path: &std::path::Path) -> Result<String, NotifyError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        NotifyError::permanent(
            FailureReason::Config,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let url = text.trim().to_owned();
    if url.is_empty() {
        return Err(NotifyError::permanent(
            FailureReason::Config,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(url)
}

/// Sends a request and turns anything but a 2xx into a classified error; returns the
/// response for the caller to inspect.
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, NotifyError> {
    let resp = req
        .send()
        .await
        .map_err(|e| NotifyError::from_reqwest(&e))?;
    check_status(resp).await
}

/// [`send`] for a URL that is itself a secret (Discord and Teams webhooks, Telegram's bot
/// token): transport errors do not show it, as Alertmanager's `RedactURL`.
pub(crate) async fn send_secret_url(
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, NotifyError> {
    let resp = req
        .send()
        .await
        .map_err(|e| NotifyError::from_reqwest(&e.without_url()))?;
    check_status(resp).await
}

/// Where a chat webhook (Teams, Discord) posts: its secret URL, inline or in a file read at
/// each send, with the receiver's client settings.
pub(crate) struct SecretWebhook<'a> {
    /// The integration, for the error when neither URL is set.
    pub name: &'static str,
    /// `webhook_url`.
    pub url: Option<&'a crate::config::Secret>,
    /// `webhook_url_file`.
    pub url_file: Option<&'a std::path::Path>,
    /// The receiver's `http_config`.
    pub http: &'a HttpClientConfig,
    /// The delivery timeout.
    pub timeout: Duration,
}

impl SecretWebhook<'_> {
    /// POSTs the JSON `body` with the notification's idempotency key; transport errors do not
    /// show the URL ([`send_secret_url`]).
    pub(crate) async fn post_json(
        &self,
        client: &reqwest::Client,
        idempotency_key: &str,
        body: String,
    ) -> Result<(), NotifyError> {
        let url = match (self.url, self.url_file) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(file)) => read_url_file(file)?,
            (None, None) => {
                return Err(NotifyError::permanent(
                    FailureReason::Config,
                    format!("{} has no webhook_url", self.name),
                ))
            }
        };
        let req = client
            .post(&url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", idempotency_key)
            .body(body);
        send_secret_url(with_auth(req, self.http)).await.map(drop)
    }
}

async fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, NotifyError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after: Option<Duration> = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    let body = bounded_body(resp).await.unwrap_or_default();
    Err(NotifyError::from_status(
        status.as_u16(),
        &body,
        retry_after,
    ))
}

/// The most of a response body read (error texts keep 1 KiB of it).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Reads at most [`MAX_RESPONSE_BYTES`] of a response body, so a hostile receiver cannot make
/// watchfire buffer an endless answer.
pub(crate) async fn bounded_body(mut resp: reqwest::Response) -> Result<String, NotifyError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| NotifyError::from_reqwest(&e.without_url()))?
    {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The HTTP client integrations share: rustls, no redirects to other schemes, pooled.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
