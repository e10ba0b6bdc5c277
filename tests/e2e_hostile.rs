//! End to end: hostile scrape targets (issue 6, item 6). Real HTTP servers on
//! 127.0.0.1 inside the test, written on raw TCP so they can misbehave in
//! ways a framework would not: an endless body, a one-byte-per-100-ms drip,
//! a million series, a 1 MB label value, and targets that accept and never
//! answer. `tests/e2e_scrape.rs` covers garbage, a plain hang, a large
//! finite body and error statuses; this file covers what those do not.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a test server answers every request.
#[derive(Clone)]
enum Answer {
    /// 200 with this body (`Content-Length` set).
    Body(Arc<Vec<u8>>),
    /// 200, chunked, this chunk forever, pausing between chunks.
    Endless(Arc<Vec<u8>>, Duration),
    /// 200 without a length, one byte every 100 ms, forever.
    Drip,
    /// Reads the request and never answers (until the client leaves).
    Hang,
}

/// Reads one request head; false when the client went away first.
async fn read_head(sock: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut b).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
        if buf.len() > 64 << 10 {
            return false;
        }
    }
    true
}

async fn answer(mut sock: TcpStream, a: Answer) {
    if !read_head(&mut sock).await {
        return;
    }
    let head = |extra: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n{extra}\r\n")
    };
    match a {
        Answer::Body(body) => {
            let h = head(&format!("Content-Length: {}\r\n", body.len()));
            let _ = sock.write_all(h.as_bytes()).await;
            let _ = sock.write_all(&body).await;
        }
        Answer::Endless(chunk, pause) => {
            if sock
                .write_all(head("Transfer-Encoding: chunked\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
            let size = format!("{:x}\r\n", chunk.len());
            loop {
                let ok = sock.write_all(size.as_bytes()).await.is_ok()
                    && sock.write_all(&chunk).await.is_ok()
                    && sock.write_all(b"\r\n").await.is_ok();
                if !ok {
                    return;
                }
                tokio::time::sleep(pause).await;
            }
        }
        Answer::Drip => {
            if sock.write_all(head("").as_bytes()).await.is_err() {
                return;
            }
            for b in b"drip_metric 1\n".iter().cycle() {
                if sock.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Answer::Hang => {
            // Hold the connection until the scraper gives up and closes it.
            let mut b = [0u8; 64];
            while matches!(sock.read(&mut b).await, Ok(n) if n > 0) {}
        }
    }
}

/// Starts one listener per answer on a thread of its own; returns the
/// `host:port` of each, in order. The servers live as long as the test.
fn serve(answers: Vec<Answer>) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = answers
        .iter()
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.set_nonblocking(true).expect("nonblocking");
            l
        })
        .collect();
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (l, a) in listeners.into_iter().zip(answers) {
                let l = TcpListener::from_std(l).expect("listener");
                tasks.push(tokio::spawn(async move {
                    while let Ok((sock, _)) = l.accept().await {
                        tokio::spawn(answer(sock, a.clone()));
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
    });
    addrs
}

/// `lastError` of every target by `job/instance`, or `None` for a target
/// not scraped yet.
fn last_errors(base: &str) -> BTreeMap<String, Option<String>> {
    let Some((_, t)) = get_json(&format!("{base}/api/v1/targets")) else {
        return BTreeMap::new();
    };
    t["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let key = format!(
                "{}/{}",
                t["scrapePool"].as_str().unwrap_or(""),
                t["labels"]["instance"].as_str().unwrap_or("")
            );
            let scraped = t["health"].as_str().is_some_and(|h| h != "unknown");
            let err = t["lastError"].as_str().unwrap_or("").to_string();
            (key, scraped.then_some(err))
        })
        .collect()
}

fn start_watchfire(dir: &Path, config: &str) -> (Proc, String) {
    std::fs::write(dir.join("watchfire.yml"), config).expect("config");
    let port = free_port();
    let mut c = Command::new(watchfire_bin());
    c.args(["run", "--config"])
        .arg(dir.join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage.path")
        .arg(dir.join("data"));
    let proc = Proc::spawn("watchfire", c, dir);
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    if ready.is_none() {
        panic!("watchfire not ready:\n{}", log(dir));
    }
    (proc, base)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("watchfire.log")).unwrap_or_default()
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn job(name: &str, addr: &str, extra: &str) -> String {
    format!("  - job_name: {name}\n{extra}    static_configs: [{{targets: ['{addr}']}}]\n")
}

#[test]
fn hostile_bodies_fail_with_clear_reasons_and_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines: String = (0..4096)
        .map(|i| format!("endless_metric{{i=\"{i}\"}} 1\n"))
        .collect();
    let chunk = Arc::new(lines.into_bytes());
    let mut many = Vec::with_capacity(40 << 20);
    for i in 0..1_000_000 {
        many.extend_from_slice(format!("many_series_total{{i=\"{i}\"}} {i}\n").as_bytes());
    }
    let big_value = "v".repeat(1 << 20);
    let big = format!("big_label_metric{{big=\"{big_value}\"}} 42\nsmall_metric 1\n");
    let addrs = serve(vec![
        Answer::Endless(chunk.clone(), Duration::ZERO),
        Answer::Endless(chunk, Duration::from_millis(20)),
        Answer::Drip,
        Answer::Body(Arc::new(many)),
        Answer::Body(Arc::new(big.into_bytes())),
    ]);
    let mut config =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n");
    config.push_str(&job(
        "endless_limited",
        &addrs[0],
        "    body_size_limit: 2MB\n",
    ));
    config.push_str(&job("endless_slow", &addrs[1], ""));
    config.push_str(&job("drip", &addrs[2], ""));
    config.push_str(&job("many", &addrs[3], "    sample_limit: 10000\n"));
    config.push_str(&job(
        "big_limited",
        &addrs[4],
        "    label_value_length_limit: 1000\n",
    ));
    config.push_str(&job("big", &addrs[4], ""));
    let (wf, base) = start_watchfire(dir.path(), &config);

    let jobs = [
        "endless_limited",
        "endless_slow",
        "drip",
        "many",
        "big_limited",
        "big",
    ];
    let errors = wait_for(Duration::from_secs(20), || {
        let errs = last_errors(&base);
        let by_job = |j: &str| errs.iter().find(|(k, _)| k.starts_with(&format!("{j}/")));
        jobs.iter()
            .all(|j| by_job(j).is_some_and(|(_, e)| e.is_some()))
            .then(|| {
                jobs.iter()
                    .map(|j| {
                        (
                            j.to_string(),
                            by_job(j).and_then(|(_, e)| e.clone()).unwrap_or_default(),
                        )
                    })
                    .collect::<BTreeMap<_, _>>()
            })
    })
    .unwrap_or_else(|| panic!("not every target was scraped:\n{}", log(dir.path())));
    let want = [
        ("endless_limited", "body size limit exceeded"),
        ("endless_slow", "deadline exceeded"),
        ("drip", "deadline exceeded"),
        ("many", "sample limit exceeded"),
        ("big_limited", "label value length limit exceeded"),
    ];
    for (j, reason) in want {
        assert!(errors[j].contains(reason), "{j}: {:?}", errors[j]);
    }
    assert_eq!(
        errors["big"], "",
        "without a limit the big label is accepted"
    );

    // A few more rounds of the same: memory stays bounded.
    std::thread::sleep(Duration::from_secs(3));
    let rss = rss_bytes(wf.child.id());
    assert!(rss < 400 << 20, "resident memory {} MB", rss >> 20);

    // Nothing of the rejected scrapes is visible: no samples, no series,
    // no label values; the synthetic series say what happened.
    for q in [
        "many_series_total",
        "endless_metric",
        "drip_metric",
        r#"{job="big_limited", __name__!~"up|scrape_.*"}"#,
    ] {
        let sel = format!("count({q})");
        assert!(
            query_vector(&base, &sel).is_empty(),
            "{sel}: {:?}",
            query_vector(&base, &sel)
        );
    }
    let (_, r) =
        get_json(&format!("{base}/api/v1/series?match[]=many_series_total")).expect("series");
    let n = r["data"].as_array().map(Vec::len);
    assert_eq!(n, Some(0), "series of a rejected scrape listed");
    let (_, r) = get_json(&format!("{base}/api/v1/label/i/values")).expect("values");
    let n = r["data"].as_array().map(Vec::len);
    assert_eq!(n, Some(0), "label values of a rejected scrape listed");
    for j in [
        "endless_limited",
        "endless_slow",
        "drip",
        "many",
        "big_limited",
    ] {
        assert_eq!(
            query_single(&base, &format!("up{{job=\"{j}\"}}")),
            Some(0.0),
            "{j}"
        );
    }

    // As in Prometheus, the rejected body is still counted.
    assert_eq!(
        query_single(&base, r#"scrape_samples_scraped{job="many"}"#),
        Some(1e6)
    );

    // Without a limit the 1 MB label value is stored and served whole.
    assert_eq!(query_single(&base, r#"up{job="big"}"#), Some(1.0));
    let r = query_vector(&base, r#"big_label_metric{job="big"}"#);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["metric"]["big"].as_str().map(str::len), Some(1 << 20));
    assert_eq!(r[0]["value"][1], "42");
    assert_eq!(query_single(&base, r#"small_metric{job="big"}"#), Some(1.0));
}

#[test]
fn hanging_targets_do_not_delay_healthy_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = Arc::new(b"# TYPE healthy_metric gauge\nhealthy_metric 1\n".to_vec());
    let mut answers = vec![Answer::Body(body); 100];
    answers.extend(vec![Answer::Hang; 100]);
    let addrs = serve(answers);
    let list = |a: &[String]| {
        a.iter()
            .map(|x| format!("'{x}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 1500ms\nscrape_configs:\n\
         \x20 - job_name: healthy\n    static_configs: [{{targets: [{}]}}]\n\
         \x20 - job_name: hung\n    static_configs: [{{targets: [{}]}}]\n",
        list(&addrs[..100]),
        list(&addrs[100..])
    );
    let (_wf, base) = start_watchfire(dir.path(), &config);
    let started = Instant::now();

    // Every healthy target is up within a couple of intervals.
    let up = wait_for(Duration::from_secs(6), || {
        query_single(&base, r#"count(up{job="healthy"} == 1)"#).filter(|n| *n == 100.0)
    });
    assert!(
        up.is_some(),
        "healthy targets up after {:?}: {:?}\n{}",
        started.elapsed(),
        query_single(&base, r#"count(up{job="healthy"} == 1)"#),
        log(dir.path())
    );
    let hung = wait_for(Duration::from_secs(8), || {
        query_single(&base, r#"count(up{job="hung"} == 0)"#).filter(|n| *n == 100.0)
    });
    assert!(hung.is_some(), "hung targets not all down");

    // Keep watching for two more intervals: healthy scrapes stay fast and on
    // schedule while the hung ones time out, and the API answers quickly.
    let until = Instant::now() + Duration::from_secs(4);
    let mut slowest_api = Duration::ZERO;
    while Instant::now() < until {
        let t = Instant::now();
        let n = query_single(&base, r#"count(up{job="healthy"} == 1)"#);
        slowest_api = slowest_api.max(t.elapsed());
        assert_eq!(n, Some(100.0));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        slowest_api < Duration::from_secs(1),
        "API answered in {slowest_api:?}"
    );
    let slowest = query_single(&base, r#"max(scrape_duration_seconds{job="healthy"})"#).unwrap();
    assert!(slowest < 0.5, "a healthy scrape took {slowest}s");
    // Every healthy target was scraped at least twice in the last 5 s.
    let least = query_single(
        &base,
        r#"min(count_over_time(scrape_duration_seconds{job="healthy"}[5s]))"#,
    )
    .unwrap();
    assert!(
        least >= 2.0,
        "a healthy target was scraped {least} times in 5s"
    );
    let errs = last_errors(&base);
    let hung_err = errs
        .iter()
        .find(|(k, _)| k.starts_with("hung/"))
        .and_then(|(_, e)| e.clone());
    assert!(
        hung_err.is_some_and(|e| e.contains("deadline exceeded")),
        "{errs:?}"
    );
}
