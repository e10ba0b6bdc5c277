//! The durable backlog of one queue: every batch a shard forms is appended to that shard's
//! segment files under `<storage.path>/remote_write/<queue>/<shard>/` before it is sent, and
//! deleted once the receiver acknowledged it (or refused it for good). A `cursor` file per
//! shard records the next unacknowledged batch, so a restart (even after `kill -9`) resends
//! exactly what was not acknowledged, at least once.
//!
//! Record: `u32 body length, u32 CRC-32 (of the rest), u8 message, 3 zero bytes, u32 samples,
//! i64 highest timestamp (ms)`, then the snappy-compressed request body. A torn or corrupt
//! tail (a crash mid-write) is cut off at load.
//!
//! **Bound:** the unacknowledged bytes of all shards stay under `max_bytes`: past it, the
//! oldest segment of the queue is dropped, its samples counted and logged.
//! Writes are not fsynced: they survive a killed process, not a power cut.

use crate::config::ProtobufMessage;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const HEADER: usize = 24;
/// Largest body accepted at load (a corrupt length must not allocate gigabytes).
const MAX_BODY: usize = 256 << 20;

/// Where one batch sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordId {
    segment: u64,
    offset: u64,
}

#[derive(Clone, Copy, Debug)]
struct RecordMeta {
    offset: u64,
    len: u64,
    samples: u32,
    highest_ts: i64,
    format: ProtobufMessage,
}

struct Segment {
    id: u64,
    /// Bytes written to the file (acknowledged records included).
    size: u64,
    /// Unacknowledged records, oldest first.
    records: VecDeque<RecordMeta>,
}

struct ShardLog {
    dir: PathBuf,
    segments: VecDeque<Segment>,
    /// Append handle of the last segment.
    head: Option<File>,
}

/// A batch read back for sending.
#[derive(Debug)]
pub(crate) struct Record {
    pub id: RecordId,
    pub format: ProtobufMessage,
    pub body: Vec<u8>,
    pub samples: u32,
    pub highest_ts: i64,
}

/// What a dropped segment held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub samples: u64,
    pub bytes: u64,
}

/// All shards' logs of one queue.
pub(crate) struct Backlog {
    shards: Vec<ShardLog>,
    next_segment: u64,
    segment_bytes: u64,
    max_bytes: u64,
    /// Unacknowledged bytes, headers included.
    bytes: u64,
    /// Unacknowledged samples.
    samples: u64,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.seg"))
}

fn format_byte(f: ProtobufMessage) -> u8 {
    match f {
        ProtobufMessage::V1 => 1,
        ProtobufMessage::V2 => 2,
    }
}

fn crc(header_rest: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header_rest);
    h.update(body);
    h.finalize()
}

/// Parses the records of a segment file's bytes; the length of the valid prefix and the records.
fn scan(data: &[u8]) -> (u64, Vec<RecordMeta>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while data.len() - at >= HEADER {
        let h = &data[at..at + HEADER];
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let sum = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let format = match h[8] {
            1 => ProtobufMessage::V1,
            2 => ProtobufMessage::V2,
            _ => break,
        };
        if len > MAX_BODY || data.len() - at - HEADER < len {
            break;
        }
        let body = &data[at + HEADER..at + HEADER + len];
        if crc(&h[8..], body) != sum {
            break;
        }
        let samples = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&h[16..24]);
        out.push(RecordMeta {
            offset: at as u64,
            len: (HEADER + len) as u64,
            samples,
            highest_ts: i64::from_le_bytes(ts),
            format,
        });
        at += HEADER + len;
    }
    (at as u64, out)
}

fn read_cursor(dir: &Path) -> Option<RecordId> {
    let text = fs::read_to_string(dir.join("cursor")).ok()?;
    let (s, o) = text.trim().split_once(' ')?;
    Some(RecordId {
        segment: s.parse().ok()?,
        offset: o.parse().ok()?,
    })
}

fn write_cursor(dir: &Path, id: Option<RecordId>) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    let text = match id {
        Some(id) => format!("{} {}\n", id.segment, id.offset),
        None => "0 0\n".to_owned(),
    };
    fs::write(&tmp, text)?;
    fs::rename(tmp, dir.join("cursor"))
}

