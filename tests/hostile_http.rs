//! End to end: hostile HTTP clients and silence floods against the real binary (issue 10,
//! items 5 and 6, and the `%ff` and gzip items). Real TCP sockets and HTTP clients on
//! 127.0.0.1; after each probe the process must be alive, `/-/healthy` must answer within 1 s
//! and the bound must hold. Each probe prints one line
//! `PROBE | <probe> | <answer> | peak RSS MiB` (run with `--nocapture` to see them).

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const CONFIG: &str = "global: {scrape_interval: 1s, evaluation_interval: 1s}\n";

/// Starts watchfire on an empty configuration with `flags`, waits until it is ready.
fn start(dir: &Path, name: &str, flags: &[&str]) -> (Proc, String, u16) {
    std::fs::write(dir.join("watchfire.yml"), CONFIG).expect("config");
    let port = free_port();
    let proc = spawn_watchfire(dir, port, name, flags);
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(60), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    assert!(ready.is_some(), "watchfire not ready:\n{}", log(dir, name));
    (proc, base, port)
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// A value from /proc/<pid>/status in MiB (`VmHWM` is the peak RSS).
fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// How many sockets the process holds open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// Asserts the process is alive and `/-/healthy` answers 200 within 1 s; returns the time taken.
fn assert_healthy(proc: &mut Proc, base: &str) -> Duration {
    assert!(
        proc.child.try_wait().expect("try_wait").is_none(),
        "watchfire exited"
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let status = client
        .get(format!("{base}/-/healthy"))
        .send()
        .map(|r| r.status().as_u16());
    let took = started.elapsed();
    assert_eq!(status.ok(), Some(200), "/-/healthy within 1 s");
    took
}

fn probe(proc: &Proc, name: &str, answer: &str) {
    let peak = status_mib(proc.child.id(), "VmHWM:");
    println!("PROBE | {name} | {answer} | {peak:.1}");
}

/// Opens `n` connections, sending `first` on each (nothing when empty); those refused or not
/// accepted within 5 s are counted, not kept.
fn open_connections(addr: SocketAddr, n: usize, first: &[u8]) -> (Vec<TcpStream>, usize) {
    let mut open = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(mut s) => {
                if !first.is_empty() && s.write_all(first).is_err() {
                    failed += 1;
                    continue;
                }
                open.push(s);
            }
            Err(_) => failed += 1,
        }
    }
    (open, failed)
}

/// How many of `conns` the server has closed (a read gives EOF or an error), without waiting.
fn closed_by_server(conns: &[TcpStream]) -> usize {
    let mut buf = [0u8; 1024];
    conns
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).expect("nonblocking");
            let mut reader: &TcpStream = s;
            let closed = loop {
                match reader.read(&mut buf) {
                    Ok(0) => break true,
                    // A 408 or similar before the close: keep reading.
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                    Err(_) => break true,
                }
            };
            s.set_nonblocking(false).expect("blocking");
            closed
        })
        .count()
}

