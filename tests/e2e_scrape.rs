//! End to end: the watchfire binary scrapes real servers — the demo exporter,
//! Debian's node exporter, and targets that misbehave — and serves what it
//! scraped through the Prometheus API and its own `/metrics`.

mod common;

use common::target::{Behaviour, TestTarget};
use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

struct Setup {
    _dir: tempfile::TempDir,
    base: String,
    watchfire: Proc,
    _demo: Proc,
    _node: Option<Proc>,
    flappy: TestTarget,
    _bad: Vec<TestTarget>,
}

fn query(base: &str, q: &str) -> Value {
    let url = format!("{base}/api/v1/query?query={}", urlencode(q));
    let (status, body) = get_json(&url).unwrap_or_else(|| panic!("query {q} failed"));
    assert_eq!(status, 200, "{q}: {body}");
    body
}

/// `{job: value}` of `up`.
fn up_by_job(base: &str) -> std::collections::BTreeMap<String, String> {
    query(base, "up")["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["metric"]["job"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn start() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let demo = Proc::spawn(
        "demo",
        {
            let mut c = Command::new(example_bin("demo_exporter"));
            c.args(["--listen", &format!("127.0.0.1:{demo_port}")]);
            c
        },
        dir.path(),
    );
    let node = if have("prometheus-node-exporter") {
        let port = free_port();
        let mut c = Command::new("prometheus-node-exporter");
        c.arg(format!("--web.listen-address=127.0.0.1:{port}"));
        Some((port, Proc::spawn("node", c, dir.path())))
    } else {
        eprintln!("skipping node exporter target: prometheus-node-exporter not installed");
        None
    };
    let flappy = TestTarget::start(Behaviour::Text(
        "flappy_a{x=\"1\"} 1\nflappy_b 2\n".to_string(),
    ));
    let garbage = TestTarget::start(Behaviour::Text("ok_metric 1\nthis is { not valid\n".into()));
    let hang = TestTarget::start(Behaviour::Hang(Duration::from_secs(30)));
    let huge = TestTarget::start(Behaviour::Huge(10 << 20));
    let down_port = free_port();

    let job = |name: &str, addr: &str, extra: &str| {
        format!("  - job_name: {name}\n{extra}    static_configs: [{{targets: ['{addr}']}}]\n")
    };
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    config.push_str(&format!(
        "  - job_name: demo\n    static_configs: [{{targets: ['127.0.0.1:{demo_port}'], labels: {{env: test}}}}]\n"
    ));
    if let Some((p, _)) = &node {
        config.push_str(&job("node", &format!("127.0.0.1:{p}"), ""));
    }
    config.push_str(&job("flappy", &flappy.addr, ""));
    config.push_str(&job("garbage", &garbage.addr, ""));
    config.push_str(&job("hang", &hang.addr, ""));
    config.push_str(&job("huge", &huge.addr, "    body_size_limit: 1MB\n"));
    config.push_str(&job("down", &format!("127.0.0.1:{down_port}"), ""));
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, config).expect("write config");
    let port = free_port();
    let mut c = Command::new(watchfire_bin());
    c.args(["run", "--config"])
        .arg(&config_path)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage.path")
        .arg(dir.path().join("data"))
        .args(["--query.max-samples", "100"]);
    let watchfire = Proc::spawn("watchfire", c, dir.path());
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    if ready.is_none() {
        let log = std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();
        panic!("watchfire not ready:\n{log}");
    }
    assert!(wait_listening(
        &format!("127.0.0.1:{demo_port}"),
        Duration::from_secs(10)
    ));
    Setup {
        _dir: dir,
        base,
        watchfire,
        _demo: demo,
        _node: node.map(|(_, p)| p),
        flappy,
        _bad: vec![garbage, hang, huge],
    }
}

