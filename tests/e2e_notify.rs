//! End to end through the whole pipeline: demo exporter → watchfire (bundled
//! rules) → a real webhook receiver. A module degrading produces a firing
//! warning, then an escalation to critical, then a resolve — for one alert
//! (one fingerprint), each transition delivered once, retried deliveries
//! carrying the same idempotency key.

mod common;
#[path = "notify_support/mod.rs"]
mod notify_support;

use common::*;
use notify_support::{Behaviour, Recorder};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degrading_module_notifies_firing_escalated_resolved() {
    let rec = Recorder::start().await;
    // The first delivery fails twice: it must be retried with the same idempotency key.
    rec.script(
        "/hook",
        vec![
            Behaviour::Status(503, "busy"),
            Behaviour::Status(500, "oops"),
        ],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let port = free_port();
    let mut demo = Command::new(example_bin("demo_exporter"));
    demo.args([
        "--listen",
        &format!("127.0.0.1:{demo_port}"),
        "--modules",
        "checkout,search",
        "--warning-after",
        "1s",
        "--critical-after",
        "10s",
        "--recover-after",
        "20s",
    ]);
    let _demo = Proc::spawn("demo", demo, dir.path());

    // Only the latency rule, with short windows so the test takes seconds, not minutes.
    let rules = std::fs::read_to_string(crate_dir().join("rules/service-thresholds.yml"))
        .expect("bundled rules")
        .replace("for: 30s", "for: 2s")
        .replace("[1m]", "[10s]");
    std::fs::write(dir.path().join("rules.yml"), rules).expect("rules");
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: demo
    static_configs: [{{targets: ['127.0.0.1:{demo_port}']}}]
route:
  receiver: hook
  group_by: [alertname, module]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: 'null'
      matchers: ['alertname!=\"HighLatencyP95\"']
receivers:
  - name: hook
    webhook_configs:
      - url: '{}'
  - name: 'null'
",
        rec.url("/hook")
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).expect("config");
    let mut wf = Command::new(watchfire_bin());
    wf.args(["run", "--config"])
        .arg(dir.path().join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage.path")
        .arg(dir.path().join("data"));
    let _watchfire = Proc::spawn("watchfire", wf, dir.path());
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    // Wait for the resolve notification of the checkout alert.
    let deadline = Instant::now() + Duration::from_secs(90);
    let resolved =
        |reqs: &[notify_support::Recorded]| reqs.iter().any(|r| r.json()["status"] == "resolved");
    while !resolved(&rec.requests("/hook")) {
        assert!(
            Instant::now() < deadline,
            "no resolve notification; log:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = rec.requests("/hook");

    // Deliveries, by idempotency key: retries repeat a key with an identical body.
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in &requests {
        let key = r.header("idempotency-key").to_string();
        assert!(!key.is_empty(), "every delivery carries an idempotency key");
        if !by_key.contains_key(&key) {
            order.push(key.clone());
        }
        by_key.entry(key).or_default().push(r.json().to_string());
    }
    for (key, bodies) in &by_key {
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "retries of {key} differ"
        );
    }
    assert!(
        by_key[&order[0]].len() >= 3,
        "first delivery retried after 503 and 500"
    );

    let events: Vec<(String, String)> = order
        .iter()
        .map(|k| {
            let b: serde_json::Value = serde_json::from_str(&by_key[k][0]).unwrap();
            assert_eq!(b["alerts"].as_array().map(Vec::len), Some(1), "{b}");
            assert_eq!(b["alerts"][0]["labels"]["module"], "checkout", "{b}");
            (
                b["transitions"][0]["transition"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                b["alerts"][0]["labels"]["severity"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    let count = |t: &str| events.iter().filter(|(x, _)| x == t).count();
    assert_eq!(
        events.first(),
        Some(&("firing".to_string(), "warning".to_string())),
        "{events:?}"
    );
    assert_eq!(count("firing"), 1, "{events:?}");
    assert_eq!(count("escalated"), 1, "{events:?}");
    assert_eq!(count("resolved"), 1, "{events:?}");
    let pos = |t: &str| events.iter().position(|(x, _)| x == t).unwrap();
    assert!(
        pos("firing") < pos("escalated") && pos("escalated") < pos("resolved"),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(|e| e.0.as_str()),
        Some("resolved"),
        "{events:?}"
    );
    // While the window drains after recovery the value may pass through the
    // warning band: a de-escalation is a notification of the same alert too.
    assert!(count("deescalated") <= 1, "{events:?}");

    // One alert throughout: the same identity on every notification.
    let ids: std::collections::HashSet<String> = order
        .iter()
        .map(|k| {
            let b: serde_json::Value = serde_json::from_str(&by_key[k][0]).unwrap();
            b["transitions"][0]["alertId"].to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}
