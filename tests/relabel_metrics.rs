//! End to end: `metric_relabel_configs` (drop, keep, replace, labeldrop, uppercase) change what
//! the real binary stores and serves through `/api/v1/series`, and the scrape's
//! `scrape_samples_post_metric_relabeling` counts what relabeling kept. A broken rule is
//! refused by `watchfire check config` with Prometheus' wording and file:line:column.

mod common;

use common::target::{Behaviour, TestTarget};
use common::*;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const BODY: &str = "# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",path=\"/a\",secret=\"s1\"} 10\n\
http_requests_total{code=\"500\",path=\"/a\",secret=\"s2\"} 1\n\
go_gc_duration_seconds{quantile=\"0.5\"} 0.1\n\
go_goroutines 7\n\
node_cpu{cpu=\"0\",mode=\"idle\"} 5\n\
process_open_fds 12\n";

const RULES: &str = "    metric_relabel_configs:
    - source_labels: [__name__]
      regex: 'go_.*'
      action: drop
    - source_labels: [__name__]
      regex: 'http_.*|node_.*'
      action: keep
    - regex: secret
      action: labeldrop
    - source_labels: [code]
      regex: '(\\d)\\d\\d'
      target_label: code_class
      replacement: '${1}xx'
    - source_labels: [mode]
      target_label: mode_upper
      action: uppercase
";

/// Every stored series of job `relabel` except the synthetic `up` and `scrape_*` ones, each
/// rendered as sorted `name=value` pairs.
fn scraped_series(base: &str) -> Option<BTreeSet<String>> {
    let matcher = urlencode(r#"{job="relabel",__name__!~"up|scrape_.*"}"#);
    let (status, body) = get_json(&format!("{base}/api/v1/series?match[]={matcher}"))?;
    assert_eq!(status, 200, "{body}");
    let set: BTreeSet<String> = body["data"]
        .as_array()?
        .iter()
        .map(|s| {
            let mut pairs: Vec<String> = s
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| *k != "instance")
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                .collect();
            pairs.sort();
            pairs.join(",")
        })
        .collect();
    (!set.is_empty()).then_some(set)
}

#[test]
fn metric_relabel_configs_shape_the_stored_series() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = TestTarget::start(Behaviour::Text(BODY.to_owned()));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\nscrape_configs:\n  \
         - job_name: relabel\n    static_configs: [{{targets: ['{}']}}]\n{RULES}",
        target.addr
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).expect("write config");
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");

    let series = wait_for(Duration::from_secs(20), || scraped_series(&base));
    let Some(series) = series else {
        let log = std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();
        panic!("no relabeled series appeared:\n{log}");
    };
    let want: BTreeSet<String> = [
        "__name__=http_requests_total,code=200,code_class=2xx,job=relabel,path=/a",
        "__name__=http_requests_total,code=500,code_class=5xx,job=relabel,path=/a",
        "__name__=node_cpu,cpu=0,job=relabel,mode=idle,mode_upper=IDLE",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(series, want);

    // Prometheus' report series: all samples scraped, only the kept ones after relabeling.
    let report = |name: &str| {
        wait_for(Duration::from_secs(10), || {
            query_single(&base, &format!("{name}{{job=\"relabel\"}}"))
        })
    };
    assert_eq!(report("scrape_samples_scraped"), Some(6.0));
    assert_eq!(report("scrape_samples_post_metric_relabeling"), Some(3.0));
    assert_eq!(report("up"), Some(1.0));

    // Later scrapes (cache hits) keep the same outcome: still exactly three series.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(scraped_series(&base), Some(want));
}

#[test]
fn check_config_refuses_broken_rules_by_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n    \
         - source_labels: [x]\n      regex: '(broken'\n      target_label: y\n    \
         - action: hashmod\n      target_label: shard\n",
    )
    .expect("write config");
    let out = Command::new(watchfire_bin())
        .args(["check", "config"])
        .arg(&path)
        .output()
        .expect("run check config");
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let file = path.display();
    assert!(
        text.contains(&format!(
            "{file}:5:14: scrape_configs[0].metric_relabel_configs[0]: error parsing regexp: "
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{file}:7:7: scrape_configs[0].metric_relabel_configs[1]: \
             relabel configuration for hashmod requires non-zero modulus"
        )),
        "{text}"
    );
}

/// Every relabel rule in Prometheus' own example files (`conf.good.yml`, the Kubernetes example)
/// is accepted: `check config` may refuse other parts of them, never a relabel rule.
#[test]
fn prometheus_example_relabel_rules_are_accepted() {
    let dir = crate_dir().join("../shared/conformance/configs");
    if !dir.is_dir() {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    }
    for name in [
        "conf.good.yml",
        "prometheus-kubernetes.yml",
        "prometheus.yml",
    ] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).expect("read example");
        assert!(
            name != "conf.good.yml" || text.contains("relabel_configs"),
            "{name} has relabel rules to check"
        );
        let out = Command::new(watchfire_bin())
            .args(["check", "config"])
            .arg(&path)
            .output()
            .expect("run check config");
        let report = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let refused: Vec<&str> = report
            .lines()
            .filter(|l| l.contains("relabel_configs"))
            .collect();
        assert!(refused.is_empty(), "{name}: {refused:#?}");
    }
}
