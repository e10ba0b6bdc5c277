//! End to end (issue 12): `alerting.alertmanagers` found through `file_sd_configs` with
//! `relabel_configs`, as Prometheus' notifier finds them. The SD file lists a decoy that
//! relabeling drops and a recording in-test Alertmanager whose `__alerts_path__` relabeling
//! rewrites from a discovered label; the watchfire binary delivers a firing alert to exactly
//! that URL. Then the file names a second recorder and the next alert events go there only.

mod common;

use axum::extract::State;
use axum::routing::post;
use common::*;
use parking_lot::Mutex;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// An Alertmanager stand-in recording each POSTed path and body; returns its address.
fn recorder(seen: Seen) -> String {
    async fn record(State(seen): State<Seen>, uri: axum::http::Uri, body: String) -> &'static str {
        let body = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        seen.lock().push((uri.path().to_owned(), body));
        ""
    }
    let app = axum::Router::new()
        .route("/{*path}", post(record))
        .with_state(seen);
    common::target::serve_router(app)
}

fn alert_names(seen: &Seen, path: &str) -> Vec<String> {
    seen.lock()
        .iter()
        .filter(|(p, _)| p == path)
        .flat_map(|(_, b)| b.as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn alertmanagers_discovered_through_file_sd_with_relabeling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first: Seen = Arc::default();
    let second: Seen = Arc::default();
    let first_addr = recorder(first.clone());
    let second_addr = recorder(second.clone());
    let sd = dir.path().join("am.json");
    let write_sd = |addr: &str| {
        let groups = json!([
            {"targets": ["127.0.0.1:1"], "labels": {"role": "decoy"}},
            {"targets": [addr], "labels": {"role": "am", "prefix": "/custom"}},
        ]);
        // Write then rename, so the poller never reads half a file.
        let tmp = dir.path().join("am.json.tmp");
        std::fs::write(&tmp, groups.to_string()).unwrap();
        std::fs::rename(&tmp, &sd).unwrap();
    };
    write_sd(&first_addr);
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - {alert: First, expr: vector(1)}\n  \
         - {alert: Flapping, expr: 'vector(time()) % 6 < 3'}\n",
    )
    .unwrap();
    let config = "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n\
                  alerting:\n  alertmanagers:\n  - path_prefix: /ignored\n    \
                  file_sd_configs: [{files: [am.json], refresh_interval: 1s}]\n    relabel_configs:\n    \
                  - {source_labels: [role], regex: am, action: keep}\n    \
                  - {source_labels: [prefix], regex: '(.+)', target_label: __alerts_path__, replacement: '${1}/api/v2/alerts'}\n";
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(20)
    ));

    wait_for(Duration::from_secs(20), || {
        (!alert_names(&first, "/custom/api/v2/alerts").is_empty()).then_some(())
    })
    .unwrap_or_else(|| panic!("no alert at the relabeled path: {:?}", first.lock()));
    assert_eq!(alert_names(&first, "/custom/api/v2/alerts")[0], "First");
    assert!(
        first
            .lock()
            .iter()
            .all(|(p, _)| p == "/custom/api/v2/alerts"),
        "only the relabeled path is used: {:?}",
        first.lock()
    );

    let (status, body) =
        get_json(&format!("http://127.0.0.1:{port}/api/v1/alertmanagers")).expect("alertmanagers");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "activeAlertmanagers": [{"url": format!("http://{first_addr}/custom/api/v2/alerts")}],
            "droppedAlertmanagers": [{"url": "http://127.0.0.1:1/ignored/api/v2/alerts"}],
        })
    );

    // The file now names the second recorder: the next alert events (the flapping alert
    // fires and resolves every 3 s) go there and no longer to the first.
    write_sd(&second_addr);
    wait_for(Duration::from_secs(20), || {
        alert_names(&second, "/custom/api/v2/alerts")
            .iter()
            .any(|n| n == "Flapping")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no alert at the second Alertmanager: {:?}", second.lock()));
    let before = first.lock().len();
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(
        first.lock().len(),
        before,
        "the first Alertmanager is no longer used"
    );
    assert!(alert_names(&second, "/custom/api/v2/alerts").len() >= 2);
}

/// `/api/v1/alertmanagers` of watchfire and the real Prometheus 3.5 on the same `alerting`
/// section (static with labels, file SD in JSON and YAML, scheme, path_prefix, relabeling that
/// drops, rewrites the address and the path) must list the same URLs.
#[test]
fn alertmanagers_match_prometheus() {
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("am.json"),
        json!([
            {"targets": ["f1:9093", "f2:9093"], "labels": {"role": "am"}},
            {"targets": ["decoy:1"], "labels": {"role": "decoy"}},
        ])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("am.yml"),
        "- targets: ['y1:9093']\n  labels: {role: am, port_override: '9999', prefix: /over}\n",
    )
    .unwrap();
    let config = "alerting:\n  alertmanagers:\n  \
        - static_configs: [{targets: ['s1:9093', 's2:9093'], labels: {role: am}}]\n    \
          scheme: https\n    path_prefix: /base/\n  \
        - file_sd_configs: [{files: [am.json, am.yml], refresh_interval: 1s}]\n    \
          path_prefix: 'a/../b'\n    relabel_configs:\n    \
          - {source_labels: [role], regex: am, action: keep}\n    \
          - {source_labels: [__address__, port_override], regex: '([^:]+):.*;(.+)', target_label: __address__, replacement: '$1:$2'}\n    \
          - {source_labels: [prefix], regex: '(.+)', target_label: __alerts_path__, replacement: '$1/api/v2/alerts'}\n";
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let prom_port = free_port();
    let mut cmd = std::process::Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let list = |p: u16| -> Option<(Vec<String>, Vec<String>)> {
        let (status, body) = get_json(&format!("http://127.0.0.1:{p}/api/v1/alertmanagers"))?;
        if status != 200 {
            return None;
        }
        let urls = |k: &str| -> Vec<String> {
            let mut v: Vec<String> = body["data"][k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["url"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        Some((urls("activeAlertmanagers"), urls("droppedAlertmanagers")))
    };
    let agreed = wait_for(Duration::from_secs(30), || {
        let (a, b) = (list(port)?, list(prom_port)?);
        (a == b && a.0.len() == 5).then_some(a)
    });
    let Some((active, dropped)) = agreed else {
        panic!(
            "watchfire {:?}\nprometheus {:?}",
            list(port),
            list(prom_port)
        );
    };
    assert_eq!(
        active,
        [
            "http://f1:9093/b/api/v2/alerts",
            "http://f2:9093/b/api/v2/alerts",
            "http://y1:9999/over/api/v2/alerts",
            "https://s1:9093/base/api/v2/alerts",
            "https://s2:9093/base/api/v2/alerts",
        ]
    );
    assert_eq!(dropped, ["http://decoy:1/b/api/v2/alerts"]);
}
