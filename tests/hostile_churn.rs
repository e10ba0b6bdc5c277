//! Issue 10, item 4: a target inventing new series every scrape cannot grow
//! the buffer without bound. Two churning targets on 127.0.0.1 — one with a
//! `series_limit`, one that runs into `storage.max_series` — and one
//! well-behaved target scraped next to them. Checks the bounds, the
//! counters, the targets' `lastError`, that the well-behaved target keeps
//! updating, and that series and RSS come back down once the churning jobs
//! are removed and their series leave the window.
//!
//! `cargo test --test hostile_churn -- --nocapture` prints one
//! `PROBE | probe | answer | peak RSS MiB` line per probe.

mod common;

use axum::extract::State;
use axum::routing::get;
use common::target::serve_router;
use common::{free_port, get_text, query_single, wait_for, watchfire_bin, Proc};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// New series per scrape of each churning target.
const CHURN_A: usize = 4_000;
const CHURN_B: usize = 8_000;
/// `series_limit` of churn_a and the buffer's `storage.max_series`.
const SERIES_LIMIT: usize = 12_000;
const MAX_SERIES: usize = 40_000;
/// Series of the well-behaved target.
const STEADY: usize = 50;
/// Synthetic `up`/`scrape_*` series per target (never refused).
const SYNTHETIC: usize = 5;

/// Scrapes served per path, used to invent new label values.
#[derive(Default)]
struct Counters {
    churn_a: AtomicU64,
    churn_b: AtomicU64,
    steady: AtomicU64,
}

fn churn_body(prefix: &str, round: u64, n: usize) -> String {
    let mut body = String::with_capacity(n * 90);
    for j in 0..n {
        body.push_str(&format!(
            "churn_requests_total{{{prefix}_id=\"r{round}_{j}\",path=\"/api/v1/items/{j}\"}} {j}\n"
        ));
    }
    body
}

/// Serves `/churn_a`, `/churn_b` (new series every request) and
/// `/steady` (the same series, values counting requests) on 127.0.0.1.
fn serve() -> String {
    let counters = Arc::new(Counters::default());
    let app = axum::Router::new()
        .route(
            "/churn_a",
            get(|State(c): State<Arc<Counters>>| async move {
                churn_body("a", c.churn_a.fetch_add(1, Ordering::Relaxed), CHURN_A)
            }),
        )
        .route(
            "/churn_b",
            get(|State(c): State<Arc<Counters>>| async move {
                churn_body("b", c.churn_b.fetch_add(1, Ordering::Relaxed), CHURN_B)
            }),
        )
        .route(
            "/steady",
            get(|State(c): State<Arc<Counters>>| async move {
                let n = c.steady.fetch_add(1, Ordering::Relaxed) + 1;
                (0..STEADY)
                    .map(|i| format!("steady_requests_total{{i=\"{i}\"}} {n}\n"))
                    .collect::<String>()
            }),
        )
        .with_state(counters);
    serve_router(app)
}

fn config(addr: &str, with_churn: bool) -> String {
    let mut c = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 900ms}}
storage: {{retention: 6s, max_series: {MAX_SERIES}}}
scrape_configs:
  - job_name: steady
    metrics_path: /steady
    static_configs: [{{targets: ['{addr}']}}]
"
    );
    if with_churn {
        c.push_str(&format!(
            "  - job_name: churn_a
    metrics_path: /churn_a
    series_limit: {SERIES_LIMIT}
    static_configs: [{{targets: ['{addr}']}}]
  - job_name: churn_b
    metrics_path: /churn_b
    static_configs: [{{targets: ['{addr}']}}]
"
        ));
    }
    c
}

/// (VmRSS, VmHWM) of a process in bytes.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// A sample of watchfire's own `/metrics` by exact series text.
fn own_metric(base: &str, series: &str) -> Option<f64> {
    let (_, text) = get_text(&format!("{base}/metrics"))?;
    text.lines().find_map(|l| {
        let (name, v) = l.rsplit_once(' ')?;
        (name == series).then(|| v.parse().ok())?
    })
}

