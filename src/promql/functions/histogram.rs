//! `histogram_quantile` and `histogram_fraction` over classic histograms
//! (series with an `le` label), with Prometheus' monotonicity fix and
//! warnings. The buffer holds float samples only, so the native-histogram
//! functions see no histograms and return nothing.

use crate::model::{Labels, LabelsBuilder};
use std::collections::HashMap;

use super::super::eval::{drop_metric_labels, Evaluator, Key, Out};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;
use super::quantile::{bucket_fraction, bucket_quantile, Bucket};
use crate::gostd::float::format_v as fmt_g;

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
    let inputs = args
        .iter()
        .map(|a| ev.eval(a).map(Val::into_matrix))
        .collect::<Result<Vec<_>, _>>()?;
    let multi = name == "histogram_quantiles";
    let vi = if multi { 0 } else { inputs.len() - 1 };
    let fraction = name == "histogram_fraction";
    let quantile_label = match args.get(1) {
        Some(Node::Str(s)) if multi => s.clone(),
        _ => String::new(),
    };
    let mut with_quantile: HashMap<(u32, usize), u32> = HashMap::new();
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
        let (lo, hi) = if fraction {
            (st.scalar(0), st.scalar(1))
        } else {
            (f64::NAN, f64::NAN)
        };
        let qs: Vec<f64> = if multi {
            (2..st.vecs.len()).map(|i| st.scalar(i)).collect()
        } else if fraction {
            vec![f64::NAN]
        } else {
            vec![st.scalar(0)]
        };
        if !fraction {
            for q in &qs {
                if q.is_nan() || !(0.0..=1.0).contains(q) {
                    ev.ctx.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        fmt_g(*q)
                    ));
                }
            }
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
        for (qi, &q) in qs.iter().enumerate() {
            for &g in &used {
                scratch.clear();
                scratch.extend_from_slice(&buckets[g as usize]);
                let v = if fraction {
                    bucket_fraction(lo, hi, &mut scratch)
                } else {
                    let (v, forced) = bucket_quantile(q, &mut scratch);
                    if forced {
                        let mut msg = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
                        if let Some(n) = table[g as usize].metric_name() {
                            msg.push_str(&format!(" for metric name \"{n}\""));
                        }
                        ev.ctx.info(msg);
                    }
                    v
                };
                let key = if multi {
                    match with_quantile.get(&(g, qi)) {
                        Some(&t) => t,
                        None => {
                            let mut b = LabelsBuilder::new(&table[g as usize]);
                            b.set(&quantile_label, &openmetrics_float(q));
                            table.push(b.labels());
                            let t = table.len() as u32 - 1;
                            with_quantile.insert((g, qi), t);
                            t
                        }
                    }
                } else {
                    g
                };
                out.push(Out {
                    key: Key::Table(key),
                    v,
                    drop_name: true,
                });
            }
        }
        Ok(())
    })
    .map(Val::Matrix)
}

/// A float as OpenMetrics writes it (`1.0`, `0.25`, `+Inf`).
fn openmetrics_float(f: f64) -> String {
    let s = fmt_g(f);
    if f.is_finite() && f == f.floor() && !s.contains(['e', '.']) {
        format!("{s}.0")
    } else {
        s
    }
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
