//! The rule manager: loads rule files (all or nothing, carrying state over
//! for unchanged rules), runs each group on its own tokio task at a stable
//! per-group offset, counts missed iterations, publishes alert transitions
//! on a broadcast channel and keeps a bounded history of them.
//!
//! Event channel overflow policy: `tokio::sync::broadcast` with a fixed
//! capacity; a subscriber that falls behind loses the oldest events and is
//! told how many (`RecvError::Lagged`). Evaluation never waits for subscribers.

use super::alert::{AlertState, AlertTransition};
use super::datasource::{self, Datasources};
use super::durable::Durable;
use super::file::EvaluationMode;
use super::file::{load_rule_file, LoadOptions, RuleFileError};
use super::group::{EngineQuerier, EvalContext, Group, RuleQuerier};
use super::history::{History, HistoryQuery, DEFAULT_HISTORY_CAPACITY};
use super::metrics::RuleMetrics;
use crate::model::Labels;
use crate::promql::Engine;
use crate::scrape::LandedSender;
use crate::store::Store;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Settings that come from the configuration and may change on reload.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// `global.evaluation_interval`, ms (default 1m).
    pub evaluation_interval_ms: i64,
    /// `global.rule_query_offset`, ms.
    pub query_offset_ms: i64,
    /// `global.external_labels`.
    pub external_labels: Labels,
    /// The external URL (templates).
    pub external_url: String,
    /// Loader options.
    pub load: LoadOptions,
    /// `datasources`: where groups with `datasource:` run their queries.
    pub datasources: Vec<crate::config::DatasourceConfig>,
}

impl RuleSettings {
    /// The settings a loaded configuration gives (`global.evaluation_interval`,
    /// `global.external_labels`), with the server's external URL.
    pub fn from_config(cfg: &crate::config::Config, external_url: &str) -> Self {
        Self {
            evaluation_interval_ms: cfg.global.evaluation_interval.as_millis_i64().max(1),
            external_labels: Labels::from_pairs(cfg.global.external_labels.iter()),
            external_url: external_url.to_string(),
            datasources: cfg.datasources.clone(),
            ..Self::default()
        }
    }
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            evaluation_interval_ms: 60_000,
            query_offset_ms: 0,
            external_labels: Labels::empty(),
            external_url: String::new(),
            load: LoadOptions::default(),
            datasources: Vec::new(),
        }
    }
}

/// Fixed options of the manager.
#[derive(Debug, Clone, Copy)]
pub struct ManagerOptions {
    /// Transitions kept in the history ring buffer.
    pub history_capacity: usize,
    /// Capacity of the transition broadcast channel.
    pub event_capacity: usize,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            history_capacity: DEFAULT_HISTORY_CAPACITY,
            event_capacity: 4096,
        }
    }
}

/// What a successful reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Groups kept running unchanged.
    pub unchanged: usize,
    /// Groups new or changed (restarted).
    pub started: usize,
    /// Groups removed.
    pub removed: usize,
}

/// An alert with the rule and group that hold it.
#[derive(Debug, Clone)]
pub struct HeldAlert {
    /// The group key (`file;group`).
    pub group: Arc<str>,
    /// The alerting rule's name.
    pub rule: Arc<str>,
    /// The alert.
    pub alert: super::alert::Alert,
}

/// Alert counts by (state, severity).
type ActiveCounts = Vec<((AlertState, String), i64)>;

struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

struct Inner {
    store: Arc<Store>,
    querier: Arc<dyn RuleQuerier>,
    /// Queriers of the configured datasources, by name (replaced with the settings).
    datasources: RwLock<Arc<Datasources>>,
    settings: RwLock<RuleSettings>,
    groups: RwLock<BTreeMap<String, Arc<Group>>>,
    tasks: Mutex<HashMap<String, Running>>,
    /// One reload at a time; readers keep seeing the old set until the swap.
    update_lock: tokio::sync::Mutex<()>,
    running: Mutex<bool>,
    events: broadcast::Sender<AlertTransition>,
    history: Mutex<History>,
    metrics: RuleMetrics,
    active_counts: Mutex<HashMap<String, ActiveCounts>>,
    /// Completed scrapes, for `evaluation: on_scrape` groups.
    landed: Mutex<Option<LandedSender>>,
    /// The state database link, when alert state is persisted.
    durable: Mutex<Option<Durable>>,
    /// The periodic history retention cut.
    retention_task: Mutex<Option<JoinHandle<()>>>,
}

/// The rule manager (cheap to clone; clones share everything).
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("groups", &self.inner.groups.read().len())
            .finish()
    }
}

/// The PromQL engine over a shared store.
struct SharedEngineQuerier {
    engine: Arc<Engine>,
    store: Arc<Store>,
}

