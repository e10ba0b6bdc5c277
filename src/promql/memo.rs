//! Selections shared by the queries of one rule-group evaluation.
//!
//! A [`SelectionMemo`] remembers, for each selector read during its life, the series it
//! selected and their samples in the time span read (staleness markers included). A later
//! read of the same matchers over the same span, by any query run with the memo, reuses them
//! instead of searching the index and decoding chunks again. An instant selector `x` at `t`
//! and a range selector `x[5m]` at `t` (with the default 5m lookback) read the same span, so
//! they share too; `offset` and `@` are part of the span.
//!
//! A memo made for known queries ([`SelectionMemo::for_queries`], a rule group's) keeps only
//! reads their selectors make more than once (same matchers and span), and drops an entry after the last
//! read expected of it; other reads stream series by series as without the memo.
//!
//! The memo is meant to live for one group evaluation at one timestamp and then be dropped,
//! so it never serves data older than that evaluation. Writes made in between (recording
//! rule output, `ALERTS`, staleness markers) must be reported with
//! [`SelectionMemo::invalidate`]: every entry whose selector matches a written series is
//! forgotten, so later rules see those writes exactly as without the memo.
//!
//! Bounds: entries hold at most the engine's `max_samples` samples and `max_bytes` bytes
//! altogether (counted once, however many queries read them); a selection that would go past
//! either is read as without the memo and not kept. Each query still counts the samples it
//! reads against its own limits exactly as without the memo, so results and errors are the
//! same.

use crate::model::{is_stale_nan, Labels, MatchOp, Matcher, Sample};
use parking_lot::Mutex;
use promql_parser::parser::Expr;
use promql_parser::util::{walk_expr, ExprVisitor};
use std::collections::HashMap;
use std::sync::Arc;

use super::plan::{at_ms, offset_ms, PlanTimes, Selector};
use super::types::SAMPLE_BYTES;

/// Selections read during one group evaluation; see the module docs.
#[derive(Debug)]
pub struct SelectionMemo {
    max_samples: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Arc<Selection>>,
    /// With known queries: reads still expected per matcher sets; sets absent (or read as
    /// often as expected) are read as without the memo.
    uses: Option<HashMap<Key, usize>>,
    samples: usize,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// A selector's matcher sets as written.
pub(crate) type Sets = Vec<Vec<(String, u8, String)>>;

pub(crate) fn sets_of<'m>(groups: impl IntoIterator<Item = &'m [Matcher]>) -> Sets {
    groups
        .into_iter()
        .map(|ms| {
            ms.iter()
                .map(|m| {
                    let op = match m.op {
                        MatchOp::Equal(_) => 0,
                        MatchOp::NotEqual(_) => 1,
                        MatchOp::Re(_) => 2,
                        MatchOp::NotRe(_) => 3,
                    };
                    (m.name.clone(), op, m.value().to_string())
                })
                .collect()
        })
        .collect()
}

/// What identifies a read: every matcher set (as written) and the inclusive time span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    sets: Sets,
    mint: i64,
    maxt: i64,
}

impl Key {
    pub(crate) fn new(sel: &Selector, mint: i64, maxt: i64) -> Self {
        let sets = sets_of(
            std::iter::once(sel.matchers.as_slice()).chain(sel.or_groups.iter().map(Vec::as_slice)),
        );
        Self { sets, mint, maxt }
    }
}

/// How a read goes.
pub(crate) enum Lookup {
    /// As without the memo: not shared with a later read.
    Plain,
    /// Served from the memo.
    Hit(Arc<Selection>),
    /// From the buffer, to be kept for a later read.
    Miss,
}

/// Counts the reads the selectors of instant queries at `t` make (reads inside subqueries
/// span more and are not counted).
struct SelectorCount<'a> {
    uses: &'a mut HashMap<Key, usize>,
    lookback: i64,
    t: i64,
}

impl ExprVisitor for SelectorCount<'_> {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        let (vs, width) = match e {
            Expr::VectorSelector(vs) => (vs, self.lookback),
            Expr::MatrixSelector(ms) => (
                &ms.vs,
                i64::try_from(ms.range.as_millis()).unwrap_or(i64::MAX),
            ),
            _ => return Ok(true),
        };
        if let Ok(groups) = super::matchers::selector_matchers(vs) {
            let times = PlanTimes {
                start: self.t,
                end: self.t,
                step: 0,
                default_subquery_step: 1,
            };
            let r = at_ms(&vs.at, &times)
                .unwrap_or(self.t)
                .saturating_sub(offset_ms(&vs.offset));
            let key = Key {
                sets: sets_of(groups.iter().map(Vec::as_slice)),
                mint: r.saturating_sub(width).saturating_add(1),
                maxt: r,
            };
            *self.uses.entry(key).or_default() += 1;
        }
        Ok(true)
    }
}

