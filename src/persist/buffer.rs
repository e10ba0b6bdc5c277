//! The buffer snapshot: on graceful shutdown the in-memory buffer is written
//! to `<state dir>/buffer.snapshot`, and read back at start before scraping
//! begins, so `rate()` windows are warm right after a restart.
//!
//! Format (version 1, all integers little-endian):
//! - header, 36 bytes: magic `WFBUFSNP`, version `u32`, reserved `u32`
//!   (zero), written-at time `i64` (ms), retention `i64` (ms, `-1` = none),
//!   CRC-32 of the preceding 32 bytes;
//! - blocks of about 1 MiB: payload length `u32`, CRC-32 of the payload, the
//!   payload: series count, a string table (count, then length-prefixed
//!   UTF-8), then per series its label count, `(name, value)` string indexes
//!   (names strictly ascending), sample count and samples;
//! - trailer: `u32::MAX`, total series `u64`, total samples `u64`, CRC-32 of
//!   those 16 bytes. A file without it is truncated.
//!
//! Counts and indexes are LEB128 varints. Samples: the first timestamp as a
//! zigzag varint, later ones as zigzag delta-of-deltas (wrapping). Each value
//! follows the previous one (bits `0` before the first): a zero byte when the
//! bits are equal; `0x80 | d` and a zigzag varint when both are exact
//! decimals with `d <= 4` digits (the delta of the values times `10^d`;
//! chosen only when shorter and when the decoder's arithmetic gives the exact
//! bits back); else the XOR of the bits as a byte
//! `trailing_zero_bytes << 4 | n` and the `n` significant bytes. Bits
//! round-trip exactly (NaN, staleness marker, -0.0).
//!
//! **Invariant:** the file is written to a temporary name, fsynced and
//! renamed, so it is either the previous snapshot or the complete new one; a
//! load checks every checksum and count into a fresh buffer and is
//! all-or-nothing: any problem gives an error and the caller starts empty.

use crate::store::{SeriesRef, Store};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the snapshot inside the state directory.
pub const SNAPSHOT_FILE: &str = "buffer.snapshot";
/// Format version written in the header.
pub const SNAPSHOT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"WFBUFSNP";
const HEADER_LEN: usize = 36;
const TRAILER_MARK: u32 = u32::MAX;
/// A block is closed once its series data reaches this size.
const BLOCK_TARGET: usize = 1 << 20;

/// Why a snapshot could not be written or read; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file system refused.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with the snapshot magic.
    #[error("{}: not a buffer snapshot (bad magic bytes)", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// Written by another format version.
    #[error("{}: unsupported snapshot version {found} (this build reads {SNAPSHOT_VERSION})", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
    },
    /// A checksum, count or encoding check failed.
    #[error("{}: corrupt at byte {offset}: {what}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Offset of the header, block or trailer that failed.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// The file ends early.
    #[error("{}: truncated at byte {offset}: {what}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the missing part starts.
        offset: u64,
        /// What was missing.
        what: &'static str,
    },
    /// Every sample in it is older than the retention window.
    #[error("{}: snapshot is {}s old, older than the retention window", path.display(), age.as_secs())]
    Expired {
        /// The file.
        path: PathBuf,
        /// Time since it was written.
        age: Duration,
    },
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    /// Series written (series without samples are skipped).
    pub series: u64,
    /// Samples written.
    pub samples: u64,
    /// File size.
    pub bytes: u64,
}

/// What a load restored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Series restored (with at least one sample inside the window).
    pub series: u64,
    /// Samples restored.
    pub samples: u64,
    /// Samples dropped for being older than the retention window.
    pub dropped: u64,
    /// File size.
    pub bytes: u64,
    /// Age of the snapshot when loaded, in ms.
    pub age_ms: i64,
}

