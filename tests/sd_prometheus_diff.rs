//! Differential (issue 12): watchfire and the real Prometheus 3.5 load the SAME configuration
//! (static targets with `__` labels and params, file_sd in JSON and YAML, http_sd, targets
//! refused for an empty address or a timeout above the interval) and must show the same
//! `/api/v1/targets`: per pool, the active targets' `labels`, `discoveredLabels` and `scrapeUrl`,
//! the dropped targets' `discoveredLabels`, and `droppedTargetCounts`; then the SD file changes
//! and they are compared again.
//!
//! Prometheus comes from `PROMETHEUS_BIN`, else `/opt/peers/usr/bin/prometheus` (the default
//! destination of `../shared/tools/fetch-peers.sh`, which `.ci/run` calls), else `prometheus` on
//! PATH if it is 3.x; without one the test says so and checks nothing, except under CI
//! (`CI` set), where `.ci/run` installs it and its absence fails the test.

mod common;

use axum::routing::get;
use common::target::serve_router;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// Serves `/sd` (an HTTP SD answer) and returns the address.
fn start_sd_server() -> String {
    let sd = json!([
        {"targets": ["127.0.0.1:1", "h-http:9"], "labels": {"src": "http", "__metrics_path__": "/m"}},
        {"targets": ["127.0.0.1:2"]},
    ])
    .to_string();
    let app = axum::Router::new().route(
        "/sd",
        get(move || {
            let sd = sd.clone();
            async move { ([("Content-Type", "application/json")], sd) }
        }),
    );
    serve_router(app)
}

/// What is compared: per active target (pool, labels, discoveredLabels, scrapeUrl,
/// scrapeInterval, scrapeTimeout), per dropped
/// target (pool, discoveredLabels), and the dropped counts.
fn summary(base: &str) -> Option<(BTreeSet<String>, BTreeSet<String>, Value)> {
    let (status, body) = get_json(&format!("{base}/api/v1/targets"))?;
    if status != 200 {
        return None;
    }
    let data = &body["data"];
    let active = data["activeTargets"]
        .as_array()?
        .iter()
        .map(|t| {
            json!([
                t["scrapePool"],
                t["labels"],
                t["discoveredLabels"],
                t["scrapeUrl"]
            ])
            .to_string()
        })
        .collect();
    let dropped = data["droppedTargets"]
        .as_array()?
        .iter()
        .map(|t| json!([t["scrapePool"], t["discoveredLabels"]]).to_string())
        .collect();
    Some((active, dropped, data["droppedTargetCounts"].clone()))
}

fn compare(wf: &str, prom: &str, what: &str) {
    let agreed = wait_for(Duration::from_secs(30), || {
        let (a, b) = (summary(wf)?, summary(prom)?);
        (a == b && !a.0.is_empty()).then_some(())
    });
    if agreed.is_none() {
        let (a, b) = (summary(wf), summary(prom));
        let (a, b) = (
            a.expect("watchfire targets"),
            b.expect("prometheus targets"),
        );
        let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
            x.difference(y).cloned().collect::<Vec<_>>()
        };
        panic!(
            "{what}: /api/v1/targets differ\nactive only in watchfire: {:#?}\nactive only in prometheus: {:#?}\n\
             dropped only in watchfire: {:#?}\ndropped only in prometheus: {:#?}\ncounts: {} vs {}",
            only(&a.0, &b.0),
            only(&b.0, &a.0),
            only(&a.1, &b.1),
            only(&b.1, &a.1),
            a.2,
            b.2
        );
    }
}

