//! Range functions carried over between the evaluations of a rule group.
//!
//! A rule group evaluates the same queries on a fixed schedule, so the window `(t - r, t]` of
//! `rate(x[r])` at its next evaluation shares most samples with the last one. A
//! [`WindowCache`], owned by the group and handed to its instant queries, keeps per read
//! (selector, range, offset, function family) and per series it selects, in selection order,
//! the state of that window: two store [`Cursor`]s (before the window's oldest sample and
//! after its newest) and running aggregates. While a read selects the same series as last
//! time, their states are walked in order, without a lookup per series. An evaluation decodes only the samples that entered the window since the last
//! one (from the newer cursor) and those that left it (from the older), so its cost follows
//! the series and the scrapes in between, not the samples in the window.
//!
//! The aggregates are exact, so results are the plain evaluator's bit for bit: the count, the
//! oldest, newest and second-newest samples; the pairs of consecutive samples where the value
//! drops (counter resets, in order: `rate`/`increase`/`delta` add them in the plain path's
//! order) or changes; monotonic deques for `min_over_time`/`max_over_time` (the oldest of
//! equal extremes first, as the plain scan keeps); and for `sum_over_time`/`avg_over_time` an
//! integer sum, exact while every value is an integer and the sum of magnitudes stays within
//! 2^53 (then the plain path's Kahan sum is exact too). Staleness markers are skipped, as the
//! plain path drops them from range selectors.
//!
//! **Falls back** to the plain computation (decoding the window) for a series whose window
//! holds a value these aggregates cannot reproduce exactly (a NaN for min/max, a fraction or
//! a large magnitude for sums), whose state would pass [`MAX_PAIRS`], whose older cursor's
//! chunk was dropped by retention, or whose window moved back in time or jumped past its
//! previous end. Only instant evaluations of a plain range selector (`x[r]`, any `offset`, no
//! `@`, no `anchored`/`smoothed`) take this path; subqueries never do.
//!
//! **Bounds**: a read's state is forgotten when a group evaluation did not make that read
//! ([`WindowCache::begin`]), a series' window when the read no longer selects it; at most
//! [`MAX_ENTRIES`] windows are kept (a read past it goes the plain way).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::model::{is_stale_nan, Labels, Sample};
use crate::store::{Cursor, SeriesView};

use super::eval::Evaluator;
use super::functions::range::{Window, WindowAnnos, WindowFn};
use super::functions::rate;
use super::memo::{sets_of, Sets};
use super::plan::{Ext, Node, Selector};
use super::selectors::{select, RangeArg};
use super::EvalError;

/// Most entries a cache keeps.
pub const MAX_ENTRIES: usize = 4_000_000;

/// Most reset/change pairs or deque items one entry keeps before its series goes the plain
/// way (a window holding that many resets is better scanned).
pub const MAX_PAIRS: usize = 1024;

/// `2^53`: integers up to this magnitude, and their sums, are exact in an `f64`.
const EXACT: u128 = 1 << 53;

/// Which state a function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    /// Count, edges, resets and changes.
    Edges,
    /// An exact integer sum.
    Sum,
    /// A monotonic deque of minima.
    Min,
    /// A monotonic deque of maxima.
    Max,
}

/// A function the cache computes, with its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Resets,
    Changes,
    Count,
    Last,
    Present,
    Sum,
    Avg,
    Min,
    Max,
}

impl Func {
    /// The function called `name`, when the cache computes it.
    pub(crate) fn of(name: &str) -> Option<Self> {
        Some(match name {
            "rate" => Self::Rate,
            "increase" => Self::Increase,
            "delta" => Self::Delta,
            "irate" => Self::Irate,
            "idelta" => Self::Idelta,
            "resets" => Self::Resets,
            "changes" => Self::Changes,
            "count_over_time" => Self::Count,
            "last_over_time" => Self::Last,
            "present_over_time" => Self::Present,
            "sum_over_time" => Self::Sum,
            "avg_over_time" => Self::Avg,
            "min_over_time" => Self::Min,
            "max_over_time" => Self::Max,
            _ => return None,
        })
    }

