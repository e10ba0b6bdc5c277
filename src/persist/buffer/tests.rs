use super::*;
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
use crate::model::{Labels, Sample, STALE_NAN};
use crate::store::StoreOptions;

const NOW: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

fn opts(retention_ms: Option<i64>) -> StoreOptions {
    StoreOptions { retention_ms }
}

/// Every series with its samples as `(labels, [(t, bits)])`, sorted.
fn dump(store: &Store) -> Vec<(String, Vec<(i64, u64)>)> {
    let mut out: Vec<_> = store
        .all_series()
        .iter()
        .map(|s| {
            let mut v = Vec::new();
            s.samples_in(i64::MIN, i64::MAX, &mut v);
            let samples = v.iter().map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels().to_string(), samples)
        })
        .collect();
    out.sort();
    out
}

fn sample_store(retention_ms: Option<i64>) -> Store {
    let store = Store::new(opts(retention_ms));
    let values = [
        1.0,
        f64::NAN,
        STALE_NAN,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-300,
        0.1 + 0.2,
        f64::MAX,
        2.5,
    ];
    for i in 0..300u32 {
        let labels = Labels::from_pairs([
            ("__name__", format!("metric_{}", i % 7)),
            ("job", "node".into()),
            ("instance", format!("host-{i}:9100")),
            ("path", "/a \"quoted\"\n ünïcode ✓".into()),
        ]);
        let (s, _) = store.get_or_create(labels);
        for k in 0..(i as i64 % 250 + 1) {
            // Irregular intervals and every value kind, across chunk boundaries.
            let t = NOW - HOUR / 2 + k * 15_000 + (k * k) % 37 - i as i64;
            let v = values[(k as usize + i as usize) % values.len()];
            let v = if k % 3 == 0 { v } else { v + k as f64 };
            store.append(&s, t, v).unwrap();
        }
    }
    // A counter and a series with one sample at a negative time.
    let (c, _) = store.get_or_create(Labels::from_pairs([("__name__", "requests_total")]));
    for k in 0..100 {
        store
            .append(&c, NOW - 100_000 + k * 1000, (k * k) as f64)
            .unwrap();
    }
    let (e, _) = store.get_or_create(Labels::from_pairs([("__name__", "early")]));
    store.append(&e, -5, 7.0).unwrap();
    // A series without samples is not written.
    store.get_or_create(Labels::from_pairs([("__name__", "empty")]));
    store
}

#[test]
fn round_trip_keeps_labels_timestamps_and_value_bits() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(None);
    let saved = save(dir.path(), &store, NOW).unwrap();
    assert_eq!(saved.series, 302);
    assert!(!dir.path().join(format!("{SNAPSHOT_FILE}.tmp")).exists());
    // Loaded later than the newest sample (some are after the save time).
    let (back, st) = load(&dir.path().join(SNAPSHOT_FILE), opts(None), NOW + HOUR).unwrap();
    assert_eq!(st.series, 302);
    assert_eq!(st.samples, saved.samples);
    assert_eq!(st.dropped, 0);
    assert_eq!(st.age_ms, HOUR);
    assert_eq!(st.bytes, saved.bytes);
    let (a, b) = (dump(&store), dump(&back));
    assert_eq!(a.len(), 303);
    assert_eq!(b.len(), 302, "the empty series is not restored");
    let a: Vec<_> = a.into_iter().filter(|(_, s)| !s.is_empty()).collect();
    assert_eq!(a, b);
    // The staleness marker survives as itself, not as an ordinary NaN.
    assert!(b
        .iter()
        .flat_map(|(_, s)| s)
        .any(|&(_, bits)| bits == STALE_NAN_BITS));
}

#[test]
fn load_drops_samples_older_than_retention_and_expired_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(Some(2 * HOUR));
    save(dir.path(), &store, NOW).unwrap();
    let path = dir.path().join(SNAPSHOT_FILE);
    // 40 minutes later with a one hour window: samples before NOW-20m go.
    let later = NOW + 40 * 60_000;
    let (back, st) = load(&path, opts(Some(HOUR)), later).unwrap();
    assert!(st.dropped > 0 && st.samples > 0);
    for (_, samples) in dump(&back) {
        assert!(!samples.is_empty());
        assert!(samples.iter().all(|&(t, _)| t >= later - HOUR));
    }
    assert!(dump(&back).iter().all(|(l, _)| !l.contains("early")));
    // Older than the window: refused as expired; restore() deletes the file.
    let err = load(&path, opts(Some(HOUR)), NOW + HOUR + 1).unwrap_err();
    assert!(matches!(err, SnapshotError::Expired { .. }), "{err}");
    let restored = restore(Some(dir.path()), opts(Some(HOUR)), NOW + HOUR + 1);
    assert_eq!(restored.series_count(), 0);
    assert!(!path.exists());
}

