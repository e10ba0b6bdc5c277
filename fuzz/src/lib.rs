//! Shared pieces of the fuzz targets: the entry points the server uses
//! (PromQL parse → plan → evaluate on a small buffer, template parse →
//! execute with a real `query` function, config and rule file loading), run
//! on a thread with the server's stack size so that unbounded recursion shows
//! up as a crash here exactly where it would crash a tokio worker, and the
//! structure-aware generators (`arbitrary` grammars) that produce deep
//! nesting and long chains, which raw-byte mutation practically never does.

mod overflow;
pub mod promql_gen;
pub mod template_gen;
pub mod yaml_gen;

use std::sync::OnceLock;
use std::time::Duration;
use watchfire::model::Labels;
use watchfire::promql::{format_query, parse, Engine, EngineOptions, Value};
use watchfire::store::{Store, StoreOptions};
use watchfire::template::{Data, Flavor, Limits, QuerySample, RuleData, Template};

/// The stack of a tokio worker and of a blocking-pool thread (tokio's
/// default, which `watchfire run` keeps): where queries, rule evaluations
/// and template expansions run in the server.
pub const SERVER_STACK_BYTES: usize = 2 << 20;

/// Runs `f` on a fresh thread with [`SERVER_STACK_BYTES`] of stack. A stack
/// overflow aborts the process with a message (see `overflow.rs`), so
/// libFuzzer records the input as a crash; a panic aborts through
/// libfuzzer-sys' panic hook.
pub fn on_server_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    overflow::install();
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("fuzz-server-stack".into())
            .stack_size(SERVER_STACK_BYTES)
            .spawn_scoped(s, || overflow::with_alt_stack(f))
            .expect("spawn fuzz thread")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// A small buffer with a classic histogram and an `up` series: enough for
/// every function and operator to have something to work on.
pub fn store() -> &'static Store {
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
            // `x` gives `label_replace(…, "$1$1", "x", "(.*)")` nesting
            // something to double.
            let labels = Labels::from_pairs([
                ("__name__", "up"),
                ("job", "api"),
                ("instance", module),
                ("x", "0123456789abcdef"),
            ]);
            let (series, _) = s.get_or_create(labels);
            for t in 0..20i64 {
                let _ = s.append(&series, t * 15_000, (t % 2) as f64);
            }
        }
        s
    })
}

/// The engine with tight limits, so one input never runs long: the byte budget is scaled
/// down with the others (a regex match over one huge label value cannot be interrupted by
/// the 200 ms deadline, so the budget is what bounds a `label_replace` doubling chain).
pub fn engine() -> Engine {
    Engine::new(EngineOptions {
        timeout: Duration::from_millis(200),
        max_samples: 100_000,
        max_bytes: 16 << 20,
        ..Default::default()
    })
}

/// Whether [`check_promql`] also asserts the format round trip: set
/// `WATCHFIRE_FUZZ_ROUNDTRIP=1` (`make fuzz` does). Off in `make fuzz-ci`,
/// which gates on crashes, stalls and exhaustion only, while round-trip
/// divergences found so far are open bugs (e.g. `x[0]` parses but its
/// formatted `x[0s]` does not).
fn roundtrip_checked() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("WATCHFIRE_FUZZ_ROUNDTRIP").is_some_and(|v| v == "1"))
}

/// A query as `/api/v1/query`, `/api/v1/query_range` and
/// `/api/v1/format_query` handle it: parse, then (when it parses) format,
/// evaluate at one instant and over a range. With [`roundtrip_checked`],
/// checks that the formatted text parses again and formats to itself
/// (Prometheus' pretty printer round trips). Call on the server stack.
pub fn check_promql(text: &str) {
    let Ok(expr) = parse(text) else {
        return;
    };
    let formatted = format_query(&expr);
    let again = parse(&formatted);
    if roundtrip_checked() {
        match again {
            Ok(again) => assert_eq!(
                format_query(&again),
                formatted,
                "format_query is not a fixpoint for {text:?}"
            ),
            Err(e) => panic!("formatted query {formatted:?} of {text:?} does not parse: {e}"),
        }
    }
    let engine = engine();
    let _ = engine.instant_query(store(), &expr, 200_000);
    let _ = engine.range_query(store(), &expr, 0, 300_000, 15_000);
}

/// A template query function as the rule manager gives templates: the real
/// parser and engine over [`store`].
fn run_template_query(q: &str) -> Result<Vec<QuerySample>, String> {
    let expr = parse(q).map_err(|e| e.message)?;
    let result = engine()
        .instant_query(store(), &expr, 200_000)
        .map_err(|e| e.to_string())?;
    match result.value {
        Value::Vector(v) => Ok(v
            .into_iter()
            .map(|s| QuerySample {
                labels: s.labels,
                value: s.v,
            })
            .collect()),
        Value::Scalar { v, .. } => Ok(vec![QuerySample {
            labels: Labels::empty(),
            value: v,
        }]),
        _ => Err("query result is not a vector or scalar".to_string()),
    }
}

/// Parses and executes a template in both flavours with tight limits, its
/// `query` calls going to the real engine. Call on the server stack.
pub fn check_template(text: &str) {
    let rule = RuleData {
        labels: Labels::from_pairs([("instance", "a:1"), ("job", "api")]),
        value: 0.5,
        ..RuleData::default()
    };
    let limits = Limits {
        max_steps: 20_000,
        max_output_bytes: 1 << 16,
        max_depth: 50,
    };
    for flavor in [Flavor::Rule, Flavor::Notification] {
        match Template::parse_with("fuzz", text, flavor) {
            Ok(t) => {
                let data = Data::rule(&rule)
                    .with_time_ms(200_000)
                    .with_query(&run_template_query);
                if let Err(e) = t.with_limits(limits).execute(&data) {
                    assert!(!e.to_string().is_empty(), "empty execution error");
                }
            }
            Err(e) => assert!(!e.to_string().is_empty(), "empty parse error"),
        }
    }
}

/// Loads text as the main configuration file and as a web configuration
/// file (environment lookups answered from a fixed table). Every error
/// names the file. Call on the server stack.
pub fn check_config(text: &str) {
    let env = |name: &str| (name == "HOME").then(|| "/tmp".to_string());
    if let Err(errors) = watchfire::config::parse_with_env(text, "fuzz.yml", &env) {
        let lines = errors.lines();
        assert!(
            lines.iter().all(|l| l.contains("fuzz.yml")),
            "config error without the file name: {lines:?}"
        );
    }
    if let Err(errors) = watchfire::config::parse_web_with_env(text, "web.yml", &env) {
        let lines = errors.lines();
        assert!(
            lines.iter().all(|l| l.contains("web.yml")),
            "web config error without the file name: {lines:?}"
        );
    }
}

/// Loads text as a rule file, as the rule manager and `watchfire check
/// rules` do (PromQL, templates, thresholds included). Every error names the
/// file. Call on the server stack.
pub fn check_rules(text: &str) {
    use watchfire::rules::{parse_rule_file, LoadOptions};
    if let Err(errors) = parse_rule_file("fuzz.yml", text, LoadOptions::default()) {
        for e in errors {
            let s = e.to_string();
            assert!(
                s.contains("fuzz.yml"),
                "rule file error without the file name: {s}"
            );
        }
    }
}
