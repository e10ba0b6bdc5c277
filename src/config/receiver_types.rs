//! The resolved `receivers` types: what each integration is configured with.

use super::duration::PromDuration;
use super::http::{Authorization, BasicAuth, TlsConfig};
use super::node::Pos;
pub use super::receiver_chat::{DiscordConfig, MsTeamsConfig, MsTeamsV2Config, TelegramConfig};
use super::secret::{Secret, SecretSource};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How hard to try delivering one notification through one integration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryConfig {
    /// Per-attempt timeout (10s).
    pub timeout: PromDuration,
    /// Attempts before giving up (20; 0 means no limit, bounded by `max_age`).
    pub max_attempts: u64,
    /// Give up once a notification is this old (1h).
    pub max_age: PromDuration,
    /// First retry delay (500ms); doubles per attempt, with jitter.
    pub min_backoff: PromDuration,
    /// Longest retry delay (30s).
    pub max_backoff: PromDuration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: PromDuration::from_secs(10),
            max_attempts: 20,
            max_age: PromDuration::from_secs(3600),
            min_backoff: PromDuration::from_millis(500),
            max_backoff: PromDuration::from_secs(30),
        }
    }
}

/// Credentials for an HTTP integration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HttpClientConfig {
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header (also set by `bearer_token`/`bearer_token_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
}

/// A generic webhook (Alertmanager payload version 4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebhookConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// The URL to post to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// A file holding the URL, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Extra request headers; their values print as `<secret>` (they often carry API keys).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "redacted_values"
    )]
    pub headers: BTreeMap<String, String>,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// Most alerts per payload; 0 means all.
    pub max_alerts: u64,
    /// Key for the `X-Watchfire-Signature` HMAC-SHA256 header, read from `signing_secret_file`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret_view"
    )]
    pub signing_secret: Option<SecretSource>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// One attachment field of a Slack message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlackField {
    /// Field title (template).
    pub title: String,
    /// Field value (template).
    pub value: String,
    /// Show side by side; `None` uses `short_fields`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

/// A Slack incoming webhook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackConfig {
    /// Notify about resolved alerts too (default false).
    pub send_resolved: bool,
    /// The incoming-webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url: Option<Secret>,
    /// A file holding the URL, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_url_file: Option<PathBuf>,
    /// `#channel` or `@user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Sender name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Sender emoji, e.g. `:fire:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_emoji: Option<String>,
    /// Sender image URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Attachment title (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Attachment title link (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_link: Option<String>,
    /// Attachment pretext (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretext: Option<String>,
    /// Attachment text (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Attachment colour; default by severity and status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Attachment footer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Fields; none configured means one field per alert.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    /// Default `short` for fields.
    pub short_fields: bool,
    /// Linkify channel and user names.
    pub link_names: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// An SMTP email integration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EmailConfig {
    /// Notify about resolved alerts too (default false).
    pub send_resolved: bool,
    /// Recipient addresses, comma separated.
    pub to: String,
    /// Sender address.
    pub from: String,
    /// SMTP server host.
    pub smarthost_host: String,
    /// SMTP server port; 465 means implicit TLS.
    pub smarthost_port: u16,
    /// Name sent in HELO/EHLO (default `localhost`).
    pub hello: String,
    /// SMTP AUTH user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// SMTP AUTH password.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "secret_view"
    )]
    pub auth_password: Option<SecretSource>,
    /// Require STARTTLS on ports other than 465 (default true, as Alertmanager).
    pub require_tls: bool,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Extra or overriding headers (`Subject`, `To`, `From`, ...), templates.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// HTML body (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Plain-text body (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// A structured log line per notification.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LogConfig {
    /// Log resolved alerts too (default true).
    pub send_resolved: bool,
}

/// A named receiver and its integrations.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReceiverConfig {
    /// Unique name, used by routes.
    pub name: String,
    /// Receiver that gets a notification this receiver failed to deliver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_receiver: Option<String>,
    /// Generic webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
    /// Slack webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// Emails.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    /// Log lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_configs: Vec<LogConfig>,
    /// Microsoft Teams connectors (MessageCard).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msteams_configs: Vec<MsTeamsConfig>,
    /// Microsoft Teams workflows (Adaptive Card).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msteamsv2_configs: Vec<MsTeamsV2Config>,
    /// Telegram bots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telegram_configs: Vec<TelegramConfig>,
    /// Discord webhooks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discord_configs: Vec<DiscordConfig>,
    /// PagerDuty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<super::receiver_incident::PagerdutyConfig>,
    /// Opsgenie.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub opsgenie_configs: Vec<super::receiver_incident::OpsgenieConfig>,
    /// Pushover.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushover_configs: Vec<super::receiver_incident::PushoverConfig>,
    /// Webex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webex_configs: Vec<super::receiver_incident::WebexConfig>,
    /// Where the entry is in the file.
    #[serde(skip)]
    pub pos: Pos,
    #[serde(skip)]
    pub(crate) fallback_pos: Pos,
}

/// Serializes a map with every value shown as `<secret>`.
fn redacted_values<S: serde::Serializer>(
    value: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(value.keys().map(|k| (k, super::secret::REDACTED)))
}

/// Serializes a secret as `<secret>` when inline, or as the file it was read from.
fn secret_view<S: serde::Serializer>(
    value: &Option<SecretSource>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(SecretSource::Inline(secret)) => secret.serialize(s),
        Some(SecretSource::File { path, .. }) => path.serialize(s),
        None => s.serialize_none(),
    }
}
