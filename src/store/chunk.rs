//! Compressed sample chunks: delta-of-delta timestamps (after Facebook's
//! Gorilla paper) and values by [`super::values`]. A series appends into its
//! head chunk; a full head is frozen into an immutable [`Chunk`] trimmed to
//! its length.
//!
//! Layout of a chunk's bit stream (the first timestamp is the chunk's `mint`):
//! - sample 0: the value's 64 raw bits;
//! - sample 1: `t1 - t0` as a delta-of-delta against 0, then the value;
//! - sample n: `(tn - tn-1) - (tn-1 - tn-2)` then the value.
//!
//! Delta-of-delta `d`: `0` when zero; `10` + 5 bits (scrape jitter),
//! `110` + 14 bits, `1110` + 24 bits (two's complement) when it fits; else
//! `1111` + 64 bits. Timestamp arithmetic wraps, so any i64 sequence
//! round-trips.

use super::bits::{BitReader, BitWriter};
use super::values::ValueCodec;

/// Samples per chunk before the head is frozen (Prometheus uses 120 too:
/// about 30 minutes at a 15 s interval, ~1.3 bytes per sample).
pub(crate) const MAX_CHUNK_SAMPLES: u16 = 120;

/// Payload widths of the `10`, `110` and `1110` delta-of-delta buckets.
const DOD_WIDTHS: [u32; 3] = [5, 14, 24];

fn fits(x: i64, width: u32) -> bool {
    let lim = 1i64 << (width - 1);
    (-lim..lim).contains(&x)
}

fn sign_extend(raw: u64, width: u32) -> i64 {
    let shift = 64 - width;
    ((raw << shift) as i64) >> shift
}

fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
        return;
    }
    for (i, &width) in DOD_WIDTHS.iter().enumerate() {
        if fits(dod, width) {
            let n = i as u32 + 2;
            w.write_bits((1u64 << n) - 2, n);
            w.write_bits(dod as u64, width);
            return;
        }
    }
    w.write_bits(0b1111, 4);
    w.write_bits(dod as u64, 64);
}

fn read_dod(r: &mut BitReader<'_>) -> Option<i64> {
    match r.read_unary(4)? as usize {
        0 => Some(0),
        4 => Some(r.read_bits(64)? as i64),
        n => {
            let width = DOD_WIDTHS[n - 1];
            Some(sign_extend(r.read_bits(width)?, width))
        }
    }
}

/// The appendable chunk at the end of a series.
#[derive(Debug)]
pub(crate) struct HeadChunk {
    w: BitWriter,
    mint: i64,
    last_t: i64,
    last_delta: i64,
    vals: ValueCodec,
    count: u16,
}

impl Default for HeadChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadChunk {
    /// An empty head.
    pub(crate) fn new() -> Self {
        Self::with_capacity(16)
    }

    /// An empty head with room for `bytes` of encoded samples: a series'
    /// next chunk is about as large as its last, so sizing the new head
    /// after the one just frozen keeps the append path from regrowing it.
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            w: BitWriter::with_capacity(bytes),
            mint: 0,
            last_t: 0,
            last_delta: 0,
            vals: ValueCodec::first(0),
            count: 0,
        }
    }

    /// Encoded bytes held.
    pub(crate) fn byte_len(&self) -> usize {
        self.w.bytes().len()
    }

    /// Samples held.
    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// Whether the head reached its sample limit.
    pub(crate) fn is_full(&self) -> bool {
        self.count >= MAX_CHUNK_SAMPLES
    }

    /// The newest sample, if any.
    pub(crate) fn last(&self) -> Option<(i64, f64)> {
        (self.count > 0).then(|| (self.last_t, f64::from_bits(self.vals.last())))
    }

    /// Bytes allocated for the bit stream.
    pub(crate) fn capacity(&self) -> usize {
        self.w.capacity()
    }

    /// Appends a sample; the caller has checked `t` is newer than the last.
    pub(crate) fn push(&mut self, t: i64, v: f64) {
        let v = v.to_bits();
        if self.count == 0 {
            self.mint = t;
            self.w.write_bits(v, 64);
            self.vals = ValueCodec::first(v);
        } else {
            let delta = t.wrapping_sub(self.last_t);
            write_dod(&mut self.w, delta.wrapping_sub(self.last_delta));
            self.last_delta = delta;
            self.vals.write(&mut self.w, v);
        }
        self.last_t = t;
        self.count += 1;
    }

    /// The samples, oldest first.
    pub(crate) fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.w.bytes(), self.mint, self.count)
    }

    /// The first timestamp (meaningless while empty).
    pub(crate) fn mint(&self) -> i64 {
        self.mint
    }

    /// The samples from `pos` (taken in this chunk) on.
    pub(crate) fn iter_from(&self, pos: &ChunkPos) -> ChunkIter<'_> {
        ChunkIter::resume(self.w.bytes(), self.count, pos)
    }

    /// Freezes the head into an immutable chunk (empty heads give `None`).
    pub(crate) fn freeze(self) -> Option<Chunk> {
        (self.count > 0).then(|| Chunk {
            mint: self.mint,
            maxt: self.last_t,
            count: self.count,
            data: self.w.into_boxed(),
        })
    }
}

