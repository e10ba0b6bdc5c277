//! The per-target series cache: raw series text as scraped → buffer series.
//!
//! A cache hit costs one hash of the bytes already in the body and no
//! allocation; only a series seen for the first time builds a label set.
//! The cache also tells which series disappeared since the last scrape, so
//! the loop can write staleness markers for them. A miss goes through the
//! target's series limits ([`TargetSeries`]) before a series is created.
//!
//! A series that `metric_relabel_configs` dropped is cached too, as a drop: the rules run once
//! per new raw series, never per sample, and a later hit skips the sample without allocating.
//!
//! The map keeps the capacity of the largest scrape it held and gives it
//! back when it is four times what the last scrape needed, so a target that
//! once churned does not keep its peak.

use super::series_limit::{Refused, TargetSeries};
use crate::model::Labels;
use crate::store::{SeriesRef, Store};
use std::collections::HashMap;

#[derive(Debug)]
struct Entry {
    /// `None`: metric relabeling dropped the series.
    series: Option<SeriesRef>,
    /// Scrape round in which the series was last seen.
    seen: u64,
    /// Scrape round in which the entry was made.
    added: u64,
    /// The series carried its own timestamp: Prometheus writes no
    /// staleness markers for such series.
    explicit_ts: bool,
}

/// Raw series key → series, with the round each was last seen in.
#[derive(Debug, Default)]
pub struct SeriesCache {
    map: HashMap<Box<[u8]>, Entry>,
    round: u64,
    limits: TargetSeries,
}

impl SeriesCache {
    /// A cache for a target with this `series_limit` (0: none).
    pub fn with_series_limit(limit: usize) -> Self {
        Self {
            limits: TargetSeries::new(limit),
            ..Self::default()
        }
    }

    /// The series for a cache miss, created if missing, unless the
    /// target's `series_limit` or the buffer's `storage.max_series` refuses
    /// it (see [`TargetSeries::admit`]). Does not cache it: call
    /// [`SeriesCache::insert`].
    pub fn admit(&mut self, store: &Store, labels: Labels) -> Result<SeriesRef, Refused> {
        self.limits.admit(store, labels, self.round)
    }

    /// Starts a new scrape round.
    pub fn begin_round(&mut self) {
        self.round += 1;
    }

    /// The cached outcome for `key`, marking it seen in this round: `Some(Some(series))` for a
    /// kept series, `Some(None)` for one metric relabeling dropped, `None` on a miss.
    pub fn lookup(&mut self, key: &[u8]) -> Option<Option<&SeriesRef>> {
        let round = self.round;
        self.map.get_mut(key).map(|e| {
            e.seen = round;
            e.series.as_ref()
        })
    }

    /// Remembers a new series, seen in this round.
    pub fn insert(&mut self, key: &[u8], series: SeriesRef, explicit_ts: bool) {
        self.insert_entry(key, Some(series), explicit_ts);
    }

    /// Remembers that metric relabeling dropped the series `key`.
    pub fn insert_dropped(&mut self, key: &[u8]) {
        self.insert_entry(key, None, false);
    }

    fn insert_entry(&mut self, key: &[u8], series: Option<SeriesRef>, explicit_ts: bool) {
        self.map.insert(
            key.into(),
            Entry {
                series,
                seen: self.round,
                added: self.round,
                explicit_ts,
            },
        );
    }

    /// Forgets series not seen in this round; those that need a staleness
    /// marker are pushed to `stale`.
    pub fn sweep_unseen(&mut self, stale: &mut Vec<SeriesRef>) {
        let round = self.round;
        self.map.retain(|_, e| {
            if e.seen == round {
                return true;
            }
            if let (Some(series), false) = (&e.series, e.explicit_ts) {
                stale.push(series.clone());
            }
            false
        });
        self.shrink();
    }

    fn shrink(&mut self) {
        if self.map.capacity() > 4 * self.map.len().max(256) {
            self.map.shrink_to_fit();
        }
    }

    /// Forgets every series (the scrape failed, the target went down or
    /// was removed). Series first seen in the current round never got a
    /// sample from this target (its batch was discarded): they go to
    /// `unborn`, for the caller to drop if nothing else wrote to them. The
    /// others that need a staleness marker go to `stale`.
    pub fn drain(&mut self, stale: &mut Vec<SeriesRef>, unborn: &mut Vec<SeriesRef>) {
        let round = self.round;
        for (_, e) in self.map.drain() {
            let Some(series) = e.series else { continue };
            if e.added == round {
                unborn.push(series);
            } else if !e.explicit_ts {
                stale.push(series);
            }
        }
        self.shrink();
    }

    /// Number of cached series.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::store::{Store, StoreOptions};

    #[test]
    fn unseen_series_are_swept_except_explicit_timestamps() {
        let store = Store::new(StoreOptions::default());
        let (a, _) = store.get_or_create(Labels::from_pairs([("__name__", "a")]));
        let (b, _) = store.get_or_create(Labels::from_pairs([("__name__", "b")]));
        let (c, _) = store.get_or_create(Labels::from_pairs([("__name__", "c")]));
        let mut cache = SeriesCache::default();
        cache.begin_round();
        cache.insert(b"a", a, false);
        cache.insert(b"b", b, false);
        cache.insert(b"c", c, true);
        cache.insert_dropped(b"gone");
        cache.begin_round();
        assert!(cache.lookup(b"a").is_some());
        let mut stale = Vec::new();
        cache.sweep_unseen(&mut stale);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].labels().metric_name(), Some("b"));
        assert_eq!(cache.len(), 1);
        stale.clear();
        let (d, _) = store.get_or_create(Labels::from_pairs([("__name__", "d")]));
        cache.insert(b"d", d, false);
        cache.insert_dropped(b"dropped");
        assert!(matches!(cache.lookup(b"dropped"), Some(None)));
        let mut unborn = Vec::new();
        cache.drain(&mut stale, &mut unborn);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].labels().metric_name(), Some("a"));
        assert_eq!(unborn.len(), 1);
        assert_eq!(unborn[0].labels().metric_name(), Some("d"));
        assert!(cache.is_empty());
    }
}
