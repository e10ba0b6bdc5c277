//! The notifier with a state database survives a crash: each test runs a notifier in its own
//! Tokio runtime and drops that runtime without `shutdown` (every task stops where it is, as
//! on `kill -9`), then builds a new notifier on the same state directory.
//!
//! - Notifications queued while the webhook refused connections arrive after the restart,
//!   each once, with the idempotency key they had before the crash, and nothing else.
//! - A firing alert notified before the crash is not notified again before its
//!   `repeat_interval`, while its changes (a de-escalation, the resolve) are notified at once:
//!   the restored group kept the alert and its notification log.

mod common;
mod notify_support;

use notify_support::{change_severity, firing, load_config, resolved, Recorder};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchfire::notify::{Notifier, NotifierBuilder};
use watchfire::persist::{StateDb, Table};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(port: u16, repeat: &str) -> String {
    format!(
        r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: {repeat}
receivers:
  - name: hook
    webhook_configs:
      - {{url: 'http://127.0.0.1:{port}/hook', min_backoff: 200ms, max_backoff: 1s, max_attempts: 0}}
"#
    )
}

/// Opens the state directory, waiting for the crashed runtime's last handles to go.
fn open(dir: &Path) -> Arc<StateDb> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match StateDb::open(dir) {
            Ok(db) => return db,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the state directory: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn start(cfg: &watchfire::config::Config, db: &Arc<StateDb>) -> Notifier {
    NotifierBuilder::new(cfg)
        .external_url("http://wf.example:9711")
        .state(db.clone())
        .start()
        .unwrap()
}

async fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn queued_notifications_arrive_after_a_crash_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("data");
    let port = free_port();
    let cfg = load_config(dir.path(), &config(port, "1h"));

    // Before the crash: the receiver refuses connections; three groups, three notifications.
    let rt = runtime();
    let keys_before: BTreeSet<String> = rt.block_on(async {
        let db = open(&state);
        let n = start(&cfg, &db);
        for name in ["A", "B", "C"] {
            n.send(firing(&[("alertname", name), ("severity", "critical")]))
                .await;
        }
        let mut registry = prometheus_client::registry::Registry::default();
        n.register_metrics(&mut registry);
        wait_until(Duration::from_secs(10), "three failed attempts", || {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
            let retries = text
                .lines()
                .find(|l| l.starts_with("watchfire_notification_retries_total{"))
                .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .unwrap_or(0);
            retries >= 3
        })
        .await;
        let (queued, bad) = watchfire::notify::durable::records::load_queued(&db).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        queued
            .into_iter()
            .map(|(_, q)| q.notification.idempotency_key)
            .collect()
    });
    drop(rt); // the crash: tasks stop mid-retry, nothing is flushed or cleaned up
    assert_eq!(keys_before.len(), 3, "{keys_before:?}");

    // After the restart, with the receiver up.
    let rt = runtime();
    rt.block_on(async {
        let rec = Recorder::start_on(port).await;
        let db = open(&state);
        let started = Instant::now();
        let n = start(&cfg, &db);
        assert_eq!(n.restored().queued, 3, "{:?}", n.restored());
        assert_eq!(n.restored().groups, 3, "{:?}", n.restored());
        let got = rec.wait_for("/hook", 3, Duration::from_secs(10)).await;
        println!(
            "recovered after the crash: {} notifications, all delivered {:?} after the restart",
            n.restored().queued,
            started.elapsed()
        );
        // Restored groups flush at once and every group_interval: nothing new to say.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let got_all = rec.requests("/hook");
        assert_eq!(got_all.len(), 3, "only the queued notifications arrive");
        let keys_after: BTreeSet<String> = got
            .iter()
            .map(|r| {
                assert_eq!(r.json()["idempotencyKey"], r.header("idempotency-key"));
                r.header("idempotency-key").to_owned()
            })
            .collect();
        assert_eq!(keys_after, keys_before);
        wait_until(Duration::from_secs(5), "queue table emptied", || {
            db.count(Table::Queue).unwrap() == 0
        })
        .await;
        assert!(n.dead_letters().is_empty());
        let mut registry = prometheus_client::registry::Registry::default();
        db.metrics().register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let count = value("watchfire_storage_write_duration_seconds_count");
        let sum = value("watchfire_storage_write_duration_seconds_sum");
        println!(
            "state database after the restart: {count} commits, mean {:.2} ms",
            sum * 1000.0 / count.max(1.0)
        );
        n.shutdown().await;
    });
}

