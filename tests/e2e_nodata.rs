//! End to end on the no-data policy: demo exporter → watchfire (bundled
//! threshold rules and the built-in TargetDown) → a recording webhook. When
//! the exporter is killed, its threshold alert is not resolved as recovered:
//! it stays firing for `keep_state`'s default bound (5 evaluations), marked
//! `data_missing`, while TargetDown fires; then it resolves and the webhook's
//! resolved notification says `resolveReason: data_missing`.

mod common;
mod notify_support;

use common::*;
use notify_support::{Recorded, Recorder};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// The first notification body of `alertname` whose transition is `kind`.
fn notification(reqs: &[Recorded], alertname: &str, kind: &str) -> Option<Value> {
    reqs.iter().map(Recorded::json).find(|b| {
        b["alerts"][0]["labels"]["alertname"] == alertname
            && b["transitions"][0]["transition"] == kind
    })
}

/// The firing TooManyGoroutines alert of the checkout module, from `/api/v1/alerts`.
fn goroutines_alert(base: &str) -> Option<Value> {
    let (_, body) = get_json(&format!("{base}/api/v1/alerts"))?;
    body["data"]["alerts"].as_array()?.iter().find_map(|a| {
        (a["labels"]["alertname"] == "TooManyGoroutines"
            && a["labels"]["module"] == "checkout"
            && a["state"] == "firing")
            .then(|| a.clone())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_target_holds_then_resolves_with_data_missing() {
    let rec = Recorder::start().await;
    // The scenario polls with blocking HTTP clients: off the async workers.
    tokio::task::spawn_blocking(move || scenario(&rec))
        .await
        .expect("scenario");
}

fn scenario(rec: &Recorder) {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let port = free_port();
    let mut demo_cmd = Command::new(example_bin("demo_exporter"));
    demo_cmd.args([
        "--listen",
        &format!("127.0.0.1:{demo_port}"),
        "--modules",
        "checkout",
    ]);
    let mut demo = Proc::spawn("demo", demo_cmd, dir.path());

    // The bundled rules: goroutines warn from 100 (the demo runs 120 or more)
    // and short `for`s so the test takes seconds.
    let thresholds = std::fs::read_to_string(crate_dir().join("rules/service-thresholds.yml"))
        .expect("bundled rules")
        .replace("for: 30s", "for: 1s")
        .replace("warning: 1000", "warning: 100");
    std::fs::write(dir.path().join("thresholds.yml"), thresholds).expect("rules");
    let targets = std::fs::read_to_string(crate_dir().join("rules/targets.yml"))
        .expect("bundled rules")
        .replace("for: 1m", "for: 2s");
    std::fs::write(dir.path().join("targets.yml"), targets).expect("rules");
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [thresholds.yml, targets.yml]
scrape_configs:
  - job_name: demo
    static_configs: [{{targets: ['127.0.0.1:{demo_port}']}}]
route:
  receiver: 'null'
  group_by: [alertname, module, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: hook
      matchers: ['alertname=~\"TooManyGoroutines|TargetDown\"']
receivers:
  - name: hook
    webhook_configs:
      - url: '{}'
  - name: 'null'
",
        rec.url("/hook")
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).expect("config");
    let _watchfire = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    // 1. The goroutines alert fires and is notified.
    let fired = wait_for(Duration::from_secs(40), || {
        notification(&rec.requests("/hook"), "TooManyGoroutines", "firing")
    });
    assert!(fired.is_some(), "no firing notification; log:\n{}", log());
    assert!(goroutines_alert(&base).is_some());

    // 2. The exporter dies: every scrape fails from now on.
    let _ = demo.child.kill();
    let _ = demo.child.wait();
    let killed = Instant::now();

    // 3. The alert is held firing, marked as missing its data, and the
    //    target's own alert fires.
    let held = wait_for(Duration::from_secs(10), || {
        goroutines_alert(&base).filter(|a| a["annotations"]["data_missing"] == "true")
    });
    assert!(
        held.is_some(),
        "alert not held with data_missing; log:\n{}",
        log()
    );
    let target_down = wait_for(Duration::from_secs(20), || {
        notification(&rec.requests("/hook"), "TargetDown", "firing")
    })
    .unwrap_or_else(|| panic!("no TargetDown notification; log:\n{}", log()));
    assert_eq!(
        target_down["alerts"][0]["labels"]["instance"],
        format!("127.0.0.1:{demo_port}")
    );
    assert_eq!(target_down["alerts"][0]["labels"]["job"], "demo");

    // 4. After the bound (5 evaluations of 1 s) it resolves, for lack of data.
    let resolved = wait_for(Duration::from_secs(30), || {
        notification(&rec.requests("/hook"), "TooManyGoroutines", "resolved")
    })
    .unwrap_or_else(|| panic!("no resolve notification; log:\n{}", log()));
    let held_for = killed.elapsed();
    assert!(
        held_for >= Duration::from_secs(4),
        "resolved after {held_for:?}, before the 5-evaluation bound"
    );
    assert_eq!(resolved["alerts"][0]["status"], "resolved", "{resolved}");
    assert_eq!(
        resolved["transitions"][0]["resolveReason"], "data_missing",
        "{resolved}"
    );
    assert!(goroutines_alert(&base).is_none());

    // The history API tells the same.
    let (_, hist) = get_json(&format!(
        "{base}/api/v1/alerts/history?alertname=TooManyGoroutines"
    ))
    .expect("history");
    let reasons: Vec<&str> = hist["data"]["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .filter(|t| t["to"] == "resolved")
        .filter_map(|t| t["resolveReason"].as_str())
        .collect();
    assert!(reasons.contains(&"data_missing"), "{hist}");
}
