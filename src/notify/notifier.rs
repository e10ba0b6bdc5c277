//! The running notifier: builds integrations and queues from the config, and runs the
//! dispatcher, the delivery workers and the Alertmanager forwarder as tasks.
//!
//! ```text
//! NotifyAlert ─▶ Notifier::send ─▶ dispatcher task ─▶ groups ─▶ queue per (receiver, integration) ─▶ worker ─▶ endpoint
//!                      └────────▶ forwarder task (alerting.alertmanagers) ─▶ POST /api/v2/alerts
//! ```
//!
//! With [`NotifierBuilder::state`] nothing the notifier holds is lost across a restart: see
//! [`super::durable`].

use super::alert::NotifyAlert;
use super::dispatch::{Dispatcher, GroupMarker};
use super::durable::{self, DeadLetterSource, NotifyStore, Restored};
use super::ha::Ha;
use super::inhibit::Inhibitor;
use super::integration::Integration;
use super::integrations::alertmanager::{AlertmanagersView, ForwardOptions, Forwarder};
use super::integrations::http_client;
use super::metrics::NotifyMetrics;
use super::preview::build_integrations;
use super::queue::{fallback_map, DeadLetters, DeliveryQueue, FallbackMap, QueueMap, QueueSpec};
use super::route::Route;
use super::silence::Silences;
use super::time_interval::TimeIntervals;
use crate::config::{Config, DeliveryConfig};
use crate::model::Labels;
use crate::persist::{self, Batch, StateDb};
use crate::scrape::discovery::SdMetrics;
use crate::scrape::{build_client, http_sd_client, HttpSd};
use chrono::Utc;
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Longest [`Notifier::shutdown`] waits for the dispatcher to take in the events sent so far.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Alert events waiting for the dispatcher before [`Notifier::send`] waits.
pub const EVENT_CAPACITY: usize = 10_000;

/// How often silences past their retention are purged (Alertmanager's
/// `--data.maintenance-interval` default); more often when the retention is shorter.
const SILENCE_GC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How an embedder's integration is delivered; start from `IntegrationOptions::default()`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IntegrationOptions {
    /// Also notify about resolved alerts.
    pub send_resolved: bool,
    /// Retry settings.
    pub delivery: DeliveryConfig,
}

impl Default for IntegrationOptions {
    fn default() -> Self {
        IntegrationOptions {
            send_resolved: true,
            delivery: DeliveryConfig::default(),
        }
    }
}

/// The notifier could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An integration's settings are unusable (e.g. an email TLS CA file that does not parse).
    #[error("receiver {receiver:?}: {message}")]
    Integration {
        /// The receiver.
        receiver: String,
        /// What is wrong.
        message: String,
    },
    /// The `templates:` files cannot be read or parsed.
    #[error("templates: {0}")]
    Templates(String),
    /// A custom integration names a receiver the config does not define.
    #[error("integration registered for unknown receiver {0:?}")]
    UnknownReceiver(String),
    /// An `alerting.alertmanagers` set's HTTP SD client cannot be built (bad TLS files).
    #[error("alerting.alertmanagers[{index}]: {message}")]
    Alertmanagers {
        /// The set's index.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The notifier was shut down.
    #[error("the notifier was shut down")]
    Stopped,
}

/// Builds a [`Notifier`] from a config.
pub struct NotifierBuilder<'a> {
    config: &'a Config,
    external_url: String,
    custom: Vec<(String, Arc<dyn Integration>, IntegrationOptions)>,
    silences: Option<Arc<Silences>>,
    forward: ForwardOptions,
    client: Option<reqwest::Client>,
    state: Option<Arc<StateDb>>,
    carried: Option<Carried>,
    sd_metrics: SdMetrics,
    ha: Option<super::ha::Ha>,
}

/// What a notifier hands to its successor on a configuration reload: the silence store,
/// the dead-letter list and the metric families (registered once, shown by the API), which
/// outlive any one routing tree. Queued notifications and aggregation groups travel through
/// the state database instead.
#[derive(Debug)]
pub struct Carried {
    silences: Arc<Silences>,
    dead_letters: Arc<DeadLetters>,
    metrics: NotifyMetrics,
}

