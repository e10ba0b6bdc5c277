//! The remote-write sender (Prometheus' `remote_write:`): every sample the buffer accepts is
//! sent to each configured endpoint.
//!
//! Path of a sample:
//! 1. **Tap** ([`crate::store::AppendTap`]): [`crate::store::Store::append`] hands
//!    `(series, t, v)` to one of 16 bounded staging stripes (by series id, so a series keeps
//!    its order). Scrapes, recording rules, `ALERTS`/`ALERTS_FOR_STATE`, staleness markers and
//!    received remote writes all append through it; snapshot restore does not. When a stripe
//!    is full the appending thread routes it itself (the spill path): nothing is lost, and
//!    the cost falls only on an overloaded process.
//! 2. **Router** (one thread, every 50 ms): per queue, each series' outgoing labels are
//!    computed once and cached (`external_labels` added where missing, then
//!    `write_relabel_configs`; a dropped series counts `samples_dropped_total{reason=
//!    "dropped_series"}`), then the sample goes to the shard of its labels' hash. A shard's
//!    batch is closed at `max_samples_per_send` or after `batch_send_deadline`, encoded
//!    (Remote Write 1.0 or 2.0, snappy) and appended to the queue's durable backlog
//!    (`backlog.rs`, under `<storage.path>/remote_write/<queue>/`).
//! 3. **Senders** (a task per shard): post the shard's oldest batch; 2xx or a refusal for good
//!    (4xx but 429) deletes it, anything else is retried with doubling backoff from
//!    `min_backoff` to `max_backoff` plus jitter, or after the server's `Retry-After`. One
//!    batch per shard is in flight, so per-series order holds.
//!
//! The shard count is fixed: `min(max_shards, max(min_shards, 4))`; Prometheus' dynamic
//! resharding is not implemented. `capacity` is accepted (a shard holds at most one open
//! batch in memory; the rest waits on disk). Exemplars, native histograms and metadata are
//! not sent (the buffer holds none).
//!
//! **Bounds:** staging 16 × 8,192 samples; one open batch per shard; the backlog's bytes per
//! queue (`--storage.remote-write.max-bytes`, oldest segment dropped first, counted as
//! `samples_dropped_total{reason="backlog_full"}` and logged).

mod backlog;
mod encode;
mod send;

use crate::config::RemoteWriteConfig;
use crate::model::relabel::process_builder;
use crate::model::{Labels, LabelsBuilder};
use crate::store::{AppendTap, SeriesRef};
use backlog::Backlog;
use encode::Pending;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use send::{Endpoint, Outcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use send::USER_AGENT;

/// Default of `--storage.remote-write.max-bytes`: the backlog cap per queue.
pub const DEFAULT_MAX_BACKLOG_BYTES: u64 = 512 << 20;

const STRIPES: usize = 16;
const STRIPE_CAPACITY: usize = 8_192;
const TICK: Duration = Duration::from_millis(50);
/// How often cached series that left the buffer are forgotten.
const CACHE_PURGE: Duration = Duration::from_secs(60);

/// Builds the HTTP client of a queue from its name and TLS settings.
pub type ClientFactory =
    Arc<dyn Fn(&str, &crate::config::TlsConfig) -> Result<reqwest::Client, String> + Send + Sync>;

type L = Vec<(String, String)>;

fn batch_duration_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
    ])
}

/// The sender's metric families, with Prometheus' names and labels (`remote_name`, `url`).
#[derive(Clone)]
struct Metrics {
    samples: Family<L, Counter>,
    failed: Family<L, Counter>,
    retried: Family<L, Counter>,
    dropped: Family<L, Counter>,
    pending: Family<L, Gauge>,
    highest_sent: Family<L, Gauge<f64, AtomicU64>>,
    highest_in: Gauge<f64, AtomicU64>,
    duration: Family<L, Histogram, fn() -> Histogram>,
    bytes: Family<L, Counter>,
    shards: Family<L, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            samples: Family::default(),
            failed: Family::default(),
            retried: Family::default(),
            dropped: Family::default(),
            pending: Family::default(),
            highest_sent: Family::default(),
            highest_in: Gauge::default(),
            duration: Family::new_with_constructor(batch_duration_histogram),
            bytes: Family::default(),
            shards: Family::default(),
        }
    }
}

