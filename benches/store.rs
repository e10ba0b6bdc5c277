//! Buffer benchmark: exporter-like series (`__name__`, `job`, `instance`,
//! `module`, and `code` or `le`), 15 minutes at a 15 s interval (60 samples
//! each). Prints series creation and append throughput, resident bytes per
//! series and per sample (process RSS deltas from /proc/self/status, next to
//! the store's own `stats().bytes`), select latency for an equality and two
//! regex selections, and stats/gc pass times.
//!
//! Run: `cargo bench --bench store`. The 100k-series run happens in this
//! process; a 1M-series run follows in a child process (so its RSS figures
//! start clean). `WATCHFIRE_STORE_BENCH_SERIES=N` runs only N series;
//! `WATCHFIRE_STORE_BENCH_SKIP_1M=1` skips the large run.
//! `WATCHFIRE_STORE_BENCH_WINDOW=15m/5s` runs the alerting shape instead:
//! a 15-minute retention at a 5 s interval (180 samples in the window),
//! appending two windows so that whole chunks have rotated out.
//!
//! The allocator is jemalloc, as in the binary, so RSS figures match it.

use std::hint::black_box;
use std::time::{Duration, Instant};
use watchfire::model::{Labels, Matcher, Sample};
use watchfire::store::{SeriesRef, Store, StoreOptions};

const SERIES_PER_TARGET: usize = 500;
const NAMES: usize = 50;
const MODULES: usize = 10;
const T0: i64 = 1_767_225_600_000;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Rounds appended, scrape interval and retention, in ms.
#[derive(Clone, Copy)]
struct Shape {
    rounds: i64,
    interval_ms: i64,
    retention_ms: i64,
}

fn shape() -> Shape {
    let Ok(w) = std::env::var("WATCHFIRE_STORE_BENCH_WINDOW") else {
        return Shape {
            rounds: 60,
            interval_ms: 15_000,
            retention_ms: 3_600_000,
        };
    };
    let (window, interval) = w
        .split_once('/')
        .expect("WATCHFIRE_STORE_BENCH_WINDOW is <retention>/<interval>");
    let ms = |d: &str| {
        humantime::parse_duration(d)
            .expect("WATCHFIRE_STORE_BENCH_WINDOW durations")
            .as_millis() as i64
    };
    let (retention_ms, interval_ms) = (ms(window), ms(interval));
    Shape {
        rounds: 2 * retention_ms / interval_ms,
        interval_ms,
        retention_ms,
    }
}
/// Resident set size in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// jemalloc's (allocated, resident) bytes: live allocations rounded to their
/// size classes, and pages mapped including freed but not yet purged ones.
fn jemalloc() -> (u64, u64) {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    (
        stats::allocated::read().unwrap_or(0) as u64,
        stats::resident::read().unwrap_or(0) as u64,
    )
}

/// CPU time this thread has run, in ns (so figures survive a busy machine).
/// The kernel updates it at ticks and switches: only long spans are exact.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// Fast counter (bytes): large random increments.
    BigCounter,
    /// Slow counter (requests): small increments.
    Counter,
    /// Float gauge doing a random walk with two decimals.
    Gauge,
    /// Constant gauge (`up`, info metrics).
    Constant,
    /// Histogram bucket: small increments.
    Bucket,
}

fn kind(name: usize) -> Kind {
    match name % 5 {
        0 => Kind::BigCounter,
        1 => Kind::Counter,
        2 => Kind::Gauge,
        3 => Kind::Constant,
        _ => Kind::Bucket,
    }
}

fn metric_name(name: usize) -> String {
    match kind(name) {
        Kind::BigCounter => format!("node_network_{name}_bytes_total"),
        Kind::Counter => format!("http_requests_{name}_total"),
        Kind::Gauge => format!("node_hwmon_{name}_celsius"),
        Kind::Constant => format!("node_info_{name}"),
        Kind::Bucket => format!("probe_duration_{name}_seconds_bucket"),
    }
}

const LE: [&str; MODULES] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

fn labels(i: usize) -> Labels {
    let name = i % NAMES;
    let module = (i / NAMES) % MODULES;
    let target = i / SERIES_PER_TARGET;
    let job = if target % 2 == 0 { "node" } else { "blackbox" };
    let mut pairs = vec![
        ("__name__".to_string(), metric_name(name)),
        ("job".to_string(), job.to_string()),
        (
            "instance".to_string(),
            format!("host-{target}.example.org:9100"),
        ),
        ("module".to_string(), format!("m{module}")),
    ];
    match kind(name) {
        Kind::Bucket => pairs.push(("le".to_string(), LE[module].to_string())),
        Kind::Counter => pairs.push((
            "code".to_string(),
            ["200", "404", "500"][module % 3].to_string(),
        )),
        _ => {}
    }
    Labels::from_pairs(pairs)
}

