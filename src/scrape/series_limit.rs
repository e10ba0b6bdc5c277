//! Series limits on the scrape path: a target's `series_limit` and the
//! buffer's `storage.max_series`.
//!
//! Semantics follow VictoriaMetrics' per-target cardinality limiter
//! (`series_limit`): a new series over a limit is dropped and counted, the
//! rest of the scrape is kept, so the target's existing series and every
//! other target go on being appended (Prometheus' `sample_limit`, by
//! contrast, fails the whole scrape). VictoriaMetrics counts a target's
//! unique series over 24 h; here the window is the buffer's: a series
//! counts against its target while the buffer holds it, that is until gc
//! drops it `storage.retention` after its last sample.
//!
//! Both checks run only when the target's series cache misses (a series
//! the target did not send last time); a steady-state scrape never reaches
//! them.

use crate::model::Labels;
use crate::store::{Series, SeriesRef, Store};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Which limit refused a new series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesLimit {
    /// The target's `series_limit`.
    Target(usize),
    /// The buffer's `storage.max_series`.
    Buffer(usize),
}

impl SeriesLimit {
    /// The `limit` label of `watchfire_buffer_series_rejected_total`: the
    /// configuration key.
    pub fn label(self) -> &'static str {
        match self {
            SeriesLimit::Target(_) => "series_limit",
            SeriesLimit::Buffer(_) => "max_series",
        }
    }
}

/// A new series a limit refused, with its labels (for the message).
#[derive(Debug)]
pub struct Refused {
    /// The limit.
    pub limit: SeriesLimit,
    /// The series that was not created.
    pub labels: Labels,
}

/// New series refused during one scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    /// Refused by the target's `series_limit`.
    pub by_target: usize,
    /// Refused by `storage.max_series`.
    pub by_buffer: usize,
    /// The last limit that refused one.
    pub limit: Option<SeriesLimit>,
    /// The first refused series, as text (cut to 200 bytes).
    pub example: Option<String>,
}

impl Refusals {
    /// Counts one refusal.
    pub fn note(&mut self, r: Refused) {
        match r.limit {
            SeriesLimit::Target(_) => self.by_target += 1,
            SeriesLimit::Buffer(_) => self.by_buffer += 1,
        }
        self.limit = Some(r.limit);
        if self.example.is_none() {
            let mut s = r.labels.to_string();
            if s.len() > 200 {
                let mut cut = 200;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push('…');
            }
            self.example = Some(s);
        }
    }

    /// Series refused in all.
    pub fn total(&self) -> usize {
        self.by_target + self.by_buffer
    }

    /// The target's `lastError` when something was refused: which limit,
    /// how many, and that the rest of the scrape was kept.
    pub fn message(&self) -> Option<String> {
        let limit = self.limit?;
        let which = match limit {
            SeriesLimit::Target(n) => format!("series_limit of {n} series for this target"),
            SeriesLimit::Buffer(n) => format!("storage.max_series of {n} series in the buffer"),
        };
        Some(format!(
            "series limit exceeded: {} new series refused ({which} reached; e.g. {}); \
             samples of existing series were kept",
            self.total(),
            self.example.as_deref().unwrap_or("")
        ))
    }
}

/// One target's series in the buffer, counted against its `series_limit`.
#[derive(Debug, Default)]
pub struct TargetSeries {
    limit: usize,
    /// Series this target created or found, by id. Weak, so a series gc
    /// dropped frees its labels at once; dead entries are pruned when the
    /// limit is reached.
    held: HashMap<u64, Weak<Series>>,
    /// The scrape round of the last prune: at most one per round.
    pruned_round: u64,
}

