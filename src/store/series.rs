//! One series: its interned labels and its chunks behind a per-series lock.
//!
//! **Invariant:** appends lock only their series and allocate only when the
//! head chunk's byte vector grows or a full head is frozen.

use super::chunk::{Chunk, ChunkIter, ChunkPos, HeadChunk};
use super::AppendError;
use crate::model::{Label, Labels, Sample};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;

/// Frozen-chunk lists up to this length grow one header at a time.
const EXACT_CHUNK_LIST: usize = 8;

/// One series: its labels and compressed samples.
pub struct Series {
    id: u64,
    labels: Labels,
    data: Mutex<SeriesData>,
}

/// A shared handle to a series; cheap to clone, stays valid after removal.
pub type SeriesRef = Arc<Series>;

/// The mutable part of a series.
#[derive(Debug, Default)]
pub(crate) struct SeriesData {
    /// Frozen chunks, oldest first.
    chunks: Vec<Chunk>,
    head: HeadChunk,
    /// Samples older than this are outside the retention window (newest
    /// sample's time minus retention).
    floor: i64,
    /// Set (under this lock) when the series left the index.
    removed: bool,
    /// Set by a gc pass that found the series empty; a second such pass removes it.
    gc_marked: bool,
}

/// What a gc pass decided about a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GcVerdict {
    /// Still has samples in the window (or is newly empty).
    Keep,
    /// Newest sample older than the cutoff, or empty for two passes.
    Remove,
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Series")
            .field("id", &self.id)
            .field("labels", &self.labels.to_string())
            .finish_non_exhaustive()
    }
}

impl Series {
    pub(crate) fn new(id: u64, labels: Labels) -> Self {
        Self {
            id,
            labels,
            data: Mutex::new(SeriesData {
                floor: i64::MIN,
                ..SeriesData::default()
            }),
        }
    }

    /// The series' id, unique for the life of the store.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The series' labels (sharing the store's interned strings).
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Appends the samples with `mint <= t <= maxt` to `out`, in time order.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        self.for_each_sample_in(mint, maxt, |t, v| out.push(Sample { t, v }));
    }

    /// Calls `f(t, v)` for each sample with `mint <= t <= maxt`, in time
    /// order, without copying. The series is locked meanwhile: `f` must not
    /// call back into the store or this series.
    pub fn for_each_sample_in(&self, mint: i64, maxt: i64, mut f: impl FnMut(i64, f64)) {
        let d = self.data.lock();
        let mint = mint.max(d.floor);
        if mint > maxt {
            return;
        }
        let first = d.chunks.partition_point(|c| c.maxt() < mint);
        for c in &d.chunks[first..] {
            if c.mint() > maxt {
                return;
            }
            for (t, v) in c.iter() {
                if t > maxt {
                    return;
                }
                if t >= mint {
                    f(t, v);
                }
            }
        }
        for (t, v) in d.head.iter() {
            if t > maxt {
                return;
            }
            if t >= mint {
                f(t, v);
            }
        }
    }

    /// The series locked for reading with [`Cursor`]s; see [`SeriesView`].
    pub fn view(&self) -> SeriesView<'_> {
        SeriesView {
            d: self.data.lock(),
        }
    }

    /// The newest sample, if any.
    pub fn last(&self) -> Option<Sample> {
        self.data.lock().head.last().map(|(t, v)| Sample { t, v })
    }

    /// Chunks held (the head included once it has a sample) and the times of the oldest
    /// visible and the newest sample, for `/api/v1/status/tsdb`. Locks the series once.
    pub fn extent(&self) -> (usize, Option<(i64, i64)>) {
        let d = self.data.lock();
        let Some((last, _)) = d.head.last() else {
            return (d.chunks.len(), None);
        };
        let floor = d.floor;
        let first = d
            .chunks
            .iter()
            .filter(|c| c.maxt() >= floor)
            .flat_map(|c| c.iter())
            .chain(d.head.iter())
            .map(|(t, _)| t)
            .find(|t| *t >= floor);
        (d.chunks.len() + 1, first.map(|f| (f, last)))
    }

    /// Samples held (including any not yet trimmed past the window).
    pub fn sample_count(&self) -> usize {
        let d = self.data.lock();
        d.sample_count()
    }

    /// Whether the series was removed from the store (by gc or delete).
    /// Appends through a removed handle go to the live series with the same
    /// labels, re-creating it; caches should drop removed handles.
    pub fn is_removed(&self) -> bool {
        self.data.lock().removed
    }

    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, SeriesData> {
        self.data.lock()
    }

    /// Bytes owned by this series (struct, label vector, chunks), not
    /// counting the interned strings.
    pub(crate) fn bytes(&self) -> usize {
        let d = self.data.lock();
        // Arc header (two counters) plus the struct.
        2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<Series>()
            + self.labels.len() * std::mem::size_of::<Label>()
            + d.bytes()
    }

    /// [`Series::bytes`] split as (struct and labels, frozen chunk headers,
    /// frozen chunk data, head).
    pub(crate) fn bytes_split(&self) -> (usize, usize, usize, usize) {
        let d = self.data.lock();
        let own = 2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<Series>()
            + self.labels.len() * std::mem::size_of::<Label>();
        let headers = d.chunks.capacity() * std::mem::size_of::<Chunk>();
        let data = d.bytes() - headers - d.head.capacity();
        (own, headers, data, d.head.capacity())
    }
}

