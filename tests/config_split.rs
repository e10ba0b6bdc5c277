//! A Prometheus file and an Alertmanager file kept apart, as the two programs keep them:
//! `promtool check config` and `amtool check-config` (the real 0.33/3.5 peers) accept them
//! as they are, `watchfire run --config.file … --alertmanager.config.file …` loads both with
//! the programs' own flag names, delivers a rule alert and a posted alert through the
//! Alertmanager file's route, and a reload re-reads the Alertmanager file.

mod common;
mod notify_support;

use common::{free_port, wait_for, wait_listening, watchfire_bin, Proc};
use notify_support::Recorder;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PROMETHEUS: &str = "global:\n  evaluation_interval: 1s\n  external_labels: {dc: eu1}\n\
                          rule_files: [rules.yml]\n";
const RULES: &str = "groups:\n  - name: g\n    rules:\n      - alert: Always\n        \
                     expr: vector(1)\n        labels: {severity: page}\n";

fn alertmanager(hook: &str) -> String {
    format!(
        "global:\n  resolve_timeout: 2m\nroute:\n  receiver: team\n  group_by: [alertname]\n  \
         group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: team\n    webhook_configs:\n      - url: '{hook}'\n"
    )
}

/// Whether a notification to `path` carrying an alert named `alertname` arrives within 30 s.
async fn delivered(hook: &Recorder, path: &str, alertname: &str) -> bool {
    let carries = |r: &notify_support::Recorded| {
        r.json()["alerts"]
            .as_array()
            .is_some_and(|alerts| alerts.iter().any(|a| a["labels"]["alertname"] == alertname))
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while !hook.requests(path).iter().any(carries) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .is_ok()
}

/// `common::get_json` from the async test (it blocks).
fn get_json(url: &str) -> (u16, serde_json::Value) {
    tokio::task::block_in_place(|| common::get_json(url)).unwrap()
}

/// Runs a peer's check command on `file`; `None` when the peer is absent (a skip).
fn peer_check(program: &str, args: &[&str], file: &Path) -> Option<()> {
    let bin = common::peers::peer(program)?;
    let out = Command::new(bin).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_alertmanager_files_run_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hook = Recorder::start().await;
    let prom = d.join("prometheus.yml");
    let am = d.join("alertmanager.yml");
    std::fs::write(&prom, PROMETHEUS).unwrap();
    std::fs::write(d.join("rules.yml"), RULES).unwrap();
    std::fs::write(&am, alertmanager(&hook.url("/first"))).unwrap();
    // The real programs accept the files as they are.
    peer_check("promtool", &["check", "config"], &prom);
    peer_check("amtool", &["check-config"], &am);

    let check = Command::new(watchfire_bin())
        .args(["check", "config"])
        .arg(&prom)
        .arg("--alertmanager.config.file")
        .arg(&am)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let port = free_port();
    let mut cmd = Command::new(watchfire_bin());
    cmd.arg("run")
        .arg(format!("--config.file={}", prom.display()))
        .arg(format!("--alertmanager.config.file={}", am.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--storage.path={}", d.join("data").display()));
    let _wf = Proc::spawn("watchfire", cmd, d);
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30)
    ));
    let base = format!("http://127.0.0.1:{port}");

    // The rule alert goes through the Alertmanager file's route.
    let got = hook.wait_for("/first", 1, Duration::from_secs(30)).await;
    let body = got[0].json();
    assert_eq!(body["receiver"], "team");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "Always");
    assert_eq!(body["alerts"][0]["labels"]["dc"], "eu1");

    // The flags and the Alertmanager-side settings are visible as the two programs show them.
    let (_, flags) = get_json(&format!("{base}/api/v1/status/flags"));
    assert_eq!(
        flags["data"]["alertmanager.config.file"],
        am.display().to_string()
    );
    let (_, status) = get_json(&format!("{base}/api/v2/status"));
    let original = status["config"]["original"].as_str().unwrap();
    assert!(original.contains("resolve_timeout: 2m"), "{original}");
    assert!(original.contains("receiver: team"), "{original}");

    // A reload re-reads the Alertmanager file: a posted alert goes to the new receiver URL.
    std::fs::write(&am, alertmanager(&hook.url("/second"))).unwrap();
    let client = reqwest::Client::new();
    let reload = client
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200, "{}", reload.text().await.unwrap());
    let posted = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&serde_json::json!([{"labels": {"alertname": "Posted"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    // The rule alert's group is also sent to the new URL, in either order: wait for the posted one.
    assert!(
        delivered(&hook, "/second", "Posted").await,
        "{:?}",
        hook.requests("/second")
    );

    // A broken Alertmanager file is refused by the reload with its file and line; the running
    // configuration stays.
    std::fs::write(
        &am,
        "route:\n  receiver: team\nreceivers: [{name: team}]\nscrape_configs: []\n",
    )
    .unwrap();
    let reload = client
        .post(format!("{base}/-/reload"))
        .send()
        .await
        .unwrap();
    let text = reload.text().await.unwrap();
    assert!(
        text.contains("alertmanager.yml:4:17: scrape_configs: belongs in the Prometheus"),
        "{text}"
    );
    let posted = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&serde_json::json!([{"labels": {"alertname": "AfterBadReload"}}]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert!(
        delivered(&hook, "/second", "AfterBadReload").await,
        "the running receiver was lost"
    );
    let still = tokio::task::block_in_place(|| {
        wait_for(Duration::from_secs(5), || {
            common::get_text(&format!("{base}/-/healthy")).filter(|(s, _)| *s == 200)
        })
    });
    assert!(still.is_some());
}
