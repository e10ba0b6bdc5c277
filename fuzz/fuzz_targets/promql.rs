//! Parses arbitrary text as PromQL and evaluates what parses over a small
//! buffer with tight limits: the front end and evaluator must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;
use watchfire::model::Labels;
use watchfire::promql::{parse, Engine, EngineOptions};
use watchfire::store::{Store, StoreOptions};

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let s = Store::new(StoreOptions { retention_ms: None });
        for (i, module) in ["a", "b"].iter().enumerate() {
            for le in ["0.1", "1", "+Inf"] {
                let labels = Labels::from_pairs([
                    ("__name__", "req_bucket"),
                    ("module", module),
                    ("le", le),
                ]);
                let (series, _) = s.get_or_create(labels);
                for t in 0..20i64 {
                    let _ = s.append(&series, t * 15_000, (t as f64) * (i as f64 + 1.0));
                }
            }
        }
        s
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(expr) = parse(text) else {
        return;
    };
    let engine = Engine::new(EngineOptions {
        timeout: Duration::from_millis(200),
        max_samples: 100_000,
        ..Default::default()
    });
    let _ = engine.instant_query(store(), &expr, 200_000);
    let _ = engine.range_query(store(), &expr, 0, 300_000, 15_000);
});
