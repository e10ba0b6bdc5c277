//! `http_sd_configs`: target groups fetched from an HTTP endpoint (Prometheus'
//! `discovery/http`).
//!
//! Every `refresh_interval` the URL is fetched with `Accept: application/json` and
//! `X-Prometheus-Refresh-Interval-Seconds`, the job's `basic_auth`/`authorization` and TLS
//! settings. The answer must be status 200, `Content-Type: application/json` (optionally with
//! `charset=utf-8`) and a JSON list of `{targets, labels}` groups without `null` entries; a group's
//! source is `<url>:<index>` and it gets `__meta_url`. An answer above [`MAX_RESPONSE_BYTES`] is
//! refused while it streams in, never buffered whole. A failed refresh keeps the last good
//! groups and counts in `prometheus_sd_http_failures_total`.

use super::{groups, Outcome, RawGroups, SdMetrics, SharedState};
use crate::config::HttpSdConfig;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Largest answer accepted: about 40,000 targets with a few labels each. Prometheus reads the
/// whole body; a bound keeps a broken endpoint from exhausting memory.
pub const MAX_RESPONSE_BYTES: usize = 8 << 20;

/// Longest one refresh may take.
const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a `Content-Type` is one Prometheus accepts:
/// `^(?i:application\/json(;\s*charset=("utf-8"|utf-8))?)$`.
fn json_content_type(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    let Some(rest) = v.strip_prefix("application/json") else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(params) = rest.strip_prefix(';') else {
        return false;
    };
    matches!(params.trim_start(), "charset=utf-8" | "charset=\"utf-8\"")
}

/// An error with its causes, `: `-separated (reqwest's own text omits them).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Fetches and decodes the endpoint once.
pub async fn fetch(
    config: &HttpSdConfig,
    client: &reqwest::Client,
    authorization: Option<&str>,
) -> Result<Vec<super::TargetGroup>, String> {
    let mut req = client
        .get(&config.url)
        .header("Accept", "application/json")
        .header(
            "X-Prometheus-Refresh-Interval-Seconds",
            config.refresh_interval.0.as_secs_f64().to_string(),
        )
        .timeout(config.refresh_interval.0.min(MAX_TIMEOUT));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let mut resp = req.send().await.map_err(|e| error_chain(&e))?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "server returned HTTP status {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned());
    }
    let content_type = resp
        .headers()
        .get("Content-Type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if !json_content_type(&content_type) {
        return Err(format!("unsupported content type {content_type:?}"));
    }
    let too_large = || format!("response body exceeds the limit of {MAX_RESPONSE_BYTES} bytes");
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let raw: RawGroups = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    groups(raw, &config.url, ("__meta_url", &config.url))
}

