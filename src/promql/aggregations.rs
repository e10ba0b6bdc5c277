//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `limitk`,
//! `limit_ratio`, `count_values`) with `by`/`without`.

use crate::model::{Labels, LabelsBuilder, Sample, METRIC_NAME};
use std::collections::HashMap;

use super::eval::{Evaluator, Key, Out};
use super::functions::quantile::quantile;
use super::plan::{AggOp, Node};
use super::types::{Matrix, Series, Val};
use super::EvalError;

/// Neumaier-compensated addition: returns the new sum and compensation.
#[inline]
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The grouping key of a label set.
fn group_key(l: &Labels, grouping: &[String], without: bool, buf: &mut Vec<u8>) {
    buf.clear();
    for lb in l.iter() {
        let listed = grouping.iter().any(|g| **g == *lb.name);
        let keep = if without {
            !listed && &*lb.name != METRIC_NAME
        } else {
            listed
        };
        if keep {
            buf.extend_from_slice(lb.name.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(lb.value.as_bytes());
            buf.push(0xfe);
        }
    }
}

/// The output labels of a group.
fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut names: Vec<&str> = grouping.iter().map(String::as_str).collect();
        names.push(METRIC_NAME);
        l.drop_names(&names)
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        l.keep(grouping)
    }
}

/// Maps each input series to its group; returns the map and one
/// representative series per group.
fn assign_groups(input: &Matrix, grouping: &[String], without: bool) -> (Vec<usize>, Vec<usize>) {
    let mut map: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut buf = Vec::new();
    let mut reps = Vec::new();
    let to = input
        .iter()
        .enumerate()
        .map(|(i, s)| {
            group_key(&s.labels, grouping, without, &mut buf);
            if let Some(&g) = map.get(&buf) {
                return g;
            }
            let g = reps.len();
            reps.push(i);
            map.insert(buf.clone(), g);
            g
        })
        .collect();
    (to, reps)
}

/// Evaluates an aggregation.
pub(crate) fn eval(
    ev: &Evaluator<'_>,
    op: AggOp,
    expr: &Node,
    param: Option<&Node>,
    grouping: &[String],
    without: bool,
) -> Result<Val, EvalError> {
    if op == AggOp::CountValues {
        return count_values(ev, expr, param, grouping, without);
    }
    let before = ev.ctx.samples();
    let params: Option<Vec<f64>> = match param {
        Some(p) => {
            let m = ev.eval(p)?.into_matrix();
            Some(match m.first() {
                Some(s) => {
                    let mut v = vec![f64::NAN; ev.steps()];
                    for p in &s.points {
                        v[((p.t - ev.start) / ev.interval) as usize] = p.v;
                    }
                    v
                }
                None => vec![f64::NAN; ev.steps()],
            })
        }
        None => None,
    };
    let input = ev.eval(expr)?.into_matrix();
    let result = match op {
        AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio => k_aggregation(
            ev,
            op,
            &input,
            params.as_deref().unwrap_or(&[]),
            grouping,
            without,
        )?,
        _ => {
            if op == AggOp::Quantile {
                let ps = params.as_deref().unwrap_or(&[]);
                if let Some(q) = ps.iter().find(|q| q.is_nan() || **q < 0.0 || **q > 1.0) {
                    ev.ctx.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        super::functions::fmt_g(*q)
                    ));
                }
            }
            simple_aggregation(ev, op, &input, params.as_deref(), grouping, without)?
        }
    };
    let n = super::types::total_points(&result);
    ev.ctx.set_samples(before + n);
    Ok(Val::Matrix(result))
}

#[derive(Clone, Default)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    comp: f64,
    count: f64,
    incremental: bool,
    drop_name: bool,
    values: Vec<f64>,
}

