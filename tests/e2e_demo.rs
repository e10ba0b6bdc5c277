//! End to end on the bundled demo: demo exporter → watchfire with the
//! bundled config and rules → the degrading module's alert goes warning,
//! then critical, as one alert, visible in `/api/v1/alerts` and as `ALERTS`
//! on `/metrics`.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// The checkout alert's (severity, state, activeAt), if present.
fn latency_alert(base: &str) -> Option<(String, String, String)> {
    let (_, body) = get_json(&format!("{base}/api/v1/alerts"))?;
    body["data"]["alerts"]
        .as_array()?
        .iter()
        .find_map(|a: &Value| {
            (a["labels"]["alertname"] == "HighLatencyP95" && a["labels"]["module"] == "checkout")
                .then(|| {
                    (
                        a["labels"]["severity"].as_str().unwrap_or("").to_string(),
                        a["state"].as_str().unwrap_or("").to_string(),
                        a["activeAt"].as_str().unwrap_or("").to_string(),
                    )
                })
        })
}

#[test]
fn demo_module_goes_warning_then_critical_on_one_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let port = free_port();
    let mut demo = Command::new(example_bin("demo_exporter"));
    demo.args([
        "--listen",
        &format!("127.0.0.1:{demo_port}"),
        "--warning-after",
        "1s",
        "--critical-after",
        "12s",
        "--recover-after",
        "300s",
    ]);
    let _demo = Proc::spawn("demo", demo, dir.path());

    // The bundled config and rules, on this test's ports, with 1 s intervals
    // and a short `for` so the test stays short.
    let config = std::fs::read_to_string(crate_dir().join("examples/watchfire.yml"))
        .expect("bundled config")
        .replace("127.0.0.1:9712", &format!("127.0.0.1:{demo_port}"))
        .replace("127.0.0.1:9711", &format!("127.0.0.1:{port}"))
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("evaluation_interval: 5s", "evaluation_interval: 1s")
        .replace("../rules/*.yml", "rules/*.yml");
    std::fs::write(dir.path().join("watchfire.yml"), config).expect("config");
    std::fs::create_dir(dir.path().join("rules")).expect("rules dir");
    for f in ["service-thresholds.yml", "node-exporter.yml"] {
        let text =
            std::fs::read_to_string(crate_dir().join("rules").join(f)).expect("bundled rules");
        std::fs::write(
            dir.path().join("rules").join(f),
            text.replace("for: 30s", "for: 2s"),
        )
        .expect("rules copy");
    }
    let _watchfire = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let log = || std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();

    let warning = wait_for(Duration::from_secs(40), || {
        latency_alert(&base).filter(|(sev, state, _)| sev == "warning" && state == "firing")
    })
    .unwrap_or_else(|| panic!("no firing warning alert; log:\n{}", log()));

    let critical = wait_for(Duration::from_secs(40), || {
        latency_alert(&base).filter(|(sev, state, _)| sev == "critical" && state == "firing")
    })
    .unwrap_or_else(|| panic!("no critical alert; log:\n{}", log()));
    assert_eq!(
        warning.2, critical.2,
        "escalation keeps the alert's activeAt: one alert, not two"
    );

    let (_, metrics) = get_text(&format!("{base}/metrics")).expect("metrics");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("ALERTS{") && l.contains("alertname=\"HighLatencyP95\""))
        .unwrap_or_else(|| panic!("no ALERTS series for the alert:\n{metrics}"));
    for part in [
        "alertstate=\"firing\"",
        "severity=\"critical\"",
        "module=\"checkout\"",
    ] {
        assert!(line.contains(part), "{line}");
    }

    // The web UI (`/` redirects to `/alerts`) shows the alert, and `/targets` the targets.
    let (status, page) = get_text(&format!("{base}/")).expect("page");
    assert_eq!(status, 200);
    assert!(
        page.contains("HighLatencyP95") && page.contains("badge critical"),
        "{page}"
    );
    let (status, page) = get_text(&format!("{base}/targets")).expect("targets page");
    assert_eq!(status, 200);
    assert!(page.contains(&format!("127.0.0.1:{demo_port}")), "{page}");

    // The alert history has the escalation.
    let (_, history) = get_json(&format!(
        "{base}/api/v1/alerts/history?alertname=HighLatencyP95"
    ))
    .expect("history");
    let text = history.to_string();
    assert!(text.contains("escalated"), "{text}");

    // A broken rule file on reload keeps the running rules and alerts.
    let rules_path = dir.path().join("rules/service-thresholds.yml");
    let good_rules = std::fs::read_to_string(&rules_path).expect("rules");
    std::fs::write(
        &rules_path,
        "groups:\n  - name: broken\n    rules:\n      - alert: X\n        expr: sum(\n",
    )
    .expect("break rules");
    let pid = _watchfire.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_secs(2));
    assert!(log().contains("reload failed"), "{}", log());
    let (status, rules) = get_json(&format!("{base}/api/v1/rules")).expect("rules");
    assert_eq!(status, 200);
    assert!(rules.to_string().contains("service-thresholds"), "{rules}");
    let kept = latency_alert(&base).expect("alert kept across a failed reload");
    assert_eq!(kept.2, critical.2, "activeAt kept across a failed reload");
    let reload_ok = |want: &str| {
        get_text(&format!("{base}/metrics"))
            .map(|(_, m)| {
                m.lines()
                    .any(|l| l == format!("watchfire_config_last_reload_successful {want}"))
            })
            .unwrap_or(false)
    };
    assert!(reload_ok("0"), "a failed reload is visible on /metrics");

    // Fixed, and reloaded over HTTP: the unchanged rule keeps its alert and activeAt, and the
    // notifier is rebuilt without losing anything.
    std::fs::write(&rules_path, good_rules).expect("fix rules");
    let resp = http()
        .post(format!("{base}/-/reload"))
        .send()
        .expect("reload");
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text());
    assert!(reload_ok("1"), "{}", log());
    let after = latency_alert(&base).expect("alert kept across a good reload");
    assert_eq!(after.1, "firing");
    assert_eq!(after.2, critical.2, "activeAt kept across a good reload");
}
