//! One test group: load the input series step by step, evaluate every rule
//! group at each tick of `evaluation_interval`, check alerts during the
//! clock and PromQL expressions after it, as `promtool test rules` does.

use super::format::{AlertTest, PromqlTest, TestGroup};
use super::output::{indent_lines, labels_string};
use super::series::parse_values;
use crate::gostd::float::format_upper_e_shortest as go_float_upper_e;
use crate::gostd::text::duration_ms as go_duration;
use crate::model::{Labels, Sample};
use crate::promql::{Engine, EngineOptions, Value};
use crate::rules::alert::AlertState;
use crate::rules::duration::{format_duration, parse_duration};
use crate::rules::file::{GroupSpec, RuleKind};
use crate::rules::group::{EngineQuerier, EvalContext, Group};
use crate::rules::selector::parse_metric;
use crate::store::{SeriesRef, Store, StoreOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Settings shared by every group of a test file.
pub(crate) struct FileSettings<'a> {
    pub eval_interval_ms: i64,
    pub groups: &'a [GroupSpec],
    pub fuzzy_compare: bool,
}

type Pairs = Vec<(String, String)>;

/// An alert as compared: labels and annotations, both sorted.
type LabelsAndAnnotations = (Pairs, Pairs);

fn pairs_of(l: &Labels) -> Pairs {
    l.iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect()
}

fn map_pairs(m: &Option<BTreeMap<String, Option<String>>>) -> Pairs {
    m.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect()
}

fn duration_field(s: &Option<String>) -> Result<i64, String> {
    match s {
        None => Ok(0),
        Some(s) => parse_duration(s),
    }
}

/// The engine promtool uses for unit tests: 5m lookback, 10000 samples,
/// subqueries without a step at `evaluation_interval`.
fn engine(eval_interval_ms: i64) -> Engine {
    Engine::new(EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        timeout: Duration::from_secs(100),
        max_samples: 10_000,
        ..EngineOptions::default()
    })
    .with_default_subquery_step(eval_interval_ms)
}

struct Input {
    series: SeriesRef,
    samples: Vec<Sample>,
    next: usize,
}

