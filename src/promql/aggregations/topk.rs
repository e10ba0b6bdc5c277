//! `topk`, `bottomk`, `limitk` and `limit_ratio`: aggregations that keep
//! input series (with their labels) instead of building group series.

use crate::model::Labels;

use super::super::eval::{Accum, Evaluator, Key, Out};
use super::super::plan::AggOp;
use super::super::types::Matrix;
use super::super::EvalError;
use super::assign_groups;
use crate::gostd::float::format_v as fmt_g;

/// Go's `container/heap` operations over a slice with a "less" function,
/// so that ties resolve as in Prometheus.
fn heap_up(h: &mut [(u32, f64)], mut j: usize, less: &impl Fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [(u32, f64)], i0: usize, less: &impl Fn(f64, f64) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(h[j2].1, h[j1].1) {
            j = j2;
        }
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

fn heap_fix(h: &mut [(u32, f64)], i: usize, less: &impl Fn(f64, f64) -> bool) {
    if !heap_down(h, i, less) {
        heap_up(h, i, less);
    }
}

/// Ascending by value, NaN first.
fn by_value(a: f64, b: f64) -> bool {
    a.is_nan() || a < b
}

/// Descending by value, NaN first.
fn by_reverse_value(a: f64, b: f64) -> bool {
    a.is_nan() || a > b
}

pub(super) fn k_aggregation(
    ev: &Evaluator<'_>,
    op: AggOp,
    input: &Matrix,
    params: &[f64],
    grouping: &[String],
    without: bool,
) -> Result<Matrix, EvalError> {
    // NaN-propagating, as Go's math.Max/math.Min.
    let max = params.iter().copied().fold(-f64::MAX, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        }
    });
    let min = params.iter().copied().fold(f64::MAX, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.min(b)
        }
    });
    let any_nan = params.iter().any(|p| p.is_nan());
    match op {
        AggOp::LimitRatio => {
            if max == 0.0 && min == 0.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(EvalError::Execution("Ratio value is NaN".into()));
            }
            if max > 1.0 {
                ev.ctx.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to 1",
                    fmt_g(max)
                ));
            }
            if min < -1.0 {
                ev.ctx.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to -1",
                    fmt_g(min)
                ));
            }
        }
        _ => {
            if max < 1.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(EvalError::Execution("Parameter value is NaN".into()));
            }
            if min <= i64::MIN as f64 {
                return Err(EvalError::Execution(format!(
                    "Scalar value {} underflows int64",
                    fmt_g(min)
                )));
            }
            if max >= i64::MAX as f64 {
                return Err(EvalError::Execution(format!(
                    "Scalar value {} overflows int64",
                    fmt_g(max)
                )));
            }
        }
    }
    let (to_group, reps) = assign_groups(input, grouping, without);
    let mut heaps: Vec<Vec<(u32, f64)>> = vec![Vec::new(); reps.len()];
    let mut seen = vec![false; reps.len()];
    let mut cursors = vec![0usize; input.len()];
    let table: Vec<Labels> = Vec::new();
    let mut acc = Accum::new(std::slice::from_ref(input), ev.delayed_names, ev.instant());
    let less: &dyn Fn(f64, f64) -> bool = if op == AggOp::Bottomk {
        &by_reverse_value
    } else {
        &by_value
    };
    let less = |a: f64, b: f64| less(a, b);
    for (step, ts) in ev.times().enumerate() {
        ev.ctx.check_deadline()?;
        let param = params.get(step).copied().unwrap_or(f64::NAN);
        for (g, h) in seen.iter_mut().zip(heaps.iter_mut()) {
            *g = false;
            h.clear();
        }
        let k = (param as i64).min(input.len() as i64);
        let ratio = param.clamp(-1.0, 1.0);
        let mut vals: Vec<(u32, f64)> = Vec::new();
        for (si, s) in input.iter().enumerate() {
            let c = cursors[si];
            if let Some(p) = s.points.get(c) {
                if p.t == ts {
                    cursors[si] = c + 1;
                    vals.push((si as u32, p.v));
                }
            }
        }
        let skip = match op {
            AggOp::LimitRatio => param == 0.0,
            _ => k < 1,
        };
        if skip {
            continue;
        }
        for &(si, v) in &vals {
            let gi = to_group[si as usize];
            let h = &mut heaps[gi];
            if !seen[gi] {
                seen[gi] = true;
                match op {
                    AggOp::LimitRatio => {
                        if ratio_keep(&input[si as usize].labels, ratio) {
                            h.push((si, v));
                        }
                    }
                    _ => {
                        h.push((si, v));
                    }
                }
                continue;
            }
            match op {
                AggOp::Topk | AggOp::Bottomk => {
                    if (h.len() as i64) < k {
                        h.push((si, v));
                        let n = h.len() - 1;
                        heap_up(h, n, &less);
                    } else {
                        let top = h[0].1;
                        let better = if op == AggOp::Topk { top < v } else { top > v };
                        if better || (top.is_nan() && !v.is_nan()) {
                            h[0] = (si, v);
                            if k > 1 {
                                heap_fix(h, 0, &less);
                            }
                        }
                    }
                }
                AggOp::Limitk if (h.len() as i64) < k => {
                    h.push((si, v));
                    let n = h.len() - 1;
                    heap_up(h, n, &by_value);
                }
                AggOp::LimitRatio if ratio_keep(&input[si as usize].labels, ratio) => {
                    h.push((si, v));
                    let n = h.len() - 1;
                    heap_up(h, n, &by_value);
                }
                _ => {}
            }
        }
        for (gi, h) in heaps.iter_mut().enumerate() {
            if !seen[gi] {
                continue;
            }
            match op {
                AggOp::Topk => {
                    h.sort_by(|a, b| order_desc(a.1, b.1));
                }
                AggOp::Bottomk => {
                    h.sort_by(|a, b| order_asc_nan_last(a.1, b.1));
                }
                _ => {}
            }
            for &(si, v) in h.iter() {
                let out = Out {
                    key: Key::Arg(0, si),
                    v,
                    drop_name: input[si as usize].drop_name,
                };
                acc.push(std::slice::from_ref(input), &table, &out, ts)?;
            }
            ev.ctx.add_samples(h.len())?;
        }
    }
    acc.finish()
}

fn order_desc(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

fn order_asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Whether a series is in the sample of `limit_ratio(ratio, ...)`: a
/// stable per-label-set offset in [0, 1) compared with the ratio.
fn ratio_keep(l: &Labels, ratio: f64) -> bool {
    let offset = l.fingerprint() as f64 / u64::MAX as f64;
    if ratio >= 0.0 {
        offset < ratio
    } else {
        offset >= 1.0 + ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_heap_keeps_smallest_on_top() {
        let mut h: Vec<(u32, f64)> = Vec::new();
        for (i, v) in [5.0, 1.0, 3.0, f64::NAN].into_iter().enumerate() {
            h.push((i as u32, v));
            let n = h.len() - 1;
            heap_up(&mut h, n, &by_value);
        }
        assert!(h[0].1.is_nan());
    }
}
