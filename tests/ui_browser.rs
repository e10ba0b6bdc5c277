//! The web UI in a real browser: watchfire scrapes an in-test exporter (three services, one
//! past its critical level, one past the warning level of its override, one quiet) and a
//! target that is down; then `tests/ui/browser.py` drives Debian's headless Chromium through
//! chromedriver over every page (content, JavaScript errors, a silence made from an alert's
//! Silence button with the admin token, the rule preview, the query and status pages) and
//! saves a screenshot per page under `target/ui-screenshots/`.
//!
//! Skipped when chromium, chromedriver or python3-selenium is missing; fails then under
//! `CI=true` (`.ci/run` installs them).

mod common;

use common::target::serve_router;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

const METRICS: &str = "# TYPE request_latency_seconds gauge
request_latency_seconds{service=\"checkout\"} 2.5
request_latency_seconds{service=\"search\"} 1.5
request_latency_seconds{service=\"cart\"} 0.1
";

const RULES: &str = r#"groups:
  - name: latency
    interval: 1s
    rules:
      - alert: HighLatency
        expr: request_latency_seconds
        for: 1s
        thresholds:
          warning: 0.5
          critical: 2
          clear: 0.4
          overrides:
            - matchers: ['service="search"']
              warning: 1
              critical: 3
        annotations:
          summary: "{{ $labels.service }} answers slowly"
          runbook_url: https://runbooks.example/latency
      - alert: TargetDown
        expr: up == 0
        for: 1s
        labels:
          severity: critical
"#;

/// Whether the browser tools are here; under CI their absence fails.
fn browser_tools() -> bool {
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
    ]
    .iter()
    .filter(|(p, _)| !Path::new(p).exists())
    .map(|(_, n)| *n)
    .chain(
        (!Command::new(PYTHON)
            .args(["-c", "import selenium"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()))
        .then_some("python3-selenium"),
    )
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing:?} missing in CI: .ci/run should install them"
    );
    eprintln!("skipped: {missing:?} not installed");
    false
}

#[test]
fn every_page_works_in_headless_chromium() {
    if !browser_tools() {
        return;
    }
    let exporter = serve_router(
        axum::Router::new().route("/metrics", axum::routing::get(|| async { METRICS })),
    );
    // A webhook receiver that accepts every notification, counted.
    let delivered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = delivered.clone();
    let hook = serve_router(axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "" }
        }),
    ));
    let down = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yml"), RULES).expect("rules");
    std::fs::write(
        dir.path().join("watchfire.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{exporter}']}}]
  - job_name: broken
    static_configs: [{{targets: ['127.0.0.1:{down}']}}]
route: {{receiver: team, group_by: [alertname], group_wait: 1s}}
receivers: [{{name: team, webhook_configs: [{{url: 'http://{hook}/hook'}}]}}]
"
        ),
    )
    .expect("config");
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "s3cret-ui\n").expect("token");
    let port = free_port();
    let _wf = spawn_watchfire(
        dir.path(),
        port,
        "watchfire",
        &[
            "--web.admin-token-file",
            token.to_str().expect("utf-8 path"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    // Wait until both alerts fire, checkout at critical and search at warning.
    let ready = wait_for(Duration::from_secs(60), || {
        let (_, v) = get_json(&format!("{base}/api/v1/alerts"))?;
        let alerts = v["data"]["alerts"].as_array()?.clone();
        let firing = |name: &str, service: Option<&str>, severity: &str| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == name
                    && a["state"] == "firing"
                    && a["labels"]["severity"] == severity
                    && service.is_none_or(|s| a["labels"]["service"] == s)
            })
        };
        (firing("HighLatency", Some("checkout"), "critical")
            && firing("HighLatency", Some("search"), "warning")
            && firing("TargetDown", None, "critical"))
        .then_some(())
    });
    assert!(ready.is_some(), "alerts never fired; log:\n{}", log());
    // The alert page lists the delivery attempts: wait until one was made.
    let sent = wait_for(Duration::from_secs(30), || {
        (delivered.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    });
    assert!(
        sent.is_some(),
        "no notification reached the webhook; log:\n{}",
        log()
    );

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    let mut child = Command::new(PYTHON)
        .arg(crate_dir().join("tests/ui/browser.py"))
        .arg(&base)
        .arg(&shots)
        .arg("s3cret-ui")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the browser script");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser script took over 240 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        status.success(),
        "browser checks failed:\n{stdout}\n{stderr}\nwatchfire log:\n{}",
        log()
    );

    // The silence made through the form is in the API.
    let (_, silences) = get_json(&format!("{base}/api/v2/silences")).expect("silences");
    let made = silences
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["createdBy"] == "browser-test")
        .unwrap_or_else(|| panic!("no silence from the form: {silences}"));
    assert_eq!(made["status"]["state"], "active");
    assert!(
        made["matchers"]
            .as_array()
            .expect("matchers")
            .iter()
            .any(|m| m["name"] == "service" && m["value"] == "checkout"),
        "{made}"
    );
    for name in [
        "alerts",
        "alert-detail",
        "silence-new",
        "silences",
        "rules",
        "rule-preview",
        "targets",
        "query",
        "status-route-test",
    ] {
        let p = shots.join(format!("{name}.png"));
        assert!(
            p.metadata().is_ok_and(|m| m.len() > 1000),
            "no screenshot {}",
            p.display()
        );
    }

    // A write form without the admin token is refused; the API still needs its bearer token.
    let client = http();
    let r = client
        .post(format!("{base}/silences/new"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("matchers=a%3D%22b%22&endsAt=1h&createdBy=x&comment=y")
        .send()
        .expect("post");
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = client
        .post(format!("{base}/api/v2/silences"))
        .body("{}")
        .send()
        .expect("post");
    assert_eq!(r.status(), 401, "API writes still need the bearer token");
}
