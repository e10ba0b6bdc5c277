//! Series selection from the buffer: instant vector selectors (lookback
//! window `(t - lookback, t]`, staleness markers end a series), range
//! vectors (`(t - range, t]`, markers skipped), `offset` and `@`.
//!
//! Each series' samples are read from the buffer once for the whole step
//! range; steps then slide over that buffer.

use crate::model::{is_stale_nan, Labels, Sample};
use crate::store::SeriesRef;

use super::eval::Evaluator;
use super::memo::{Builder, Key, Lookup};
use super::plan::{Ext, Node, Selector};
use super::types::{Matrix, Series};
use super::EvalError;

/// The series matching a selector, sorted by labels.
pub(crate) fn select(ev: &Evaluator<'_>, sel: &Selector) -> Vec<SeriesRef> {
    if sel.or_groups.is_empty() {
        return ev.store.select(&sel.matchers);
    }
    let mut all: Vec<SeriesRef> = Vec::new();
    for g in &sel.or_groups {
        all.extend(ev.store.select(g));
    }
    all.sort_by(|a, b| a.labels().cmp(b.labels()));
    all.dedup_by(|a, b| a.id() == b.id());
    all
}

/// Calls `f` with each series selected by `sel` that has samples in `[mint, maxt]`: its
/// labels, those samples (staleness markers included) and whether any is a marker. With the
/// evaluator's memo, a read seen before in this memo's life is served from it, and a new one
/// is kept in it when it fits (see `memo`); the series, samples and order are the same.
pub(crate) fn fetch<F>(
    ev: &Evaluator<'_>,
    sel: &Selector,
    mint: i64,
    maxt: i64,
    mut f: F,
) -> Result<(), EvalError>
where
    F: FnMut(&Labels, &[Sample], bool) -> Result<(), EvalError>,
{
    let Some(memo) = ev.memo else {
        let mut buf = Vec::new();
        for s in select(ev, sel) {
            ev.ctx.tick()?;
            buf.clear();
            s.samples_in(mint, maxt, &mut buf);
            if buf.is_empty() {
                continue;
            }
            let stale = buf.iter().any(|p| is_stale_nan(p.v));
            f(s.labels(), &buf, stale)?;
        }
        return Ok(());
    };
    let key = Key::new(sel, mint, maxt);
    let mut b = match memo.lookup(&key) {
        Lookup::Hit(kept) => {
            for s in &kept.series {
                ev.ctx.tick()?;
                f(&s.labels, kept.samples(s), s.stale)?;
            }
            return Ok(());
        }
        Lookup::Plain => Builder::plain(),
        Lookup::Miss => memo.builder(),
    };
    for s in select(ev, sel) {
        ev.ctx.tick()?;
        let start = b.mark();
        s.samples_in(mint, maxt, b.buffer());
        if b.buffer_len() == start {
            continue;
        }
        let (samples, stale) = b.push(s.labels(), start);
        f(s.labels(), samples, stale)?;
    }
    memo.keep(key, sel, b);
    Ok(())
}

/// `samples` without staleness markers (copied into `scratch` only when there are some).
fn without_stale<'s>(
    samples: &'s [Sample],
    stale: bool,
    scratch: &'s mut Vec<Sample>,
) -> &'s [Sample] {
    if !stale {
        return samples;
    }
    scratch.clear();
    scratch.extend(samples.iter().filter(|p| !is_stale_nan(p.v)));
    scratch
}

/// The reference time a selector looks at for step `ts`.
#[inline]
fn reference(ts: i64, offset: i64, at: Option<i64>) -> i64 {
    at.unwrap_or(ts).saturating_sub(offset)
}

