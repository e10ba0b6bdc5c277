//! `histogram_quantile` and `histogram_fraction` over classic histograms
//! (series with an `le` label), with Prometheus' monotonicity fix and
//! warnings. The buffer holds float samples only, so the native-histogram
//! functions see no histograms and return nothing.

use crate::model::Labels;
use std::collections::HashMap;

use super::super::eval::{drop_metric_labels, Evaluator, Key, Out};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;
use super::fmt_g;
use super::quantile::{bucket_fraction, bucket_quantile, Bucket};

/// Parses a float as Go's `strconv.ParseFloat` does for `le` values.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let neg = s.starts_with('-');
    let lower = t.to_ascii_lowercase();
    if (lower == "inf" || lower == "infinity") && s.len() - t.len() <= 1 {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" && s.len() == t.len() {
        return Some(f64::NAN);
    }
    if lower.starts_with("0x") {
        return None;
    }
    if s.is_empty() || s.contains('_') || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    s.parse().ok()
}

/// Evaluates `histogram_quantile(q, v)` or `histogram_fraction(lo, hi, v)`.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[Node]) -> Result<Val, EvalError> {
    if name == "histogram_quantiles" {
        return Ok(Val::Matrix(Vec::new()));
    }
    let inputs = args
        .iter()
        .map(|a| ev.eval(a).map(Val::into_matrix))
        .collect::<Result<Vec<_>, _>>()?;
    let vi = inputs.len() - 1;
    let fraction = name == "histogram_fraction";
    // Per input series: its group and its upper bound.
    let mut groups: HashMap<Labels, u32> = HashMap::new();
    let mut table: Vec<Labels> = Vec::new();
    let mut series_group: Vec<u32> = Vec::with_capacity(inputs[vi].len());
    let mut series_le: Vec<Option<f64>> = Vec::with_capacity(inputs[vi].len());
    for s in &inputs[vi] {
        let le = s.labels.get("le").and_then(parse_go_float);
        series_le.push(le);
        let key = s.labels.drop_names(&["le"]);
        let n = groups.len() as u32;
        let g = *groups.entry(key.clone()).or_insert_with(|| {
            table.push(if ev.delayed_names {
                key
            } else {
                drop_metric_labels(&key)
            });
            n
        });
        series_group.push(g);
    }
    let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); table.len()];
    let mut used: Vec<u32> = Vec::new();
    let delayed = ev.delayed_names;
    let mut scratch = Vec::new();
    ev.range_eval(inputs, &mut table, |st, table, out| {
        for g in &used {
            buckets[*g as usize].clear();
        }
        used.clear();
        let (lo, hi, q) = if fraction {
            (st.scalar(0), st.scalar(1), f64::NAN)
        } else {
            (f64::NAN, f64::NAN, st.scalar(0))
        };
        if !fraction && (q.is_nan() || !(0.0..=1.0).contains(&q)) {
            ev.ctx.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                fmt_g(q)
            ));
        }
        if st.vecs[vi].is_empty() {
            return Ok(());
        }
        for x in &st.vecs[vi] {
            let i = x.idx as usize;
            let Some(le) = series_le[i] else {
                let l = st.labels(vi, x.idx);
                let value = l.get("le").unwrap_or("");
                let msg = format!("bucket label \"le\" is missing or has a malformed value of \"{value}\"");
                match l.metric_name().filter(|_| delayed) {
                    Some(n) => ev.ctx.warn(format!("{msg} for metric name \"{n}\"")),
                    None => ev.ctx.warn(msg),
                }
                continue;
            };
            let g = series_group[i];
            if buckets[g as usize].is_empty() {
                used.push(g);
            }
            buckets[g as usize].push(Bucket {
                upper: le,
                count: x.v,
            });
        }
        for &g in &used {
            scratch.clear();
            scratch.extend_from_slice(&buckets[g as usize]);
            let v = if fraction {
                bucket_fraction(lo, hi, &mut scratch)
            } else {
                let (v, forced) = bucket_quantile(q, &mut scratch);
                if forced {
                    let name = table[g as usize].metric_name().map(str::to_string);
                    let mut msg = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                    if let Some(n) = name {
                        msg.push_str(&format!(" for metric name \"{n}\""));
                    }
                    ev.ctx.info(msg);
                }
                v
            };
            out.push(Out {
                key: Key::Table(g),
                v,
                drop_name: true,
            });
        }
        Ok(())
    })
    .map(Val::Matrix)
}

/// Functions defined only for native histograms: no float input qualifies.
pub(crate) fn native_only(ev: &Evaluator<'_>, args: &[Node]) -> Result<Val, EvalError> {
    for a in args {
        ev.eval(a)?;
    }
    Ok(Val::Matrix(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_parsing() {
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.5"), Some(0.5));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float(""), None);
        assert_eq!(parse_go_float("abc"), None);
    }
}
