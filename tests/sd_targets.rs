//! End to end (issue 12): the watchfire binary builds targets as Prometheus' `PopulateLabels`
//! does and discovers them from `static_configs`, `file_sd_configs` and `http_sd_configs`; a
//! static target's `__metrics_path__` is the path scraped; a changing SD file adds and removes
//! targets; a broken SD file keeps the last good targets and says why; `/api/v1/targets`,
//! `/api/v1/scrape_pools` and `/api/v1/targets/metadata` have Prometheus 3's shape.

mod common;

use axum::routing::get;
use common::target::serve_router_at;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A server with `/metrics/7` (its own series), `/metrics` and `/sd` (an HTTP SD answer naming
/// itself with `__metrics_path__: /metrics/7`). Returns its `127.0.0.1:port`.
fn start_server() -> String {
    serve_router_at(|addr| {
        let sd =
            json!([{"targets": [addr], "labels": {"__metrics_path__": "/metrics/7", "from": "http"}}])
                .to_string();
        axum::Router::new()
            .route(
                "/metrics/7",
                get(|| async { "# HELP path_seven Served at /metrics/7.\n# TYPE path_seven gauge\npath_seven 7\n" }),
            )
            .route("/metrics", get(|| async { "plain_path 1\n" }))
            .route(
                "/sd",
                get(move || {
                    let sd = sd.clone();
                    async move { ([("Content-Type", "application/json")], sd) }
                }),
            )
    })
}

fn targets(base: &str, query: &str) -> Value {
    let (status, body) = get_json(&format!("{base}/api/v1/targets{query}")).expect("targets");
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

fn active_in(data: &Value, pool: &str) -> Vec<Value> {
    data["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .filter(|t| t["scrapePool"] == pool)
        .cloned()
        .collect()
}

#[test]
fn discovery_and_target_labels_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = start_server();
    let port = addr.rsplit_once(':').unwrap().1.to_owned();
    let other = format!("localhost:{port}");
    std::fs::create_dir(dir.path().join("sd")).unwrap();
    let a = dir.path().join("sd/a.json");
    std::fs::write(
        &a,
        json!([{"targets": [addr], "labels": {"f": "1"}}]).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sd/b.yml"),
        "- targets: ['']\n  labels: {why: empty}\n",
    )
    .unwrap();
    let config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
         scrape_configs:\n\
         - job_name: static\n  static_configs:\n  - targets: ['{addr}']\n    labels: {{__metrics_path__: /metrics/7, team: a}}\n\
         - job_name: files\n  keep_dropped_targets: 5\n  file_sd_configs: [{{files: [sd/*.json, sd/*.yml]}}]\n\
         - job_name: http\n  http_sd_configs: [{{url: 'http://{addr}/sd', refresh_interval: 1s}}]\n"
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let wf_port = free_port();
    let _wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{wf_port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{wf_port}"),
        Duration::from_secs(20)
    ));

    // The static target is scraped at its __metrics_path__.
    let scraped = wait_for(Duration::from_secs(15), || {
        query_single(&base, "path_seven{job=\"static\",team=\"a\"}")
    });
    assert_eq!(scraped, Some(7.0), "static target scraped at /metrics/7");
    assert_eq!(query_single(&base, "plain_path{job=\"static\"}"), None);

    let data = wait_for(Duration::from_secs(15), || {
        let d = targets(&base, "");
        (active_in(&d, "http").len() == 1 && active_in(&d, "static")[0]["health"] == "up")
            .then_some(d)
    })
    .expect("all pools discovered and scraped");
    let st = &active_in(&data, "static")[0];
    assert_eq!(st["scrapeUrl"], format!("http://{addr}/metrics/7"));
    assert_eq!(st["globalUrl"], st["scrapeUrl"]);
    assert_eq!(
        st["labels"],
        json!({"instance": addr, "job": "static", "team": "a"})
    );
    assert_eq!(
        st["discoveredLabels"],
        json!({
            "__address__": addr, "__metrics_path__": "/metrics/7", "__scheme__": "http",
            "__scrape_interval__": "1s", "__scrape_timeout__": "1s", "job": "static", "team": "a"
        })
    );
    assert_eq!(
        (st["scrapeInterval"].as_str(), st["scrapeTimeout"].as_str()),
        (Some("1s"), Some("1s"))
    );
    assert_eq!(st["lastError"], "");
    assert!(st["lastScrapeDuration"].as_f64().unwrap() > 0.0);
    assert_ne!(st["lastScrape"], "0001-01-01T00:00:00Z");
    let ht = &active_in(&data, "http")[0];
    assert_eq!(
        ht["labels"],
        json!({"from": "http", "instance": addr, "job": "http"})
    );
    assert_eq!(
        ht["discoveredLabels"]["__meta_url"],
        format!("http://{addr}/sd")
    );
    assert_eq!(ht["scrapeUrl"], format!("http://{addr}/metrics/7"));
    let ft = active_in(&data, "files");
    assert_eq!(ft.len(), 1);
    assert_eq!(
        ft[0]["labels"],
        json!({"f": "1", "instance": addr, "job": "files"})
    );
    assert_eq!(
        ft[0]["discoveredLabels"]["__meta_filepath"],
        a.display().to_string()
    );
    assert_eq!(ft[0]["scrapeUrl"], format!("http://{addr}/metrics"));
    // The target with an empty address is refused: as Prometheus 3.5, logged, neither active
    // nor listed as dropped (only relabeling drops targets).
    assert_eq!(
        data["droppedTargetCounts"],
        json!({"files": 0, "http": 0, "static": 0})
    );
    assert_eq!(data["droppedTargets"], json!([]));
    assert!(data.get("discoveryErrors").is_none());

    // Filters.
    let only = targets(&base, "?state=active&scrapePool=static");
    assert_eq!(only["activeTargets"].as_array().unwrap().len(), 1);
    assert_eq!(only["droppedTargets"], json!([]));
    assert_eq!(only["droppedTargetCounts"], Value::Null);
    let dropped_only = targets(&base, "?state=dropped&scrapePool=files");
    assert_eq!(dropped_only["activeTargets"], json!([]));
    assert_eq!(dropped_only["droppedTargets"], json!([]));
    assert_eq!(dropped_only["droppedTargetCounts"]["files"], 0);
    let (_, pools) = get_json(&format!("{base}/api/v1/scrape_pools")).unwrap();
    assert_eq!(
        pools["data"],
        json!({"scrapePools": ["files", "http", "static"]})
    );
    let (status, meta) = get_json(&format!(
        "{base}/api/v1/targets/metadata?match_target={}&metric=path_seven",
        urlencode("{job=\"static\"}")
    ))
    .unwrap();
    assert_eq!(status, 200, "{meta}");
    assert_eq!(
        meta["data"],
        json!([{"target": {"instance": addr, "job": "static", "team": "a"}, "type": "gauge", "help": "Served at /metrics/7.", "unit": ""}])
    );
    let (status, _) = get_json(&format!("{base}/api/v1/targets/metadata?metric=nope")).unwrap();
    assert_eq!(status, 404);

    // The SD file changes: a target is added, then the first one removed.
    std::fs::write(
        &a,
        json!([{"targets": [addr, other], "labels": {"f": "2"}}]).to_string(),
    )
    .unwrap();
    wait_for(Duration::from_secs(10), || {
        let f = active_in(&targets(&base, ""), "files");
        (f.len() == 2 && f.iter().all(|t| t["labels"]["f"] == "2")).then_some(())
    })
    .expect("the added target appears");
    std::fs::write(&a, json!([{"targets": [other]}]).to_string()).unwrap();
    let f = wait_for(Duration::from_secs(10), || {
        let f = active_in(&targets(&base, ""), "files");
        (f.len() == 1 && f[0]["labels"]["instance"] == other).then_some(f)
    })
    .expect("the removed target goes");
    assert_eq!(f[0]["scrapeUrl"], format!("http://{other}/metrics"));

    // A broken SD file keeps the last good targets and says why.
    std::fs::write(&a, "[{\"targets\": [").unwrap();
    let d = wait_for(Duration::from_secs(10), || {
        let d = targets(&base, "");
        d.get("discoveryErrors").is_some().then_some(d)
    })
    .expect("the error is shown");
    let errors = d["discoveryErrors"]["files"].as_array().unwrap();
    assert!(errors[0].as_str().unwrap().contains("a.json"), "{errors:?}");
    assert_eq!(active_in(&d, "files").len(), 1);
    let (_, metrics) = get_text(&format!("{base}/metrics")).unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("prometheus_sd_file_read_errors_total "))
        .expect("read error counter");
    assert_ne!(line, "prometheus_sd_file_read_errors_total 0", "{line}");
}