/// Runs a provider until `cancel`: fetches at once, then every `refresh_interval`, records each
/// outcome into `state` and calls `changed` when the manager should re-sync.
pub async fn run(
    config: HttpSdConfig,
    client: reqwest::Client,
    authorization: Option<String>,
    state: SharedState,
    metrics: SdMetrics,
    cancel: CancellationToken,
    changed: impl Fn(),
) {
    let mut tick = tokio::time::interval(config.refresh_interval.0);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let outcome: Outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = fetch(&config, &client, authorization.as_deref()) => match r {
                Ok(g) => (Some(g), None),
                Err(e) => {
                    metrics.http_failures.inc();
                    let mechanism = super::MechanismLabels { mechanism: "http".to_owned() };
                    metrics.refresh_failures.get_or_create(&mechanism).inc();
                    tracing::error!(url = %config.url, err = %e, "Unable to refresh target groups");
                    (None, Some(format!("{}: {e}", config.url)))
                }
            },
        };
        if super::record(&state, outcome.0, outcome.1) {
            changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn content_types_as_prometheus() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert!(json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/json; charset=latin1",
            "application/jsonx",
            "",
        ] {
            assert!(!json_content_type(bad), "{bad}");
        }
    }

    /// Serves each connection the next answer of `answers` (status, content type, body).
    async fn server(answers: Vec<(u16, &'static str, Vec<u8>)>) -> String {
        server_seeing(answers, Default::default()).await
    }

    /// As [`server`], keeping each request's head (lowercased) in `seen`.
    async fn server_seeing(
        answers: Vec<(u16, &'static str, Vec<u8>)>,
        seen: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
    ) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for (status, ctype, body) in answers {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                seen.lock()
                    .push(String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
            }
        });
        format!("http://{addr}/sd")
    }

    fn config(url: &str) -> HttpSdConfig {
        HttpSdConfig {
            url: url.to_owned(),
            refresh_interval: PromDuration(Duration::from_secs(60)),
            basic_auth: None,
            authorization: None,
            tls_config: Default::default(),
        }
    }

    #[tokio::test]
    async fn requests_carry_prometheus_headers_and_credentials() {
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let url = server_seeing(
            vec![(200, "application/json", b"[]".to_vec())],
            seen.clone(),
        )
        .await;
        let mut c = config(&url);
        c.refresh_interval = PromDuration(Duration::from_millis(1500));
        let client = reqwest::Client::new();
        assert_eq!(fetch(&c, &client, Some("Bearer tok")).await.unwrap(), []);
        let head = seen.lock()[0].clone();
        for want in [
            "get /sd http/1.1\r\n",
            "accept: application/json\r\n",
            "x-prometheus-refresh-interval-seconds: 1.5\r\n",
            "authorization: bearer tok\r\n",
        ] {
            assert!(head.contains(want), "{want:?} in {head}");
        }
    }

    #[tokio::test]
    async fn good_bad_and_oversized_answers() {
        let good =
            br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "x"}}, {"targets": ["c:3"]}]"#;
        let url = server(vec![
            (200, "application/json", good.to_vec()),
            (200, "application/json", b"[{\"targets\": [".to_vec()),
            (200, "application/json", vec![b' '; 10 << 20]),
            (500, "application/json", b"[]".to_vec()),
            (200, "text/plain", b"[]".to_vec()),
            (200, "application/json", b"[null]".to_vec()),
        ])
        .await;
        let c = config(&url);
        let client = reqwest::Client::new();
        let g = fetch(&c, &client, None).await.unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, format!("{url}:0"));
        assert_eq!(g[1].source, format!("{url}:1"));
        assert_eq!(g[0].targets[1]["__address__"], "b:2");
        assert_eq!(g[0].labels["env"], "x");
        assert_eq!(g[1].labels["__meta_url"], url);
        let bad_json = fetch(&c, &client, None).await.unwrap_err();
        assert!(bad_json.contains("EOF"), "{bad_json}");
        assert_eq!(
            fetch(&c, &client, None).await.unwrap_err(),
            "response body exceeds the limit of 8388608 bytes"
        );
        assert_eq!(
            fetch(&c, &client, None).await.unwrap_err(),
            "server returned HTTP status 500 Internal Server Error"
        );
        assert_eq!(
            fetch(&c, &client, None).await.unwrap_err(),
            "unsupported content type \"text/plain\""
        );
        assert_eq!(
            fetch(&c, &client, None).await.unwrap_err(),
            "nil target group item found"
        );
    }

    #[tokio::test]
    async fn a_failing_endpoint_keeps_the_last_good_targets() {
        let url = server(vec![
            (
                200,
                "application/json",
                br#"[{"targets": ["a:1"]}]"#.to_vec(),
            ),
            (503, "application/json", b"".to_vec()),
        ])
        .await;
        let mut c = config(&url);
        c.refresh_interval = PromDuration(Duration::from_millis(50));
        let state = SharedState::default();
        let metrics = SdMetrics::default();
        let cancel = CancellationToken::new();
        let changes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = changes.clone();
        let task = tokio::spawn(run(
            c,
            reqwest::Client::new(),
            None,
            state.clone(),
            metrics.clone(),
            cancel.clone(),
            move || {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        ));
        for _ in 0..200 {
            if metrics.http_failures.get() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        task.await.unwrap();
        let s = state.lock();
        assert_eq!(s.groups.len(), 1);
        assert_eq!(s.groups[0].targets[0]["__address__"], "a:1");
        assert!(s.error.as_deref().unwrap().contains("503"), "{:?}", s.error);
        let http = crate::scrape::discovery::MechanismLabels {
            mechanism: "http".to_owned(),
        };
        assert_eq!(
            metrics.refresh_failures.get_or_create(&http).get(),
            metrics.http_failures.get()
        );
        assert!(changes.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }
}
