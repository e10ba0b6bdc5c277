//! Delay from the scrape that crosses a threshold to the alert's state
//! change, and on to the webhook notification, for a group evaluated on its
//! interval and for the same rule in a group with `evaluation: on_scrape`.
//! Runs in real time, through the same pieces `watchfire run` wires together:
//! scrape manager → buffer → rule manager → bridge → notifier → webhook.
//!
//! An HTTP target on 127.0.0.1 serves `temperature` that flips between 1 and
//! 100 every `--flip-ms`; watchfire's scrape manager scrapes it every
//! `--scrape-ms`, and two groups (interval `--interval-ms`) hold the rule
//! `temperature > 50`. For every flip, the delay is measured from the moment
//! the target answered the first scrape that saw the new value to the moment
//! the rule manager published the transition (firing or resolved), and to
//! the moment the webhook receiver (same server) got the notification
//! (route with `group_wait: 0s`, `group_interval: 1s`).
//!
//! ```text
//! cargo bench --bench alert_latency [-- --flips 12 --flip-ms 6300 --scrape-ms 1000 --interval-ms 5000]
//! ```

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use watchfire::model::Labels;
use watchfire::notify::bridge::{self, Bridge};
use watchfire::notify::{NotifierBuilder, NotifierHandle};
use watchfire::promql::Engine;
use watchfire::rules::alert::Transition;
use watchfire::rules::manager::{Manager, ManagerOptions, RuleSettings};
use watchfire::scrape::{targets_from_config, ScrapeManager};
use watchfire::store::{Store, StoreOptions};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The moments the target answered a scrape, with the value it served.
type Served = Arc<Mutex<Vec<(Instant, bool)>>>;

/// Notifications the webhook received: arrival, alert name, firing or not.
type Hooks = Arc<Mutex<Vec<(Instant, String, bool)>>>;

/// Serves `temperature` at `/metrics` (hot in odd flip periods) and records
/// each answer; records webhook notifications posted to any other path.
async fn target(
    listener: tokio::net::TcpListener,
    start: Instant,
    flip: Duration,
    log: Served,
    hooks: Hooks,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let (log, hooks) = (log.clone(), hooks.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            let mut got = Vec::new();
            let head_end = loop {
                if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            };
            let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
            if head.starts_with("get /metrics") {
                let hot = (start.elapsed().as_millis() / flip.as_millis()) % 2 == 1;
                let body = format!(
                    "# TYPE temperature gauge\ntemperature{{module=\"oven\"}} {}\n",
                    if hot { 100 } else { 1 }
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                log.lock().push((Instant::now(), hot));
                return;
            }
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while got.len() < head_end + len {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let arrived = Instant::now();
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&got[head_end..]) else {
                return;
            };
            let name = v["commonLabels"]["alertname"]
                .as_str()
                .unwrap_or("")
                .to_string();
            hooks.lock().push((arrived, name, v["status"] == "firing"));
        });
    }
}

/// Delays (ms) from the first scrape that served each new value to the
/// matching event (`at`, alert name, firing).
fn delays(served: &[(Instant, bool)], events: &[(Instant, String, bool)], rule: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for (at, _, firing) in events.iter().filter(|(_, r, _)| r == rule) {
        // The first scrape that served the new value, after the last one that
        // served the old value before this event.
        let before: Vec<&(Instant, bool)> = served.iter().filter(|(t, _)| t <= at).collect();
        let Some(last_old) = before.iter().rposition(|(_, hot)| hot != firing) else {
            continue;
        };
        let Some((crossed, _)) = before.get(last_old + 1) else {
            continue;
        };
        out.push(at.duration_since(*crossed).as_secs_f64() * 1000.0);
    }
    out
}

fn summary(name: &str, mut d: Vec<f64>) {
    if d.is_empty() {
        println!("{name:>10}: no transitions");
        return;
    }
    d.sort_by(f64::total_cmp);
    let pct = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:>10}: n={:<3} median {:>6.0} ms   p90 {:>6.0} ms   max {:>6.0} ms   min {:>6.0} ms",
        d.len(),
        pct(0.5),
        pct(0.9),
        d[d.len() - 1],
        d[0]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let flips = arg("--flips", 12);
    let flip = Duration::from_millis(arg("--flip-ms", 6300));
    let scrape_ms = arg("--scrape-ms", 1000);
    let interval_ms = arg("--interval-ms", 5000);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served: Served = Arc::default();
    let hooks: Hooks = Arc::default();
    let start = Instant::now();
    tokio::spawn(target(listener, start, flip, served.clone(), hooks.clone()));

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        format!(
            "groups:\n\
             - name: interval\n  interval: {interval_ms}ms\n  rules:\n  - alert: HotInterval\n    expr: temperature > 50\n\
             - name: on-scrape\n  interval: {interval_ms}ms\n  evaluation: on_scrape\n  rules:\n  - alert: HotOnScrape\n    expr: temperature > 50\n"
        ),
    )
    .unwrap();
    let cfg = watchfire::config::parse(
        &format!(
            "global: {{scrape_interval: {scrape_ms}ms, scrape_timeout: {scrape_ms}ms}}\n\
             scrape_configs:\n- job_name: oven\n  static_configs: [{{targets: ['{addr}']}}]\n\
             route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}\n\
             receivers:\n- name: hook\n  webhook_configs: [{{url: 'http://{addr}/hook'}}]\n"
        ),
        dir.path().join("watchfire.yml"),
    )
    .expect("config");

    let store = Arc::new(Store::new(StoreOptions {
        retention_ms: Some(15 * 60_000),
    }));
    let mut registry = prometheus_client::registry::Registry::default();
    let scrape = ScrapeManager::new(store.clone(), &mut registry);
    let manager = Manager::new(
        store.clone(),
        Arc::new(Engine::new(Default::default())),
        ManagerOptions::default(),
    );
    manager.set_scrape_feed(scrape.landed());
    manager
        .update(&[rules], RuleSettings::default())
        .await
        .expect("rules");
    let mut events = manager.subscribe();
    let notifier = Arc::new(NotifierHandle::new(
        NotifierBuilder::new(&cfg).start().expect("notifier"),
    ));
    tokio::spawn(bridge::run(
        Bridge::new(Labels::empty(), "http://127.0.0.1"),
        Vec::new(),
        manager.subscribe(),
        notifier.clone(),
        tokio_util::sync::CancellationToken::new(),
    ));
    scrape.apply(targets_from_config(&cfg).unwrap()).await;
    manager.start();

    let mut seen: Vec<(Instant, String, bool)> = Vec::new();
    let end = start + flip * (flips as u32 + 1);
    println!(
        "alert latency: {flips} flips every {flip:?}, scrape every {scrape_ms} ms, group interval {interval_ms} ms"
    );
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Ok(ev)) = tokio::time::timeout(left, events.recv()).await else {
            continue;
        };
        let firing = match ev.to {
            Transition::Firing => true,
            Transition::Resolved => false,
            _ => continue,
        };
        seen.push((Instant::now(), ev.rule.to_string(), firing));
    }
    manager.stop().await;
    scrape.stop().await;

    let served = served.lock().clone();
    let hooks = hooks.lock().clone();
    println!("scrape → alert state change:");
    summary("interval", delays(&served, &seen, "HotInterval"));
    summary("on_scrape", delays(&served, &seen, "HotOnScrape"));
    println!("scrape → webhook notification:");
    summary("interval", delays(&served, &hooks, "HotInterval"));
    summary("on_scrape", delays(&served, &hooks, "HotOnScrape"));
}
