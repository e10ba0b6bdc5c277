//! Counter and gauge rate functions: `rate`, `increase`, `delta`
//! (`extrapolatedRate`), `irate`, `idelta`, `deriv`, `predict_linear`,
//! `resets`, `changes`, `double_exponential_smoothing`.

use crate::model::Sample;

use super::super::aggregations::kahan_inc;
use super::super::plan::Ext;
use super::super::selectors::edges;
use super::range::{Window, WindowAnnos};

/// Go's `extendedRate` for `anchored`/`smoothed` windows: the difference
/// between the values at the range edges (picked or interpolated), plus
/// counter-reset corrections; no extrapolation.
fn extended_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let s = w.samples;
    let (start, end) = (w.end.saturating_sub(w.range), w.end);
    let smoothed = w.ext == Ext::Smoothed;
    let (mut first, last, left, right) = edges(s, start, end, smoothed, is_counter)?;
    let mut result = right - left;
    if is_counter {
        if s[first].t <= start {
            first += 1;
        }
        let inner_end = if s[last].t >= end { last } else { last + 1 };
        let mut prev = left;
        let mut correction = 0.0;
        if first < inner_end {
            for p in &s[first..inner_end] {
                if p.v < prev {
                    correction += prev;
                }
                prev = p.v;
            }
        }
        if right < prev {
            correction += prev;
        }
        result += correction;
    }
    if is_rate {
        result /= w.range as f64 / 1000.0;
    }
    Some(result)
}

/// For `anchored` windows, the samples from the last one at or before the
/// range start (Go's `pickFirstSampleIndices`); None when nothing lies
/// inside the range.
fn anchored_samples<'s>(w: &Window<'s>) -> Option<&'s [Sample]> {
    if w.ext != Ext::Anchored {
        return Some(w.samples);
    }
    let start = w.end.saturating_sub(w.range);
    let after = w.samples.partition_point(|p| p.t <= start);
    if after >= w.samples.len() {
        return None;
    }
    Some(&w.samples[after.saturating_sub(1)..])
}

/// Prometheus' extrapolated rate: the increase between the first and last
/// sample, corrected for counter resets, extrapolated to the window edges
/// (at most half an average sample interval, and not below zero for counters).
fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    if w.ext != Ext::None {
        return extended_rate(w, is_counter, is_rate);
    }
    let s = w.samples;
    if s.len() < 2 {
        return None;
    }
    let resets = s
        .windows(2)
        .filter(|pair| pair[1].v < pair[0].v)
        .map(|pair| pair[0].v);
    extrapolate(
        w,
        (s[0], s[s.len() - 1], s.len()),
        resets,
        is_counter,
        is_rate,
    )
}