/// Writes `store` to `<dir>/buffer.snapshot` atomically (temporary file,
/// fsync, rename, directory fsync). Series are locked one at a time.
pub fn save(dir: &Path, store: &Store, now_ms: i64) -> Result<SaveStats, SnapshotError> {
    let path = dir.join(SNAPSHOT_FILE);
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| SnapshotError::Io {
            path: p,
            op,
            source,
        }
    };
    let file = File::create(&tmp).map_err(io("create", &tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let retention = store.options().retention_ms.unwrap_or(-1);
    w.write_all(&header(now_ms, retention))
        .map_err(io("write", &tmp))?;
    let all = store.all_series();
    let mut enc = BlockEncoder::default();
    let mut stats = SaveStats::default();
    for s in &all {
        if enc.add_series(s) {
            stats.series += 1;
        }
        if enc.series_buf.len() >= BLOCK_TARGET {
            stats.samples += enc.flush(&mut w).map_err(io("write", &tmp))?;
        }
    }
    stats.samples += enc.flush(&mut w).map_err(io("write", &tmp))?;
    let mut trailer = [0u8; 24];
    trailer[..4].copy_from_slice(&TRAILER_MARK.to_le_bytes());
    trailer[4..12].copy_from_slice(&stats.series.to_le_bytes());
    trailer[12..20].copy_from_slice(&stats.samples.to_le_bytes());
    let crc = crc32fast::hash(&trailer[4..20]);
    trailer[20..].copy_from_slice(&crc.to_le_bytes());
    w.write_all(&trailer).map_err(io("write", &tmp))?;
    let file = w
        .into_inner()
        .map_err(|e| io("write", &tmp)(e.into_error()))?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    stats.bytes = file.metadata().map_err(io("stat", &tmp))?.len();
    drop(file);
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))?;
    Ok(stats)
}

fn header(now_ms: i64, retention_ms: i64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&now_ms.to_le_bytes());
    h[24..32].copy_from_slice(&retention_ms.to_le_bytes());
    let crc = crc32fast::hash(&h[..32]);
    h[32..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Collects series into one block: a string table and the series data.
#[derive(Default)]
struct BlockEncoder<'a> {
    strings: HashMap<&'a str, u32>,
    string_buf: Vec<u8>,
    series_buf: Vec<u8>,
    scratch: Vec<u8>,
    series: u64,
    samples: u64,
}

impl<'a> BlockEncoder<'a> {
    /// Adds one series unless it has no samples; says whether it was added.
    fn add_series(&mut self, s: &'a SeriesRef) -> bool {
        self.scratch.clear();
        let mut n = 0u64;
        let (mut prev_t, mut prev_d, mut prev_v) = (0i64, 0i64, 0u64);
        let scratch = &mut self.scratch;
        s.for_each_sample_in(i64::MIN, i64::MAX, |t, v| {
            if n == 0 {
                put_varint(scratch, zigzag(t));
            } else {
                let d = t.wrapping_sub(prev_t);
                put_varint(scratch, zigzag(d.wrapping_sub(prev_d)));
                prev_d = d;
            }
            put_value(scratch, prev_v, v.to_bits());
            prev_t = t;
            prev_v = v.to_bits();
            n += 1;
        });
        if n == 0 {
            return false;
        }
        let labels = s.labels();
        put_varint(&mut self.series_buf, labels.len() as u64);
        for l in labels {
            for text in [&*l.name, &*l.value] {
                let next = self.strings.len() as u32;
                let idx = *self.strings.entry(text).or_insert_with(|| {
                    put_varint(&mut self.string_buf, text.len() as u64);
                    self.string_buf.extend_from_slice(text.as_bytes());
                    next
                });
                put_varint(&mut self.series_buf, u64::from(idx));
            }
        }
        put_varint(&mut self.series_buf, n);
        self.series_buf.extend_from_slice(&self.scratch);
        self.series += 1;
        self.samples += n;
        true
    }

    /// Writes the block (if not empty) and starts a new one; returns the
    /// samples it held.
    fn flush(&mut self, w: &mut impl Write) -> std::io::Result<u64> {
        if self.series == 0 {
            return Ok(0);
        }
        let mut head = Vec::with_capacity(20);
        put_varint(&mut head, self.series);
        put_varint(&mut head, self.strings.len() as u64);
        let len = head.len() + self.string_buf.len() + self.series_buf.len();
        let len = u32::try_from(len).map_err(|_| std::io::Error::other("block over 4 GiB"))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(&self.string_buf);
        crc.update(&self.series_buf);
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&crc.finalize().to_le_bytes())?;
        w.write_all(&head)?;
        w.write_all(&self.string_buf)?;
        w.write_all(&self.series_buf)?;
        let samples = self.samples;
        self.strings.clear();
        self.string_buf.clear();
        self.series_buf.clear();
        self.series = 0;
        self.samples = 0;
        Ok(samples)
    }
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

