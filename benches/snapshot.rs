//! Buffer snapshot benchmark: fills a buffer with exporter-like series
//! (`__name__`, `job`, `instance`, `module`, sometimes `code`/`le`; counters,
//! gauges, constants) at a 15 s interval, then times writing
//! `buffer.snapshot` (including fsync and rename) and loading it back into a
//! fresh buffer, and prints the file size.
//!
//! Run: `cargo bench --bench snapshot`. 100k series × 60 samples, then 1M
//! series × 60 samples; `WATCHFIRE_SNAPSHOT_BENCH_SERIES=N` runs only N
//! series. The file goes to `$TMPDIR`.

use std::time::Instant;
use watchfire::model::Labels;
use watchfire::persist::buffer;
use watchfire::store::{Store, StoreOptions};

const ROUNDS: i64 = 60;
const INTERVAL_MS: i64 = 15_000;
const T0: i64 = 1_767_225_600_000;
const SERIES_PER_TARGET: usize = 500;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn labels(i: usize) -> Labels {
    let name = i % 50;
    let module = (i / 50) % 10;
    let target = i / SERIES_PER_TARGET;
    let mut pairs = vec![
        (
            "__name__".to_string(),
            format!("exporter_metric_{name}_total"),
        ),
        (
            "job".to_string(),
            ["node", "blackbox"][target % 2].to_string(),
        ),
        (
            "instance".to_string(),
            format!("host-{target}.example.org:9100"),
        ),
        ("module".to_string(), format!("m{module}")),
    ];
    match name % 5 {
        0 => pairs.push(("le".into(), format!("{}", 0.005 * (module + 1) as f64))),
        1 => pairs.push(("code".into(), ["200", "404", "500"][module % 3].into())),
        _ => {}
    }
    Labels::from_pairs(pairs)
}

fn fill(n: usize) -> Store {
    let store = Store::new(StoreOptions {
        retention_ms: Some(3_600_000),
    });
    let series: Vec<_> = (0..n).map(|i| store.get_or_create(labels(i)).0).collect();
    let mut values = vec![0.0f64; n];
    let mut rng = Rng(0x9e37_79b9);
    for round in 0..ROUNDS {
        for (i, s) in series.iter().enumerate() {
            let target = i / SERIES_PER_TARGET;
            let t = T0 + round * INTERVAL_MS + (target as i64 % 7) + rng.below(3) as i64;
            values[i] = match i % 5 {
                // Fast and slow counters, a two-decimal gauge, a constant.
                0 => values[i] + rng.below(100_000) as f64,
                1 | 4 => values[i] + rng.below(4) as f64,
                2 => ((values[i] * 100.0).round() + rng.below(201) as f64 - 100.0) / 100.0,
                _ => 1.0,
            };
            store.append(s, t, values[i]).expect("in order");
        }
    }
    store
}

fn run(n: usize) {
    let start = Instant::now();
    let store = fill(n);
    let samples = store.stats().samples;
    println!(
        "== {n} series x {ROUNDS} samples ({samples} samples, filled in {:.2?})",
        start.elapsed()
    );
    let dir = std::env::temp_dir().join(format!("watchfire-snapshot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let now = T0 + ROUNDS * INTERVAL_MS;
    let start = Instant::now();
    let saved = buffer::save(&dir, &store, now).expect("save");
    let write = start.elapsed();
    drop(store);
    println!(
        "write: {write:.2?} ({} series, {:.1} MB, {:.2} bytes/sample, {:.0} samples/s)",
        saved.series,
        saved.bytes as f64 / 1e6,
        saved.bytes as f64 / saved.samples as f64,
        saved.samples as f64 / write.as_secs_f64()
    );
    let start = Instant::now();
    let (back, loaded) = buffer::load(
        &dir.join(buffer::SNAPSHOT_FILE),
        StoreOptions {
            retention_ms: Some(3_600_000),
        },
        now,
    )
    .expect("load");
    let load = start.elapsed();
    println!(
        "load:  {load:.2?} ({} series, {} samples, {:.0} samples/s)",
        loaded.series,
        loaded.samples,
        loaded.samples as f64 / load.as_secs_f64()
    );
    assert_eq!(loaded.samples, saved.samples);
    assert_eq!(back.series_count() as u64, saved.series);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if let Ok(n) = std::env::var("WATCHFIRE_SNAPSHOT_BENCH_SERIES") {
        run(n
            .parse()
            .expect("WATCHFIRE_SNAPSHOT_BENCH_SERIES is a number"));
        return;
    }
    run(100_000);
    run(1_000_000);
}
