//! Store-level tests: matcher semantics against brute force, retention and
//! gc, handles to removed series, concurrency, and a model-based property
//! test against a naive vector buffer.

use super::*;
use crate::model::{Sample, STALE_NAN};
use proptest::prelude::*;
use std::collections::HashMap;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn universe() -> Vec<Labels> {
    vec![
        l(&[("__name__", "up"), ("job", "node"), ("instance", "a:1")]),
        l(&[("__name__", "up"), ("job", "node"), ("instance", "b:1")]),
        l(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]),
        l(&[("__name__", "up"), ("instance", "c:1")]),
        l(&[("__name__", "http_total"), ("job", "api"), ("code", "200")]),
        l(&[("__name__", "http_total"), ("job", "api"), ("code", "500")]),
        l(&[("__name__", "http_total"), ("job", "")]),
        l(&[("job", "node")]),
    ]
}

fn matcher_sets() -> Vec<Vec<Matcher>> {
    let re = |n: &str, p: &str| Matcher::regex(n, p).unwrap();
    let nre = |n: &str, p: &str| Matcher::not_regex(n, p).unwrap();
    vec![
        vec![Matcher::equal("__name__", "up")],
        vec![
            Matcher::equal("__name__", "up"),
            Matcher::equal("job", "node"),
        ],
        vec![
            Matcher::equal("__name__", "up"),
            Matcher::not_equal("job", "node"),
        ],
        vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "")],
        vec![
            Matcher::equal("__name__", "up"),
            Matcher::not_equal("job", ""),
        ],
        vec![re("__name__", "up|http_total"), re("instance", "a.*")],
        vec![re("job", "node|api")],
        vec![re("job", ".*")],
        vec![re("job", ".+")],
        vec![nre("job", "node"), Matcher::equal("__name__", "http_total")],
        vec![nre("job", ".+"), re("__name__", ".+")],
        vec![re("code", "2..|"), Matcher::equal("__name__", "http_total")],
        vec![nre("code", "")],
        vec![Matcher::equal("job", "")],
        vec![Matcher::not_equal("job", "api")],
        vec![Matcher::equal("nope", "x")],
        vec![re("nope", "x|y")],
        vec![
            re("instance", "(a|b):1"),
            Matcher::not_equal("instance", "b:1"),
        ],
        vec![
            Matcher::equal("job", "node"),
            re("__name__", ".+"),
            re("instance", ".+"),
        ],
        vec![],
    ]
}

fn brute(all: &[Labels], ms: &[Matcher]) -> Vec<Labels> {
    let mut out: Vec<Labels> = all
        .iter()
        .filter(|x| ms.iter().all(|m| m.matches(x.get(&m.name).unwrap_or(""))))
        .cloned()
        .collect();
    out.sort();
    out
}

fn labels_of(v: &[SeriesRef]) -> Vec<Labels> {
    v.iter().map(|s| s.labels().clone()).collect()
}

#[test]
fn select_matches_brute_force_and_is_sorted() {
    let store = Store::default();
    let all = universe();
    for x in &all {
        store.get_or_create(x.clone());
    }
    for ms in matcher_sets() {
        let got = labels_of(&store.select(&ms));
        assert_eq!(got, brute(&all, &ms), "matchers {ms:?}");
    }
}

#[test]
fn store_and_handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
    send_sync::<SeriesRef>();
}

#[test]
fn get_or_create_is_idempotent_and_shares_strings() {
    let store = Store::default();
    let (a, created) = store.get_or_create(l(&[("__name__", "up"), ("job", "x")]));
    assert!(created);
    let (b, created) = store.get_or_create(l(&[("job", "x"), ("__name__", "up")]));
    assert!(!created);
    assert_eq!(a.id(), b.id());
    let (c, _) = store.get_or_create(l(&[("__name__", "down"), ("job", "x")]));
    let ja = &a.labels().as_slice()[1].value;
    let jc = &c.labels().as_slice()[1].value;
    assert!(Arc::ptr_eq(ja, jc), "label values are interned");
    assert_eq!(store.series_count(), 2);
}

