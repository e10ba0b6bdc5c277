//! Issue 15: the API endpoints the Prometheus UI and Grafana call, against the real
//! Prometheus 3.5. `parse_query` trees are identical; `query_exemplars` answers and errors
//! are identical; `status/runtimeinfo` and `status/tsdb` have the same keys and JSON types,
//! and the same cardinality figures for series both servers scraped from one target.

mod common;

use common::{free_port, get_json, http, peers, spawn_watchfire, wait_for, Proc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// A value's shape: object keys with their shapes, arrays by their first element, else the
/// JSON type.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().take(1).map(shape).collect()),
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
    }
}

fn get(base: &str, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let resp = http()
        .get(format!("{base}{path}"))
        .query(params)
        .send()
        .expect("request");
    (resp.status().as_u16(), resp.text().unwrap_or_default())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `name → value` of one list of `/api/v1/status/tsdb`.
fn stat(data: &Value, list: &str, name: &str) -> Option<u64> {
    data[list].as_array()?.iter().find(|e| e["name"] == name)?["value"].as_u64()
}

const QUERIES: &[&str] = &[
    "up",
    r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1m)) / 3"#,
    "foo[5m:1m] @ 100",
    "histogram_quantile(0.9, x) > bool 2",
    "-a",
    r#""str""#,
    "a + on(x) group_left(y) b",
    "a * on(x) group_right b",
    "a and b",
    "a unless ignoring(c) b",
    "(a)",
    "a @ start()",
    "rate(a[1m] @ end())",
    "a offset -5m",
    "1e3",
    "0x10",
    "Inf",
    "NaN",
    "1.5e-7",
    r#"count_values("x", a)"#,
    "topk(3, a)",
    "quantile(0.5, a)",
    "sum without() (a)",
    "sum(a) by ()",
    r#"label_replace(a, "x", "y", "z", ".*")"#,
    "a[5m:]",
    "time()",
    "vector(1)",
    r#"{__name__="a",b!~"c"}"#,
    "a == ignoring(b) c",
    "a > bool on() c",
    "round(a)",
    "5m",
    "a[1h30m]",
    "absent_over_time(a[5m])",
    "max_over_time(rate(a[1m])[10m:30s] offset 2m)",
    "scalar(a) + 1",
    "-(a + b)",
    "a or vector(0)",
    r#"label_join(a, "d", ",", "x", "y")"#,
];

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
fn ui_api_endpoints_answer_as_prometheus() {
    let body =
        "# TYPE diff_metric gauge\ndiff_metric{diffk=\"a\"} 1\ndiff_metric{diffk=\"bb\"} 2\n";
    let target = common::target::serve_router(
        axum::Router::new().route("/metrics", axum::routing::get(move || async move { body })),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: diff\n    \
         static_configs: [{{targets: ['{target}']}}]\n"
    );
    std::fs::write(dir.path().join("watchfire.yml"), &config).unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let ours = format!("http://127.0.0.1:{port}");
    wait_for(Duration::from_secs(20), || {
        value_of(&ours, "count(diff_metric)").filter(|n| *n == 2.0)
    })
    .expect("watchfire scraped the target");

    // Checks that need no peer.
    let (status, text) = get(&ours, "/api/v1/status/tsdb", &[("limit", "0")]);
    assert_eq!(status, 400, "{text}");
    assert_eq!(json_of(&text)["error"], "limit must be a positive number");
    let (status, _) = get(&ours, "/api/v1/query_exemplars", &[("query", "1")]);
    assert_eq!(status, 204);

    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, &config).unwrap();
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
    wait_for(Duration::from_secs(30), || {
        value_of(&prom, "count(diff_metric)").filter(|n| *n == 2.0)
    })
    .expect("Prometheus scraped the target");

    // parse_query: identical trees (and identical answers for a broken query's status).
    for q in QUERIES {
        let (s1, theirs) = get(&prom, "/api/v1/parse_query", &[("query", q)]);
        let (s2, mine) = get(&ours, "/api/v1/parse_query", &[("query", q)]);
        assert_eq!(
            (s2, json_of(&mine)),
            (s1, json_of(&theirs)),
            "parse_query {q}"
        );
    }
    for bad in ["up{", "", "sum(", "a +"] {
        let (s1, theirs) = get(&prom, "/api/v1/parse_query", &[("query", bad)]);
        let (s2, mine) = get(&ours, "/api/v1/parse_query", &[("query", bad)]);
        assert_eq!(s2, s1, "parse_query {bad:?}: {mine}");
        assert_eq!(json_of(&mine)["errorType"], json_of(&theirs)["errorType"]);
    }

    // query_exemplars: answers, and the start/end checks word for word.
    let cases: &[&[(&str, &str)]] = &[
        &[("query", "diff_metric")],
        &[
            ("query", "rate(diff_metric[5m])"),
            ("start", "1"),
            ("end", "5"),
        ],
        &[("query", "1")],
        &[("query", "up"), ("start", "x")],
        &[("query", "up"), ("end", "x")],
        &[("query", "up"), ("start", "10"), ("end", "5")],
        &[("query", "up"), ("start", "2026-01-01T00:00:00Z")],
        &[("query", "up{")],
    ];
    for params in cases {
        let (s1, theirs) = get(&prom, "/api/v1/query_exemplars", params);
        let (s2, mine) = get(&ours, "/api/v1/query_exemplars", params);
        assert_eq!(s2, s1, "query_exemplars {params:?}: {mine}");
        let (theirs, mine) = (json_of(&theirs), json_of(&mine));
        if params.iter().any(|(k, _)| *k != "query") || s1 == 200 {
            assert_eq!(mine, theirs, "query_exemplars {params:?}");
        } else {
            assert_eq!(mine["errorType"], theirs["errorType"], "{params:?}");
        }
    }

    // runtimeinfo: the same keys and types.
    let (_, theirs) = get_json(&format!("{prom}/api/v1/status/runtimeinfo")).unwrap();
    let (_, mine) = get_json(&format!("{ours}/api/v1/status/runtimeinfo")).unwrap();
    assert_eq!(shape(&mine), shape(&theirs), "{mine}");
    assert_eq!(mine["data"]["reloadConfigSuccess"], true);
    assert_eq!(mine["data"]["storageRetention"], "15m");
    assert_eq!(mine["data"]["CWD"], theirs["data"]["CWD"]);

    // tsdb: the same keys and types, `limit` honoured, and the same figures for the
    // target's series and labels.
    let (_, theirs) = get_json(&format!("{prom}/api/v1/status/tsdb?limit=1000")).unwrap();
    let (_, mine) = get_json(&format!("{ours}/api/v1/status/tsdb?limit=1000")).unwrap();
    assert_eq!(shape(&mine), shape(&theirs), "{mine}");
    let (t, m) = (&theirs["data"], &mine["data"]);
    let figures: BTreeMap<&str, &str> = [
        ("seriesCountByMetricName", "diff_metric"),
        ("labelValueCountByLabelName", "diffk"),
        ("memoryInBytesByLabelName", "diffk"),
        ("seriesCountByLabelValuePair", "diffk=bb"),
        ("seriesCountByLabelValuePair", "job=diff"),
    ]
    .into_iter()
    .collect();
    for (list, name) in figures {
        let want = stat(t, list, name);
        assert!(want.is_some(), "Prometheus lists {name} in {list}");
        assert_eq!(stat(m, list, name), want, "{list} {name}");
    }
    let (_, two) = get_json(&format!("{ours}/api/v1/status/tsdb?limit=2")).unwrap();
    assert_eq!(
        two["data"]["seriesCountByLabelValuePair"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let head = &m["headStats"];
    assert!(head["numSeries"].as_u64().unwrap() >= 7, "{head}");
    assert!(
        head["minTime"].as_i64() <= head["maxTime"].as_i64(),
        "{head}"
    );
}
