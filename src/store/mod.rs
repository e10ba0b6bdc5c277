//! The in-memory time-window buffer: a series index with postings for label
//! matchers, and per-series samples kept for the retention window.
//!
//! **Invariant:** no lock is held across a whole scrape or query: appends lock
//! one series, selects take the index read lock only while collecting handles.

use crate::model::{Labels, Matcher, Sample};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Counts for the self-exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Series in the index.
    pub series: u64,
    /// Samples held.
    pub samples: u64,
    /// Approximate bytes used by series and samples.
    pub bytes: u64,
}

/// One series: its labels and samples.
#[derive(Debug)]
pub struct Series {
    id: u64,
    labels: Labels,
    samples: Mutex<Vec<Sample>>,
}

/// A shared handle to a series; cheap to clone, stays valid after removal.
pub type SeriesRef = Arc<Series>;

impl Series {
    /// The series' id, unique for the life of the store.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The series' labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, in time order.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let s = self.samples.lock();
        let start = s.partition_point(|x| x.t < mint);
        out.extend(s[start..].iter().take_while(|x| x.t <= maxt));
    }

    /// The newest sample, if any.
    pub fn last(&self) -> Option<Sample> {
        self.samples.lock().last().copied()
    }
}

/// The buffer.
#[derive(Debug, Default)]
pub struct Store {
    opts: StoreOptions,
    index: RwLock<HashMap<Labels, SeriesRef>>,
    next_id: AtomicU64,
}

impl Store {
    /// An empty buffer.
    pub fn new(opts: StoreOptions) -> Self {
        Self {
            opts,
            index: RwLock::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// The options the buffer was made with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The series with exactly these labels, created if missing; the flag
    /// says whether it was created.
    pub fn get_or_create(&self, labels: Labels) -> (SeriesRef, bool) {
        if let Some(s) = self.index.read().get(&labels) {
            return (s.clone(), false);
        }
        let mut idx = self.index.write();
        if let Some(s) = idx.get(&labels) {
            return (s.clone(), false);
        }
        let s = Arc::new(Series {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            labels: labels.clone(),
            samples: Mutex::new(Vec::new()),
        });
        idx.insert(labels, s.clone());
        (s, true)
    }

    /// Appends one sample; drops samples that fell out of the window.
    pub fn append(&self, series: &SeriesRef, t: i64, v: f64) -> Result<(), AppendError> {
        let mut s = series.samples.lock();
        if let Some(last) = s.last() {
            if t < last.t {
                return Err(AppendError::OutOfOrder);
            }
            if t == last.t {
                if last.v.to_bits() == v.to_bits() {
                    return Ok(());
                }
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        s.push(Sample { t, v });
        if let Some(r) = self.opts.retention_ms {
            let cut = s.partition_point(|x| x.t < t - r);
            if cut > 0 {
                s.drain(..cut);
            }
        }
        Ok(())
    }

    /// Series matching all matchers, sorted by labels.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let idx = self.index.read();
        let mut out: Vec<SeriesRef> = idx
            .values()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
            })
            .cloned()
            .collect();
        drop(idx);
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label names present on series matching the matchers (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        let mut names: Vec<String> = self
            .select(matchers)
            .iter()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .map(|l| l.name.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Values of label `name` on series matching the matchers, sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        let mut vals: Vec<String> = self
            .select(matchers)
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        vals.sort();
        vals.dedup();
        vals
    }

    /// Removes series whose newest sample is older than the retention
    /// window before `now_ms`; returns how many were removed.
    pub fn gc(&self, now_ms: i64) -> usize {
        let Some(r) = self.opts.retention_ms else {
            return 0;
        };
        let mut idx = self.index.write();
        let before = idx.len();
        idx.retain(|_, s| s.last().is_some_and(|x| x.t >= now_ms - r));
        before - idx.len()
    }

    /// Series, sample and byte counts.
    pub fn stats(&self) -> StoreStats {
        let idx = self.index.read();
        let samples: u64 = idx.values().map(|s| s.samples.lock().len() as u64).sum();
        StoreStats {
            series: idx.len() as u64,
            samples,
            bytes: samples * std::mem::size_of::<Sample>() as u64,
        }
    }
}
