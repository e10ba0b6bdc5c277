//! `*_over_time` functions over a window of float samples.

use super::super::aggregations::kahan_inc;
use super::quantile::quantile as quantile_of;
use super::range::{Window, WindowAnnos};

/// `avg_over_time`: Kahan sum, switching to an incremental mean on overflow.
pub(crate) fn avg(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    let s = w.samples;
    let (mut sum, mut count) = (s[0].v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, p) in s.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })
}

/// `sum_over_time`.
pub(crate) fn sum(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    let (mut s, mut c) = (0.0, 0.0);
    for p in w.samples {
        (s, c) = kahan_inc(p.v, s, c);
    }
    Some(if s.is_infinite() { s } else { s + c })
}

/// `count_over_time`.
pub(crate) fn count(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    Some(w.samples.len() as f64)
}

fn compare(w: &Window<'_>, better: impl Fn(f64, f64) -> bool, timestamp: bool) -> Option<f64> {
    let s = w.samples;
    let (mut best, mut at) = (s[0].v, s[0].t);
    for p in s {
        if better(p.v, best) {
            best = p.v;
            at = p.t;
        }
    }
    Some(if timestamp { at as f64 / 1000.0 } else { best })
}

/// `max_over_time`.
pub(crate) fn max(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    compare(w, |c, m| c > m || m.is_nan(), false)
}

/// `min_over_time`.
pub(crate) fn min(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    compare(w, |c, m| c < m || m.is_nan(), false)
}

/// `ts_of_max_over_time`.
pub(crate) fn ts_of_max(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    compare(w, |c, m| c >= m || m.is_nan(), true)
}

/// `ts_of_min_over_time`.
pub(crate) fn ts_of_min(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    compare(w, |c, m| c <= m || m.is_nan(), true)
}

/// `last_over_time`.
pub(crate) fn last(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    w.samples.last().map(|p| p.v)
}

/// `first_over_time`.
pub(crate) fn first(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    w.samples.first().map(|p| p.v)
}

/// `ts_of_last_over_time`.
pub(crate) fn ts_of_last(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    w.samples.last().map(|p| p.t as f64 / 1000.0)
}

/// `ts_of_first_over_time`.
pub(crate) fn ts_of_first(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    w.samples.first().map(|p| p.t as f64 / 1000.0)
}

/// `present_over_time` (and the per-series part of `absent_over_time`).
pub(crate) fn present(_: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    Some(1.0)
}

fn variance(w: &Window<'_>) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in w.samples {
        count += 1.0;
        let delta = p.v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (p.v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

/// `stddev_over_time`.
pub(crate) fn stddev(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    Some(variance(w).sqrt())
}

/// `stdvar_over_time`.
pub(crate) fn stdvar(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    Some(variance(w))
}

/// `quantile_over_time(q, v[d])`.
pub(crate) fn quantile(w: &Window<'_>, annos: &mut WindowAnnos) -> Option<f64> {
    let q = w.params[0];
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        annos.bad_quantile = Some(q);
    }
    let mut values: Vec<f64> = w.samples.iter().map(|p| p.v).collect();
    Some(quantile_of(q, &mut values))
}

/// `mad_over_time`: median absolute deviation.
pub(crate) fn mad(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    let mut values: Vec<f64> = Vec::with_capacity(w.samples.len());
    for p in w.samples {
        if p.v.is_nan() {
            return Some(f64::NAN);
        }
        values.push(p.v);
    }
    let median = quantile_of(0.5, &mut values);
    for v in &mut values {
        *v = (*v - median).abs();
    }
    Some(quantile_of(0.5, &mut values))
}
