//! Reading a buffer snapshot back, and the logged wrappers `watchfire run`
//! calls at start and at shutdown.

use super::{
    save, unzigzag, Cursor, LoadStats, SnapshotError, HEADER_LEN, MAGIC, SNAPSHOT_FILE,
    SNAPSHOT_VERSION, TRAILER_MARK,
};
use crate::model::{Label, Labels, Sample};
use crate::store::{Store, StoreOptions};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reads `path` into a new buffer made with `opts`, dropping samples older
/// than the retention window before `now_ms` and samples after `now_ms`. All or nothing: any failed
/// check is an error and the partly filled buffer is discarded.
pub fn load(
    path: &Path,
    opts: StoreOptions,
    now_ms: i64,
) -> Result<(Store, LoadStats), SnapshotError> {
    let mut r = Reader::open(path)?;
    let mut h = [0u8; HEADER_LEN];
    r.read(&mut h, "header")?;
    if &h[..8] != MAGIC {
        return Err(SnapshotError::BadMagic {
            path: path.to_path_buf(),
        });
    }
    let version = u32::from_le_bytes(h[8..12].try_into().unwrap_or_default());
    let written = i64::from_le_bytes(h[16..24].try_into().unwrap_or_default());
    if crc32fast::hash(&h[..32]).to_le_bytes() != h[32..] {
        return Err(r.corrupt(0, "header checksum mismatch"));
    }
    if version != SNAPSHOT_VERSION {
        return Err(SnapshotError::Version {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let age_ms = now_ms.saturating_sub(written);
    let cutoff = match opts.retention_ms {
        Some(ret) if age_ms > ret => {
            return Err(SnapshotError::Expired {
                path: path.to_path_buf(),
                age: Duration::from_millis(age_ms.max(0) as u64),
            })
        }
        Some(ret) => now_ms.saturating_sub(ret),
        None => i64::MIN,
    };
    let store = Store::new(opts);
    let mut dec = Decoder {
        store: &store,
        cutoff,
        now_ms,
        strings: Vec::new(),
        samples: Vec::new(),
        stats: LoadStats {
            bytes: r.len,
            age_ms,
            ..LoadStats::default()
        },
        read_series: 0,
        read_samples: 0,
    };
    let mut payload = Vec::new();
    loop {
        let at = r.pos;
        let mut lens = [0u8; 4];
        r.read(&mut lens, "block header")?;
        let len = u32::from_le_bytes(lens);
        if len == TRAILER_MARK {
            let mut t = [0u8; 20];
            r.read(&mut t, "trailer")?;
            let crc = u32::from_le_bytes(t[16..].try_into().unwrap_or_default());
            if crc32fast::hash(&t[..16]) != crc {
                return Err(r.corrupt(at, "trailer checksum mismatch"));
            }
            let series = u64::from_le_bytes(t[..8].try_into().unwrap_or_default());
            let samples = u64::from_le_bytes(t[8..16].try_into().unwrap_or_default());
            if (series, samples) != (dec.read_series, dec.read_samples) {
                return Err(r.corrupt(
                    at,
                    format!(
                        "trailer counts {series} series and {samples} samples, blocks held {} and {}",
                        dec.read_series, dec.read_samples
                    ),
                ));
            }
            if r.pos != r.len {
                return Err(r.corrupt(r.pos, "bytes after the trailer"));
            }
            break;
        }
        let mut crc = [0u8; 4];
        r.read(&mut crc, "block header")?;
        if u64::from(len) > r.len - r.pos {
            return Err(SnapshotError::Truncated {
                path: path.to_path_buf(),
                offset: r.len,
                what: "block shorter than its length",
            });
        }
        payload.resize(len as usize, 0);
        r.read(&mut payload, "block")?;
        if crc32fast::hash(&payload) != u32::from_le_bytes(crc) {
            return Err(r.corrupt(at, "block checksum mismatch"));
        }
        dec.block(&payload).map_err(|what| r.corrupt(at, what))?;
    }
    let stats = dec.stats;
    Ok((store, stats))
}

/// A buffered file reader that tracks its offset and the file length.
struct Reader {
    path: PathBuf,
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

impl Reader {
    fn open(path: &Path) -> Result<Self, SnapshotError> {
        let io = |op, source| SnapshotError::Io {
            path: path.to_path_buf(),
            op,
            source,
        };
        let f = File::open(path).map_err(|e| io("open", e))?;
        let len = f.metadata().map_err(|e| io("stat", e))?.len();
        Ok(Self {
            path: path.to_path_buf(),
            inner: BufReader::with_capacity(1 << 20, f),
            pos: 0,
            len,
        })
    }

    fn read(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), SnapshotError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(SnapshotError::Truncated {
                    path: self.path.clone(),
                    offset: self.pos,
                    what,
                })
            }
            Err(source) => Err(SnapshotError::Io {
                path: self.path.clone(),
                op: "read",
                source,
            }),
        }
    }

    fn corrupt(&self, offset: u64, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Corrupt {
            path: self.path.clone(),
            offset,
            what: what.into(),
        }
    }
}

/// Turns checked block payloads into series in the new buffer.
struct Decoder<'s> {
    store: &'s Store,
    cutoff: i64,
    /// Samples after this (the clock went back since the save) are dropped:
    /// they would block the series' new samples as out of order.
    now_ms: i64,
    strings: Vec<Arc<str>>,
    samples: Vec<Sample>,
    stats: LoadStats,
    read_series: u64,
    read_samples: u64,
}