impl ShardLog {
    fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let cursor = read_cursor(&dir);
        let mut ids: Vec<u64> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
            })
            .collect();
        ids.sort_unstable();
        let mut segments = VecDeque::new();
        for id in ids {
            let path = segment_path(&dir, id);
            let acked = cursor.is_some_and(|c| id < c.segment);
            if acked {
                fs::remove_file(&path)?;
                continue;
            }
            let data = fs::read(&path)?;
            let (valid, mut records) = scan(&data);
            if valid < data.len() as u64 {
                tracing::warn!(file = %path.display(), kept = valid, size = data.len(), "remote write backlog: cut a torn or corrupt tail");
                OpenOptions::new().write(true).open(&path)?.set_len(valid)?;
            }
            if let Some(c) = cursor.filter(|c| c.segment == id) {
                records.retain(|r| r.offset >= c.offset);
            }
            segments.push_back(Segment {
                id,
                size: valid,
                records: records.into(),
            });
        }
        Ok(ShardLog {
            dir,
            segments,
            head: None,
        })
    }

    fn bytes(&self) -> u64 {
        self.segments
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|r| r.len)
            .sum()
    }

    fn front(&self) -> Option<RecordId> {
        let s = self.segments.iter().find(|s| !s.records.is_empty())?;
        Some(RecordId {
            segment: s.id,
            offset: s.records[0].offset,
        })
    }

    /// Deletes leading segments with nothing left to send, except the one being written.
    fn trim(&mut self) {
        while self.segments.len() > 1 && self.segments[0].records.is_empty() {
            if let Some(s) = self.segments.pop_front() {
                let _ = fs::remove_file(segment_path(&self.dir, s.id));
            }
        }
    }
}

impl Backlog {
    /// Opens (or creates) the backlog in `dir` with at least `shards` shard logs (more when
    /// the directory holds more, from an earlier configuration: they are drained too).
    pub(crate) fn open(dir: &Path, shards: usize, max_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut existing = 0usize;
        for e in fs::read_dir(dir)?.flatten() {
            if let Some(n) = e.file_name().to_str().and_then(|n| n.parse::<usize>().ok()) {
                existing = existing.max(n + 1);
            }
        }
        let count = shards.max(existing).max(1);
        let mut logs = Vec::with_capacity(count);
        for i in 0..count {
            logs.push(ShardLog::open(dir.join(i.to_string()))?);
        }
        let next_segment = logs
            .iter()
            .flat_map(|l| l.segments.iter().map(|s| s.id + 1))
            .max()
            .unwrap_or(1);
        let bytes = logs.iter().map(ShardLog::bytes).sum();
        let samples = logs
            .iter()
            .flat_map(|l| l.segments.iter())
            .flat_map(|s| s.records.iter())
            .map(|r| u64::from(r.samples))
            .sum();
        let segment_bytes = (max_bytes / (8 * count as u64)).clamp(64 << 10, 16 << 20);
        Ok(Backlog {
            shards: logs,
            next_segment,
            segment_bytes,
            max_bytes,
            bytes,
            samples,
        })
    }

    /// Adds shard logs up to `shards` (a reload raised the shard count).
    pub(crate) fn ensure_shards(&mut self, dir: &Path, shards: usize) -> io::Result<()> {
        while self.shards.len() < shards {
            let i = self.shards.len();
            self.shards.push(ShardLog::open(dir.join(i.to_string()))?);
        }
        Ok(())
    }