#[test]
fn label_names_and_values() {
    let store = Store::default();
    for x in universe() {
        store.get_or_create(x);
    }
    assert_eq!(
        store.label_names(&[]),
        vec!["__name__", "code", "instance", "job"]
    );
    assert_eq!(
        store.label_names(&[Matcher::equal("__name__", "up")]),
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(store.label_values("job", &[]), vec!["api", "node"]);
    assert_eq!(
        store.label_values("instance", &[Matcher::equal("job", "node")]),
        vec!["a:1", "b:1"]
    );
    assert!(store.label_values("nope", &[]).is_empty());
}

#[test]
fn append_rules_and_special_values() {
    let store = Store::default();
    let (s, _) = store.get_or_create(l(&[("__name__", "x")]));
    assert_eq!(store.append(&s, 1000, 1.0), Ok(()));
    assert_eq!(store.append(&s, 999, 1.0), Err(AppendError::OutOfOrder));
    assert_eq!(store.append(&s, 1000, 1.0), Ok(()));
    assert_eq!(
        store.append(&s, 1000, 2.0),
        Err(AppendError::DuplicateTimestamp)
    );
    store.append(&s, 2000, STALE_NAN).unwrap();
    store.append(&s, 3000, f64::NAN).unwrap();
    let mut out = Vec::new();
    s.samples_in(1000, 3000, &mut out);
    assert_eq!(out.len(), 3);
    assert!(crate::model::is_stale_nan(out[1].v));
    assert!(out[2].v.is_nan() && !crate::model::is_stale_nan(out[2].v));
    let mut n = 0;
    s.for_each_sample_in(2000, 2000, |t, _| {
        assert_eq!(t, 2000);
        n += 1;
    });
    assert_eq!(n, 1);
    assert_eq!(s.last().map(|x| x.t), Some(3000));
}

#[test]
fn gc_removes_stale_series_everywhere() {
    let store = Store::new(StoreOptions {
        retention_ms: Some(60_000),
    });
    let (old, _) = store.get_or_create(l(&[("__name__", "x"), ("inst", "old-one")]));
    let (new, _) = store.get_or_create(l(&[("__name__", "x"), ("inst", "new")]));
    store.append(&old, 10_000, 1.0).unwrap();
    store.append(&new, 100_000, 1.0).unwrap();
    assert_eq!(store.gc(100_000), 1);
    assert!(old.is_removed());
    assert!(!new.is_removed());
    assert_eq!(store.select(&[Matcher::equal("__name__", "x")]).len(), 1);
    assert_eq!(store.label_values("inst", &[]), vec!["new"]);
    assert_eq!(store.stats().series, 1);
    // The old value string is gone from the intern table once unused.
    let before = store.interner.len();
    drop(old);
    store.gc(100_000);
    assert_eq!(store.interner.len(), before - 1);
}

#[test]
fn gc_without_retention_keeps_everything_and_empty_series_get_a_grace_pass() {
    let store = Store::default();
    let (s, _) = store.get_or_create(l(&[("__name__", "x")]));
    store.append(&s, 1, 1.0).unwrap();
    assert_eq!(store.gc(i64::MAX), 0);
    let store = Store::new(StoreOptions {
        retention_ms: Some(10),
    });
    store.get_or_create(l(&[("__name__", "empty")]));
    assert_eq!(store.gc(0), 0, "created just now: kept once");
    assert_eq!(store.gc(0), 1, "still empty: removed");
}

#[test]
fn appending_through_a_removed_handle_recreates_the_series() {
    let store = Store::new(StoreOptions {
        retention_ms: Some(1000),
    });
    let labels = l(&[("__name__", "x")]);
    let (s, _) = store.get_or_create(labels.clone());
    store.append(&s, 0, 1.0).unwrap();
    assert_eq!(store.delete_series(&[Matcher::equal("__name__", "x")]), 1);
    assert!(store.select(&[Matcher::equal("__name__", "x")]).is_empty());
    store.append(&s, 5000, 2.0).unwrap();
    let live = store.select(&[Matcher::equal("__name__", "x")]);
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id(), s.id());
    assert_eq!(live[0].last(), Some(Sample::new(5000, 2.0)));
}