impl<'a> NotifierBuilder<'a> {
    /// Starts from `config` (its `route`, `receivers`, `inhibit_rules`, `alerting`).
    pub fn new(config: &'a Config) -> Self {
        NotifierBuilder {
            config,
            external_url: String::new(),
            custom: Vec::new(),
            silences: None,
            forward: ForwardOptions {
                evaluation_interval: config.global.evaluation_interval.as_duration(),
                ..ForwardOptions::default()
            },
            client: None,
            state: None,
            carried: None,
            sd_metrics: SdMetrics::default(),
            ha: None,
        }
    }

    /// Sends only what this HA replica may send ([`super::ha::Ha::claim`]) and keeps the
    /// groups' notification logs in step with the shared one.
    pub fn ha(mut self, ha: super::ha::Ha) -> Self {
        self.ha = Some(ha);
        self
    }

    /// Continues from a notifier that was shut down (see [`Notifier::shutdown`]): shares its
    /// silences, dead letters and metrics; with the same [`NotifierBuilder::state`] database
    /// its queued notifications and aggregation groups are picked up as after a restart.
    pub fn carry(mut self, carried: Carried) -> Self {
        self.silences = Some(carried.silences.clone());
        self.carried = Some(carried);
        self
    }

    /// The configuration this builds from.
    pub fn config(&self) -> &Config {
        self.config
    }

    /// Builds the integrations (templates, credentials files, TLS settings) without starting
    /// anything: the errors [`NotifierBuilder::start`] would return.
    pub fn check(&self) -> Result<(), BuildError> {
        let client = self.client.clone().unwrap_or_else(http_client);
        self.specs(&client)?;
        self.alertmanager_clients()?;
        self.alertmanager_http_sd().map(|_| ())
    }

    /// Counts Alertmanager discovery failures in these counters (the scrape manager's, so
    /// each Prometheus SD metric is registered once).
    pub fn sd_metrics(mut self, metrics: SdMetrics) -> Self {
        self.sd_metrics = metrics;
        self
    }

    /// Each Alertmanager set's own client: `Some` for a set with `tls_config`.
    fn alertmanager_clients(&self) -> Result<Vec<Option<reqwest::Client>>, BuildError> {
        let mut out = Vec::new();
        for (index, set) in self.config.alerting.alertmanagers.iter().enumerate() {
            if set.tls_config == crate::config::TlsConfig::default() {
                out.push(None);
                continue;
            }
            let owner = format!("alerting.alertmanagers[{index}]");
            let client = build_client(&owner, &set.tls_config)
                .map_err(|message| BuildError::Alertmanagers { index, message })?;
            out.push(Some(client));
        }
        Ok(out)
    }