impl Metrics {
    fn register(&self, r: &mut Registry) {
        let p = "prometheus_remote_storage_";
        r.register(
            format!("{p}samples"),
            "Total number of samples sent to remote storage",
            self.samples.clone(),
        );
        r.register(
            format!("{p}samples_failed"),
            "Total number of samples which failed on send to remote storage, non-recoverable errors",
            self.failed.clone(),
        );
        r.register(
            format!("{p}samples_retried"),
            "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable",
            self.retried.clone(),
        );
        r.register(
            format!("{p}samples_dropped"),
            "Total number of samples which were dropped before being sent via remote write: by write_relabel_configs (reason dropped_series) or because the on-disk backlog reached its size cap (reason backlog_full)",
            self.dropped.clone(),
        );
        r.register(
            format!("{p}samples_pending"),
            "The number of samples pending in the queues shards to be sent to the remote storage",
            self.pending.clone(),
        );
        r.register(
            format!("{p}queue_highest_sent_timestamp_seconds"),
            "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch",
            self.highest_sent.clone(),
        );
        r.register(
            format!("{p}highest_timestamp_in_seconds"),
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet",
            self.highest_in.clone(),
        );
        r.register(
            format!("{p}sent_batch_duration_seconds"),
            "Duration of send calls to the remote storage",
            self.duration.clone(),
        );
        r.register(
            format!("{p}bytes"),
            "The total number of bytes of data (not metadata) sent by the queue after compression",
            self.bytes.clone(),
        );
        r.register(
            format!("{p}shards"),
            "The number of shards used for parallel sending to the remote storage",
            self.shards.clone(),
        );
    }
}

/// One queue's metric handles.
#[derive(Clone)]
struct QueueMetrics {
    labels: L,
    samples: Counter,
    failed: Counter,
    retried: Counter,
    dropped_series: Counter,
    dropped_full: Counter,
    pending: Gauge,
    highest_sent: Gauge<f64, AtomicU64>,
    duration: Histogram,
    bytes: Counter,
}

impl QueueMetrics {
    fn new(m: &Metrics, cfg: &RemoteWriteConfig, shards: usize) -> Self {
        let labels: L = vec![
            ("remote_name".to_owned(), cfg.name.clone()),
            ("url".to_owned(), cfg.url.clone()),
        ];
        let with_reason = |r: &str| {
            let mut l = labels.clone();
            l.push(("reason".to_owned(), r.to_owned()));
            m.dropped.get_or_create(&l).clone()
        };
        m.shards.get_or_create(&labels).set(shards as i64);
        QueueMetrics {
            samples: m.samples.get_or_create(&labels).clone(),
            failed: m.failed.get_or_create(&labels).clone(),
            retried: m.retried.get_or_create(&labels).clone(),
            dropped_series: with_reason("dropped_series"),
            dropped_full: with_reason("backlog_full"),
            pending: m.pending.get_or_create(&labels).clone(),
            highest_sent: m.highest_sent.get_or_create(&labels).clone(),
            duration: m.duration.get_or_create(&labels).clone(),
            bytes: m.bytes.get_or_create(&labels).clone(),
            labels,
        }
    }

    fn remove(&self, m: &Metrics) {
        let l = &self.labels;
        m.samples.remove(l);
        m.failed.remove(l);
        m.retried.remove(l);
        m.pending.remove(l);
        m.highest_sent.remove(l);
        m.duration.remove(l);
        m.bytes.remove(l);
        m.shards.remove(l);
        for r in ["dropped_series", "backlog_full"] {
            let mut with = l.clone();
            with.push(("reason".to_owned(), r.to_owned()));
            m.dropped.remove(&with);
        }
    }
}

/// A sample handed off by the tap.
struct Staged {
    series: SeriesRef,
    t: i64,
    v: f64,
}

/// A series' outgoing labels and shard; `None` when `write_relabel_configs` drop it.
type Target = Option<(Arc<Labels>, usize)>;

/// What the router keeps per queue.
struct RouteState {
    /// Series id → the series (to notice removal) and its outgoing labels and shard, or
    /// `None` when `write_relabel_configs` drop it.
    cache: HashMap<u64, (SeriesRef, Target)>,
    /// Each shard's open batch and when its first sample came.
    open: Vec<(Vec<Pending>, Option<Instant>)>,
}