#[test]
fn samples_after_now_are_dropped() {
    // The clock went back 30 s since the save: newer samples would make the
    // series refuse its next scrapes as out of order.
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(None);
    save(dir.path(), &store, NOW).unwrap();
    let now = NOW - 100_000 + 30_000;
    let (back, st) = load(&dir.path().join(SNAPSHOT_FILE), opts(None), now).unwrap();
    assert!(st.dropped > 0);
    for (_, samples) in dump(&back) {
        assert!(samples.iter().all(|&(t, _)| t <= now));
    }
    let c = back.select(&[crate::model::Matcher::equal("__name__", "requests_total")]);
    assert_eq!(c[0].last().map(|s| s.t), Some(now));
}

#[test]
fn restore_without_directory_or_file_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(restore(None, opts(None), NOW).series_count(), 0);
    assert_eq!(restore(Some(dir.path()), opts(None), NOW).series_count(), 0);
    let err = load(&dir.path().join(SNAPSHOT_FILE), opts(None), NOW).unwrap_err();
    assert!(err.to_string().contains("buffer.snapshot: open"), "{err}");
    // Saving then restoring through the logged wrappers.
    snapshot(Some(dir.path()), &sample_store(None), NOW);
    assert_eq!(
        restore(Some(dir.path()), opts(None), NOW).series_count(),
        302
    );
}

#[test]
fn an_empty_buffer_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let st = save(dir.path(), &Store::default(), NOW).unwrap();
    assert_eq!((st.series, st.samples), (0, 0));
    assert_eq!(st.bytes as usize, HEADER_LEN + 24);
    let (back, _) = load(&dir.path().join(SNAPSHOT_FILE), opts(None), NOW).unwrap();
    assert_eq!(back.series_count(), 0);
}

#[test]
fn many_blocks_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::default();
    // Long label values fill several 1 MiB blocks.
    let long = "x".repeat(5000);
    for i in 0..600 {
        let (s, _) = store.get_or_create(Labels::from_pairs([
            ("__name__", "wide".to_string()),
            ("v", format!("{long}{i}")),
        ]));
        store.append(&s, NOW, i as f64).unwrap();
    }
    save(dir.path(), &store, NOW).unwrap();
    let (back, st) = load(&dir.path().join(SNAPSHOT_FILE), opts(None), NOW).unwrap();
    assert_eq!(st.series, 600);
    assert_eq!(dump(&back), dump(&store));
}

fn written() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), &sample_store(None), NOW).unwrap();
    let bytes = std::fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap();
    (dir, bytes)
}

fn load_bytes(dir: &Path, bytes: &[u8]) -> Result<(Store, LoadStats), SnapshotError> {
    let path = dir.join("damaged");
    std::fs::write(&path, bytes).unwrap();
    load(&path, opts(None), NOW)
}

#[test]
fn every_truncation_is_an_error() {
    let (dir, bytes) = written();
    // Every length short of the whole file, sampled densely at both ends.
    let lens = (0..bytes.len()).filter(|n| *n < 300 || *n > bytes.len() - 300 || n % 97 == 0);
    for n in lens {
        let err = load_bytes(dir.path(), &bytes[..n]).map(|_| ()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                SnapshotError::Truncated { .. } | SnapshotError::Corrupt { .. }
            ),
            "length {n}: {msg}"
        );
        assert!(msg.contains("damaged"), "{msg}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = load_bytes(dir.path(), &longer).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("after the trailer"), "{err}");
}

#[test]
fn bit_flips_are_detected() {
    let (dir, bytes) = written();
    let mut damaged = bytes.clone();
    let step = bytes.len() / 150;
    for i in (0..bytes.len())
        .step_by(step)
        .chain([8, 16, 33, 36, 40, bytes.len() - 1])
    {
        for bit in [0, 5] {
            damaged[i] ^= 1 << bit;
            let res = load_bytes(dir.path(), &damaged).map(|_| ());
            damaged[i] ^= 1 << bit;
            let err = res.expect_err("a flipped bit must be noticed");
            assert!(err.to_string().contains("damaged"), "{err}");
        }
    }
    let mut other = bytes.clone();
    other[0] = b'X';
    assert!(matches!(
        load_bytes(dir.path(), &other).map(|_| ()),
        Err(SnapshotError::BadMagic { .. })
    ));
}

#[test]
fn another_version_is_refused_by_name() {
    let (dir, mut bytes) = written();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..32]);
    bytes[32..36].copy_from_slice(&crc.to_le_bytes());
    let err = load_bytes(dir.path(), &bytes).map(|_| ()).unwrap_err();
    assert!(
        err.to_string().contains("unsupported snapshot version 2"),
        "{err}"
    );
}

