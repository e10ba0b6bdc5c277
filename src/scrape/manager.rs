//! The set of running scrape loops: started, replaced and stopped as the
//! configuration changes; read by the API for `/api/v1/targets` and
//! `/api/v1/metadata`.

use super::ingest::{Metadata, MetricMeta};
use super::landed::{landed_channel, LandedSender};
use super::metrics::ScrapeMetrics;
use super::scrape_loop::ScrapeLoop;
use super::target::{TargetSpec, TargetStatus};
use crate::store::Store;
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Running {
    spec: TargetSpec,
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
    /// Its last outcome.
    pub status: TargetStatus,
}

/// Owns every scrape loop.
pub struct ScrapeManager {
    store: Arc<Store>,
    metrics: ScrapeMetrics,
    running: Mutex<HashMap<String, Running>>,
    landed: LandedSender,
    /// Whether stopped loops mark their series stale (false once shutting down).
    end_markers: Arc<AtomicBool>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("targets", &self.running.lock().len())
            .finish()
    }
}

impl ScrapeManager {
    /// A manager appending into `store`, with its metrics in `registry`.
    pub fn new(store: Arc<Store>, registry: &mut Registry) -> Self {
        Self {
            store,
            metrics: ScrapeMetrics::register(registry),
            running: Mutex::new(HashMap::new()),
            landed: landed_channel(),
            end_markers: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Makes the running set equal to `targets`: unchanged targets keep
    /// running (and their series cache), removed ones stop and mark their
    /// series stale, new ones start. Must be called inside a tokio runtime.
    pub async fn apply(&self, targets: Vec<(TargetSpec, reqwest::Client)>) {
        let mut stopping = Vec::new();
        {
            let mut running = self.running.lock();
            let wanted: HashMap<String, (TargetSpec, reqwest::Client)> = targets
                .into_iter()
                .map(|(s, c)| (s.key(), (s, c)))
                .collect();
            let gone: Vec<String> = running
                .iter()
                .filter(|(k, r)| {
                    wanted
                        .get(*k)
                        .is_none_or(|(spec, _)| !same_settings(spec, &r.spec))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                if let Some(r) = running.remove(&k) {
                    r.cancel.cancel();
                    stopping.push(r.task);
                }
            }
            for (key, (spec, client)) in wanted {
                if running.contains_key(&key) {
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

    /// Sets the buffer's `storage.max_series` (on a reload).
    pub fn set_max_series(&self, max: usize) {
        self.store.set_max_series(max);
    }

    /// The channel every completed scrape is announced on (see [`crate::scrape::ScrapeLanded`]).
    pub fn landed(&self) -> LandedSender {
        self.landed.clone()
    }

    /// Stops every loop for a process shutdown: as Prometheus does, no
    /// end-of-run staleness markers are written, so series stay visible
    /// through the lookback window after a restart from the buffer snapshot.
    pub async fn shutdown(&self) {
        self.end_markers.store(false, Ordering::Release);
        self.stop().await;
    }

    /// Stops every loop (in-flight scrapes are cancelled) and waits for them.
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<()>> = self
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
            .running
            .lock()
            .values()
            .map(|r| TargetView {
                spec: r.spec.clone(),
                status: r.status.read().clone(),
            })
            .collect();
        out.sort_by(|a, b| (&a.spec.job, &a.spec.url).cmp(&(&b.spec.job, &b.spec.url)));
        out
    }

    /// Metric metadata from every target, by metric name, duplicates removed.
    pub fn metadata(&self) -> BTreeMap<String, Vec<MetricMeta>> {
        let mut out: BTreeMap<String, Vec<MetricMeta>> = BTreeMap::new();
        for r in self.running.lock().values() {
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

/// Whether a running target can keep running under a new spec.
fn same_settings(a: &TargetSpec, b: &TargetSpec) -> bool {
    a.interval == b.interval
        && a.timeout == b.timeout
        && a.honor_labels == b.honor_labels
        && a.honor_timestamps == b.honor_timestamps
        && a.limits == b.limits
        && a.authorization == b.authorization
        && a.metric_relabel == b.metric_relabel
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{is_stale_nan, Labels, Matcher};
    use std::time::Duration;

    /// A target nothing listens on: every scrape fails, `up` is written.
    fn unreachable(job: &str) -> (TargetSpec, reqwest::Client) {
        let spec = TargetSpec {
            job: job.into(),
            url: "http://127.0.0.1:1/metrics".into(),
            labels: Labels::from_pairs([("job", job), ("instance", "127.0.0.1:1")]),
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(20),
            honor_labels: false,
            honor_timestamps: true,
            limits: Default::default(),
            authorization: None,
            metric_relabel: Arc::from([]),
        };
        (spec, reqwest::Client::new())
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