/// A position in a series' samples: before one sample, or after the newest (where samples
/// appended later will be). It stays valid while the chunk it points into is held: reading
/// from it later decodes only the samples after it, never the chunk from its start.
#[derive(Debug, Clone)]
pub struct Cursor(ChunkPos);

/// A series locked for reading (appends wait meanwhile: keep it short, and do not call back
/// into the store).
pub struct SeriesView<'a> {
    d: parking_lot::MutexGuard<'a, SeriesData>,
}

impl SeriesView<'_> {
    /// The oldest visible time: samples before it are past the retention window
    /// (`i64::MIN` without retention).
    pub fn floor(&self) -> i64 {
        self.d.floor
    }

    /// Chunk `i` (the frozen ones, then the head) and how many samples it holds.
    fn chunk(&self, i: usize) -> Option<(i64, u16)> {
        match self.d.chunks.get(i) {
            Some(c) => Some((c.mint(), c.count())),
            None if i == self.d.chunks.len() && self.d.head.count() > 0 => {
                Some((self.d.head.mint(), self.d.head.count()))
            }
            None => None,
        }
    }

    fn iter(&self, i: usize, pos: Option<&ChunkPos>) -> ChunkIter<'_> {
        match (self.d.chunks.get(i), pos) {
            (Some(c), Some(p)) => c.iter_from(p),
            (Some(c), None) => c.iter(),
            (None, Some(p)) => self.d.head.iter_from(p),
            (None, None) => self.d.head.iter(),
        }
    }

    /// The position before the first sample at or after `t` (after the newest when there is
    /// none); `None` when the series holds no sample. Decodes one chunk.
    pub fn seek(&self, t: i64) -> Option<Cursor> {
        let last = self.d.chunks.len();
        let (mint, _) = self.chunk(0)?;
        let mut i = self.d.chunks.partition_point(|c| c.maxt() < t);
        if i == last && self.d.head.count() == 0 {
            // No head yet: the end of the last frozen chunk.
            i = last - 1;
        }
        let chunk = self.chunk(i).map_or(mint, |c| c.0);
        let mut it = self.iter(i, None);
        loop {
            let before = it.clone();
            match it.next() {
                Some((st, _)) if st >= t => return Some(Cursor(before.pos(chunk))),
                Some(_) => {}
                None => return Some(Cursor(it.pos(chunk))),
            }
        }
    }

    /// Calls `f(t, v)` for the samples from `from` on, oldest first, until it returns `false`
    /// or the samples end; returns the position before the sample `f` refused (after the
    /// last one otherwise). `None` when `from` points into a chunk no longer held (dropped by
    /// retention): its samples cannot be read any more.
    pub fn read(&self, from: &Cursor, mut f: impl FnMut(i64, f64) -> bool) -> Option<Cursor> {
        let chunks = &self.d.chunks;
        let mut i = match chunks.binary_search_by_key(&from.0.chunk, |c| c.mint()) {
            Ok(i) => i,
            Err(_) if self.d.head.count() > 0 && self.d.head.mint() == from.0.chunk => chunks.len(),
            Err(_) => return None,
        };
        let (mut chunk, count) = self.chunk(i)?;
        if from.0.index() > count {
            return None;
        }
        let mut it = self.iter(i, Some(&from.0));
        loop {
            let before = it.clone();
            match it.next() {
                Some((t, v)) => {
                    if !f(t, v) {
                        return Some(Cursor(before.pos(chunk)));
                    }
                }
                None => match self.chunk(i + 1) {
                    Some((next, _)) => {
                        i += 1;
                        chunk = next;
                        it = self.iter(i, None);
                    }
                    None => return Some(Cursor(it.pos(chunk))),
                },
            }
        }
    }
}

impl SeriesData {
    /// Whether the series was removed from the store.
    pub(crate) fn is_removed(&self) -> bool {
        self.removed
    }

