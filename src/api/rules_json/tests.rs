//! JSON shape tests against Prometheus' field names and formats.

use super::*;
use crate::rules::file::{parse_rule_file, LoadOptions};
use crate::rules::group::EvalContext;
use crate::rules::testutil::OwnedSelectorQuerier;
use crate::store::{Store, StoreOptions};

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn setup() -> Vec<Arc<Group>> {
    let yaml = "groups:\n- name: a\n  interval: 30s\n  rules:\n  - record: r\n    expr: x\n    labels: {team: t1}\n  - alert: Hot\n    expr: x\n    for: 1m\n    labels: {team: t2}\n    annotations: {s: '{{ $value }}'}\n  - alert: Slow\n    expr: x\n    thresholds: {warning: 1, critical: 5, overrides: [{matchers: ['i=\"9\"'], warning: 10}]}\n- name: b\n  evaluation: on_scrape\n  rules:\n  - record: q\n    expr: x\n";
    let f = parse_rule_file("f.yml", yaml, LoadOptions::default()).unwrap();
    let store = Arc::new(Store::new(StoreOptions::default()));
    let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", "x"), ("i", "1")]));
    store.append(&s, 0, 3.0).unwrap();
    let q = OwnedSelectorQuerier(store.clone());
    let ext = Labels::empty();
    let ctx = EvalContext {
        store: &store,
        querier: &q,
        external_labels: &ext,
        external_url: "",
        default_query_offset_ms: 0,
    };
    let groups: Vec<Arc<Group>> = f
        .groups
        .into_iter()
        .map(|g| Arc::new(Group::new(g, 60_000)))
        .collect();
    groups[0].eval(1_500, &ctx);
    groups
}

#[test]
fn rules_have_prometheus_fields() {
    let groups = setup();
    let v = rules_json(&groups, &RulesFilter::default()).unwrap();
    let g = &v["groups"][0];
    assert_eq!(g["name"], "a");
    assert_eq!(g["file"], "f.yml");
    assert_eq!(g["interval"], 30.0);
    assert_eq!(g["limit"], 0);
    assert!(
        g.get("evaluation").is_none(),
        "interval groups look as in Prometheus"
    );
    assert_eq!(v["groups"][1]["evaluation"], "on_scrape");
    // Go's RFC 3339 with nanoseconds, trailing zeros trimmed, as Prometheus writes it.
    assert_eq!(g["lastEvaluation"], "1970-01-01T00:00:01.5Z");
    let rec = &g["rules"][0];
    assert_eq!(rec["type"], "recording");
    assert_eq!(rec["health"], "ok");
    assert_eq!(rec["labels"], json!({"team": "t1"}));
    assert!(rec.get("alerts").is_none() && rec.get("lastError").is_none());
    let hot = &g["rules"][1];
    assert_eq!(hot["type"], "alerting");
    assert_eq!(hot["state"], "pending");
    assert_eq!(hot["duration"], 60.0);
    assert_eq!(hot["keepFiringFor"], 0.0);
    assert_eq!(hot["query"], "x");
    let alert = &hot["alerts"][0];
    assert_eq!(
        alert["labels"],
        json!({"alertname": "Hot", "i": "1", "team": "t2"})
    );
    assert_eq!(alert["annotations"], json!({"s": "3"}));
    assert_eq!(alert["value"], "3e+00");
    assert_eq!(alert["activeAt"], "1970-01-01T00:00:01.5Z");
    let slow = &g["rules"][2];
    assert_eq!(slow["state"], "firing");
    assert_eq!(slow["alerts"][0]["labels"]["severity"], "warning");
    assert_eq!(slow["alerts"][0]["threshold"], 1.0);
    assert_eq!(
        slow["thresholds"],
        json!({"direction": "above", "warning": 1.0, "critical": 5.0, "overrides": [{"matchers": ["i=\"9\""], "warning": 10.0}]})
    );
    assert_eq!(v["groups"][1]["rules"][0]["health"], "unknown");
    assert_eq!(v["groups"][1]["lastEvaluation"], "0001-01-01T00:00:00Z");
}

