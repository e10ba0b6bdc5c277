//! The series index: label set → series and id → series, split into shards
//! by label-set hash so concurrent creations and lookups rarely share a lock.
//!
//! A series id is `counter << SHARD_BITS | shard`: ids grow with creation
//! time (so postings lists mostly append at their end) and name the shard
//! that holds the series.
//!
//! **Invariant:** lock order is shard → series → postings; nothing takes a
//! shard lock while holding a series or postings lock.

use super::series::{GcVerdict, Series, SeriesRef};
use crate::model::Labels;
use parking_lot::RwLock;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;

/// Hasher for keys that are already ids or hashes: one folded multiply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MixState;

/// See [`MixState`].
#[derive(Debug, Default)]
pub(crate) struct MixHasher(u64);

impl BuildHasher for MixState {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
    fn finish(&self) -> u64 {
        let p = u128::from(self.0) * 0x9e37_79b9_7f4a_7c15;
        (p as u64) ^ ((p >> 64) as u64)
    }
}

#[derive(Debug, Default)]
struct Shard {
    by_hash: HashMap<u64, SeriesRef, MixState>,
    /// Series whose label hash collides with one in `by_hash`; practically empty.
    overflow: Vec<(u64, SeriesRef)>,
    by_id: HashMap<u64, SeriesRef, MixState>,
}

impl Shard {
    fn find(&self, h: u64, labels: &Labels) -> Option<&SeriesRef> {
        if let Some(s) = self.by_hash.get(&h) {
            if s.labels() == labels {
                return Some(s);
            }
        }
        self.overflow
            .iter()
            .find(|(oh, s)| *oh == h && s.labels() == labels)
            .map(|(_, s)| s)
    }

    fn insert(&mut self, h: u64, s: SeriesRef) {
        self.by_id.insert(s.id(), s.clone());
        match self.by_hash.entry(h) {
            Entry::Occupied(_) => self.overflow.push((h, s)),
            Entry::Vacant(e) => {
                e.insert(s);
            }
        }
    }

    fn remove(&mut self, h: u64, id: u64) -> bool {
        if self.by_id.remove(&id).is_none() {
            return false;
        }
        if self.by_hash.get(&h).is_some_and(|s| s.id() == id) {
            self.by_hash.remove(&h);
            if let Some(i) = self.overflow.iter().position(|(oh, _)| *oh == h) {
                let (_, s) = self.overflow.swap_remove(i);
                self.by_hash.insert(h, s);
            }
        } else {
            self.overflow.retain(|(_, s)| s.id() != id);
        }
        self.shrink();
        true
    }

    /// Gives back map capacity left over from a peak (a churning target,
    /// a removed job), so freed series do not keep their slots.
    fn shrink(&mut self) {
        let len = self.by_id.len();
        if self.by_id.capacity() > 4 * len.max(64) {
            self.by_id.shrink_to_fit();
            self.by_hash.shrink_to_fit();
            self.overflow.shrink_to_fit();
        }
    }

    fn bytes(&self) -> usize {
        let slot = 2 * std::mem::size_of::<u64>() + 1;
        (self.by_hash.capacity() + self.by_id.capacity()) * slot
            + self.overflow.capacity() * std::mem::size_of::<(u64, SeriesRef)>()
    }
}

/// The sharded series maps.
#[derive(Debug)]
pub(crate) struct Index {
    shards: Box<[RwLock<Shard>]>,
    hasher: RandomState,
    next: AtomicU64,
    /// Series indexed (kept beside the shards so the limit check and
    /// `len` take no shard lock).
    count: AtomicUsize,
}

/// A creation refused because the index holds its limit of series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl Default for Index {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
            next: AtomicU64::new(1),
            count: AtomicUsize::new(0),
        }
    }
}

impl Index {
    /// The label set's hash (keyed per process, so hostile label values
    /// cannot force collisions).
    pub(crate) fn hash(&self, labels: &Labels) -> u64 {
        self.hasher.hash_one(labels)
    }

    fn shard_of_hash(h: u64) -> usize {
        (h >> (64 - SHARD_BITS)) as usize
    }

    fn shard_of_id(id: u64) -> usize {
        (id as usize) & (SHARDS - 1)
    }

    /// The series with these labels, if indexed.
    pub(crate) fn get(&self, h: u64, labels: &Labels) -> Option<SeriesRef> {
        self.shards[Self::shard_of_hash(h)]
            .read()
            .find(h, labels)
            .cloned()
    }

    /// The series with these labels, created if missing; `on_create` runs
    /// under the shard lock (so a new series is in the postings before
    /// anyone can remove it).
    pub(crate) fn get_or_insert(
        &self,
        h: u64,
        labels: Labels,
        on_create: impl FnOnce(&SeriesRef),
    ) -> (SeriesRef, bool) {
        match self.get_or_insert_within(h, labels, 0, on_create) {
            Ok(found) => found,
            Err(Full) => unreachable!("no limit given"),
        }
    }

