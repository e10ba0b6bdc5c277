//! Group evaluation tests over a tiny querier that understands vector
//! selectors and number literals (the real PromQL engine is tested elsewhere).

use super::*;
use crate::model::{is_stale_nan, Sample};
use crate::rules::alert::Transition;
use crate::rules::file::{parse_rule_file, LoadOptions};
use crate::rules::nodata::ResolveReason;
use crate::rules::threshold::Severity;
use crate::store::StoreOptions;

struct SelectorQuerier<'a>(&'a Store);

impl RuleQuerier for SelectorQuerier<'_> {
    fn query(&self, expr: &Expr, t: i64) -> Result<Value, crate::promql::EvalError> {
        crate::rules::testutil::select_query(self.0, expr, t)
            .map_err(crate::promql::EvalError::Execution)
    }
}

fn group(yaml: &str) -> Group {
    let f = parse_rule_file("t.yml", yaml, LoadOptions::default()).expect("valid rules");
    Group::new(f.groups.into_iter().next().expect("one group"), 60_000)
}

fn put(store: &Store, labels: &[(&str, &str)], t: i64, v: f64) {
    let (s, _) = store.get_or_create(Labels::from_pairs(labels.iter().copied()));
    store.append(&s, t, v).unwrap();
}

fn last(store: &Store, labels: &[(&str, &str)]) -> Option<Sample> {
    let (s, _) = store.get_or_create(Labels::from_pairs(labels.iter().copied()));
    s.last()
}

fn eval(g: &Group, store: &Store, ts: i64) -> EvalOutcome {
    let q = SelectorQuerier(store);
    let ext = Labels::from_pairs([("dc", "eu")]);
    let ctx = EvalContext {
        store,
        querier: &q,
        external_labels: &ext,
        external_url: "http://wf",
        default_query_offset_ms: 0,
    };
    g.eval(ts, &ctx)
}

#[test]
fn later_rules_see_recorded_series() {
    let store = Store::new(StoreOptions::default());
    put(&store, &[("__name__", "x"), ("job", "a")], 0, 3.0);
    let g = group(
        "groups:\n- name: g\n  rules:\n  - record: y\n    expr: x\n    labels: {via: rec}\n  - record: z\n    expr: y\n",
    );
    let out = eval(&g, &store, 10_000);
    assert_eq!((out.evaluations, out.failures, out.samples), (2, 0, 2));
    let y = last(&store, &[("__name__", "y"), ("job", "a"), ("via", "rec")]).unwrap();
    assert_eq!((y.t, y.v), (10_000, 3.0));
    let z = last(&store, &[("__name__", "z"), ("job", "a"), ("via", "rec")]).unwrap();
    assert_eq!(z.v, 3.0);
    let st = g.snapshot();
    assert!(st.rules.iter().all(|r| r.health == Health::Ok));
}

#[test]
fn alerts_series_follow_the_state_machine() {
    let store = Store::new(StoreOptions::default());
    let g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up\n    for: 1m\n    labels: {severity: page}\n    annotations: {s: '{{ $labels.job }} is {{ $value }} in {{ $externalLabels.dc }}'}\n",
    );
    put(&store, &[("__name__", "up"), ("job", "a")], 0, 0.0);
    let out = eval(&g, &store, 0);
    assert_eq!(out.transitions.len(), 1);
    assert_eq!(out.transitions[0].to, Transition::Pending);
    assert_eq!(
        out.transitions[0].annotations,
        vec![("s".into(), "a is 0 in eu".into())]
    );
    let pending = [
        ("__name__", "ALERTS"),
        ("alertname", "Down"),
        ("alertstate", "pending"),
        ("job", "a"),
        ("severity", "page"),
    ];
    assert_eq!(last(&store, &pending).unwrap().v, 1.0);
    let for_state = [
        ("__name__", "ALERTS_FOR_STATE"),
        ("alertname", "Down"),
        ("job", "a"),
        ("severity", "page"),
    ];
    put(&store, &[("__name__", "up"), ("job", "a")], 60_000, 0.0);
    let out = eval(&g, &store, 60_000);
    assert_eq!(out.transitions[0].to, Transition::Firing);
    let stale = last(&store, &pending).unwrap();
    assert!(
        is_stale_nan(stale.v) && stale.t == 60_000,
        "pending series goes stale"
    );
    let firing = [
        ("__name__", "ALERTS"),
        ("alertname", "Down"),
        ("alertstate", "firing"),
        ("job", "a"),
        ("severity", "page"),
    ];
    assert_eq!(last(&store, &firing).unwrap().v, 1.0);
    assert_eq!(last(&store, &for_state).unwrap().v, 0.0);
    // The series vanishes (older than the 5m lookback): resolved, ALERTS stale.
    let out = eval(&g, &store, 400_000);
    assert_eq!(out.transitions[0].to, Transition::Resolved);
    assert!(is_stale_nan(last(&store, &firing).unwrap().v));
    assert_eq!(g.snapshot().rules[0].state_str(), "inactive");
}

