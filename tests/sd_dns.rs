//! End to end (issue 12): `dns_sd_configs` against a real DNS server. dnsmasq serves SRV, A,
//! AAAA and MX records for `example.test` on a 127.0.0.x address; watchfire runs in a private
//! mount namespace whose `/etc/resolv.conf` names that server with `search example.test`. The
//! targets and their `__meta_dns_*` labels show in `/api/v1/targets`; changed records are
//! followed; with the server stopped every name keeps its last good targets, the failure shows
//! in `discoveryErrors` and `prometheus_sd_dns_lookup_failures_total`, and a static job keeps
//! being scraped.

mod common;

use axum::routing::get;
use common::dns::{available, in_namespace, Dnsmasq};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const RECORDS: &str = "srv-host=_node._tcp.example.test,node1.example.test,9100\n\
                       srv-host=_node._tcp.example.test,node2.example.test,9200\n\
                       host-record=web.example.test,127.0.0.1,::1\n\
                       mx-host=example.test,mx1.example.test,10\n";

const CHANGED: &str = "srv-host=_node._tcp.example.test,node1.example.test,9100\n\
                       srv-host=_node._tcp.example.test,node3.example.test,9300\n\
                       host-record=web.example.test,127.0.0.2,::1\n\
                       mx-host=example.test,mx1.example.test,10\n";

