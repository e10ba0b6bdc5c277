//! Comparing query results with expectations as the Go harness does.

use std::collections::{BTreeMap, HashMap};

use watchfire::model::{is_stale_nan, Labels};
use watchfire::promql::{self, QueryResult, Value};

use super::script::{Expect, Matcher};

/// Go's `almost.Equal` with the harness' epsilon, plus StaleNaN handling.
pub(crate) fn float_eq(a: f64, b: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < 1e-6 * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

pub(crate) fn matches(m: &Matcher, text: &str) -> bool {
    match m {
        Matcher::Exact(s) => s == text,
        Matcher::Regex(r) => regex::Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

/// Checks one query result against the expectations; `matrix_grid` is the
/// (start, step) of expected matrix points.
pub(crate) fn check_result(
    ex: &Expect,
    res: Result<QueryResult, String>,
    matrix_grid: Option<(i64, i64)>,
) -> Result<(), String> {
    if let Some(m) = &ex.fail {
        return match res {
            Ok(_) => Err("expected failure, query succeeded".into()),
            Err(e) => match m {
                Some(m) if !matches(m, &e) => Err(format!("error {e:?} does not match {m:?}")),
                _ => Ok(()),
            },
        };
    }
    let r = res.map_err(|e| format!("unexpected error: {e}"))?;
    if ex.warn && r.warnings.is_empty() {
        return Err("expected a warning, got none".into());
    }
    if ex.no_warn && !r.warnings.is_empty() {
        return Err(format!("expected no warning, got {:?}", r.warnings));
    }
    if ex.info && r.infos.is_empty() {
        return Err("expected an info annotation, got none".into());
    }
    if ex.no_info && !r.infos.is_empty() {
        return Err(format!("expected no info annotation, got {:?}", r.infos));
    }
    if let Some(s) = &ex.string {
        return match &r.value {
            Value::String { v, .. } if v == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    if let Some(x) = ex.scalar {
        return match r.value {
            Value::Scalar { v, .. } if float_eq(v, x) => Ok(()),
            other => Err(format!("expected scalar {x}, got {other:?}")),
        };
    }
    match &r.value {
        Value::Vector(samples) => {
            if matrix_grid.is_some() {
                return Err("expected a matrix, got a vector".into());
            }
            compare_vector(ex, samples)
        }
        Value::Matrix(series) => match matrix_grid {
            Some((start, step)) => compare_matrix(ex, series, start, step),
            None => Err("unexpected matrix result for an instant query".into()),
        },
        other => Err(format!("unexpected result {other:?}")),
    }
}

pub(crate) fn compare_vector(ex: &Expect, got: &[promql::InstantSample]) -> Result<(), String> {
    let mut expected: HashMap<&Labels, (usize, f64)> = HashMap::new();
    for (i, (l, vals)) in ex.series.iter().enumerate() {
        if vals.len() != 1 {
            return Err(format!(
                "expected exactly one value for {l} in an instant eval"
            ));
        }
        let Some(v) = vals[0] else {
            return Err(format!("expected value for {l} is blank"));
        };
        expected.insert(l, (i, v));
    }
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} samples, got {}: {}",
            expected.len(),
            got.len(),
            show_vector(got)
        ));
    }
    for (pos, s) in got.iter().enumerate() {
        let Some(&(i, v)) = expected.get(&s.labels) else {
            return Err(format!(
                "unexpected series {} in {}",
                s.labels,
                show_vector(got)
            ));
        };
        if ex.ordered && i != pos {
            return Err(format!(
                "series {} at position {pos}, expected {i}",
                s.labels
            ));
        }
        if !float_eq(v, s.v) {
            return Err(format!("value of {}: expected {v}, got {}", s.labels, s.v));
        }
    }
    Ok(())
}

pub(crate) fn show_vector(got: &[promql::InstantSample]) -> String {
    let items: Vec<String> = got
        .iter()
        .take(8)
        .map(|s| format!("{} => {}", s.labels, s.v))
        .collect();
    format!("[{}]", items.join(", "))
}

pub(crate) fn compare_matrix(
    ex: &Expect,
    got: &[promql::RangeSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    if got.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err("matrix result is not sorted by labels".into());
    }
    let mut expected: BTreeMap<&Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for (l, vals) in &ex.series {
        let pts: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|v| (start + k as i64 * step, v)))
            .collect();
        expected.insert(l, pts);
    }
    if got.len() != expected.len() {
        let names: Vec<String> = got.iter().take(8).map(|s| s.labels.to_string()).collect();
        return Err(format!(
            "expected {} series, got {}: {:?}",
            expected.len(),
            got.len(),
            names
        ));
    }
    for s in got {
        let Some(exp) = expected.get(&s.labels) else {
            return Err(format!("unexpected series {}", s.labels));
        };
        if exp.len() != s.samples.len() {
            return Err(format!(
                "series {}: expected {} points, got {}: {:?}",
                s.labels,
                exp.len(),
                s.samples.len(),
                s.samples.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>()
            ));
        }
        for ((t, v), p) in exp.iter().zip(&s.samples) {
            if *t != p.t || !float_eq(*v, p.v) {
                return Err(format!(
                    "series {}: expected ({t}, {v}), got ({}, {})",
                    s.labels, p.t, p.v
                ));
            }
        }
    }
    Ok(())
}
