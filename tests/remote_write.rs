//! Issue 16, item 1: `remote_write:` against real receivers — Prometheus 3.5 with
//! `--web.enable-remote-write-receiver` and VictoriaMetrics — and an in-test receiver that
//! answers 400, 500 and 429.

mod common;

use common::{free_port, get_json, spawn_watchfire, urlencode, wait_for, wait_listening, Proc};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const EXPOSITION: &str = "# TYPE rw_test_metric gauge\nrw_test_metric{k=\"v\"} 42\nrw_dropped 1\n";

fn start_prometheus(bin: &Path, dir: &Path, port: u16) -> Proc {
    std::fs::write(dir.join("prom.yml"), "global: {}\n").unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config.file={}", dir.join("prom.yml").display()))
        .arg("--web.enable-remote-write-receiver")
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let p = Proc::spawn("prometheus", cmd, dir);
    assert!(
        wait_for(Duration::from_secs(30), || {
            get_json(&format!("http://127.0.0.1:{port}/-/ready"))
                .filter(|(s, _)| *s == 200)
                .or_else(|| {
                    common::get_text(&format!("http://127.0.0.1:{port}/-/ready"))
                        .filter(|(s, _)| *s == 200)
                        .map(|_| (200, serde_json::Value::Null))
                })
        })
        .is_some(),
        "prometheus did not become ready"
    );
    p
}

/// An instant query's vector at `time` (seconds), or now.
fn query_at(base: &str, q: &str, time: Option<f64>) -> Vec<serde_json::Value> {
    let mut url = format!("{base}/api/v1/query?query={}", urlencode(q));
    if let Some(t) = time {
        url.push_str(&format!("&time={t:.3}"));
    }
    match get_json(&url) {
        Some((200, body)) => body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn value_at(base: &str, q: &str, time: Option<f64>) -> Option<f64> {
    query_at(base, q, time).first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A metric of watchfire's `/metrics` (the sum of the lines that start with `prefix`).
fn own_metric(port: u16, prefix: &str) -> f64 {
    let (_, text) =
        common::get_text(&format!("http://127.0.0.1:{port}/metrics")).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn write_rules(dir: &Path) {
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n- name: rw\n  interval: 1s\n  rules:\n  \
         - record: 'rw:sum'\n    expr: sum(rw_test_metric)\n  \
         - alert: RwAlways\n    expr: rw_test_metric > 0\n    for: 2s\n",
    )
    .unwrap();
}

#[test]
fn scraped_series_rules_and_alerts_arrive_in_prometheus_and_victoria_metrics() {
    let Some(prom_bin) = common::peers::peer("prometheus") else {
        return;
    };
    let Some(vm_bin) = common::peers::peer("victoria-metrics") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prom_port = free_port();
    let _prom = start_prometheus(&prom_bin, dir.path(), prom_port);
    let vm_port = free_port();
    let mut vm = Command::new(&vm_bin);
    vm.arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("vm").display()
        ))
        .arg("-search.latencyOffset=1s")
        .arg("-search.disableCache");
    let _vm = Proc::spawn("victoria-metrics", vm, dir.path());
    assert!(wait_listening(
        &format!("127.0.0.1:{vm_port}"),
        Duration::from_secs(30)
    ));
    let target =
        common::target::TestTarget::start(common::target::Behaviour::Text(EXPOSITION.to_owned()));
    write_rules(dir.path());
    let via = |v: &str| {
        format!(
            "  write_relabel_configs:\n  - {{source_labels: [__name__], regex: rw_dropped, action: drop}}\n  \
             - {{target_label: via, replacement: {v}}}\n"
        )
    };
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s, external_labels: {{replica: w1}}}}\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n- job_name: exp\n  static_configs: [{{targets: ['{}']}}]\n\
             remote_write:\n\
             - url: http://127.0.0.1:{prom_port}/api/v1/write\n  name: p1\n  \
               queue_config: {{batch_send_deadline: 1s}}\n{}\
             - url: http://127.0.0.1:{prom_port}/api/v1/write\n  name: p2\n  \
               protobuf_message: io.prometheus.write.v2.Request\n  \
               queue_config: {{batch_send_deadline: 1s}}\n{}\
             - url: http://127.0.0.1:{vm_port}/api/v1/write\n  name: vm\n  \
               queue_config: {{batch_send_deadline: 1s}}\n",
            target.addr,
            via("v1"),
            via("v2"),
        ),
    )
    .unwrap();
    let wf_port = free_port();
    let _wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let prom = format!("http://127.0.0.1:{prom_port}");
    for v in ["v1", "v2"] {
        for q in [
            format!("rw_test_metric{{via=\"{v}\",replica=\"w1\",job=\"exp\",k=\"v\"}}"),
            format!("rw:sum{{via=\"{v}\",replica=\"w1\"}}"),
            format!("ALERTS{{alertname=\"RwAlways\",alertstate=\"firing\",via=\"{v}\"}}"),
            format!("ALERTS_FOR_STATE{{alertname=\"RwAlways\",via=\"{v}\"}}"),
            format!("up{{job=\"exp\",via=\"{v}\"}}"),
        ] {
            let got = wait_for(Duration::from_secs(40), || value_at(&prom, &q, None));
            assert!(got.is_some(), "{q} never arrived in Prometheus");
        }
        assert_eq!(
            value_at(&prom, &format!("rw_test_metric{{via=\"{v}\"}}"), None),
            Some(42.0)
        );
    }
    assert!(
        query_at(&prom, "{__name__=\"rw_dropped\"}", None).is_empty(),
        "write_relabel_configs dropped it"
    );
    let vm_base = format!("http://127.0.0.1:{vm_port}");
    for q in [
        "rw_test_metric{replica=\"w1\",job=\"exp\"}",
        "ALERTS{alertname=\"RwAlways\",replica=\"w1\"}",
        "rw:sum{replica=\"w1\"}",
    ] {
        let got = wait_for(Duration::from_secs(60), || value_at(&vm_base, q, None));
        assert!(got.is_some(), "{q} never arrived in VictoriaMetrics");
    }
    let sent = own_metric(
        wf_port,
        "prometheus_remote_storage_samples_total{remote_name=\"p2\"",
    );
    assert!(sent > 0.0, "samples_total counts what p2 sent");
    assert_eq!(
        own_metric(wf_port, "prometheus_remote_storage_samples_failed_total"),
        0.0
    );
    assert!(
        own_metric(
            wf_port,
            "prometheus_remote_storage_samples_dropped_total{remote_name=\"p1\""
        ) > 0.0,
        "relabel drops are counted"
    );
}