/// One series of a selection: its labels and its samples in the selection's span.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub labels: Labels,
    start: usize,
    end: usize,
    /// Whether any of its samples is a staleness marker.
    pub stale: bool,
}

/// The series a selector selected (in the order it selects them; series without samples in
/// the span left out) and their samples.
#[derive(Debug)]
pub(crate) struct Selection {
    /// The selector's matcher sets, to test written series against.
    matchers: Vec<Vec<Matcher>>,
    pub series: Vec<Fetched>,
    samples: Vec<Sample>,
}

impl Selection {
    /// The samples of `f`.
    pub(crate) fn samples(&self, f: &Fetched) -> &[Sample] {
        &self.samples[f.start..f.end]
    }

    fn bytes(&self) -> usize {
        self.samples
            .len()
            .saturating_mul(SAMPLE_BYTES)
            .saturating_add(
                self.series
                    .len()
                    .saturating_mul(std::mem::size_of::<Fetched>()),
            )
    }

    fn selects(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .any(|ms| crate::model::matcher_text::matches_all(ms, labels))
    }
}

/// Builds a [`Selection`] while a selector is read, as long as it fits the memo's room.
pub(crate) struct Builder {
    series: Vec<Fetched>,
    samples: Vec<Sample>,
    room_samples: usize,
    room_bytes: usize,
    keeping: bool,
}

impl Builder {
    /// A builder that keeps nothing: reads as without the memo.
    pub(crate) fn plain() -> Self {
        Self {
            series: Vec::new(),
            samples: Vec::new(),
            room_samples: 0,
            room_bytes: 0,
            keeping: false,
        }
    }

    /// The buffer the next series' samples go into, after those kept so far.
    pub(crate) fn buffer(&mut self) -> &mut Vec<Sample> {
        if !self.keeping {
            self.samples.clear();
        }
        &mut self.samples
    }

    /// How many samples the buffer holds.
    pub(crate) fn buffer_len(&self) -> usize {
        self.samples.len()
    }

    /// Where the next series' samples will start in the buffer.
    pub(crate) fn mark(&self) -> usize {
        if self.keeping {
            self.samples.len()
        } else {
            0
        }
    }

    /// Records the series whose samples were appended since `start`; returns them and
    /// whether any is a staleness marker.
    pub(crate) fn push(&mut self, labels: &Labels, start: usize) -> (&[Sample], bool) {
        let end = self.samples.len();
        let stale = self.samples[start..end].iter().any(|p| is_stale_nan(p.v));
        if self.keeping {
            self.series.push(Fetched {
                labels: labels.clone(),
                start,
                end,
                stale,
            });
            let bytes = end
                .saturating_mul(SAMPLE_BYTES)
                .saturating_add(self.series.len() * std::mem::size_of::<Fetched>());
            if end > self.room_samples || bytes > self.room_bytes {
                // Too big to keep: read the rest as without the memo.
                self.keeping = false;
                self.series = Vec::new();
                let tail: Vec<Sample> = self.samples[start..end].to_vec();
                self.samples = tail;
                return (&self.samples[..], stale);
            }
        }
        (&self.samples[start..end], stale)
    }
}

impl Inner {
    /// Drops the entries `f` picks and recounts what the rest hold.
    fn forget(&mut self, f: impl Fn(&Key, &Selection) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|k, s| !f(k, s));
        if self.entries.len() != before {
            let (samples, bytes) = self.entries.values().fold((0usize, 0usize), |a, s| {
                (a.0 + s.samples.len(), a.1 + s.bytes())
            });
            self.samples = samples;
            self.bytes = bytes;
        }
    }
}

