//! The intern table: each distinct label name or value string is stored
//! once as an `Arc<str>` shared by every series, posting key and handed-out
//! label set. Sharded by string hash so concurrent series creations rarely
//! meet on a lock.

use crate::model::{Label, Labels};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

const SHARDS: usize = 16;

/// Interned strings.
#[derive(Debug)]
pub(crate) struct Interner {
    shards: Box<[Mutex<HashSet<Arc<str>>>]>,
    hasher: RandomState,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Interner {
    fn shard(&self, s: &str) -> &Mutex<HashSet<Arc<str>>> {
        let h = self.hasher.hash_one(s);
        &self.shards[(h >> 59) as usize % SHARDS]
    }

    /// The interned copy of `s`, adopting `s` itself when it is new.
    pub(crate) fn intern(&self, s: &Arc<str>) -> Arc<str> {
        let mut set = self.shard(s).lock();
        if let Some(have) = set.get(&**s) {
            return have.clone();
        }
        set.insert(s.clone());
        s.clone()
    }

    /// `labels` rebuilt from interned strings.
    pub(crate) fn intern_labels(&self, labels: &Labels) -> Labels {
        Labels::from_sorted(
            labels
                .iter()
                .map(|l| Label {
                    name: self.intern(&l.name),
                    value: self.intern(&l.value),
                })
                .collect(),
        )
    }

    /// Drops strings no longer used outside the table; returns how many.
    pub(crate) fn sweep(&self) -> usize {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut set = shard.lock();
            let before = set.len();
            set.retain(|s| Arc::strong_count(s) > 1);
            dropped += before - set.len();
            if set.capacity() > 4 * set.len().max(16) {
                set.shrink_to_fit();
            }
        }
        dropped
    }

    /// Distinct strings held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Bytes of the table and the strings (Arc header plus text).
    pub(crate) fn bytes(&self) -> usize {
        let slot = std::mem::size_of::<Arc<str>>() + 1;
        self.shards
            .iter()
            .map(|s| {
                let set = s.lock();
                set.capacity() * slot
                    + set
                        .iter()
                        .map(|x| 2 * std::mem::size_of::<usize>() + x.len())
                        .sum::<usize>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation_and_sweep_frees_unused() {
        let i = Interner::default();
        let a1: Arc<str> = Arc::from("node");
        let a2: Arc<str> = Arc::from("node");
        let x = i.intern(&a1);
        let y = i.intern(&a2);
        assert!(Arc::ptr_eq(&x, &y));
        assert!(Arc::ptr_eq(&x, &a1));
        drop((a1, a2));
        assert_eq!(i.sweep(), 0, "still used by x and y");
        drop((x, y));
        assert_eq!(i.len(), 1);
        assert_eq!(i.sweep(), 1);
        assert_eq!(i.len(), 0);
    }

    #[test]
    fn labels_are_rebuilt_from_shared_strings() {
        let i = Interner::default();
        let l1 = i.intern_labels(&Labels::from_pairs([("job", "a"), ("x", "a")]));
        let l2 = i.intern_labels(&Labels::from_pairs([("job", "a")]));
        assert_eq!(l1.get("job"), Some("a"));
        let v1 = &l1.as_slice()[0].value;
        let v2 = &l1.as_slice()[1].value;
        assert!(Arc::ptr_eq(v1, v2));
        assert!(Arc::ptr_eq(&l1.as_slice()[0].name, &l2.as_slice()[0].name));
        assert!(i.bytes() > 0);
    }
}