    /// Each Alertmanager set's HTTP SD endpoints with their clients.
    fn alertmanager_http_sd(&self) -> Result<Vec<Vec<HttpSd>>, BuildError> {
        let mut out = Vec::new();
        for (index, set) in self.config.alerting.alertmanagers.iter().enumerate() {
            let owner = format!("alerting.alertmanagers[{index}]");
            let clients = set
                .http_sd_configs
                .iter()
                .map(|sd| http_sd_client(&owner, sd))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|message| BuildError::Alertmanagers { index, message })?;
            out.push(clients);
        }
        Ok(out)
    }

    /// Keeps silences, queued notifications, dead letters and aggregation groups in `db`, and
    /// restores what it holds at start (see [`super::durable`]).
    pub fn state(mut self, db: Arc<StateDb>) -> Self {
        self.state = Some(db);
        self
    }

    /// watchfire's external URL, for back-links in notifications.
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.external_url = url.into();
        self
    }

    /// Adds an integration of your own to the receiver `receiver` (which the config must
    /// define, possibly with no integrations of its own).
    pub fn integration(
        mut self,
        receiver: impl Into<String>,
        integration: Arc<dyn Integration>,
        options: IntegrationOptions,
    ) -> Self {
        self.custom.push((receiver.into(), integration, options));
        self
    }

    /// Shares an existing silence store (keep silences across config reloads).
    pub fn silences(mut self, silences: Arc<Silences>) -> Self {
        self.silences = Some(silences);
        self
    }

    /// Alertmanager forwarding timing (resend delay, evaluation interval).
    pub fn forward_options(mut self, options: ForwardOptions) -> Self {
        self.forward = options;
        self
    }

    /// Uses this HTTP client for webhooks, Slack and Alertmanagers.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Builds the integrations and starts the tasks; call inside a Tokio runtime.
    pub fn start(self) -> Result<Notifier, BuildError> {
        let client = self.client.clone().unwrap_or_else(http_client);
        let (metrics, dead, dead_source) = match &self.carried {
            Some(c) => (
                c.metrics.clone(),
                c.dead_letters.clone(),
                DeadLetterSource::Carried,
            ),
            None => (
                NotifyMetrics::default(),
                Arc::default(),
                DeadLetterSource::Database,
            ),
        };
        let all_queues: Arc<OnceLock<FallbackMap>> = Arc::new(OnceLock::new());
        let store = self.state.clone().map(NotifyStore::new);
        let specs = self.specs(&client)?;
        let http_sd = self.alertmanager_http_sd()?;
        let set_clients = self.alertmanager_clients()?;
        let mut queues: QueueMap = HashMap::new();
        let mut flags: HashMap<String, Vec<bool>> = HashMap::new();
        for (spec, send_resolved) in specs {
            let receiver = spec.receiver.clone();
            let entry = queues.entry(receiver.clone()).or_default();
            let queue = DeliveryQueue::new(
                spec,
                entry.len(),
                metrics.clone(),
                dead.clone(),
                all_queues.clone(),
                store.clone(),
            );
            entry.push(queue);
            flags.entry(receiver).or_default().push(send_resolved);
        }
        let _ = all_queues.set(fallback_map(&queues));

        let silences = self.silences.unwrap_or_default();
        let inhibitor = Arc::new(Mutex::new(Inhibitor::new(
            self.config.inhibit_rules.clone(),
        )));
        let route = Route::from_config(self.config.route.as_ref());
        let mut dispatcher = Dispatcher::new(
            route.clone(),
            inhibitor.clone(),
            silences.clone(),
            flags,
            self.external_url.clone(),
        )
        .with_time_intervals(TimeIntervals::from_config(self.config))
        .with_suppressed_counter(metrics.suppressed.clone());
        let marker = dispatcher.marker();
        let restored = match &store {
            Some(store) => restore_all(
                store,
                &silences,
                &mut dispatcher,
                &queues,
                &dead,
                dead_source,
            ),
            None => Restored::default(),
        };

        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        for queue in queues.values().flatten() {
            tasks.push(tokio::spawn(queue.clone().run(cancel.clone())));
        }
        let (tx, rx) = mpsc::channel(EVENT_CAPACITY);
        let dispatcher = tokio::spawn(run_dispatcher(
            dispatcher,
            rx,
            queues.clone(),
            store,
            self.ha.clone(),
            cancel.clone(),
        ));
        tasks.push(tokio::spawn(gc_silences(silences.clone(), cancel.clone())));

        let sets = self.config.alerting.alertmanagers.clone();
        let alertmanagers: Arc<RwLock<Vec<AlertmanagersView>>> = Arc::default();
        let forward_tx = if !sets.is_empty() {
            let (ftx, frx) = mpsc::channel(EVENT_CAPACITY);
            let forwarder = Forwarder::new(sets, client, self.forward, metrics.clone())
                .with_relabel(self.config.alerting.alert_relabel_configs.clone())
                .with_discovery(http_sd, self.sd_metrics.clone(), alertmanagers.clone())
                .with_set_clients(set_clients);
            tasks.push(tokio::spawn(forwarder.run(frx, cancel.clone())));
            Some(ftx)
        } else {
            None
        };
        Ok(Notifier {
            tx,
            forward_tx,
            dispatcher,
            silences,
            inhibitor,
            dead_letters: dead,
            metrics,
            queues,
            cancel,
            tasks,
            restored,
            route,
            marker,
            resolve_timeout: self.config.global.resolve_timeout.as_duration(),
            alertmanagers,
        })
    }

    /// One queue spec (and its `send_resolved`) per integration, in config order; the default
    /// log receiver when the config has no route.
    fn specs(&self, client: &reqwest::Client) -> Result<Vec<(QueueSpec, bool)>, BuildError> {
        let spec = |receiver: &str,
                    fallback: &Option<String>,
                    i: Arc<dyn Integration>,
                    d: &DeliveryConfig| QueueSpec {
            receiver: receiver.to_owned(),
            integration: i,
            delivery: d.clone(),
            fallback: fallback.clone(),
        };
        let mut out: Vec<(QueueSpec, bool)> = build_integrations(self.config, client)?
            .into_iter()
            .map(|b| {
                let q = spec(&b.receiver, &b.fallback, b.integration, &b.delivery);
                (q, b.send_resolved)
            })
            .collect();
        for (receiver, integration, options) in &self.custom {
            let Some(r) = self.config.receivers.iter().find(|r| &r.name == receiver) else {
                return Err(BuildError::UnknownReceiver(receiver.clone()));
            };
            let i = spec(
                receiver,
                &r.fallback_receiver,
                integration.clone(),
                &options.delivery,
            );
            out.push((i, options.send_resolved));
        }
        Ok(out)
    }
}

