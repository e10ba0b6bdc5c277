//! Fetching one `/metrics` body: headers (`Accept` built from `scrape_protocols`,
//! `Accept-Encoding` from `enable_compression`), authorization, gzip, body-size
//! limit. The caller applies the timeout.

use super::target::TargetSpec;
use crate::config::ScrapeProtocol;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, USER_AGENT,
};

/// The `Accept` header for `protocols`, built as Prometheus 3 builds it: each media type in
/// order with a falling `q` weight starting at 0.6 (one more than the five protocols
/// Prometheus knows), `escaping=allow-utf-8` on the 1.0.0 formats, then `*/*`.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    // Prometheus knows five protocols (the four text ones and PrometheusProto).
    let mut weight = 5 + 1;
    let mut out = String::new();
    for p in protocols {
        out.push_str(p.media_type());
        if p.takes_escaping() {
            out.push_str(";escaping=allow-utf-8");
        }
        out.push_str(&format!(";q=0.{weight},"));
        weight -= 1;
    }
    out.push_str(&format!("*/*;q=0.{weight}"));
    out
}

/// Ceiling on a body when the job sets no `body_size_limit` (Prometheus' 0 =
/// unlimited): an endless body must not be able to take all memory before
/// the scrape timeout fires.
pub const DEFAULT_BODY_CEILING: usize = 512 << 20;

/// Largest body buffer kept between scrapes for reuse.
const RETAINED_BUFFER_BYTES: usize = 64 << 20;

/// Why fetching a body failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting or reading failed.
    #[error("{0}")]
    Http(String),
    /// The server answered with a non-2xx status.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The body grew past the configured limit.
    #[error("body size limit exceeded: response larger than {0} bytes")]
    BodyTooLarge(usize),
}

/// A successful fetch: the content type; the body is in the caller's buffer.
#[derive(Debug)]
pub struct Fetched {
    /// The `Content-Type` header, empty when absent.
    pub content_type: String,
}

/// Fetches the target's body into `buf` (cleared first), enforcing the body-size limit
/// while streaming so an endless body never grows memory past it.
pub async fn fetch(
    client: &reqwest::Client,
    spec: &TargetSpec,
    buf: &mut Vec<u8>,
) -> Result<Fetched, FetchError> {
    release_large(buf);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&spec.negotiation.accept) {
        headers.insert(ACCEPT, v);
    }
    let encoding = if spec.negotiation.compression {
        "gzip"
    } else {
        "identity"
    };
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static(encoding));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("watchfire/", env!("CARGO_PKG_VERSION"))),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{}", spec.timeout.as_secs_f64())) {
        headers.insert("X-Prometheus-Scrape-Timeout-Seconds", v);
    }
    if let Some(auth) = &spec.authorization {
        let mut v = HeaderValue::from_str(auth)
            .map_err(|_| FetchError::Http("invalid characters in authorization".into()))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
    let mut resp = client
        .get(&spec.url)
        .headers(headers)
        .send()
        .await
        .map_err(|e| FetchError::Http(error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status().to_string()));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = match spec.limits.body_size_limit {
        0 => DEFAULT_BODY_CEILING,
        l => l,
    };
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Http(error_chain(&e)))?
    {
        if buf.len() + chunk.len() > limit {
            return Err(FetchError::BodyTooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Fetched { content_type })
}

/// Empties `buf`, freeing its memory when it grew past what is worth
/// keeping for reuse: one huge (or endless, cut off) body must not pin its
/// memory for the life of the target. Called before each fetch and after a
/// failed one.
pub fn release_large(buf: &mut Vec<u8>) {
    if buf.capacity() > RETAINED_BUFFER_BYTES {
        *buf = Vec::new();
    }
    buf.clear();
}

/// The error and its causes on one line (reqwest's top error hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_is_built_as_prometheus_builds_it() {
        // Prometheus 3.5's default, as it sends it (`tests/scrape_options.rs` checks against
        // the real one).
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULTS),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }

    #[test]
    fn large_buffers_are_freed_small_ones_kept() {
        let mut small = Vec::with_capacity(1 << 20);
        small.push(1u8);
        release_large(&mut small);
        assert!(small.is_empty() && small.capacity() >= 1 << 20);
        let mut big = vec![0u8; RETAINED_BUFFER_BYTES + 1];
        release_large(&mut big);
        assert_eq!(big.capacity(), 0);
    }
}
