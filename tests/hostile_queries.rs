//! End to end: hostile queries (issue 10, items 2 and 3) against the real binary with real TCP
//! clients. Slow and expensive queries run while another client checks that `/-/healthy`,
//! `/-/ready` and `/metrics` answer within 1 s; a client that disconnects mid-query stops the
//! work; the `label_replace` bomb gets a 422 with bounded memory; requests beyond
//! `--query.max-concurrency` wait and then get Prometheus' queue timeout.
//!
//! Each probe prints `PROBE | <probe> | <answer> | <peak RSS MiB>` (`--nocapture` shows them).
//! The probes share the machine's cores, so they run one at a time.

mod common;

use common::target::{Behaviour, TestTarget};
use common::*;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One probe at a time: each one loads both cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// A query that runs until its timeout: 200 additions over 600,000 subquery steps.
fn endless_query() -> String {
    let chain = vec!["vector(time())"; 200].join("+");
    format!("count_over_time(({chain})[10m:1ms])")
}

/// The issue's bomb: 26 nested `label_replace` doubling a 16-byte value up to 1 GiB.
fn label_bomb() -> String {
    let mut q = r#"label_replace(vector(1), "x", "0123456789abcdef", "", "")"#.to_string();
    for _ in 0..26 {
        q = format!(r#"label_replace({q}, "x", "$1$1", "x", "(.*)")"#);
    }
    q
}

struct Server {
    wf: Proc,
    base: String,
    _dir: tempfile::TempDir,
    _target: Option<TestTarget>,
}

impl Server {
    /// Starts watchfire with `flags`; with `series`, it scrapes a target exposing that many
    /// series every second and waits until they are all in the buffer.
    fn start(flags: &[&str], series: Option<usize>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = "global: {scrape_interval: 1s, evaluation_interval: 1s}\n".to_string();
        let target = series.map(|n| {
            let body: String = (0..n)
                .map(|i| format!("load{{i=\"{i}\",pad=\"xxxxxxxxxxxxxxxx\"}} {i}\n"))
                .collect();
            TestTarget::start(Behaviour::Text(body))
        });
        if let Some(t) = &target {
            config.push_str(&format!(
                "scrape_configs:\n  - job_name: load\n    static_configs: [{{targets: ['{}']}}]\n",
                t.addr
            ));
        }
        std::fs::write(dir.path().join("watchfire.yml"), config).expect("config");
        let port = free_port();
        let wf = spawn_watchfire(dir.path(), port, "watchfire", flags);
        let base = format!("http://127.0.0.1:{port}");
        assert!(
            wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(30)),
            "watchfire did not start"
        );
        if let Some(n) = series {
            let loaded = wait_for(Duration::from_secs(30), || {
                (query_single(&base, "count(load)")? as usize == n).then_some(())
            });
            assert!(loaded.is_some(), "the {n} series never arrived");
        }
        Server {
            wf,
            base,
            _dir: dir,
            _target: target,
        }
    }

    fn pid(&self) -> u32 {
        self.wf.child.id()
    }

    /// A `/proc/<pid>/status` field in MiB (`VmHWM`, `VmRSS`).
    fn mem_mib(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// CPU time used so far, in clock ticks (user + system, from `/proc/<pid>/stat`).
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let get = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        get(11) + get(12)
    }

    /// The value of an own metric (a series without labels).
    fn metric(&self, name: &str) -> Option<f64> {
        let (_, text) = get_text(&format!("{}/metrics", self.base))?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// After a probe: the process lives, `/-/healthy` answers within 1 s; prints the line.
    fn after_probe(&mut self, probe: &str, answer: &str) {
        assert!(
            self.wf.child.try_wait().expect("try_wait").is_none(),
            "watchfire died during {probe}"
        );
        let t = Instant::now();
        let healthy = client(Duration::from_secs(1))
            .get(format!("{}/-/healthy", self.base))
            .send()
            .map(|r| r.status().as_u16());
        assert_eq!(
            healthy.ok(),
            Some(200),
            "{probe}: /-/healthy did not answer"
        );
        assert!(t.elapsed() < Duration::from_secs(1));
        println!("PROBE | {probe} | {answer} | {:.0}", self.mem_mib("VmHWM"));
    }
}

fn client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("http client")
}