    fn family(self) -> Family {
        match self {
            Self::Sum | Self::Avg => Family::Sum,
            Self::Min => Family::Min,
            Self::Max => Family::Max,
            _ => Family::Edges,
        }
    }
}

/// What identifies a read's state: the selector's matcher sets as written, its range and
/// offset, and the function family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    sets: Sets,
    range: i64,
    offset: i64,
    family: Family,
}

/// The state of one read: per series it selected last (in its order), the window.
#[derive(Debug, Default)]
struct ReadState {
    ids: Vec<u64>,
    windows: Vec<Option<Entry>>,
    /// The group evaluation that made it.
    generation: u64,
}

/// Running aggregates of the non-stale samples in a window.
#[derive(Debug, Default)]
struct Agg {
    n: usize,
    first: Option<Sample>,
    last: Option<Sample>,
    prev: Option<Sample>,
    /// Pairs whose value drops: (time, value) of the older sample, oldest first.
    resets: VecDeque<(i64, f64)>,
    /// Pairs whose value changes: time of the older sample, oldest first.
    changes: VecDeque<i64>,
    /// Sum family: the integer sum, the sum of magnitudes, values that are not integers.
    isum: i128,
    iabs: u128,
    inexact: usize,
    /// Min/max family: candidates, oldest first; NaN values seen.
    deque: VecDeque<Sample>,
    nans: usize,
}

fn integer(v: f64) -> Option<i128> {
    (v.fract() == 0.0 && v.abs() <= EXACT as f64).then_some(v as i128)
}

impl Agg {
    fn enter(&mut self, family: Family, s: Sample) {
        if let Some(last) = self.last.filter(|_| self.n > 0) {
            if family == Family::Edges {
                if s.v < last.v {
                    self.resets.push_back((last.t, last.v));
                }
                if s.v != last.v && !(s.v.is_nan() && last.v.is_nan()) {
                    self.changes.push_back(last.t);
                }
            }
            self.prev = Some(last);
        }
        self.last = Some(s);
        self.n += 1;
        match family {
            Family::Edges => {}
            Family::Sum => match integer(s.v) {
                Some(i) => {
                    self.isum += i;
                    self.iabs += i.unsigned_abs();
                }
                None => self.inexact += 1,
            },
            Family::Min | Family::Max => {
                if s.v.is_nan() {
                    self.nans += 1;
                    return;
                }
                let max = family == Family::Max;
                while let Some(b) = self.deque.back() {
                    if (max && b.v < s.v) || (!max && b.v > s.v) {
                        self.deque.pop_back();
                    } else {
                        break;
                    }
                }
                self.deque.push_back(s);
            }
        }
    }

    /// The oldest sample `s` left the window.
    fn leave(&mut self, family: Family, s: Sample) {
        self.n -= 1;
        while self.resets.front().is_some_and(|p| p.0 <= s.t) {
            self.resets.pop_front();
        }
        while self.changes.front().is_some_and(|t| *t <= s.t) {
            self.changes.pop_front();
        }
        match family {
            Family::Edges => {}
            Family::Sum => match integer(s.v) {
                Some(i) => {
                    self.isum -= i;
                    self.iabs -= i.unsigned_abs();
                }
                None => self.inexact -= 1,
            },
            Family::Min | Family::Max => {
                if s.v.is_nan() {
                    self.nans -= 1;
                }
                while self.deque.front().is_some_and(|p| p.t <= s.t) {
                    self.deque.pop_front();
                }
            }
        }
    }

    fn too_big(&self) -> bool {
        self.resets.len() > MAX_PAIRS
            || self.changes.len() > MAX_PAIRS
            || self.deque.len() > MAX_PAIRS
    }

