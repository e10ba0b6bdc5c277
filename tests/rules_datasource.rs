//! Rule groups on a remote datasource (issue 16, item 3), against the real engines: a group on
//! a Prometheus 3.5 (which scrapes itself) and a group on a single-node VictoriaMetrics (fed
//! through `/api/v1/import/prometheus`). Both alerts reach a webhook (one annotation runs a
//! template `query` on the datasource); `/api/v1/rules` shows each group's datasource. Then
//! both datasources are killed: the alerts stay firing (never resolved), the rules turn
//! unhealthy with the datasource error, and the failure counter grows. Restarted on the same
//! ports and data, the rules are healthy again. A `for: 1h` alert whose `ALERTS_FOR_STATE`
//! sits on VictoriaMetrics fires at once, with that `activeAt`.

mod common;
mod notify_support;

use common::*;
use notify_support::{Recorded, Recorder};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn start_prometheus(bin: &Path, dir: &Path, port: u16) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.arg(format!(
        "--config.file={}",
        dir.join("prometheus.yml").display()
    ))
    .arg(format!(
        "--storage.tsdb.path={}",
        dir.join("prom-data").display()
    ))
    .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    Proc::spawn("prometheus", cmd, dir)
}

fn start_vm(bin: &Path, dir: &Path, port: u16) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!(
            "-storageDataPath={}",
            dir.join("vm-data").display()
        ))
        // Fresh samples are visible at once and answers are not cached.
        .arg("-search.latencyOffset=0s")
        .arg("-search.disableCache");
    Proc::spawn("victoria-metrics", cmd, dir)
}

/// The group `name` of `/api/v1/rules`.
fn group(base: &str, name: &str) -> Option<Value> {
    let (_, body) = get_json(&format!("{base}/api/v1/rules"))?;
    body["data"]["groups"]
        .as_array()?
        .iter()
        .find(|g| g["name"] == name)
        .cloned()
}

/// The state of the alert `alertname` in `/api/v1/alerts`.
fn alert_state(base: &str, alertname: &str) -> Option<String> {
    let (_, body) = get_json(&format!("{base}/api/v1/alerts"))?;
    body["data"]["alerts"].as_array()?.iter().find_map(|a| {
        (a["labels"]["alertname"] == alertname).then(|| a["state"].as_str().unwrap().to_string())
    })
}

