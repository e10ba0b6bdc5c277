//! End to end (issue 10, item 7): the fuzz seeds and generated deep inputs
//! against the real `watchfire` binary over HTTP. The committed PromQL seeds
//! (`fuzz/corpus/promql`) go to `/api/v1/query` and `/api/v1/format_query`,
//! generated deep and long expressions too, and the rule file and config
//! seeds are loaded with `/-/reload`. After each probe the process is alive,
//! `/-/healthy` answers within 1 s, and the answers are all JSON (success or
//! a Prometheus error) or, for reloads, a clean refusal. Each probe prints a
//! `PROBE | … | … | peak RSS MiB` line (`--nocapture`).
//!
//! The seeds named `regression-*` (2,000 parentheses, `abs(` × 10,000,
//! 5,000-term chains, …) are the crashing probes: each must now get a
//! JSON error and leave the server healthy.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Generated nesting depth and chain length, within the PromQL depth limit of 512.
const DEPTH: usize = 150;
const CHAIN: usize = 250;

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Alive, healthy within 1 s; prints the PROBE line.
fn check_after(wf: &mut Proc, base: &str, probe: &str, answer: &str) {
    assert!(
        wf.child.try_wait().expect("wait").is_none(),
        "watchfire died during probe {probe}"
    );
    let started = Instant::now();
    let healthy = http()
        .get(format!("{base}/-/healthy"))
        .timeout(Duration::from_secs(1))
        .send()
        .map(|r| r.status().as_u16());
    assert_eq!(healthy.ok(), Some(200), "/-/healthy after {probe}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/-/healthy slow after {probe}"
    );
    let pid = wf.child.id();
    let peak = status_kib(pid, "VmHWM:").max(status_kib(pid, "VmRSS:"));
    println!("PROBE | {probe} | {answer} | {:.1}", peak as f64 / 1024.0);
}

/// Sends each query to `path` as a form body; counts 200s and JSON errors,
/// and fails on anything else.
fn send_queries(base: &str, path: &str, queries: &[String]) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for q in queries {
        let resp = http()
            .post(format!("{base}{path}"))
            .form(&[("query", q.as_str()), ("time", "100")])
            .send()
            .unwrap_or_else(|e| panic!("{path} {q:.80}: {e}"));
        let code = resp.status().as_u16();
        let body: serde_json::Value = resp
            .json()
            .unwrap_or_else(|e| panic!("{path} {q:.80}: answer is not JSON: {e}"));
        match (code, body["status"].as_str()) {
            (200, Some("success")) => ok += 1,
            (400 | 422 | 503, Some("error")) if body["errorType"].is_string() => refused += 1,
            other => panic!("{path} {q:.80}: unexpected answer {other:?}: {body}"),
        }
    }
    (ok, refused)
}

fn seeds(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("seed directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let text = String::from_utf8(std::fs::read(&p).ok()?).ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), text))
        })
        .collect()
}

fn generated_queries() -> Vec<String> {
    const WRAPPERS: &[(&str, &str)] = &[
        ("(", ")"),
        ("abs(", ")"),
        ("sum by (job) (", ")"),
        ("max_over_time((", ")[1m:15s])"),
        ("label_replace(", ", \"x\", \"$1\", \"job\", \"(.*)\")"),
        ("-", ""),
    ];
    let mut out = Vec::new();
    for (pre, post) in WRAPPERS {
        for depth in [1, DEPTH / 2, DEPTH] {
            out.push(format!("{}up{}", pre.repeat(depth), post.repeat(depth)));
        }
    }
    for op in ["+", "and", "or", "/", "> bool"] {
        out.push(vec!["up"; CHAIN].join(&format!(" {op} ")));
    }
    out
}

fn config(port: u16) -> String {
    format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: watchfire
    static_configs: [{{targets: ['127.0.0.1:{port}']}}]
"
    )
}

#[test]
fn fuzz_seeds_and_generated_inputs_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let good = config(port);
    std::fs::write(dir.path().join("watchfire.yml"), &good).expect("config");
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").expect("rules");
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30)
    ));
    let fuzz = crate_dir().join("fuzz/corpus");

    let promql: Vec<String> = seeds(&fuzz.join("promql"))
        .into_iter()
        .map(|(_, q)| q)
        .collect();
    assert!(promql.len() >= 20, "PromQL seeds missing");
    let (ok, refused) = send_queries(&base, "/api/v1/query", &promql);
    check_after(
        &mut wf,
        &base,
        &format!("{} PromQL fuzz seeds, /api/v1/query", promql.len()),
        &format!("{ok} × 200, {refused} × JSON error"),
    );
    let (ok, refused) = send_queries(&base, "/api/v1/format_query", &promql);
    check_after(
        &mut wf,
        &base,
        &format!("{} PromQL fuzz seeds, /api/v1/format_query", promql.len()),
        &format!("{ok} × 200, {refused} × JSON error"),
    );

    let generated = generated_queries();
    let (ok, refused) = send_queries(&base, "/api/v1/query", &generated);
    assert_eq!(refused, 0, "generated queries are valid");
    let (fok, _) = send_queries(&base, "/api/v1/format_query", &generated);
    assert_eq!(fok, generated.len(), "generated queries format");
    check_after(
        &mut wf,
        &base,
        &format!(
            "{} generated queries (nesting ≤ {DEPTH}, chains of {CHAIN}), query + format_query",
            generated.len()
        ),
        &format!("{ok} × 200"),
    );

    let reload = |what: &str| -> u16 {
        http()
            .post(format!("{base}/-/reload"))
            .send()
            .unwrap_or_else(|e| panic!("reload after {what}: {e}"))
            .status()
            .as_u16()
    };
    let rules = seeds(&fuzz.join("rules"));
    let (mut accepted, mut refused) = (0, 0);
    for (name, text) in &rules {
        std::fs::write(dir.path().join("rules.yml"), text).expect("rules");
        match reload(name) {
            200 => accepted += 1,
            400..=599 => refused += 1,
            other => panic!("reload of rule seed {name}: {other}"),
        }
    }
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").expect("rules");
    assert_eq!(reload("empty rules"), 200);
    check_after(
        &mut wf,
        &base,
        &format!("{} rule file fuzz seeds, /-/reload", rules.len()),
        &format!("{accepted} loaded, {refused} refused"),
    );

    let configs = seeds(&fuzz.join("config"));
    let (mut accepted, mut refused) = (0, 0);
    for (name, text) in &configs {
        std::fs::write(dir.path().join("watchfire.yml"), text).expect("config");
        match reload(name) {
            200 => accepted += 1,
            400..=599 => refused += 1,
            other => panic!("reload of config seed {name}: {other}"),
        }
    }
    std::fs::write(dir.path().join("watchfire.yml"), &good).expect("config");
    assert_eq!(reload("good config"), 200);
    check_after(
        &mut wf,
        &base,
        &format!("{} config fuzz seeds, /-/reload", configs.len()),
        &format!("{accepted} loaded, {refused} refused"),
    );

    wf.terminate(Duration::from_secs(10));
}