    /// Like [`Index::get_or_insert`], but a new series is refused when
    /// `max` (non-zero) series are indexed already. The slot is reserved
    /// under the shard lock, so concurrent creations never overshoot.
    pub(crate) fn get_or_insert_within(
        &self,
        h: u64,
        labels: Labels,
        max: usize,
        on_create: impl FnOnce(&SeriesRef),
    ) -> Result<(SeriesRef, bool), Full> {
        let si = Self::shard_of_hash(h);
        let mut shard = self.shards[si].write();
        if let Some(s) = shard.find(h, &labels) {
            return Ok((s.clone(), false));
        }
        if max == 0 {
            self.count.fetch_add(1, Ordering::Relaxed);
        } else if self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < max).then_some(c + 1)
            })
            .is_err()
        {
            return Err(Full);
        }
        let id = (self.next.fetch_add(1, Ordering::Relaxed) << SHARD_BITS) | si as u64;
        let s = Arc::new(Series::new(id, labels));
        shard.insert(h, s.clone());
        on_create(&s);
        Ok((s, true))
    }

    /// Series for sorted or unsorted ids; ids no longer indexed are skipped.
    pub(crate) fn by_ids(&self, ids: &[u64]) -> Vec<SeriesRef> {
        let mut buckets: Vec<Vec<u64>> = vec![Vec::new(); SHARDS];
        for &id in ids {
            buckets[Self::shard_of_id(id)].push(id);
        }
        let mut out = Vec::with_capacity(ids.len());
        for (shard, bucket) in self.shards.iter().zip(&buckets) {
            if bucket.is_empty() {
                continue;
            }
            let shard = shard.read();
            out.extend(bucket.iter().filter_map(|id| shard.by_id.get(id).cloned()));
        }
        out
    }

    /// Calls `f` for every indexed series, one shard read-locked at a time.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&SeriesRef)) {
        for shard in self.shards.iter() {
            shard.read().by_id.values().for_each(&mut f);
        }
    }

    /// Every indexed series, in no particular order.
    pub(crate) fn all(&self) -> Vec<SeriesRef> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|s| out.push(s.clone()));
        out
    }

    /// Removes `s` from the index and marks it removed; false if it was not indexed.
    pub(crate) fn remove(&self, s: &SeriesRef) -> bool {
        let h = self.hash(s.labels());
        let mut shard = self.shards[Self::shard_of_id(s.id())].write();
        let mut d = s.lock();
        if d.is_removed() {
            return false;
        }
        d.mark_removed();
        drop(d);
        self.forget_one(&mut shard, h, s.id())
    }

    /// Removes `s` from the index if it holds no sample; true if removed.
    pub(crate) fn remove_if_empty(&self, s: &SeriesRef) -> bool {
        let h = self.hash(s.labels());
        let mut shard = self.shards[Self::shard_of_id(s.id())].write();
        let mut d = s.lock();
        if d.is_removed() || d.sample_count() > 0 {
            return false;
        }
        d.mark_removed();
        drop(d);
        self.forget_one(&mut shard, h, s.id())
    }

    /// Trims chunks older than `cutoff` and removes series judged stale;
    /// returns the removed series. Each shard is read-locked to find
    /// candidates, then write-locked briefly to remove them.
    pub(crate) fn gc(&self, cutoff: i64) -> Vec<SeriesRef> {
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            let candidates: Vec<SeriesRef> = shard
                .read()
                .by_id
                .values()
                .filter(|s| s.lock().gc(cutoff) == GcVerdict::Remove)
                .cloned()
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let mut shard = shard.write();
            for s in candidates {
                let mut d = s.lock();
                // An append may have landed since the read pass.
                if d.is_removed() || d.gc(cutoff) == GcVerdict::Keep {
                    continue;
                }
                d.mark_removed();
                drop(d);
                self.forget_one(&mut shard, self.hash(s.labels()), s.id());
                removed.push(s);
            }
        }
        removed
    }

    /// Takes one series out of a (write-locked) shard and the count.
    fn forget_one(&self, shard: &mut Shard, h: u64, id: u64) -> bool {
        let gone = shard.remove(h, id);
        if gone {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        gone
    }

    /// Series indexed.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Bytes of the maps themselves (not the series).
    pub(crate) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.read().bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_hashes_are_kept_apart() {
        let mut shard = Shard::default();
        let a = Arc::new(Series::new(16, Labels::from_pairs([("a", "1")])));
        let b = Arc::new(Series::new(32, Labels::from_pairs([("a", "2")])));
        shard.insert(7, a.clone());
        shard.insert(7, b.clone());
        assert_eq!(shard.find(7, a.labels()).map(|s| s.id()), Some(16));
        assert_eq!(shard.find(7, b.labels()).map(|s| s.id()), Some(32));
        assert!(shard.remove(7, 16));
        assert!(shard.find(7, a.labels()).is_none());
        assert_eq!(shard.find(7, b.labels()).map(|s| s.id()), Some(32));
        assert!(shard.overflow.is_empty());
        assert!(!shard.remove(7, 16));
        assert!(shard.remove(7, 32));
        assert!(shard.by_hash.is_empty() && shard.by_id.is_empty());
    }

    #[test]
    fn ids_name_their_shard_and_grow() {
        let idx = Index::default();
        let mut last = 0;
        for i in 0..100 {
            let l = Labels::from_pairs([("i", i.to_string())]);
            let h = idx.hash(&l);
            let (s, created) = idx.get_or_insert(h, l.clone(), |_| {});
            assert!(created);
            assert_eq!(Index::shard_of_id(s.id()), Index::shard_of_hash(h));
            assert!(s.id() > last);
            last = s.id();
            assert_eq!(idx.get(h, &l).map(|x| x.id()), Some(s.id()));
        }
        let ids: Vec<u64> = idx.all().iter().map(|s| s.id()).collect();
        assert_eq!(idx.by_ids(&ids).len(), 100);
        assert_eq!(idx.len(), 100);
    }
}