#[test]
fn targets_match_prometheus() {
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sd_addr = start_sd_server();
    std::fs::create_dir(dir.path().join("sd")).unwrap();
    let json_file = dir.path().join("sd/a.json");
    std::fs::write(
        &json_file,
        json!([
            {"targets": ["127.0.0.1:3", "h-file"], "labels": {"env": "prod", "job": "renamed"}},
            {"targets": ["127.0.0.1:4"], "labels": {"__scheme__": "https", "__param_target": "http://x/?a=b c"}},
        ])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sd/b.yml"),
        "- targets: ['127.0.0.1:5', '']\n  labels: {zone: b}\n\
         - targets: ['127.0.0.1:8']\n  labels: {__scrape_timeout__: 30s}\n"
            .replace("\n         ", "\n"),
    )
    .unwrap();
    let config = [
        "global: {scrape_interval: 15s, scrape_timeout: 10s}",
        "scrape_configs:",
        "- job_name: static",
        "  params: {module: [a, b]}",
        "  static_configs:",
        "  - targets: ['127.0.0.1:6']",
        "    labels: {__metrics_path__: /metrics/7, team: a}",
        "  - targets: ['127.0.0.1:7']",
        "    labels: {__param_module: c, __scrape_interval__: 120s, __scrape_timeout__: 5s, instance: named}",
        "  - targets: ['h-static']",
        "    labels: {__scheme__: https, __metrics_path__: 'p a/th'}",
        "- job_name: files",
        "  file_sd_configs: [{files: [sd/*.json, sd/*.yml], refresh_interval: 1s}]",
        "- job_name: http",
        "  scheme: https",
        "  metrics_path: /probe",
        "  http_sd_configs: [{url: 'http://SD_ADDR/sd', refresh_interval: 1s}]",
        "",
    ]
    .join("\n")
    .replace("SD_ADDR", &sd_addr);
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, &config).unwrap();

    let wf_port = free_port();
    let _wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let prom_port = free_port();
    let mut cmd = Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let wf = format!("http://127.0.0.1:{wf_port}");
    let prom = format!("http://127.0.0.1:{prom_port}");
    assert!(
        wait_listening(&format!("127.0.0.1:{wf_port}"), Duration::from_secs(20)),
        "watchfire did not start: {}",
        std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default()
    );
    assert!(
        wait_listening(&format!("127.0.0.1:{prom_port}"), Duration::from_secs(30)),
        "prometheus did not start; see {}/prometheus.log",
        dir.path().display()
    );
    compare(&wf, &prom, "initial");
    // The filters: which keys come back, how many targets, and the dropped counts.
    for query in [
        "?state=active&scrapePool=files",
        "?state=dropped",
        "?scrapePool=http",
        "?state=x",
    ] {
        let shape = |base: &str| {
            let (_, body) = get_json(&format!("{base}/api/v1/targets{query}")).expect("targets");
            let data = &body["data"];
            let keys: Vec<String> = data.as_object().unwrap().keys().cloned().collect();
            let len = |k: &str| data[k].as_array().map(Vec::len);
            (
                keys.into_iter()
                    .filter(|k| k != "discoveryErrors")
                    .collect::<Vec<_>>(),
                len("activeTargets"),
                len("droppedTargets"),
                data["droppedTargetCounts"].clone(),
            )
        };
        assert_eq!(shape(&wf), shape(&prom), "{query}");
    }

    // The SD file changes: a target goes, another comes, labels change.
    std::fs::write(
        &json_file,
        json!([{"targets": ["127.0.0.1:9", "h-file"], "labels": {"env": "dev"}}]).to_string(),
    )
    .unwrap();
    compare(&wf, &prom, "after the SD file changed");
}