/// Evaluates an instant vector selector at every step. With `timestamps`,
/// each point carries the sample's timestamp in seconds instead of its value
/// (for `timestamp()`).
pub(crate) fn instant_vector(
    ev: &Evaluator<'_>,
    sel: &Selector,
    timestamps: bool,
) -> Result<Matrix, EvalError> {
    if sel.ext == Ext::Smoothed && !timestamps {
        return smoothed_vector(ev, sel);
    }
    let first = reference(ev.start, sel.offset, sel.at);
    let last = reference(ev.end, sel.offset, sel.at);
    let (mint, maxt) = (first.saturating_sub(ev.lookback).saturating_add(1), last);
    let mut out = Vec::new();
    fetch(ev, sel, mint, maxt, |labels, buf, _| {
        let mut points = Vec::new();
        let mut j = 0usize;
        for ts in ev.times() {
            let r = reference(ts, sel.offset, sel.at);
            while j < buf.len() && buf[j].t <= r {
                j += 1;
            }
            if j == 0 {
                continue;
            }
            let p = buf[j - 1];
            if p.t <= r.saturating_sub(ev.lookback) || is_stale_nan(p.v) {
                continue;
            }
            let v = if timestamps { p.t as f64 / 1000.0 } else { p.v };
            points.push(Sample { t: ts, v });
        }
        if points.is_empty() {
            return Ok(());
        }
        ev.ctx.add_samples(points.len())?;
        out.push(Series {
            labels: labels.clone(),
            points,
            drop_name: false,
        });
        Ok(())
    })?;
    Ok(out)
}

