//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`,
//! `stddev`, `stdvar`, `quantile`, `topk`, `bottomk`, `limitk`,
//! `limit_ratio`, `count_values`) with `by`/`without`.

use crate::model::{Labels, Sample, METRIC_NAME};
use std::collections::HashMap;

mod count_values;
mod topk;

use super::eval::Evaluator;
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
pub(super) fn group_labels(l: &Labels, grouping: &[String], without: bool) -> Labels {
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
pub(super) fn assign_groups(
    input: &Matrix,
    grouping: &[String],
    without: bool,
) -> (Vec<usize>, Vec<usize>) {
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
        return count_values::count_values(ev, expr, param, grouping, without);
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
        AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio => topk::k_aggregation(
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
                        crate::gostd::float::format_v(*q)
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
                AggOp::Max if g.value < f || g.value.is_nan() => g.value = f,
                AggOp::Min if g.value > f || g.value.is_nan() => g.value = f,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_sum_is_compensated() {
        let (mut s, mut c) = (0.0, 0.0);
        for v in [1e100, 1.0, -1e100] {
            (s, c) = kahan_inc(v, s, c);
        }
        assert_eq!(s + c, 1.0);
    }

    #[test]
    fn grouping_labels() {
        let l = Labels::from_pairs([("__name__", "m"), ("job", "a"), ("instance", "i")]);
        assert_eq!(
            group_labels(&l, &["job".into()], false),
            Labels::from_pairs([("job", "a")])
        );
        assert_eq!(
            group_labels(&l, &["job".into()], true),
            Labels::from_pairs([("instance", "i")])
        );
        assert_eq!(group_labels(&l, &[], false), Labels::empty());
    }

    #[test]
    fn value_formatting() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
    }
}
