//! Fault: the state directory cannot be used (here: its parent is a regular file, which stops
//! even root). watchfire must say so clearly at start, keep serving, report
//! `watchfire_storage_persistent 0`, and alerts must keep flowing to receivers from memory.

mod common;
mod notify_support;

use common::*;
use notify_support::Recorder;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_state_dir_is_loud_and_alerts_keep_flowing() {
    let rec = Recorder::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("not-a-dir"), b"x").expect("file");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: Always\n    expr: vector(1)\n",
    )
    .expect("rules");
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "rule_files: [rules.yml]\nroute: {{receiver: hook, group_wait: 0s, group_interval: 1s}}\n\
             receivers:\n- name: hook\n  webhook_configs: [{{url: '{}'}}]\n",
            rec.url("/hook")
        ),
    )
    .expect("config");
    let port = free_port();
    let state = dir.path().join("not-a-dir").join("data");
    let _wf = spawn_watchfire(
        dir.path(),
        port,
        "watchfire",
        &["--storage.path", state.to_str().expect("utf-8 path")],
    );
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    // Alerts keep flowing: the firing notification arrives.
    let got = rec.wait_for("/hook", 1, Duration::from_secs(20)).await;
    let body = got[0].json();
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "Always", "{body}");

    // The error at start names the directory and says what it means.
    let text = log();
    assert!(
        text.contains("cannot use the state directory") && text.contains("not-a-dir"),
        "{text}"
    );
    assert!(text.contains("will not survive a restart"), "{text}");
    // And the loud metric.
    let metrics = tokio::task::spawn_blocking(move || {
        get_text(&format!("http://127.0.0.1:{port}/metrics")).expect("metrics")
    })
    .await
    .unwrap()
    .1;
    assert!(
        metrics
            .lines()
            .any(|l| l == "watchfire_storage_persistent 0"),
        "{metrics}"
    );
}