/// A full, immutable chunk.
#[derive(Debug)]
pub(crate) struct Chunk {
    data: Box<[u8]>,
    mint: i64,
    maxt: i64,
    count: u16,
}

impl Chunk {
    /// Oldest timestamp.
    pub(crate) fn mint(&self) -> i64 {
        self.mint
    }

    /// Newest timestamp.
    pub(crate) fn maxt(&self) -> i64 {
        self.maxt
    }

    /// Samples held.
    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// Bytes of compressed data.
    pub(crate) fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The samples, oldest first.
    pub(crate) fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(&self.data, self.mint, self.count)
    }

    /// The samples from `pos` (taken in this chunk, or in the head it was) on.
    pub(crate) fn iter_from(&self, pos: &ChunkPos) -> ChunkIter<'_> {
        ChunkIter::resume(&self.data, self.count, pos)
    }
}

/// Sequential decoder of one chunk; stops early (never panics) on a
/// truncated stream.
#[derive(Debug, Clone)]
pub(crate) struct ChunkIter<'a> {
    r: BitReader<'a>,
    left: u16,
    read: u16,
    t: i64,
    delta: i64,
    vals: ValueCodec,
}

/// Where a [`ChunkIter`] stands in a chunk: before its sample `index` (or at its end),
/// with the decoder state to go on from there. The chunk is named by its first timestamp,
/// unique within a series.
#[derive(Debug, Clone)]
pub(crate) struct ChunkPos {
    pub(crate) chunk: i64,
    index: u16,
    bit: usize,
    t: i64,
    delta: i64,
    vals: ValueCodec,
}

impl ChunkPos {
    /// Samples of its chunk before the position.
    pub(crate) fn index(&self) -> u16 {
        self.index
    }
}

impl<'a> ChunkIter<'a> {
    /// Goes on from `pos` (taken in this chunk, holding `count` samples now).
    pub(crate) fn resume(data: &'a [u8], count: u16, pos: &ChunkPos) -> Self {
        Self {
            r: BitReader::at(data, pos.bit),
            left: count.saturating_sub(pos.index),
            read: pos.index,
            t: pos.t,
            delta: pos.delta,
            vals: pos.vals,
        }
    }

    /// The position before the next sample of the chunk starting at `chunk`.
    pub(crate) fn pos(&self, chunk: i64) -> ChunkPos {
        ChunkPos {
            chunk,
            index: self.read,
            bit: self.r.position(),
            t: self.t,
            delta: self.delta,
            vals: self.vals,
        }
    }

    fn new(data: &'a [u8], mint: i64, count: u16) -> Self {
        Self {
            r: BitReader::new(data),
            left: count,
            read: 0,
            t: mint,
            delta: 0,
            vals: ValueCodec::first(0),
        }
    }