    /// Shard logs (new batches go to the first `shards` given to [`Backlog::open`]).
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Unacknowledged bytes.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Unacknowledged samples.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// Appends a batch to `shard`'s log; then drops the oldest segments while the backlog is
    /// over its cap, returning what they held.
    pub(crate) fn append(
        &mut self,
        shard: usize,
        format: ProtobufMessage,
        body: &[u8],
        samples: u32,
        highest_ts: i64,
    ) -> io::Result<Dropped> {
        let segment_bytes = self.segment_bytes;
        let log = &mut self.shards[shard];
        let rotate = match log.segments.back() {
            None => true,
            Some(s) => s.size >= segment_bytes || log.head.is_none() && s.size > 0,
        };
        if rotate || log.head.is_none() {
            let id = if rotate {
                let id = self.next_segment;
                self.next_segment += 1;
                log.segments.push_back(Segment {
                    id,
                    size: 0,
                    records: VecDeque::new(),
                });
                id
            } else {
                log.segments.back().map_or(0, |s| s.id)
            };
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&log.dir, id))?;
            log.head = Some(file);
        }
        let mut header = [0u8; HEADER];
        header[0..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
        header[8] = format_byte(format);
        header[12..16].copy_from_slice(&samples.to_le_bytes());
        header[16..24].copy_from_slice(&highest_ts.to_le_bytes());
        let sum = crc(&header[8..], body);
        header[4..8].copy_from_slice(&sum.to_le_bytes());
        let mut record = Vec::with_capacity(HEADER + body.len());
        record.extend_from_slice(&header);
        record.extend_from_slice(body);
        let seg = log.segments.back_mut().expect("a head segment exists");
        let offset = seg.size;
        if let Some(f) = log.head.as_mut() {
            if let Err(e) = f.write_all(&record) {
                // A partial write is cut off at the next load; start a new segment.
                log.head = None;
                return Err(e);
            }
        }
        seg.size += record.len() as u64;
        seg.records.push_back(RecordMeta {
            offset,
            len: record.len() as u64,
            samples,
            highest_ts,
            format,
        });
        self.bytes += record.len() as u64;
        self.samples += u64::from(samples);
        let mut dropped = Dropped::default();
        while self.bytes > self.max_bytes {
            match self.drop_oldest() {
                Some(d) => {
                    dropped.samples += d.samples;
                    dropped.bytes += d.bytes;
                }
                None => break,
            }
        }
        Ok(dropped)
    }

    /// Drops the oldest segment of the queue that still holds unacknowledged records.
    fn drop_oldest(&mut self) -> Option<Dropped> {
        let (shard, _) = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                l.segments
                    .iter()
                    .find(|s| !s.records.is_empty())
                    .map(|s| (i, s.id))
            })
            .min_by_key(|(_, id)| *id)?;
        let log = &mut self.shards[shard];
        let pos = log.segments.iter().position(|s| !s.records.is_empty())?;
        let seg = &mut log.segments[pos];
        let d = Dropped {
            samples: seg.records.iter().map(|r| u64::from(r.samples)).sum(),
            bytes: seg.records.iter().map(|r| r.len).sum(),
        };
        seg.records.clear();
        if pos + 1 == log.segments.len() {
            // The segment being written: later batches start a new one.
            log.head = None;
        }
        self.bytes -= d.bytes;
        self.samples -= d.samples;
        let next = log.front();
        let _ = write_cursor(&log.dir, next);
        log.trim();
        if log.segments.len() == 1 && log.segments[0].records.is_empty() && log.head.is_none() {
            if let Some(s) = log.segments.pop_front() {
                let _ = fs::remove_file(segment_path(&log.dir, s.id));
            }
        }
        Some(d)
    }

    /// Where the oldest unacknowledged batch of `shard` is, without reading it.
    pub(crate) fn front(&self, shard: usize) -> Option<RecordId> {
        self.shards[shard].front()
    }

    /// The oldest unacknowledged batch of `shard`, read from disk.
    pub(crate) fn peek(&mut self, shard: usize) -> io::Result<Option<Record>> {
        let log = &mut self.shards[shard];
        log.trim();
        let Some(seg) = log.segments.iter().find(|s| !s.records.is_empty()) else {
            return Ok(None);
        };
        let meta = seg.records[0];
        let mut f = File::open(segment_path(&log.dir, seg.id))?;
        f.seek(SeekFrom::Start(meta.offset + HEADER as u64))?;
        let mut body = vec![0u8; (meta.len as usize).saturating_sub(HEADER)];
        f.read_exact(&mut body)?;
        Ok(Some(Record {
            id: RecordId {
                segment: seg.id,
                offset: meta.offset,
            },
            format: meta.format,
            body,
            samples: meta.samples,
            highest_ts: meta.highest_ts,
        }))
    }

    /// Forgets batch `id` of `shard` (sent, or refused for good); false when it was already
    /// dropped by the cap.
    pub(crate) fn ack(&mut self, shard: usize, id: RecordId) -> bool {
        let log = &mut self.shards[shard];
        let Some(seg) = log.segments.iter_mut().find(|s| {
            s.id == id.segment && s.records.front().is_some_and(|r| r.offset == id.offset)
        }) else {
            return false;
        };
        if let Some(r) = seg.records.pop_front() {
            self.bytes -= r.len;
            self.samples -= u64::from(r.samples);
        }
        let next = log.front();
        if let Err(e) = write_cursor(&log.dir, next) {
            tracing::warn!(error = %e, dir = %log.dir.display(), "remote write backlog: cannot save the cursor");
        }
        log.trim();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(b: &mut Backlog, shard: usize, n: u8, samples: u32) -> Dropped {
        b.append(
            shard,
            ProtobufMessage::V1,
            &vec![n; 1000],
            samples,
            i64::from(n),
        )
        .unwrap()
    }

    #[test]
    fn batches_come_back_in_order_and_acked_ones_are_gone_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Backlog::open(dir.path(), 2, 1 << 30).unwrap();
        for n in 0..5 {
            add(&mut b, 0, n, 10);
        }
        add(&mut b, 1, 9, 3);
        assert_eq!(b.samples(), 53);
        let r = b.peek(0).unwrap().unwrap();
        assert_eq!((r.body[0], r.samples, r.highest_ts), (0, 10, 0));
        assert!(b.ack(0, r.id));
        assert!(
            !b.ack(0, r.id),
            "a second ack of the same batch does nothing"
        );
        let r = b.peek(0).unwrap().unwrap();
        assert_eq!(r.body[0], 1);
        drop(b);
        // Batch 1 was read but not acknowledged: it comes again after a restart.
        let mut b = Backlog::open(dir.path(), 2, 1 << 30).unwrap();
        assert_eq!(b.samples(), 43);
        let r = b.peek(0).unwrap().unwrap();
        assert_eq!(r.body[0], 1);
        assert_eq!(b.peek(1).unwrap().unwrap().body[0], 9);
        for _ in 0..4 {
            let r = b.peek(0).unwrap().unwrap();
            assert!(b.ack(0, r.id));
        }
        assert!(b.peek(0).unwrap().is_none());
        assert_eq!(b.samples(), 3);
    }

    #[test]
    fn the_cap_drops_the_oldest_segment_first() {
        let dir = tempfile::tempdir().unwrap();
        // Segments of 64 KiB; a cap of 200 KiB holds three of them.
        let mut b = Backlog::open(dir.path(), 1, 200 << 10).unwrap();
        let mut dropped = Dropped::default();
        for n in 0..=255u8 {
            let d = add(&mut b, 0, n, 1);
            dropped.samples += d.samples;
        }
        assert!(b.bytes() <= 200 << 10, "{}", b.bytes());
        assert!(dropped.samples > 0);
        assert_eq!(dropped.samples + b.samples(), 256);
        // What is left is the newest, in order.
        let first = b.peek(0).unwrap().unwrap();
        assert_eq!(u64::from(first.body[0]), dropped.samples);
        drop(b);
        let b = Backlog::open(dir.path(), 1, 200 << 10).unwrap();
        assert_eq!(b.samples() + dropped.samples, 256);
    }

    #[test]
    fn a_torn_tail_is_cut_and_later_batches_still_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Backlog::open(dir.path(), 1, 1 << 30).unwrap();
        add(&mut b, 0, 1, 5);
        add(&mut b, 0, 2, 5);
        drop(b);
        let seg = fs::read_dir(dir.path().join("0"))
            .unwrap()
            .flatten()
            .find(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .unwrap()
            .path();
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 10)
            .unwrap();
        let mut b = Backlog::open(dir.path(), 1, 1 << 30).unwrap();
        assert_eq!(b.samples(), 5);
        add(&mut b, 0, 3, 7);
        let r = b.peek(0).unwrap().unwrap();
        assert!(b.ack(0, r.id));
        let r = b.peek(0).unwrap().unwrap();
        assert_eq!((r.body[0], r.samples), (3, 7));
    }
}