/// One `remote_write` entry at work.
struct Queue {
    cfg: RemoteWriteConfig,
    external: Labels,
    shards: usize,
    route: Mutex<RouteState>,
    backlog: Arc<Mutex<Backlog>>,
    wake: Arc<Vec<tokio::sync::Notify>>,
    stop: CancellationToken,
    metrics: QueueMetrics,
}

impl Queue {
    /// The outgoing labels of `series` and its shard, or `None` when relabeling drops it.
    fn target(&self, series: &SeriesRef) -> Target {
        let mut lb = LabelsBuilder::new(series.labels());
        for l in self.external.iter() {
            if lb.get(&l.name).is_none() {
                lb.set_shared(l.name.clone(), l.value.clone());
            }
        }
        if !process_builder(&mut lb, &self.cfg.write_relabel_configs) {
            return None;
        }
        let labels = lb.labels();
        if labels.is_empty() {
            return None;
        }
        let shard = (labels.fingerprint() % self.shards as u64) as usize;
        Some((Arc::new(labels), shard))
    }

    /// Routes samples to their shards, closing full batches.
    fn route(&self, staged: &[Staged]) {
        let mut rs = self.route.lock();
        let max = self.cfg.queue_config.max_samples_per_send.max(1) as usize;
        let mut dropped = 0u64;
        for s in staged {
            let id = s.series.id();
            let target = match rs.cache.get(&id) {
                Some((_, t)) => t.clone(),
                None => {
                    let t = self.target(&s.series);
                    rs.cache.insert(id, (s.series.clone(), t.clone()));
                    t
                }
            };
            let Some((labels, shard)) = target else {
                dropped += 1;
                continue;
            };
            let open = &mut rs.open[shard];
            if open.0.is_empty() {
                open.1 = Some(Instant::now());
            }
            open.0.push(Pending {
                labels,
                t: s.t,
                v: s.v,
            });
            if open.0.len() >= max {
                let batch = std::mem::take(&mut open.0);
                open.1 = None;
                self.close(shard, &batch);
            }
        }
        if dropped > 0 {
            self.metrics.dropped_series.inc_by(dropped);
        }
    }

    /// Closes the batches older than `batch_send_deadline` (all of them with `all`).
    fn flush(&self, all: bool) {
        let deadline = self.cfg.queue_config.batch_send_deadline.0;
        let mut rs = self.route.lock();
        for shard in 0..rs.open.len() {
            let open = &mut rs.open[shard];
            let due = open
                .1
                .is_some_and(|since| all || since.elapsed() >= deadline);
            if due && !open.0.is_empty() {
                let batch = std::mem::take(&mut open.0);
                open.1 = None;
                self.close(shard, &batch);
            }
        }
    }

    /// Encodes a batch into the backlog and wakes its sender.
    fn close(&self, shard: usize, batch: &[Pending]) {
        let e = encode::encode(batch, self.cfg.protobuf_message);
        let result = self.backlog.lock().append(
            shard,
            self.cfg.protobuf_message,
            &e.body,
            e.samples,
            e.highest_ts,
        );
        match result {
            Ok(d) if d.samples > 0 => {
                self.metrics.dropped_full.inc_by(d.samples);
                tracing::warn!(
                    remote_name = %self.cfg.name,
                    url = %self.cfg.url,
                    samples = d.samples,
                    bytes = d.bytes,
                    "remote write backlog is full (--storage.remote-write.max-bytes): dropped its oldest batches"
                );
            }
            Ok(_) => {}
            Err(err) => {
                self.metrics.dropped_full.inc_by(u64::from(e.samples));
                tracing::error!(remote_name = %self.cfg.name, error = %err, samples = e.samples, "remote write backlog: cannot write a batch; dropped");
            }
        }
        self.wake[shard].notify_one();
    }

    fn purge_cache(&self) {
        self.route.lock().cache.retain(|_, (s, _)| !s.is_removed());
    }

    fn pending(&self) -> u64 {
        let open: usize = self.route.lock().open.iter().map(|o| o.0.len()).sum();
        open as u64 + self.backlog.lock().samples()
    }