    /// The function's value over the window (`end`, `range` as the plain path's window), or
    /// `Err(())` when it cannot be given exactly.
    fn value(&self, f: Func, w: &Window<'_>) -> Result<Option<f64>, ()> {
        if self.n == 0 {
            return Ok(None);
        }
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return Err(());
        };
        let mut annos = WindowAnnos::default();
        Ok(match f {
            Func::Rate | Func::Increase | Func::Delta => {
                let counter = f != Func::Delta;
                rate::extrapolate(
                    w,
                    (first, last, self.n),
                    self.resets.iter().map(|p| p.1).filter(|_| counter),
                    counter,
                    f == Func::Rate,
                )
            }
            Func::Irate | Func::Idelta => match (self.n >= 2, self.prev) {
                (false, _) => None,
                (true, Some(prev)) => {
                    let pair = [prev, last];
                    let w = Window {
                        samples: &pair,
                        ..*w
                    };
                    if f == Func::Irate {
                        rate::irate(&w, &mut annos)
                    } else {
                        rate::idelta(&w, &mut annos)
                    }
                }
                (true, None) => return Err(()),
            },
            Func::Resets => Some(self.resets.len() as f64),
            Func::Changes => Some(self.changes.len() as f64),
            Func::Count => Some(self.n as f64),
            Func::Last => Some(last.v),
            Func::Present => Some(1.0),
            Func::Sum | Func::Avg => {
                if self.inexact > 0 || self.iabs > EXACT {
                    return Err(());
                }
                // The plain path's Kahan sum is exact here: its compensation stays +0.
                let s = self.isum as f64;
                if f == Func::Sum {
                    Some(s + 0.0)
                } else {
                    let n = self.n as f64;
                    Some(s / n + 0.0 / n)
                }
            }
            Func::Min | Func::Max => {
                if self.nans > 0 {
                    return Err(());
                }
                Some(self.deque.front().ok_or(())?.v)
            }
        })
    }
}

/// One window's state.
#[derive(Debug)]
struct Entry {
    /// The window read last: samples at `mint..=maxt`.
    mint: i64,
    maxt: i64,
    /// Before the oldest non-stale sample at or after `mint` (or further, past markers).
    front: Cursor,
    /// Before the first sample after `maxt`.
    back: Cursor,
    agg: Agg,
}

impl Entry {
    /// A window with nothing in it yet, starting at `mint`; `None` for a series without
    /// samples.
    fn empty(view: &SeriesView<'_>, mint: i64) -> Option<Self> {
        let at = view.seek(mint)?;
        Some(Self {
            mint,
            maxt: mint - 1,
            front: at.clone(),
            back: at,
            agg: Agg::default(),
        })
    }

    /// Moves the window to `mint..=maxt` (not before the one read last, and overlapping or
    /// adjoining it); `false` when the samples needed are gone.
    fn advance(&mut self, view: &SeriesView<'_>, family: Family, mint: i64, maxt: i64) -> bool {
        let agg = &mut self.agg;
        let Some(back) = view.read(&self.back, |t, v| {
            if t > maxt {
                return false;
            }
            if !is_stale_nan(v) {
                agg.enter(family, Sample { t, v });
            }
            true
        }) else {
            return false;
        };
        let mut first = None;
        let Some(front) = view.read(&self.front, |t, v| {
            if is_stale_nan(v) {
                return true;
            }
            if t < mint {
                agg.leave(family, Sample { t, v });
                return true;
            }
            first = Some(Sample { t, v });
            false
        }) else {
            return false;
        };
        agg.first = first.filter(|s| s.t <= maxt);
        self.back = back;
        self.front = front;
        self.mint = mint;
        self.maxt = maxt;
        !agg.too_big()
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// The store the series ids and cursors belong to.
    store: u64,
    generation: u64,
    reads: HashMap<ReadKey, ReadState>,
    /// Windows kept in `reads`.
    windows: usize,
    stats: Stats,
}

/// How a cache's reads went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Windows moved on from the state kept (only the samples in between decoded).
    pub carried: u64,
    /// Windows whose state was built anew (the first read, or the samples needed were gone).
    pub built: u64,
    /// Windows computed the plain way (a value the state cannot give exactly).
    pub plain: u64,
}