#[test]
fn threshold_rule_moves_severity_on_one_alert() {
    let store = Store::new(StoreOptions::default());
    let g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Slow\n    expr: latency\n    thresholds: {warning: 2s, critical: 5s, clear: 1.8}\n    annotations: {s: '{{ $severity }} over {{ $threshold }}'}\n",
    );
    let l = [("__name__", "latency"), ("module", "m")];
    put(&store, &l, 0, 1.0);
    assert!(eval(&g, &store, 0).transitions.is_empty());
    put(&store, &l, 60_000, 3.0);
    let t = eval(&g, &store, 60_000).transitions;
    assert_eq!(
        (t[0].to, t[0].severity),
        (Transition::Firing, Some(Severity::Warning))
    );
    assert_eq!(t[0].annotations[0].1, "warning over 2");
    put(&store, &l, 120_000, 7.0);
    let t = eval(&g, &store, 120_000).transitions;
    assert_eq!(
        (t[0].to, t[0].severity),
        (Transition::Escalated, Some(Severity::Critical))
    );
    assert_eq!(t[0].threshold, Some(5.0));
    let warn = [
        ("__name__", "ALERTS"),
        ("alertname", "Slow"),
        ("alertstate", "firing"),
        ("module", "m"),
        ("severity", "warning"),
    ];
    let crit = [
        ("__name__", "ALERTS"),
        ("alertname", "Slow"),
        ("alertstate", "firing"),
        ("module", "m"),
        ("severity", "critical"),
    ];
    assert!(is_stale_nan(last(&store, &warn).unwrap().v));
    assert_eq!(last(&store, &crit).unwrap().v, 1.0);
    put(&store, &l, 180_000, 1.9);
    assert_eq!(
        eval(&g, &store, 180_000).transitions[0].to,
        Transition::Deescalated
    );
    put(&store, &l, 240_000, 1.0);
    assert_eq!(
        eval(&g, &store, 240_000).transitions[0].to,
        Transition::Resolved
    );
}

#[test]
fn query_offset_shifts_query_and_output() {
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  query_offset: 1m\n  rules:\n  - record: y\n    expr: x\n");
    put(&store, &[("__name__", "x")], 0, 1.0);
    put(&store, &[("__name__", "x")], 100_000, 2.0);
    eval(&g, &store, 120_000);
    let y = last(&store, &[("__name__", "y")]).unwrap();
    assert_eq!((y.t, y.v), (60_000, 1.0));
}