/// Per-series sample counts in `[from, to]` (seconds) at watchfire and at Prometheus (queue p1).
fn counts(wf: &str, prom: &str, from: f64, to: f64) -> Vec<(String, f64, f64)> {
    let range = format!("{}s", (to - from).floor() as i64);
    let mut out = Vec::new();
    for (name, sel) in [
        ("rw_test_metric", "rw_test_metric"),
        ("up", "up{job=\"exp\"}"),
        ("rw:sum", "rw:sum"),
        ("ALERTS", "ALERTS{alertname=\"RwAlways\"}"),
    ] {
        let q = format!("sum(count_over_time({sel}[{range}]))");
        let ours = value_at(wf, &q, Some(to)).unwrap_or(0.0);
        let theirs_sel = if sel.contains('{') {
            sel.replace('}', ",via=\"v1\"}")
        } else {
            format!("{sel}{{via=\"v1\"}}")
        };
        let theirs = value_at(
            prom,
            &format!("sum(count_over_time({theirs_sel}[{range}]))"),
            Some(to),
        )
        .unwrap_or(0.0);
        out.push((name.to_owned(), ours, theirs));
    }
    out
}

fn kill9(p: &mut Proc) {
    let _ = Command::new("kill")
        .args(["-9", &p.child.id().to_string()])
        .status();
    let _ = p.child.wait();
}