/// GET `path` with `params`; the status and the JSON body (Null when not JSON).
fn get(
    base: &str,
    path: &str,
    params: &[(&str, &str)],
    timeout: Duration,
) -> (u16, serde_json::Value) {
    let query: String = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let resp = client(timeout)
        .get(format!("{base}{path}?{query}"))
        .send()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(serde_json::Value::Null))
}

/// Polls `/-/healthy`, `/-/ready` and `/metrics` every 100 ms until stopped; the slowest
/// answer of each, or an error when one took 1 s or failed.
fn watch_health(
    base: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<[Duration; 3], String>> {
    std::thread::spawn(move || {
        let c = client(Duration::from_secs(1));
        let mut worst = [Duration::ZERO; 3];
        while !stop.load(Ordering::SeqCst) {
            for (i, path) in ["/-/healthy", "/-/ready", "/metrics"].iter().enumerate() {
                let t = Instant::now();
                match c.get(format!("{base}{path}")).send() {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes();
                    }
                    Ok(r) => return Err(format!("{path}: status {}", r.status())),
                    Err(e) => return Err(format!("{path}: {e} after {:?}", t.elapsed())),
                }
                worst[i] = worst[i].max(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(worst)
    })
}

/// A request of a probe: path, parameters, the answers that are fine.
type Job = (&'static str, Vec<(&'static str, String)>, &'static [u16]);

#[test]
fn slow_queries_never_delay_health_ready_or_metrics() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Server::start(&[], Some(5000));
    let now = chrono::Utc::now().timestamp();
    let (start, end) = ((now - 10_999).to_string(), now.to_string());
    let (recent, step) = ((now - 100).to_string(), "1".to_string());
    let chain = vec!["time()"; 500].join("+");
    let series_chain = format!("count({})", vec!["load"; 20].join(" + "));
    let nested = format!("{}1{}", "(".repeat(1200), ")".repeat(1200));
    let endless = endless_query();
    let jobs: Vec<Job> = vec![
        (
            "/api/v1/query",
            vec![("query", endless.clone()), ("timeout", "10s".into())],
            &[503],
        ),
        (
            "/api/v1/query",
            vec![("query", endless), ("timeout", "10s".into())],
            &[503],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", chain.clone()),
                ("start", start.clone()),
                ("end", end.clone()),
                ("step", step.clone()),
                ("timeout", "15s".into()),
            ],
            // 400 if a nesting limit refuses the 500-term chain.
            &[200, 400, 503],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", chain),
                ("start", start),
                ("end", end),
                ("step", step.clone()),
                ("timeout", "15s".into()),
            ],
            // 400 if a nesting limit refuses the 500-term chain.
            &[200, 400, 503],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", series_chain),
                ("start", recent),
                ("end", now.to_string()),
                ("step", step),
                ("timeout", "10s".into()),
            ],
            &[200, 503],
        ),
        // Accepted unless a nesting limit refuses it (400); formatting is never interrupted.
        ("/api/v1/format_query", vec![("query", nested)], &[200, 400]),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_health(s.base.clone(), stop.clone());
    let t = Instant::now();
    let clients: Vec<_> = jobs
        .into_iter()
        .map(|(path, params, ok)| {
            let base = s.base.clone();
            std::thread::spawn(move || {
                let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (status, body) = get(&base, path, &p, Duration::from_secs(60));
                assert!(ok.contains(&status), "{path}: {status} {body}");
                status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients
        .into_iter()
        .map(|c| c.join().expect("client"))
        .collect();
    let took = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let worst = watcher
        .join()
        .expect("watcher")
        .unwrap_or_else(|e| panic!("{e}"));
    for w in worst {
        assert!(w < Duration::from_secs(1), "{worst:?}");
    }
    s.after_probe(
        "6 concurrent slow queries (2 endless subqueries, 2 range chains of 500 terms × 11000 steps, 20-way join over 5000 series, format_query of 1200 nested parens)",
        &format!(
            "answers {statuses:?} after {:.1} s; slowest /-/healthy {} ms, /-/ready {} ms, /metrics {} ms",
            took.as_secs_f64(),
            worst[0].as_millis(),
            worst[1].as_millis(),
            worst[2].as_millis()
        ),
    );
}

#[test]
fn a_client_that_disconnects_stops_its_query() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Server::start(&[], None);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = std::net::TcpStream::connect(&addr).expect("connect");
    let request = format!(
        "GET /api/v1/query?query={} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        urlencode(&endless_query())
    );
    sock.write_all(request.as_bytes()).expect("send");
    let running = wait_for(Duration::from_secs(10), || {
        (s.metric("watchfire_engine_queries")? == 1.0).then_some(())
    });
    assert!(running.is_some(), "the query never started");
    let busy_from = s.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let busy = s.cpu_ticks() - busy_from;
    drop(sock);
    let t = Instant::now();
    let stopped = wait_for(Duration::from_secs(5), || {
        (s.metric("watchfire_engine_queries")? == 0.0).then(|| t.elapsed())
    })
    .expect("the query went on after its client left");
    assert_eq!(
        s.metric("watchfire_engine_queries_canceled_total"),
        Some(1.0)
    );
    let idle_from = s.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let idle = s.cpu_ticks() - idle_from;
    // The server has nothing else to do: at most a fifth of a core after the cancel.
    assert!(
        idle < 20,
        "{idle} ticks of CPU in the second after the cancel"
    );
    s.after_probe(
        "client disconnects from an endless query (default 2m timeout)",
        &format!(
            "query stopped {} ms after the disconnect; CPU {busy} ticks/s before, {idle} after",
            stopped.as_millis()
        ),
    );
}

#[test]
fn the_label_replace_bomb_is_refused_with_bounded_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Server::start(&[], None);
    let bomb = format!("count({})", label_bomb());
    let t = Instant::now();
    let (status, body) = get(
        &s.base,
        "/api/v1/query",
        &[("query", &bomb)],
        Duration::from_secs(300),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errorType"], "execution");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains("--query.max-bytes"), "{error}");
    let peak = s.mem_mib("VmHWM");
    // The default budget is 512 MiB; the largest value built is 128 MiB.
    assert!(peak < 400.0, "peak RSS {peak:.0} MiB");
    s.after_probe(
        &format!(
            "label_replace bomb: count() of 26 nested doublings to 1 GiB ({} B query)",
            bomb.len()
        ),
        &format!(
            "{status} execution after {:.1} s: {error}",
            t.elapsed().as_secs_f64()
        ),
    );
}

#[test]
fn queries_beyond_max_concurrency_wait_then_time_out_in_the_queue() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Server::start(&["--query.max-concurrency", "2"], None);
    assert_eq!(
        s.metric("watchfire_engine_queries_concurrent_max"),
        Some(2.0)
    );
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let base = s.base.clone();
            std::thread::spawn(move || {
                get(
                    &base,
                    "/api/v1/query",
                    &[("query", &endless_query()), ("timeout", "6s")],
                    Duration::from_secs(60),
                )
            })
        })
        .collect();
    let full = wait_for(Duration::from_secs(10), || {
        (s.metric("watchfire_engine_queries")? == 2.0).then_some(())
    });
    assert!(full.is_some(), "the two slow queries never ran together");
    // A third query with a short timeout waits in the queue, then gets Prometheus' answer.
    let t = Instant::now();
    let (status, body) = get(
        &s.base,
        "/api/v1/query",
        &[("query", "1+1"), ("timeout", "1s")],
        Duration::from_secs(30),
    );
    let refused_after = t.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["errorType"], "timeout");
    assert_eq!(body["error"], "query timed out in query queue");
    assert!(
        refused_after >= Duration::from_millis(900),
        "{refused_after:?}"
    );
    assert_eq!(
        s.metric("watchfire_engine_queries_queue_timeouts_total"),
        Some(1.0)
    );
    // Series walks share the slots.
    let (status, body) = get(
        &s.base,
        "/api/v1/series",
        &[("match[]", "up"), ("timeout", "500ms")],
        Duration::from_secs(30),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "query timed out in query queue");
    assert_eq!(
        s.metric("watchfire_engine_queries_queue_timeouts_total"),
        Some(2.0)
    );
    // A patient one (the default 2m timeout) waits and is served once a slot frees.
    let base = s.base.clone();
    let patient = std::thread::spawn(move || {
        let t = Instant::now();
        let r = get(
            &base,
            "/api/v1/query",
            &[("query", "1+1")],
            Duration::from_secs(60),
        );
        (r, t.elapsed())
    });
    let waiting = wait_for(Duration::from_secs(5), || {
        (s.metric("watchfire_engine_queries_waiting")? == 1.0).then_some(())
    });
    assert!(waiting.is_some(), "the patient query is not waiting");
    let ((status, body), waited) = patient.join().expect("patient");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["result"][1], "2");
    for b in busy {
        let (status, body) = b.join().expect("busy");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "query timed out in expression evaluation");
    }
    s.after_probe(
        "5 requests at --query.max-concurrency 2 (2 slow queries with timeout=6s, a query with timeout=1s, a series walk with timeout=500ms, a patient query)",
        &format!(
            "2 run; the timeout=1s query and the series walk: 503 timeout \"query timed out in query queue\" (the query after {} ms); patient one: 200 after {:.1} s",
            refused_after.as_millis(),
            waited.as_secs_f64()
        ),
    );
}