#[test]
fn errors_set_health_and_keep_previous_series() {
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  limit: 1\n  rules:\n  - record: y\n    expr: x\n  - alert: A\n    expr: x\n");
    put(&store, &[("__name__", "x"), ("i", "1")], 0, 1.0);
    put(&store, &[("__name__", "x"), ("i", "2")], 0, 1.0);
    let out = eval(&g, &store, 0);
    assert_eq!(out.failures, 2);
    let st = g.snapshot();
    assert_eq!(
        st.rules[0].last_error.as_deref(),
        Some("exceeded limit of 1 with 2 series")
    );
    assert_eq!(
        st.rules[1].last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert_eq!(st.rules[1].health.as_str(), "err");
}

#[test]
fn unsupported_results_and_duplicates_fail_the_rule() {
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  rules:\n  - record: y\n    expr: x\n    labels: {i: same}\n  - alert: B\n    expr: rate(x[1m])\n");
    put(&store, &[("__name__", "x"), ("i", "1")], 0, 1.0);
    put(&store, &[("__name__", "x"), ("i", "2")], 0, 1.0);
    eval(&g, &store, 0);
    let st = g.snapshot();
    assert!(st.rules[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("same labelset"));
    assert!(st.rules[1].last_error.is_some());
}

#[test]
fn reload_carries_alert_state_and_marks_removed_series_stale() {
    let store = Store::new(StoreOptions::default());
    let old = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    for: 5m\n  - record: gone\n    expr: x\n");
    put(&store, &[("__name__", "x")], 0, 1.0);
    eval(&old, &store, 0);
    let new = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x\n    for: 5m\n");
    assert!(!new.same_definition(&old));
    new.copy_state_from(&old);
    put(&store, &[("__name__", "x")], 300_000, 1.0);
    let out = eval(&new, &store, 300_000);
    assert_eq!(
        out.transitions[0].to,
        Transition::Firing,
        "active_at carried over"
    );
    assert!(is_stale_nan(
        last(&store, &[("__name__", "gone")]).unwrap().v
    ));
}

fn reasons(out: &EvalOutcome) -> Vec<(Transition, Option<ResolveReason>)> {
    out.transitions
        .iter()
        .map(|t| (t.to, t.resolve_reason))
        .collect()
}

#[test]
fn plain_rule_holds_while_its_target_is_down_and_recovers_when_up() {
    use crate::model::STALE_NAN;
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp\n");
    let temp = [("__name__", "temp"), ("instance", "h:1"), ("job", "app")];
    let up = [("__name__", "up"), ("instance", "h:1"), ("job", "app")];
    put(&store, &temp, 0, 90.0);
    put(&store, &up, 0, 1.0);
    assert_eq!(reasons(&eval(&g, &store, 0)), [(Transition::Firing, None)]);
    // The scrape fails: series stale, up 0. The alert is held (keep_state).
    put(&store, &temp, 30_000, STALE_NAN);
    put(&store, &up, 30_000, 0.0);
    assert!(eval(&g, &store, 60_000).transitions.is_empty());
    assert_eq!(g.snapshot().rules[0].alerts.max_state(), AlertState::Firing);
    // The target is back and the series is gone: recovered, as in Prometheus.
    put(&store, &up, 90_000, 1.0);
    assert_eq!(
        reasons(&eval(&g, &store, 120_000)),
        [(Transition::Resolved, Some(ResolveReason::Recovered))]
    );
}

#[test]
fn plain_rule_without_target_information_resolves_as_prometheus() {
    use crate::model::STALE_NAN;
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp\n");
    let temp = [("__name__", "temp"), ("instance", "h:1"), ("job", "app")];
    put(&store, &temp, 0, 90.0);
    eval(&g, &store, 0);
    put(&store, &temp, 30_000, STALE_NAN);
    assert_eq!(
        reasons(&eval(&g, &store, 60_000)),
        [(Transition::Resolved, Some(ResolveReason::Recovered))]
    );
}

#[test]
fn threshold_rule_absence_is_missing_data_but_a_low_value_is_recovery() {
    use crate::model::STALE_NAN;
    let store = Store::new(StoreOptions::default());
    let g = group("groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp\n    thresholds: {warning: 50}\n");
    let a = [("__name__", "temp"), ("instance", "a:1"), ("job", "app")];
    let b = [("__name__", "temp"), ("instance", "b:1"), ("job", "app")];
    put(&store, &a, 0, 90.0);
    put(&store, &b, 0, 90.0);
    assert_eq!(eval(&g, &store, 0).transitions.len(), 2);
    // a goes quiet; b recovers below the level.
    put(&store, &a, 30_000, STALE_NAN);
    put(&store, &b, 30_000, 10.0);
    let out = eval(&g, &store, 60_000);
    assert_eq!(
        reasons(&out),
        [(Transition::Resolved, Some(ResolveReason::Recovered))]
    );
    assert_eq!(out.transitions[0].labels.get("instance"), Some("b:1"));
    // The default bound: five evaluation intervals (the group's is 1m).
    for t in 2..=5 {
        assert!(eval(&g, &store, t * 60_000).transitions.is_empty());
    }
    assert_eq!(
        reasons(&eval(&g, &store, 6 * 60_000)),
        [(Transition::Resolved, Some(ResolveReason::DataMissing))]
    );
}

/// A datasource stand-in: `up{job="a"} 0` for the rule, an `ALERTS_FOR_STATE` series (with
/// an external label) for the restore query, or a failure when `down`.
struct FakeDatasource {
    down: std::sync::atomic::AtomicBool,
    texts: Mutex<Vec<String>>,
}

impl RuleQuerier for FakeDatasource {
    fn query(&self, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        self.query_text(&expr.to_string(), expr, t)
    }

    fn query_text(&self, text: &str, _: &Expr, t: i64) -> Result<Value, EvalError> {
        self.texts.lock().push(text.to_string());
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(EvalError::Execution(
                "datasource \"ds\": connection refused".into(),
            ));
        }
        let labels = if text.starts_with("last_over_time(ALERTS_FOR_STATE") {
            Labels::from_pairs([
                ("__name__", "ALERTS_FOR_STATE"),
                ("alertname", "Down"),
                ("dc", "eu"),
                ("job", "a"),
            ])
        } else {
            Labels::from_pairs([("__name__", "up"), ("job", "a")])
        };
        let v = if text.starts_with("last_over_time") {
            100.0
        } else {
            0.0
        };
        Ok(Value::Vector(vec![crate::promql::InstantSample {
            labels,
            t,
            v,
        }]))
    }
}

#[test]
fn datasource_groups_restore_for_state_and_keep_alerts_through_failures() {
    let store = Store::new(StoreOptions::default());
    let g = group(
        "groups:\n- name: g\n  datasource: ds\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 10m\n",
    );
    let ds = FakeDatasource {
        down: Default::default(),
        texts: Mutex::new(Vec::new()),
    };
    let ext = Labels::from_pairs([("dc", "eu")]);
    let ctx = EvalContext {
        store: &store,
        querier: &ds,
        external_labels: &ext,
        external_url: "",
        default_query_offset_ms: 0,
    };
    let out = g.eval(1_000_000, &ctx);
    assert_eq!(out.transitions[0].to, Transition::Pending);
    assert!(g.take_remote_restore());
    assert!(!g.take_remote_restore(), "restored once");
    let moved = g
        .restore_for_state(&ds, 1_000_000, 3_600_000, &ext)
        .unwrap();
    assert_eq!(moved, 1);
    assert_eq!(
        ds.texts.lock().last().unwrap(),
        r#"last_over_time(ALERTS_FOR_STATE{alertname="Down"}[3600s])"#
    );
    assert_eq!(
        ds.texts.lock()[0],
        "up == 0",
        "the expression is sent as written"
    );
    // 10m after the restored activeAt (100 s): firing at the next evaluation.
    let out = g.eval(1_060_000, &ctx);
    assert_eq!(out.transitions[0].to, Transition::Firing);
    assert_eq!(out.transitions[0].active_at, 100_000);
    // The datasource fails: the rule is unhealthy, the alert keeps firing, no transition.
    ds.down.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in [1_120_000, 1_180_000, 1_240_000] {
        let out = g.eval(t, &ctx);
        assert!(out.transitions.is_empty());
        assert_eq!(out.failures, 1);
    }
    let st = g.snapshot();
    assert_eq!(st.rules[0].health, Health::Err);
    assert_eq!(
        st.rules[0].last_error.as_deref(),
        Some("datasource \"ds\": connection refused")
    );
    assert_eq!(st.rules[0].alerts.max_state(), AlertState::Firing);
    // A group replacing an earlier version of itself does not restore again.
    let g2 = group(
        "groups:\n- name: g\n  datasource: ds\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 10m\n",
    );
    g2.copy_state_from(&g);
    assert!(!g2.take_remote_restore());
}

/// The 12 standard threshold rules (`shared/bench/rules/thresholds.prom.yml`, annotations
/// shortened) and a group whose rules read what earlier rules of the same evaluation wrote.
const SHARED_RULES: &str = r#"
groups:
  - name: module-response-time
    rules:
      - alert: ModuleResponseTimeP95High
        expr: histogram_quantile(0.95, sum by (module, le) (rate(http_request_duration_seconds_bucket[5m]))) > 2
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.module }} {{ $value | humanizeDuration }}"}
      - alert: ModuleResponseTimeP95High
        expr: histogram_quantile(0.95, sum by (module, le) (rate(http_request_duration_seconds_bucket[5m]))) > 5
        labels: {severity: critical}
  - name: module-error-rate
    rules:
      - alert: ModuleErrorRateHigh
        expr: 100 * sum by (module) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (module) (rate(http_requests_total[5m])) > 5
        labels: {severity: warning}
      - alert: ModuleErrorRateHigh
        expr: 100 * sum by (module) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (module) (rate(http_requests_total[5m])) > 10
        labels: {severity: critical}
  - name: module-cpu
    rules:
      - alert: ModuleCPUUsageHigh
        expr: 100 * rate(process_cpu_seconds_total[5m]) / module_cpu_limit_cores > 80
        labels: {severity: warning}
      - alert: ModuleCPUUsageHigh
        expr: 100 * rate(process_cpu_seconds_total[5m]) / module_cpu_limit_cores > 95
        labels: {severity: critical}
  - name: module-memory
    rules:
      - alert: ModuleMemoryUsageHigh
        expr: 100 * process_resident_memory_bytes / module_memory_limit_bytes > 85
        labels: {severity: warning}
      - alert: ModuleMemoryUsageHigh
        expr: 100 * process_resident_memory_bytes / module_memory_limit_bytes > 95
        labels: {severity: critical}
  - name: module-throughput
    rules:
      - alert: ModuleThroughputLow
        expr: sum by (module) (rate(http_requests_total[5m])) < 100
        labels: {severity: warning}
      - alert: ModuleThroughputLow
        expr: sum by (module) (rate(http_requests_total[5m])) < 50
        labels: {severity: critical}
  - name: module-goroutines
    rules:
      - alert: ModuleGoroutinesHigh
        expr: go_goroutines > 1000
        labels: {severity: warning}
      - alert: ModuleGoroutinesHigh
        expr: go_goroutines > 2000
        labels: {severity: critical}
  - name: reads-own-writes
    rules:
      - record: module:before
        expr: module:rate5m
      - record: module:rate5m
        expr: sum by (module) (rate(http_requests_total[5m]))
      - record: module:after
        expr: module:rate5m * 2
      - alert: Busy
        expr: module:rate5m > 40
        annotations:
          total: '{{ with query "sum(module:rate5m)" }}{{ . | first | value }}{{ end }}'
      - record: alerts:count
        expr: count(ALERTS{alertname="Busy"})
      - record: module:after2
        expr: module:rate5m + 1
