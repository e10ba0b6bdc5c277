//! The plug-in point: an [`Integration`] delivers one [`Notification`] somewhere.
//!
//! watchfire's own integrations (webhook, Slack, email, log) implement it, and so can an
//! embedding program: register it with [`crate::notify::NotifierBuilder::integration`] under a
//! receiver name from the config. Delivery (queueing, retries, fallback, metrics) is the
//! notifier's job; an integration makes one attempt and classifies its failure.

use super::notification::Notification;
use std::fmt;
use std::time::Duration;

pub use async_trait::async_trait;

/// Delivers notifications through one channel.
///
/// Implement it with the [`macro@async_trait`] attribute (re-exported here):
///
/// ```
/// use watchfire::notify::{async_trait, Integration, Notification, NotifyError};
///
/// struct Stdout;
///
/// #[async_trait]
/// impl Integration for Stdout {
///     fn name(&self) -> &str {
///         "stdout"
///     }
///     async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
///         println!("{} {}", n.status(), n.group_key);
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Integration: Send + Sync {
    /// The integration kind, used as the `integration` metric label (`webhook`, `slack`, ...).
    fn name(&self) -> &str;

    /// Makes one delivery attempt. The notifier bounds it with the configured timeout and
    /// retries it when the error is [`ErrorClass::Retryable`].
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;

    /// What [`Integration::notify`] would send for `notification`, for `watchfire render`
    /// (the request body, the email, the log line). The default says it cannot be shown.
    fn render(&self, notification: &Notification) -> Result<String, NotifyError> {
        let _ = notification;
        Err(NotifyError::permanent(
            FailureReason::Other,
            format!("the {} integration cannot show its output", self.name()),
        ))
    }
}

/// Whether a failed attempt is worth repeating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Connection errors, timeouts, 5xx, 429: try again later.
    Retryable,
    /// The receiver refused the notification (4xx, bad configuration): do not retry.
    Permanent,
}

/// Why a delivery attempt failed: a fixed set, so the `reason` label of the failure metrics
/// and of dead letters has bounded values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureReason {
    /// The connection could not be made.
    Connect,
    /// No answer in time.
    Timeout,
    /// The receiver answered 5xx.
    Http5xx,
    /// The receiver answered 429 Too Many Requests.
    Http429,
    /// The receiver answered another 4xx.
    Http4xx,
    /// The receiver answered, but not as its API documents.
    InvalidResponse,
    /// The integration's settings are unusable (no URL, an unreadable secret file).
    Config,
    /// A template did not expand.
    Template,
    /// The SMTP server refused the message for good (5xx reply).
    SmtpPermanent,
    /// The SMTP exchange failed in a way worth retrying.
    Smtp,
    /// The receiver's delivery queue was full.
    QueueFull,
    /// Anything else.
    Other,
}

impl FailureReason {
    /// The metric label and dead-letter text: `connect`, `timeout`, `http_5xx`, `http_429`,
    /// `http_4xx`, `invalid_response`, `config`, `template`, `smtp_permanent`, `smtp`,
    /// `queue_full`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Connect => "connect",
            FailureReason::Timeout => "timeout",
            FailureReason::Http5xx => "http_5xx",
            FailureReason::Http429 => "http_429",
            FailureReason::Http4xx => "http_4xx",
            FailureReason::InvalidResponse => "invalid_response",
            FailureReason::Config => "config",
            FailureReason::Template => "template",
            FailureReason::SmtpPermanent => "smtp_permanent",
            FailureReason::Smtp => "smtp",
            FailureReason::QueueFull => "queue_full",
            FailureReason::Other => "other",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FailureReason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A failed delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct NotifyError {
    /// Retry or not.
    pub class: ErrorClass,
    /// Why, as a fixed set of causes; [`FailureReason::as_str`] is the `reason` metric label.
    pub reason: FailureReason,
    /// What happened, for logs and the dead-letter list.
    pub message: String,
    /// How long the receiver asked us to wait (HTTP `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl NotifyError {
    /// A failure worth retrying.
    pub fn retryable(reason: FailureReason, message: impl Into<String>) -> NotifyError {
        NotifyError {
            class: ErrorClass::Retryable,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A failure not worth retrying.
    pub fn permanent(reason: FailureReason, message: impl Into<String>) -> NotifyError {
        NotifyError {
            class: ErrorClass::Permanent,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error with a requested retry delay.
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> NotifyError {
        self.retry_after = delay;
        self
    }

    /// True for [`ErrorClass::Retryable`].
    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }

    /// Classifies an HTTP status (not 2xx) as Alertmanager does, plus 429 as retryable;
    /// `body` (cut to 1 KiB) goes into the message.
    pub fn from_status(status: u16, body: &str, retry_after: Option<Duration>) -> NotifyError {
        let mut text: String = body.chars().take(1024).collect();
        if text.len() < body.len() {
            text.push_str("...");
        }
        let message = format!("unexpected status code {status}: {}", text.trim());
        match status {
            429 => NotifyError::retryable(FailureReason::Http429, message)
                .with_retry_after(retry_after),
            500..=599 => NotifyError::retryable(FailureReason::Http5xx, message)
                .with_retry_after(retry_after),
            _ => NotifyError::permanent(FailureReason::Http4xx, message),
        }
    }

    /// Classifies a transport error from reqwest: every one is retryable.
    pub fn from_reqwest(e: &reqwest::Error) -> NotifyError {
        let reason = if e.is_timeout() {
            FailureReason::Timeout
        } else if e.is_connect() {
            FailureReason::Connect
        } else {
            FailureReason::Other
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        NotifyError::retryable(reason, message)
    }
}

/// Reads an HTTP `Retry-After` header: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        let e = NotifyError::from_status(503, "down", None);
        assert!(e.is_retryable());
        assert_eq!(e.reason, "http_5xx");
        assert_eq!(e.to_string(), "unexpected status code 503: down");
        let e = NotifyError::from_status(429, "", Some(Duration::from_secs(2)));
        assert!(e.is_retryable() && e.retry_after == Some(Duration::from_secs(2)));
        let e = NotifyError::from_status(400, &"x".repeat(2000), None);
        assert!(!e.is_retryable());
        assert!(e.message.ends_with("..."));
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