impl SelectionMemo {
    /// An empty memo holding at most `max_samples` samples and `max_bytes` bytes, keeping
    /// every selection read.
    pub fn new(max_samples: usize, max_bytes: usize) -> Self {
        Self {
            max_samples,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// An empty memo for running `queries` (the rules of a group) as instant queries at
    /// `t_ms` with this lookback (ms): it keeps only reads that selectors of them make more
    /// than once (the same matchers over the same span), each until the last read expected
    /// of it, so a read made once costs what it costs without the memo. Other queries
    /// (templates') are served while an entry is kept.
    pub fn for_queries<'e>(
        max_samples: usize,
        max_bytes: usize,
        lookback_ms: i64,
        t_ms: i64,
        queries: impl IntoIterator<Item = &'e Expr>,
    ) -> Self {
        let mut uses = HashMap::new();
        for q in queries {
            let mut count = SelectorCount {
                uses: &mut uses,
                lookback: lookback_ms,
                t: t_ms,
            };
            // Rule expressions passed the parser's depth limit; the crate's walk recurses.
            let _ = super::limits::deep(|| walk_expr(&mut count, q));
        }
        uses.retain(|_, n| *n > 1);
        let memo = Self::new(max_samples, max_bytes);
        memo.inner.lock().uses = Some(uses);
        memo
    }

    /// How the read `key` goes; counts it as one expected read of its selector.
    pub(crate) fn lookup(&self, key: &Key) -> Lookup {
        let mut inner = self.inner.lock();
        let mut last = false;
        if let Some(uses) = &mut inner.uses {
            match uses.get_mut(key) {
                None => return Lookup::Plain,
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        uses.remove(key);
                        last = true;
                    }
                }
            }
        }
        let hit = inner.entries.get(key).cloned();
        if last {
            inner.forget(|k, _| k == key);
        }
        match hit {
            Some(s) => {
                inner.hits += 1;
                Lookup::Hit(s)
            }
            None if last => Lookup::Plain,
            None => {
                inner.misses += 1;
                Lookup::Miss
            }
        }
    }

    /// A builder for a selection not kept yet, with the room left.
    pub(crate) fn builder(&self) -> Builder {
        let inner = self.inner.lock();
        Builder {
            series: Vec::new(),
            samples: Vec::new(),
            room_samples: self.max_samples.saturating_sub(inner.samples),
            room_bytes: self.max_bytes.saturating_sub(inner.bytes),
            keeping: true,
        }
    }

    /// Keeps what `b` read completely for `sel` as `key`, if it still fits.
    pub(crate) fn keep(&self, key: Key, sel: &Selector, b: Builder) {
        if !b.keeping {
            return;
        }
        let mut matchers = Vec::with_capacity(1 + sel.or_groups.len());
        matchers.push(sel.matchers.clone());
        matchers.extend(sel.or_groups.iter().cloned());
        let s = Selection {
            matchers,
            series: b.series,
            samples: b.samples,
        };
        let mut inner = self.inner.lock();
        let (samples, bytes) = (
            inner.samples.saturating_add(s.samples.len()),
            inner.bytes.saturating_add(s.bytes()),
        );
        if samples > self.max_samples || bytes > self.max_bytes {
            return;
        }
        inner.samples = samples;
        inner.bytes = bytes;
        inner.entries.insert(key, Arc::new(s));
    }

    /// Forgets every selection whose selector matches one of `written`: those series just
    /// got samples the kept selections lack (or are new).
    pub fn invalidate<'l>(&self, written: impl IntoIterator<Item = &'l Labels>) {
        let mut inner = self.inner.lock();
        if inner.entries.is_empty() {
            return;
        }
        for labels in written {
            inner.forget(|_, s| s.selects(labels));
            if inner.entries.is_empty() {
                return;
            }
        }
    }

    /// (reads served from the memo, reads that went to the buffer).
    pub fn stats(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        (inner.hits, inner.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;
    use crate::promql::{parse, Engine, EngineOptions, Value};
    use crate::store::{Store, StoreOptions};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Random counters (with resets) and gauges, irregular intervals, gaps, staleness
    /// markers, series that start late or end early.
    fn random_store(rng: &mut StdRng) -> Store {
        let store = Store::new(StoreOptions { retention_ms: None });
        for name in ["a", "b", "c_total"] {
            for k in 0..4 {
                for j in 0..2 {
                    if rng.random_bool(0.2) {
                        continue;
                    }
                    let (s, _) = store.get_or_create(Labels::from_pairs([
                        ("__name__", name),
                        ("k", ["k0", "k1", "k2", "k3"][k]),
                        ("j", ["x", "y"][j]),
                    ]));
                    let counter = name.ends_with("_total");
                    let mut t: i64 = rng.random_range(0..120_000);
                    let end = 1_200_000 - rng.random_range(0..240_000i64);
                    let mut v: f64 = rng.random_range(0.0..100.0);
                    while t <= end {
                        let x = if rng.random_bool(0.03) {
                            STALE_NAN
                        } else {
                            if counter {
                                v = if rng.random_bool(0.05) {
                                    rng.random_range(0.0..5.0)
                                } else {
                                    v + rng.random_range(0.0..20.0)
                                };
                            } else {
                                v = rng.random_range(-50.0..50.0);
                            }
                            v
                        };
                        let _ = store.append(&s, t, x);
                        t += if rng.random_bool(0.05) {
                            rng.random_range(60_000..240_000)
                        } else {
                            rng.random_range(5_000..20_000)
                        };
                    }
                }
            }
        }
        store
    }

    fn pick<'x>(rng: &mut StdRng, xs: &[&'x str]) -> &'x str {
        xs[rng.random_range(0..xs.len())]
    }

    fn selector(rng: &mut StdRng) -> String {
        let name = pick(rng, &["a", "b", "c_total"]);
        let m = pick(
            rng,
            &[
                "",
                "{k=\"k1\"}",
                "{k!=\"k0\"}",
                "{k=~\"k[12]\"}",
                "{j!~\"x\"}",
            ],
        );
        format!("{name}{m}")
    }

    fn modifiers(rng: &mut StdRng) -> String {
        pick(
            rng,
            &[
                "",
                "",
                " offset 30s",
                " offset 1m",
                " @ 900",
                " offset -15s",
            ],
        )
        .to_string()
    }

    fn range_expr(rng: &mut StdRng) -> String {
        let range = pick(rng, &["1m", "2m", "5m", "90s"]);
        format!("{}[{range}]{}", selector(rng), modifiers(rng))
    }

    fn expr(rng: &mut StdRng, depth: u32) -> String {
        let leaf = depth == 0 || rng.random_bool(0.3);
        if leaf {
            return match rng.random_range(0..3) {
                0 => format!("{}{}", selector(rng), modifiers(rng)),
                1 => format!("timestamp({}{})", selector(rng), modifiers(rng)),
                _ => {
                    let f = pick(
                        rng,
                        &[
                            "rate",
                            "increase",
                            "delta",
                            "irate",
                            "idelta",
                            "resets",
                            "changes",
                            "sum_over_time",
                            "avg_over_time",
                            "min_over_time",
                            "max_over_time",
                            "count_over_time",
                            "last_over_time",
                            "stddev_over_time",
                            "present_over_time",
                            "absent_over_time",
                            "deriv",
                        ],
                    );
                    format!("{f}({})", range_expr(rng))
                }
            };
        }
        let d = depth - 1;
        match rng.random_range(0..6) {
            0 => format!(
                "{} by (k) ({})",
                pick(rng, &["sum", "max", "count", "avg", "min"]),
                expr(rng, d)
            ),
            1 => format!(
                "{} {} {}",
                expr(rng, d),
                pick(rng, &["+", "/", ">", "and", "or", "unless", "< bool"]),
                expr(rng, d)
            ),
            2 => format!("{} * 2", expr(rng, d)),
            3 => format!(
                "max_over_time(({})[{}:{}])",
                expr(rng, d),
                pick(rng, &["2m", "5m"]),
                pick(rng, &["30s", "1m", ""])
            ),
            4 => format!("histogram_quantile(0.9, sum by (k, le) ({}))", expr(rng, d)),
            _ => format!(
                "sum by (k) ({}) / sum by (k) ({})",
                expr(rng, d),
                expr(rng, d)
            ),
        }
    }

    /// The result with values as bits, so that NaN and -0 compare exactly.
    fn canonical(r: &Result<crate::promql::QueryResult, crate::promql::EvalError>) -> String {
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
                    Value::Matrix(xs) => xs
                        .iter()
                        .map(|s| {
                            let pts: Vec<String> = s
                                .samples
                                .iter()
                                .map(|p| format!("{}:{:x}", p.t, p.v.to_bits()))
                                .collect();
                            format!("{:?} {}\n", s.labels, pts.join(","))
                        })
                        .collect(),
                };
                format!("{v}\nwarnings {:?}\ninfos {:?}", q.warnings, q.infos)
            }
        }
    }

    /// Many random expressions over random series, evaluated with one memo shared by all of
    /// them (in a random order, each twice) and without: the same results, bit for bit.
    #[test]
    fn shared_selections_give_the_same_results() {
        let mut served = 0;
        for seed in 0..12u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let store = random_store(&mut rng);
            let engine = Engine::default();
            let queries: Vec<String> = (0..60).map(|_| expr(&mut rng, 3)).collect();
            for t in [300_000i64, 600_123, 1_140_000] {
                let memo = engine.selection_memo();
                let mut order: Vec<usize> = (0..queries.len()).chain(0..queries.len()).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
                for &i in &order {
                    let e = parse(&queries[i]).unwrap_or_else(|e| panic!("{}: {e:?}", queries[i]));
                    let plain = canonical(&engine.instant_query(&store, &e, t));
                    let shared = canonical(&engine.instant_query_shared(&store, &e, t, &memo));
                    assert_eq!(plain, shared, "seed {seed}, t {t}: {}", queries[i]);
                }
                served += memo.stats().0;
            }
        }
        assert!(served > 1000, "the memo served only {served} reads");
    }

    /// A memo without room reads everything as without it (and keeps nothing); the queries'
    /// own sample limits fail the same way with and without it.
    #[test]
    fn limits_hold_with_a_memo() {
        let mut rng = StdRng::seed_from_u64(99);
        let store = random_store(&mut rng);
        let e = parse("sum(rate(c_total[5m])) + count_over_time(a[5m])").unwrap();
        let engine = Engine::default();
        let tiny = SelectionMemo::new(10, usize::MAX);
        let plain = canonical(&engine.instant_query(&store, &e, 600_000));
        assert_eq!(
            plain,
            canonical(&engine.instant_query_shared(&store, &e, 600_000, &tiny))
        );
        assert!(tiny.inner.lock().entries.is_empty());
        let small = Engine::new(EngineOptions {
            max_samples: 40,
            ..EngineOptions::default()
        });
        let m = parse("c_total[5m]").unwrap();
        let memo = engine.selection_memo();
        assert!(engine
            .instant_query_shared(&store, &m, 600_000, &memo)
            .is_ok());
        assert_eq!(memo.stats(), (0, 1));
        let err = canonical(&small.instant_query(&store, &m, 600_000));
        assert!(err.contains("too many samples"), "{err}");
        assert_eq!(
            err,
            canonical(&small.instant_query_shared(&store, &m, 600_000, &memo))
        );
        assert_eq!(memo.stats(), (1, 1));
    }

    /// A memo for known queries keeps only selectors read more than once, until their last
    /// expected read.
    #[test]
    fn known_queries_keep_only_repeated_selectors() {
        let mut rng = StdRng::seed_from_u64(7);
        let store = random_store(&mut rng);
        let engine = Engine::default();
        let texts = [
            "rate(c_total[5m]) > 1",
            "sum(rate(c_total[5m])) + sum(a)",
            "b",
        ];
        let exprs: Vec<_> = texts.iter().map(|q| parse(q).unwrap()).collect();
        let memo = engine.selection_memo_for(600_000, &exprs);
        let run = |i: usize| {
            let plain = canonical(&engine.instant_query(&store, &exprs[i], 600_000));
            let shared = canonical(&engine.instant_query_shared(&store, &exprs[i], 600_000, &memo));
            assert_eq!(plain, shared, "{}", texts[i]);
        };
        run(0);
        assert_eq!(memo.stats(), (0, 1));
        assert_eq!(memo.inner.lock().entries.len(), 1);
        run(1);
        // `c_total[5m]` served and then forgotten; `a`, `a[1m]` and `b` read as without the
        // memo (the same matchers, but different spans).
        assert_eq!(memo.stats(), (1, 1));
        run(2);
        let inner = memo.inner.lock();
        assert!(inner.entries.is_empty());
        assert_eq!((inner.samples, inner.bytes), (0, 0));
    }

    /// A written series drops exactly the selections that select it.
    #[test]
    fn writes_invalidate_matching_selections() {
        let store = Store::new(StoreOptions { retention_ms: None });
        let (s, _) = store.get_or_create(Labels::from_pairs([("__name__", "a"), ("k", "k1")]));
        store.append(&s, 1_000, 1.0).unwrap();
        let engine = Engine::default();
        let memo = engine.selection_memo();
        for q in ["a", "a{k=\"k2\"}", "b"] {
            let _ = engine.instant_query_shared(&store, &parse(q).unwrap(), 2_000, &memo);
        }
        assert_eq!(memo.inner.lock().entries.len(), 3);
        memo.invalidate([&Labels::from_pairs([("__name__", "a"), ("k", "k2")])]);
        assert_eq!(memo.inner.lock().entries.len(), 1);
        let (s2, _) = store.get_or_create(Labels::from_pairs([("__name__", "b")]));
        store.append(&s2, 2_000, 5.0).unwrap();
        memo.invalidate([s2.labels()]);
        match engine
            .instant_query_shared(&store, &parse("b").unwrap(), 2_000, &memo)
            .unwrap()
            .value
        {
            Value::Vector(v) => assert_eq!(v.len(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(memo.inner.lock().samples, 1);
    }
}