/// A well-checksummed file with a hostile payload is refused, not trusted.
#[test]
fn hostile_payloads_with_valid_checksums_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let block = |payload: &[u8]| {
        let mut f = header(NOW, -1).to_vec();
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        f.extend_from_slice(payload);
        let mut t = [0u8; 24];
        t[..4].copy_from_slice(&TRAILER_MARK.to_le_bytes());
        t[4..12].copy_from_slice(&1u64.to_le_bytes());
        t[12..20].copy_from_slice(&1u64.to_le_bytes());
        let crc = crc32fast::hash(&t[4..20]);
        t[20..].copy_from_slice(&crc.to_le_bytes());
        f.extend_from_slice(&t);
        f
    };
    // series=1, strings=["a","b"], labels=1 (a=b), samples=1, t=0, value=0.
    let good = [1, 2, 1, b'a', 1, b'b', 1, 0, 1, 1, 0, 0];
    assert_eq!(load_bytes(dir.path(), &block(&good)).unwrap().1.series, 1);
    let cases: [(&[u8], &str); 7] = [
        (&[1, 2, 1, b'a', 1, b'b', 1, 0, 5, 1, 0, 0], "out of range"),
        (
            &[1, 2, 1, b'a', 1, b'b', 2, 0, 1, 0, 1, 1, 0, 0],
            "not sorted",
        ),
        (&[1, 2, 1, 0xff, 1, b'b', 1, 0, 1, 1, 0, 0], "UTF-8"),
        (&[1, 2, 1, b'a', 1, b'b', 1, 0, 1, 0, 0], "without samples"),
        (
            &[1, 2, 1, b'a', 1, b'b', 1, 0, 1, 1, 0, 0x90],
            "control byte",
        ),
        (
            &[
                1, 2, 1, b'a', 1, b'b', 1, 0, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0x01, 0,
            ],
            "varint",
        ),
        (
            &[1, 2, 1, b'a', 1, b'b', 1, 0, 1, 1, 0, 0, 9],
            "after the last series",
        ),
    ];
    for (payload, want) in cases {
        let err = load_bytes(dir.path(), &block(payload))
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
    // Counts far beyond the block are refused before allocating.
    let err = load_bytes(dir.path(), &block(&[0xff, 0xff, 0xff, 0xff, 0x0f]))
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("count larger than the block"),
        "{err}"
    );
}

#[test]
fn value_and_timestamp_codecs_round_trip() {
    let mut buf = Vec::new();
    let values = [
        0.0,
        1.0,
        1.0,
        2.0,
        1e6,
        1_000_123.0,
        0.25,
        0.1,
        0.3,
        12.34,
        -12.35,
        -0.0,
        0.0,
        f64::NAN,
        5.0,
        f64::INFINITY,
        3.0,
        1e300,
        7.0,
        1e-9,
        9_007_199_254_740_993.0,
        2.0,
        4e15,
        0.0001,
        -7.5,
    ];
    let mut bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    bits.extend([
        STALE_NAN_BITS,
        0x7ff8_0000_0000_0001,
        u64::MAX,
        0,
        1 << 63,
        0xff,
    ]);
    let mut prev = 0;
    for &b in &bits {
        put_value(&mut buf, prev, b);
        prev = b;
    }
    let ts = [i64::MIN, -1, 0, 1, i64::MAX];
    for t in ts {
        put_varint(&mut buf, zigzag(t));
    }
    let mut c = Cursor { buf: &buf, pos: 0 };
    let mut prev = 0;
    for &b in &bits {
        prev = c.value(prev).unwrap();
        assert_eq!(prev, b, "{} after a value", f64::from_bits(b));
    }
    for t in ts {
        assert_eq!(unzigzag(c.varint().unwrap()), t);
    }
    assert!(c.at_end());
    assert_eq!(Sample::new(1, STALE_NAN).v.to_bits(), STALE_NAN_BITS);
}

#[test]
fn decimal_deltas_keep_counters_and_gauges_small() {
    let mut buf = Vec::new();
    // A two-decimal gauge: XOR would take 8 bytes.
    put_value(&mut buf, 20.25f64.to_bits(), 20.33f64.to_bits());
    assert_eq!(buf, [DECIMAL_MODE | 2, 16]);
    // Counters take two bytes either way for small steps.
    for (a, b) in [
        (1000.0f64, 1003.0f64),
        (123_456.0, 123_460.0),
        (7e9, 7e9 + 60.0),
    ] {
        buf.clear();
        put_value(&mut buf, a.to_bits(), b.to_bits());
        assert!(buf.len() <= 2, "{a} -> {b}: {buf:?}");
    }
    // A decimal delta after a value that is not a decimal is refused.
    let bad = [DECIMAL_MODE, 2];
    let mut c = Cursor { buf: &bad, pos: 0 };
    assert!(c.value(f64::NAN.to_bits()).is_err());
    let bad = [DECIMAL_MODE | 7, 2];
    let mut c = Cursor { buf: &bad, pos: 0 };
    assert!(c.value(0).is_err());
}