/// Runs one test group; returns the error texts (empty: passed).
pub(crate) fn run_group(tg: &TestGroup, fs: &FileSettings<'_>) -> Vec<String> {
    let interval_ms = match &tg.interval {
        None => fs.eval_interval_ms,
        Some(s) => match parse_duration(s) {
            Ok(0) => fs.eval_interval_ms,
            Ok(ms) => ms,
            Err(e) => return vec![e],
        },
    };
    let mint = tg.start_timestamp.map(|s| s.0).unwrap_or(0);
    let store = Store::new(StoreOptions::default());
    let mut inputs = Vec::new();
    for is in tg.input_series.iter().flatten() {
        let series = is.series.clone().unwrap_or_default();
        let labels = match parse_metric(&series) {
            Ok(l) => l,
            Err(e) => return vec![format!("{e} (series {series:?})")],
        };
        let points = match parse_values(is.values.as_deref().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => return vec![format!("{e} (series {series:?})")],
        };
        let samples = points
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|v| Sample::new(mint + i as i64 * interval_ms, v)))
            .collect();
        let (series, created) = store.get_or_create(labels);
        if !created {
            return vec![format!(
                "duplicate input series {series:?}",
                series = series.labels().to_string()
            )];
        }
        inputs.push(Input {
            series,
            samples,
            next: 0,
        });
    }

    let mut alert_tests: BTreeMap<i64, Vec<&AlertTest>> = BTreeMap::new();
    let mut max_eval = 0i64;
    for at in tg.alert_rule_test.iter().flatten() {
        let t = match duration_field(&at.eval_time) {
            Ok(t) => t,
            Err(e) => return vec![e],
        };
        if at.alertname.as_deref().unwrap_or("").is_empty() {
            let in_group = tg
                .name
                .as_ref()
                .map(|n| format!(" (in TestGroup {n})"))
                .unwrap_or_default();
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                format_duration(t)
            )];
        }
        max_eval = max_eval.max(t);
        alert_tests.entry(t).or_default().push(at);
    }
    let mut promql_times = Vec::new();
    for pt in tg.promql_expr_test.iter().flatten() {
        match duration_field(&pt.eval_time) {
            Ok(t) => {
                max_eval = max_eval.max(t);
                promql_times.push(t);
            }
            Err(e) => return vec![e],
        }
    }

    let groups: Vec<Group> = fs
        .groups
        .iter()
        .cloned()
        .map(|g| Group::new(g, interval_ms))
        .collect();
    let ext_labels = Labels::from_pairs(map_pairs(&tg.external_labels));
    let ext_url = tg.external_url.clone().unwrap_or_default();
    let engine = engine(fs.eval_interval_ms);
    let querier = EngineQuerier {
        engine: &engine,
        store: &store,
    };
    let ctx = EvalContext {
        store: &store,
        querier: &querier,
        external_labels: &ext_labels,
        external_url: &ext_url,
        default_query_offset_ms: 0,
    };
    let test_name = tg
        .name
        .as_ref()
        .map(|n| format!("    name: {n},\n"))
        .unwrap_or_default();

    let mut errs = Vec::new();
    let maxt = mint.saturating_add(max_eval);
    let mut pending_alert_times: Vec<i64> = alert_tests.keys().copied().collect();
    pending_alert_times.reverse();
    let mut ts = mint;
    while ts <= maxt {
        for inp in inputs.iter_mut() {
            while let Some(s) = inp.samples.get(inp.next).filter(|s| s.t <= ts) {
                if let Err(e) = store.append(&inp.series, s.t, s.v) {
                    errs.push(format!("loading input series {}: {e}", inp.series.labels()));
                }
                inp.next += 1;
            }
        }
        let mut eval_errs = Vec::new();
        for g in &groups {
            g.eval(ts, &ctx);
            g.with_state(|st| {
                for r in &st.rules {
                    if let Some(e) = &r.last_error {
                        eval_errs.push(format!(
                            "    rule: {}, time: {}, err: {e}",
                            r.spec.name,
                            go_duration(ts)
                        ));
                    }
                }
            });
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        while let Some(&t) = pending_alert_times.last() {
            if !(ts - mint <= t && t < ts + fs.eval_interval_ms - mint) {
                break;
            }
            pending_alert_times.pop();
            for at in &alert_tests[&t] {
                if let Some(e) = check_alerts(at, t, &groups, &test_name) {
                    errs.push(e);
                }
            }
        }
        match ts.checked_add(fs.eval_interval_ms) {
            Some(n) => ts = n,
            None => break,
        }
    }

    for (pt, t) in tg.promql_expr_test.iter().flatten().zip(promql_times) {
        if let Some(e) = check_promql(pt, mint + t, t, &engine, &store, fs.fuzzy_compare) {
            errs.push(e);
        }
    }
    errs
}

fn alerts_string(list: &[LabelsAndAnnotations]) -> String {
    if list.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(l),
            labels_string(a)
        );
        s.push_str(&format!("\n{i}:{}", indent_lines(&one, "  ")));
    }
    s.push_str("\n]");
    s
}

