//! `alerting.alert_relabel_configs` through the real notifier: alerts posted to an
//! Alertmanager endpoint (`POST /api/v2/alerts`, a local recorder standing in for Alertmanager)
//! carry the relabeled labels, and an alert a rule drops is never posted.

mod common;
mod notify_support;

use notify_support::{firing, load_config, Recorder};
use std::time::Duration;
use watchfire::notify::NotifierBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_relabel_configs_rewrite_and_drop_before_sending() {
    let am = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_config(
        dir.path(),
        &format!(
            "alerting:\n  alert_relabel_configs:\n  \
             - {{source_labels: [severity], regex: debug, action: drop}}\n  \
             - {{regex: replica, action: labeldrop}}\n  \
             - {{source_labels: [instance], regex: '([^:]+):.*', target_label: host}}\n  \
             alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n",
            am.addr
        ),
    );
    let notifier = NotifierBuilder::new(&cfg).start().unwrap();
    notifier
        .send(firing(&[
            ("alertname", "Noise"),
            ("severity", "debug"),
            ("instance", "db1:9100"),
        ]))
        .await;
    notifier
        .send(firing(&[
            ("alertname", "DiskFull"),
            ("severity", "critical"),
            ("instance", "db1:9100"),
            ("replica", "a"),
        ]))
        .await;
    let posts = am
        .wait_for("/api/v2/alerts", 1, Duration::from_secs(10))
        .await;
    // Give a wrongly forwarded debug alert time to arrive too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alerts: Vec<serde_json::Value> = am
        .requests("/api/v2/alerts")
        .iter()
        .flat_map(|r| r.json().as_array().cloned().unwrap_or_default())
        .collect();
    assert!(!posts.is_empty());
    assert!(
        alerts
            .iter()
            .all(|a| a["labels"]["alertname"] == "DiskFull"),
        "{alerts:#?}"
    );
    let labels = &alerts[0]["labels"];
    assert_eq!(labels["host"], "db1");
    assert!(labels.get("replica").is_none(), "{labels}");
    assert_eq!(labels["severity"], "critical");
    notifier.shutdown().await;
}