    fn step(&mut self) -> Option<(i64, f64)> {
        if self.read == 0 {
            self.vals = ValueCodec::first(self.r.read_bits(64)?);
        } else {
            // The last delta starts at 0, so sample 1's delta-of-delta is its delta.
            self.delta = self.delta.wrapping_add(read_dod(&mut self.r)?);
            self.t = self.t.wrapping_add(self.delta);
            self.vals.read(&mut self.r)?;
        }
        Some((self.t, f64::from_bits(self.vals.last())))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.left == 0 {
            return None;
        }
        match self.step() {
            Some(s) => {
                self.left -= 1;
                self.read += 1;
                Some(s)
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;
    use proptest::prelude::*;

    fn round_trip(samples: &[(i64, f64)]) {
        let mut h = HeadChunk::new();
        for &(t, v) in samples {
            h.push(t, v);
        }
        let got: Vec<(i64, u64)> = h.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want, "head");
        let c = h.freeze().expect("non-empty");
        assert_eq!(c.count() as usize, samples.len());
        assert_eq!(c.mint(), samples[0].0);
        assert_eq!(c.maxt(), samples[samples.len() - 1].0);
        let got: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want, "frozen");
    }

    #[test]
    fn special_floats_round_trip_bit_exactly() {
        let weird_nan = f64::from_bits(0x7ff8_dead_beef_0001);
        round_trip(&[
            (1000, 1.0),
            (2000, STALE_NAN),
            (3000, f64::NAN),
            (4000, f64::INFINITY),
            (5000, f64::NEG_INFINITY),
            (6000, -0.0),
            (7000, 0.0),
            (8000, weird_nan),
            (9000, STALE_NAN),
            (10000, f64::MIN_POSITIVE),
            (11000, f64::MAX),
            (12000, 5e-324),
        ]);
    }

    #[test]
    fn irregular_and_extreme_timestamps_round_trip() {
        round_trip(&[(i64::MIN, 1.0), (0, 2.0), (i64::MAX, 3.0)]);
        round_trip(&[
            (-5, 1.0),
            (-4, 1.0),
            (100_000_000_000, 1.0),
            (100_000_000_001, 1.0),
        ]);
        let mut t = 1_700_000_000_000i64;
        let mut s = Vec::new();
        for i in 0..120i64 {
            // Jitter, then gaps in every bucket width.
            t += match i % 7 {
                0 => 15_000,
                1 => 15_003,
                2 => 14_990,
                3 => 15_000 + 40_000,
                4 => 1,
                5 => 9_000_000,
                _ => 3_000_000_000,
            };
            s.push((t, (i as f64).sin() * 1e6));
        }
        round_trip(&s);
    }

    #[test]
    fn typical_series_compress_well() {
        let mut h = HeadChunk::new();
        let mut counter = 0.0;
        for i in 0..120i64 {
            counter += (i % 5) as f64;
            h.push(1_700_000_000_000 + i * 15_000, counter);
        }
        let bytes = h.w.bytes().len();
        assert!(bytes < 120 * 3, "{bytes} bytes for 120 counter samples");
        let mut h = HeadChunk::new();
        for i in 0..120i64 {
            h.push(1_700_000_000_000 + i * 15_000, 42.0);
        }
        assert!(
            h.w.bytes().len() <= 8 + 4 + 120 / 4,
            "{} bytes",
            h.w.bytes().len()
        );
    }

    #[test]
    fn truncated_stream_stops_without_panic() {
        let mut h = HeadChunk::new();
        for i in 0..50i64 {
            h.push(i * 1000, i as f64 * 1.5);
        }
        let c = h.freeze().expect("non-empty");
        for cut in 0..c.data.len() {
            let n = ChunkIter::new(&c.data[..cut], c.mint, c.count).count();
            assert!(n < 50);
        }
        // Garbage never panics either.
        let junk: Vec<u8> = (0..64u32).map(|i| (i * 37 % 251) as u8).collect();
        assert!(ChunkIter::new(&junk, 0, 120).count() <= 120);
    }

    #[test]
    fn empty_head_freezes_to_none() {
        assert!(HeadChunk::new().freeze().is_none());
        assert!(HeadChunk::new().last().is_none());
    }

    fn arb_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(m, s)| m as f64 / 10f64.powi(s as i32)),
            (-(1i64 << 53)..(1i64 << 53)).prop_map(|m| m as f64),
            Just(STALE_NAN),
            Just(-0.0),
            Just(f64::NAN),
        ]
    }

    fn arb_step() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(15_000i64),
            14_990..15_010i64,
            1..100_000_000i64,
            1..i64::MAX / 200,
        ]
    }

    proptest! {
        #[test]
        fn any_samples_round_trip(
            start in any::<i64>(),
            steps in proptest::collection::vec((arb_step(), arb_value(), any::<bool>()), 1..200),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            let mut last = 0.0;
            for (i, (dt, v, repeat)) in steps.into_iter().enumerate() {
                if i > 0 {
                    t = t.wrapping_add(dt);
                }
                // Repeats exercise the "same value" and XOR-window paths.
                let v = if repeat && i > 0 { last } else { v };
                last = v;
                samples.push((t, v));
            }
            for part in samples.chunks(usize::from(MAX_CHUNK_SAMPLES)) {
                round_trip(part);
            }
        }
    }
}
