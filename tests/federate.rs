//! Issue 16 item 5: `/federate` as Prometheus serves it. watchfire scrapes an in-test target,
//! records `job:fed_metric:sum` and fires `FedHigh`; its `/federate` answer is checked as text,
//! then a real Prometheus 3.5 federates it twice (`honor_labels: true`, `match[]` on `ALERTS`
//! and `job:.*`): once in the text format, once as delimited protobuf
//! (`scrape_protocols: [PrometheusProto]`), and its query API shows `ALERTS` and the recording
//! rule from watchfire, with watchfire's `external_labels`.

mod common;

use common::{free_port, get_json, get_text, http, peers, spawn_watchfire, wait_for, Proc};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const RULES: &str = "groups:
  - name: fed
    interval: 1s
    rules:
      - record: job:fed_metric:sum
        expr: sum by (job) (fed_metric)
      - alert: FedHigh
        expr: fed_metric > 2
        labels: {severity: page}
";

/// An in-test exporter with two series; its address.
fn start_target() -> String {
    let body = "# TYPE fed_metric gauge\nfed_metric{k=\"a\"} 1\nfed_metric{k=\"b\"} 5\n";
    common::target::serve_router(
        axum::Router::new().route("/metrics", axum::routing::get(move || async move { body })),
    )
}

/// Starts watchfire scraping `target` every second with `external_labels: {site: s1}`.
fn start_watchfire(dir: &Path, target: &str) -> (Proc, String) {
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let config = format!(
        "global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels: {{site: s1}}
rule_files: ['{}']
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ['{target}']}}]
",
        dir.join("rules.yml").display()
    );
    std::fs::write(dir.join("watchfire.yml"), config).unwrap();
    let port = free_port();
    let wf = spawn_watchfire(dir, port, "watchfire", &[]);
    (wf, format!("http://127.0.0.1:{port}"))
}

fn federate_url(base: &str, selectors: &[&str]) -> String {
    let query: Vec<String> = selectors
        .iter()
        .map(|s| format!("match[]={}", common::urlencode(s)))
        .collect();
    format!("{base}/federate?{}", query.join("&"))
}