/// Loads silences and the notifier's saved state; a database that cannot be read is logged
/// and the notifier starts empty.
fn restore_all(
    store: &NotifyStore,
    silences: &Silences,
    dispatcher: &mut Dispatcher,
    queues: &QueueMap,
    dead: &DeadLetters,
    dead_source: DeadLetterSource,
) -> Restored {
    dispatcher.track_changes();
    let db = store.db().clone();
    match silences.persist_to(db, Utc::now()) {
        Ok(n) => tracing::info!(silences = n, "silences restored"),
        Err(e) => tracing::error!(error = %e, "silences not restored"),
    }
    match durable::restore(store, dispatcher, queues, dead, dead_source) {
        Ok(r) => {
            tracing::info!(
                queued = r.queued,
                orphaned = r.orphaned,
                dead_letters = r.dead_letters,
                groups = r.groups,
                unreadable = r.unreadable,
                "notifier state restored"
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "notifier state not restored");
            Restored::default()
        }
    }
}

async fn gc_silences(silences: Arc<Silences>, cancel: CancellationToken) {
    let retention = silences.limits().retention.to_std().unwrap_or_default();
    let period = retention.clamp(std::time::Duration::from_secs(1), SILENCE_GC_INTERVAL);
    let mut every = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = every.tick() => {
                let purged = silences.gc(Utc::now());
                if purged > 0 {
                    tracing::debug!(purged, "purged silences past their retention");
                }
            }
            _ = cancel.cancelled() => return,
        }
    }
}

async fn run_dispatcher(
    mut d: Dispatcher,
    mut rx: mpsc::Receiver<NotifyAlert>,
    queues: QueueMap,
    store: Option<Arc<NotifyStore>>,
    ha: Option<Ha>,
    cancel: CancellationToken,
) {
    let (mut nflog, mut takeovers) = match ha.as_ref().map(Ha::events) {
        Some(e) => (Some(e.nflog), Some(e.takeovers)),
        None => (None, None),
    };
    // Entries of the shared notification log taken into the groups so far.
    let mut applied = 0;
    if let Some(ha) = &ha {
        applied = apply_shared_log(&mut d, ha, applied);
    }
    loop {
        let deadline = d.next_deadline();
        let mut closed = false;
        tokio::select! {
            event = rx.recv() => match event {
                Some(alert) => {
                    d.ingest(alert, tokio::time::Instant::now(), Utc::now());
                    while let Ok(more) = rx.try_recv() {
                        d.ingest(more, tokio::time::Instant::now(), Utc::now());
                    }
                }
                // Every sender is gone (shutdown): one last round for what came in.
                None => closed = true,
            },
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => {}
            Some(()) = changed(nflog.as_mut()) => {
                if let Some(ha) = &ha {
                    applied = apply_shared_log(&mut d, ha, applied);
                }
            }
            Some(()) = changed(takeovers.as_mut()) => {
                d.hurry(tokio::time::Instant::now());
            }
            _ = cancel.cancelled() => return,
        }
        dispatch_round(&mut d, &queues, &store, ha.as_ref()).await;
        if closed {
            return;
        }
    }
}

