//! Remote-write sender throughput: N series × R rounds appended to a buffer whose tap feeds a
//! `remote_write` queue (Remote Write 1.0, default queue settings but `max_backoff` and
//! `batch_send_deadline` 100ms, 4 shards) posting to an in-process sink that answers 204
//! without decoding. Prints the append cost with and without the tap, the time until every
//! sample was acknowledged, and samples per CPU-second of the whole process (tap, router,
//! encoding, backlog writes and reads, HTTP on both ends): "samples/s per core". Wall times
//! inflate on a busy machine; CPU time does not.
//!
//! Then an outage: the sink answers 503 while the same number of samples is appended again
//! (they wait in the on-disk backlog, retried with backoff), then 204: the backlog drain
//! rate.
//!
//! Run: `cargo bench --bench remote_write` (`WATCHFIRE_RW_BENCH_SERIES`, `..._ROUNDS`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchfire::model::Labels;
use watchfire::remote::write::{ClientFactory, RemoteWriter};
use watchfire::store::{Store, StoreOptions};

/// User plus system CPU time of this process, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// Bytes of the files under `dir`.
fn walk_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                total += walk_bytes(&p);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn metric(registry: &prometheus_client::registry::Registry, name: &str) -> f64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn main() {
    let series = env("WATCHFIRE_RW_BENCH_SERIES", 10_000);
    let rounds = env("WATCHFIRE_RW_BENCH_ROUNDS", 100);
    let total = (series * rounds) as f64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let bodies = Arc::new(AtomicU64::new(0));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (b, d) = (bodies.clone(), down.clone());
    let app = axum::Router::new().route(
        "/write",
        axum::routing::post(move |body: axum::body::Bytes| {
            let status = if d.load(Ordering::Relaxed) {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                b.fetch_add(body.len() as u64, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            };
            async move { status }
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });

    let labels: Vec<Labels> = (0..series)
        .map(|i| {
            Labels::from_pairs([
                ("__name__".to_owned(), format!("bench_metric_{}", i % 50)),
                ("job".to_owned(), "bench".to_owned()),
                ("instance".to_owned(), format!("host-{}:9100", i / 500)),
                ("series".to_owned(), i.to_string()),
            ])
        })
        .collect();

    // Baseline: the same appends without a tap.
    let plain = Store::new(StoreOptions::default());
    let refs: Vec<_> = labels
        .iter()
        .map(|l| plain.get_or_create(l.clone()).0)
        .collect();
    let t0 = Instant::now();
    for r in 0..rounds {
        for s in &refs {
            let _ = plain.append(s, r as i64 * 1000, r as f64);
        }
    }
    let plain_s = t0.elapsed().as_secs_f64();
    drop(refs);
    drop(plain);

    let dir = tempfile::tempdir().unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let factory: ClientFactory = Arc::new(|_: &str, _: &watchfire::config::TlsConfig| {
        reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())
    });
    let writer = RemoteWriter::new(dir.path(), 4 << 30, factory, &mut registry).unwrap();
    let cfg = watchfire::config::parse(
        &format!(
            "remote_write:\n- url: http://{addr}/write\n  name: bench\n  \
             queue_config: {{max_backoff: 100ms, batch_send_deadline: 100ms}}\n"
        ),
        "bench.yml",
    )
    .unwrap();
    writer.apply(&cfg.remote_write, &Labels::empty()).unwrap();
    let store = Store::new(StoreOptions::default());
    store.set_tap(writer.tap());
    let refs: Vec<_> = labels
        .iter()
        .map(|l| store.get_or_create(l.clone()).0)
        .collect();
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    for r in 0..rounds {
        for s in &refs {
            let _ = store.append(s, r as i64 * 1000, r as f64);
        }
    }
    let tapped_s = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    while metric(&registry, "prometheus_remote_storage_samples_total") < total
        || metric(&registry, "prometheus_remote_storage_samples_pending") > 0.0
    {
        assert!(Instant::now() < deadline, "not drained within 10 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let sent = metric(&registry, "prometheus_remote_storage_samples_total");
    println!("remote_write bench: {series} series × {rounds} rounds = {total} samples");
    println!(
        "  append without tap: {:.0} ns/sample; with tap: {:.0} ns/sample",
        plain_s * 1e9 / total,
        tapped_s * 1e9 / total
    );
    println!(
        "  all acknowledged after {wall:.2} s: {:.0} samples/s wall, {:.0} samples per CPU-second ({cpu:.2} CPU-s), {:.2} bytes/sample on the wire",
        total / wall,
        total / cpu.max(1e-9),
        bodies.load(Ordering::Relaxed) as f64 / total
    );
    println!("  samples_total {sent} (retries would count twice)");

    // Outage: everything appended now waits on disk.
    down.store(true, Ordering::Relaxed);
    for r in rounds..2 * rounds {
        for s in &refs {
            let _ = store.append(s, r as i64 * 1000, r as f64);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while metric(&registry, "prometheus_remote_storage_samples_pending") < total {
        assert!(
            Instant::now() < deadline,
            "backlog not written within 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let on_disk: u64 = walk_bytes(dir.path());
    let t0 = Instant::now();
    down.store(false, Ordering::Relaxed);
    while metric(&registry, "prometheus_remote_storage_samples_pending") > 0.0 {
        assert!(
            Instant::now() < deadline,
            "backlog not drained within 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let drain = t0.elapsed().as_secs_f64();
    println!(
        "  backlog of {total} samples ({:.1} MiB on disk): drained in {drain:.2} s after the receiver came back, {:.0} samples/s (max_backoff 100ms)",
        on_disk as f64 / (1 << 20) as f64,
        total / drain
    );
    rt.block_on(writer.shutdown());
}