    /// Appends a sample, enforcing order, and drops frozen chunks entirely
    /// older than `t - retention`.
    pub(crate) fn append(
        &mut self,
        t: i64,
        v: f64,
        retention_ms: Option<i64>,
    ) -> Result<(), AppendError> {
        if let Some((last_t, last_v)) = self.head.last() {
            if t < last_t {
                return Err(AppendError::OutOfOrder);
            }
            if t == last_t {
                if last_v.to_bits() == v.to_bits() {
                    return Ok(());
                }
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        if self.head.is_full() {
            // The new head starts at half the frozen one's size and grows by
            // quarters: a head is half full on average, so sizing it for a
            // whole chunk up front left ~0.56 chunk of capacity unused per
            // series; this leaves ~0.15 for a few more reallocations per chunk.
            let size = self.head.byte_len();
            let head = std::mem::replace(&mut self.head, HeadChunk::with_capacity(size / 2));
            if self.chunks.len() == self.chunks.capacity() && self.chunks.len() < EXACT_CHUNK_LIST {
                // One header at a time: the list holds few chunks (window /
                // chunk span + 1), and a doubling Vec would keep 4 x 40 bytes.
                // Longer lists (long retention, none) grow by doubling, so
                // appends stay amortized O(1).
                self.chunks.reserve_exact(1);
            }
            self.chunks.extend(head.freeze());
        }
        self.head.push(t, v);
        self.gc_marked = false;
        if let Some(r) = retention_ms {
            self.floor = t.saturating_sub(r);
            self.trim(self.floor);
        }
        Ok(())
    }

    /// Drops frozen chunks whose newest sample is older than `cutoff`.
    pub(crate) fn trim(&mut self, cutoff: i64) {
        let n = self.chunks.partition_point(|c| c.maxt() < cutoff);
        if n > 0 {
            self.chunks.drain(..n);
        }
    }

    /// Trims to `cutoff` and says whether the series should go: its newest
    /// sample is older than `cutoff`, or it was empty on two passes in a row
    /// (so a series created just before a pass survives to get its sample).
    pub(crate) fn gc(&mut self, cutoff: i64) -> GcVerdict {
        self.trim(cutoff);
        match self.head.last() {
            Some((t, _)) if t < cutoff => GcVerdict::Remove,
            Some(_) => GcVerdict::Keep,
            None if self.gc_marked => GcVerdict::Remove,
            None => {
                self.gc_marked = true;
                GcVerdict::Keep
            }
        }
    }

    /// Marks the series removed; appends through old handles are redirected.
    pub(crate) fn mark_removed(&mut self) {
        self.removed = true;
    }

    /// Samples held.
    pub(crate) fn sample_count(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| usize::from(c.count()))
            .sum::<usize>()
            + usize::from(self.head.count())
    }

    /// Heap bytes of the chunks.
    pub(crate) fn bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(Chunk::data_len).sum::<usize>()
            + self.head.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;
    use crate::store::chunk::MAX_CHUNK_SAMPLES;

    fn series() -> Series {
        Series::new(1, Labels::from_pairs([("__name__", "up")]))
    }

    fn collect(s: &Series, mint: i64, maxt: i64) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        s.samples_in(mint, maxt, &mut out);
        out.iter().map(|x| (x.t, x.v.to_bits())).collect()
    }

