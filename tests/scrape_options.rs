//! Issue 12: scrape options end to end, against an in-test HTTP target that records what each
//! scraper sends: the `Accept` header built from `scrape_protocols`, `Accept-Encoding` from
//! `enable_compression` (and a gzip body decoded), `fallback_scrape_protocol` for a body
//! without a `Content-Type`, and `target_limit`. The real Prometheus 3.5, when present, loads
//! the same file and scrapes the same target: its headers and its `lastError`s must be ours.
//! `follow_redirects: false` (with `enable_http2: false`) shows the redirect as the error.

mod common;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, Response};
use axum::routing::get;
use common::{free_port, get_json, peers, query_single, spawn_watchfire, wait_for, Proc};
use std::collections::HashMap;
use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (path, scraper) → (Accept, Accept-Encoding) of the last request.
type Seen = Arc<Mutex<HashMap<(String, String), (String, String)>>>;

fn scraper(headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ua.starts_with("Prometheus/") {
        "prometheus".into()
    } else {
        "watchfire".into()
    }
}

fn record(seen: &Seen, path: &str, headers: &HeaderMap) {
    let get = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let value = (get(header::ACCEPT), get(header::ACCEPT_ENCODING));
    let key = (path.to_owned(), scraper(headers));
    seen.lock().unwrap().insert(key, value);
}

/// `/rec/<name>`: records and answers in the text format. `/gzip`: a gzip body when asked for
/// one. `/bare`: no `Content-Type` at all.
fn target(seen: Seen) -> String {
    let app =
        axum::Router::new()
            .route(
                "/rec/{name}",
                get(
                    |State(seen): State<Seen>,
                     UrlPath(name): UrlPath<String>,
                     headers: HeaderMap| async move {
                        record(&seen, &format!("/rec/{name}"), &headers);
                        Response::builder()
                            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                            .body(Body::from(format!("rec_metric{{case=\"{name}\"}} 1\n")))
                            .unwrap()
                    },
                ),
            )
            .route(
                "/gzip",
                get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                    record(&seen, "/gzip", &headers);
                    let body = "gz_metric 7\n";
                    let gzip = headers
                        .get(header::ACCEPT_ENCODING)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("gzip"));
                    let b = Response::builder().header(header::CONTENT_TYPE, "text/plain");
                    if !gzip {
                        return b.body(Body::from(body)).unwrap();
                    }
                    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                    enc.write_all(body.as_bytes()).unwrap();
                    b.header(header::CONTENT_ENCODING, "gzip")
                        .body(Body::from(enc.finish().unwrap()))
                        .unwrap()
                }),
            )
            .route(
                "/moved",
                get(|| async {
                    Response::builder()
                        .status(302)
                        .header(header::LOCATION, "/rec/moved")
                        .body(Body::empty())
                        .unwrap()
                }),
            )
            .route(
                "/bare",
                get(|| async { Response::new(Body::from("bare_metric 3\n")) }),
            )
            .with_state(seen);
    common::target::serve_router(app)
}

fn config(addr: &str) -> String {
    format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: default
    metrics_path: /rec/default
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: text004
    metrics_path: /rec/text004
    scrape_protocols: [PrometheusText0.0.4]
    enable_compression: false
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: openmetrics_first
    metrics_path: /rec/openmetrics_first
    scrape_protocols: [OpenMetricsText0.0.1, PrometheusText1.0.0]
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: gzip
    metrics_path: /gzip
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: bare
    metrics_path: /bare
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: bare_fallback
    metrics_path: /bare
    fallback_scrape_protocol: PrometheusText0.0.4
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: redirect
    metrics_path: /moved
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: no_redirect
    metrics_path: /moved
    follow_redirects: false
    enable_http2: false
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: limited
    metrics_path: /rec/limited
    target_limit: 1
    static_configs: [{{targets: ['{addr}', '127.0.0.1:1']}}]
"
    )
}

/// Each active target's (job, lastError, health) from `/api/v1/targets`.
fn targets(base: &str) -> Vec<(String, String, String)> {
    let Some((200, body)) = get_json(&format!("{base}/api/v1/targets")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String, String)> = body["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
            (s("scrapePool"), s("lastError"), s("health"))
        })
        .collect();
    out.sort();
    out
}

/// Waits until every target of `base` has been scraped, then returns them.
fn scraped_targets(base: &str) -> Vec<(String, String, String)> {
    wait_for(Duration::from_secs(20), || {
        let t = targets(base);
        (t.len() == 10 && t.iter().all(|(_, _, h)| h != "unknown")).then_some(t)
    })
    .unwrap_or_else(|| panic!("targets of {base} not all scraped: {:#?}", targets(base)))
}

fn seen_by(seen: &Seen, who: &str) -> HashMap<String, (String, String)> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|((_, w), _)| w == who)
        .map(|((p, _), v)| (p.clone(), v.clone()))
        .collect()
}

const DEFAULT_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

#[test]
fn headers_compression_fallback_and_target_limit_as_prometheus() {
    let seen: Seen = Arc::default();
    let addr = target(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, config(&addr)).unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let got = scraped_targets(&base);

    let bare_error = "non-compliant scrape target sending blank Content-Type and no \
                      fallback_scrape_protocol specified for target";
    let limit_error = "target_limit exceeded (number of targets: 2, limit: 1)";
    let want: Vec<(String, String, String)> = [
        ("bare", bare_error, "down"),
        ("bare_fallback", "", "up"),
        ("default", "", "up"),
        ("gzip", "", "up"),
        ("limited", limit_error, "down"),
        ("limited", limit_error, "down"),
        (
            "no_redirect",
            "server returned HTTP status 302 Found",
            "down",
        ),
        ("openmetrics_first", "", "up"),
        ("redirect", "", "up"),
        ("text004", "", "up"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(query_single(&base, "bare_metric"), Some(3.0));
    assert_eq!(query_single(&base, "gz_metric"), Some(7.0));

    let ours = seen_by(&seen, "watchfire");
    let gzip = |accept: &str| (accept.to_owned(), "gzip".to_owned());
    assert_eq!(ours["/rec/default"], gzip(DEFAULT_ACCEPT));
    assert_eq!(
        ours["/rec/text004"],
        (
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5".to_owned(),
            "identity".to_owned()
        )
    );
    assert_eq!(
        ours["/rec/openmetrics_first"],
        gzip(
            "application/openmetrics-text;version=0.0.1;q=0.6,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.5,*/*;q=0.4"
        )
    );
    assert_eq!(ours["/gzip"].1, "gzip");
    assert!(
        !ours.contains_key("/rec/limited"),
        "a job over its target_limit is not scraped"
    );

    // The same file in the real Prometheus 3.5: the same headers and the same errors.
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let prom_port = free_port();
    let mut cmd = Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let prom = format!("http://127.0.0.1:{prom_port}");
    let theirs_targets = scraped_targets(&prom);
    assert_eq!(theirs_targets, want, "Prometheus' targets");
    let theirs = seen_by(&seen, "prometheus");
    for path in [
        "/rec/default",
        "/rec/text004",
        "/rec/openmetrics_first",
        "/gzip",
    ] {
        assert_eq!(
            theirs[path], ours[path],
            "{path}: Prometheus sent other headers"
        );
    }
}
