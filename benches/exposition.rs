//! Exposition parser throughput on a realistic large payload: the shared
//! node-exporter page, repeated with an extra `copy` label until it holds
//! about 100k series. Prints samples/s and MB/s for two paths:
//! - cache hit: parse and hash each sample's raw series text (what a scrape
//!   loop does for a series it has seen), no label decoding;
//! - cache miss: also decode every label name and value.
//!
//! Run with `cargo bench --bench exposition`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use watchfire::scrape::exposition::{Entry, Format, Parser};

const TARGET_SERIES: usize = 100_000;
const ROUNDS: usize = 7;

fn fixture() -> Option<Vec<u8>> {
    let root = std::env::var_os("WATCHFIRE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    );
    let path = root.join("fixtures/exposition/node_exporter.prom");
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipping: cannot read {}: {e}", path.display());
            None
        }
    }
}

/// The fixture repeated with `copy="<n>"` added to every series.
fn big_payload(page: &[u8]) -> (Vec<u8>, usize, usize) {
    let text = String::from_utf8_lossy(page);
    let mut out = String::new();
    let mut series = 0;
    let mut copy = 0;
    while series < TARGET_SERIES {
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                out.push_str(line);
            } else if let Some(brace) = line.find('{') {
                out.push_str(&line[..=brace]);
                out.push_str(&format!("copy=\"{copy}\","));
                out.push_str(&line[brace + 1..]);
                series += 1;
            } else if let Some(space) = line.find(' ') {
                out.push_str(&format!(
                    "{}{{copy=\"{copy}\"}}{}",
                    &line[..space],
                    &line[space..]
                ));
                series += 1;
            }
            out.push('\n');
        }
        copy += 1;
    }
    (out.into_bytes(), series, copy)
}

/// FNV-1a: a stand-in for the scrape cache's hash of the series text.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn cache_hit_path(payload: &[u8]) -> usize {
    let mut n = 0;
    let mut acc = 0u64;
    for entry in Parser::new(payload, Format::PrometheusText) {
        if let Entry::Sample(s) = entry.expect("payload parses") {
            acc ^= hash(s.series.as_bytes()) ^ s.value.to_bits();
            n += 1;
        }
    }
    black_box(acc);
    n
}

fn cache_miss_path(payload: &[u8]) -> usize {
    let mut n = 0;
    let mut bytes = 0usize;
    let mut value = String::new();
    for entry in Parser::new(payload, Format::PrometheusText) {
        if let Entry::Sample(s) = entry.expect("payload parses") {
            bytes += s.metric_name().len();
            for label in s.labels {
                label.value_into(&mut value);
                bytes += label.name().len() + value.len();
            }
            n += 1;
        }
    }
    black_box(bytes);
    n
}

fn measure(name: &str, payload: &[u8], run: fn(&[u8]) -> usize) {
    let mut times: Vec<Duration> = Vec::new();
    let mut samples = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        samples = run(black_box(payload));
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2].as_secs_f64();
    let best = times[0].as_secs_f64();
    let mb = payload.len() as f64 / 1e6;
    println!(
        "{name:<11} {samples} samples, {mb:.1} MB: median {:.1} ms = {:.0} MB/s, {:.2} M samples/s (best {:.0} MB/s)",
        median * 1e3,
        mb / median,
        samples as f64 / median / 1e6,
        mb / best,
    );
}

fn main() {
    let Some(page) = fixture() else { return };
    let (payload, series, copies) = big_payload(&page);
    println!("exposition bench: node_exporter.prom x{copies} = {series} series");
    measure("cache hit", &payload, cache_hit_path);
    measure("cache miss", &payload, cache_miss_path);
}