    /// Reading on from a cursor while samples are appended (across frozen chunks and the
    /// head) gives every sample once, in order; a seek then a read gives `samples_in`.
    #[test]
    fn cursors_read_on_where_they_stopped() {
        let s = series();
        assert!(s.view().seek(0).is_none());
        s.lock().append(5, 0.5, None).unwrap();
        let mut at = s.view().seek(i64::MIN).expect("a sample");
        let mut seen: Vec<(i64, u64)> = Vec::new();
        let mut t = 5;
        let mut x = 1u64;
        for round in 0..60 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for k in 0..(x >> 58) {
                t += 1 + ((x >> (k % 40)) & 0xfff) as i64;
                let v = if k % 5 == 0 {
                    STALE_NAN
                } else {
                    (x >> 11) as f64 / 7.0
                };
                s.lock().append(t, v, None).unwrap();
            }
            // Stop before a sample now and then, as window reads do.
            let limit = if round % 3 == 0 { t - 100 } else { i64::MAX };
            at = s
                .view()
                .read(&at, |st, v| {
                    if st > limit {
                        return false;
                    }
                    seen.push((st, v.to_bits()));
                    true
                })
                .expect("chunk still held");
        }
        let _ = s.view().read(&at, |st, v| {
            seen.push((st, v.to_bits()));
            true
        });
        assert_eq!(seen, collect(&s, i64::MIN, i64::MAX));
        assert!(seen.len() > 3 * usize::from(super::super::chunk::MAX_CHUNK_SAMPLES));
        for probe in [i64::MIN, 0, 5, 6, seen[200].0, seen[200].0 + 1, t, t + 1] {
            let view = s.view();
            let at = view.seek(probe).expect("samples");
            let mut got = Vec::new();
            view.read(&at, |st, v| {
                got.push((st, v.to_bits()));
                true
            });
            drop(view);
            assert_eq!(got, collect(&s, probe, i64::MAX), "from {probe}");
        }
    }

    /// A cursor into a chunk dropped by retention reads nothing: `None`.
    #[test]
    fn cursors_into_dropped_chunks_are_refused() {
        let s = series();
        s.lock().append(0, 1.0, Some(1_000)).unwrap();
        let at = s.view().seek(0).expect("a sample");
        for i in 1..1_000 {
            s.lock().append(i * 100, 1.0, Some(1_000)).unwrap();
        }
        assert!(s.view().read(&at, |_, _| true).is_none());
        assert!(s.view().floor() > 0);
    }

    #[test]
    fn order_and_duplicates() {
        let s = series();
        let mut d = s.lock();
        assert_eq!(d.append(10, 1.0, None), Ok(()));
        assert_eq!(d.append(9, 1.0, None), Err(AppendError::OutOfOrder));
        assert_eq!(d.append(10, 1.0, None), Ok(()));
        assert_eq!(
            d.append(10, 2.0, None),
            Err(AppendError::DuplicateTimestamp)
        );
        assert_eq!(d.append(20, STALE_NAN, None), Ok(()));
        assert_eq!(d.append(20, STALE_NAN, None), Ok(()));
        assert_eq!(
            d.append(20, f64::NAN, None),
            Err(AppendError::DuplicateTimestamp)
        );
        assert_eq!(d.sample_count(), 2);
    }

    #[test]
    fn ranges_are_inclusive_across_chunks() {
        let s = series();
        for i in 0..500 {
            s.lock().append(i * 10, i as f64, None).unwrap();
        }
        assert!(s.lock().chunks.len() >= 4);
        let got = collect(&s, 1195, 1210);
        assert_eq!(
            got,
            vec![(1200, 120f64.to_bits()), (1210, 121f64.to_bits())]
        );
        assert_eq!(collect(&s, 0, 4990).len(), 500);
        assert_eq!(collect(&s, 4990, i64::MAX).len(), 1);
        assert!(collect(&s, 5000, 6000).is_empty());
        assert!(collect(&s, 20, 10).is_empty());
        assert_eq!(s.last().map(|x| x.t), Some(4990));
    }

    #[test]
    fn retention_drops_whole_chunks_and_hides_older_samples() {
        let s = series();
        for i in 0..1000 {
            s.lock().append(i * 10, 1.0, Some(2000)).unwrap();
        }
        let d = s.lock();
        // Newest is 9990; samples before 7990 are hidden, chunks wholly
        // before it dropped.
        assert!(d.chunks.iter().all(|c| c.maxt() >= 7990));
        assert!(d.sample_count() < 201 + 120);
        drop(d);
        let got = collect(&s, 0, i64::MAX);
        assert_eq!(got.len(), 201);
        assert_eq!(got[0].0, 7990);
    }

    #[test]
    fn gc_verdicts() {
        let s = series();
        let mut d = s.lock();
        assert_eq!(d.gc(100), GcVerdict::Keep);
        assert_eq!(d.gc(100), GcVerdict::Remove);
        d.append(50, 1.0, None).unwrap();
        assert_eq!(d.gc(50), GcVerdict::Keep);
        assert_eq!(d.gc(51), GcVerdict::Remove);
    }

    #[test]
    fn frozen_heads_leave_little_spare_capacity() {
        let n = i64::from(MAX_CHUNK_SAMPLES);
        let mut d = SeriesData::default();
        // A 15-minute window at 5 s keeps two or three chunks of 120.
        for k in 0..6 * n {
            d.append(k * 5_000 + k % 3, (k * k) as f64, Some(900_000))
                .unwrap();
            assert!(d.chunks.capacity() <= 3, "{}", d.chunks.capacity());
        }
        // Without retention the list grows by doubling past a few chunks.
        let mut long = SeriesData::default();
        for k in 0..40 * n {
            long.append(k, 0.0, None).unwrap();
        }
        assert_eq!(long.chunks.len(), 39);
        assert!(long.chunks.capacity() >= 39 && long.chunks.capacity() <= 2 * 39);
        // A full head grew by quarters from half its predecessor's size.
        assert!(d.head.is_full());
        let full = d.head.byte_len();
        assert!(
            d.head.capacity() <= full * 5 / 4 + 16,
            "{}",
            d.head.capacity()
        );
        // Its successor starts at half of it.
        d.append(6 * n * 5_000, 0.0, Some(900_000)).unwrap();
        assert_eq!(d.chunks.last().map(Chunk::data_len), Some(full));
        assert_eq!(d.head.capacity(), full / 2);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn per_series_struct_stays_small() {
        // One Arc allocation per series; growing it costs 1M x the growth.
        assert!(std::mem::size_of::<Series>() <= 168);
        assert!(std::mem::size_of::<Chunk>() <= 40);
    }
}
