//! file_sd at scale: one file of `--targets` targets (default 10,000) behind one job.
//!
//! Prints four figures:
//! - **read**: one full re-read of the changed file (stat, read, parse, groups);
//! - **no-change poll**: one poll that finds nothing changed (glob + stat), which the provider
//!   does every second, so its time is its CPU cost per second;
//! - **first apply**: from `apply` of the config to every target running in the manager;
//! - **change → applied**: from rewriting the file (one target's address changed) to the
//!   manager running the new target and not the old one; this includes the wait for the next
//!   one-second poll, so it lies between the re-sync cost and that plus one second (checked
//!   every 10 ms: listing 10,000 targets is itself a few milliseconds).
//!
//! ```text
//! cargo bench --bench sd_reload [-- --targets 10000 --changes 5]
//! ```

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchfire::scrape::discovery::file::FileProvider;
use watchfire::scrape::discovery::SdMetrics;
use watchfire::scrape::{targets_from_config, ScrapeManager};
use watchfire::store::Store;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The SD file: groups of ten targets sharing labels; `first` replaces target 0's address.
fn write_targets(path: &std::path::Path, n: usize, first: &str) {
    let mut out = String::from("[");
    for g in 0..n.div_ceil(10) {
        if g > 0 {
            out.push(',');
        }
        out.push_str("{\"targets\":[");
        for i in g * 10..(g * 10 + 10).min(n) {
            if i > g * 10 {
                out.push(',');
            }
            if i == 0 {
                out.push_str(&format!("\"{first}\""));
            } else {
                out.push_str(&format!(
                    "\"10.{}.{}.{}:9100\"",
                    i >> 16,
                    (i >> 8) & 255,
                    i & 255
                ));
            }
        }
        out.push_str(&format!(
            "],\"labels\":{{\"env\":\"prod\",\"rack\":\"r{g}\",\"team\":\"t{}\"}}}}",
            g % 7
        ));
    }
    out.push(']');
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).expect("create");
    f.write_all(out.as_bytes()).expect("write");
    drop(f);
    // Renamed into place, as configuration management writes SD files.
    std::fs::rename(&tmp, path).expect("rename");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let n = arg("--targets", 10_000);
    let changes = arg("--changes", 5);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("targets.json");
    write_targets(&file, n, "first-0:9100");
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("file_sd: {n} targets, {bytes} bytes of JSON");

    // The provider alone.
    let config_text = format!(
        "scrape_configs:\n- job_name: sd\n  scrape_interval: 1h\n  scrape_timeout: 10s\n  \
         file_sd_configs: [{{files: ['{}']}}]\n",
        file.display()
    );
    let config = watchfire::config::parse(&config_text, dir.path().join("c.yml")).expect("config");
    let sd = config.scrape_configs[0].file_sd_configs[0].clone();
    let metrics = SdMetrics::default();
    let mut reads = Vec::new();
    for i in 0..5 {
        let mut p = FileProvider::new(sd.clone(), Vec::new());
        write_targets(&file, n, &format!("read-{i}:9100"));
        let t = Instant::now();
        let outcome = p.refresh(&metrics).expect("first refresh reads");
        reads.push(t.elapsed());
        assert_eq!(
            outcome.0.map(|g| g.iter().map(|g| g.targets.len()).sum()),
            Some(n)
        );
    }
    reads.sort();
    println!(
        "read (stat + read + parse + groups): median {}",
        ms(reads[reads.len() / 2])
    );
    let mut p = FileProvider::new(sd, Vec::new());
    p.refresh(&metrics);
    let polls = 2_000;
    let t = Instant::now();
    for _ in 0..polls {
        assert!(p.refresh(&metrics).is_none());
    }
    let per_poll = t.elapsed() / polls;
    println!(
        "no-change poll (glob + stat), once a second: {:.1} µs each = {:.4}% of one core",
        per_poll.as_secs_f64() * 1e6,
        per_poll.as_secs_f64() * 100.0
    );

    // The whole path through the scrape manager.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Arc::new(Store::default());
        let manager = ScrapeManager::new(store, &mut Default::default());
        write_targets(&file, n, "first-0:9100");
        let pools = targets_from_config(&config).expect("pools");
        let t = Instant::now();
        manager.apply(pools).await;
        let has = |addr: &str| {
            let want = format!("http://{addr}/metrics");
            let targets = manager.targets();
            (targets.len(), targets.iter().any(|v| v.spec.url == want))
        };
        while has("first-0:9100") != (n, true) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        println!("first apply: {}", ms(t.elapsed()));
        let mut seen = Vec::new();
        for i in 0..changes {
            let addr = format!("changed-{i}:9100");
            // Start between polls at a different phase each time.
            tokio::time::sleep(Duration::from_millis(1100 + 170 * i as u64)).await;
            let t = Instant::now();
            write_targets(&file, n, &addr);
            while has(&addr) != (n, true) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen.push(t.elapsed());
        }
        seen.sort();
        println!(
            "change -> applied ({changes} changes, 1 s poll included): min {}, median {}, max {}",
            ms(seen[0]),
            ms(seen[seen.len() / 2]),
            ms(seen[seen.len() - 1])
        );
        manager.shutdown().await;
    });
}
