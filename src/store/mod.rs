//! The in-memory time-window buffer: a sharded series index over interned
//! label strings, postings for label matchers, and per-series compressed
//! chunks kept for the retention window.
//!
//! Layout: `index` maps label sets and ids to series in 16 shards; `intern`
//! stores each label string once; `postings` answers matchers; `series`
//! holds one series' chunks behind its own lock; `chunk` encodes timestamps
//! as delta-of-deltas and `values` encodes values (XOR or decimal deltas),
//! both over `bits`.
//!
//! **Invariant:** no lock is held across a whole scrape or query: appends
//! lock one series only; creations lock one index shard, then the postings;
//! selects take the postings read lock only while planning, then each index
//! shard's read lock while resolving ids. Lock order is shard → series →
//! postings; a closure given to [`Series::for_each_sample_in`] runs under
//! the series lock and must not call back into the store.
//!
//! **Invariant:** a series' visible samples are those no older than its
//! newest sample minus the retention (whole chunks beyond that are dropped on
//! append and on gc; reads filter the rest), so results do not depend on
//! chunk boundaries.
//!
//! **Limit:** [`Store::try_get_or_create`] refuses a new series once the
//! buffer holds `storage.max_series` series ([`Store::set_max_series`]; the
//! default and why is `config::StorageConfig::DEFAULT_MAX_SERIES`; 0 here
//! means no limit); scrapes create their series through it.
//! Series the process makes itself (`up` and `scrape_*`, rule output,
//! snapshot restore) use [`Store::get_or_create`] and are never refused;
//! they count towards the limit. The check costs one atomic load on the
//! creation path only; appends to existing series never look at it.
//!
//! A tap ([`Store::set_tap`], remote write) sees every sample [`Store::append`] accepts, after
//! the series lock is released; it must not block (it hands the sample off). Snapshot restore
//! ([`Store::append_many`]) is not tapped.
//!
//! Removal (gc, [`Store::delete_series`]) marks a series removed under its
//! lock; an append through an old handle then goes to the live series with
//! the same labels, re-creating it, so a scrape cache never feeds an orphan.

mod bits;
mod chunk;
mod index;
mod intern;
mod postings;
mod series;
#[cfg(test)]
mod tests;
mod values;

pub use series::{Cursor, Series, SeriesRef, SeriesView};

use crate::model::{Labels, Matcher, Sample};
use index::{Full, Index};
use intern::Interner;
use parking_lot::RwLock;
use postings::{Candidates, Postings};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

/// Buffer settings.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// How long samples are kept, in milliseconds; `None` keeps everything
    /// (used by tests that load fixed data sets).
    pub retention_ms: Option<i64>,
}

/// Why an append was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AppendError {
    /// The sample is older than the series' newest sample.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample but another value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
}

/// A new series refused because the buffer holds `storage.max_series` series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("buffer series limit reached (storage.max_series = {limit})")]
pub struct SeriesLimitError {
    /// The limit in force.
    pub limit: usize,
}

/// Sees every sample [`Store::append`] accepts (remote write's hand-off).
pub trait AppendTap: Send + Sync {
    /// `series` got `(t, v)`; called after the series lock is released. Must return quickly.
    fn appended(&self, series: &SeriesRef, t: i64, v: f64);
}

/// Counts for the self-exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Series in the index.
    pub series: u64,
    /// Samples held.
    pub samples: u64,
    /// Approximate bytes used by series, chunks, index, postings and strings.
    pub bytes: u64,
}

/// Where the buffer's bytes go, by part (approximate heap bytes, before
/// allocator rounding); the parts sum to [`StoreStats::bytes`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryBreakdown {
    /// Series structs with their `Arc` headers and label vectors.
    pub series: u64,
    /// Frozen chunk headers (the per-series vectors' capacity).
    pub chunk_headers: u64,
    /// Frozen chunks' encoded data.
    pub chunks: u64,
    /// Head chunks' allocated bit streams.
    pub heads: u64,
    /// The series index maps (by label hash and by id).
    pub index: u64,
    /// Postings lists and their maps.
    pub postings: u64,
    /// Interned label strings and their table.
    pub strings: u64,
}

/// The buffer.
pub struct Store {
    opts: StoreOptions,
    index: Index,
    interner: Interner,
    postings: RwLock<Postings>,
    /// Most series [`Store::try_get_or_create`] lets in; 0 is no limit.
    max_series: AtomicUsize,
    /// Set once, before appends start mattering (remote write).
    tap: std::sync::OnceLock<Arc<dyn AppendTap>>,
    /// Unique among the stores of this process ([`Store::id`]).
    id: u64,
}

/// The next [`Store::id`].
static STORE_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Default for Store {
    fn default() -> Self {
        Self::new(StoreOptions::default())
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("opts", &self.opts)
            .field("series", &self.index.len())
            .finish_non_exhaustive()
    }
}