/// Resolves when `rx` changes; `None` when there is no receiver or its sender is gone
/// (then the `select!` branch is disabled).
async fn changed<T>(rx: Option<&mut tokio::sync::watch::Receiver<T>>) -> Option<()> {
    rx?.changed().await.ok()
}

/// Takes the shared log's entries newer than revision `after` into the groups; returns the
/// highest revision taken.
fn apply_shared_log(d: &mut Dispatcher, ha: &Ha, after: i64) -> i64 {
    let (updates, highest) = ha.log_updates_since(after);
    let (now, wall) = (tokio::time::Instant::now(), Utc::now());
    for update in updates {
        d.set_notified(update, now, wall);
    }
    highest
}

/// Flushes the groups that are due. The groups' new state and the notifications of this
/// round go to the database in one transaction, before any worker sees the notifications.
/// In an HA pair only the notifications this replica claims are queued.
async fn dispatch_round(
    d: &mut Dispatcher,
    queues: &QueueMap,
    store: &Option<Arc<NotifyStore>>,
    ha: Option<&Ha>,
) {
    let mut batch = Batch::new();
    let mut staged = Vec::new();
    let mut outs = d.flush_due(tokio::time::Instant::now(), Utc::now());
    if let Some(ha) = ha {
        if !outs.is_empty() {
            let claimed = ha.claim(outs).await;
            let (now, wall) = (tokio::time::Instant::now(), Utc::now());
            for update in claimed.updates {
                d.set_notified(update, now, wall);
            }
            outs = claimed.send;
        }
    }
    for out in outs {
        if let Some(queue) = queues
            .get(&out.receiver)
            .and_then(|q| q.get(out.integration))
        {
            staged.push((queue.clone(), queue.stage(out.notification, &mut batch)));
        }
    }
    let changes = d.take_changes();
    for (index, key) in &changes.removed {
        persist::dispatch::delete(&mut batch, *index, key);
    }
    for g in &changes.saved {
        if let Err(e) = super::durable::records::put_group(&mut batch, g) {
            tracing::error!(error = %e, "aggregation group not saved");
        }
    }
    if let Some(store) = store {
        store
            .commit(batch, "aggregation groups and queued notifications")
            .await;
    }
    for (queue, s) in staged {
        queue.push_staged(s);
    }
}

/// The running notification pipeline. Dropping it stops nothing: call
/// [`Notifier::shutdown`].
pub struct Notifier {
    tx: mpsc::Sender<NotifyAlert>,
    forward_tx: Option<mpsc::Sender<NotifyAlert>>,
    dispatcher: JoinHandle<()>,
    silences: Arc<Silences>,
    inhibitor: Arc<Mutex<Inhibitor>>,
    dead_letters: Arc<DeadLetters>,
    metrics: NotifyMetrics,
    queues: QueueMap,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    restored: Restored,
    route: Route,
    marker: Arc<GroupMarker>,
    resolve_timeout: std::time::Duration,
    /// Each Alertmanager set's discovered Alertmanagers.
    alertmanagers: Arc<RwLock<Vec<AlertmanagersView>>>,
}

/// What Alertmanager's API says about one alert now (see [`Notifier::alert_state`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertState {
    /// The receivers of the routes it matches, in routing order.
    pub receivers: Vec<String>,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the firing alerts inhibiting it.
    pub inhibited_by: Vec<u64>,
}

impl Notifier {
    /// Builds and starts a notifier for `config` with default options.
    pub fn start(config: &Config) -> Result<Notifier, BuildError> {
        NotifierBuilder::new(config).start()
    }