impl Decoder<'_> {
    fn block(&mut self, payload: &[u8]) -> Result<(), &'static str> {
        let mut c = Cursor {
            buf: payload,
            pos: 0,
        };
        let series = c.count()?;
        let nstrings = c.count()?;
        self.strings.clear();
        for _ in 0..nstrings {
            let len = c.count()?;
            let s = std::str::from_utf8(c.bytes(len)?).map_err(|_| "label text is not UTF-8")?;
            self.strings.push(Arc::from(s));
        }
        for _ in 0..series {
            self.series(&mut c)?;
        }
        if !c.at_end() {
            return Err("bytes after the last series of a block");
        }
        Ok(())
    }

    fn string(&self, c: &mut Cursor<'_>) -> Result<Arc<str>, &'static str> {
        let i = c.varint()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.strings.get(i))
            .cloned()
            .ok_or("string index out of range")
    }

    fn series(&mut self, c: &mut Cursor<'_>) -> Result<(), &'static str> {
        let nlabels = c.count()?;
        let mut labels = Vec::with_capacity(nlabels);
        for _ in 0..nlabels {
            let name = self.string(c)?;
            let value = self.string(c)?;
            if value.is_empty() || labels.last().is_some_and(|l: &Label| l.name >= name) {
                return Err("label set not sorted, duplicated or with an empty value");
            }
            labels.push(Label { name, value });
        }
        let n = c.count()?;
        if n == 0 {
            return Err("series without samples");
        }
        self.samples.clear();
        let (mut t, mut d) = (unzigzag(c.varint()?), 0i64);
        let mut bits = c.value(0)?;
        self.keep(t, bits);
        for _ in 1..n {
            let nd = d.wrapping_add(unzigzag(c.varint()?));
            let nt = t.wrapping_add(nd);
            if nt <= t {
                return Err("timestamps not increasing");
            }
            (t, d) = (nt, nd);
            bits = c.value(bits)?;
            self.keep(t, bits);
        }
        self.read_series += 1;
        self.read_samples += n as u64;
        self.stats.dropped += (n - self.samples.len()) as u64;
        if self.samples.is_empty() {
            return Ok(());
        }
        let (s, created) = self.store.get_or_create(Labels::from_sorted(labels));
        if !created {
            return Err("series appears twice");
        }
        self.store
            .append_many(&s, &self.samples)
            .map_err(|_| "samples refused by the buffer")?;
        self.stats.series += 1;
        self.stats.samples += self.samples.len() as u64;
        Ok(())
    }

    fn keep(&mut self, t: i64, bits: u64) {
        if t >= self.cutoff && t <= self.now_ms {
            self.samples.push(Sample {
                t,
                v: f64::from_bits(bits),
            });
        }
    }
}

/// Loads `<dir>/buffer.snapshot` into a new buffer, logging the outcome.
/// Without a directory, without a file, or on any problem (logged as an
/// error naming the file and what failed) the buffer starts empty; a
/// snapshot older than the retention window is deleted.
pub fn restore(dir: Option<&Path>, opts: StoreOptions, now_ms: i64) -> Store {
    let Some(dir) = dir else {
        return Store::new(opts);
    };
    let path = dir.join(SNAPSHOT_FILE);
    let started = Instant::now();
    match load(&path, opts.clone(), now_ms) {
        Ok((store, st)) => {
            tracing::info!(
                path = %path.display(),
                series = st.series,
                samples = st.samples,
                dropped_samples = st.dropped,
                bytes = st.bytes,
                age_seconds = st.age_ms / 1000,
                duration_ms = started.elapsed().as_millis() as u64,
                "buffer restored from snapshot"
            );
            store
        }
        Err(SnapshotError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(path = %path.display(), "no buffer snapshot; starting with an empty buffer");
            Store::new(opts)
        }
        Err(e @ SnapshotError::Expired { .. }) => {
            tracing::info!(error = %e, "ignoring the buffer snapshot; starting with an empty buffer");
            if let Err(err) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %err, "cannot delete the expired buffer snapshot");
            }
            Store::new(opts)
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "cannot use the buffer snapshot; starting with an empty buffer"
            );
            Store::new(opts)
        }
    }
}

/// Writes the buffer snapshot into `dir` (nothing without a directory),
/// logging the outcome; called on graceful shutdown once scraping and rule
/// evaluation have stopped.
pub fn snapshot(dir: Option<&Path>, store: &Store, now_ms: i64) {
    let Some(dir) = dir else {
        tracing::info!("no state directory; the buffer is not snapshotted");
        return;
    };
    let started = Instant::now();
    match save(dir, store, now_ms) {
        Ok(st) => tracing::info!(
            path = %dir.join(SNAPSHOT_FILE).display(),
            series = st.series,
            samples = st.samples,
            bytes = st.bytes,
            duration_ms = started.elapsed().as_millis() as u64,
            "buffer snapshot written"
        ),
        Err(e) => tracing::error!(error = %e, "cannot write the buffer snapshot"),
    }
}