#[test]
fn a_receiver_outage_and_a_kill_9_lose_nothing() {
    let Some(prom_bin) = common::peers::peer("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prom_port = free_port();
    let mut prom_proc = start_prometheus(&prom_bin, dir.path(), prom_port);
    let target =
        common::target::TestTarget::start(common::target::Behaviour::Text(EXPOSITION.to_owned()));
    write_rules(dir.path());
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [rules.yml]\n\
             storage: {{retention: 1h}}\n\
             scrape_configs:\n- job_name: exp\n  static_configs: [{{targets: ['{}']}}]\n\
             remote_write:\n- url: http://127.0.0.1:{prom_port}/api/v1/write\n  name: p1\n  \
               write_relabel_configs: [{{target_label: via, replacement: v1}}]\n  \
               queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 2s}}\n",
            target.addr
        ),
    )
    .unwrap();
    let wf_port = free_port();
    let mut wf_proc = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let wf = format!("http://127.0.0.1:{wf_port}");
    let prom = format!("http://127.0.0.1:{prom_port}");
    let start = now_secs();
    assert!(
        wait_for(Duration::from_secs(30), || value_at(
            &prom,
            "rw_test_metric",
            None
        ))
        .is_some(),
        "first samples arrive"
    );
    std::thread::sleep(Duration::from_secs(3));

    // 1. The receiver is down for 40 s, then back on the same port and data.
    kill9(&mut prom_proc);
    drop(prom_proc);
    std::thread::sleep(Duration::from_secs(40));
    let pending = own_metric(wf_port, "prometheus_remote_storage_samples_pending");
    assert!(pending > 100.0, "the outage's samples wait: {pending}");
    assert!(own_metric(wf_port, "prometheus_remote_storage_samples_retried_total") > 0.0);
    let back = Instant::now();
    let prom_proc = start_prometheus(&prom_bin, dir.path(), prom_port);
    let to = now_secs() - 3.0;
    let drained = wait_for(Duration::from_secs(60), || {
        let c = counts(&wf, &prom, start, to);
        c.iter()
            .all(|(_, ours, theirs)| ours == theirs && *ours > 40.0)
            .then_some(c)
    });
    let drain = back.elapsed();
    let c = counts(&wf, &prom, start, to);
    assert!(
        drained.is_some(),
        "per-series counts differ after the outage: {c:?}"
    );
    println!("outage of 40 s: backlog of {pending} samples drained in {drain:?}; counts {c:?}");

    // 2. Down again; watchfire is killed with -9 during the outage and restarted.
    let mut prom_proc = prom_proc;
    kill9(&mut prom_proc);
    drop(prom_proc);
    let outage = now_secs();
    std::thread::sleep(Duration::from_secs(15));
    // Everything up to `upto` was closed into the backlog (batch_send_deadline 1s).
    let upto = now_secs() - 3.0;
    let before = counts(&wf, &wf, outage, upto);
    kill9(&mut wf_proc);
    drop(wf_proc);
    let _wf2 = spawn_watchfire(dir.path(), wf_port, "watchfire2", &[]);
    std::thread::sleep(Duration::from_secs(3));
    let _prom3 = start_prometheus(&prom_bin, dir.path(), prom_port);
    let arrived = wait_for(Duration::from_secs(60), || {
        let c = counts(&prom, &prom, outage, upto);
        c.iter()
            .zip(&before)
            .all(|((_, _, theirs), (_, ours, _))| theirs == ours && *ours > 5.0)
            .then_some(c)
    });
    let got = counts(&prom, &prom, outage, upto);
    assert!(
        arrived.is_some(),
        "the backlog of the killed process did not arrive: watchfire had {before:?}, Prometheus has {got:?}"
    );
}

/// What the in-test receiver saw: (path, body) per request, and its headers of the last one.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>, axum::http::HeaderMap)>>>;

