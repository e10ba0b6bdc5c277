use super::*;
use crate::config::PromDuration;
use crate::remote::proto::WriteRequest;
use crate::store::Store;
use prost::Message;
use std::sync::atomic::AtomicU16;

struct Sink {
    url: String,
    got: Arc<Mutex<Vec<WriteRequest>>>,
    status: Arc<AtomicU16>,
}

async fn sink() -> Sink {
    let got: Arc<Mutex<Vec<WriteRequest>>> = Arc::default();
    let status = Arc::new(AtomicU16::new(204));
    let (g, st) = (got.clone(), status.clone());
    let app = axum::Router::new().route(
        "/write",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (g, st) = (g.clone(), st.clone());
                async move {
                    assert_eq!(headers["content-encoding"], "snappy");
                    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
                    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                    g.lock().push(WriteRequest::decode(raw.as_slice()).unwrap());
                    axum::http::StatusCode::from_u16(st.load(Ordering::SeqCst)).unwrap()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Sink {
        url: format!("http://{addr}/write"),
        got,
        status,
    }
}

fn factory() -> ClientFactory {
    Arc::new(|_: &str, _: &crate::config::TlsConfig| {
        reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())
    })
}

fn config(url: &str, yaml_extra: &str) -> RemoteWriteConfig {
    let text = format!("remote_write:\n- url: {url}\n  name: t\n{yaml_extra}");
    crate::config::parse(&text, "c.yml").unwrap().remote_write[0].clone()
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(15), "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_close_when_full_or_at_the_deadline_with_labels_applied_and_order_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink().await;
    let mut registry = Registry::default();
    let w = RemoteWriter::new(dir.path(), 1 << 30, factory(), &mut registry).unwrap();
    let mut cfg = config(
        &s.url,
        "  write_relabel_configs: [{source_labels: [__name__], regex: dropped, action: drop}]\n  \
         queue_config: {max_samples_per_send: 4, batch_send_deadline: 300ms, max_shards: 1}\n",
    );
    cfg.queue_config.batch_send_deadline = PromDuration::from_millis(300);
    let external = Labels::from_pairs([("region", "eu"), ("job", "ignored")]);
    w.apply(std::slice::from_ref(&cfg), &external).unwrap();
    let store = Store::default();
    assert!(store.set_tap(w.tap()));
    let (a, _) = store.get_or_create(Labels::from_pairs([("__name__", "up"), ("job", "a")]));
    let (d, _) = store.get_or_create(Labels::from_pairs([("__name__", "dropped")]));
    for t in 1..=6 {
        store.append(&a, t * 1000, t as f64).unwrap();
        store.append(&d, t * 1000, 0.0).unwrap();
    }
    // A refused append (out of order) is not sent.
    assert!(store.append(&a, 1, 0.0).is_err());
    wait_until(|| s.got.lock().len() >= 2).await;
    let got = s.got.lock().clone();
    let samples: Vec<(i64, f64)> = got
        .iter()
        .flat_map(|r| r.timeseries.iter())
        .flat_map(|ts| ts.samples.iter().map(|s| (s.timestamp, s.value)))
        .collect();
    assert_eq!(
        samples,
        (1..=6).map(|t| (t * 1000, t as f64)).collect::<Vec<_>>()
    );
    assert_eq!(
        got[0].timeseries[0].samples.len(),
        4,
        "the first batch is full"
    );
    let labels: Vec<(String, String)> = got[0].timeseries[0]
        .labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    let want = [("__name__", "up"), ("job", "a"), ("region", "eu")];
    assert_eq!(
        labels,
        want.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec(),
        "external labels fill in only what the series lacks"
    );
    let text = {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    };
    assert!(
        text.contains(r#"prometheus_remote_storage_samples_dropped_total{remote_name="t",url=""#)
            && text.contains(r#"reason="dropped_series"} 6"#),
        "{text}"
    );
    assert!(
        text.contains("prometheus_remote_storage_samples_total{remote_name=\"t\""),
        "{text}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_a_400_is_dropped_and_unsent_batches_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink().await;
    s.status.store(500, Ordering::SeqCst);
    let cfg = config(
        &s.url,
        "  queue_config: {max_samples_per_send: 2, batch_send_deadline: 100ms, max_shards: 1, \
         min_backoff: 10ms, max_backoff: 50ms}\n",
    );
    let store = Store::default();
    let (a, _) = store.get_or_create(Labels::from_pairs([("__name__", "x")]));
    {
        let mut registry = Registry::default();
        let w = RemoteWriter::new(dir.path(), 1 << 30, factory(), &mut registry).unwrap();
        w.apply(std::slice::from_ref(&cfg), &Labels::empty())
            .unwrap();
        let tap = w.tap();
        for t in 1..=4 {
            store.append(&a, t, 1.0).unwrap();
            tap.appended(&a, t, 1.0);
        }
        wait_until(|| s.got.lock().len() >= 3).await;
        // Retries resend the first batch only: per-series order.
        assert!(s
            .got
            .lock()
            .iter()
            .all(|r| r.timeseries[0].samples[0].timestamp == 1));
        w.shutdown().await;
    }
    // A restart sends the backlog once the receiver is back.
    s.status.store(204, Ordering::SeqCst);
    s.got.lock().clear();
    let mut registry = Registry::default();
    let w = RemoteWriter::new(dir.path(), 1 << 30, factory(), &mut registry).unwrap();
    w.apply(std::slice::from_ref(&cfg), &Labels::empty())
        .unwrap();
    wait_until(|| s.got.lock().len() >= 2).await;
    let ts: Vec<i64> = s
        .got
        .lock()
        .iter()
        .flat_map(|r| r.timeseries[0].samples.iter().map(|s| s.timestamp))
        .collect();
    assert_eq!(ts, [1, 2, 3, 4]);
    // A 400 is dropped at once, never retried.
    s.status.store(400, Ordering::SeqCst);
    s.got.lock().clear();
    let tap = w.tap();
    for t in 5..=6 {
        tap.appended(&a, t, 1.0);
    }
    wait_until(|| !s.got.lock().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.got.lock().len(), 1, "a 400 is not retried");
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(r#"prometheus_remote_storage_samples_failed_total{remote_name="t",url=""#),
        "{text}"
    );
    assert!(text.contains("\"} 2\n"), "{text}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_staging_stripe_spills_in_order_without_losing_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink().await;
    let mut registry = Registry::default();
    let w = RemoteWriter::new(dir.path(), 1 << 30, factory(), &mut registry).unwrap();
    let cfg = config(&s.url, "  queue_config: {batch_send_deadline: 200ms}\n");
    w.apply(std::slice::from_ref(&cfg), &Labels::empty())
        .unwrap();
    let store = Store::default();
    store.set_tap(w.tap());
    let (a, _) = store.get_or_create(Labels::from_pairs([("__name__", "x")]));
    // Far more than one stripe holds, faster than the router's tick: the appending thread
    // routes the stripe itself.
    let n = 3 * STRIPE_CAPACITY as i64;
    for t in 1..=n {
        store.append(&a, t, t as f64).unwrap();
    }
    let count = || -> usize {
        s.got
            .lock()
            .iter()
            .flat_map(|r| r.timeseries.iter())
            .map(|ts| ts.samples.len())
            .sum()
    };
    wait_until(|| count() == n as usize).await;
    let ts: Vec<i64> = s
        .got
        .lock()
        .iter()
        .flat_map(|r| r.timeseries.iter())
        .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
        .collect();
    assert_eq!(ts, (1..=n).collect::<Vec<_>>());
    w.shutdown().await;
}

#[test]
fn queue_directories_and_shard_counts() {
    let mut cfg = config("http://x/w", "");
    assert_eq!(dir_name(&cfg), "t");
    assert_eq!(
        shard_count(&cfg),
        4,
        "min(max_shards 50, max(min_shards 1, 4))"
    );
    cfg.queue_config.max_shards = 2;
    assert_eq!(shard_count(&cfg), 2);
    cfg.queue_config.max_shards = 10;
    cfg.queue_config.min_shards = 8;
    assert_eq!(shard_count(&cfg), 8);
    for unsafe_name in ["..", "a/b", "x y", ""] {
        cfg.name = unsafe_name.to_owned();
        let d = dir_name(&cfg);
        assert!(d.starts_with("q-") && !d.contains('/'), "{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_queue_continues_from_its_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink().await;
    s.status.store(503, Ordering::SeqCst);
    let mut registry = Registry::default();
    let w = RemoteWriter::new(dir.path(), 1 << 30, factory(), &mut registry).unwrap();
    let cfg = config(
        &s.url,
        "  queue_config: {batch_send_deadline: 100ms, max_shards: 1, min_backoff: 10ms, \
         max_backoff: 20ms}\n",
    );
    w.apply(std::slice::from_ref(&cfg), &Labels::empty())
        .unwrap();
    let store = Store::default();
    store.set_tap(w.tap());
    let (a, _) = store.get_or_create(Labels::from_pairs([("__name__", "x")]));
    for t in 1..=5 {
        store.append(&a, t, 1.0).unwrap();
    }
    wait_until(|| !s.got.lock().is_empty()).await;
    // Same queue name, another setting: the new queue sends what the old one could not.
    let mut changed = cfg.clone();
    changed.remote_timeout = PromDuration::from_secs(7);
    s.status.store(204, Ordering::SeqCst);
    s.got.lock().clear();
    w.apply(std::slice::from_ref(&changed), &Labels::empty())
        .unwrap();
    for t in 6..=7 {
        store.append(&a, t, 1.0).unwrap();
    }
    let sent = || -> Vec<i64> {
        let mut ts: Vec<i64> = s
            .got
            .lock()
            .iter()
            .flat_map(|r| r.timeseries.iter())
            .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
            .collect();
        // A batch in flight at the change may arrive twice (at least once).
        ts.sort_unstable();
        ts.dedup();
        ts
    };
    wait_until(|| sent().last() == Some(&7)).await;
    assert_eq!(sent(), (1..=7).collect::<Vec<_>>());
    w.shutdown().await;
}