#[test]
fn rules_filters() {
    let groups = setup();
    let run = |q: &[(&str, &str)]| {
        rules_json(&groups, &RulesFilter::from_params(&p(q)).unwrap()).unwrap()
    };
    let v = run(&[("type", "record")]);
    assert_eq!(v["groups"].as_array().unwrap().len(), 2);
    assert!(v["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["type"] == "recording"));
    let v = run(&[("rule_name[]", "Hot"), ("rule_name[]", "q")]);
    assert_eq!(v["groups"][0]["rules"][0]["name"], "Hot");
    assert_eq!(v["groups"][1]["rules"][0]["name"], "q");
    let v = run(&[("rule_group[]", "b")]);
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    let v = run(&[("match[]", "{team=\"t2\"}")]);
    assert_eq!(v["groups"][0]["rules"].as_array().unwrap().len(), 1);
    let v = run(&[("file[]", "other.yml")]);
    assert_eq!(v["groups"], json!([]));
    let v = run(&[("exclude_alerts", "true"), ("type", "alert")]);
    assert_eq!(v["groups"][0]["rules"][0]["alerts"], Value::Null);
    let v = run(&[("group_limit", "1")]);
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    let tok = v["groupNextToken"].as_str().unwrap().to_string();
    let v = run(&[("group_limit", "1"), ("group_next_token", &tok)]);
    assert_eq!(v["groups"][0]["name"], "b");
    assert!(v.get("groupNextToken").is_none());
    let e = RulesFilter::from_params(&p(&[("type", "x")])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter \"type\": not supported value \"x\""
    );
    assert!(RulesFilter::from_params(&p(&[("match[]", "{")])).is_err());
}

#[test]
fn alerts_endpoint_orders_firing_first() {
    let groups = setup();
    let v = alerts_json(&groups);
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["labels"]["alertname"], "Slow");
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[1]["state"], "pending");
}

#[test]
fn float_and_time_formats_match_go() {
    assert_eq!(crate::gostd::float::format_e_shortest(1.0), "1e+00");
    assert_eq!(crate::gostd::float::format_e_shortest(42.5), "4.25e+01");
    assert_eq!(crate::gostd::float::format_e_shortest(0.00012), "1.2e-04");
    assert_eq!(crate::gostd::float::format_e_shortest(1e100), "1e+100");
    assert_eq!(
        crate::gostd::float::format_e_shortest(f64::NEG_INFINITY),
        "-Inf"
    );
    assert_eq!(
        crate::gostd::json::time_ms_text(Some(0)),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        crate::gostd::json::time_ms_text(Some(1_700_000_000_123)),
        "2023-11-14T22:13:20.123Z"
    );
}

#[test]
fn history_params_and_json() {
    let q = history_query_from_params(&p(&[
        ("alertname", "Hot"),
        ("start", "10"),
        ("end", "2023-11-14T22:13:20Z"),
        ("match[]", "{team=\"t2\"}"),
    ]))
    .unwrap();
    assert_eq!(q.start_ms, Some(10_000));
    assert_eq!(q.end_ms, Some(1_700_000_000_000));
    assert_eq!(q.matcher_sets.len(), 1);
    assert!(history_query_from_params(&p(&[("start", "yesterday")])).is_err());
    let t = AlertTransition {
        rule: Arc::from("Slow"),
        group: Arc::from("f.yml;a"),
        labels: Labels::from_pairs([("alertname", "Slow")]),
        fingerprint: 255,
        from: AlertState::Firing,
        to: crate::rules::alert::Transition::Escalated,
        state: AlertState::Firing,
        severity: Some(crate::rules::Severity::Critical),
        value: 7.0,
        threshold: Some(5.0),
        annotations: vec![],
        resolve_reason: None,
        active_at: 0,
        at: 60_000,
    };
    let gone = AlertTransition {
        to: crate::rules::alert::Transition::Resolved,
        state: AlertState::Inactive,
        resolve_reason: Some(crate::rules::ResolveReason::DataMissing),
        ..t.clone()
    };
    let v = history_json(&[t, gone]);
    assert!(v["transitions"][0].get("resolveReason").is_none());
    assert_eq!(v["transitions"][1]["resolveReason"], "data_missing");
    let e = &v["transitions"][0];
    assert_eq!(e["to"], "escalated");
    assert_eq!(e["from"], "firing");
    assert_eq!(
        e["labels"],
        json!({"alertname": "Slow", "severity": "critical"})
    );
    assert_eq!(e["fingerprint"], "00000000000000ff");
    assert_eq!(e["at"], "1970-01-01T00:01:00Z");
}
