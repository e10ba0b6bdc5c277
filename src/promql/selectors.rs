//! Series selection from the buffer: instant vector selectors (lookback
//! window `(t - lookback, t]`, staleness markers end a series), range
//! vectors (`(t - range, t]`, markers skipped), `offset` and `@`.
//!
//! Each series' samples are read from the buffer once for the whole step
//! range; steps then slide over that buffer.

use crate::model::{is_stale_nan, Labels, Sample};
use crate::store::SeriesRef;

use super::eval::Evaluator;
use super::plan::{Node, Selector};
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

/// The reference time a selector looks at for step `ts`.
#[inline]
fn reference(ts: i64, offset: i64, at: Option<i64>) -> i64 {
    at.unwrap_or(ts) - offset
}

/// Evaluates an instant vector selector at every step. With `timestamps`,
/// each point carries the sample's timestamp in seconds instead of its value
/// (for `timestamp()`).
pub(crate) fn instant_vector(
    ev: &Evaluator<'_>,
    sel: &Selector,
    timestamps: bool,
) -> Result<Matrix, EvalError> {
    let series = select(ev, sel);
    let first = reference(ev.start, sel.offset, sel.at);
    let last = reference(ev.end, sel.offset, sel.at);
    let (mint, maxt) = (first - ev.lookback + 1, last);
    let mut buf: Vec<Sample> = Vec::new();
    let mut out = Vec::new();
    for s in series {
        ev.ctx.tick()?;
        buf.clear();
        s.samples_in(mint, maxt, &mut buf);
        if buf.is_empty() {
            continue;
        }
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
            if p.t <= r - ev.lookback || is_stale_nan(p.v) {
                continue;
            }
            let v = if timestamps { p.t as f64 / 1000.0 } else { p.v };
            points.push(Sample { t: ts, v });
        }
        if points.is_empty() {
            continue;
        }
        ev.ctx.add_samples(points.len())?;
        out.push(Series {
            labels: s.labels().clone(),
            points,
            drop_name: false,
        });
    }
    Ok(out)
}

/// Evaluates a range vector selector at the (single) evaluation time.
pub(crate) fn range_vector(
    ev: &Evaluator<'_>,
    sel: &Selector,
    range: i64,
) -> Result<Matrix, EvalError> {
    let r = reference(ev.start, sel.offset, sel.at);
    let mut out = Vec::new();
    for s in select(ev, sel) {
        ev.ctx.tick()?;
        let mut points = Vec::new();
        s.samples_in(r - range + 1, r, &mut points);
        points.retain(|p| !is_stale_nan(p.v));
        if points.is_empty() {
            continue;
        }
        ev.ctx.add_samples(points.len())?;
        out.push(Series {
            labels: s.labels().clone(),
            points,
            drop_name: false,
        });
    }
    Ok(out)
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
            }),
            Node::Subquery {
                range, offset, at, ..
            } => Some(Self {
                node,
                range: *range,
                offset: *offset,
                at: *at,
            }),
            _ => None,
        }
    }

    /// The selector when the argument is a plain range selector.
    pub(crate) fn selector(&self) -> Option<&'n Selector> {
        match self.node {
            Node::Matrix { sel, .. } => Some(sel),
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
            let mut buf = Vec::new();
            for s in select(ev, sel) {
                ev.ctx.tick()?;
                buf.clear();
                s.samples_in(first - range + 1, last, &mut buf);
                buf.retain(|p| !is_stale_nan(p.v));
                if buf.is_empty() {
                    continue;
                }
                ev.ctx.add_samples(buf.len())?;
                let r = f(s.labels(), false, &buf);
                ev.ctx.set_samples(ev.ctx.samples() - buf.len());
                r?;
            }
            Ok(())
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
        Self {
            samples,
            range: arg.range,
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
        while self.hi < s.len() && s[self.hi].t <= r {
            self.hi += 1;
        }
        while self.lo < self.hi && s[self.lo].t <= r - self.range {
            self.lo += 1;
        }
        let item = (self.step, self.ts, &s[self.lo..self.hi]);
        self.step += 1;
        self.ts += self.interval;
        Some(item)
    }
}
