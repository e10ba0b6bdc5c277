//! One request to the remote endpoint, and what its answer means: sent, retry (5xx, 429 when
//! `retry_on_http_429`, network errors; with the `Retry-After` it gave), or refused for good
//! (any other status).

use super::backlog::Record;
use crate::config::{ProtobufMessage, RemoteWriteConfig};
use std::time::Duration;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("watchfire/", env!("CARGO_PKG_VERSION"));
/// Bytes of an error answer kept for the log (Prometheus keeps 1024).
const MAX_ERROR_BYTES: usize = 1024;
/// Longest `Retry-After` honoured, so a hostile answer cannot park a shard for days.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What one attempt gave.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// 2xx.
    Sent,
    /// Worth retrying; `after` is the server's `Retry-After`.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Refused for good: the batch is dropped.
    Failed(String),
}

/// The endpoint of one queue.
pub(crate) struct Endpoint {
    client: reqwest::Client,
    config: RemoteWriteConfig,
}

impl Endpoint {
    pub(crate) fn new(client: reqwest::Client, config: RemoteWriteConfig) -> Self {
        Endpoint { client, config }
    }

    /// Posts one batch.
    pub(crate) async fn post(&self, record: &Record) -> Outcome {
        let (content_type, version) = match record.format {
            ProtobufMessage::V1 => ("application/x-protobuf", "0.1.0"),
            ProtobufMessage::V2 => (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "2.0.0",
            ),
        };
        let timeout = self.config.remote_timeout.0.max(Duration::from_millis(1));
        let mut req = self
            .client
            .post(&self.config.url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header("X-Prometheus-Remote-Write-Version", version)
            .header(reqwest::header::USER_AGENT, USER_AGENT);
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        req = crate::config::authorize(
            req,
            self.config.basic_auth.as_ref(),
            self.config.authorization.as_ref(),
        );
        let mut resp = match req.body(record.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    after: None,
                    error: error_chain(&e),
                }
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Outcome::Sent;
        }
        let after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let mut text = Vec::new();
        while text.len() < MAX_ERROR_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => text.extend_from_slice(&c),
                _ => break,
            }
        }
        text.truncate(MAX_ERROR_BYTES);
        let body = String::from_utf8_lossy(&text);
        let first = body.lines().next().unwrap_or("").trim();
        let error = format!("server returned HTTP status {status}: {first}");
        classify(
            status.as_u16(),
            self.config.queue_config.retry_on_http_429,
            after,
            error,
        )
    }
}

/// Sorts a non-2xx answer.
fn classify(status: u16, retry_429: bool, after: Option<Duration>, error: String) -> Outcome {
    if status >= 500 || (status == 429 && retry_429) {
        Outcome::Retry { after, error }
    } else {
        Outcome::Failed(error)
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    (!d.is_zero()).then_some(d.min(MAX_RETRY_AFTER))
}

/// The next backoff after sleeping `slept`: doubled, at most `max`.
pub(crate) fn next_backoff(slept: Duration, max: Duration) -> Duration {
    (slept * 2).min(max)
}

/// `d` plus up to 10 % random jitter.
pub(crate) fn jittered(d: Duration) -> Duration {
    let extra = d.as_millis() as u64 / 10;
    if extra == 0 {
        return d;
    }
    d + Duration::from_millis(rand::random::<u64>() % (extra + 1))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_as_prometheus_does() {
        let retry = |s, r| matches!(classify(s, r, None, String::new()), Outcome::Retry { .. });
        assert!(retry(500, true) && retry(503, false) && retry(429, true));
        assert!(!retry(429, false) && !retry(400, true) && !retry(404, true) && !retry(413, true));
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("0"), None);
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("999999"), Some(MAX_RETRY_AFTER));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(retry_after("Mon, 01 Jan 2001 00:00:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_max_with_bounded_jitter() {
        let max = Duration::from_secs(5);
        let mut b = Duration::from_millis(30);
        let mut seen = Vec::new();
        for _ in 0..10 {
            seen.push(b);
            b = next_backoff(b, max);
        }
        assert_eq!(seen[1], Duration::from_millis(60));
        assert_eq!(seen[7], Duration::from_millis(3840));
        assert_eq!(seen[8], max);
        assert_eq!(seen[9], max);
        for _ in 0..100 {
            let j = jittered(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(1000) && j <= Duration::from_millis(1100));
        }
    }
}