"#;

/// A fleet of modules whose rates, latencies, CPU, memory and goroutines wander across the
/// rules' levels, sampled every 5 s for 10 minutes; a few series go stale.
fn fleet(seed: u64) -> Store {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let store = Store::new(StoreOptions { retention_ms: None });
    let buckets = ["0.1", "0.5", "1", "2.5", "5", "10", "+Inf"];
    for m in 0..6 {
        let module = format!("m{m}");
        for i in 0..3 {
            let instance = format!("i{i}");
            let base = [("module", module.as_str()), ("instance", instance.as_str())];
            let series = |name: &str, extra: &[(&str, &str)]| {
                let labels = Labels::from_pairs(
                    base.iter()
                        .copied()
                        .chain([("__name__", name)])
                        .chain(extra.iter().copied()),
                );
                store.get_or_create(labels).0
            };
            let mut counters: Vec<(crate::store::SeriesRef, f64)> = Vec::new();
            for code in ["200", "500", "503"] {
                counters.push((series("http_requests_total", &[("code", code)]), 0.0));
            }
            for le in buckets {
                counters.push((
                    series("http_request_duration_seconds_bucket", &[("le", le)]),
                    0.0,
                ));
            }
            counters.push((series("process_cpu_seconds_total", &[]), 0.0));
            let gauges = [
                series("module_cpu_limit_cores", &[]),
                series("process_resident_memory_bytes", &[]),
                series("module_memory_limit_bytes", &[]),
                series("go_goroutines", &[]),
            ];
            let ends_early = rng.random_bool(0.2);
            for k in 0..=120i64 {
                let t = k * 5_000 + rng.random_range(0..500);
                if ends_early && k == 100 {
                    for (s, _) in &counters {
                        store.append(s, t, STALE_NAN).unwrap();
                    }
                    break;
                }
                for (n, (s, v)) in counters.iter_mut().enumerate() {
                    let step = match n {
                        0 => rng.random_range(100.0..600.0),
                        1 | 2 => rng.random_range(0.0..60.0),
                        10 => rng.random_range(3.0..5.0),
                        _ => rng.random_range(0.0..300.0) * (n as f64 - 2.0),
                    };
                    *v = if rng.random_bool(0.01) {
                        0.0
                    } else {
                        *v + step
                    };
                    store.append(s, t, *v).unwrap();
                }
                let values = [
                    1.0,
                    rng.random_range(5e8..1e9),
                    1e9,
                    rng.random_range(500.0..2500.0),
                ];
                for (s, v) in gauges.iter().zip(values) {
                    store.append(s, t, v).unwrap();
                }
            }
        }
    }
    store
}

