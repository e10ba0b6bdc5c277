//! The scrape path end to end, without the network: parse a body, resolve
//! each sample's series through the target's cache, append to the buffer.
//!
//! Uses the node-exporter fixture relabelled into `--series` distinct series
//! (default 100k) and scraped repeatedly at 15 s steps. Counts heap
//! allocations with a counting global allocator, to show that a steady-state
//! scrape allocates nothing per sample. `--relabel 1` adds five typical
//! `metric_relabel_configs` rules (drop, labeldrop, replace, labelmap, hashmod),
//! whose outcome the cache keeps: the steady state must stay as cheap.
//!
//! ```text
//! cargo bench --bench scrape_path [-- --series 100000 --scrapes 20 --series-limit 0 --relabel 0]
//! ```

// A counting global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use watchfire::config::StorageConfig;
use watchfire::model::relabel::{RelabelConfig, RelabelSpec};
use watchfire::model::Labels;
use watchfire::scrape::{ingest, Metadata, ScrapeLimits, SeriesCache, TargetSpec};
use watchfire::store::{Store, StoreOptions};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The node-exporter fixture's sample lines, copied with a `replica` label
/// until the body holds `series` samples.
fn body(series: usize) -> String {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/exposition/node_exporter.prom"
    ))
    .unwrap_or_else(|_| "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 123.5\n".to_string());
    let samples: Vec<&str> = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let mut out = String::new();
    let mut n = 0;
    let mut replica = 0;
    while n < series {
        for line in &samples {
            if n == series {
                break;
            }
            let (name_labels, value) = line.rsplit_once(' ').unwrap_or((line, "0"));
            let line = match name_labels.find('{') {
                Some(i) => format!(
                    "{}{{replica=\"{replica}\",{}{}",
                    &name_labels[..i],
                    &name_labels[i + 1..],
                    format_args!(" {value}\n")
                ),
                None => format!("{name_labels}{{replica=\"{replica}\"}} {value}\n"),
            };
            out.push_str(&line.replace(",}", "}"));
            n += 1;
        }
        replica += 1;
    }
    out
}

/// Five typical metric relabeling rules.
fn relabel_rules() -> Vec<RelabelConfig> {
    let rule = |f: &dyn Fn(&mut RelabelSpec)| {
        let mut spec = RelabelSpec::default();
        f(&mut spec);
        RelabelConfig::new(spec).expect("valid rule")
    };
    let names = |n: &[&str]| Some(n.iter().map(|s| s.to_string()).collect());
    vec![
        rule(&|s| {
            s.source_labels = names(&["__name__"]);
            s.regex = Some("go_gc_.*".into());
            s.action = "drop".into();
        }),
        rule(&|s| {
            s.regex = Some("device_error|fstype_unused".into());
            s.action = "labeldrop".into();
        }),
        rule(&|s| {
            s.source_labels = names(&["__name__"]);
            s.regex = Some("node_([a-z]+)_.*".into());
            s.target_label = "subsystem".into();
        }),
        rule(&|s| {
            s.regex = Some("(mode|cpu)".into());
            s.replacement = "node_$1".into();
            s.action = "labelmap".into();
        }),
        rule(&|s| {
            s.source_labels = names(&["__name__", "replica"]);
            s.modulus = 4;
            s.target_label = "shard".into();
            s.action = "hashmod".into();
        }),
    ]
}

fn main() {
    let series = arg("--series", 100_000);
    let scrapes = arg("--scrapes", 20);
    let body = body(series);
    let spec = TargetSpec {
        job: "node".into(),
        url: "http://127.0.0.1:9100/metrics".into(),
        labels: Labels::from_pairs([("job", "node"), ("instance", "127.0.0.1:9100")]),
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(10),
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        negotiation: Default::default(),
        forced_error: None,
        limits: ScrapeLimits::default(),
        authorization: None,
        metric_relabel: if arg("--relabel", 0) > 0 {
            std::sync::Arc::from(relabel_rules())
        } else {
            std::sync::Arc::from([])
        },
    };
    println!(
        "metric_relabel_configs rules: {}",
        spec.metric_relabel.len()
    );
    let store = Store::new(StoreOptions {
        retention_ms: Some(15 * 60 * 1000),
    });
    // As in production: the buffer's default `storage.max_series`, and a
    // target `series_limit` if asked for (0: none).
    store.set_max_series(StorageConfig::DEFAULT_MAX_SERIES as usize);
    let mut cache = SeriesCache::with_series_limit(arg("--series-limit", 0));
    let mut batch = Vec::new();
    let mut meta = Metadata::default();
    let t0: i64 = 1_700_000_000_000;

    // First scrape: every series is new.
    let start = Instant::now();
    cache.begin_round();
    let out = ingest(
        body.as_bytes(),
        "text/plain",
        t0,
        &spec,
        &store,
        &mut cache,
        &mut batch,
        &mut meta,
    )
    .expect("fixture parses");
    for (s, t, v) in batch.drain(..) {
        store.append(&s, t, v).expect("append");
    }
    let first = start.elapsed();
    println!(
        "first scrape: {} samples ({} after relabeling), {} new series in {:.1} ms ({:.2} M samples/s)",
        out.samples,
        out.post_relabel,
        out.series_added,
        first.as_secs_f64() * 1e3,
        out.samples as f64 / first.as_secs_f64() / 1e6
    );

    // Steady state: cache hits only.
    let mut total = Duration::ZERO;
    let mut allocs = 0u64;
    let mut samples = 0usize;
    for i in 1..=scrapes {
        let before = ALLOCS.load(Ordering::Relaxed);
        let start = Instant::now();
        cache.begin_round();
        let ts = t0 + i as i64 * 15_000;
        let out = ingest(
            body.as_bytes(),
            "text/plain",
            ts,
            &spec,
            &store,
            &mut cache,
            &mut batch,
            &mut meta,
        )
        .expect("fixture parses");
        for (s, t, v) in batch.drain(..) {
            store.append(&s, t, v).expect("append");
        }
        total += start.elapsed();
        allocs += ALLOCS.load(Ordering::Relaxed) - before;
        samples += out.samples;
    }
    println!(
        "steady state: {scrapes} scrapes of {} bytes, {:.2} M samples/s, {:.1} ms per scrape, {:.4} allocations per sample",
        body.len(),
        samples as f64 / total.as_secs_f64() / 1e6,
        total.as_secs_f64() * 1e3 / scrapes as f64,
        allocs as f64 / samples as f64
    );
    let stats = store.stats();
    println!(
        "buffer: {} series, {} samples, {} bytes ({:.1} bytes/sample incl. index)",
        stats.series,
        stats.samples,
        stats.bytes,
        stats.bytes as f64 / stats.samples.max(1) as f64
    );
}