struct Cached {
    series: SeriesRef,
    kind: Kind,
    value: f64,
}

fn next_value(c: &mut Cached, rng: &mut Rng) -> f64 {
    c.value = match c.kind {
        Kind::BigCounter => c.value + rng.below(100_000) as f64,
        Kind::Counter | Kind::Bucket => c.value + rng.below(4) as f64,
        Kind::Gauge => ((c.value * 100.0).round() + rng.below(201) as f64 - 100.0) / 100.0,
        Kind::Constant => c.value,
    };
    c.value
}

/// Appends rounds `rounds` for the given targets; returns samples appended.
fn scrape(
    store: &Store,
    targets: &mut [Vec<Cached>],
    first: usize,
    rounds: std::ops::Range<i64>,
    interval_ms: i64,
) -> (u64, u64) {
    let cpu = thread_cpu_ns();
    let mut rng = Rng(0x9e37_79b9 + first as u64);
    let mut n = 0;
    for round in rounds {
        for (k, target) in targets.iter_mut().enumerate() {
            // Scrape timestamps jitter by a few ms, as real ones do.
            let t = T0 + round * interval_ms + ((first + k) as i64 % 7) + rng.below(3) as i64;
            for c in target.iter_mut() {
                let v = next_value(c, &mut rng);
                store.append(&c.series, t, v).expect("in order");
                n += 1;
            }
        }
    }
    (n, thread_cpu_ns() - cpu)
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Series found, wall time and CPU time per selection.
fn time_select(store: &Store, ms: &[Matcher], reps: u32) -> (usize, Duration, Duration) {
    let mut found = 0;
    let start = Instant::now();
    let cpu = thread_cpu_ns();
    for _ in 0..reps {
        found = black_box(store.select(ms)).len();
    }
    let cpu = Duration::from_nanos((thread_cpu_ns() - cpu) / u64::from(reps));
    (found, start.elapsed() / reps, cpu)
}

fn run(n: usize) {
    let sh = shape();
    let (rounds, interval) = (sh.rounds, sh.interval_ms);
    println!(
        "== {n} series x {} samples ({}s interval, {}s retention)",
        sh.rounds,
        sh.interval_ms / 1000,
        sh.retention_ms / 1000
    );
    let rss0 = rss();
    let (alloc0, _) = jemalloc();
    let store = Store::new(StoreOptions {
        retention_ms: Some(sh.retention_ms),
    });
    let mut rng = Rng(42);
    let start = Instant::now();
    let cpu = thread_cpu_ns();
    let mut targets: Vec<Vec<Cached>> = Vec::with_capacity(n / SERIES_PER_TARGET + 1);
    for i in 0..n {
        if i % SERIES_PER_TARGET == 0 {
            targets.push(Vec::with_capacity(SERIES_PER_TARGET));
        }
        let (series, created) = store.get_or_create(labels(i));
        assert!(created);
        let kind = kind(i % NAMES);
        let value = match kind {
            Kind::Gauge => 40.0 + rng.below(2000) as f64 / 100.0,
            Kind::Constant => 1.0,
            _ => rng.below(1_000_000) as f64,
        };
        if let Some(t) = targets.last_mut() {
            t.push(Cached {
                series,
                kind,
                value,
            });
        }
    }
    let create = start.elapsed();
    let cpu = thread_cpu_ns() - cpu;
    let rss_created = rss();
    println!(
        "create:  {:>10.0} series/s wall ({create:.2?} total); {:.0} ns CPU/series (labels built by the bench included)",
        per_sec(n as u64, create),
        cpu as f64 / n as f64
    );

    let half = rounds / 2;
    let start = Instant::now();
    let (appended, cpu) = scrape(&store, &mut targets, 0, 0..half, interval);
    let one = start.elapsed();
    println!(
        "append, 1 thread:  {:>10.0} samples/s wall ({appended} samples in {one:.2?}); \
         {:.0} ns CPU/sample = {:.0} samples/s per core",
        per_sec(appended, one),
        cpu as f64 / appended as f64,
        appended as f64 * 1e9 / cpu as f64
    );
    let mid = targets.len() / 2;
    let (left, right) = targets.split_at_mut(mid);
    let start = Instant::now();
    let (appended, cpu) = std::thread::scope(|s| {
        let a = s.spawn(|| scrape(&store, left, 0, half..rounds, interval));
        let b = scrape(&store, right, mid, half..rounds, interval);
        let a = a.join().expect("scrape thread");
        (a.0 + b.0, a.1 + b.1)
    });
    let two = start.elapsed();
    println!(
        "append, 2 threads: {:>10.0} samples/s wall ({appended} samples in {two:.2?}); \
         {:.0} ns CPU/sample",
        per_sec(appended, two),
        cpu as f64 / appended as f64
    );

    let mut end = rounds;
    if sh.retention_ms < rounds * interval {
        // Window shape: the footprint cycles with the chunk phase (all series
        // freeze their heads on the same round), so sample one more chunk span.
        let (mut sum, mut max, mut rss_max, mut k) = (0u64, 0u64, 0u64, 0u64);
        let (mut alloc_sum, mut alloc_max) = (0u64, 0u64);
        let mut t = rounds;
        while t < rounds + 120 {
            scrape(&store, &mut targets, 0, t..t + 10, interval);
            t += 10;
            let b = store.stats().bytes;
            sum += b;
            max = max.max(b);
            rss_max = rss_max.max(rss());
            let (a, _) = jemalloc();
            let a = a.saturating_sub(alloc0);
            alloc_sum += a;
            alloc_max = alloc_max.max(a);
            k += 1;
        }
        end = t;
        println!(
            "over one more chunk span (every 10 rounds): stats().bytes mean {:.0} / max {:.0} B/series; \
             jemalloc allocated mean {:.0} / max {:.0} B/series; RSS max +{:.0} B/series",
            sum as f64 / k as f64 / n as f64,
            max as f64 / n as f64,
            alloc_sum as f64 / k as f64 / n as f64,
            alloc_max as f64 / n as f64,
            rss_max.saturating_sub(rss0) as f64 / n as f64
        );
    }
    let rss_full = rss();
    let (alloc_full, resident_full) = jemalloc();
    println!(
        "jemalloc: allocated +{:.0} B/series, resident {:.1} MiB (process)",
        alloc_full.saturating_sub(alloc0) as f64 / n as f64,
        resident_full as f64 / 1048576.0
    );
    let st = store.stats();
    let samples = st.samples;
    println!(
        "stats(): series={} samples={} bytes={} ({:.0} B/series, {:.2} B/sample overall)",
        st.series,
        st.samples,
        st.bytes,
        st.bytes as f64 / n as f64,
        st.bytes as f64 / samples as f64
    );
    let m = store.memory();
    let per = |b: u64| b as f64 / n as f64;
    println!(
        "bytes by part, B/series: series structs+labels {:.0}, chunk headers {:.0}, frozen chunk data {:.0}, heads {:.0}, \
         index {:.0}, postings {:.0}, strings {:.0}",
        per(m.series),
        per(m.chunk_headers),
        per(m.chunks),
        per(m.heads),
        per(m.index),
        per(m.postings),
        per(m.strings)
    );
    println!(
        "RSS: +{:.1} MiB total = {:.0} B/series incl. {:.0} samples held; index+labels {:.0} B/series; \
         samples {:.2} B/sample",
        (rss_full - rss0) as f64 / 1048576.0,
        (rss_full - rss0) as f64 / n as f64,
        samples as f64 / n as f64,
        (rss_created.saturating_sub(rss0)) as f64 / n as f64,
        (rss_full.saturating_sub(rss_created)) as f64 / samples as f64
    );

    let name0 = metric_name(0);
    let eq = [
        Matcher::equal("__name__", name0.as_str()),
        Matcher::equal("module", "m1"),
    ];
    let (found, d, c) = time_select(&store, &eq, 200);
    println!("select {{__name__=\"{name0}\", module=\"m1\"}}: {found} series in {d:.2?} wall, {c:.2?} CPU");
    let re1 = [
        Matcher::regex("__name__", "node_network_.*_bytes_total").expect("regex"),
        Matcher::regex("instance", "host-1[0-9]\\..*").expect("regex"),
    ];
    let (found, d, c) = time_select(&store, &re1, 50);
    println!("select {{__name__=~\"node_network_.*_bytes_total\", instance=~\"host-1[0-9]\\\\..*\"}}: {found} series in {d:.2?} wall, {c:.2?} CPU");
    let re2 = [
        Matcher::equal("job", "blackbox"),
        Matcher::regex("le", "0\\.0.*|\\+Inf").expect("regex"),
        Matcher::not_equal("module", "m9"),
    ];
    let (found, d, c) = time_select(&store, &re2, 20);
    println!("select {{job=\"blackbox\", le=~\"0\\\\.0.*|\\\\+Inf\", module!=\"m9\"}}: {found} series in {d:.2?} wall, {c:.2?} CPU");

    // Read the last 5 minutes of every series selected by the equality
    // (decoding starts at the chunk's first sample).
    let sel = store.select(&eq);
    let mut buf: Vec<Sample> = Vec::new();
    let tmax = T0 + (end - 1) * interval + 10;
    let cpu = thread_cpu_ns();
    let mut read = 0u64;
    for _ in 0..1000 {
        for s in &sel {
            buf.clear();
            s.samples_in(tmax - 300_000, tmax, &mut buf);
            read += buf.len() as u64;
        }
    }
    let cpu = thread_cpu_ns() - cpu;
    println!(
        "samples_in (last 5m of {} series): {:.0} ns CPU per series read, {read} samples",
        sel.len(),
        cpu as f64 / (1000 * sel.len()) as f64
    );
    // In-cache decode speed per value kind: one series of each, best of 5.
    for (i, c) in targets[0].iter().take(5).enumerate() {
        let mut best = u64::MAX;
        let mut n = 0u64;
        for _ in 0..5 {
            let cpu = thread_cpu_ns();
            n = 0;
            for _ in 0..20_000 {
                c.series.for_each_sample_in(i64::MIN, i64::MAX, |t, v| {
                    black_box((t, v));
                    n += 1;
                });
            }
            best = best.min(thread_cpu_ns() - cpu);
        }
        println!(
            "decode {}: {:.1} ns/sample",
            metric_name(i % NAMES),
            best as f64 / n as f64
        );
    }
    // Decode everything once.
    let cpu = thread_cpu_ns();
    let start = Instant::now();
    let mut sum = 0.0;
    let mut decoded = 0u64;
    for s in store.all_series() {
        s.for_each_sample_in(i64::MIN, i64::MAX, |_, v| {
            sum += v;
            decoded += 1;
        });
    }
    black_box(sum);
    let cpu = thread_cpu_ns() - cpu;
    println!(
        "full scan: {decoded} samples in {:.2?} wall, {:.1} ns CPU/sample",
        start.elapsed(),
        cpu as f64 / decoded as f64
    );

    // In-cache append cost: one series per kind, 1M samples each, with
    // retention rotating chunks.
    let small = Store::new(StoreOptions {
        retention_ms: Some(3_600_000),
    });
    for (i, c) in targets[0].iter().take(5).enumerate() {
        let (series, _) = small.get_or_create(labels(i));
        let mut c = Cached {
            series,
            kind: c.kind,
            value: c.value,
        };
        let mut rng = Rng(7);
        let cpu = thread_cpu_ns();
        for k in 0..1_000_000i64 {
            let v = next_value(&mut c, &mut rng);
            small
                .append(&c.series, T0 + k * interval + (k % 3), v)
                .expect("in order");
        }
        println!(
            "append in cache {}: {:.1} ns/sample (value generation included)",
            metric_name(i),
            (thread_cpu_ns() - cpu) as f64 / 1e6
        );
    }

    let start = Instant::now();
    black_box(store.stats());
    println!("stats() pass: {:.2?}", start.elapsed());
    let start = Instant::now();
    let removed = store.gc(tmax);
    println!(
        "gc() pass (nothing stale): {:.2?}, removed {removed}",
        start.elapsed()
    );
}

fn main() {
    if let Ok(n) = std::env::var("WATCHFIRE_STORE_BENCH_SERIES") {
        run(n.parse().expect("WATCHFIRE_STORE_BENCH_SERIES is a number"));
        return;
    }
    run(100_000);
    if std::env::var_os("WATCHFIRE_STORE_BENCH_SKIP_1M").is_some() {
        return;
    }
    println!();
    let exe = std::env::current_exe().expect("own path");
    let status = std::process::Command::new(exe)
        .env("WATCHFIRE_STORE_BENCH_SERIES", "1000000")
        .status()
        .expect("run 1M-series child");
    assert!(status.success(), "1M-series run failed");
}
