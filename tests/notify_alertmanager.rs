//! Against the real Alertmanager (Debian's `prometheus-alertmanager`) and `amtool`:
//! forwarded alerts arrive with the right labels, annotations, times and fingerprint; a
//! resolve ends them; `amtool silence add/query/expire` work against watchfire's silences API.

mod common;
mod notify_support;

use common::{free_port, Proc};
use notify_support::{firing, load_config, resolved};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use watchfire::notify::{alert_fingerprint, NotifierBuilder};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const AMTOOL: &str = "/usr/bin/amtool";

fn start_alertmanager(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let config = dir.join("am.yml");
    std::fs::write(
        &config,
        "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n",
    )
    .unwrap();
    let storage = dir.join("am-data");
    std::fs::create_dir_all(&storage).unwrap();
    let mut cmd = Command::new(ALERTMANAGER);
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg(format!("--storage.path={}", storage.display()));
    let proc = Proc::spawn("alertmanager", cmd, dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/-/ready");
    while !reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()) {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (proc, port)
}

async fn am_alerts(port: u16) -> Vec<serde_json::Value> {
    let url = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap()
}

fn time(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager() {
    if !Path::new(ALERTMANAGER).exists() {
        println!("skipped: {ALERTMANAGER} is absent (apt-get install prometheus-alertmanager)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_am, port) = tokio::task::block_in_place(|| start_alertmanager(dir.path()));
    let cfg = load_config(
        dir.path(),
        &format!(
            "alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        ),
    );
    let notifier = NotifierBuilder::new(&cfg).start().unwrap();

    let mut alert = firing(&[
        ("alertname", "DiskFull"),
        ("instance", "db1:9100"),
        ("severity", "critical"),
    ]);
    let started = chrono::Utc::now() - chrono::Duration::minutes(5);
    alert.starts_at = started;
    notifier.send(alert.clone()).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let alerts = am_alerts(port).await;
        if !alerts.is_empty() {
            break alerts;
        }
        assert!(
            Instant::now() < deadline,
            "alert never reached alertmanager"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(got.len(), 1);
    let a = &got[0];
    assert_eq!(a["labels"]["alertname"], "DiskFull");
    assert_eq!(a["labels"]["instance"], "db1:9100");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["annotations"]["summary"], "DiskFull is bad");
    assert_eq!(a["generatorURL"], alert.generator_url.as_str());
    assert_eq!(a["status"]["state"], "active");
    // Alertmanager's own fingerprint equals ours (FNV-1a over the labels).
    assert_eq!(
        a["fingerprint"],
        format!("{:016x}", alert_fingerprint(&alert.labels))
    );
    let starts = time(&a["startsAt"]);
    assert!(
        (starts - started).num_milliseconds().abs() <= 1,
        "{starts} vs {started}"
    );
    // Firing: valid for 4 × max(resend delay, evaluation interval) = 4m.
    let ends = time(&a["endsAt"]) - chrono::Utc::now();
    assert!(
        ends > chrono::Duration::seconds(230) && ends <= chrono::Duration::seconds(241),
        "{ends}"
    );

    notifier.send(resolved(&alert)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alerts = am_alerts(port).await;
        if alerts.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alert never resolved: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    notifier.shutdown().await;
}

fn amtool(port: u16, args: &[&str]) -> String {
    let out = Command::new(AMTOOL)
        .args(args)
        .arg(format!("--alertmanager.url=http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "amtool {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_manages_watchfire_silences() {
    if !Path::new(AMTOOL).exists() {
        println!("skipped: {AMTOOL} is absent");
        return;
    }
    let silences = std::sync::Arc::new(watchfire::notify::Silences::new());
    let app = watchfire::api::silences_router(silences.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let id = tokio::task::spawn_blocking(move || {
        amtool(
            port,
            &[
                "silence",
                "add",
                "alertname=DiskFull",
                "instance=~db.*",
                "--comment=maintenance",
                "--author=alice",
                "--duration=2h",
            ],
        )
    })
    .await
    .unwrap()
    .trim()
    .to_owned();
    assert_eq!(id.len(), 36, "{id}");
    let now = chrono::Utc::now();
    let labels =
        watchfire::model::Labels::from_pairs([("alertname", "DiskFull"), ("instance", "db1")]);
    assert_eq!(silences.muting(&labels, now), std::slice::from_ref(&id));
    let s = silences.get(&id).unwrap();
    assert_eq!(s.created_by, "alice");
    assert_eq!(s.comment, "maintenance");
    assert!(
        (s.ends_at - s.starts_at - chrono::Duration::hours(2))
            .num_seconds()
            .abs()
            <= 2
    );

    let query =
        tokio::task::spawn_blocking(move || amtool(port, &["silence", "query", "-o", "json"]))
            .await
            .unwrap();
    let listed: serde_json::Value = serde_json::from_str(&query).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["createdBy"], "alice");
    let filtered = tokio::task::spawn_blocking(move || {
        amtool(port, &["silence", "query", "-q", "alertname=Other"])
    })
    .await
    .unwrap();
    assert!(filtered.trim().is_empty(), "{filtered}");

    let expire_id = id.clone();
    tokio::task::spawn_blocking(move || amtool(port, &["silence", "expire", &expire_id]))
        .await
        .unwrap();
    assert!(silences.muting(&labels, chrono::Utc::now()).is_empty());
    assert_eq!(
        silences.get(&id).unwrap().state(chrono::Utc::now()),
        watchfire::notify::SilenceState::Expired
    );
}