/// `metric smoothed`: at each step the value interpolated between the
/// samples around the step time (within the lookback on both sides), or the
/// last sample when none follows.
fn smoothed_vector(ev: &Evaluator<'_>, sel: &Selector) -> Result<Matrix, EvalError> {
    let first = reference(ev.start, sel.offset, sel.at);
    let last = reference(ev.end, sel.offset, sel.at);
    let lb = ev.lookback;
    let mut scratch: Vec<Sample> = Vec::new();
    let mut out = Vec::new();
    let (mint, maxt) = (
        first.saturating_sub(lb).saturating_add(1),
        last.saturating_add(lb),
    );
    fetch(ev, sel, mint, maxt, |labels, raw, stale| {
        let buf = without_stale(raw, stale, &mut scratch);
        let mut points = Vec::new();
        for ts in ev.times() {
            let r = reference(ts, sel.offset, sel.at);
            let lo = buf.partition_point(|p| p.t <= r.saturating_sub(lb));
            let hi = buf.partition_point(|p| p.t <= r.saturating_add(lb));
            let w = &buf[lo..hi];
            let i = w.partition_point(|p| p.t < r);
            let v = if i < w.len() && w[i].t == r {
                w[i].v
            } else if i > 0 && i < w.len() {
                interpolate(w[i - 1], w[i], r, false)
            } else if i > 0 {
                w[i - 1].v
            } else {
                continue;
            };
            points.push(Sample { t: ts, v });
        }
        if points.is_empty() {
            return Ok(());
        }
        ev.ctx.add_samples(points.len())?;
        out.push(Series {
            labels: labels.clone(),
            points,
            drop_name: false,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Linear interpolation between two samples at `t`; for counters a drop
/// counts as a reset from zero.
pub(crate) fn interpolate(a: Sample, b: Sample, t: i64, counter: bool) -> f64 {
    let y1 = if counter && b.v < a.v { 0.0 } else { a.v };
    y1 + (b.v - y1) * (t - a.t) as f64 / (b.t - a.t) as f64
}

/// Extends a window to its edges for `anchored`/`smoothed` selectors:
/// returns (first index, last index, left value, right value), or None when
/// no sample lies inside the range. `samples` cover the lookback before
/// `start` (and after `end` when smoothed).
pub(crate) fn edges(
    samples: &[Sample],
    start: i64,
    end: i64,
    smoothed: bool,
    counter: bool,
) -> Option<(usize, usize, f64, f64)> {
    let mut last = samples.len().checked_sub(1)?;
    let first = samples[..last]
        .partition_point(|p| p.t <= start)
        .saturating_sub(1);
    if smoothed {
        last = samples[..last].partition_point(|p| p.t < end);
    }
    if samples[last].t <= start || (smoothed && samples[first].t > end) {
        return None;
    }
    let left = if smoothed && samples[first].t < start {
        interpolate(samples[first], samples[first + 1], start, counter)
    } else {
        samples[first].v
    };
    let right = if smoothed && last > 0 && samples[last].t > end {
        interpolate(samples[last - 1], samples[last], end, counter)
    } else {
        samples[last].v
    };
    Some((first, last, left, right))
}

/// Go's `extendFloats`: the samples inside `(start, end)` plus synthetic
/// points at both edges.
fn extend_floats(samples: &[Sample], start: i64, end: i64, smoothed: bool) -> Vec<Sample> {
    let Some((mut first, last, left, right)) = edges(samples, start, end, smoothed, false) else {
        return Vec::new();
    };
    if samples[first].t <= start {
        first += 1;
    }
    let inner_end = if samples[last].t >= end {
        last
    } else {
        last + 1
    };
    let mut out = Vec::with_capacity(inner_end.saturating_sub(first) + 2);
    out.push(Sample { t: start, v: left });
    if first < inner_end {
        out.extend_from_slice(&samples[first..inner_end]);
    }
    out.push(Sample { t: end, v: right });
    out
}

/// Evaluates a range vector selector at the (single) evaluation time.
pub(crate) fn range_vector(
    ev: &Evaluator<'_>,
    sel: &Selector,
    range: i64,
) -> Result<Matrix, EvalError> {
    let r = reference(ev.start, sel.offset, sel.at);
    let (before, after) = extension(sel.ext, ev.lookback);
    let mut out = Vec::new();
    let mint = r
        .saturating_sub(range)
        .saturating_sub(before)
        .saturating_add(1);
    let mut scratch = Vec::new();
    fetch(
        ev,
        sel,
        mint,
        r.saturating_add(after),
        |labels, raw, stale| {
            let kept = without_stale(raw, stale, &mut scratch);
            let points = if sel.ext != Ext::None {
                extend_floats(kept, r - range, r, sel.ext == Ext::Smoothed)
            } else {
                kept.to_vec()
            };
            if points.is_empty() {
                return Ok(());
            }
            ev.ctx.add_samples(points.len())?;
            out.push(Series {
                labels: labels.clone(),
                points,
                drop_name: false,
            });
            Ok(())
        },
    )?;
    Ok(out)
}

/// How far (before, after) a window reaches beyond `(ref - range, ref]`.
pub(crate) fn extension(ext: Ext, lookback: i64) -> (i64, i64) {
    match ext {
        Ext::None => (0, 0),
        Ext::Anchored => (lookback, 0),
        Ext::Smoothed => (lookback, lookback),
    }
}

/// The range argument of a function: a range selector or a subquery.
#[derive(Clone, Copy)]
pub(crate) struct RangeArg<'n> {
    /// The node (`Node::Matrix` or `Node::Subquery`).
    pub node: &'n Node,
    /// Range in ms.
    pub range: i64,
    /// Offset in ms.
    pub offset: i64,
    /// `@` time in ms.
    pub at: Option<i64>,
    /// `anchored`/`smoothed`.
    pub ext: Ext,
}

impl<'n> RangeArg<'n> {
    /// Recognises a range argument.
    pub(crate) fn of(node: &'n Node) -> Option<Self> {
        match node {
            Node::Matrix { sel, range } => Some(Self {
                node,
                range: *range,
                offset: sel.offset,
                at: sel.at,
                ext: sel.ext,
            }),
            Node::Subquery {
                range, offset, at, ..
            } => Some(Self {
                node,
                range: *range,
                offset: *offset,
                at: *at,
                ext: Ext::None,
            }),
            _ => None,
        }
    }
}

/// Calls `f` with each input series of a range argument and all its samples
/// needed for the evaluator's steps (staleness markers removed).
pub(crate) fn for_each_range_series<F>(
    ev: &Evaluator<'_>,
    arg: &RangeArg<'_>,
    mut f: F,
) -> Result<(), EvalError>
where
    F: FnMut(&Labels, bool, &[Sample]) -> Result<(), EvalError>,
{
    match arg.node {
        Node::Matrix { sel, range } => {
            let first = reference(ev.start, sel.offset, sel.at);
            let last = reference(ev.end, sel.offset, sel.at);
            let (before, after) = extension(sel.ext, ev.lookback);
            let mint = first
                .saturating_sub(*range)
                .saturating_sub(before)
                .saturating_add(1);
            let mut scratch = Vec::new();
            fetch(
                ev,
                sel,
                mint,
                last.saturating_add(after),
                |labels, raw, stale| {
                    let buf = without_stale(raw, stale, &mut scratch);
                    if buf.is_empty() {
                        return Ok(());
                    }
                    ev.ctx.add_samples(buf.len())?;
                    let r = f(labels, false, buf);
                    ev.ctx.set_samples(ev.ctx.samples() - buf.len());
                    r
                },
            )
        }
        Node::Subquery {
            expr,
            range,
            step,
            offset,
            at,
        } => {
            let before = ev.ctx.samples();
            let m = ev.subquery(expr, *range, *step, *offset, *at)?;
            for s in &m {
                ev.ctx.tick()?;
                f(&s.labels, s.drop_name, &s.points)?;
            }
            ev.ctx.set_samples(before);
            Ok(())
        }
        _ => Err(EvalError::Execution(
            "expected a range vector argument".into(),
        )),
    }
}

/// Slides the window `(ref - range, ref]` over `samples` for each step;
/// yields (step index, step time, window).
pub(crate) struct Windows<'s> {
    samples: &'s [Sample],
    range: i64,
    before: i64,
    after: i64,
    offset: i64,
    at: Option<i64>,
    ts: i64,
    end: i64,
    interval: i64,
    step: usize,
    lo: usize,
    hi: usize,
}

impl<'s> Windows<'s> {
    pub(crate) fn new(ev: &Evaluator<'_>, arg: &RangeArg<'_>, samples: &'s [Sample]) -> Self {
        let (before, after) = extension(arg.ext, ev.lookback);
        Self {
            samples,
            range: arg.range,
            before,
            after,
            offset: arg.offset,
            at: arg.at,
            ts: ev.start,
            end: ev.end,
            interval: ev.interval,
            step: 0,
            lo: 0,
            hi: 0,
        }
    }
}

impl<'s> Iterator for Windows<'s> {
    type Item = (usize, i64, &'s [Sample]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.ts > self.end {
            return None;
        }
        let r = reference(self.ts, self.offset, self.at);
        let s = self.samples;
        if self.at.is_some() {
            self.lo = 0;
            self.hi = 0;
        }
        let upper = r.saturating_add(self.after);
        let lower = r.saturating_sub(self.range).saturating_sub(self.before);
        while self.hi < s.len() && s[self.hi].t <= upper {
            self.hi += 1;
        }
        while self.lo < self.hi && s[self.lo].t <= lower {
            self.lo += 1;
        }
        let item = (self.step, self.ts, &s[self.lo..self.hi]);
        self.step += 1;
        self.ts += self.interval;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn ev_for<'a>(
        store: &'a crate::store::Store,
        ctx: &'a super::super::types::QueryCtx,
    ) -> Evaluator<'a> {
        Evaluator {
            store,
            ctx,
            start: 100_000,
            end: 300_000,
            interval: 100_000,
            lookback: 300_000,
            delayed_names: false,
            memo: None,
            windows: None,
        }
    }

    #[test]
    fn windows_are_left_open() {
        let store = crate::store::Store::new(crate::store::StoreOptions::default());
        let ctx = super::super::types::QueryCtx::new(super::super::types::Limits {
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(5),
            max_samples: 1000,
            max_bytes: usize::MAX,
            cancel: super::super::CancelFlag::new(),
        });
        let ev = ev_for(&store, &ctx);
        let node = Node::Matrix {
            sel: Selector {
                matchers: Vec::new(),
                or_groups: Vec::new(),
                offset: 0,
                at: None,
                ext: Ext::None,
            },
            range: 100_000,
        };
        let arg = RangeArg::of(&node).unwrap();
        let samples: Vec<Sample> = (0..=6).map(|i| Sample::new(i * 50_000, i as f64)).collect();
        let got: Vec<(i64, Vec<i64>)> = Windows::new(&ev, &arg, &samples)
            .map(|(_, ts, w)| (ts, w.iter().map(|s| s.t).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                (100_000, vec![50_000, 100_000]),
                (200_000, vec![150_000, 200_000]),
                (300_000, vec![250_000, 300_000]),
            ]
        );
    }
}