/// Orders label sets as `Labels`' `Ord` does, skipping string comparison
/// for shared (interned) strings.
fn cmp_labels(a: &Labels, b: &Labels) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        if !Arc::ptr_eq(&x.name, &y.name) {
            let o = x.name.cmp(&y.name);
            if o != Ordering::Equal {
                return o;
            }
        }
        if !Arc::ptr_eq(&x.value, &y.value) {
            let o = x.value.cmp(&y.value);
            if o != Ordering::Equal {
                return o;
            }
        }
    }
    a.len().cmp(&b.len())
}

impl Store {
    /// An empty buffer.
    pub fn new(opts: StoreOptions) -> Self {
        Self {
            opts,
            index: Index::default(),
            interner: Interner::default(),
            postings: RwLock::default(),
            max_series: AtomicUsize::new(0),
            tap: std::sync::OnceLock::new(),
            id: STORE_IDS.fetch_add(1, AtomicOrdering::Relaxed),
        }
    }

    /// An id no other store of this process has (caches keyed by series id name their
    /// store with it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Installs the tap every accepted append is reported to; false when one is already set.
    pub fn set_tap(&self, tap: Arc<dyn AppendTap>) -> bool {
        self.tap.set(tap).is_ok()
    }

    /// Reports an accepted append to the tap, if any.
    #[inline]
    fn tapped(
        &self,
        series: &SeriesRef,
        t: i64,
        v: f64,
        r: Result<(), AppendError>,
    ) -> Result<(), AppendError> {
        if r.is_ok() {
            if let Some(tap) = self.tap.get() {
                tap.appended(series, t, v);
            }
        }
        r
    }

    /// Sets the most series [`Store::try_get_or_create`] admits (0: no
    /// limit). Lowering it below the current count removes nothing: new
    /// series wait until gc brings the count under it.
    pub fn set_max_series(&self, max: usize) {
        self.max_series.store(max, AtomicOrdering::Relaxed);
    }

    /// The series limit in force (0: none).
    pub fn max_series(&self) -> usize {
        self.max_series.load(AtomicOrdering::Relaxed)
    }

    /// The series with exactly these labels, if the buffer holds it.
    pub fn get(&self, labels: &Labels) -> Option<SeriesRef> {
        self.index.get(self.index.hash(labels), labels)
    }

    /// Like [`Store::get_or_create`], but a new series is refused once the
    /// buffer holds [`Store::max_series`] series; existing series are
    /// always found. For series that come from outside (scrapes).
    pub fn try_get_or_create(
        &self,
        labels: &Labels,
    ) -> Result<(SeriesRef, bool), SeriesLimitError> {
        let max = self.max_series();
        let h = self.index.hash(labels);
        if let Some(s) = self.index.get(h, labels) {
            return Ok((s, false));
        }
        let refused = SeriesLimitError { limit: max };
        // Cheap pre-check, so a refused series interns nothing.
        if max > 0 && self.index.len() >= max {
            return Err(refused);
        }
        let labels = self.interner.intern_labels(labels);
        self.index
            .get_or_insert_within(h, labels, max, |s| {
                self.postings.write().add(s.id(), s.labels());
            })
            .map_err(|Full| refused)
    }

    /// The options the buffer was made with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The series with exactly these labels, created if missing; the flag
    /// says whether it was created. Meant for scrape-cache misses: it hashes
    /// the label set and takes a shard lock.
    pub fn get_or_create(&self, labels: Labels) -> (SeriesRef, bool) {
        let h = self.index.hash(&labels);
        if let Some(s) = self.index.get(h, &labels) {
            return (s, false);
        }
        let labels = self.interner.intern_labels(&labels);
        self.index.get_or_insert(h, labels, |s| {
            self.postings.write().add(s.id(), s.labels());
        })
    }

    /// Appends one sample, locking only this series; drops chunks that fell
    /// out of the window. Appending through a handle whose series was
    /// removed (see [`Series::is_removed`]) re-creates the series and
    /// appends there.
    pub fn append(&self, series: &SeriesRef, t: i64, v: f64) -> Result<(), AppendError> {
        let mut d = series.lock();
        if !d.is_removed() {
            let r = d.append(t, v, self.opts.retention_ms);
            drop(d);
            return self.tapped(series, t, v, r);
        }
        drop(d);
        loop {
            // Slow path: the handle is stale; find or re-create the live series.
            let (live, _) = self.get_or_create(series.labels().clone());
            let mut d = live.lock();
            if !d.is_removed() {
                let r = d.append(t, v, self.opts.retention_ms);
                drop(d);
                return self.tapped(&live, t, v, r);
            }
        }
    }