impl RuleQuerier for SharedEngineQuerier {
    fn query(
        &self,
        expr: &promql_parser::parser::Expr,
        t_ms: i64,
    ) -> Result<crate::promql::Value, crate::promql::EvalError> {
        EngineQuerier {
            engine: &self.engine,
            store: &self.store,
        }
        .query(expr, t_ms)
    }

    fn for_evaluation<'s>(
        &'s self,
        rules: &[&promql_parser::parser::Expr],
        t_ms: i64,
        windows: &'s crate::promql::WindowCache,
    ) -> Option<Box<dyn RuleQuerier + 's>> {
        Some(
            EngineQuerier {
                engine: &self.engine,
                store: &self.store,
            }
            .shared(rules, t_ms, windows),
        )
    }
}

/// How far back `ALERTS_FOR_STATE` is looked up on a datasource at start (Prometheus'
/// `--rules.alert.for-outage-tolerance` default).
const FOR_OUTAGE_TOLERANCE_MS: i64 = 3_600_000;

/// Milliseconds since the Unix epoch, from the wall clock.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The group's evaluation slot at or before `t`: aligned to the interval,
/// shifted by a stable per-group offset (hash of file and name).
pub fn eval_slot(group: &Group, t: i64) -> i64 {
    let interval = group.interval_ms();
    let h = Labels::from_pairs([("name", group.name()), ("file", group.file())]).fingerprint();
    let offset = (h % interval as u64) as i64;
    let adj = t - offset;
    adj - adj.rem_euclid(interval) + offset
}

impl Manager {
    /// A manager with no groups whose rules query `store` with `engine`;
    /// call [`Manager::update`] then [`Manager::start`].
    pub fn new(store: Arc<Store>, engine: Arc<Engine>, opts: ManagerOptions) -> Self {
        let querier = Arc::new(SharedEngineQuerier {
            engine,
            store: store.clone(),
        });
        Self::with_querier(store, querier, opts)
    }

    /// A manager whose rules run their queries through `querier` and write
    /// their output to `store`.
    pub fn with_querier(
        store: Arc<Store>,
        querier: Arc<dyn RuleQuerier>,
        opts: ManagerOptions,
    ) -> Self {
        let (events, _) = broadcast::channel(opts.event_capacity.max(1));
        Self {
            inner: Arc::new(Inner {
                store,
                querier,
                datasources: RwLock::new(Arc::new(Datasources::new())),
                settings: RwLock::new(RuleSettings::default()),
                groups: RwLock::new(BTreeMap::new()),
                tasks: Mutex::new(HashMap::new()),
                update_lock: tokio::sync::Mutex::new(()),
                running: Mutex::new(false),
                events,
                history: Mutex::new(History::new(opts.history_capacity)),
                metrics: RuleMetrics::default(),
                active_counts: Mutex::new(HashMap::new()),
                landed: Mutex::new(None),
                durable: Mutex::new(None),
                retention_task: Mutex::new(None),
            }),
        }
    }

    /// Lets `evaluation: on_scrape` groups evaluate as soon as a scrape they
    /// read from lands (call before [`Manager::start`]); without it they
    /// evaluate at their interval.
    pub fn set_scrape_feed(&self, landed: LandedSender) {
        *self.inner.landed.lock() = Some(landed);
    }

