//! Alert state survives `kill -9`: demo exporter → watchfire with a rule
//! that fires within seconds; watchfire is killed with SIGKILL and started
//! again on the same state directory. Right after its first evaluation the
//! alert is firing with the identical `activeAt`, no new `firing` transition
//! was emitted, and the history still has the old transitions.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NEVER: &str = "0001-01-01T00:00:00Z";

/// The `DemoUp` alert's (state, activeAt), if present.
fn demo_alert(base: &str) -> Option<(String, String)> {
    let (_, body) = get_json(&format!("{base}/api/v1/alerts"))?;
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find_map(|a: &Value| {
            (a["labels"]["alertname"] == "DemoUp").then(|| {
                (
                    a["state"].as_str().unwrap_or("").to_string(),
                    a["activeAt"].as_str().unwrap_or("").to_string(),
                )
            })
        })
}

/// The group's last evaluation time as the API writes it.
fn last_evaluation(base: &str) -> Option<String> {
    let (_, body) = get_json(&format!("{base}/api/v1/rules"))?;
    let g = body["data"]["groups"].as_array()?.first()?;
    Some(g["lastEvaluation"].as_str()?.to_string())
}

/// (to, activeAt, at) of every `DemoUp` transition in the history, oldest first.
fn history(base: &str) -> Vec<(String, String, String)> {
    let (_, body) = get_json(&format!("{base}/api/v1/alerts/history?alertname=DemoUp"))
        .expect("history answers");
    let field = |t: &Value, k: &str| t[k].as_str().unwrap_or("").to_string();
    body["data"]["transitions"]
        .as_array()
        .unwrap_or_else(|| panic!("no transitions array: {body}"))
        .iter()
        .map(|t| (field(t, "to"), field(t, "activeAt"), field(t, "at")))
        .collect()
}

fn start_watchfire(dir: &Path, port: u16) -> Proc {
    spawn_watchfire(dir, port, "watchfire", &[])
}

#[test]
fn firing_alert_survives_kill_9_with_its_active_at() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let port = free_port();
    let _demo = spawn_demo(dir.path(), demo_port, &[]);
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: [\"127.0.0.1:{demo_port}\"]\n"
        ),
    )
    .expect("config");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: restart\n    rules:\n      - alert: DemoUp\n        expr: up{job=\"demo\"} == 1\n        for: 2s\n",
    )
    .expect("rules");
    let base = format!("http://127.0.0.1:{port}");
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    let mut first = start_watchfire(dir.path(), port);
    let (_, active_at) = wait_for(Duration::from_secs(30), || {
        demo_alert(&base).filter(|(state, _)| state == "firing")
    })
    .unwrap_or_else(|| panic!("alert never fired; log:\n{}", log()));
    // The state is written right after the evaluation that showed it.
    std::thread::sleep(Duration::from_millis(500));
    let before = history(&base);
    assert!(
        before.iter().any(|(to, _, _)| to == "firing"),
        "history before the kill: {before:?}"
    );
    let (_, metrics) = get_text(&format!("{base}/metrics")).expect("metrics");
    for l in metrics
        .lines()
        .filter(|l| l.starts_with("watchfire_storage_write_duration_seconds_"))
        .filter(|l| l.contains("_sum") || l.contains("_count"))
    {
        println!("before kill: {l}");
    }

    let pid = first.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill")
        .success());
    let status = first.child.wait().expect("reap");
    assert!(!status.success(), "killed: {status:?}");
    let first_log = log();

    let restarted = Instant::now();
    let _second = start_watchfire(dir.path(), port);
    // Before the first evaluation the restored alert is already firing.
    let (state, restored_at) = wait_for(Duration::from_secs(20), || demo_alert(&base))
        .unwrap_or_else(|| panic!("no alert after restart; log:\n{}", log()));
    let api_ready = restarted.elapsed();
    assert_eq!(
        (state.as_str(), restored_at.as_str()),
        ("firing", active_at.as_str())
    );
    // ... and queryable as ALERTS right away (written at restore).
    let (_, q) = get_json(&format!(
        "{base}/api/v1/query?query=ALERTS%7Balertname%3D%22DemoUp%22%7D"
    ))
    .expect("query");
    assert_eq!(
        q["data"]["result"][0]["metric"]["alertstate"], "firing",
        "{q}"
    );
    let evaluated = loop {
        if last_evaluation(&base).is_some_and(|t| t != NEVER) {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "no evaluation after restart; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "restart: API answered with the restored alert after {} ms, first evaluation after {} ms",
        api_ready.as_millis(),
        evaluated.as_millis()
    );
    assert_eq!(
        demo_alert(&base),
        Some(("firing".to_string(), active_at.clone())),
        "firing with the identical activeAt after the first evaluation"
    );
    let after = history(&base);
    assert!(
        after.len() >= before.len() && after[..before.len()] == before[..],
        "old transitions kept: before {before:?}, after {after:?}"
    );
    assert_eq!(
        after.iter().filter(|(to, _, _)| to == "firing").count(),
        1,
        "no new firing transition from the restore: {after:?}\nfirst run log:\n{first_log}"
    );
    assert!(log().contains("alert state restored"), "{}", log());
}