/// Issue 10: 2,000 idle connections, then 2,000 that send their headers a byte at a time.
#[test]
fn idle_and_slow_header_connections_are_bounded_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    // Default --web.max-connections (512); a short read timeout so the test sees it expire.
    let (mut wf, base, port) = start(dir.path(), "watchfire", &["--web.read-timeout", "3s"]);
    let pid = wf.child.id();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let base_sockets = sockets(pid);

    for (probe_name, first) in [
        ("2000 idle connections", &b""[..]),
        (
            "2000 slow-header connections",
            &b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: "[..],
        ),
    ] {
        let started = Instant::now();
        let (mut conns, failed) = open_connections(addr, 2000, first);
        let opened_in = started.elapsed();
        let held = sockets(pid).saturating_sub(base_sockets);
        // While the flood is open the server holds at most 512 of them (plus the one it is
        // about to serve), and a health check still gets through.
        assert!(held <= 513, "{probe_name}: server holds {held} sockets");
        let during = assert_healthy(&mut wf, &base);
        // Slow headers: keep dripping a byte per connection every 500 ms past the timeout.
        let drip_until = started + Duration::from_secs(5);
        while !first.is_empty() && Instant::now() < drip_until {
            for c in &mut conns {
                let _ = c.write_all(b"a");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        // After the read timeout (3 s) every connection the server kept is closed.
        let all_closed = wait_for(Duration::from_secs(20), || {
            (closed_by_server(&conns) == conns.len()).then_some(())
        });
        let closed_after = started.elapsed();
        assert!(
            all_closed.is_some(),
            "{probe_name}: {} of {} connections still open",
            conns.len() - closed_by_server(&conns),
            conns.len()
        );
        let left = sockets(pid).saturating_sub(base_sockets);
        assert!(left <= 2, "{probe_name}: {left} sockets left open");
        let after = assert_healthy(&mut wf, &base);
        probe(
            &wf,
            probe_name,
            &format!(
                "opened in {:.1} s, server held {held} sockets (limit 512, {failed} connects \
                 failed); healthy in {} ms during; all closed {:.1} s after the first (read \
                 timeout 3 s); healthy in {} ms after",
                opened_in.as_secs_f64(),
                during.as_millis(),
                closed_after.as_secs_f64(),
                after.as_millis()
            ),
        );
        drop(conns);
    }
}

fn silence_body(matcher_value: &str, comment: &str) -> Value {
    json!({
        "matchers": [{"name": "alertname", "value": matcher_value, "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "probe",
        "comment": comment,
    })
}

/// Creates `n` silences from 4 client threads; returns how many were refused.
fn create_silences(base: &str, n: usize) -> usize {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let base = base.to_owned();
            std::thread::spawn(move || {
                let client = http();
                let mut refused = 0;
                for i in (t..n).step_by(4) {
                    let status = client
                        .post(format!("{base}/api/v2/silences"))
                        .json(&silence_body(&format!("Probe{i}"), "flood"))
                        .send()
                        .map(|r| r.status().as_u16());
                    if status.ok() != Some(200) {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

fn silence_count(base: &str) -> usize {
    let (status, body) = get_json(&format!("{base}/api/v2/silences")).expect("list silences");
    assert_eq!(status, 200);
    body.as_array().map_or(0, Vec::len)
}

/// Issue 10: 10k silences through the API hit Alertmanager's cap; a reload does not re-read
/// them; a restart loads them quickly; an oversized silence is refused.
#[test]
fn silences_are_capped_and_reload_and_restart_stay_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wf, base, _) = start(dir.path(), "watchfire", &[]);
    let started = Instant::now();
    let refused = create_silences(&base, 10_000);
    let created_in = started.elapsed();
    assert_eq!(refused, 0, "the first 10,000 silences are accepted");
    let client = http();
    let over = client
        .post(format!("{base}/api/v2/silences"))
        .json(&silence_body("OneTooMany", "x"))
        .send()
        .unwrap();
    assert_eq!(over.status().as_u16(), 400);
    let message: Value = over.json().unwrap();
    assert_eq!(
        message,
        json!("exceeded maximum number of silences: 10000 (limit: 10000)")
    );
    assert_eq!(silence_count(&base), 10_000);
    let during = assert_healthy(&mut wf, &base);
    probe(
        &wf,
        "10k silences via the API, then one more",
        &format!(
            "10,000 created in {:.1} s; the 10,001st: 400 {message}; healthy in {} ms",
            created_in.as_secs_f64(),
            during.as_millis()
        ),
    );

    // Oversized: a 20 KiB comment against the 16 KiB default.
    let big = client
        .post(format!("{base}/api/v2/silences"))
        .json(&silence_body("Big", &"x".repeat(20 << 10)))
        .send()
        .unwrap();
    assert_eq!(big.status().as_u16(), 400);
    let message: Value = big.json().unwrap();
    let text = message.as_str().unwrap_or_default().to_owned();
    assert!(
        text.starts_with("silence exceeded maximum size: ")
            && text.ends_with("(limit: 16384 bytes)"),
        "{message}"
    );
    assert_healthy(&mut wf, &base);
    probe(&wf, "a 20 KiB silence", &format!("400 {message}"));

    // Reload with 10k silences: they are not read again.
    let started = Instant::now();
    let reload = client.post(format!("{base}/-/reload")).send().unwrap();
    let reload_took = started.elapsed();
    assert_eq!(reload.status().as_u16(), 200);
    assert_eq!(silence_count(&base), 10_000);
    assert_healthy(&mut wf, &base);
    probe(
        &wf,
        "reload with 10k silences",
        &format!("200 in {} ms", reload_took.as_millis()),
    );

    // Restart: every silence comes back.
    assert!(wf.terminate(Duration::from_secs(20)).is_some(), "stopped");
    let started = Instant::now();
    // A fresh port: the old one may have been taken by another test meanwhile.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire2", &[]);
    let ready = wait_for(Duration::from_secs(60), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    let restart_took = started.elapsed();
    assert!(ready.is_some(), "{}", log(dir.path(), "watchfire2"));
    assert_eq!(silence_count(&base), 10_000);
    let cpu = cpu_seconds(wf.child.id());
    assert_healthy(&mut wf, &base);
    probe(
        &wf,
        "restart with 10k silences",
        &format!(
            "ready in {:.2} s (debug build), {cpu:.2} s CPU, 10,000 silences restored",
            restart_took.as_secs_f64()
        ),
    );
}

/// User plus system CPU time of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// Issue 10: expired silences are purged once their retention (`--data.retention`) passes.
#[test]
fn expired_silences_are_purged_after_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wf, base, _) = start(dir.path(), "watchfire", &["--data.retention", "2s"]);
    let client = http();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r: Value = client
            .post(format!("{base}/api/v2/silences"))
            .json(&silence_body(&format!("Purge{i}"), "x"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        ids.push(r["silenceID"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        let r = client
            .delete(format!("{base}/api/v2/silence/{id}"))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_eq!(
        silence_count(&base),
        3,
        "expired ones are listed until purged"
    );
    let started = Instant::now();
    let purged = wait_for(Duration::from_secs(10), || {
        (silence_count(&base) == 1).then_some(())
    });
    assert!(purged.is_some(), "expired silences still listed");
    let took = started.elapsed();
    let (status, _) = get_json(&format!("{base}/api/v2/silence/{}", ids[0])).unwrap();
    assert_eq!(status, 404);
    assert_healthy(&mut wf, &base);
    // Gone from the database too: a restart with the default retention does not bring them back.
    assert!(wf.terminate(Duration::from_secs(20)).is_some());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire2", &[]);
    assert!(wait_for(Duration::from_secs(60), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    })
    .is_some());
    assert_eq!(silence_count(&base), 1);
    assert_healthy(&mut wf, &base);
    probe(
        &wf,
        "expired silences, --data.retention 2s",
        &format!(
            "purged {:.1} s after expiry, in memory and in the state database",
            took.as_secs_f64()
        ),
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Issue 10: every API failure is JSON (`/api/v1/label/%ff/values` included); gzip request
/// bodies are decoded, a gzip bomb gets 413, other encodings 415.
#[test]
fn api_errors_are_json_and_gzip_bodies_are_decoded_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wf, base, _) = start(dir.path(), "watchfire", &[]);
    let client = http();
    let expect_json = |resp: reqwest::blocking::Response, status: u16, error_type: &str| {
        assert_eq!(resp.status().as_u16(), status);
        let body: Value = resp.json().expect("a JSON body");
        assert_eq!(body["status"], "error", "{body}");
        assert_eq!(body["errorType"], error_type, "{body}");
        body["error"].as_str().unwrap_or_default().to_owned()
    };

    let e = expect_json(
        client
            .get(format!("{base}/api/v1/label/%ff/values"))
            .send()
            .unwrap(),
        400,
        "bad_data",
    );
    probe(
        &wf,
        "GET /api/v1/label/%ff/values",
        &format!("400 bad_data {e:?}"),
    );
    let e = expect_json(
        client.get(format!("{base}/api/v1/nope")).send().unwrap(),
        404,
        "not_found",
    );
    probe(&wf, "GET /api/v1/nope", &format!("404 not_found {e:?}"));
    let e = expect_json(
        client
            .delete(format!("{base}/api/v1/query"))
            .send()
            .unwrap(),
        405,
        "bad_data",
    );
    probe(&wf, "DELETE /api/v1/query", &format!("405 bad_data {e:?}"));

    // A gzip-encoded form query is decoded.
    let resp = client
        .post(format!("{base}/api/v1/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Content-Encoding", "gzip")
        .body(gzip(b"query=1%2B1"))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["data"]["result"][1], "2", "{body}");
    // And a gzip-encoded silence.
    let resp = client
        .post(format!("{base}/api/v2/silences"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(silence_body("Gz", "x").to_string().as_bytes()))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    probe(
        &wf,
        "gzip-encoded query and silence bodies",
        "decoded: 200, 1+1 = 2, silence created",
    );

    // A gzip bomb: 128 MiB of zeros in about 128 KiB.
    let rss_before = status_mib(wf.child.id(), "VmRSS:");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..128 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let bomb_len = bomb.len();
    let resp = client
        .post(format!("{base}/api/v1/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .unwrap();
    let e = expect_json(resp, 413, "bad_data");
    let rss_after = status_mib(wf.child.id(), "VmRSS:");
    assert!(
        rss_after - rss_before < 64.0,
        "RSS grew from {rss_before:.1} to {rss_after:.1} MiB"
    );
    assert_healthy(&mut wf, &base);
    probe(
        &wf,
        &format!("gzip bomb (128 MiB of zeros in {} KiB)", bomb_len >> 10),
        &format!("413 bad_data {e:?}; RSS {rss_before:.1} → {rss_after:.1} MiB"),
    );

    let e = expect_json(
        client
            .post(format!("{base}/api/v1/query"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Content-Encoding", "br")
            .body("query=1")
            .send()
            .unwrap(),
        415,
        "bad_data",
    );
    probe(&wf, "Content-Encoding: br", &format!("415 bad_data {e:?}"));

    let e = expect_json(
        client
            .post(format!("{base}/api/v1/query"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 2 << 20])
            .send()
            .unwrap(),
        413,
        "bad_data",
    );
    assert_healthy(&mut wf, &base);
    probe(&wf, "2 MiB form body", &format!("413 bad_data {e:?}"));

    // Under /api/v2/ errors take Alertmanager's shape, a JSON string.
    let resp = client.get(format!("{base}/api/v2/nope")).send().unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().unwrap();
    assert_eq!(body, json!("no API endpoint /api/v2/nope"));
    assert_healthy(&mut wf, &base);
}