fn targets(base: &str) -> Value {
    let (status, body) = get_json(&format!("{base}/api/v1/targets")).expect("targets");
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// The pool's active targets as (scrapeUrl, discoveredLabels without the job defaults), sorted.
fn pool(data: &Value, name: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = data["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .filter(|t| t["scrapePool"] == name)
        .map(|t| {
            let mut d = t["discoveredLabels"].clone();
            let m = d.as_object_mut().unwrap();
            m.retain(|k, _| k.starts_with("__meta_") || k == "__address__");
            (t["scrapeUrl"].as_str().unwrap().to_owned(), d)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn urls(data: &Value, name: &str) -> Vec<String> {
    pool(data, name).into_iter().map(|(u, _)| u).collect()
}

#[test]
fn dns_sd_against_a_real_dns_server() {
    if !available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dns = Dnsmasq::start(dir.path(), RECORDS);
    let resolv = dns.resolv_conf();
    let exporter = common::target::serve_router(
        axum::Router::new().route("/metrics", get(|| async { "static_ok 1\n" })),
    );
    let config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
         scrape_configs:\n\
         - job_name: srv\n  dns_sd_configs: [{{names: [_node._tcp], refresh_interval: 1s}}]\n\
         - job_name: a\n  dns_sd_configs: [{{names: [web, nothere.example.test], type: A, port: 9100, refresh_interval: 1s}}]\n\
         - job_name: aaaa\n  dns_sd_configs: [{{names: [web.example.test.], type: aaaa, port: 9100, refresh_interval: 1s}}]\n\
         - job_name: mx\n  dns_sd_configs: [{{names: [example.test], type: MX, port: 25, refresh_interval: 1s}}]\n\
         - job_name: static\n  static_configs: [{{targets: ['{exporter}']}}]\n"
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let port = free_port();
    let mut cmd = in_namespace(&resolv, &watchfire_bin());
    cmd.args(["run", "--config"])
        .arg(dir.path().join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--storage.path"])
        .arg(dir.path().join("data"));
    let _wf = Proc::spawn("watchfire", cmd, dir.path());
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(20)
    ));

    let data = wait_for(Duration::from_secs(15), || {
        let d = targets(&base);
        ["srv", "a", "aaaa", "mx"]
            .iter()
            .all(|p| !pool(&d, p).is_empty())
            .then_some(d)
    })
    .expect("every dns_sd pool discovered");
    assert_eq!(
        pool(&data, "srv"),
        [
            (
                "http://node1.example.test:9100/metrics".to_owned(),
                json!({"__address__": "node1.example.test:9100", "__meta_dns_name": "_node._tcp",
                       "__meta_dns_srv_record_target": "node1.example.test.",
                       "__meta_dns_srv_record_port": "9100"})
            ),
            (
                "http://node2.example.test:9200/metrics".to_owned(),
                json!({"__address__": "node2.example.test:9200", "__meta_dns_name": "_node._tcp",
                       "__meta_dns_srv_record_target": "node2.example.test.",
                       "__meta_dns_srv_record_port": "9200"})
            ),
        ]
    );
    // `web` went through the search list; the NXDOMAIN name has no targets and no error.
    assert_eq!(
        pool(&data, "a"),
        [(
            "http://127.0.0.1:9100/metrics".to_owned(),
            json!({"__address__": "127.0.0.1:9100", "__meta_dns_name": "web"})
        )]
    );
    assert_eq!(
        pool(&data, "aaaa"),
        [(
            "http://[::1]:9100/metrics".to_owned(),
            json!({"__address__": "[::1]:9100", "__meta_dns_name": "web.example.test."})
        )]
    );
    assert_eq!(
        pool(&data, "mx"),
        [(
            "http://mx1.example.test:25/metrics".to_owned(),
            json!({"__address__": "mx1.example.test:25", "__meta_dns_name": "example.test",
                   "__meta_dns_mx_record_target": "mx1.example.test."})
        )]
    );
    assert!(data.get("discoveryErrors").is_none(), "{data}");

    // Changed records are followed.
    dns.restart(CHANGED);
    let data = wait_for(Duration::from_secs(15), || {
        let d = targets(&base);
        (urls(&d, "srv").iter().any(|u| u.contains("node3"))
            && urls(&d, "a") == ["http://127.0.0.2:9100/metrics"])
        .then_some(d)
    })
    .expect("the changed records are followed");
    assert_eq!(
        urls(&data, "srv"),
        [
            "http://node1.example.test:9100/metrics",
            "http://node3.example.test:9300/metrics"
        ]
    );

    // The server stops: every name keeps its last good targets and the failure is reported.
    dns.stop();
    let data = wait_for(Duration::from_secs(20), || {
        let d = targets(&base);
        (d["discoveryErrors"]["srv"].is_array() && d["discoveryErrors"]["mx"].is_array())
            .then_some(d)
    })
    .expect("the lookup failures are shown");
    let srv_error = data["discoveryErrors"]["srv"][0].as_str().unwrap();
    assert!(
        srv_error.contains("could not resolve \"_node._tcp\""),
        "{srv_error}"
    );
    assert_eq!(urls(&data, "srv").len(), 2);
    assert_eq!(urls(&data, "a"), ["http://127.0.0.2:9100/metrics"]);
    assert_eq!(urls(&data, "aaaa").len(), 1);
    assert_eq!(urls(&data, "mx").len(), 1);
    let (_, metrics) = get_text(&format!("{base}/metrics")).unwrap();
    let counter = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in /metrics"))
            .parse()
            .unwrap()
    };
    assert!(counter("prometheus_sd_dns_lookup_failures_total") >= 1.0);
    assert!(
        counter("prometheus_sd_dns_lookups_total")
            > counter("prometheus_sd_dns_lookup_failures_total")
    );
    // Other jobs go on.
    let before = query_single(&base, "count_over_time(static_ok[1h])").unwrap_or(0.0);
    let after = wait_for(Duration::from_secs(10), || {
        query_single(&base, "count_over_time(static_ok[1h])").filter(|n| *n > before)
    });
    assert!(after.is_some(), "the static job is still scraped");

    // The server comes back: the errors clear.
    dns.restart(RECORDS);
    wait_for(Duration::from_secs(15), || {
        let d = targets(&base);
        (d.get("discoveryErrors").is_none() && urls(&d, "srv").iter().any(|u| u.contains("node2")))
            .then_some(())
    })
    .expect("recovery");
}