/// The engine querier without its per-evaluation sharing.
struct PlainQuerier<'a>(EngineQuerier<'a>);

impl RuleQuerier for PlainQuerier<'_> {
    fn query(&self, expr: &Expr, t: i64) -> Result<Value, crate::promql::EvalError> {
        self.0.query(expr, t)
    }
}

/// Everything in a store, values as bits.
fn dump(store: &Store) -> Vec<String> {
    let mut out: Vec<String> = store
        .all_series()
        .iter()
        .map(|s| {
            let mut buf = Vec::new();
            s.samples_in(i64::MIN, i64::MAX, &mut buf);
            let pts: Vec<String> = buf
                .iter()
                .map(|p| format!("{}:{:x}", p.t, p.v.to_bits()))
                .collect();
            format!("{:?} {}", s.labels(), pts.join(","))
        })
        .collect();
    out.sort();
    out
}

/// The standard threshold rules and rules reading their own group's output give the same
/// transitions, rule states and written series with selections shared as without.
#[test]
fn shared_selections_change_nothing() {
    let engine = crate::promql::Engine::default();
    for seed in 0..3 {
        let runs: Vec<(Vec<String>, Vec<String>)> = [false, true]
            .into_iter()
            .map(|shared| {
                let store = fleet(seed);
                let file = parse_rule_file("t.yml", SHARED_RULES, LoadOptions::default())
                    .expect("valid rules");
                let groups: Vec<Group> = file
                    .groups
                    .into_iter()
                    .map(|g| Group::new(g, 5_000))
                    .collect();
                let q = EngineQuerier {
                    engine: &engine,
                    store: &store,
                };
                let plain = PlainQuerier(q);
                let querier: &dyn RuleQuerier = if shared { &q } else { &plain };
                let ext = Labels::empty();
                let ctx = EvalContext {
                    store: &store,
                    querier,
                    external_labels: &ext,
                    external_url: "http://wf",
                    default_query_offset_ms: 0,
                };
                let mut log = Vec::new();
                for k in 0..=40 {
                    let ts = 400_000 + k * 5_000;
                    for g in &groups {
                        let out = g.eval(ts, &ctx);
                        log.push(format!(
                            "{} {} {} {}",
                            g.name(),
                            out.evaluations,
                            out.failures,
                            out.samples
                        ));
                        // An alert set's own order is its hash map's, different in each run.
                        let mut transitions: Vec<String> =
                            out.transitions.iter().map(|t| format!("{t:?}")).collect();
                        transitions.sort();
                        log.extend(transitions);
                        g.with_state(|st| {
                            for r in &st.rules {
                                log.push(format!("{:?} {:?}", r.health, r.last_error));
                            }
                        });
                    }
                }
                if shared {
                    // Range functions carried their windows from one evaluation to the next.
                    let carried: u64 = groups.iter().map(|g| g.windows.stats().carried).sum();
                    assert!(carried > 0, "no window carried over");
                }
                (log, dump(&store))
            })
            .collect();
        for (what, plain, shared) in [
            ("outcomes", &runs[0].0, &runs[1].0),
            ("written series", &runs[0].1, &runs[1].1),
        ] {
            if let Some(i) =
                (0..plain.len().max(shared.len())).find(|&i| plain.get(i) != shared.get(i))
            {
                panic!(
                    "seed {seed}: {what} differ at {i}:\n{:?}\n{:?}",
                    plain.get(i),
                    shared.get(i)
                );
            }
        }
        let fired = runs[0].0.iter().filter(|l| l.contains("Firing")).count();
        assert!(fired > 0, "seed {seed}: no alert fired");
        assert!(
            runs[0].1.iter().any(|l| l.contains("alerts:count")),
            "seed {seed}: the own-writes group wrote nothing"
        );
    }
}
