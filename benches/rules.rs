//! Evaluation cost of the bundled rule set (`rules/service-thresholds.yml`)
//! over a buffer shaped like many services behind their exporters.
//!
//! `--modules` modules × `--instances` instances × 20 series each (12
//! latency buckets, 3 request counters, CPU, memory, memory limit,
//! goroutines, a build-info gauge): the defaults give 100k series with
//! 15 minutes of samples at 15 s. One group evaluation runs every rule once.
//!
//! ```text
//! cargo bench --bench rules [-- --modules 1000 --instances 5 --evals 5 --rules FILE --steady 1]
//! ```
//!
//! By default the evaluations run 1 s apart over the same samples. With `--steady 1` each
//! evaluation runs 15 s after the one before, once every series got its next sample (as a
//! scrape every 15 s would append it; the appends are not timed): the steady state of a
//! running server, where range functions carry their windows over
//! (`promql::WindowCache`). `--carry 0` runs the rules as before that cache (each
//! evaluation reads its windows whole; selections still shared within it), for comparison.
//!
//! `--rules` evaluates another rule file instead, e.g. the 12 standard threshold rules
//! `../shared/bench/rules/thresholds.prom.yml` (6 groups of 2 rules); the time is that of one
//! evaluation of every group. The buffer has no `module_cpu_limit_cores` or
//! `module_memory_limit_bytes`, so those rules select and compute but return nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use watchfire::model::Labels;
use watchfire::model::Labels as L;
use watchfire::promql::{Engine, EngineOptions};
use watchfire::promql::{EvalError, Expr, SelectionMemo, Value, WindowCache};
use watchfire::rules::group::RuleQuerier;
use watchfire::rules::manager::{Manager, ManagerOptions, RuleSettings};

/// Rules run as before window carrying: the selection memo only.
struct MemoOnly {
    engine: Arc<Engine>,
    store: Arc<Store>,
}

struct MemoEval<'a> {
    q: &'a MemoOnly,
    memo: SelectionMemo,
}

impl RuleQuerier for MemoOnly {
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.engine
            .instant_query(&self.store, expr, t_ms)
            .map(|r| r.value)
    }

    fn for_evaluation<'s>(
        &'s self,
        rules: &[&Expr],
        t_ms: i64,
        _windows: &'s WindowCache,
    ) -> Option<Box<dyn RuleQuerier + 's>> {
        let memo = self.engine.selection_memo_for(t_ms, rules.iter().copied());
        Some(Box::new(MemoEval { q: self, memo }))
    }
}

impl RuleQuerier for MemoEval<'_> {
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.q
            .engine
            .instant_query_shared(&self.q.store, expr, t_ms, &self.memo)
            .map(|r| r.value)
    }

    fn written(&self, series: &mut dyn Iterator<Item = &L>) {
        self.memo.invalidate(series);
    }
}
use watchfire::store::{Store, StoreOptions};