fn simple_aggregation(
    ev: &Evaluator<'_>,
    op: AggOp,
    input: &Matrix,
    params: Option<&[f64]>,
    grouping: &[String],
    without: bool,
) -> Result<Matrix, EvalError> {
    let (to_group, reps) = assign_groups(input, grouping, without);
    let mut out: Vec<Series> = reps
        .iter()
        .map(|&i| Series::new(group_labels(&input[i].labels, grouping, without), false))
        .collect();
    let mut groups = vec![Group::default(); reps.len()];
    let mut cursors = vec![0usize; input.len()];
    for (step, ts) in ev.times().enumerate() {
        ev.ctx.check_deadline()?;
        for g in groups.iter_mut() {
            g.seen = false;
        }
        for (si, s) in input.iter().enumerate() {
            let c = cursors[si];
            let Some(p) = s.points.get(c) else { continue };
            if p.t != ts {
                continue;
            }
            cursors[si] = c + 1;
            let f = p.v;
            let g = &mut groups[to_group[si]];
            if !g.seen {
                g.seen = true;
                g.value = f;
                g.mean = f;
                g.comp = 0.0;
                g.count = 1.0;
                g.incremental = false;
                g.drop_name = s.drop_name;
                match op {
                    AggOp::Stddev | AggOp::Stdvar => {
                        g.value = if f.is_nan() || f.is_infinite() {
                            f64::NAN
                        } else {
                            0.0
                        };
                    }
                    AggOp::Quantile => {
                        g.values.clear();
                        g.values.push(f);
                    }
                    AggOp::Group => g.value = 1.0,
                    _ => {}
                }
                continue;
            }
            if s.drop_name {
                g.drop_name = true;
            }
            match op {
                AggOp::Sum => {
                    let (v, c) = kahan_inc(f, g.value, g.comp);
                    g.value = v;
                    g.comp = c;
                }
                AggOp::Avg => {
                    g.count += 1.0;
                    if !g.incremental {
                        let (nv, nc) = kahan_inc(f, g.value, g.comp);
                        if !nv.is_infinite() {
                            g.value = nv;
                            g.comp = nc;
                            continue;
                        }
                        g.incremental = true;
                        g.mean = g.value / (g.count - 1.0);
                        g.comp /= g.count - 1.0;
                    }
                    let q = (g.count - 1.0) / g.count;
                    let (m, c) = kahan_inc(f / g.count, q * g.mean, q * g.comp);
                    g.mean = m;
                    g.comp = c;
                }
                AggOp::Max => {
                    if g.value < f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggOp::Min => {
                    if g.value > f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggOp::Count => g.count += 1.0,
                AggOp::Stddev | AggOp::Stdvar => {
                    g.count += 1.0;
                    let delta = f - g.mean;
                    g.mean += delta / g.count;
                    g.value += delta * (f - g.mean);
                }
                AggOp::Quantile => g.values.push(f),
                _ => {}
            }
        }
        for (gi, g) in groups.iter_mut().enumerate() {
            if !g.seen {
                continue;
            }
            let v = match op {
                AggOp::Avg => {
                    if g.incremental {
                        g.mean + g.comp
                    } else {
                        g.value / g.count + g.comp / g.count
                    }
                }
                AggOp::Count => g.count,
                AggOp::Stdvar => g.value / g.count,
                AggOp::Stddev => (g.value / g.count).sqrt(),
                AggOp::Quantile => {
                    let q = params.map_or(f64::NAN, |p| p[step]);
                    quantile(q, &mut g.values)
                }
                AggOp::Sum => g.value + g.comp,
                _ => g.value,
            };
            let s = &mut out[gi];
            if s.points.is_empty() {
                s.drop_name = g.drop_name;
            } else if g.drop_name {
                s.drop_name = true;
            }
            s.points.push(Sample { t: ts, v });
        }
        ev.ctx
            .add_samples(groups.iter().filter(|g| g.seen).count())?;
    }
    out.retain(|s| !s.points.is_empty());
    Ok(out)
}

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

fn k_aggregation(
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
                    super::functions::fmt_g(max)
                ));
            }
            if min < -1.0 {
                ev.ctx.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to -1",
                    super::functions::fmt_g(min)
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
                    super::functions::fmt_g(min)
                )));
            }
            if max >= i64::MAX as f64 {
                return Err(EvalError::Execution(format!(
                    "Scalar value {} overflows int64",
                    super::functions::fmt_g(max)
                )));
            }
        }
    }
    let (to_group, reps) = assign_groups(input, grouping, without);
    let mut heaps: Vec<Vec<(u32, f64)>> = vec![Vec::new(); reps.len()];
    let mut seen = vec![false; reps.len()];
    let mut cursors = vec![0usize; input.len()];
    let table: Vec<Labels> = Vec::new();
    let mut acc =
        super::eval::Accum::new(std::slice::from_ref(input), ev.delayed_names, ev.instant());
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
                AggOp::Limitk => {
                    if (h.len() as i64) < k {
                        h.push((si, v));
                        let n = h.len() - 1;
                        heap_up(h, n, &by_value);
                    }
                }
                AggOp::LimitRatio => {
                    if ratio_keep(&input[si as usize].labels, ratio) {
                        h.push((si, v));
                        let n = h.len() - 1;
                        heap_up(h, n, &by_value);
                    }
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

/// Formats a value as Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_value(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

fn count_values(
    ev: &Evaluator<'_>,
    expr: &Node,
    param: Option<&Node>,
    grouping: &[String],
    without: bool,
) -> Result<Val, EvalError> {
    let label = match param {
        Some(Node::Str(s)) => s.clone(),
        _ => {
            return Err(EvalError::BadData(
                "count_values needs a string parameter".into(),
            ))
        }
    };
    if label.is_empty() {
        return Err(EvalError::Execution(format!(
            "invalid label name \"{label}\""
        )));
    }
    let mut grouping: Vec<String> = grouping.to_vec();
    if !without {
        grouping.push(label.clone());
        grouping.sort();
    }
    let input = ev.eval(expr)?.into_matrix();
    let mut table = Vec::new();
    let mut index: HashMap<Labels, u32> = HashMap::new();
    let mut counts: Vec<(u32, f64)> = Vec::new();
    ev.range_eval(vec![input], &mut table, |st, table, out| {
        counts.clear();
        for x in &st.vecs[0] {
            let mut b = LabelsBuilder::new(st.labels(0, x.idx));
            b.set(&label, &format_value(x.v));
            let l = group_labels(&b.labels(), &grouping, without);
            let tid = match index.get(&l) {
                Some(&t) => t,
                None => {
                    table.push(l.clone());
                    let t = table.len() as u32 - 1;
                    index.insert(l, t);
                    t
                }
            };
            match counts.iter_mut().find(|c| c.0 == tid) {
                Some(c) => c.1 += 1.0,
                None => counts.push((tid, 1.0)),
            }
        }
        for &(tid, n) in &counts {
            out.push(Out {
                key: Key::Table(tid),
                v: n,
                drop_name: false,
            });
        }
        Ok(())
    })
    .map(Val::Matrix)
}