impl TargetSeries {
    /// A tracker for `limit` series (0: no limit, nothing is tracked).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// The series with `labels` for a cache miss in scrape `round`, created
    /// if missing, unless the target holds its `series_limit` of series or
    /// the buffer its `storage.max_series`.
    pub fn admit(
        &mut self,
        store: &Store,
        labels: Labels,
        round: u64,
    ) -> Result<SeriesRef, Refused> {
        if self.limit == 0 {
            return store
                .try_get_or_create(&labels)
                .map(|(s, _)| s)
                .map_err(|e| Refused {
                    limit: SeriesLimit::Buffer(e.limit),
                    labels,
                });
        }
        if self.held.len() >= self.limit && self.pruned_round != round {
            self.pruned_round = round;
            self.held
                .retain(|_, w| w.upgrade().is_some_and(|s| !s.is_removed()));
        }
        if self.held.len() >= self.limit {
            // Only a series this target already holds may pass.
            return match store.get(&labels) {
                Some(s) if self.held.contains_key(&s.id()) => Ok(s),
                _ => Err(Refused {
                    limit: SeriesLimit::Target(self.limit),
                    labels,
                }),
            };
        }
        match store.try_get_or_create(&labels) {
            Ok((s, _)) => {
                self.held.insert(s.id(), Arc::downgrade(&s));
                Ok(s)
            }
            Err(e) => Err(Refused {
                limit: SeriesLimit::Buffer(e.limit),
                labels,
            }),
        }
    }

    /// Series counted against the limit (including ones gc dropped since
    /// the last prune).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Matcher;
    use crate::store::StoreOptions;

    fn labels(i: usize) -> Labels {
        Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())])
    }

    #[test]
    fn target_limit_refuses_new_series_but_keeps_held_ones() {
        let store = Store::new(StoreOptions::default());
        let mut t = TargetSeries::new(3);
        for i in 0..3 {
            t.admit(&store, labels(i), 1).unwrap();
        }
        let e = t.admit(&store, labels(3), 1).unwrap_err();
        assert_eq!(e.limit, SeriesLimit::Target(3));
        assert_eq!(e.labels, labels(3));
        assert!(
            store.get(&labels(3)).is_none(),
            "a refused series is not created"
        );
        // A held series comes back after a cache drop (e.g. a failed scrape).
        assert_eq!(t.admit(&store, labels(1), 2).unwrap().labels(), &labels(1));
        assert_eq!(store.series_count(), 3);
    }

    #[test]
    fn series_that_left_the_buffer_free_their_slot() {
        let store = Store::new(StoreOptions::default());
        let mut t = TargetSeries::new(2);
        t.admit(&store, labels(0), 1).unwrap();
        t.admit(&store, labels(1), 1).unwrap();
        assert!(t.admit(&store, labels(2), 1).is_err());
        store.delete_series(&[Matcher::equal("i", "0")]);
        // Pruned at most once per round: this round already pruned.
        assert!(t.admit(&store, labels(2), 1).is_err());
        t.admit(&store, labels(2), 2).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn buffer_limit_refuses_new_series_for_every_target() {
        let store = Store::new(StoreOptions::default());
        store.set_max_series(2);
        let mut a = TargetSeries::new(0);
        let mut b = TargetSeries::new(10);
        a.admit(&store, labels(0), 1).unwrap();
        b.admit(&store, labels(1), 1).unwrap();
        let e = a.admit(&store, labels(2), 1).unwrap_err();
        assert_eq!(e.limit, SeriesLimit::Buffer(2));
        let e = b.admit(&store, labels(3), 1).unwrap_err();
        assert_eq!(e.limit, SeriesLimit::Buffer(2));
        // Existing series are still found, by either target.
        a.admit(&store, labels(1), 2).unwrap();
        assert_eq!(store.series_count(), 2);
    }

    #[test]
    fn refusals_say_which_limit_and_how_many() {
        let mut r = Refusals::default();
        assert_eq!(r.message(), None);
        r.note(Refused {
            limit: SeriesLimit::Target(5),
            labels: labels(7),
        });
        r.note(Refused {
            limit: SeriesLimit::Target(5),
            labels: labels(8),
        });
        assert_eq!(r.total(), 2);
        let m = r.message().unwrap();
        assert!(
            m.starts_with("series limit exceeded: 2 new series refused"),
            "{m}"
        );
        assert!(
            m.contains("series_limit of 5 series for this target"),
            "{m}"
        );
        assert!(m.contains(r#"m{i="7"}"#), "{m}");
        let long = Labels::from_pairs([("x", "é".repeat(300))]);
        let mut r = Refusals::default();
        r.note(Refused {
            limit: SeriesLimit::Buffer(1),
            labels: long,
        });
        assert!(r.example.as_ref().unwrap().len() <= 204);
        assert!(r
            .message()
            .unwrap()
            .contains("storage.max_series of 1 series"));
    }
}