#[test]
fn a_restart_does_not_renotify_a_firing_alert_before_repeat_interval() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("data");
    let port = free_port();
    let cfg = load_config(dir.path(), &config(port, "6s"));
    let alert = firing(&[("alertname", "A"), ("severity", "critical")]);

    let rt = runtime();
    let first_at = rt.block_on(async {
        let rec = Recorder::start_on(port).await;
        let db = open(&state);
        let n = start(&cfg, &db);
        n.send(alert.clone()).await;
        let got = rec.wait_for("/hook", 1, Duration::from_secs(5)).await;
        wait_until(Duration::from_secs(5), "delivery recorded", || {
            db.count(Table::Queue).unwrap() == 0
        })
        .await;
        got[0].at
    });
    drop(rt);

    let rt = runtime();
    rt.block_on(async {
        let rec = Recorder::start_on(port).await;
        let db = open(&state);
        let n = start(&cfg, &db);
        assert_eq!(n.restored().groups, 1);
        // Restored groups flush at once and every second: no repeat until 6s after the first.
        let quiet_until = first_at + Duration::from_millis(5500);
        while Instant::now() < quiet_until {
            assert!(
                rec.requests("/hook").is_empty(),
                "renotified {:?} after the first notification",
                Instant::now() - first_at
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let repeat = rec.wait_for("/hook", 1, Duration::from_secs(5)).await;
        let body = repeat[0].json();
        assert!(repeat[0].at - first_at >= Duration::from_millis(5900));
        assert_eq!(body["status"], "firing", "{body}");

        // Changes are notified at once: a de-escalation, then the resolve (the restored group
        // still holds the alert).
        let lower = change_severity(&alert, "warning");
        n.send(lower.clone()).await;
        let got = rec.wait_for("/hook", 2, Duration::from_secs(5)).await;
        let body = got[1].json();
        assert_eq!(body["alerts"][0]["labels"]["severity"], "warning", "{body}");
        assert!(
            got[1].at - got[0].at < Duration::from_secs(3),
            "not held back"
        );
        n.send(resolved(&lower)).await;
        let got = rec.wait_for("/hook", 3, Duration::from_secs(5)).await;
        let body = got[2].json();
        assert_eq!(body["status"], "resolved", "{body}");
        assert_eq!(body["alerts"][0]["labels"]["alertname"], "A", "{body}");
        n.shutdown().await;
    });
}

/// At start `run` replays the restored firing alerts to the notifier (`bridge::resync_transitions`).
/// An alert the notifier never heard of before the crash — killed between the rule engine saving
/// the firing and the notifier queueing it — is notified once; replaying it again after a second
/// restart sends nothing new (the notification log knows it).
#[test]
fn replayed_firing_alerts_are_notified_only_if_never_notified() {
    use watchfire::notify::bridge::{resync_transitions, Bridge};
    use watchfire::rules::alert::{Alert, AlertState};
    use watchfire::rules::manager::HeldAlert;

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("data");
    let port = free_port();
    let cfg = load_config(dir.path(), &config(port, "1h"));
    let fired_at = chrono::Utc::now().timestamp_millis() - 60_000;
    let held = vec![HeldAlert {
        group: Arc::from("rules.yml;g"),
        rule: Arc::from("Hot"),
        alert: Alert {
            labels: watchfire::model::Labels::from_pairs([("alertname", "Hot"), ("job", "oven")]),
            annotations: vec![],
            state: AlertState::Firing,
            value: 99.0,
            active_at: fired_at - 30_000,
            fired_at: Some(fired_at),
            resolved_at: None,
            keep_firing_since: None,
            severity: None,
            threshold: None,
            data_missing_since: None,
            resolve_reason: None,
        },
    }];
    for round in 0..2 {
        let rt = runtime();
        rt.block_on(async {
            let rec = Recorder::start_on(port).await;
            let db = open(&state);
            let n = start(&cfg, &db);
            let mut bridge = Bridge::new(watchfire::model::Labels::empty(), "http://wf");
            for t in resync_transitions(&held) {
                n.send(bridge.convert(&t).unwrap()).await;
            }
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let got = rec.requests("/hook");
            if round == 0 {
                assert_eq!(got.len(), 1, "the never-sent firing is sent");
                assert_eq!(got[0].json()["status"], "firing");
            } else {
                assert!(got.is_empty(), "already notified: {} requests", got.len());
            }
            n.shutdown().await;
        });
    }
}