#[test]
fn a_full_query_pool_leaves_health_and_metrics_prompt() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Server::start(&[], None);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_health(s.base.clone(), stop.clone());
    // 25 endless queries against the default 20 slots: 20 run on 2 cores (timeout=6s), then 5
    // more (timeout=3s) wait.
    let spawn = |timeout: &'static str| {
        let base = s.base.clone();
        std::thread::spawn(move || {
            let q = endless_query();
            get(
                &base,
                "/api/v1/query",
                &[("query", &q), ("timeout", timeout)],
                Duration::from_secs(60),
            )
        })
    };
    let mut clients: Vec<_> = (0..20).map(|_| spawn("6s")).collect();
    let running = wait_for(Duration::from_secs(5), || {
        (s.metric("watchfire_engine_queries")? == 20.0).then_some(())
    });
    assert!(running.is_some(), "expected 20 running queries");
    clients.extend((0..5).map(|_| spawn("3s")));
    let waiting = wait_for(Duration::from_secs(2), || {
        (s.metric("watchfire_engine_queries_waiting")? == 5.0).then_some(())
    });
    assert!(waiting.is_some(), "expected 5 waiting queries");
    let mut errors = std::collections::BTreeMap::new();
    for c in clients {
        let (status, body) = c.join().expect("client");
        assert_eq!(status, 503, "{body}");
        let e = body["error"].as_str().unwrap_or_default().to_string();
        *errors.entry(e).or_insert(0) += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let worst = watcher
        .join()
        .expect("watcher")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        worst.iter().all(|w| *w < Duration::from_secs(1)),
        "{worst:?}"
    );
    assert_eq!(
        errors.get("query timed out in query queue"),
        Some(&5),
        "{errors:?}"
    );
    assert_eq!(
        errors.get("query timed out in expression evaluation"),
        Some(&20),
        "{errors:?}"
    );
    s.after_probe(
        "25 endless queries at the default --query.max-concurrency 20 (20 with timeout=6s, then 5 with timeout=3s)",
        &format!(
            "20 ran and timed out in evaluation, 5 timed out in the queue (503 timeout); slowest /-/healthy {} ms, /-/ready {} ms, /metrics {} ms",
            worst[0].as_millis(),
            worst[1].as_millis(),
            worst[2].as_millis()
        ),
    );
}