/// `watchfire_rule_datasource_query_failures_total{datasource="name"}`.
fn failures(base: &str, name: &str) -> f64 {
    let (_, text) = get_text(&format!("{base}/metrics")).unwrap_or_default();
    let prefix =
        format!("watchfire_rule_datasource_query_failures_total{{datasource=\"{name}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn bodies(rec: &Recorder) -> Vec<Value> {
    rec.requests("/hook").iter().map(Recorded::json).collect()
}

fn notified(rec: &Recorder, alertname: &str, status: &str) -> Option<Value> {
    bodies(rec).into_iter().find_map(|b| {
        b["alerts"].as_array()?.iter().find_map(|a| {
            (a["labels"]["alertname"] == alertname && a["status"] == status).then(|| a.clone())
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_on_prometheus_and_victoriametrics_fire_and_survive_an_outage() {
    let (Some(prom), Some(vm)) = (
        common::peers::peer("prometheus"),
        common::peers::peer("victoria-metrics"),
    ) else {
        return;
    };
    let rec = Recorder::start().await;
    tokio::task::spawn_blocking(move || scenario(&rec, prom, vm))
        .await
        .expect("scenario");
}

fn scenario(rec: &Recorder, prom_bin: PathBuf, vm_bin: PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (prom_port, vm_port, port) = (free_port(), free_port(), free_port());
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n- job_name: prom\n  \
             static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]\n"
        ),
    )
    .unwrap();
    let mut prom = start_prometheus(&prom_bin, d, prom_port);
    let mut vm = start_vm(&vm_bin, d, vm_port);
    assert!(wait_listening(
        &format!("127.0.0.1:{vm_port}"),
        Duration::from_secs(20)
    ));

    // The `for` state a previous evaluator left on the datasource: VmLongFor active for 2 h.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let active_at = now - 7200;
    let imported = http()
        .post(format!(
            "http://127.0.0.1:{vm_port}/api/v1/import/prometheus"
        ))
        .body(format!(
            "ALERTS_FOR_STATE{{alertname=\"VmLongFor\",team=\"a\"}} {active_at}\n"
        ))
        .send()
        .expect("import");
    assert!(imported.status().is_success());

    // A feeder pushing a fresh sample every 500 ms while VictoriaMetrics is up.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        let url = format!("http://127.0.0.1:{vm_port}/api/v1/import/prometheus");
        std::thread::spawn(move || {
            let client = http();
            while !stop.load(Ordering::Relaxed) {
                let _ = client
                    .post(&url)
                    .body("ds_vm_metric{team=\"a\"} 7\n")
                    .send();
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    // As at a restart, the datasource already has the data when watchfire starts.
    let vm_base = format!("http://127.0.0.1:{vm_port}");
    for q in ["ds_vm_metric", "ALERTS_FOR_STATE"] {
        let seen = wait_for(Duration::from_secs(30), || {
            let url = format!("{vm_base}/api/v1/query?query={q}");
            let (_, body) = get_json(&url)?;
            (!body["data"]["result"].as_array()?.is_empty()).then_some(())
        });
        assert!(seen.is_some(), "{q} never visible in VictoriaMetrics");
    }

    std::fs::write(
        d.join("rules.yml"),
        r#"groups:
- name: on-prom
  datasource: prom
  interval: 1s
  rules:
  - alert: PromSelfUp
    expr: up{job="prom"} == 1
    for: 1s
    annotations:
      builds: '{{ with query "count(prometheus_build_info)" }}{{ . | first | value }}{{ end }}'
- name: on-vm
  datasource: vm
  interval: 1s
  rules:
  - alert: VmHigh
    expr: ds_vm_metric > 5
    labels: {severity: page}
  - alert: VmLongFor
    expr: ds_vm_metric > 5
    for: 1h
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("watchfire.yml"),
        format!(
            "global: {{evaluation_interval: 1s}}
rule_files: [rules.yml]
datasources:
- name: prom
  url: http://127.0.0.1:{prom_port}
  timeout: 2s
- name: vm
  url: http://127.0.0.1:{vm_port}/
  timeout: 2s
  headers: {{X-Scope-OrgID: team-a}}
route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}
receivers:
- name: hook
  webhook_configs: [{{url: '{}'}}]
",
            rec.url("/hook")
        ),
    )
    .unwrap();
    let _wf = spawn_watchfire(d, port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");

    // Both alerts reach the webhook; the template query ran on Prometheus.
    let up = wait_for(Duration::from_secs(60), || {
        notified(rec, "PromSelfUp", "firing")
    })
    .unwrap_or_else(|| panic!("PromSelfUp never notified: {:?}", bodies(rec)));
    assert_eq!(up["annotations"]["builds"], "1", "{up}");
    let vm_alert = wait_for(Duration::from_secs(60), || {
        notified(rec, "VmHigh", "firing")
    })
    .unwrap_or_else(|| panic!("VmHigh never notified: {:?}", bodies(rec)));
    assert_eq!(vm_alert["labels"]["team"], "a");
    assert_eq!(vm_alert["labels"]["severity"], "page");
    // `for: 1h`, yet firing within a minute: its activeAt came from ALERTS_FOR_STATE.
    let long = wait_for(Duration::from_secs(60), || {
        notified(rec, "VmLongFor", "firing")
    })
    .unwrap_or_else(|| panic!("VmLongFor not restored: {:?}", bodies(rec)));
    let (_, alerts) = get_json(&format!("{base}/api/v1/alerts")).unwrap();
    let restored = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "VmLongFor")
        .unwrap_or_else(|| panic!("{long}"))["activeAt"]
        .as_str()
        .unwrap()
        .to_string();
    let restored = chrono::DateTime::parse_from_rfc3339(&restored).unwrap();
    assert_eq!(restored.timestamp() as u64, active_at);
    for (name, ds) in [("on-prom", "prom"), ("on-vm", "vm")] {
        let g = group(&base, name).expect("group listed");
        assert_eq!(g["datasource"], ds, "{g}");
        assert_eq!(g["rules"][0]["health"], "ok", "{g}");
    }

    // Outage: both datasources killed.
    stop.store(true, Ordering::Relaxed);
    feeder.join().unwrap();
    drop(prom);
    drop(vm);
    for (name, ds, alert) in [("on-prom", "prom", "PromSelfUp"), ("on-vm", "vm", "VmHigh")] {
        let g = wait_for(Duration::from_secs(20), || {
            group(&base, name).filter(|g| g["rules"][0]["health"] == "err")
        })
        .unwrap_or_else(|| panic!("{name} never unhealthy"));
        let err = g["rules"][0]["lastError"].as_str().unwrap();
        assert!(err.starts_with(&format!("datasource \"{ds}\"")), "{err}");
        assert!(failures(&base, ds) >= 1.0, "{ds} failures not counted");
        assert_eq!(alert_state(&base, alert).as_deref(), Some("firing"));
    }
    // A few more failed evaluations: still firing, never resolved.
    let before = failures(&base, "prom");
    assert!(
        wait_for(Duration::from_secs(10), || (failures(&base, "prom")
            >= before + 3.0)
            .then_some(()))
        .is_some()
    );
    for alert in ["PromSelfUp", "VmHigh"] {
        assert_eq!(alert_state(&base, alert).as_deref(), Some("firing"));
        assert!(
            notified(rec, alert, "resolved").is_none(),
            "{alert} resolved"
        );
    }

    // Recovery on the same ports and data.
    prom = start_prometheus(&prom_bin, d, prom_port);
    vm = start_vm(&vm_bin, d, vm_port);
    assert!(wait_listening(
        &format!("127.0.0.1:{vm_port}"),
        Duration::from_secs(20)
    ));
    let _ = http()
        .post(format!(
            "http://127.0.0.1:{vm_port}/api/v1/import/prometheus"
        ))
        .body("ds_vm_metric{team=\"a\"} 7\n")
        .send();
    for name in ["on-prom", "on-vm"] {
        let g = wait_for(Duration::from_secs(60), || {
            group(&base, name).filter(|g| g["rules"][0]["health"] == "ok")
        })
        .unwrap_or_else(|| panic!("{name} never healthy again"));
        assert_eq!(
            g["rules"][0]
                .get("lastError")
                .and_then(Value::as_str)
                .unwrap_or(""),
            ""
        );
    }
    assert_eq!(alert_state(&base, "VmHigh").as_deref(), Some("firing"));
    drop((prom, vm));
}

/// What the in-test datasource answers for each URL prefix.
async fn hostile_answer(
    axum::extract::Path(case): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let json = |code: u16, body: &str| {
        (
            StatusCode::from_u16(code).unwrap(),
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    match case.as_str() {
        "bad" => json(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:1: parse error: nope"}"#,
        ),
        "html" => (StatusCode::SERVICE_UNAVAILABLE, "<html>down</html>").into_response(),
        "huge" => json(
            200,
            &format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[]}},"pad":"{}"}}"#,
                "x".repeat(65 << 20)
            ),
        ),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            json(200, r#"{"status":"success"}"#)
        }
        "garbage" => json(
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":[]}}]}}"#,
        ),
        "matrix" => json(
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        ),
        _ => json(
            404,
            r#"{"status":"error","errorType":"not_found","error":"?"}"#,
        ),
    }
}

#[test]
fn hostile_datasource_answers_become_rule_errors() {
    let app =
        axum::Router::new().route("/{case}/api/v1/query", axum::routing::post(hostile_answer));
    let addr = common::target::serve_router(app);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cases = [
        ("bad", "bad_data: 1:1: parse error: nope"),
        ("html", "unexpected status 503: <html>down</html>"),
        ("huge", "response larger than 64 MiB"),
        ("slow", "timed out"),
        ("garbage", "malformed answer"),
        ("matrix", "rule result is not a vector or scalar"),
    ];
    let mut rules = String::from("groups:\n");
    let mut config =
        String::from("global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\ndatasources:\n");
    for (case, _) in cases {
        rules.push_str(&format!(
            "- name: {case}\n  datasource: {case}\n  interval: 1s\n  rules:\n  - alert: A\n    expr: vector(1)\n"
        ));
        config.push_str(&format!(
            "- {{name: {case}, url: 'http://{addr}/{case}', timeout: 1s}}\n"
        ));
    }
    std::fs::write(d.join("rules.yml"), rules).unwrap();
    std::fs::write(d.join("watchfire.yml"), config).unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(d, port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    for (case, want) in cases {
        let g = wait_for(Duration::from_secs(30), || {
            group(&base, case).filter(|g| g["rules"][0]["health"] == "err")
        })
        .unwrap_or_else(|| panic!("{case}: never unhealthy"));
        let err = g["rules"][0]["lastError"].as_str().unwrap();
        assert!(err.contains(want), "{case}: {err}");
        if case != "matrix" {
            assert!(err.starts_with(&format!("datasource \"{case}\"")), "{err}");
            assert!(failures(&base, case) >= 1.0, "{case} not counted");
        }
    }
    // The slow datasource stalls nothing else.
    let started = std::time::Instant::now();
    assert_eq!(
        get_text(&format!("{base}/-/healthy")).map(|r| r.0),
        Some(200)
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn check_config_names_an_unknown_datasource() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n- name: g\n  datasource: centrl\n  rules: []\n",
    )
    .unwrap();
    std::fs::write(
        d.join("watchfire.yml"),
        "rule_files: [rules.yml]\ndatasources:\n- {name: central, url: 'http://127.0.0.1:1'}\n",
    )
    .unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "config"])
        .arg(d.join("watchfire.yml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:3:15: group \"g\", unknown datasource \"centrl\"",
            d.join("rules.yml").display()
        )),
        "{stderr}"
    );
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n- name: g\n  datasource: central\n  rules: []\n",
    )
    .unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "config"])
        .arg(d.join("watchfire.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
