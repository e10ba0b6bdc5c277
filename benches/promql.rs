//! PromQL instant-query benchmarks over a synthetic buffer: 100k classic
//! histogram bucket series and 100k counter series, 15 minutes at 15s
//! resolution. Prints time per query and per sample touched.
//!
//! Run with `cargo bench --bench promql`.

use std::time::Instant;
use watchfire::model::{Labels, Matcher};
use watchfire::promql::{parse, Engine, EngineOptions, Value};
use watchfire::store::{Store, StoreOptions};

const STEP_MS: i64 = 15_000;
const SAMPLES: i64 = 61; // 15 minutes at 15s, both ends included
const MODULES: usize = 100;

fn build() -> (Store, usize) {
    let store = Store::new(StoreOptions { retention_ms: None });
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    let codes = ["200", "201", "404", "500", "503"];
    let mut series = 0;
    for m in 0..MODULES {
        let module = format!("module-{m}");
        for i in 0..100 {
            let instance = format!("10.0.{m}.{i}:9090");
            for (k, le) in les.iter().enumerate() {
                let l = Labels::from_pairs([
                    ("__name__", "http_request_duration_seconds_bucket"),
                    ("module", module.as_str()),
                    ("instance", instance.as_str()),
                    ("le", le),
                ]);
                let (s, _) = store.get_or_create(l);
                for t in 0..SAMPLES {
                    let v = (t * (k as i64 + 1) * 3) as f64;
                    store.append(&s, t * STEP_MS, v).expect("in order");
                }
                series += 1;
            }
        }
        for i in 0..200 {
            let instance = format!("10.1.{m}.{i}:9090");
            for (k, code) in codes.iter().enumerate() {
                let l = Labels::from_pairs([
                    ("__name__", "http_requests_total"),
                    ("module", module.as_str()),
                    ("instance", instance.as_str()),
                    ("code", code),
                ]);
                let (s, _) = store.get_or_create(l);
                for t in 0..SAMPLES {
                    store
                        .append(&s, t * STEP_MS, (t * (5 - k as i64)) as f64)
                        .expect("in order");
                }
                series += 1;
            }
        }
    }
    (store, series)
}

fn main() {
    let t0 = Instant::now();
    let (store, series) = build();
    println!(
        "built {series} series x {SAMPLES} samples in {:.2?}",
        t0.elapsed()
    );
    let engine = Engine::new(EngineOptions::default());
    let eval_t = (SAMPLES - 1) * STEP_MS;
    // Samples in a 5m window (left-open) at 15s resolution.
    let window = 300_000 / STEP_MS;
    let name = |n: &str| Matcher::equal("__name__", n);
    let queries = [
        (
            "histogram_quantile(0.95, sum by (module, le) (rate(http_request_duration_seconds_bucket[5m])))",
            100_000,
            vec![vec![name("http_request_duration_seconds_bucket")]],
        ),
        (
            "sum by (module) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (module) (rate(http_requests_total[5m]))",
            100_000 + 40_000,
            vec![
                vec![
                    name("http_requests_total"),
                    Matcher::regex("code", "5..").expect("valid regex"),
                ],
                vec![name("http_requests_total")],
            ],
        ),
    ];
    for (q, touched_series, selects) in queries {
        // The buffer's own series lookup, measured apart from evaluation.
        let mut select_best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for m in &selects {
                std::hint::black_box(store.select(m));
            }
            select_best = select_best.min(t.elapsed().as_secs_f64());
        }
        let expr = parse(q).expect("query parses");
        let mut best = f64::MAX;
        let mut result_len = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let r = engine
                .instant_query(&store, &expr, eval_t)
                .expect("query runs");
            let el = t.elapsed().as_secs_f64();
            best = best.min(el);
            result_len = match r.value {
                Value::Vector(v) => v.len(),
                _ => 0,
            };
        }
        let samples = touched_series as f64 * window as f64;
        println!("{q}");
        println!(
            "  best of 5: {:.2} ms, {result_len} result series, {:.0} samples touched, {:.1} ns/sample",
            best * 1e3,
            samples,
            best * 1e9 / samples
        );
        println!(
            "  of which Store::select: {:.2} ms; evaluation alone: {:.2} ms, {:.1} ns/sample",
            select_best * 1e3,
            (best - select_best) * 1e3,
            (best - select_best) * 1e9 / samples
        );
    }
}