#[test]
fn scrapes_real_targets_and_survives_bad_ones() {
    let mut s = start();
    let base = s.base.clone();

    // Every target reports within a few scrape intervals: good ones up, bad ones down.
    let ups = wait_for(Duration::from_secs(15), || {
        let ups = up_by_job(&base);
        let want = ["demo", "flappy", "garbage", "hang", "huge", "down"];
        want.iter().all(|j| ups.contains_key(*j)).then_some(ups)
    })
    .expect("every job reports up");
    assert_eq!(ups["demo"], "1");
    assert_eq!(ups["flappy"], "1");
    for bad in ["garbage", "hang", "huge", "down"] {
        assert_eq!(ups[bad], "0", "{bad} should be down: {ups:?}");
    }
    if s._node.is_some() {
        assert_eq!(ups.get("node").map(String::as_str), Some("1"), "{ups:?}");
        let r = query(&base, "node_exporter_build_info");
        assert_eq!(r["data"]["result"].as_array().map(Vec::len), Some(1), "{r}");
    }

    // Each failure has a reason that names the problem.
    let (_, targets) = get_json(&format!("{base}/api/v1/targets")).expect("targets");
    let err_of = |job: &str| -> String {
        targets["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["scrapePool"] == job)
            .map(|t| t["lastError"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("no target {job}: {targets}"))
    };
    assert!(
        err_of("garbage").contains("line 2"),
        "{}",
        err_of("garbage")
    );
    assert!(err_of("hang").contains("deadline"), "{}", err_of("hang"));
    assert!(
        err_of("huge").contains("body size limit"),
        "{}",
        err_of("huge")
    );
    assert!(!err_of("down").is_empty());
    assert_eq!(err_of("demo"), "");

    // Demo data with target labels; the garbage target's valid first line was not kept.
    let r = query(&base, r#"http_requests_total{module="checkout"}"#);
    let result = r["data"]["result"].as_array().expect("vector");
    assert_eq!(result.len(), 3, "{r}");
    assert_eq!(result[0]["metric"]["job"], "demo");
    assert_eq!(result[0]["metric"]["env"], "test");
    assert!(result[0]["metric"]["instance"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let r = query(&base, "ok_metric");
    assert_eq!(r["data"]["result"].as_array().map(Vec::len), Some(0), "{r}");

    // Synthetic scrape series.
    for name in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        let r = query(&base, &format!("{name}{{job=\"demo\"}}"));
        assert_eq!(
            r["data"]["result"].as_array().map(Vec::len),
            Some(1),
            "{name}: {r}"
        );
    }

    // Staleness: a series that disappears from a target is gone at once.
    assert_eq!(
        query(&base, "flappy_b")["data"]["result"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    s.flappy
        .set(Behaviour::Text("flappy_a{x=\"1\"} 1\n".into()));
    let gone = wait_for(Duration::from_secs(5), || {
        let r = query(&base, "flappy_b");
        (r["data"]["result"].as_array().map(Vec::len) == Some(0)).then_some(())
    });
    assert!(
        gone.is_some(),
        "flappy_b still returned after it disappeared"
    );
    // And a target that goes down has all its series marked stale.
    s.flappy.set(Behaviour::Status(500));
    let gone = wait_for(Duration::from_secs(5), || {
        let r = query(&base, "flappy_a");
        (r["data"]["result"].as_array().map(Vec::len) == Some(0)).then_some(())
    });
    assert!(
        gone.is_some(),
        "flappy_a still returned after its target went down"
    );

    // Series and label APIs.
    let (status, r) = get_json(&format!(
        "{base}/api/v1/series?match[]={}",
        urlencode(r#"http_requests_total{module="auth"}"#)
    ))
    .expect("series");
    assert_eq!(status, 200);
    assert_eq!(r["data"].as_array().map(Vec::len), Some(3), "{r}");
    let (_, r) = get_json(&format!("{base}/api/v1/label/module/values")).expect("values");
    let modules: Vec<&str> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(modules, vec!["auth", "batch-report", "checkout", "search"]);
    let (_, r) = get_json(&format!("{base}/api/v1/labels")).expect("labels");
    assert!(
        r["data"].as_array().unwrap().iter().any(|v| v == "module"),
        "{r}"
    );

    // Metadata as scraped.
    let (_, r) = get_json(&format!(
        "{base}/api/v1/metadata?metric=http_requests_total"
    ))
    .expect("metadata");
    assert_eq!(
        r["data"]["http_requests_total"][0]["type"], "counter",
        "{r}"
    );

    // Errors in Prometheus' shape.
    let (status, r) = get_json(&format!("{base}/api/v1/query?query={}", urlencode("up{"))).unwrap();
    assert_eq!(status, 400);
    assert_eq!(r["status"], "error");
    assert_eq!(r["errorType"], "bad_data");
    let (status, _) = get_json(&format!("{base}/api/v1/series")).unwrap();
    assert_eq!(status, 400);

    // A query over more samples than allowed fails clearly; the server keeps serving.
    let (status, r) = get_json(&format!(
        "{base}/api/v1/query?query={}",
        urlencode(r#"count({__name__=~".+"})"#)
    ))
    .unwrap();
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["errorType"], "execution");
    assert!(
        r["error"].as_str().unwrap().contains("too many samples"),
        "{r}"
    );
    assert_eq!(
        get_text(&format!("{base}/-/healthy")).map(|(s, _)| s),
        Some(200)
    );

    // The query command prints a table.
    let out = Command::new(watchfire_bin())
        .args(["query", "up{job=\"demo\"}", "--url", &base])
        .output()
        .expect("watchfire query");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(table.starts_with("SERIES"), "{table}");
    assert!(
        table.contains("job=\"demo\"") && table.trim_end().ends_with('1'),
        "{table}"
    );

    // Own metrics are valid for promtool, and carry scrape health.
    let (status, metrics) = get_text(&format!("{base}/metrics")).expect("metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("watchfire_scrape_failures_total{"),
        "{metrics}"
    );
    assert!(metrics.contains("watchfire_buffer_series "), "{metrics}");
    assert!(
        metrics.contains("process_resident_memory_bytes "),
        "{metrics}"
    );
    if have("promtool") {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(metrics.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("skipping promtool check metrics: promtool not installed");
    }

    // Graceful shutdown on SIGTERM.
    let status = s
        .watchfire
        .terminate(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}