/// The extrapolated rate of a window (its end and range from `w`) whose oldest and newest
/// samples and sample count are `edges`, and where the value drops after the samples whose
/// values `resets` gives, in time order. The one computation behind the plain path and the
/// incremental one (`promql::incremental`), so that both give the same bits.
pub(crate) fn extrapolate(
    w: &Window<'_>,
    edges: (Sample, Sample, usize),
    resets: impl Iterator<Item = f64>,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (first, last, n) = edges;
    if n < 2 {
        return None;
    }
    let range_start = w.end.saturating_sub(w.range);
    let range_end = w.end;
    let mut result = last.v - first.v;
    if is_counter {
        for v in resets {
            result += v;
        }
    }
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average = sampled_interval / (n - 1) as f64;
    let threshold = average * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first.v >= 0.0 {
            duration_to_zero = sampled_interval * (first.v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average / 2.0;
    }
    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if is_rate {
        factor /= w.range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `rate(v[d])`.
pub(crate) fn rate(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    extrapolated_rate(w, true, true)
}

/// `increase(v[d])`.
pub(crate) fn increase(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    extrapolated_rate(w, true, false)
}

/// `delta(v[d])`.
pub(crate) fn delta(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    extrapolated_rate(w, false, false)
}

fn instant_value(w: &Window<'_>, is_rate: bool) -> Option<f64> {
    let s = w.samples;
    if s.len() < 2 {
        return None;
    }
    let (a, b) = (s[s.len() - 2], s[s.len() - 1]);
    let interval = b.t - a.t;
    if interval == 0 {
        return None;
    }
    let mut v = b.v;
    // Go's `!(b < a)`: true for NaN too.
    if !is_rate || b.v.partial_cmp(&a.v) != Some(std::cmp::Ordering::Less) {
        v = b.v - a.v;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// `irate(v[d])`.
pub(crate) fn irate(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    instant_value(w, true)
}

/// `idelta(v[d])`.
pub(crate) fn idelta(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    instant_value(w, false)
}

/// Least-squares fit of the samples, with x in seconds relative to
/// `intercept_time`: (slope, intercept).
pub(crate) fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let init_y = samples[0].v;
    let mut const_y = true;
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// `deriv(v[d])`.
pub(crate) fn deriv(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    if w.samples.len() < 2 {
        return None;
    }
    Some(linear_regression(w.samples, w.samples[0].t).0)
}

/// `predict_linear(v[d], t)`.
pub(crate) fn predict_linear(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    if w.samples.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(w.samples, w.ts);
    Some(slope * w.params[0] + intercept)
}

/// `resets(v[d])`.
pub(crate) fn resets(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    let n = anchored_samples(w)?
        .windows(2)
        .filter(|p| p[1].v < p[0].v)
        .count();
    Some(n as f64)
}

/// `changes(v[d])`.
pub(crate) fn changes(w: &Window<'_>, _: &mut WindowAnnos) -> Option<f64> {
    let n = anchored_samples(w)?
        .windows(2)
        .filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()))
        .count();
    Some(n as f64)
}

/// `double_exponential_smoothing(v[d], sf, tf)` (formerly `holt_winters`).
pub(crate) fn double_exponential_smoothing(w: &Window<'_>, annos: &mut WindowAnnos) -> Option<f64> {
    let (sf, tf) = (w.params[0], w.params[1]);
    if sf.is_nan() || tf.is_nan() {
        return None;
    }
    if sf <= 0.0 || sf >= 1.0 {
        annos.error = Some(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        ));
        return None;
    }
    if tf <= 0.0 || tf >= 1.0 {
        annos.error = Some(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        ));
        return None;
    }
    let s = w.samples;
    if s.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, s[0].v);
    let mut b = s[1].v - s[0].v;
    for (i, x) in s.iter().enumerate().skip(1) {
        let xv = sf * x.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = xv + y;
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(samples: &[Sample], end: i64, range: i64) -> Window<'_> {
        Window {
            samples,
            ts: end,
            end,
            range,
            params: [f64::NAN; 2],
            ext: Ext::None,
        }
    }

    #[test]
    fn rate_of_steady_counter_extrapolates() {
        let s: Vec<Sample> = (0..=10)
            .map(|i| Sample::new(i * 30_000, i as f64 * 30.0))
            .collect();
        let v = rate(&win(&s, 300_000, 300_000), &mut WindowAnnos::default()).unwrap();
        assert!((v - 1.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn counter_reset_is_corrected() {
        let s = [
            Sample::new(0, 5.0),
            Sample::new(10_000, 1.0),
            Sample::new(20_000, 3.0),
        ];
        assert_eq!(
            resets(&win(&s, 20_000, 60_000), &mut WindowAnnos::default()),
            Some(1.0)
        );
        let inc = increase(&win(&s, 20_000, 20_000), &mut WindowAnnos::default()).unwrap();
        assert!(inc > 0.0);
    }

    #[test]
    fn irate_uses_last_two_samples() {
        let s = [
            Sample::new(0, 0.0),
            Sample::new(10_000, 10.0),
            Sample::new(20_000, 40.0),
        ];
        assert_eq!(
            irate(&win(&s, 20_000, 60_000), &mut WindowAnnos::default()),
            Some(3.0)
        );
    }
}