#[test]
fn refusals_are_dropped_and_counted_while_500_and_429_are_retried() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let dir = tempfile::tempdir().unwrap();
    let seen: Seen = Arc::default();
    let flaky_calls = Arc::new(Mutex::new(0u32));
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/bad",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                    s1.lock()
                        .unwrap()
                        .push(("bad".into(), body.to_vec(), headers));
                    (StatusCode::BAD_REQUEST, "out of bounds\n").into_response()
                },
            ),
        )
        .route(
            "/flaky",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                    s2.lock()
                        .unwrap()
                        .push(("flaky".into(), body.to_vec(), headers));
                    let n = {
                        let mut c = flaky_calls.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    match n {
                        1 | 2 => (StatusCode::INTERNAL_SERVER_ERROR, "busy").into_response(),
                        3 => (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("Retry-After", "1")],
                            "slow down",
                        )
                            .into_response(),
                        _ => StatusCode::NO_CONTENT.into_response(),
                    }
                },
            ),
        );
    let addr = common::target::serve_router(app);
    let target =
        common::target::TestTarget::start(common::target::Behaviour::Text(EXPOSITION.to_owned()));
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\n\
             scrape_configs:\n- job_name: exp\n  static_configs: [{{targets: ['{}']}}]\n\
             remote_write:\n\
             - url: http://{addr}/bad\n  name: bad\n  \
               queue_config: {{batch_send_deadline: 500ms, max_shards: 1}}\n\
             - url: http://{addr}/flaky\n  name: flaky\n  \
               protobuf_message: io.prometheus.write.v2.Request\n  \
               queue_config: {{batch_send_deadline: 500ms, max_shards: 1, min_backoff: 50ms}}\n",
            target.addr
        ),
    )
    .unwrap();
    let wf_port = free_port();
    let _wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let ok = wait_for(Duration::from_secs(30), || {
        let s = seen.lock().unwrap();
        let bad = s.iter().filter(|(p, _, _)| p == "bad").count();
        let flaky = s.iter().filter(|(p, _, _)| p == "flaky").count();
        (bad >= 4 && flaky >= 6).then_some(())
    });
    assert!(ok.is_some(), "requests: {}", seen.lock().unwrap().len());
    let s = seen.lock().unwrap().clone();
    // 400: each batch once, never again.
    let bad: Vec<&Vec<u8>> = s
        .iter()
        .filter(|(p, _, _)| p == "bad")
        .map(|(_, b, _)| b)
        .collect();
    for (i, b) in bad.iter().enumerate() {
        assert!(!bad[..i].contains(b), "a refused batch was sent again");
    }
    // 500, 500, 429: the same first batch four times, in order, then the next ones.
    let flaky: Vec<&Vec<u8>> = s
        .iter()
        .filter(|(p, _, _)| p == "flaky")
        .map(|(_, b, _)| b)
        .collect();
    assert!(
        flaky[..4].iter().all(|b| *b == flaky[0]),
        "retries resend the same batch"
    );
    assert_ne!(flaky[4], flaky[0]);
    let (_, _, h) = s.iter().find(|(p, _, _)| p == "flaky").unwrap();
    assert_eq!(h["content-encoding"], "snappy");
    assert_eq!(
        h["content-type"],
        "application/x-protobuf;proto=io.prometheus.write.v2.Request"
    );
    assert_eq!(h["x-prometheus-remote-write-version"], "2.0.0");
    assert!(h["user-agent"].to_str().unwrap().starts_with("watchfire/"));
    let (_, _, h) = s.iter().find(|(p, _, _)| p == "bad").unwrap();
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    let failed = own_metric(
        wf_port,
        "prometheus_remote_storage_samples_failed_total{remote_name=\"bad\"",
    );
    assert!(failed > 0.0, "400s are counted as failed");
    assert_eq!(
        own_metric(
            wf_port,
            "prometheus_remote_storage_samples_retried_total{remote_name=\"bad\""
        ),
        0.0
    );
    assert!(
        own_metric(
            wf_port,
            "prometheus_remote_storage_samples_retried_total{remote_name=\"flaky\""
        ) > 0.0
    );
    assert_eq!(
        own_metric(
            wf_port,
            "prometheus_remote_storage_samples_failed_total{remote_name=\"flaky\""
        ),
        0.0
    );
    assert!(
        own_metric(
            wf_port,
            "prometheus_remote_storage_shards{remote_name=\"flaky\""
        ) == 1.0
    );
    assert!(dir.path().join("data/remote_write/bad").is_dir());

    // A bad value is refused at its line on reload and changes nothing; a reload without the
    // refused queue stops it and deletes its backlog.
    let config = std::fs::read_to_string(dir.path().join("watchfire.yml")).unwrap();
    let broken = config.replace("name: flaky", "name: flaky\n  remote_timeout: 0s");
    std::fs::write(dir.path().join("watchfire.yml"), &broken).unwrap();
    let base = format!("http://127.0.0.1:{wf_port}");
    let resp = common::http()
        .post(format!("{base}/-/reload"))
        .send()
        .unwrap();
    assert_ne!(resp.status().as_u16(), 200);
    let text = resp.text().unwrap();
    assert!(
        text.contains("remote_write[1].remote_timeout: must be greater than 0s"),
        "{text}"
    );
    let (head, _) = config.split_once("- url: http://").unwrap();
    let tail = config.split_once("/flaky").unwrap().1;
    let without_bad = format!("{head}- url: http://{addr}/flaky{tail}");
    std::fs::write(dir.path().join("watchfire.yml"), &without_bad).unwrap();
    let resp = common::http()
        .post(format!("{base}/-/reload"))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{without_bad}");
    std::thread::sleep(Duration::from_secs(1));
    let count = |path: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .count()
    };
    let bad_before = count("bad");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        bad_before,
        count("bad"),
        "the removed queue sends nothing more"
    );
    assert!(!dir.path().join("data/remote_write/bad").exists());
    let (_, metrics) = common::get_text(&format!("{base}/metrics")).unwrap();
    assert!(!metrics.contains("remote_name=\"bad\""), "{metrics}");
    let flaky_before = count("flaky");
    assert!(
        wait_for(Duration::from_secs(10), || (count("flaky") > flaky_before)
            .then_some(()))
        .is_some(),
        "the kept queue goes on"
    );
}