#[test]
fn stats_count_samples_and_bytes() {
    let store = Store::default();
    for i in 0..10 {
        let (s, _) = store.get_or_create(l(&[("__name__", "m"), ("i", &i.to_string())]));
        for t in 0..300 {
            store.append(&s, t * 15_000, (t % 7) as f64).unwrap();
        }
    }
    let st = store.stats();
    assert_eq!(st.series, 10);
    assert_eq!(st.samples, 3000);
    assert!(st.bytes > 10 * 100 && st.bytes < 3000 * 16, "{st:?}");
    let m = store.memory();
    let parts = m.series + m.chunk_headers + m.chunks + m.heads + m.index + m.postings + m.strings;
    assert_eq!(parts, st.bytes, "{m:?}");
    // 300 samples: two frozen chunks of 120, one header each, and a head.
    assert_eq!(
        m.chunk_headers,
        10 * 2 * std::mem::size_of::<chunk::Chunk>() as u64
    );
    // 300 samples: two frozen chunks of 120, one header each, and a head.
    assert_eq!(
        m.chunk_headers,
        10 * 2 * std::mem::size_of::<chunk::Chunk>() as u64
    );
    assert!(m.series > 0 && m.chunks > 0 && m.heads > 0 && m.strings > 0 && m.postings > 0);
}

#[test]
fn concurrent_appends_and_selects() {
    let store = Arc::new(Store::new(StoreOptions {
        retention_ms: Some(3_600_000),
    }));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let series: Vec<SeriesRef> = (0..100)
                    .map(|i| {
                        let labels = l(&[
                            ("__name__", "m"),
                            ("job", &format!("w{w}")),
                            ("i", &i.to_string()),
                        ]);
                        store.get_or_create(labels).0
                    })
                    .collect();
                for t in 0..300 {
                    for s in &series {
                        store.append(s, t * 1000, t as f64).unwrap();
                    }
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            for _ in 0..200 {
                let sel = store.select(&[Matcher::equal("__name__", "m")]);
                assert!(sel.windows(2).all(|w| w[0].labels() < w[1].labels()));
                let mut out = Vec::new();
                for s in &sel {
                    out.clear();
                    s.samples_in(0, i64::MAX, &mut out);
                    assert!(out.windows(2).all(|w| w[0].t < w[1].t));
                    assert!(out.iter().all(|x| x.v == (x.t / 1000) as f64));
                }
                seen = seen.max(sel.len());
            }
            seen
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    assert!(reader.join().unwrap() <= 400);
    let st = store.stats();
    assert_eq!(st.series, 400);
    assert_eq!(st.samples, 400 * 300);
    let one = store.select(&[Matcher::equal("job", "w2"), Matcher::equal("i", "7")]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].last(), Some(Sample::new(299_000, 299.0)));
}

/// The naive buffer the store must behave like.
#[derive(Default)]
struct Model {
    series: HashMap<Labels, Vec<Sample>>,
}

impl Model {
    fn append(
        &mut self,
        labels: &Labels,
        t: i64,
        v: f64,
        r: Option<i64>,
    ) -> Result<(), AppendError> {
        let s = self.series.entry(labels.clone()).or_default();
        if let Some(last) = s.last() {
            if t < last.t {
                return Err(AppendError::OutOfOrder);
            }
            if t == last.t {
                return if last.v.to_bits() == v.to_bits() {
                    Ok(())
                } else {
                    Err(AppendError::DuplicateTimestamp)
                };
            }
        }
        s.push(Sample { t, v });
        if let Some(r) = r {
            s.retain(|x| x.t >= t - r);
        }
        Ok(())
    }

    fn gc(&mut self, now: i64, r: Option<i64>) -> usize {
        let Some(r) = r else { return 0 };
        let before = self.series.len();
        self.series
            .retain(|_, s| s.last().is_some_and(|x| x.t >= now - r));
        before - self.series.len()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        s: usize,
        dt: i64,
        v: u8,
        cached: bool,
    },
    Gc {
        ahead: i64,
    },
    Select {
        m: usize,
    },
    Read {
        s: usize,
        from: i64,
        len: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0..4usize, -3..40i64, 0..8u8, any::<bool>())
            .prop_map(|(s, dt, v, cached)| Op::Append { s, dt, v, cached }),
        1 => (-50..500i64).prop_map(|ahead| Op::Gc { ahead }),
        2 => (0..matcher_sets().len()).prop_map(|m| Op::Select { m }),
        2 => (0..4usize, -100..3000i64, 0..800i64)
            .prop_map(|(s, from, len)| Op::Read { s, from, len }),
    ]
}