    /// Sends shard `shard`'s backlog until stopped.
    async fn run_shard(self: Arc<Self>, endpoint: Arc<Endpoint>, shard: usize) {
        let q = &self.cfg.queue_config;
        let (min, max) = (q.min_backoff.0, q.max_backoff.0.max(q.min_backoff.0));
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let next = self.backlog.lock().peek(shard);
            let record = match next {
                Ok(Some(r)) => r,
                Ok(None) => {
                    tokio::select! {
                        _ = self.wake[shard].notified() => {}
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(remote_name = %self.cfg.name, error = %e, "remote write backlog: cannot read a batch");
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            let mut backoff = min;
            loop {
                self.metrics.samples.inc_by(u64::from(record.samples));
                self.metrics.bytes.inc_by(record.body.len() as u64);
                let started = Instant::now();
                let outcome = tokio::select! {
                    o = endpoint.post(&record) => o,
                    _ = self.stop.cancelled() => return,
                };
                self.metrics
                    .duration
                    .observe(started.elapsed().as_secs_f64());
                match outcome {
                    Outcome::Sent => {
                        let ts = record.highest_ts as f64 / 1000.0;
                        if ts > self.metrics.highest_sent.get() {
                            self.metrics.highest_sent.set(ts);
                        }
                        self.backlog.lock().ack(shard, record.id);
                        break;
                    }
                    Outcome::Failed(error) => {
                        self.metrics.failed.inc_by(u64::from(record.samples));
                        tracing::error!(remote_name = %self.cfg.name, url = %self.cfg.url, samples = record.samples, error = %error, "non-recoverable error sending remote write; the batch is dropped");
                        self.backlog.lock().ack(shard, record.id);
                        break;
                    }
                    Outcome::Retry { after, error } => {
                        self.metrics.retried.inc_by(u64::from(record.samples));
                        let sleep = send::jittered(after.unwrap_or(backoff));
                        tracing::warn!(remote_name = %self.cfg.name, url = %self.cfg.url, error = %error, retry_in = ?sleep, "failed to send remote write batch, retrying");
                        backoff = send::next_backoff(after.unwrap_or(backoff), max);
                        tokio::select! {
                            _ = tokio::time::sleep(sleep) => {}
                            _ = self.stop.cancelled() => return,
                        }
                        // The cap may have dropped this batch meanwhile.
                        let still = self.backlog.lock().front(shard) == Some(record.id);
                        if !still {
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The stripes the tap fills.
struct Staging {
    active: AtomicBool,
    stripes: Vec<Mutex<Vec<Staged>>>,
}

struct Inner {
    root: PathBuf,
    max_bytes: u64,
    staging: Staging,
    /// The queues; held while staging is drained, so stripes are routed in order.
    queues: Mutex<Vec<Arc<Queue>>>,
    metrics: Metrics,
    highest_in_ms: AtomicU64,
    factory: ClientFactory,
    runtime: tokio::runtime::Handle,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stop_router: AtomicBool,
}

impl Inner {
    /// Takes every stripe (the queue list locked, so drains are routed in order) and routes
    /// it; `extra` is a sample appended after them (the spill path).
    fn drain(&self, extra: Option<Staged>) {
        let queues = self.queues.lock();
        let mut all: Vec<Staged> = Vec::new();
        for s in &self.staging.stripes {
            let mut g = s.lock();
            if all.is_empty() {
                all = std::mem::take(&mut *g);
            } else {
                all.append(&mut g);
            }
        }
        all.extend(extra);
        if all.is_empty() {
            return;
        }
        if let Some(max) = all.iter().map(|s| s.t).max() {
            let prev = self
                .highest_in_ms
                .fetch_max(max.max(0) as u64, Ordering::Relaxed);
            if max.max(0) as u64 > prev {
                self.metrics.highest_in.set(max as f64 / 1000.0);
            }
        }
        for q in queues.iter() {
            q.route(&all);
        }
    }
}

impl AppendTap for Inner {
    fn appended(&self, series: &SeriesRef, t: i64, v: f64) {
        if !self.staging.active.load(Ordering::Relaxed) {
            return;
        }
        let stripe = &self.staging.stripes[(series.id() % STRIPES as u64) as usize];
        let staged = Staged {
            series: series.clone(),
            t,
            v,
        };
        let mut g = stripe.lock();
        if g.len() < STRIPE_CAPACITY {
            g.push(staged);
            return;
        }
        drop(g);
        // Spill: the router is behind; route everything staged, this sample last.
        self.drain(Some(staged));
    }
}

/// The running sender: apply configurations, shut down.
pub struct RemoteWriter {
    inner: Arc<Inner>,
    router: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The directory name of a queue: its name when that is a safe file name, else a hash.
fn dir_name(cfg: &RemoteWriteConfig) -> String {
    let safe = !cfg.name.is_empty()
        && cfg.name.len() <= 64
        && cfg.name != "."
        && cfg.name != ".."
        && cfg
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if safe {
        cfg.name.clone()
    } else {
        format!("q-{}", RemoteWriteConfig::default_name(&cfg.name))
    }
}

/// `min(max_shards, max(min_shards, 4))`.
fn shard_count(cfg: &RemoteWriteConfig) -> usize {
    let q = &cfg.queue_config;
    q.min_shards.max(4).min(q.max_shards).max(1) as usize
}

impl RemoteWriter {
    /// A sender keeping its backlog under `<storage>/remote_write`, at most `max_bytes` per
    /// queue, registering its metrics; call [`RemoteWriter::apply`] with the configuration
    /// and install [`RemoteWriter::tap`] on the buffer. Needs a tokio runtime.
    pub fn new(
        storage: &Path,
        max_bytes: u64,
        factory: ClientFactory,
        registry: &mut Registry,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "remote write needs a tokio runtime".to_owned())?;
        let metrics = Metrics::default();
        metrics.register(registry);
        let inner = Arc::new(Inner {
            root: storage.join("remote_write"),
            max_bytes,
            staging: Staging {
                active: AtomicBool::new(false),
                stripes: (0..STRIPES).map(|_| Mutex::new(Vec::new())).collect(),
            },
            queues: Mutex::new(Vec::new()),
            metrics,
            highest_in_ms: AtomicU64::new(0),
            factory,
            runtime,
            tasks: Mutex::new(Vec::new()),
            stop_router: AtomicBool::new(false),
        });
        let router_inner = inner.clone();
        let router = std::thread::Builder::new()
            .name("remote-write".into())
            .spawn(move || router_loop(&router_inner))
            .map_err(|e| format!("starting the remote write thread: {e}"))?;
        Ok(RemoteWriter {
            inner,
            router: Mutex::new(Some(router)),
        })
    }

    /// The tap to install on the buffer ([`crate::store::Store::set_tap`]).
    pub fn tap(&self) -> Arc<dyn AppendTap> {
        self.inner.clone()
    }

    /// Checks that every queue's HTTP client can be built (before a reload changes anything).
    pub fn check(&self, configs: &[RemoteWriteConfig]) -> Result<(), String> {
        for c in configs {
            (self.inner.factory)(&format!("remote_write {:?}", c.name), &c.tls_config)
                .map_err(|e| format!("remote_write {:?}: {e}", c.name))?;
        }
        Ok(())
    }

    /// Runs exactly `configs` with `external`: unchanged queues keep going; a changed queue
    /// closes its open batches into its backlog and a new one continues from that backlog;
    /// a removed queue's backlog is deleted, as are backlogs of queues no longer configured.
    pub fn apply(&self, configs: &[RemoteWriteConfig], external: &Labels) -> Result<(), String> {
        let inner = &self.inner;
        let mut clients = Vec::with_capacity(configs.len());
        for c in configs {
            let client = (inner.factory)(&format!("remote_write {:?}", c.name), &c.tls_config)
                .map_err(|e| format!("remote_write {:?}: {e}", c.name))?;
            clients.push(client);
        }
        let mut queues = inner.queues.lock();
        // Whatever is staged belongs to the old queues.
        drop(queues);
        inner.drain(None);
        queues = inner.queues.lock();
        let mut old: HashMap<String, Arc<Queue>> =
            queues.drain(..).map(|q| (dir_name(&q.cfg), q)).collect();
        let mut next = Vec::with_capacity(configs.len());
        let mut started = Vec::new();
        for (cfg, client) in configs.iter().zip(clients) {
            let key = dir_name(cfg);
            let dir = inner.root.join(&key);
            let previous = old.remove(&key);
            if let Some(q) = previous
                .as_ref()
                .filter(|q| q.cfg == *cfg && q.external == *external)
            {
                next.push(q.clone());
                continue;
            }
            let shards = shard_count(cfg);
            let backlog = match &previous {
                Some(q) => {
                    q.flush(true);
                    q.stop.cancel();
                    q.metrics.remove(&inner.metrics);
                    let b = q.backlog.clone();
                    b.lock().ensure_shards(&dir, shards).map_err(|e| {
                        format!("remote_write {:?}: {}: {e}", cfg.name, dir.display())
                    })?;
                    b
                }
                None => Arc::new(Mutex::new(
                    Backlog::open(&dir, shards, inner.max_bytes).map_err(|e| {
                        format!("remote_write {:?}: {}: {e}", cfg.name, dir.display())
                    })?,
                )),
            };
            let logs = backlog.lock().shard_count();
            let queue = Arc::new(Queue {
                cfg: cfg.clone(),
                external: external.clone(),
                shards,
                route: Mutex::new(RouteState {
                    cache: HashMap::new(),
                    open: (0..shards).map(|_| (Vec::new(), None)).collect(),
                }),
                backlog,
                wake: Arc::new((0..logs).map(|_| tokio::sync::Notify::new()).collect()),
                stop: CancellationToken::new(),
                metrics: QueueMetrics::new(&inner.metrics, cfg, shards),
            });
            started.push((
                queue.clone(),
                Arc::new(Endpoint::new(client, cfg.clone())),
                logs,
            ));
            next.push(queue);
        }
        for (key, q) in old {
            q.flush(true);
            q.stop.cancel();
            q.metrics.remove(&inner.metrics);
            let dir = inner.root.join(&key);
            tracing::info!(remote_name = %q.cfg.name, dir = %dir.display(), "remote_write queue removed; deleting its backlog");
            let _ = std::fs::remove_dir_all(&dir);
        }
        // Backlogs of queues configured in an earlier run only.
        if let Ok(entries) = std::fs::read_dir(&inner.root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !next.iter().any(|q| dir_name(&q.cfg) == name) {
                    tracing::info!(dir = %e.path().display(), "deleting the backlog of a remote_write queue that is no longer configured");
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        inner
            .staging
            .active
            .store(!next.is_empty(), Ordering::Relaxed);
        *queues = next;
        drop(queues);
        let mut tasks = inner.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        for (queue, endpoint, logs) in started {
            for shard in 0..logs {
                tasks.push(
                    inner
                        .runtime
                        .spawn(queue.clone().run_shard(endpoint.clone(), shard)),
                );
            }
            tracing::info!(remote_name = %queue.cfg.name, url = %queue.cfg.url, shards = queue.shards, pending = queue.pending(), "remote_write queue started");
        }
        Ok(())
    }

    /// Closes every open batch into the backlogs (so a restart sends them) and stops the
    /// senders; a batch in flight stays in the backlog and is sent again after a restart.
    pub async fn shutdown(&self) {
        self.inner.stop_router.store(true, Ordering::Release);
        let router = self.router.lock().take();
        if let Some(r) = router {
            let _ = tokio::task::spawn_blocking(move || r.join()).await;
        }
        let queues: Vec<Arc<Queue>> = self.inner.queues.lock().clone();
        for q in &queues {
            q.flush(true);
            q.stop.cancel();
        }
        let tasks: Vec<_> = self.inner.tasks.lock().drain(..).collect();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for RemoteWriter {
    /// Stops the router thread if [`RemoteWriter::shutdown`] was not called.
    fn drop(&mut self) {
        self.inner.stop_router.store(true, Ordering::Release);
    }
}

/// Every [`TICK`]: route what was staged, close batches past their deadline, update the
/// pending gauges; every [`CACHE_PURGE`], forget removed series. Ends with a last drain.
fn router_loop(inner: &Inner) {
    let mut last_purge = Instant::now();
    loop {
        let stopping = inner.stop_router.load(Ordering::Acquire);
        inner.drain(None);
        let queues: Vec<Arc<Queue>> = inner.queues.lock().clone();
        for q in &queues {
            q.flush(stopping);
            q.metrics.pending.set(q.pending() as i64);
        }
        if last_purge.elapsed() >= CACHE_PURGE {
            for q in &queues {
                q.purge_cache();
            }
            last_purge = Instant::now();
        }
        if stopping {
            return;
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests;