    /// Registers the rule metrics.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.metrics.register(registry);
    }

    /// A receiver of every alert transition from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertTransition> {
        self.inner.events.subscribe()
    }

    /// The loaded groups, sorted by file then name.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        let mut g: Vec<Arc<Group>> = self.inner.groups.read().values().cloned().collect();
        g.sort_by(|a, b| (a.file(), a.name()).cmp(&(b.file(), b.name())));
        g
    }

    /// The settings in effect.
    pub fn settings(&self) -> RuleSettings {
        self.inner.settings.read().clone()
    }

    /// Every alert held by every alerting rule, resolved ones still kept
    /// for resending included (for the notifier's periodic resend).
    pub fn alerts_snapshot(&self) -> Vec<HeldAlert> {
        let mut out = Vec::new();
        for g in self.groups() {
            g.with_state(|s| {
                for r in &s.rules {
                    let rule: Arc<str> = Arc::from(r.spec.name.as_str());
                    for a in r.alerts.iter() {
                        out.push(HeldAlert {
                            group: g.key().clone(),
                            rule: rule.clone(),
                            alert: a.clone(),
                        });
                    }
                }
            });
        }
        out
    }

    /// Transitions in the history matching the query, in time order.
    pub fn history(&self, q: &HistoryQuery) -> Vec<AlertTransition> {
        self.inner.history.lock().query(q)
    }

    /// Loads `files` and replaces the rule set; on any error nothing changes
    /// and every problem is returned. Unchanged groups keep running; changed
    /// ones take over the alert state of rules with the same name and labels.
    pub async fn update(
        &self,
        files: &[PathBuf],
        settings: RuleSettings,
    ) -> Result<UpdateSummary, Vec<RuleFileError>> {
        let _serialized = self.inner.update_lock.lock().await;
        let mut errs = Vec::new();
        let mut new_groups = BTreeMap::new();
        for f in files {
            match load_rule_file(f, settings.load) {
                Ok(rf) => {
                    for w in &rf.warnings {
                        tracing::warn!(file = %rf.path, "{w}");
                    }
                    for g in rf.groups {
                        let group = Group::new(g, settings.evaluation_interval_ms);
                        new_groups.insert(group.key().to_string(), Arc::new(group));
                    }
                }
                Err(e) => errs.extend(e),
            }
        }
        let names: Vec<&str> = settings
            .datasources
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        for g in new_groups.values() {
            errs.extend(datasource::check_names(
                std::slice::from_ref(g.spec()),
                &names,
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let queriers = if settings.datasources.is_empty() {
            Datasources::new()
        } else {
            datasource::build(
                &settings.datasources,
                &self.inner.metrics.datasource_failures,
            )
            .map_err(|message| {
                vec![RuleFileError {
                    file: "datasources".to_string(),
                    pos: None,
                    group: None,
                    rule: None,
                    message,
                }]
            })?
        };
        *self.inner.datasources.write() = Arc::new(queriers);
        let settings_changed = {
            let old = self.inner.settings.read();
            old.external_labels != settings.external_labels
                || old.external_url != settings.external_url
                || old.query_offset_ms != settings.query_offset_ms
        };
        *self.inner.settings.write() = settings;
        let mut summary = UpdateSummary::default();
        let old_groups = self.inner.groups.read().clone();
        let mut to_start = Vec::new();
        let mut kept = BTreeMap::new();
        for (key, g) in new_groups {
            match old_groups.get(&key) {
                Some(old) if !settings_changed && old.same_definition(&g) => {
                    summary.unchanged += 1;
                    kept.insert(key, old.clone());
                }
                Some(old) => {
                    self.stop_task(&key).await;
                    g.copy_state_from(old);
                    summary.started += 1;
                    to_start.push(g.clone());
                    kept.insert(key, g);
                }
                None => {
                    summary.started += 1;
                    to_start.push(g.clone());
                    kept.insert(key, g);
                }
            }
        }
        self.restore_or_forget(&kept, &old_groups);
        for (key, old) in &old_groups {
            if kept.contains_key(key) {
                continue;
            }
            summary.removed += 1;
            self.stop_task(key).await;
            self.inner.metrics.remove_group(key);
            self.inner.active_counts.lock().remove(key);
            self.mark_stale_later(old.clone());
        }
        for g in &to_start {
            self.inner
                .metrics
                .add_group(g.key(), g.spec().rules.len(), g.interval_ms());
        }
        *self.inner.groups.write() = kept;
        self.publish_active_counts();
        if *self.inner.running.lock() {
            for g in to_start {
                self.spawn_group(g);
            }
        }
        Ok(summary)
    }

    /// Starts evaluating every group (needs a tokio runtime).
    pub fn start(&self) {
        let mut running = self.inner.running.lock();
        if *running {
            return;
        }
        *running = true;
        drop(running);
        for g in self.groups() {
            self.spawn_group(g);
        }
        self.spawn_retention();
    }

    /// Stops every group after its current evaluation.
    pub async fn stop(&self) {
        *self.inner.running.lock() = false;
        if let Some(t) = self.inner.retention_task.lock().take() {
            t.abort();
        }
        let keys: Vec<String> = self.inner.tasks.lock().keys().cloned().collect();
        for k in keys {
            self.stop_task(&k).await;
        }
    }

    async fn stop_task(&self, key: &str) {
        let task = self.inner.tasks.lock().remove(key);
        if let Some(t) = task {
            t.cancel.cancel();
            let _ = t.handle.await;
        }
    }

    /// Marks a removed group's series stale after two intervals (time for a
    /// renamed group to take them over), as Prometheus does.
    fn mark_stale_later(&self, g: Arc<Group>) {
        let series = g.written_series();
        if series.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let store = self.inner.store.clone();
        let wait = Duration::from_millis((2 * g.interval_ms()) as u64);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let t = now_ms();
            for l in series {
                let (s, _) = store.get_or_create(l);
                let _ = store.append(&s, t, crate::model::STALE_NAN);
            }
        });
    }

    fn spawn_group(&self, g: Arc<Group>) {
        let cancel = CancellationToken::new();
        let m = self.clone();
        let key = g.key().to_string();
        let c = cancel.clone();
        let feed = match g.spec().evaluation {
            EvaluationMode::OnScrape => self.inner.landed.lock().as_ref().map(|t| t.subscribe()),
            EvaluationMode::Interval => None,
        };
        let handle = tokio::spawn(async move {
            match feed {
                Some(rx) => m.run_group_on_scrape(g, rx, c).await,
                None => m.run_group(g, c).await,
            }
        });
        self.inner
            .tasks
            .lock()
            .insert(key, Running { cancel, handle });
    }

    async fn run_group(&self, g: Arc<Group>, cancel: CancellationToken) {
        let interval = g.interval_ms();
        let mut ts = eval_slot(&g, now_ms()) + interval;
        let mut missed = 0u64;
        loop {
            let wait = (ts - now_ms()).max(0) as u64;
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            self.inner.metrics.iteration(g.key(), missed);
            let m = self.clone();
            let group = g.clone();
            let done = tokio::task::spawn_blocking(move || m.eval_group(&group, ts)).await;
            if done.is_err() {
                tracing::error!(group = %g.key(), "rule group evaluation panicked");
            }
            // Wake at the next slot; slots that passed meanwhile are missed.
            let next = ts + interval;
            let wait = (next - now_ms()).max(0) as u64;
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            let k = ((now_ms() - ts) / interval).max(1);
            missed = (k - 1) as u64;
            ts += k * interval;
        }
    }

    /// Evaluates one group at `ts` (ms), records metrics, history and events.
    pub fn eval_group(&self, g: &Group, ts: i64) {
        let started = Instant::now();
        let settings = self.inner.settings.read().clone();
        let remote: Option<Arc<dyn RuleQuerier>> = g.spec().datasource.as_ref().map(|(name, _)| {
            match self.inner.datasources.read().get(name) {
                Some(q) => q.clone() as Arc<dyn RuleQuerier>,
                None => Arc::new(datasource::Unknown(name.clone())),
            }
        });
        let ctx = EvalContext {
            store: &self.inner.store,
            querier: remote.as_deref().unwrap_or(&*self.inner.querier),
            external_labels: &settings.external_labels,
            external_url: &settings.external_url,
            default_query_offset_ms: settings.query_offset_ms,
        };
        let out = g.eval(ts, &ctx);
        if let Some(remote) = remote.as_deref().filter(|_| g.take_remote_restore()) {
            let t = ts - g.query_offset_ms(settings.query_offset_ms);
            match g.restore_for_state(
                remote,
                t,
                FOR_OUTAGE_TOLERANCE_MS,
                &settings.external_labels,
            ) {
                Ok(n) => {
                    tracing::info!(group = %g.key(), restored = n, "for state restored from the datasource")
                }
                Err(e) => {
                    tracing::warn!(group = %g.key(), error = %e, "for state not restored from the datasource")
                }
            }
        }
        let secs = started.elapsed().as_secs_f64();
        self.inner.metrics.evaluated(g.key(), &out, ts, secs);
        if !out.transitions.is_empty() {
            let mut h = self.inner.history.lock();
            for t in &out.transitions {
                self.inner.metrics.transition(t);
                h.push(t.clone());
            }
            drop(h);
            for t in &out.transitions {
                // No subscriber is fine: events are also in the history.
                let _ = self.inner.events.send(t.clone());
            }
        }
        // Written after publishing: a crash in between re-sends at worst,
        // never loses a notification.
        self.persist_eval(g, ts, &out.transitions);
        let counts = active_counts(g);
        self.inner
            .active_counts
            .lock()
            .insert(g.key().to_string(), counts);
        self.publish_active_counts();
    }

    fn publish_active_counts(&self) {
        let mut total: BTreeMap<(AlertState, String), i64> = BTreeMap::new();
        for counts in self.inner.active_counts.lock().values() {
            for (k, n) in counts {
                *total.entry(k.clone()).or_default() += n;
            }
        }
        let v: Vec<_> = total.into_iter().collect();
        self.inner.metrics.set_active(&v);
    }
}

/// Pending and firing alerts of a group by (state, severity label or "none").
fn active_counts(g: &Group) -> ActiveCounts {
    let mut m: BTreeMap<(AlertState, String), i64> = BTreeMap::new();
    g.with_state(|s| {
        for r in &s.rules {
            for a in r.alerts.iter().filter(|a| a.state != AlertState::Inactive) {
                let sev = a
                    .severity
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.labels.get("severity").map(str::to_string))
                    .unwrap_or_else(|| "none".to_string());
                *m.entry((a.state, sev)).or_default() += 1;
            }
        }
    });
    m.into_iter().collect()
}

mod on_scrape_loop;

mod state;
pub use state::HISTORY_CUT_EVERY;

#[cfg(test)]
mod tests;