    /// Hands an alert event to the pipeline (and to the Alertmanager forwarder); waits when
    /// [`EVENT_CAPACITY`] events are already queued.
    pub async fn send(&self, alert: NotifyAlert) {
        if let Some(ftx) = &self.forward_tx {
            let _ = ftx.send(alert.clone()).await;
        }
        let _ = self.tx.send(alert).await;
    }

    /// The silence store (for the API).
    pub fn silences(&self) -> Arc<Silences> {
        self.silences.clone()
    }

    /// The dead-letter list (for `GET /api/v1/notifications/failed`).
    pub fn dead_letters(&self) -> Arc<DeadLetters> {
        self.dead_letters.clone()
    }

    /// Whether an alert with `labels` is silenced now (ids of the silences).
    pub fn silenced_by(&self, labels: &Labels) -> Vec<String> {
        self.silences.muting(labels, Utc::now())
    }

    /// Whether an alert with `labels` is inhibited now.
    pub fn is_inhibited(&self, labels: &Labels) -> bool {
        self.inhibitor.lock().is_inhibited(labels, Utc::now())
    }

    /// The routing tree in force.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The time intervals that muted the group of route `route_index` with `group_labels` at
    /// its last flush (Alertmanager's `mutedBy`); empty when it was not muted.
    pub fn muted_by(&self, route_index: usize, group_labels: &Labels) -> Vec<String> {
        self.marker.muted_by(route_index, group_labels)
    }

    /// `global.resolve_timeout` of the configuration in force.
    pub fn resolve_timeout(&self) -> std::time::Duration {
        self.resolve_timeout
    }

    /// Receivers, silences and inhibitions of an alert with `labels` as of `now`.
    pub fn alert_state(&self, labels: &Labels, now: chrono::DateTime<Utc>) -> AlertState {
        AlertState {
            receivers: self
                .route
                .match_labels(labels)
                .into_iter()
                .map(|r| r.receiver.clone())
                .collect(),
            silenced_by: self.silences.muting(labels, now),
            inhibited_by: self.inhibitor.lock().inhibited_by(labels, now),
        }
    }

    /// Notifications waiting, per receiver (summed over its integrations).
    pub fn queue_lengths(&self) -> HashMap<String, usize> {
        self.queues
            .iter()
            .map(|(name, qs)| (name.clone(), qs.iter().map(|q| q.len()).sum()))
            .collect()
    }

    /// Registers the notification metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    /// The metric families (shared).
    pub fn metrics(&self) -> &NotifyMetrics {
        &self.metrics
    }

    /// What was restored from the state database at start.
    pub fn restored(&self) -> &Restored {
        &self.restored
    }

    /// The Alertmanagers alerts are forwarded to and those relabeling dropped, over every
    /// `alerting.alertmanagers` set (Prometheus' `/api/v1/alertmanagers`).
    pub fn alertmanagers(&self) -> AlertmanagersView {
        let mut out = AlertmanagersView::default();
        for set in self.alertmanagers.read().iter() {
            out.active.extend(set.active.iter().cloned());
            out.dropped.extend(set.dropped.iter().cloned());
        }
        out
    }

    /// Stops: events already handed to [`Notifier::send`] are taken into their groups and
    /// the groups due are flushed (bounded by [`DRAIN_LIMIT`]), then every task stops.
    /// Notifications still queued stay in the state database, if there is one, and are sent by
    /// the next notifier on it; without one they are dropped. Returns what a successor shares.
    pub async fn shutdown(self) -> Carried {
        let Notifier {
            tx,
            forward_tx,
            dispatcher,
            silences,
            dead_letters,
            metrics,
            cancel,
            tasks,
            ..
        } = self;
        drop(tx);
        drop(forward_tx);
        let abort = dispatcher.abort_handle();
        if tokio::time::timeout(DRAIN_LIMIT, dispatcher).await.is_err() {
            tracing::warn!("notifier did not drain its events in time");
            abort.abort();
        }
        cancel.cancel();
        for task in tasks {
            let _ = task.await;
        }
        Carried {
            silences,
            dead_letters,
            metrics,
        }
    }
}