/// The first value of an instant query at `base`; `None` while the server is not answering.
fn value_of(base: &str, q: &str) -> Option<f64> {
    let url = format!("{base}/api/v1/query?query={}", common::urlencode(q));
    let (status, body) = get_json(&url)?;
    if status != 200 {
        return None;
    }
    body["data"]["result"].get(0)?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[test]
fn federate_answers_as_prometheus_and_a_real_prometheus_federates_alerts_and_rules() {
    let target = start_target();
    let dir = tempfile::tempdir().unwrap();
    let (_wf, base) = start_watchfire(dir.path(), &target);

    // The text answer: families sorted by name, `# TYPE … untyped`, external labels after the
    // series' own, `instance=""` where the series has none, a timestamp on every sample.
    let url = federate_url(&base, &[r#"{__name__=~"ALERTS|job:.*"}"#]);
    let text = wait_for(Duration::from_secs(30), || {
        let (status, text) = get_text(&url)?;
        assert_eq!(status, 200, "{text}");
        (text.contains("alertstate=\"firing\"") && text.contains("job:fed_metric:sum"))
            .then_some(text)
    })
    .expect("watchfire federates ALERTS and the recording rule");
    let lines: Vec<&str> = text.lines().collect();
    let types: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("# TYPE"))
        .collect();
    let mut sorted = types.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(types, sorted, "families once each, sorted by name: {text}");
    assert!(types.contains(&"# TYPE ALERTS untyped"), "{text}");
    assert!(
        types.contains(&"# TYPE job:fed_metric:sum untyped"),
        "{text}"
    );
    let alert = lines
        .iter()
        .find(|l| l.starts_with("ALERTS{"))
        .expect("an ALERTS sample");
    assert!(
        alert.starts_with("ALERTS{alertname=\"FedHigh\",alertstate=\"firing\",instance=\"",)
            && alert.contains("\",job=\"app\",k=\"b\",severity=\"page\",site=\"s1\"} 1 "),
        "{alert}"
    );
    let rule = lines
        .iter()
        .find(|l| l.starts_with("job:fed_metric:sum{"))
        .expect("a recording-rule sample");
    let parts: Vec<&str> = rule.split(' ').collect();
    assert_eq!(
        parts[0],
        "job:fed_metric:sum{job=\"app\",instance=\"\",site=\"s1\"}"
    );
    assert_eq!(parts[1], "6");
    assert!(parts[2].parse::<i64>().is_ok(), "{rule}");

    // Errors and edges as Prometheus answers them.
    let resp = http().get(federate_url(&base, &["up{"])).send().unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().unwrap().ends_with('\n'));
    let (status, body) = get_text(&format!("{base}/federate")).unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    let post = http().post(format!("{base}/federate")).send().unwrap();
    assert_eq!(post.status().as_u16(), 405);
    let proto = http()
        .get(federate_url(&base, &["fed_metric"]))
        .header(
            "Accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
             encoding=delimited",
        )
        .send()
        .unwrap();
    assert_eq!(
        proto.headers()["content-type"],
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
         encoding=delimited; escaping=underscores"
    );
    let bytes = proto.bytes().unwrap();
    // One length-delimited MetricFamily: varint length, then field 1 (name), field 3 (type
    // 3 = UNTYPED) and the metrics.
    let (mut len, mut shift, mut at) = (0usize, 0, 0);
    while bytes[at] & 0x80 != 0 {
        len |= ((bytes[at] & 0x7f) as usize) << shift;
        shift += 7;
        at += 1;
    }
    len |= (bytes[at] as usize) << shift;
    assert_eq!(at + 1 + len, bytes.len(), "{bytes:?}");
    assert!(
        bytes[at + 1..].starts_with(b"\x0a\x0afed_metric\x18\x03"),
        "{bytes:?}"
    );

    // A real Prometheus federates watchfire in both formats.
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let wf_addr = base.trim_start_matches("http://");
    let job = |name: &str, protocols: &str| {
        format!(
            "  - job_name: {name}
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{{__name__=~\"ALERTS|job:.*\"}}']
    {protocols}
    static_configs: [{{targets: ['{wf_addr}']}}]
    metric_relabel_configs:
      - target_label: via
        replacement: {name}
"
        )
    };
    // It also scrapes the target itself, with watchfire's external labels, so both servers'
    // own `/federate` answers can be compared.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  external_labels: {{site: s1}}\nscrape_configs:\n{}{}\
         \x20 - job_name: app\n    static_configs: [{{targets: ['{target}']}}]\n",
        job("text", ""),
        job("proto", "scrape_protocols: [PrometheusProto]")
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let prom_port = free_port();
    let mut cmd = Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let prom = format!("http://127.0.0.1:{prom_port}");
    for via in ["text", "proto"] {
        let alerts = format!(
            "ALERTS{{alertname=\"FedHigh\",alertstate=\"firing\",site=\"s1\",via=\"{via}\",\
             job=\"app\",k=\"b\"}}"
        );
        let got = wait_for(Duration::from_secs(30), || {
            value_of(&prom, &alerts).filter(|v| *v == 1.0)
        });
        assert_eq!(got, Some(1.0), "Prometheus federated {alerts}");
        let rule = format!("job:fed_metric:sum{{job=\"app\",site=\"s1\",via=\"{via}\"}}");
        let got = wait_for(Duration::from_secs(10), || {
            value_of(&prom, &rule).filter(|v| *v == 6.0)
        });
        assert_eq!(got, Some(6.0), "Prometheus federated {rule}");
    }
    // Both servers answer `/federate` alike for the series both scraped (timestamps aside).
    let strip = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| match l.rsplit_once(' ') {
                Some((rest, _)) if !l.starts_with('#') => rest.to_string(),
                _ => l.to_string(),
            })
            .collect()
    };
    for sel in [
        r#"{__name__=~"fed_metric|up",job="app",via=""}"#,
        r#"{job=~"ap.*",__name__=~"fed_.*|up",via=""}"#,
        r#"fed_metric{k="b"}"#,
    ] {
        let url = |base: &str| federate_url(base, &[sel]);
        let theirs = wait_for(Duration::from_secs(10), || {
            get_text(&url(&prom)).filter(|(_, t)| t.contains("fed_metric"))
        })
        .expect("Prometheus federates its own scrape");
        let mine = get_text(&url(&base)).unwrap();
        assert_eq!(
            (mine.0, strip(&mine.1)),
            (theirs.0, strip(&theirs.1)),
            "{sel}"
        );
    }
    for sel in [
        "{}",
        "up offset 5m",
        "up @ 100",
        "rate(up[1m])",
        r#"{job=~".*"}"#,
    ] {
        let theirs = http().get(federate_url(&prom, &[sel])).send().unwrap();
        let mine = http().get(federate_url(&base, &[sel])).send().unwrap();
        assert_eq!(mine.status(), theirs.status(), "{sel}");
        if sel == "{}" {
            assert_eq!(mine.text().unwrap(), theirs.text().unwrap(), "{sel}");
        }
    }

    // Both scrapes are healthy: no parse error in either format.
    let (_, targets) = get_json(&format!("{prom}/api/v1/targets")).unwrap();
    for t in targets["data"]["activeTargets"].as_array().unwrap() {
        assert_eq!(t["health"], "up", "{t}");
        assert_eq!(t["lastError"], "", "{t}");
    }
}