/// `(health, lastError)` of the target of `job`.
fn target(base: &str, job: &str) -> Option<(String, String)> {
    let (_, t) = common::get_json(&format!("{base}/api/v1/targets"))?;
    t["data"]["activeTargets"].as_array()?.iter().find_map(|t| {
        (t["scrapePool"] == job).then(|| {
            (
                t["health"].as_str().unwrap_or("").to_string(),
                t["lastError"].as_str().unwrap_or("").to_string(),
            )
        })
    })
}

/// Asserts the process lives and `/-/healthy` answers within 1 s.
fn assert_healthy(wf: &mut Proc, base: &str, dir: &Path) {
    assert!(
        wf.child.try_wait().expect("try_wait").is_none(),
        "watchfire exited:\n{}",
        log(dir)
    );
    let started = Instant::now();
    let ok = common::http()
        .get(format!("{base}/-/healthy"))
        .timeout(Duration::from_secs(1))
        .send()
        .is_ok_and(|r| r.status().is_success());
    assert!(
        ok && started.elapsed() < Duration::from_secs(1),
        "/-/healthy did not answer within 1 s"
    );
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("watchfire.log")).unwrap_or_default()
}

#[test]
fn churning_targets_are_bounded_and_freed_after_removal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = serve();
    std::fs::write(dir.path().join("watchfire.yml"), config(&addr, true)).expect("config");
    let port = free_port();
    let mut c = Command::new(watchfire_bin());
    c.args(["run", "--config"])
        .arg(dir.path().join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage.path")
        .arg(dir.path().join("data"));
    let mut wf = Proc::spawn("watchfire", c, dir.path());
    let pid = wf.child.id();
    let base = format!("http://127.0.0.1:{port}");
    wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    })
    .unwrap_or_else(|| panic!("watchfire not ready:\n{}", log(dir.path())));
    let (baseline, _) = rss(pid);

    // Probe 1: churn for 12 s (two retention windows): the series count
    // never passes the limit, and the well-behaved target keeps updating.
    let bound = (MAX_SERIES + 3 * SYNTHETIC) as f64;
    let steady_q = "steady_requests_total{i=\"0\"}";
    let mut steady_first = None;
    let mut most = 0.0f64;
    let churn_end = Instant::now() + Duration::from_secs(12);
    while Instant::now() < churn_end {
        let series = own_metric(&base, "watchfire_buffer_series").unwrap_or(0.0);
        assert!(series <= bound, "{series} series, bound {bound}");
        most = most.max(series);
        if steady_first.is_none() {
            steady_first = query_single(&base, steady_q);
        }
        assert_healthy(&mut wf, &base, dir.path());
        std::thread::sleep(Duration::from_millis(500));
    }
    let rejected = |limit: &str| {
        own_metric(
            &base,
            &format!("watchfire_buffer_series_rejected_total{{limit=\"{limit}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let (by_target, by_buffer) = (rejected("series_limit"), rejected("max_series"));
    assert!(by_target > 0.0, "series_limit rejected nothing");
    assert!(by_buffer > 0.0, "max_series rejected nothing");
    assert!(
        most >= (MAX_SERIES as f64) * 0.9,
        "the buffer never filled up: {most}"
    );
    // Refusals come and go as gc makes room: wait for a scrape that had some.
    let limited = |job: &str, text: &str| {
        wait_for(Duration::from_secs(10), || {
            target(&base, job).filter(|(_, e)| e.contains("new series refused") && e.contains(text))
        })
        .unwrap_or_else(|| {
            panic!(
                "{job}: lastError never named {text:?}: {:?}",
                target(&base, job)
            )
        })
    };
    let (health_a, error_a) = limited("churn_a", &format!("series_limit of {SERIES_LIMIT}"));
    assert_eq!(health_a, "up", "a limited scrape is kept: {error_a}");
    let (health_b, error_b) = limited("churn_b", &format!("storage.max_series of {MAX_SERIES}"));
    assert_eq!(health_b, "up", "{error_b}");
    let (health_s, error_s) = target(&base, "steady").expect("steady");
    assert_eq!((health_s.as_str(), error_s.as_str()), ("up", ""));
    let steady_last = query_single(&base, steady_q).expect("steady series");
    let steady_first = steady_first.expect("steady series seen early");
    assert!(
        steady_last >= steady_first + 5.0,
        "the well-behaved target stopped updating: {steady_first} → {steady_last}"
    );
    let steady_count = query_single(&base, "count(steady_requests_total)");
    assert_eq!(
        steady_count,
        Some(STEADY as f64),
        "every steady series is there"
    );
    let log_text = log(dir.path());
    let warnings = log_text
        .lines()
        .filter(|l| l.contains("series limit exceeded"))
        .count();
    assert_eq!(
        warnings, 2,
        "one log line per churning target, not per scrape"
    );
    let (churn_rss, churn_peak) = rss(pid);
    println!(
        "PROBE | churn: 2 targets inventing {CHURN_A} and {CHURN_B} new series per 1 s scrape \
         (series_limit {SERIES_LIMIT}, storage.max_series {MAX_SERIES}, retention 6s) | \
         at most {most} series; rejected {by_target} by series_limit, {by_buffer} by max_series; \
         targets up with lastError; steady target updated {steady_first} → {steady_last}; \
         RSS {:.0} → {:.0} MiB | {:.0}",
        mib(baseline),
        mib(churn_rss),
        mib(churn_peak)
    );

    // Probe 2: remove the churning jobs; once their series leave the
    // window, the series count and RSS come back down.
    std::fs::write(dir.path().join("watchfire.yml"), config(&addr, false)).expect("config");
    let removed_at = Instant::now();
    let reload = common::http()
        .post(format!("{base}/-/reload"))
        .send()
        .expect("reload");
    assert!(reload.status().is_success(), "reload: {}", reload.status());
    let small = (STEADY + SYNTHETIC) as f64;
    let freed = wait_for(Duration::from_secs(30), || {
        own_metric(&base, "watchfire_buffer_series").filter(|&s| s <= small)
    });
    assert!(
        freed.is_some(),
        "series not freed: {:?}\n{}",
        own_metric(&base, "watchfire_buffer_series"),
        log(dir.path())
    );
    let freed_after = removed_at.elapsed();
    // The allocator hands freed pages back over a few seconds (jemalloc's
    // decay): poll.
    let grown = churn_rss.saturating_sub(baseline);
    let mut trail = Vec::new();
    let came_down = wait_for(Duration::from_secs(20), || {
        let (now, _) = rss(pid);
        trail.push(mib(now).round());
        (now < baseline + grown / 2).then_some(now)
    });
    assert_healthy(&mut wf, &base, dir.path());
    let (after_rss, peak) = rss(pid);
    let trail: Vec<f64> = trail.iter().step_by(10).copied().collect();
    println!("RSS after the series were freed, MiB every second: {trail:?}");
    assert!(
        came_down.is_some(),
        "RSS did not come back down: baseline {:.0} MiB, churning {:.0} MiB, after {:.0} MiB",
        mib(baseline),
        mib(churn_rss),
        mib(after_rss)
    );
    assert!(query_single(&base, steady_q).is_some_and(|v| v > steady_last));
    println!(
        "PROBE | churning jobs removed by reload | series {most} → {} within {:.1} s; \
         RSS {:.0} → {:.0} MiB (baseline {:.0}) | {:.0}",
        freed.unwrap_or(0.0),
        freed_after.as_secs_f64(),
        mib(churn_rss),
        mib(after_rss),
        mib(baseline),
        mib(peak)
    );
}
