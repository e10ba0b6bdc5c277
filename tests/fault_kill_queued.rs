//! Fault test: `kill -9` while notifications wait for a dead webhook.
//!
//! demo exporter → watchfire (bundled rules, short windows) → a webhook that refuses
//! connections. Once watchfire retries (its `/metrics` shows retries or a queue), it is
//! killed with SIGKILL. The test reads the idempotency keys of the queued notifications from
//! the state directory, starts the webhook, restarts watchfire on the same `--storage.path`
//! and checks that every queued notification arrives, exactly once, with its key; anything
//! else that arrives must describe an alert that started firing after the restart (the rule
//! engine's own state is restored elsewhere). A silence created before the kill is still
//! there after it.

mod common;
mod notify_support;

use common::*;
use notify_support::Recorder;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use watchfire::persist::StateDb;

/// Sum of the samples of `metric` (any labels) in an exposition text.
fn metric_sum(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `status [alertname module since startsAt, ...]` of a webhook body.
fn describe(body: &serde_json::Value) -> String {
    let alerts: Vec<String> = body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {} since {}",
                a["labels"]["alertname"], a["labels"]["module"], a["startsAt"]
            )
        })
        .collect();
    format!("{} {alerts:?}", body["status"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_notifications_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let hook_port = free_port();
    let _demo = spawn_demo(
        dir.path(),
        demo_port,
        &[
            "--modules",
            "checkout,search",
            "--warning-after",
            "1s",
            "--critical-after",
            "600s",
            "--recover-after",
            "900s",
        ],
    );
    write_fast_service_rules(dir.path());
    write_demo_webhook_config(
        dir.path(),
        demo_port,
        &format!("{{url: 'http://127.0.0.1:{hook_port}/hook', min_backoff: 1s, max_backoff: 2s}}"),
        None,
    );

    // The webhook is down: watchfire queues and retries.
    let port = free_port();
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let log = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default()
    };
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let text = tokio::task::block_in_place(|| get_text(&metrics_url))
            .map(|(_, t)| t)
            .unwrap_or_default();
        let waiting = metric_sum(&text, "watchfire_notification_queue_length");
        let retries = metric_sum(&text, "watchfire_notification_retries_total");
        if waiting > 0.0 || retries > 0.0 {
            let writes = metric_sum(&text, "watchfire_storage_write_duration_seconds_count");
            let took = metric_sum(&text, "watchfire_storage_write_duration_seconds_sum");
            println!(
                "state database before the kill: {} commits, mean {:.2} ms",
                writes as u64,
                took * 1000.0 / writes.max(1.0)
            );
            println!(
                "before the kill: queue length {}, retries {}",
                waiting as u64, retries as u64
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no notification queued; log:\n{}",
            log("watchfire")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A silence (for an alert that never fires) must survive the kill too.
    let silence = serde_json::json!({
        "matchers": [{"name": "alertname", "value": "NeverFires", "isRegex": false}],
        "startsAt": chrono::Utc::now().to_rfc3339(),
        "endsAt": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "fault test",
        "comment": "kept across kill -9",
    });
    let silence_id = tokio::task::block_in_place(|| {
        let resp = http()
            .post(format!("http://127.0.0.1:{port}/api/v2/silences"))
            .json(&silence)
            .send()
            .expect("create silence");
        assert_eq!(resp.status().as_u16(), 200);
        let body: serde_json::Value = resp.json().expect("silence id");
        body["silenceID"].as_str().expect("silenceID").to_owned()
    });
    let killed_at = chrono::Utc::now();
    wf.child.kill().expect("kill -9");
    wf.child.wait().expect("reap");

    // What the crash left in the state directory.
    let keys_before: BTreeSet<String> = {
        let db = StateDb::open(&dir.path().join("data")).expect("state directory after kill");
        let (queued, bad) =
            watchfire::notify::durable::records::load_queued(&db).expect("queue table");
        assert!(bad.is_empty(), "{bad:?}");
        queued
            .into_iter()
            .map(|(_, q)| q.notification.idempotency_key)
            .collect()
    };
    assert!(!keys_before.is_empty(), "nothing queued at the kill");

    // The webhook comes up; watchfire restarts on the same state directory.
    let rec = Recorder::start_on(hook_port).await;
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire-restarted", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let received = |rec: &Recorder| -> BTreeMap<String, Vec<serde_json::Value>> {
        let mut by_key: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for r in rec.requests("/hook") {
            by_key
                .entry(r.header("idempotency-key").to_owned())
                .or_default()
                .push(r.json());
        }
        by_key
    };
    while !keys_before.iter().all(|k| received(&rec).contains_key(k)) {
        assert!(
            Instant::now() < deadline,
            "queued notifications lost: want {keys_before:?}, got {:?}; log:\n{}",
            received(&rec).keys().collect::<Vec<_>>(),
            log("watchfire-restarted")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let by_key = received(&rec);
    let restored_line = log("watchfire-restarted")
        .lines()
        .find(|l| l.contains("notifier state restored"))
        .map(str::to_owned)
        .unwrap_or_default();
    println!(
        "recovered after the crash: {} queued notifications, all delivered; {} deliveries in \
         all, {} of them new notifications about alerts that fired again after the restart; \
         {restored_line}",
        keys_before.len(),
        by_key.values().map(Vec::len).sum::<usize>(),
        by_key.len() - keys_before.len()
    );
    let url = format!("http://127.0.0.1:{port}/api/v2/silence/{silence_id}");
    let (status, body) = tokio::task::block_in_place(|| get_json(&url)).expect("silence");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["state"], "active", "{body}");
    assert_eq!(body["comment"], "kept across kill -9", "{body}");
    for key in &keys_before {
        println!("recovered: {}", describe(&by_key[key][0]));
        assert_eq!(by_key[key].len(), 1, "{key} delivered more than once");
        assert_eq!(by_key[key][0]["idempotencyKey"], key.as_str());
    }
    for (key, bodies) in by_key.iter().filter(|(k, _)| !keys_before.contains(*k)) {
        println!("new after the restart: {}", describe(&bodies[0]));
        for alert in bodies[0]["alerts"].as_array().expect("alerts") {
            let starts = alert["startsAt"].as_str().expect("startsAt");
            let starts = chrono::DateTime::parse_from_rfc3339(starts).expect("time");
            assert!(
                starts > killed_at,
                "{key}: a notification about an alert from before the kill that was not queued: {}",
                bodies[0]
            );
        }
    }
}