/// Window state carried over between a rule group's evaluations; see the module docs.
#[derive(Debug, Default)]
pub struct WindowCache {
    inner: Mutex<Inner>,
}

impl WindowCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a group evaluation: forgets the windows the last one did not read.
    pub fn begin(&self) {
        let mut inner = self.inner.lock();
        let last = inner.generation;
        inner.reads.retain(|_, r| r.generation == last);
        inner.windows = inner.reads.values().map(|r| r.windows.len()).sum();
        inner.generation += 1;
    }

    /// Windows kept.
    pub fn len(&self) -> usize {
        self.inner.lock().windows
    }

    /// Whether no window is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How reads went so far.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats
    }
}

/// A read the cache serves: the function, its selector and range.
pub(crate) struct Read<'a, 'n> {
    cache: &'a WindowCache,
    sel: &'n Selector,
    range: i64,
    f: Func,
}

/// The read of `arg` for the function `f` (with `params` scalar arguments), when the
/// evaluator's cache can serve it: an instant evaluation of a plain range selector.
pub(crate) fn eligible<'a, 'n>(
    ev: &Evaluator<'a>,
    arg: &RangeArg<'n>,
    f: Option<Func>,
    params: usize,
) -> Option<Read<'a, 'n>> {
    let f = f?;
    let cache = ev.windows?;
    if ev.start != ev.end || params != 0 {
        return None;
    }
    match arg.node {
        Node::Matrix { sel, range } if sel.ext == Ext::None && sel.at.is_none() => Some(Read {
            cache,
            sel,
            range: *range,
            f,
        }),
        _ => None,
    }
}

