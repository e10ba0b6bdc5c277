//! End to end through the whole pipeline: demo exporter → watchfire (bundled
//! rules) → a real webhook receiver. A module degrading produces a firing
//! warning, then an escalation to critical, then a resolve — for one alert
//! (one fingerprint), each transition delivered once, retried deliveries
//! carrying the same idempotency key.

mod common;
mod notify_support;

use common::*;
use notify_support::{Behaviour, Recorder};
use std::collections::BTreeMap;
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
    let _demo = spawn_demo(
        dir.path(),
        demo_port,
        &[
            "--modules",
            "checkout,search",
            "--warning-after",
            "1s",
            "--critical-after",
            "10s",
            "--recover-after",
            "20s",
        ],
    );

    // Only the latency rule, with short windows so the test takes seconds, not minutes.
    write_fast_service_rules(dir.path());
    write_demo_webhook_config(
        dir.path(),
        demo_port,
        &format!("{{url: '{}'}}", rec.url("/hook")),
        Some("HighLatencyP95"),
    );
    let _watchfire = spawn_watchfire(dir.path(), port, "watchfire", &[]);
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

/// A notifiable transition from the alert history: (fingerprint, time ms, kind).
fn notifiable(history: &serde_json::Value) -> Vec<(String, i64, String)> {
    let empty = vec![];
    history["data"]["transitions"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter(|t| {
            let to = t["to"].as_str().unwrap_or("");
            to == "firing"
                || to == "resolved"
                || ((to == "escalated" || to == "deescalated") && t["state"] == "firing")
        })
        .map(|t| {
            let at = chrono::DateTime::parse_from_rfc3339(t["at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            (
                t["fingerprint"].as_str().unwrap().to_string(),
                at,
                t["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The webhook receiver is down (connection refused) for two minutes while a module goes
/// warning → critical → resolved, repeatedly. When it comes back every notification made
/// meanwhile arrives, in order, and none twice except as a retry with the same idempotency key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minute_webhook_outage_loses_nothing() {
    const OUTAGE: Duration = Duration::from_secs(120);
    let dir = tempfile::tempdir().expect("tempdir");
    let (demo_port, port, hook_port) = (free_port(), free_port(), free_port());
    let _demo = spawn_demo(
        dir.path(),
        demo_port,
        &[
            "--modules",
            "checkout,search",
            "--warning-after",
            "1s",
            "--critical-after",
            "12s",
            "--recover-after",
            "26s",
            "--cycle",
            "45s",
        ],
    );
    write_fast_service_rules(dir.path());
    write_demo_webhook_config(
        dir.path(),
        demo_port,
        &format!("{{url: 'http://127.0.0.1:{hook_port}/hook'}}"),
        Some("HighLatencyP95"),
    );
    let _watchfire = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(20)
    ));

    // The outage: nothing listens on the receiver's port.
    tokio::time::sleep(OUTAGE).await;
    let history = tokio::task::spawn_blocking({
        let url = format!("{base}/api/v1/alerts/history?alertname=HighLatencyP95");
        move || get_json(&url)
    })
    .await
    .unwrap()
    .expect("history")
    .1;
    let expected = notifiable(&history);
    assert!(
        expected.iter().filter(|e| e.2 == "resolved").count() >= 2,
        "two full cycles during the outage: {expected:?}\n{}",
        log()
    );
    let metrics = tokio::task::spawn_blocking({
        let url = format!("{base}/metrics");
        move || get_text(&url)
    })
    .await
    .unwrap()
    .map(|(_, t)| t)
    .unwrap_or_default();
    let failed_meanwhile = metrics
        .lines()
        .any(|l| l.starts_with("watchfire_notification_retries_total") && !l.ends_with(" 0"));
    assert!(
        failed_meanwhile,
        "deliveries were retried during the outage"
    );

    // The receiver comes back at the same address.
    let came_back = Instant::now();
    let rec = Recorder::start_on(hook_port).await;
    let delivered = |rec: &Recorder| -> BTreeMap<(String, i64), Vec<(String, String)>> {
        // (fingerprint, transition time) → [(idempotency key, body)]
        let mut m: BTreeMap<(String, i64), Vec<(String, String)>> = BTreeMap::new();
        for r in rec.requests("/hook") {
            let b = r.json();
            for t in b["transitions"].as_array().into_iter().flatten() {
                let fp = t["alertId"].as_str().unwrap_or("").to_string();
                let seq = t["seq"].as_i64().unwrap_or(0);
                m.entry((fp, seq))
                    .or_default()
                    .push((r.header("idempotency-key").to_string(), r.body.clone()));
            }
        }
        m
    };
    // A transition superseded by the same alert's next one within a group interval may be
    // folded into that notification by grouping (as in Alertmanager): not an outage loss.
    let must_arrive: Vec<&(String, i64, String)> = expected
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            !expected[i + 1..]
                .iter()
                .any(|n| n.0 == e.0 && n.1 - e.1 <= 2_000)
        })
        .map(|(_, e)| e)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = delivered(&rec);
        let missing: Vec<_> = must_arrive
            .iter()
            .filter(|e| !got.contains_key(&(e.0.clone(), e.1)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered after the receiver came back: {missing:?}\nall: {:?}\n{}",
            got.keys().collect::<Vec<_>>(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let caught_up = came_back.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // No duplicates: each transition arrived under one idempotency key, and a key that
    // arrived more than once (a retry) carried the identical body.
    let got = delivered(&rec);
    for (t, deliveries) in &got {
        let keys: std::collections::BTreeSet<&String> = deliveries.iter().map(|d| &d.0).collect();
        assert_eq!(
            keys.len(),
            1,
            "{t:?} delivered under several keys: {deliveries:?}"
        );
        assert!(
            deliveries.windows(2).all(|w| w[0].1 == w[1].1),
            "{t:?}: retries differ"
        );
    }
    // In order: per alert, transitions arrived in the order they happened.
    let requests = rec.requests("/hook");
    let mut last_seq: BTreeMap<String, i64> = BTreeMap::new();
    for r in &requests {
        for t in r.json()["transitions"].as_array().into_iter().flatten() {
            let fp = t["alertId"].as_str().unwrap_or("").to_string();
            let seq = t["seq"].as_i64().unwrap_or(0);
            let prev = last_seq.insert(fp.clone(), seq).unwrap_or(i64::MIN);
            assert!(seq >= prev, "{fp}: {seq} after {prev}");
        }
    }
    println!(
        "outage {OUTAGE:?}: {} transitions made during it, {} required, all delivered {caught_up:?} after the receiver came back ({} requests in all)",
        expected.len(),
        must_arrive.len(),
        requests.len()
    );
}
