//! Web UI rendering: `/alerts` with 5,000 firing alerts (conversion from held rule alerts,
//! routing, grouping, the askama page) and `/targets` with 10,000 targets with their `up`
//! sparklines (pools, SVG points, the page). Prints the median and worst of 20 renders and
//! the page sizes; the goal is under 300 ms each.
//!
//! Run: `cargo bench --bench ui` (release), or `cargo test --bench ui` for the same figures
//! from a debug build (an upper bound).

use std::time::{Duration, Instant};
use watchfire::ui::bench;

const RUNS: usize = 20;

fn measure(name: &str, mut f: impl FnMut() -> usize) {
    let bytes = f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "{name}: median {:.1} ms, worst {:.1} ms, page {} KiB",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        bytes / 1024
    );
}

fn main() {
    let now = chrono::Utc::now().timestamp_millis();
    let held = bench::held_alerts(5_000, now);
    measure("/alerts, 5,000 alerts", || bench::alerts_page(&held, now));
    let (targets, up) = bench::targets(10_000, now);
    measure("/targets, 10,000 targets", || {
        bench::targets_page(&targets, &up, now)
    });
}
