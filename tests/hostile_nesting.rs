//! End to end: deeply nested and long-chained input (issue 10, item 1, and `@ 1e308`).
//! Each probe goes to the real binary over TCP; afterwards the process must be alive,
//! `/-/healthy` must answer within 1 s, and peak RSS is printed as
//! `PROBE | <probe> | <answer> | <peak RSS MiB>` (see them with `--nocapture`).
//! Before the limits, every one of these probes aborted the process with a stack overflow.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: &str = "expression nested too deeply (limit 512)";

fn nest(open: &str, inner: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), ")".repeat(n))
}

fn chain(term: &str, n: usize) -> String {
    vec![term; n].join("+")
}

/// Peak and current RSS of `pid` in MiB, from /proc.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The process is alive, healthy within 1 s; prints the probe's line.
fn after_probe(wf: &mut Proc, base: &str, probe: &str, answer: &str) {
    assert!(
        wf.child.try_wait().expect("try_wait").is_none(),
        "watchfire died after {probe}"
    );
    let started = Instant::now();
    let healthy = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client")
        .get(format!("{base}/-/healthy"))
        .send()
        .map(|r| r.status().as_u16());
    assert_eq!(healthy.ok(), Some(200), "/-/healthy after {probe}");
    assert!(started.elapsed() < Duration::from_secs(1), "{probe}");
    let (peak, now) = rss_mib(wf.child.id());
    println!("PROBE | {probe} | {answer} | {peak:.1} (now {now:.1})");
}

fn start(dir: &Path, config: &str) -> (Proc, String) {
    std::fs::write(dir.join("watchfire.yml"), config).expect("config");
    let port = free_port();
    let wf = spawn_watchfire(dir, port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(20)),
        "watchfire did not start: {}",
        std::fs::read_to_string(dir.join("watchfire.log")).unwrap_or_default()
    );
    (wf, base)
}

/// A GET with a request target longer than HTTP clients build (over 64 KiB), on raw TCP:
/// the status code and body.
fn raw_get(base: &str, target: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let _ = sock.write_all(req.as_bytes());
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Sends `query` to `path` by GET or POST; the status and the JSON body (`Null` for a
/// refusal by the HTTP layer).
fn send(base: &str, path: &str, query: &str, post: bool) -> (u16, serde_json::Value) {
    let target = format!("{path}?query={}", urlencode(query));
    if !post && target.len() > 60_000 {
        let (status, text) = raw_get(base, &target);
        let body = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null);
        return (status, body);
    }
    let client = http();
    let resp = if post {
        client
            .post(format!("{base}{path}"))
            .form(&[("query", query)])
            .send()
    } else {
        client
            .get(format!("{base}{path}?query={}", urlencode(query)))
            .send()
    }
    .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().expect("JSON body"))
}

#[test]
fn deep_queries_are_refused_and_the_server_lives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut wf, base) = start(dir.path(), "global: {evaluation_interval: 1s}\n");
    let probes = [
        ("2,000 nested parentheses", nest("(", "1", 2000)),
        ("abs( x 10,000", nest("abs(", "up", 10_000)),
        ("sum( x 10,000", nest("sum(", "up", 10_000)),
        ("1+1+... x 5,000", chain("1", 5_000)),
        ("1+1+... x 20,000", chain("1", 20_000)),
        ("up+up+... x 5,000", chain("up", 5_000)),
    ];
    for (name, q) in &probes {
        for path in ["/api/v1/query", "/api/v1/format_query"] {
            for post in [false, true] {
                let (status, body) = send(&base, path, q, post);
                let probe = format!("{} {path} {name}", if post { "POST" } else { "GET" });
                if status == 414 {
                    // The request line is longer than the HTTP layer reads (64 KiB).
                    after_probe(&mut wf, &base, &probe, "414 URI Too Long (HTTP layer)");
                    continue;
                }
                assert_eq!(status, 400, "{probe}: {body}");
                assert_eq!(body["status"], "error", "{probe}");
                assert_eq!(body["errorType"], "bad_data", "{probe}");
                let err = body["error"].as_str().expect("error text");
                assert!(err.contains(LIMIT), "{probe}: {err}");
                after_probe(&mut wf, &base, &probe, &format!("400 bad_data {LIMIT}"));
            }
        }
    }

    // At the limit: answered, and format_query stays fast.
    let at_limit = nest("abs(", "vector(1)", 500);
    let t = Instant::now();
    let (status, body) = send(&base, "/api/v1/query", &at_limit, true);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "1");
    let (status, body) = send(&base, "/api/v1/format_query", &at_limit, true);
    assert_eq!(status, 200, "{body}");
    assert!(t.elapsed() < Duration::from_secs(10));
    after_probe(&mut wf, &base, "abs( x 500 (at the limit)", "200");

    // The other endpoints that parse a query: the syntax tree, exemplars and federation
    // selectors, at the limit and past it.
    for (name, q) in [
        ("sum( x 500", nest("sum(", "up", 500)),
        ("up or up or ... x 500", chain("up", 500)),
        ("((( x 500", nest("(", "up", 500)),
        ("sum( x 10,000", nest("sum(", "up", 10_000)),
    ] {
        let deep = q.len() > 20_000;
        let form = [("query", q.as_str())];
        // The tree nests deeper than serde_json reads by default: the status is checked.
        let r = http()
            .post(format!("{base}/api/v1/parse_query"))
            .form(&form)
            .send()
            .expect("parse_query");
        assert_eq!(r.status().as_u16(), if deep { 400 } else { 200 }, "{name}");
        let r = http()
            .post(format!("{base}/api/v1/query_exemplars"))
            .form(&form)
            .send()
            .expect("query_exemplars");
        assert_eq!(r.status().as_u16(), if deep { 400 } else { 200 }, "{name}");
        if !deep {
            // A selector must be a plain selector; the deep ones are refused, the server lives.
            let r = http()
                .get(format!("{base}/federate"))
                .query(&[("match[]", q.as_str())])
                .send()
                .map(|r| r.status().as_u16());
            assert!(
                matches!(r, Ok(400 | 414)),
                "{name}: {:?}",
                r.map_err(|_| "no answer")
            );
        }
        after_probe(
            &mut wf,
            &base,
            &format!("parse_query etc. {name}"),
            "answered",
        );
    }

    // `@` out of Prometheus' bounds.
    let (status, body) = send(&base, "/api/v1/query", "up @ 1e308", false);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], "bad_data");
    let err = body["error"].as_str().expect("error");
    assert!(
        err.starts_with(
            "invalid parameter \"query\": 1:1: parse error: timestamp out of bounds for @ modifier: 1000000000000000010979"
        ),
        "{err}"
    );
    after_probe(
        &mut wf,
        &base,
        "up @ 1e308",
        "400 bad_data timestamp out of bounds for @ modifier",
    );
}