fn check_alerts(at: &AlertTest, t: i64, groups: &[Group], test_name: &str) -> Option<String> {
    let name = at.alertname.as_deref().unwrap_or("");
    let mut got: Vec<LabelsAndAnnotations> = Vec::new();
    for g in groups {
        g.with_state(|st| {
            for r in st
                .rules
                .iter()
                .filter(|r| r.spec.kind == RuleKind::Alerting && r.spec.name == name)
            {
                for a in r
                    .alerts
                    .iter()
                    .filter(|a| a.state == AlertState::Firing && a.resolved_at.is_none())
                {
                    got.push((pairs_of(&a.public_labels()), a.annotations.clone()));
                }
            }
        });
    }
    let mut exp: Vec<LabelsAndAnnotations> = at
        .exp_alerts
        .iter()
        .flatten()
        .map(|e| {
            let mut l: BTreeSet<(String, String)> = map_pairs(&e.exp_labels)
                .into_iter()
                .filter(|(k, _)| k != "alertname")
                .collect();
            l.insert(("alertname".into(), name.into()));
            (l.into_iter().collect(), map_pairs(&e.exp_annotations))
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return None;
    }
    let ind = "            ";
    Some(format!(
        "{test_name}    alertname: {name}, time: {}, \n        exp:{}, \n        got:{}",
        format_duration(t),
        indent_lines(&alerts_string(&exp), ind),
        indent_lines(&alerts_string(&got), ind)
    ))
}

fn floats_equal(a: f64, b: f64, fuzzy: bool) -> bool {
    if a == b {
        return true;
    }
    fuzzy
        && !a.is_nan()
        && !b.is_nan()
        && (next_toward(a, f64::INFINITY) == b || next_toward(a, f64::NEG_INFINITY) == b)
}

/// Go's `math.Nextafter(x, y)` for finite x.
fn next_toward(x: f64, y: f64) -> f64 {
    if x.is_nan() || x == y {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1).copysign(y - x);
    }
    let bits = x.to_bits();
    let up = (y > x) == (x > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

fn samples_string(v: &[(Pairs, f64)]) -> String {
    if v.is_empty() {
        return "nil".into();
    }
    v.iter()
        .map(|(l, f)| format!("{} {}", labels_string(l), go_float_upper_e(*f)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_promql(
    pt: &PromqlTest,
    at: i64,
    rel: i64,
    engine: &Engine,
    store: &Store,
    fuzzy: bool,
) -> Option<String> {
    let expr_text = pt.expr.clone().unwrap_or_default();
    let head = format!(
        "    expr: {}, time: {}",
        crate::gostd::text::quote(&expr_text),
        format_duration(rel)
    );
    let result = crate::promql::parse(&expr_text)
        .map_err(|e| e.message)
        .and_then(|e| {
            engine
                .instant_query(store, &e, at)
                .map_err(|e| e.to_string())
        })
        .and_then(|r| match r.value {
            Value::Vector(v) => Ok(v.into_iter().map(|s| (pairs_of(&s.labels), s.v)).collect()),
            Value::Scalar { v, .. } => Ok(vec![(Vec::new(), v)]),
            _ => Err("rule result is not a vector or scalar".to_string()),
        });
    let mut got: Vec<(Pairs, f64)> = match result {
        Ok(g) => g,
        Err(e) => return Some(format!("{head}, err: {e}")),
    };
    let mut exp = Vec::new();
    for s in pt.exp_samples.iter().flatten() {
        let labels = s.labels.clone().unwrap_or_default();
        if s.histogram.as_deref().is_some_and(|h| !h.is_empty()) {
            return Some(format!(
                "{head}, err: labels {labels:?}: native histograms are not supported"
            ));
        }
        match parse_metric(&labels) {
            Ok(l) => exp.push((pairs_of(&l), s.value.unwrap_or(0.0))),
            Err(e) => return Some(format!("{head}, err: labels {labels:?}: {e}")),
        }
    }
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let same = exp.len() == got.len()
        && exp
            .iter()
            .zip(&got)
            .all(|(e, g)| e.0 == g.0 && floats_equal(e.1, g.1, fuzzy));
    if same {
        return None;
    }
    Some(format!(
        "{head},\n        exp: {}\n        got: {}",
        samples_string(&exp),
        samples_string(&got)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_compare_allows_one_ulp() {
        let three = 3.0f64;
        assert!(floats_equal(three, 3.0000000000000004, true));
        assert!(floats_equal(three, 2.9999999999999996, true));
        assert!(!floats_equal(three, 3.0000000000000013, true));
        assert!(!floats_equal(three, 3.0000000000000004, false));
        assert!(!floats_equal(f64::NAN, f64::NAN, true));
    }

    #[test]
    fn alert_lists_print_like_promtool() {
        let one = vec![(
            vec![("alertname".to_string(), "Test".to_string())],
            Vec::new(),
        )];
        assert_eq!(
            alerts_string(&one),
            "[\n0:\n  Labels:{alertname=\"Test\"}\n  Annotations:{}\n]"
        );
        assert_eq!(alerts_string(&[]), "[]");
    }
}