/// Calls `emit(labels, value)` for each series the read's selector selects that has a sample
/// in the window `(t - offset - range, t - offset]` at the instant evaluation time, with the
/// value of its function over it, as the plain path would (`plain` is the plain per-window
/// function). Accounts samples against the query's limits as the plain path does.
pub(crate) fn for_each<E>(
    ev: &Evaluator<'_>,
    read: Read<'_, '_>,
    plain: WindowFn,
    mut emit: E,
) -> Result<(), EvalError>
where
    E: FnMut(&Labels, Option<f64>) -> Result<(), EvalError>,
{
    let Read {
        cache,
        sel,
        range,
        f,
    } = read;
    let r = ev.start.saturating_sub(sel.offset);
    let family = f.family();
    let series = select(ev, sel);
    let key = ReadKey {
        sets: sets_of(
            std::iter::once(sel.matchers.as_slice()).chain(sel.or_groups.iter().map(Vec::as_slice)),
        ),
        range,
        offset: sel.offset,
        family,
    };
    let mut inner = cache.inner.lock();
    if inner.store != ev.store.id() {
        inner.reads.clear();
        inner.windows = 0;
        inner.store = ev.store.id();
    }
    let generation = inner.generation;
    let state = inner.reads.remove(&key).unwrap_or_default();
    inner.windows -= state.windows.len();
    // Keep state only while the cache has room; otherwise every window goes the plain way.
    let keep = inner.windows.saturating_add(series.len()) <= MAX_ENTRIES;
    let same = state.ids.len() == series.len()
        && state.ids.iter().zip(&series).all(|(id, s)| *id == s.id());
    let mut windows: Vec<Option<Entry>> = if same {
        state.windows
    } else {
        let mut old: HashMap<u64, Entry> = state
            .ids
            .into_iter()
            .zip(state.windows)
            .filter_map(|(id, e)| Some((id, e?)))
            .collect();
        series.iter().map(|s| old.remove(&s.id())).collect()
    };
    let mut scratch: Vec<Sample> = Vec::new();
    let mut annos = WindowAnnos::default();
    let window = Window {
        samples: &[],
        ts: ev.start,
        end: r,
        range,
        params: [f64::NAN; 2],
        ext: Ext::None,
    };
    let stats = &mut inner.stats;
    let mut result = Ok(());
    for (s, slot) in series.iter().zip(windows.iter_mut()) {
        if let Err(e) = ev.ctx.tick() {
            result = Err(e);
            break;
        }
        let view = s.view();
        let mint = r.saturating_sub(range).saturating_add(1).max(view.floor());
        let maxt = r;
        let mut served = None;
        if mint <= maxt {
            let carried = slot.as_ref().is_some_and(|e| {
                e.mint <= mint && e.maxt <= maxt && mint <= e.maxt.saturating_add(1)
            });
            if !carried {
                *slot = if keep {
                    Entry::empty(&view, mint)
                } else {
                    None
                };
            }
            if let Some(e) = slot {
                if e.advance(&view, family, mint, maxt) {
                    if let Ok(v) = e.agg.value(f, &window) {
                        served = Some((v, e.agg.n));
                        if carried {
                            stats.carried += 1;
                        } else {
                            stats.built += 1;
                        }
                    }
                } else {
                    // The samples needed are gone: built anew next time.
                    *slot = None;
                }
            }
        }
        let (value, n) = match served {
            Some(x) => x,
            None => {
                stats.plain += 1;
                // The plain way: the window's non-stale samples, decoded.
                scratch.clear();
                if mint <= maxt {
                    if let Some(at) = view.seek(mint) {
                        view.read(&at, |t, v| {
                            if t > maxt {
                                return false;
                            }
                            if !is_stale_nan(v) {
                                scratch.push(Sample { t, v });
                            }
                            true
                        });
                    }
                }
                let v = if scratch.is_empty() {
                    None
                } else {
                    plain(
                        &Window {
                            samples: &scratch,
                            ..window
                        },
                        &mut annos,
                    )
                };
                (v, scratch.len())
            }
        };
        drop(view);
        if n == 0 {
            continue;
        }
        if let Err(e) = ev.ctx.add_samples(n) {
            result = Err(e);
            break;
        }
        let out = emit(s.labels(), value);
        ev.ctx.set_samples(ev.ctx.samples() - n);
        if let Err(e) = out {
            result = Err(e);
            break;
        }
    }
    if keep {
        inner.windows += windows.len();
        let ids = series.iter().map(|s| s.id()).collect();
        inner.reads.insert(
            key,
            ReadState {
                ids,
                windows,
                generation,
            },
        );
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Matcher, STALE_NAN};
    use crate::promql::{parse, Engine, QueryResult, Value};
    use crate::store::{Store, StoreOptions};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The result with values as bits (NaN and -0 compare exactly).
    fn canonical(r: &Result<QueryResult, EvalError>) -> String {
        match r {
            Err(e) => format!("error: {e}"),
            Ok(q) => {
                let v = match &q.value {
                    Value::Scalar { t, v } => format!("scalar {t} {:x}", v.to_bits()),
                    Value::String { t, v } => format!("string {t} {v}"),
                    Value::Vector(xs) => xs
                        .iter()
                        .map(|s| format!("{:?} {} {:x}\n", s.labels, s.t, s.v.to_bits()))
                        .collect(),
                    Value::Matrix(xs) => format!("{xs:?}"),
                };
                format!("{v}\nwarnings {:?}\ninfos {:?}", q.warnings, q.infos)
            }
        }
    }

    /// How a random series' values go.
    #[derive(Clone, Copy)]
    enum Shape {
        /// Integer counter with resets.
        Counter,
        /// Fractional counter with resets.
        FracCounter,
        /// Small integer gauge (sums stay exact), with repeats and ±0.
        IntGauge,
        /// Fractional gauge.
        Gauge,
        /// Gauge with NaNs and infinities.
        Wild,
        /// Integers past 2^53.
        Huge,
    }

    struct Gen {
        shape: Shape,
        v: f64,
        next_t: i64,
        interval: i64,
    }

    impl Gen {
        fn value(&mut self, rng: &mut StdRng) -> f64 {
            if rng.random_bool(0.03) {
                return STALE_NAN;
            }
            self.v = match self.shape {
                Shape::Counter if rng.random_bool(0.06) => rng.random_range(0..5) as f64,
                Shape::Counter => self.v + rng.random_range(0..30) as f64,
                Shape::FracCounter if rng.random_bool(0.06) => rng.random_range(0.0..5.0),
                Shape::FracCounter => self.v + rng.random_range(0.0..30.0),
                Shape::IntGauge => match rng.random_range(0..6) {
                    0 => -0.0,
                    1 => 0.0,
                    2 => self.v,
                    _ => rng.random_range(-20..20) as f64,
                },
                Shape::Gauge => rng.random_range(-50.0..50.0),
                Shape::Wild => match rng.random_range(0..8) {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    3 => self.v,
                    _ => rng.random_range(-5..5) as f64,
                },
                Shape::Huge => {
                    (rng.random_range(0..4) as f64) * 9.0e15 + rng.random_range(0..3) as f64
                }
            };
            self.v
        }
    }

    const SHAPES: [Shape; 6] = [
        Shape::Counter,
        Shape::FracCounter,
        Shape::IntGauge,
        Shape::Gauge,
        Shape::Wild,
        Shape::Huge,
    ];

    fn queries() -> Vec<String> {
        let funcs = [
            "rate",
            "increase",
            "delta",
            "irate",
            "idelta",
            "resets",
            "changes",
            "count_over_time",
            "last_over_time",
            "present_over_time",
            "sum_over_time",
            "avg_over_time",
            "min_over_time",
            "max_over_time",
        ];
        let mut out = Vec::new();
        for (i, f) in funcs.iter().enumerate() {
            for (j, range) in ["20s", "1m", "90s", "5m"].iter().enumerate() {
                let offset = [" offset 15s", "", " offset -7s", ""][(i + j) % 4];
                out.push(format!("{f}(m[{range}]{offset})"));
            }
        }
        out.push("sum by (shape) (rate(m[1m]))".into());
        out.push("max_over_time(m{shape=~\"0|2\"}[1m]) > 3".into());
        out.push("rate(m[1m]) / irate(m[1m])".into());
        out
    }

    /// Random series appended to as time goes on, with evaluations in between (mostly
    /// forward on a schedule, sometimes back in time, sometimes far ahead, sometimes twice at
    /// one time), series removed and re-created, with and without retention: every
    /// query's result with the carried state is the plain evaluator's, bit for bit.
    #[test]
    fn carried_windows_give_the_plain_results() {
        let engine = Engine::default();
        let texts = queries();
        let exprs: Vec<_> = texts.iter().map(|q| parse(q).unwrap()).collect();
        let mut totals = Stats::default();
        for seed in 0..10u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let retention = [None, Some(100_000i64)][(seed % 2) as usize];
            let store = Store::new(StoreOptions {
                retention_ms: retention,
            });
            let mut gens: Vec<(crate::store::SeriesRef, Gen)> = Vec::new();
            for k in 0..12 {
                let shape = SHAPES[k % SHAPES.len()];
                let labels = Labels::from_pairs([
                    ("__name__", "m"),
                    ("shape", (k % SHAPES.len()).to_string().as_str()),
                    ("k", k.to_string().as_str()),
                ]);
                let (s, _) = store.get_or_create(labels);
                let interval = [5_000, 10_000, 15_000][k % 3];
                gens.push((
                    s,
                    Gen {
                        shape,
                        v: 0.0,
                        next_t: rng.random_range(0..20_000),
                        interval,
                    },
                ));
            }
            let cache = WindowCache::new();
            let mut now = 0i64;
            let mut last_eval = 0i64;
            for _ in 0..80 {
                // Time passes: scrapes land.
                now += match rng.random_range(0..20) {
                    0 => rng.random_range(100_000..400_000),
                    _ => rng.random_range(1_000..20_000),
                };
                for (s, g) in &mut gens {
                    while g.next_t <= now {
                        let v = g.value(&mut rng);
                        let _ = store.append(s, g.next_t, v);
                        g.next_t += if rng.random_bool(0.1) {
                            rng.random_range(1..60_000)
                        } else {
                            g.interval + rng.random_range(-300..300)
                        };
                    }
                }
                if rng.random_bool(0.03) {
                    // A series goes and comes back (a new id).
                    let k = rng.random_range(0..gens.len());
                    let name = gens[k].0.labels().get("k").unwrap_or("").to_string();
                    store.delete_series(&[Matcher::equal("k", name)]);
                    let (s, _) = store.get_or_create(gens[k].0.labels().clone());
                    gens[k].0 = s;
                }
                let t = match rng.random_range(0..12) {
                    0 => last_eval - rng.random_range(0..30_000),
                    1 => last_eval,
                    _ => now - rng.random_range(0..3_000),
                };
                last_eval = t;
                cache.begin();
                let memo = engine.selection_memo();
                for (text, e) in texts.iter().zip(&exprs) {
                    let plain = canonical(&engine.instant_query(&store, e, t));
                    let carried =
                        canonical(&engine.instant_query_carried(&store, e, t, &memo, &cache));
                    assert_eq!(plain, carried, "seed {seed}, t {t}: {text}");
                }
            }
            let st = cache.stats();
            totals.carried += st.carried;
            totals.built += st.built;
            totals.plain += st.plain;
        }
        // Most windows move on; some are rebuilt (time went back, retention, new series) and
        // some computed plainly (NaN, fractions, huge values in min/max/sum windows).
        assert!(
            totals.carried > 3 * (totals.built + totals.plain) && totals.built > 0,
            "{totals:?}"
        );
        assert!(totals.plain > 0, "the fallback never ran: {totals:?}");
    }

    /// What one window costs in memory (README: "about 300 bytes per series and window"),
    /// besides the hash table's own slot overhead and resets/changes/deque items.
    #[test]
    fn an_entry_stays_small() {
        let per = std::mem::size_of::<Option<Entry>>() + std::mem::size_of::<u64>();
        eprintln!("{per} bytes per window");
        assert!(per <= 400, "{per} bytes per window");
    }

    /// The state of series no longer read goes at the next evaluation; other stores' ids
    /// never mix with this one's.
    #[test]
    fn unread_windows_are_forgotten() {
        let engine = Engine::default();
        let store = Store::new(StoreOptions::default());
        for k in 0..5 {
            let (s, _) = store.get_or_create(Labels::from_pairs([
                ("__name__", "m"),
                ("k", k.to_string().as_str()),
            ]));
            for i in 0..100 {
                store.append(&s, i * 10_000, i as f64).unwrap();
            }
        }
        let cache = WindowCache::new();
        let all = parse("rate(m[1m])").unwrap();
        let one = parse("rate(m{k=\"1\"}[1m])").unwrap();
        let memo = engine.selection_memo();
        cache.begin();
        engine
            .instant_query_carried(&store, &all, 500_000, &memo, &cache)
            .unwrap();
        assert_eq!(cache.len(), 5);
        cache.begin();
        engine
            .instant_query_carried(&store, &one, 510_000, &memo, &cache)
            .unwrap();
        assert_eq!(cache.len(), 6);
        cache.begin();
        assert_eq!(cache.len(), 1);
        let other = Store::new(StoreOptions::default());
        engine
            .instant_query_carried(&other, &all, 510_000, &memo, &cache)
            .unwrap();
        assert!(cache.is_empty());
    }
}
