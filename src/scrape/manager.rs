//! The scrape pools (one per job) and their running scrape loops: loops are started, replaced
//! and stopped as the configuration changes or a pool's discovery providers report new target
//! groups (only that pool is re-synced); read by the API for `/api/v1/targets`,
//! `/api/v1/scrape_pools` and the metadata endpoints.

use super::discovery::{self, SdMetrics};
use super::from_config::PoolConfig;
use super::ingest::{Metadata, MetricMeta};
use super::landed::{landed_channel, LandedSender};
use super::metrics::ScrapeMetrics;
use super::scrape_loop::ScrapeLoop;
use super::target::{Negotiation, ScrapeLimits, TargetSpec, TargetStatus};
use super::target_labels::{populate_labels, Populated};
use crate::config::ScrapeConfig;
use crate::model::relabel::RelabelConfig;
use crate::model::Labels;
use crate::store::Store;
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Running {
    spec: TargetSpec,
    discovered: Labels,
    interval_text: (String, String),
    status: Arc<RwLock<TargetStatus>>,
    metadata: Arc<RwLock<Metadata>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// One target as the API shows it.
#[derive(Debug, Clone)]
pub struct TargetView {
    /// What is scraped.
    pub spec: TargetSpec,
    /// Its labels before relabeling.
    pub discovered: Labels,
    /// `__scrape_interval__` and `__scrape_timeout__` as written.
    pub interval_text: (String, String),
    /// Its last outcome.
    pub status: TargetStatus,
}

/// A pool's dropped targets as the API shows them.
#[derive(Debug, Clone, Default)]
pub struct DroppedView {
    /// The discovered labels of the dropped targets kept (at most `keep_dropped_targets`).
    pub kept: Vec<Labels>,
    /// How many targets were dropped in all.
    pub count: usize,
}

struct Pool {
    config: Arc<ScrapeConfig>,
    client: reqwest::Client,
    authorization: Option<String>,
    providers: discovery::Started,
    dropped: DroppedView,
}

/// A scrape target, its discovered labels, its interval and timeout as written, and its client.
type Wanted = (TargetSpec, Labels, (String, String), reqwest::Client);

struct Inner {
    store: Arc<Store>,
    metrics: ScrapeMetrics,
    sd_metrics: SdMetrics,
    running: Mutex<HashMap<String, Running>>,
    pools: Mutex<BTreeMap<String, Pool>>,
    landed: LandedSender,
    /// Whether stopped loops mark their series stale (false once shutting down).
    end_markers: Arc<AtomicBool>,
    /// Pools whose providers changed since the last re-sync.
    dirty: Mutex<BTreeSet<String>>,
    wake: Notify,
}

/// The discovery and re-sync tasks of one configuration.
struct Generation {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// Owns every scrape pool and loop.
pub struct ScrapeManager {
    inner: Arc<Inner>,
    generation: Mutex<Option<Generation>>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("targets", &self.inner.running.lock().len())
            .finish()
    }
}

impl ScrapeManager {
    /// A manager appending into `store`, with its metrics in `registry`.
    pub fn new(store: Arc<Store>, registry: &mut Registry) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                metrics: ScrapeMetrics::register(registry),
                sd_metrics: SdMetrics::register(registry),
                running: Mutex::new(HashMap::new()),
                pools: Mutex::new(BTreeMap::new()),
                landed: landed_channel(),
                end_markers: Arc::new(AtomicBool::new(true)),
                dirty: Mutex::new(BTreeSet::new()),
                wake: Notify::new(),
            }),
            generation: Mutex::new(None),
        }
    }

    /// Makes the pools those of `pools`: the previous discovery stops, static groups and file
    /// SD files are read at once, HTTP SD endpoints are fetched in the background (each pool is
    /// re-synced when its providers report). Unchanged targets keep running (and their series
    /// cache), removed ones stop and mark their series stale, new ones start. Must be called
    /// inside a tokio runtime.
    pub async fn apply(&self, pools: Vec<PoolConfig>) {
        if let Some(old) = self.generation.lock().take() {
            old.cancel.cancel();
        }
        // A provider whose configuration is unchanged starts from its last good groups, so a
        // source that fails right after a reload keeps its targets (as Prometheus keeps
        // unchanged providers).
        let mut previous: HashMap<String, HashMap<String, Vec<discovery::TargetGroup>>> = self
            .inner
            .pools
            .lock()
            .iter()
            .map(|(job, pool)| (job.clone(), pool.providers.groups_by_key()))
            .collect();
        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut next = BTreeMap::new();
        for pc in pools {
            let name = pc.job.job_name.clone();
            let sources = discovery::Sources {
                static_groups: discovery::static_groups(&pc.job.static_configs),
                file: pc.job.file_sd_configs.clone(),
                http: pc.http_sd.clone(),
                dns: pc.job.dns_sd_configs.clone(),
                kubernetes: pc.job.kubernetes_sd_configs.clone(),
            };
            let providers = discovery::start(
                sources,
                previous.entry(name.clone()).or_default(),
                &self.inner.sd_metrics,
                &cancel,
                &mut tasks,
                Arc::new(self.changed_fn(&name)),
            )
            .await;
            next.insert(
                name,
                Pool {
                    config: pc.job,
                    client: pc.client,
                    authorization: pc.authorization,
                    providers,
                    dropped: DroppedView::default(),
                },
            );
        }
        let wanted = {
            let mut pools = self.inner.pools.lock();
            *pools = next;
            let mut wanted = Vec::new();
            for pool in pools.values_mut() {
                wanted.extend(pool_targets(pool));
            }
            wanted
        };
        self.inner.dirty.lock().clear();
        self.inner.reconcile(wanted, None).await;
        let inner = self.inner.clone();
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = inner.wake.notified() => {}
                }
                let jobs = std::mem::take(&mut *inner.dirty.lock());
                for job in jobs {
                    inner.resync(&job).await;
                }
            }
        }));
        *self.generation.lock() = Some(Generation { cancel, tasks });
    }

    /// The SD failure counters (shared with Alertmanager discovery).
    pub fn sd_metrics(&self) -> SdMetrics {
        self.inner.sd_metrics.clone()
    }

    fn changed_fn(&self, job: &str) -> impl Fn() + Send + Sync + 'static {
        let inner = Arc::downgrade(&self.inner);
        let job = job.to_owned();
        move || {
            if let Some(inner) = inner.upgrade() {
                inner.dirty.lock().insert(job.clone());
                inner.wake.notify_one();
            }
        }
    }

    /// Sets the buffer's `storage.max_series` (on a reload).
    pub fn set_max_series(&self, max: usize) {
        self.inner.store.set_max_series(max);
    }

    /// The channel every completed scrape is announced on (see [`crate::scrape::ScrapeLanded`]).
    pub fn landed(&self) -> LandedSender {
        self.inner.landed.clone()
    }

    /// Stops every loop for a process shutdown: as Prometheus does, no
    /// end-of-run staleness markers are written, so series stay visible
    /// through the lookback window after a restart from the buffer snapshot.
    pub async fn shutdown(&self) {
        self.inner.end_markers.store(false, Ordering::Release);
        self.stop().await;
    }

    /// Stops discovery and every loop (in-flight scrapes are cancelled) and waits for them.
    pub async fn stop(&self) {
        let generation = self.generation.lock().take();
        if let Some(g) = generation {
            g.cancel.cancel();
            for t in g.tasks {
                let _ = t.await;
            }
        }
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .running
            .lock()
            .drain()
            .map(|(_, r)| {
                r.cancel.cancel();
                r.task
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Every target with its last outcome, ordered by job then URL.
    pub fn targets(&self) -> Vec<TargetView> {
        let mut out: Vec<TargetView> = self
            .inner
            .running
            .lock()
            .values()
            .map(|r| TargetView {
                spec: r.spec.clone(),
                discovered: r.discovered.clone(),
                interval_text: r.interval_text.clone(),
                status: r.status.read().clone(),
            })
            .collect();
        out.sort_by(|a, b| (&a.spec.job, &a.spec.url).cmp(&(&b.spec.job, &b.spec.url)));
        out
    }

    /// The scrape pools (job names), sorted.
    pub fn pools(&self) -> Vec<String> {
        self.inner.pools.lock().keys().cloned().collect()
    }

    /// Each pool's dropped targets.
    pub fn dropped(&self) -> BTreeMap<String, DroppedView> {
        self.inner
            .pools
            .lock()
            .iter()
            .map(|(k, p)| (k.clone(), p.dropped.clone()))
            .collect()
    }

    /// Each pool's current discovery errors (pools without errors are left out).
    pub fn discovery_errors(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (name, pool) in self.inner.pools.lock().iter() {
            let errors = pool.providers.errors();
            if !errors.is_empty() {
                out.insert(name.clone(), errors);
            }
        }
        out
    }

    /// Each running target's labels with its metric metadata.
    pub fn target_metadata(&self) -> Vec<(Labels, Metadata)> {
        let mut out: Vec<(Labels, Metadata)> = self
            .inner
            .running
            .lock()
            .values()
            .map(|r| (r.spec.labels.clone(), r.metadata.read().clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Metric metadata from every target, by metric name, duplicates removed.
    pub fn metadata(&self) -> BTreeMap<String, Vec<MetricMeta>> {
        let mut out: BTreeMap<String, Vec<MetricMeta>> = BTreeMap::new();
        for r in self.inner.running.lock().values() {
            for (name, meta) in r.metadata.read().iter() {
                let list = out.entry(name.clone()).or_default();
                if !list.contains(meta) {
                    list.push(meta.clone());
                }
            }
        }
        out
    }
}

/// A pool's targets from its providers' groups; records its dropped targets.
fn pool_targets(pool: &mut Pool) -> Vec<Wanted> {
    let job = &pool.config;
    let keep = job.keep_dropped_targets as usize;
    let mut dropped = DroppedView::default();
    let mut out = Vec::new();
    let metric_relabel: Arc<[RelabelConfig]> = Arc::from(job.metric_relabel_configs.as_slice());
    let negotiation = Negotiation::new(
        &job.scrape_protocols,
        job.enable_compression,
        job.fallback_scrape_protocol,
    );
    for provider in &pool.providers.states {
        let state = provider.lock();
        for group in &state.groups {
            for (i, target) in group.targets.iter().enumerate() {
                match populate_labels(job, target, &group.labels) {
                    Populated::Active(a) => {
                        let spec = TargetSpec {
                            job: job.job_name.clone(),
                            url: a.url,
                            labels: a.labels,
                            interval: a.interval,
                            timeout: a.timeout,
                            honor_labels: job.honor_labels,
                            honor_timestamps: job.honor_timestamps,
                            track_timestamps_staleness: job.track_timestamps_staleness,
                            negotiation: negotiation.clone(),
                            forced_error: None,
                            limits: ScrapeLimits {
                                sample_limit: job.sample_limit as usize,
                                body_size_limit: job.body_size_limit.0 as usize,
                                label_limit: job.label_limit as usize,
                                label_name_length_limit: job.label_name_length_limit as usize,
                                label_value_length_limit: job.label_value_length_limit as usize,
                                series_limit: job.series_limit as usize,
                            },
                            authorization: pool.authorization.clone(),
                            metric_relabel: metric_relabel.clone(),
                        };
                        out.push((spec, a.discovered, a.interval_text, pool.client.clone()));
                    }
                    // As Prometheus 3.5: an invalid target is logged, neither scraped nor
                    // listed as dropped (checked against it by `tests/sd_prometheus_diff.rs`).
                    Populated::Dropped { error: Some(e), .. } => {
                        tracing::error!(
                            scrape_pool = %job.job_name,
                            err = %format!("instance {i} in group {}: {e}", group.source),
                            "Creating target failed"
                        );
                    }
                    Populated::Dropped {
                        discovered,
                        error: None,
                    } => {
                        if keep == 0 || dropped.kept.len() < keep {
                            dropped.kept.push(discovered);
                        }
                        dropped.count += 1;
                    }
                }
            }
        }
    }
    pool.dropped = dropped;
    let limit = job.target_limit as usize;
    if limit > 0 && out.len() > limit {
        // As Prometheus: over the limit, no target of the pool is scraped; each reports why.
        let error: Arc<str> = Arc::from(format!(
            "target_limit exceeded (number of targets: {}, limit: {limit})",
            out.len()
        ));
        tracing::error!(scrape_pool = %job.job_name, err = %error, "target limit exceeded");
        for (spec, ..) in &mut out {
            spec.forced_error = Some(error.clone());
        }
    }
    out
}

impl Inner {
    /// Re-syncs one pool's loops with its providers' groups.
    async fn resync(&self, job: &str) {
        let wanted = {
            let mut pools = self.pools.lock();
            let Some(pool) = pools.get_mut(job) else {
                return;
            };
            pool_targets(pool)
        };
        self.reconcile(wanted, Some(job)).await;
    }

    /// Makes the running loops (of pool `only`, or of every pool) equal to `wanted`.
    async fn reconcile(&self, wanted: Vec<Wanted>, only: Option<&str>) {
        let mut stopping = Vec::new();
        {
            let mut running = self.running.lock();
            let wanted: HashMap<String, Wanted> =
                wanted.into_iter().map(|w| (w.0.key(), w)).collect();
            let gone: Vec<String> = running
                .iter()
                .filter(|(_, r)| only.is_none_or(|j| j == r.spec.job))
                .filter(|(k, r)| {
                    wanted
                        .get(*k)
                        .is_none_or(|(spec, ..)| !same_settings(spec, &r.spec))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                if let Some(r) = running.remove(&k) {
                    r.cancel.cancel();
                    stopping.push(r.task);
                }
            }
            for (key, (spec, discovered, interval_text, client)) in wanted {
                if let Some(r) = running.get_mut(&key) {
                    r.discovered = discovered;
                    r.interval_text = interval_text;
                    continue;
                }
                let status = Arc::new(RwLock::new(TargetStatus::default()));
                let metadata = Arc::new(RwLock::new(Metadata::default()));
                let cancel = CancellationToken::new();
                let lp = ScrapeLoop::new(
                    spec.clone(),
                    client,
                    self.store.clone(),
                    self.metrics.clone(),
                    status.clone(),
                    metadata.clone(),
                )
                .announce_to(self.landed.clone());
                let task = tokio::spawn(lp.run(cancel.clone(), self.end_markers.clone()));
                running.insert(
                    key,
                    Running {
                        spec,
                        discovered,
                        interval_text,
                        status,
                        metadata,
                        cancel,
                        task,
                    },
                );
            }
        }
        for t in stopping {
            let _ = t.await;
        }
    }
}

/// Whether a running target can keep running under a new spec.
fn same_settings(a: &TargetSpec, b: &TargetSpec) -> bool {
    a.interval == b.interval
        && a.timeout == b.timeout
        && a.honor_labels == b.honor_labels
        && a.honor_timestamps == b.honor_timestamps
        && a.track_timestamps_staleness == b.track_timestamps_staleness
        && a.negotiation == b.negotiation
        && a.forced_error == b.forced_error
        && a.limits == b.limits
        && a.authorization == b.authorization
        && a.metric_relabel == b.metric_relabel
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{is_stale_nan, Matcher};
    use std::time::Duration;

    /// A job whose one target nothing listens on: every scrape fails, `up` is written.
    fn unreachable(job: &str) -> PoolConfig {
        let text = format!(
            "scrape_configs:\n- job_name: {job}\n  scrape_interval: 20ms\n  scrape_timeout: 20ms\n  \
             static_configs: [{{targets: ['127.0.0.1:1']}}]\n"
        );
        let cfg = crate::config::parse_with_env(&text, "c.yml", &|_| None).unwrap();
        crate::scrape::targets_from_config(&cfg).unwrap().remove(0)
    }

    /// Starts a loop, waits for its first `up`, stops it the given way and
    /// says whether `up` ended with a staleness marker.
    async fn ends_stale(shutdown: bool) -> bool {
        let store = Arc::new(Store::default());
        let m = ScrapeManager::new(store.clone(), &mut Registry::default());
        m.apply(vec![unreachable("a")]).await;
        let up = [Matcher::equal("__name__", "up")];
        for _ in 0..500 {
            if store.select(&up).first().and_then(|s| s.last()).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if shutdown {
            m.shutdown().await;
        } else {
            m.stop().await;
        }
        let last = store.select(&up).first().and_then(|s| s.last());
        is_stale_nan(last.expect("up was written").v)
    }

    #[tokio::test]
    async fn stop_marks_series_stale_but_shutdown_does_not() {
        assert!(ends_stale(false).await);
        assert!(!ends_stale(true).await);
    }
}

#[cfg(test)]
mod discovery_tests {
    use super::*;
    use std::time::Duration;

    fn pools(text: &str, dir: &std::path::Path) -> Vec<PoolConfig> {
        let path = dir.join("c.yml");
        let cfg = crate::config::parse_with_env(text, &path, &|_| None).unwrap();
        crate::scrape::targets_from_config(&cfg).unwrap()
    }

    fn addresses(m: &ScrapeManager, job: &str) -> Vec<String> {
        m.targets()
            .into_iter()
            .filter(|t| t.spec.job == job)
            .map(|t| t.spec.instance().to_owned())
            .collect()
    }

    async fn eventually(m: &ScrapeManager, job: &str, want: &[&str]) {
        for _ in 0..300 {
            if addresses(m, job) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{job}: {:?}, want {want:?}", addresses(m, job));
    }

    #[tokio::test]
    async fn file_changes_resync_their_pool_and_a_reload_stops_old_providers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"[{"targets": ["127.0.0.1:1"]}]"#).unwrap();
        let text = "scrape_configs:\n- job_name: f\n  scrape_interval: 1h\n  \
                    file_sd_configs: [{files: [t.json]}]\n- job_name: s\n  scrape_interval: 1h\n  \
                    static_configs: [{targets: ['127.0.0.1:2']}]\n  \
                    http_sd_configs: [{url: 'http://127.0.0.1:1/sd', refresh_interval: 1h}]\n";
        let m = ScrapeManager::new(Arc::new(Store::default()), &mut Registry::default());
        m.apply(pools(text, dir.path())).await;
        // The file is read before `apply` returns; the failing HTTP SD endpoint keeps the
        // pool's static target and shows its error.
        assert_eq!(addresses(&m, "f"), ["127.0.0.1:1"]);
        assert_eq!(addresses(&m, "s"), ["127.0.0.1:2"]);
        for _ in 0..300 {
            if m.discovery_errors().contains_key("s") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(m.discovery_errors()["s"][0].contains("http://127.0.0.1:1/sd"));
        std::fs::write(&file, r#"[{"targets": ["127.0.0.1:1", "127.0.0.1:3"]}]"#).unwrap();
        eventually(&m, "f", &["127.0.0.1:1", "127.0.0.1:3"]).await;
        assert_eq!(addresses(&m, "s"), ["127.0.0.1:2"]);
        // A reload without the file job: its provider stops, a later change is not seen.
        let text = "scrape_configs:\n- job_name: s\n  scrape_interval: 1h\n  \
                    static_configs: [{targets: ['127.0.0.1:2']}]\n";
        m.apply(pools(text, dir.path())).await;
        assert_eq!(m.pools(), ["s"]);
        assert!(addresses(&m, "f").is_empty());
        std::fs::write(&file, r#"[{"targets": ["127.0.0.1:4"]}]"#).unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(addresses(&m, "f").is_empty());
        assert!(m.discovery_errors().is_empty());
        m.stop().await;
    }

    #[tokio::test]
    async fn a_reload_keeps_the_last_good_targets_of_an_unchanged_failing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"[{"targets": ["127.0.0.1:1"]}]"#).unwrap();
        let text = "scrape_configs:\n- job_name: f\n  scrape_interval: 1h\n  \
                    file_sd_configs: [{files: [t.json]}]\n";
        let m = ScrapeManager::new(Arc::new(Store::default()), &mut Registry::default());
        m.apply(pools(text, dir.path())).await;
        assert_eq!(addresses(&m, "f"), ["127.0.0.1:1"]);
        std::fs::write(&file, "[{").unwrap();
        m.apply(pools(text, dir.path())).await;
        assert_eq!(addresses(&m, "f"), ["127.0.0.1:1"]);
        assert!(m.discovery_errors()["f"][0].contains("t.json"));
        m.stop().await;
    }
}