/// `dns_sd_configs` (SRV through the search list, A, AAAA, MX, an NXDOMAIN name, relabeling of
/// `__meta_dns_*`): watchfire and Prometheus each run in a private mount namespace whose
/// `/etc/resolv.conf` names the same dnsmasq (see `common::dns`), load the same config and must
/// show the same targets; then the records change, then the server stops (both keep the last
/// good targets).
#[test]
fn dns_targets_match_prometheus() {
    use common::dns::{available, in_namespace, Dnsmasq};
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let records = "srv-host=_node._tcp.example.test,node1.example.test,9100\n\
                   srv-host=_node._tcp.example.test,node2.example.test,9200\n\
                   host-record=web.example.test,127.0.0.1,::1\n\
                   mx-host=example.test,mx1.example.test,10\n";
    let mut dns = Dnsmasq::start(dir.path(), records);
    let resolv = dns.resolv_conf();
    let config = [
        "global: {scrape_interval: 15s, scrape_timeout: 10s}",
        "scrape_configs:",
        "- job_name: srv",
        "  dns_sd_configs: [{names: [_node._tcp, nothere.example.test], refresh_interval: 1s}]",
        "  relabel_configs:",
        "  - {source_labels: [__meta_dns_srv_record_target], regex: '(.*)\\.', target_label: host}",
        "  - {regex: __meta_dns_(name|srv_record_port), action: labelmap}",
        "- job_name: a",
        "  dns_sd_configs:",
        "  - {names: [web], type: A, port: 9100, refresh_interval: 1s}",
        "  - {names: [web.example.test.], type: AAAA, port: 9101, refresh_interval: 1s}",
        "- job_name: mx",
        "  dns_sd_configs: [{names: [example.test], type: MX, port: 25, refresh_interval: 1s}]",
        "  relabel_configs:",
        "  - {source_labels: [__meta_dns_mx_record_target], regex: 'mx1.*', action: keep}",
        "",
    ]
    .join("\n");
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, &config).unwrap();

    let wf_port = free_port();
    let mut cmd = in_namespace(&resolv, &watchfire_bin());
    cmd.args(["run", "--config"])
        .arg(&config_path)
        .args([
            "--listen",
            &format!("127.0.0.1:{wf_port}"),
            "--storage.path",
        ])
        .arg(dir.path().join("data"));
    let _wf = Proc::spawn("watchfire", cmd, dir.path());
    let prom_port = free_port();
    let mut cmd = in_namespace(&resolv, &prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let wf = format!("http://127.0.0.1:{wf_port}");
    let prom = format!("http://127.0.0.1:{prom_port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{wf_port}"),
        Duration::from_secs(20)
    ));
    assert!(
        wait_listening(&format!("127.0.0.1:{prom_port}"), Duration::from_secs(30)),
        "prometheus did not start; see {}/prometheus.log",
        dir.path().display()
    );
    let all_pools = |base: &str| {
        summary(base).is_some_and(|(active, ..)| {
            ["\"srv\"", "\"a\"", "\"mx\""]
                .iter()
                .all(|p| active.iter().any(|t| t.starts_with(&format!("[{p}"))))
        })
    };
    wait_for(Duration::from_secs(30), || {
        (all_pools(&wf) && all_pools(&prom)).then_some(())
    })
    .expect("both discover every pool");
    compare(&wf, &prom, "dns initial");
    let (active, ..) = summary(&wf).unwrap();
    assert_eq!(active.len(), 5, "{active:#?}");

    dns.restart(
        "srv-host=_node._tcp.example.test,node3.example.test,9300\n\
         host-record=web.example.test,127.0.0.2\n\
         mx-host=example.test,mx2.example.test,10\n",
    );
    let changed = |base: &str| {
        summary(base).is_some_and(|(active, ..)| active.iter().any(|t| t.contains("node3")))
    };
    wait_for(Duration::from_secs(30), || {
        (changed(&wf) && changed(&prom)).then_some(())
    })
    .expect("both follow the changed records");
    compare(&wf, &prom, "dns records changed");

    // The server stops: both keep the last good targets.
    dns.stop();
    wait_for(Duration::from_secs(20), || {
        let (_, body) = get_json(&format!("{wf}/api/v1/targets"))?;
        body["data"]["discoveryErrors"]["srv"]
            .is_array()
            .then_some(())
    })
    .expect("watchfire reports the failure");
    std::thread::sleep(Duration::from_secs(3));
    compare(&wf, &prom, "dns server stopped");
}