fn put_varint(buf: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        buf.push((x as u8) | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

/// First byte of a value written as a decimal delta; the low bits hold the
/// number of decimals.
const DECIMAL_MODE: u8 = 0x80;
const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1e3, 1e4];

/// `v` times `10^d` as an integer, when that is exact and below 2^53.
fn scaled(v: f64, d: usize) -> Option<i64> {
    let s = (v * POW10[d]).round();
    (s.abs() < 9_007_199_254_740_992.0 && (s / POW10[d]).to_bits() == v.to_bits())
        .then_some(s as i64)
}

/// The value `cur` after `prev` (both as bits): the decimal delta when the
/// decoder's arithmetic gives `cur`'s exact bits back and it is shorter,
/// else the XOR encoding.
fn put_value(buf: &mut Vec<u8>, prev: u64, cur: u64) {
    if prev == cur {
        buf.push(0);
        return;
    }
    let x = prev ^ cur;
    let xor_len = 9 - (x.trailing_zeros() / 8 + x.leading_zeros() / 8) as usize;
    let (p, c) = (f64::from_bits(prev), f64::from_bits(cur));
    for (d, pow) in POW10.iter().enumerate() {
        let (Some(ps), Some(cs)) = (scaled(p, d), scaled(c, d)) else {
            continue;
        };
        let delta = zigzag(cs - ps);
        let len = 1 + (64 - delta.leading_zeros()).max(1).div_ceil(7) as usize;
        if ((cs as f64) / pow).to_bits() == cur && len < xor_len {
            buf.push(DECIMAL_MODE | d as u8);
            put_varint(buf, delta);
            return;
        }
        break;
    }
    put_xor(buf, x);
}

fn put_xor(buf: &mut Vec<u8>, x: u64) {
    if x == 0 {
        buf.push(0);
        return;
    }
    let tz = x.trailing_zeros() / 8;
    let n = 8 - tz - x.leading_zeros() / 8;
    buf.push(((tz as u8) << 4) | n as u8);
    buf.extend_from_slice(&(x >> (tz * 8)).to_le_bytes()[..n as usize]);
}

/// Reads one block's payload; errors are static descriptions.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.buf.get(self.pos).ok_or("unexpected end of block")?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], &'static str> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or("unexpected end of block")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            x |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err("varint longer than 10 bytes")
    }

    /// A count that cannot exceed the bytes left (each item takes one or more).
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.varint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err("count larger than the block");
        }
        Ok(n as usize)
    }

    /// The bits of the value after the one with bits `prev`.
    fn value(&mut self, prev: u64) -> Result<u64, &'static str> {
        let c = self.byte()?;
        if c & DECIMAL_MODE == 0 {
            return self.xor(c).map(|x| prev ^ x);
        }
        let d = usize::from(c & !DECIMAL_MODE);
        if d >= POW10.len() {
            return Err("bad value control byte");
        }
        let ps =
            scaled(f64::from_bits(prev), d).ok_or("decimal delta after a non-decimal value")?;
        let cs = ps
            .checked_add(unzigzag(self.varint()?))
            .ok_or("decimal delta overflows")?;
        Ok(((cs as f64) / POW10[d]).to_bits())
    }

    /// The XOR encoding after its control byte `c`.
    fn xor(&mut self, c: u8) -> Result<u64, &'static str> {
        if c == 0 {
            return Ok(0);
        }
        let (tz, n) = (u32::from(c >> 4), usize::from(c & 0x0f));
        if n == 0 || tz as usize + n > 8 {
            return Err("bad value control byte");
        }
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(self.bytes(n)?);
        Ok(u64::from_le_bytes(le) << (tz * 8))
    }

    fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
}

mod load;
pub use load::{load, restore, snapshot};

#[cfg(test)]
mod tests;