fn value(v: u8, t: i64) -> f64 {
    match v {
        0 => STALE_NAN,
        1 => f64::NAN,
        2 => f64::INFINITY,
        3 => 42.0,
        4 => t as f64 * 0.1,
        _ => (t % 13) as f64,
    }
}

fn bits(v: &[Sample]) -> Vec<(i64, u64)> {
    v.iter().map(|x| (x.t, x.v.to_bits())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_the_naive_buffer(
        retention in prop_oneof![Just(None), (50..400i64).prop_map(Some)],
        ops in proptest::collection::vec(op(), 1..700),
    ) {
        let store = Store::new(StoreOptions { retention_ms: retention });
        let mut model = Model::default();
        let all = universe();
        let sets = matcher_sets();
        let mut cache: HashMap<usize, SeriesRef> = HashMap::new();
        let mut clock = [0i64; 4];
        let mut max_t = 0;
        for op in ops {
            match op {
                Op::Append { s, dt, v, cached } => {
                    let t = clock[s] + dt;
                    clock[s] = clock[s].max(t);
                    max_t = max_t.max(t);
                    let v = value(v, t);
                    let handle = match cache.get(&s) {
                        Some(h) if cached => h.clone(),
                        _ => store.get_or_create(all[s].clone()).0,
                    };
                    cache.insert(s, handle.clone());
                    let got = store.append(&handle, t, v);
                    prop_assert_eq!(got, model.append(&all[s], t, v, retention));
                }
                Op::Gc { ahead } => {
                    let now = max_t + ahead;
                    prop_assert_eq!(store.gc(now), model.gc(now, retention));
                }
                Op::Select { m } => {
                    let present: Vec<Labels> = model.series.keys().cloned().collect();
                    let got = labels_of(&store.select(&sets[m]));
                    prop_assert_eq!(got, brute(&present, &sets[m]));
                }
                Op::Read { s, from, len } => {
                    let (mint, maxt) = (from, from + len);
                    let want: Vec<Sample> = model.series.get(&all[s]).map(|v| {
                        v.iter().filter(|x| x.t >= mint && x.t <= maxt).copied().collect()
                    }).unwrap_or_default();
                    let mut got = Vec::new();
                    if let Some(h) = store.select(&[]).iter().find(|x| x.labels() == &all[s]) {
                        h.samples_in(mint, maxt, &mut got);
                        prop_assert_eq!(
                            h.last().map(|x| (x.t, x.v.to_bits())),
                            model.series[&all[s]].last().map(|x| (x.t, x.v.to_bits()))
                        );
                    }
                    prop_assert_eq!(bits(&got), bits(&want));
                }
            }
            prop_assert_eq!(store.series_count(), model.series.len());
        }
        let st = store.stats();
        let held: usize = model.series.values().map(Vec::len).sum();
        prop_assert!(st.samples as usize >= held);
    }
}

#[test]
fn append_many_appends_in_order_and_stops_at_the_first_refusal() {
    let store = Store::new(StoreOptions {
        retention_ms: Some(1000),
    });
    let (s, _) = store.get_or_create(l(&[("__name__", "up")]));
    let samples: Vec<Sample> = (0..300).map(|i| Sample::new(i * 10, i as f64)).collect();
    assert_eq!(store.append_many(&s, &samples), Ok(300));
    let mut got = Vec::new();
    s.samples_in(i64::MIN, i64::MAX, &mut got);
    // Retention applies as with single appends: newest 2990, window 1000.
    assert_eq!(got.first().map(|x| x.t), Some(1990));
    assert_eq!(got.len(), 101);
    let bad = [Sample::new(3000, 1.0), Sample::new(2995, 1.0)];
    assert_eq!(
        store.append_many(&s, &bad),
        Err((1, AppendError::OutOfOrder))
    );
    // Through a removed handle the samples go to the live series.
    assert_eq!(store.delete_series(&[]), 1);
    assert_eq!(
        store.append_many(&s, &[Sample::new(5000, STALE_NAN)]),
        Ok(1)
    );
    let live = store.select(&[]);
    assert_eq!(live.len(), 1);
    assert!(live[0].last().is_some_and(|x| x.t == 5000));
}

#[test]
fn remove_if_empty_keeps_series_with_samples() {
    let store = Store::default();
    let (a, _) = store.get_or_create(l(&[("__name__", "a"), ("i", "1")]));
    let (b, _) = store.get_or_create(l(&[("__name__", "b"), ("i", "2")]));
    store.append(&b, 1, 1.0).unwrap();
    assert_eq!(store.remove_if_empty(&[a.clone(), b.clone()]), 1);
    assert!(a.is_removed() && !b.is_removed());
    assert_eq!(store.label_values("i", &[]), vec!["2".to_string()]);
    assert_eq!(store.remove_if_empty(&[a]), 0);
}

#[test]
fn max_series_refuses_new_series_only() {
    let store = Store::default();
    store.set_max_series(3);
    for i in 0..3 {
        let (_, created) = store
            .try_get_or_create(&l(&[("__name__", "m"), ("i", &i.to_string())]))
            .unwrap();
        assert!(created);
    }
    let strings = store.interner.len();
    let e = store
        .try_get_or_create(&l(&[("__name__", "m"), ("i", "new")]))
        .unwrap_err();
    assert_eq!(e, SeriesLimitError { limit: 3 });
    assert_eq!(
        e.to_string(),
        "buffer series limit reached (storage.max_series = 3)"
    );
    assert_eq!(
        store.interner.len(),
        strings,
        "a refused series interns nothing"
    );
    // Existing series are found, and appended to, at the limit.
    let (s, created) = store
        .try_get_or_create(&l(&[("__name__", "m"), ("i", "1")]))
        .unwrap();
    assert!(!created);
    store.append(&s, 1, 1.0).unwrap();
    // Series the process makes itself are never refused, and count.
    store.get_or_create(l(&[("__name__", "up")]));
    assert_eq!(store.series_count(), 4);
    // Room comes back when series leave.
    store.delete_series(&[Matcher::equal("i", "0")]);
    store.delete_series(&[Matcher::equal("i", "2")]);
    assert!(store
        .try_get_or_create(&l(&[("__name__", "m"), ("i", "new")]))
        .is_ok());
    assert!(store
        .try_get_or_create(&l(&[("__name__", "m"), ("i", "newer")]))
        .is_err());
    store.set_max_series(0);
    assert!(store
        .try_get_or_create(&l(&[("__name__", "m"), ("i", "newer")]))
        .is_ok());
}

#[test]
fn max_series_holds_under_concurrent_creation() {
    let store = Arc::new(Store::default());
    store.set_max_series(500);
    let made: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                sc.spawn(move || {
                    (0..400)
                        .filter(|i| {
                            let labels = l(&[("t", &t.to_string()), ("i", &i.to_string())]);
                            store.try_get_or_create(&labels).is_ok()
                        })
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(made, 500);
    assert_eq!(store.series_count(), 500);
    assert_eq!(store.all_series().len(), 500);
}

#[test]
fn gc_of_churned_series_frees_strings_postings_and_index_slots() {
    let store = Store::new(StoreOptions {
        retention_ms: Some(60_000),
    });
    let (keep, _) = store.get_or_create(l(&[("__name__", "steady")]));
    let empty = store.stats().bytes;
    for i in 0..20_000 {
        let (s, _) = store
            .try_get_or_create(&l(&[("__name__", "churn"), ("id", &format!("v{i}"))]))
            .unwrap();
        store.append(&s, 1_000, 1.0).unwrap();
    }
    let peak = store.stats().bytes;
    assert!(store.interner.len() > 20_000);
    store.append(&keep, 200_000, 1.0).unwrap();
    assert_eq!(store.gc(200_000), 20_000);
    assert_eq!(store.series_count(), 1);
    assert_eq!(store.label_values("id", &[]), Vec::<String>::new());
    assert_eq!(store.label_names(&[]), vec!["__name__"]);
    // Only `__name__` and `steady` stay interned.
    assert_eq!(store.interner.len(), 2);
    let after = store.stats().bytes;
    assert!(
        after < empty + (peak - empty) / 20,
        "index, postings and strings give back their peak: empty {empty}, peak {peak}, after {after}"
    );
}