    /// Appends samples in time order to one series under a single lock (for
    /// restoring a snapshot); stops at the first refused sample and returns
    /// how many were appended with the error. Like [`Store::append`], a
    /// removed handle is redirected to the live series.
    pub fn append_many(
        &self,
        series: &SeriesRef,
        samples: &[Sample],
    ) -> Result<usize, (usize, AppendError)> {
        let retention = self.opts.retention_ms;
        let push = |d: &mut series::SeriesData| {
            for (i, s) in samples.iter().enumerate() {
                d.append(s.t, s.v, retention).map_err(|e| (i, e))?;
            }
            Ok(samples.len())
        };
        let mut d = series.lock();
        if !d.is_removed() {
            return push(&mut d);
        }
        drop(d);
        loop {
            let (live, _) = self.get_or_create(series.labels().clone());
            let mut d = live.lock();
            if !d.is_removed() {
                return push(&mut d);
            }
        }
    }

    /// Series matching all matchers, sorted by labels.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let mut out = self.select_unsorted(matchers);
        out.sort_unstable_by(|a, b| cmp_labels(a.labels(), b.labels()));
        out
    }

    /// Series matching all matchers, in no particular order.
    pub fn select_unsorted(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let plan = self.postings.read().plan(matchers);
        let mut out = match &plan.candidates {
            Candidates::All => self.index.all(),
            Candidates::Ids(ids) => self.index.by_ids(ids),
        };
        if !plan.filters.is_empty() {
            out.retain(|s| plan.keeps(s.labels()));
        }
        out
    }

    /// Label names present on series matching the matchers (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.postings.read().names();
        }
        let mut names = BTreeSet::new();
        for s in self.select_unsorted(matchers) {
            for l in s.labels() {
                if !names.contains(&*l.name) {
                    names.insert(l.name.to_string());
                }
            }
        }
        names.into_iter().collect()
    }

    /// Values of label `name` on series matching the matchers, sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.postings.read().values(name);
        }
        let mut vals = BTreeSet::new();
        for s in self.select_unsorted(matchers) {
            if let Some(v) = s.labels().get(name) {
                if !vals.contains(v) {
                    vals.insert(v.to_string());
                }
            }
        }
        vals.into_iter().collect()
    }

    /// Removes series whose newest sample is older than the retention
    /// window before `now_ms` (and series that stayed empty across two
    /// passes), trims older chunks, and frees unused label strings; returns
    /// how many series were removed. Does nothing without a retention.
    pub fn gc(&self, now_ms: i64) -> usize {
        let Some(r) = self.opts.retention_ms else {
            return 0;
        };
        let removed = self.index.gc(now_ms.saturating_sub(r));
        let n = removed.len();
        self.forget(removed);
        n
    }

    /// Removes the series matching the matchers (for tests and admin
    /// deletes); returns how many were removed.
    pub fn delete_series(&self, matchers: &[Matcher]) -> usize {
        let gone: Vec<SeriesRef> = self
            .select_unsorted(matchers)
            .into_iter()
            .filter(|s| self.index.remove(s))
            .collect();
        let n = gone.len();
        self.forget(gone);
        n
    }

    /// Removes those of `series` that hold no sample (series a failed
    /// scrape created); returns how many were removed.
    pub fn remove_if_empty(&self, series: &[SeriesRef]) -> usize {
        if series.is_empty() {
            return 0;
        }
        let gone: Vec<SeriesRef> = series
            .iter()
            .filter(|s| self.index.remove_if_empty(s))
            .cloned()
            .collect();
        let n = gone.len();
        if n > 0 {
            self.forget(gone);
        }
        n
    }

    /// Drops removed series from the postings, then unused strings.
    fn forget(&self, removed: Vec<SeriesRef>) {
        if !removed.is_empty() {
            self.postings
                .write()
                .remove(removed.iter().map(|s| (s.id(), s.labels())));
        }
        drop(removed);
        self.interner.sweep();
    }

    /// Series in the index.
    pub fn series_count(&self) -> usize {
        self.index.len()
    }

    /// Every series, in no particular order (for snapshots and persistence).
    pub fn all_series(&self) -> Vec<SeriesRef> {
        self.index.all()
    }

    /// Where the bytes counted by [`Store::stats`] go; one pass over every
    /// series (for benchmarks and diagnostics, not the scrape path).
    pub fn memory(&self) -> MemoryBreakdown {
        let mut m = MemoryBreakdown::default();
        self.index.for_each(|s| {
            let (own, headers, chunks, head) = s.bytes_split();
            m.series += own as u64;
            m.chunk_headers += headers as u64;
            m.chunks += chunks as u64;
            m.heads += head as u64;
        });
        m.index = self.index.bytes() as u64;
        m.postings = self.postings.read().bytes() as u64;
        m.strings = self.interner.bytes() as u64;
        m
    }

    /// Series, sample and byte counts. Visits every series (one lock each),
    /// so call it at scrape frequency, not per sample.
    pub fn stats(&self) -> StoreStats {
        let (mut series, mut samples, mut bytes) = (0u64, 0u64, 0usize);
        self.index.for_each(|s| {
            series += 1;
            samples += s.sample_count() as u64;
            bytes += s.bytes();
        });
        bytes += self.index.bytes() + self.interner.bytes() + self.postings.read().bytes();
        StoreStats {
            series,
            samples,
            bytes: bytes as u64,
        }
    }
}