const BUCKETS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// This thread's CPU time in ns (`/proc/thread-self/schedstat`), when the kernel tells: on a
/// shared machine it varies less than wall time.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let modules = arg("--modules", 1000);
    let instances = arg("--instances", 5);
    let evals = arg("--evals", 5).max(1);
    let steady = arg("--steady", 0) == 1;
    // Each series with its last value and its change per 15 s step (the values are linear).
    let mut fed: Vec<(watchfire::store::SeriesRef, f64, f64)> = Vec::new();
    let store = Arc::new(Store::new(StoreOptions {
        retention_ms: Some(15 * 60 * 1000),
    }));
    let t0: i64 = 1_700_000_000_000;
    let steps = 60i64;

    let started = Instant::now();
    let mut series = 0usize;
    for m in 0..modules {
        let module = format!("module-{m}");
        for i in 0..instances {
            let instance = format!("10.0.{}.{}:8080", m % 250, i);
            let base = [
                ("job", "services"),
                ("module", module.as_str()),
                ("instance", instance.as_str()),
            ];
            let mut add = |name: &str, extra: &[(&str, &str)], value: &dyn Fn(i64) -> f64| {
                let labels = Labels::from_pairs(
                    base.iter()
                        .copied()
                        .chain([("__name__", name)])
                        .chain(extra.iter().copied()),
                );
                let (s, _) = store.get_or_create(labels);
                for k in 0..steps {
                    let _ = store.append(&s, t0 + k * 15_000, value(k));
                }
                let last = value(steps - 1);
                fed.push((s, last, last - value(steps - 2)));
                series += 1;
            };
            // Module 0 is slow (its P95 crosses the critical level).
            let slow = m == 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                let share = if slow {
                    (b as f64 / 12.0).powi(3)
                } else {
                    ((b + 4) as f64 / 12.0).min(1.0)
                };
                add(
                    "http_request_duration_seconds_bucket",
                    &[("le", le)],
                    &|k| (k * 200) as f64 * share,
                );
            }
            for (code, share) in [("200", 0.97), ("404", 0.02), ("500", 0.01)] {
                add("http_requests_total", &[("code", code)], &|k| {
                    (k * 200) as f64 * share
                });
            }
            add("process_cpu_seconds_total", &[], &|k| k as f64 * 4.0);
            add("process_resident_memory_bytes", &[], &|_| 4.0e8);
            add("process_virtual_memory_max_bytes", &[], &|_| 2.0e9);
            add("go_goroutines", &[], &|_| 120.0);
            add("build_info", &[("version", "1.0")], &|_| 1.0);
        }
    }
    println!(
        "buffer: {series} series × {steps} samples loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let manager = if arg("--carry", 1) == 0 {
        let q = Arc::new(MemoOnly {
            engine,
            store: store.clone(),
        });
        Manager::with_querier(store.clone(), q, ManagerOptions::default())
    } else {
        Manager::new(store.clone(), engine, ManagerOptions::default())
    };
    let file = std::env::args()
        .skip_while(|a| a != "--rules")
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/rules/service-thresholds.yml"
            ))
        });
    rt.block_on(manager.update(
        &[file],
        RuleSettings {
            evaluation_interval_ms: 15_000,
            ..Default::default()
        },
    ))
    .expect("rules load");
    let groups = manager.groups();
    let rules: usize = groups.iter().map(|g| g.spec().rules.len()).sum();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for e in 0..evals {
        let ts = if steady {
            let t = t0 + (steps + e as i64) * 15_000;
            for (s, last, step) in &mut fed {
                *last += *step;
                let _ = store.append(s, t, *last);
            }
            t
        } else {
            t0 + (steps - 1) * 15_000 - (evals - 1 - e) as i64 * 1_000
        };
        let start = Instant::now();
        let cpu_start = thread_cpu_ns();
        for g in &groups {
            manager.eval_group(g, ts);
        }
        times.push(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64 / 1e6);
        }
    }
    if steady {
        let ms: Vec<String> = times.iter().map(|t| format!("{:.1}", t * 1e3)).collect();
        println!("evaluation times in order (ms): {}", ms.join(" "));
    }
    if !cpu.is_empty() {
        let ms: Vec<String> = cpu.iter().map(|t| format!("{t:.1}")).collect();
        println!(
            "CPU time of each evaluation, in order (ms): {}",
            ms.join(" ")
        );
        cpu.sort_by(f64::total_cmp);
        println!(
            "median CPU time per evaluation: {:.1} ms",
            cpu[cpu.len() / 2]
        );
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{rules} rules over {series} series: best {:.1} ms, median {:.1} ms per group evaluation \
         ({:.0} ns per series in the buffer)",
        times[0] * 1e3,
        times[times.len() / 2] * 1e3,
        times[0] * 1e9 / series as f64
    );
    let firing = manager
        .groups()
        .iter()
        .map(|g| g.with_state(|st| st.rules.iter().map(|r| r.alerts.len()).sum::<usize>()))
        .sum::<usize>();
    println!("alerts pending or firing after the evaluations: {firing}");
}