/// A rule whose annotation runs a too-deep `query`: the expansion fails with the
/// limit's message, the alert still fires.
#[test]
fn deep_template_query_is_refused_at_expansion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deep = nest("abs(", "vector(1)", 10_000);
    let rules = format!(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Deep\n        expr: vector(1)\n        annotations:\n          q: '{{{{ with query \"{deep}\" }}}}{{{{ . | first | value }}}}{{{{ end }}}}'\n"
    );
    std::fs::write(dir.path().join("rules.yml"), rules).expect("rules");
    let (mut wf, base) = start(
        dir.path(),
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    );
    let annotation = wait_for(Duration::from_secs(15), || {
        let (_, body) = get_json(&format!("{base}/api/v1/alerts"))?;
        let a = body["data"]["alerts"].as_array()?.first()?.clone();
        a["annotations"]["q"].as_str().map(str::to_string)
    })
    .expect("alert with its annotation");
    assert!(
        annotation.starts_with("<error expanding template: ") && annotation.contains(LIMIT),
        "{annotation}"
    );
    after_probe(
        &mut wf,
        &base,
        "template {{ query \"abs( x 10,000\" }}",
        "<error expanding template: ... expression nested too deeply (limit 512)>",
    );
}

/// `watchfire check rules`, the server's start and its reload give the same verdict on a
/// rule file with a too-deep expression, with the same file:line:column message.
#[test]
fn check_rules_start_and_reload_agree_on_a_too_deep_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n";
    let bad = format!(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: {}\n",
        chain("up", 5_000)
    );
    let bad_path = dir.path().join("bad.yml");
    std::fs::write(&bad_path, &bad).expect("bad rules");
    let out = Command::new(watchfire_bin())
        .args(["check", "rules"])
        .arg(&bad_path)
        .output()
        .expect("check rules");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    let want = format!("{}:5:15: ", bad_path.display());
    assert!(text.contains(&want), "{text}");
    assert!(text.contains(LIMIT), "{text}");

    // At start: refused with the same message, the process exits.
    std::fs::write(
        dir.path().join("watchfire.yml"),
        "global: {evaluation_interval: 1s}\nrule_files: [bad.yml]\n",
    )
    .expect("config");
    let port = free_port();
    let mut refused = spawn_watchfire(dir.path(), port, "start", &[]);
    let status = wait_for(Duration::from_secs(20), || {
        refused.child.try_wait().ok().flatten()
    })
    .expect("exits at start");
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("start.log")).unwrap_or_default();
    assert!(log.contains("bad.yml:5:15") && log.contains(LIMIT), "{log}");
    println!("PROBE | too-deep rule file at start | exits non-zero: {LIMIT} | -");

    // At reload: refused with the same message, the good rules stay, the process lives.
    let good_path = dir.path().join("rules.yml");
    std::fs::write(&good_path, good).expect("good rules");
    let (mut wf, base) = start(
        dir.path(),
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    );
    std::fs::write(&good_path, &bad).expect("break rules");
    let resp = http()
        .post(format!("{base}/-/reload"))
        .send()
        .expect("reload");
    let status = resp.status().as_u16();
    let body = resp.text().unwrap_or_default();
    assert_ne!(status, 200, "{body}");
    let log = std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap_or_default();
    assert!(
        (body.contains(LIMIT) || log.contains(LIMIT))
            && (body.contains("rules.yml:5:15") || log.contains("rules.yml:5:15")),
        "{body}\n{log}"
    );
    let (_, rules) = get_json(&format!("{base}/api/v1/rules")).expect("rules");
    assert!(rules.to_string().contains("vector(1)"), "{rules}");
    after_probe(
        &mut wf,
        &base,
        "too-deep rule file via /-/reload",
        &format!("{status}, reload failed: {LIMIT}; old rules kept"),
    );
}
