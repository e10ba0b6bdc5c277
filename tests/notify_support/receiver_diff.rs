//! Differential harness for receivers: the real Alertmanager 0.33 (from the peers) and
//! watchfire load the same configuration, are sent the same alerts through
//! `POST /api/v2/alerts`, and deliver to two recorders that answer as the real service would.
//! The requests each recorder saw are then compared: method, path, query, the headers that
//! matter and the body, after replacing the timestamps each server sets itself.
//!
//! Needs `mod common;` in the test crate.

use super::{Behaviour, Recorded, Recorder};
use crate::common::{self, free_port, spawn_watchfire, wait_listening, Proc};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The external URL both servers are started with, so links in bodies agree.
pub const EXTERNAL_URL: &str = "http://alertmanager.example:9093";

/// Alertmanager and watchfire on one configuration, each with its own recorder.
pub struct Pair {
    /// Receives what watchfire sends.
    pub ours: Recorder,
    /// Receives what Alertmanager sends.
    pub theirs: Recorder,
    /// watchfire's base URL.
    pub wf: String,
    /// Alertmanager's base URL.
    pub am: String,
    _procs: (Proc, Proc),
}

impl Pair {
    /// Starts both. `config(base)` is the whole configuration (Alertmanager's sections, as a
    /// user writes them) with every receiver URL under `base` (a recorder's
    /// `http://127.0.0.1:PORT`). `None` when the Alertmanager peer is absent (a skip outside
    /// CI).
    pub async fn start(dir: &Path, config: impl Fn(&str) -> String) -> Option<Pair> {
        let ours = Recorder::start().await;
        let theirs = Recorder::start().await;
        let am_dir = dir.join("alertmanager");
        std::fs::create_dir_all(&am_dir).unwrap();
        let am_config = am_dir.join("alertmanager.yml");
        std::fs::write(&am_config, config(&theirs.url(""))).unwrap();
        let external = format!("--web.external-url={EXTERNAL_URL}");
        let am_flags = [external.as_str()];
        let (am_proc, am) = tokio::task::block_in_place(|| {
            common::alertmanager::start(&am_dir, &am_config, &am_flags)
        })?;
        std::fs::write(dir.join("watchfire.yml"), config(&ours.url(""))).unwrap();
        let port = free_port();
        let wf_proc = spawn_watchfire(
            dir,
            port,
            "watchfire",
            &["--web.external-url", EXTERNAL_URL],
        );
        let listening = tokio::task::block_in_place(|| {
            wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30))
        });
        assert!(listening, "watchfire did not start");
        Some(Pair {
            ours,
            theirs,
            wf: format!("http://127.0.0.1:{port}"),
            am,
            _procs: (wf_proc, am_proc),
        })
    }

    /// Both recorders answer every request to `path` with `behaviour`.
    pub fn always(&self, path: &str, behaviour: Behaviour) {
        self.ours.always(path, behaviour.clone());
        self.theirs.always(path, behaviour);
    }

    /// Posts `alerts` (a JSON array of Alertmanager's postable alerts) to both; each must
    /// answer 200.
    pub async fn post(&self, alerts: &Value) {
        let client = reqwest::Client::new();
        for base in [&self.wf, &self.am] {
            let resp = client
                .post(format!("{base}/api/v2/alerts"))
                .json(alerts)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert_eq!(status, 200, "POST {base}/api/v2/alerts: {body}");
        }
    }

    /// Waits until each recorder has `n` requests at `path` and returns (ours, theirs).
    pub async fn wait(&self, path: &str, n: usize) -> (Vec<Recorded>, Vec<Recorded>) {
        let limit = Duration::from_secs(30);
        let theirs = self.theirs.wait_for(path, n, limit).await;
        let ours = self.ours.wait_for(path, n, limit).await;
        (ours, theirs)
    }
}

/// A firing alert as Prometheus posts it: `labels`, `annotations`, a generator URL and a
/// start time; no end.
pub fn firing(labels: Value, annotations: Value) -> Value {
    serde_json::json!({
        "labels": labels,
        "annotations": annotations,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "startsAt": "2026-01-01T00:00:00Z",
    })
}

/// The same alert, resolved: its end time is now.
pub fn resolved(alert: &Value) -> Value {
    let mut a = alert.clone();
    a["endsAt"] =
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    a
}

/// `text` with every RFC 3339 timestamp replaced by `<time>` (the ones each server sets
/// itself: end times, send times).
pub fn without_times(text: &str) -> String {
    static TIME: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    TIME.get_or_init(|| {
        regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)").unwrap()
    })
    .replace_all(text, "<time>")
    .into_owned()
}

/// Asserts that watchfire's requests equal Alertmanager's, in order: method, path, query,
/// the `headers` named, and the body after `normalise` (e.g. [`without_times`]). The
/// `User-Agent` product version is not compared, only that both name themselves.
pub fn assert_same(
    ours: &[Recorded],
    theirs: &[Recorded],
    headers: &[&str],
    normalise: impl Fn(&str) -> String,
) {
    assert_eq!(ours.len(), theirs.len(), "request counts differ");
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        let what = format!("request {i} to {}", t.path);
        assert_eq!(o.method, t.method, "{what}: method");
        assert_eq!(o.path, t.path, "{what}: path");
        assert_eq!(o.query, t.query, "{what}: query");
        for h in headers {
            assert_eq!(o.header(h), t.header(h), "{what}: header {h}");
        }
        assert!(!o.header("user-agent").is_empty(), "{what}: no User-Agent");
        let (ob, tb) = (normalise(&o.body), normalise(&t.body));
        if ob != tb {
            // Show JSON bodies as parsed values, so the difference is readable.
            match (
                serde_json::from_str::<Value>(&ob),
                serde_json::from_str::<Value>(&tb),
            ) {
                (Ok(ov), Ok(tv)) => {
                    assert_eq!(ov, tv, "{what}: body (as JSON)");
                    panic!("{what}: same JSON, different bytes:\n ours: {ob}\n theirs: {tb}");
                }
                _ => panic!("{what}: body\n ours: {ob}\n theirs: {tb}"),
            }
        }
    }
}
