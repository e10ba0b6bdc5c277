//! The running notifier behind a handle that survives configuration reloads.
//!
//! On reload the new routing tree and receivers replace the old ones without losing
//! anything: the new configuration is checked first (a broken one leaves the running
//! notifier alone), the old notifier takes in every event already sent and stops, and the
//! new one picks up its queued notifications and aggregation groups from the state database
//! — as after a restart — while silences, dead letters and metrics are handed over as they
//! are. Events sent during the switch wait for it.

use super::alert::NotifyAlert;
use super::api_alerts::{ApiAlerts, PostError, PostedAlert};
use super::dead_letters::DeadLetters;
use super::notifier::{BuildError, Notifier, NotifierBuilder};
use super::silence::Silences;
use crate::persist::{Batch, StateDb};
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

/// A [`Notifier`] that can be replaced while alerts keep flowing.
pub struct NotifierHandle {
    current: RwLock<Option<Notifier>>,
    silences: Arc<Silences>,
    dead_letters: Arc<DeadLetters>,
    alerts: Arc<ApiAlerts>,
    db: parking_lot::Mutex<Option<Arc<StateDb>>>,
}

impl std::fmt::Debug for NotifierHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifierHandle")
    }
}

impl NotifierHandle {
    /// Wraps a started notifier.
    pub fn new(notifier: Notifier) -> Self {
        Self {
            silences: notifier.silences(),
            dead_letters: notifier.dead_letters(),
            alerts: {
                let alerts = ApiAlerts::default();
                alerts.set_resolve_timeout(notifier.resolve_timeout());
                Arc::new(alerts)
            },
            db: parking_lot::Mutex::new(None),
            current: RwLock::new(Some(notifier)),
        }
    }

    /// Hands one of watchfire's own alert events to the current notifier (waits during a
    /// reload); the API lists it while it fires.
    pub async fn send(&self, alert: NotifyAlert) {
        self.alerts.observe_rule(&alert, Utc::now());
        self.forward(alert).await;
    }

    /// Takes alerts posted to `POST /api/v2/alerts` (see [`ApiAlerts::post`]) and hands the
    /// new, changed and resolved ones to the notifier.
    pub async fn post(&self, alerts: Vec<PostedAlert>) -> Result<(), PostError> {
        let (events, batch, outcome) = self.alerts.post(alerts, Utc::now());
        self.save(batch, "posted alerts").await;
        for event in events {
            self.forward(event).await;
        }
        outcome
    }

    /// The alerts the API shows.
    pub fn alerts(&self) -> Arc<ApiAlerts> {
        self.alerts.clone()
    }

    /// Runs `f` on the current notifier (the routing tree, silences and inhibition in force);
    /// `None` while none runs.
    pub async fn with_current<R>(&self, f: impl FnOnce(&Notifier) -> R) -> Option<R> {
        self.current.read().await.as_ref().map(f)
    }

    /// Resolves posted alerts whose end has passed, once a second, until `stop` fires.
    pub async fn run_expiry(self: Arc<Self>, stop: CancellationToken) {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    let (events, batch) = self.alerts.expire(Utc::now());
                    self.save(batch, "resolved posted alerts").await;
                    for event in events {
                        self.forward(event).await;
                    }
                }
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Keeps posted alerts in `db` from now on, after taking back those saved there before
    /// (handed to the notifier again; its notification log drops what was already sent).
    pub async fn persist_posted(&self, db: Arc<StateDb>) {
        let loaded = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || super::durable::posted::load(&db)).await
        };
        match loaded {
            Ok(Ok((saved, bad))) => {
                for b in &bad {
                    tracing::warn!(key = %b.key, reason = %b.reason, "posted alert record skipped");
                }
                let events = self.alerts.restore(saved, Utc::now());
                tracing::info!(alerts = events.len(), "posted alerts restored");
                for event in events {
                    self.forward(event).await;
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "posted alerts not restored"),
            Err(e) => tracing::error!(error = %e, "posted alerts not restored"),
        }
        *self.db.lock() = Some(db);
    }

    async fn save(&self, batch: Batch, what: &'static str) {
        if batch.is_empty() {
            return;
        }
        let Some(db) = self.db.lock().clone() else {
            return;
        };
        match tokio::task::spawn_blocking(move || db.commit(batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, what, "not saved"),
            Err(e) => tracing::error!(error = %e, what, "not saved"),
        }
    }

    async fn forward(&self, alert: NotifyAlert) {
        match &*self.current.read().await {
            Some(n) => n.send(alert).await,
            None => tracing::warn!(
                alert = %alert.labels,
                "no notifier running (shut down, or its rebuild failed); event dropped"
            ),
        }
    }

    /// The silence store, the same across reloads.
    pub fn silences(&self) -> Arc<Silences> {
        self.silences.clone()
    }

    /// The dead-letter list, the same across reloads.
    pub fn dead_letters(&self) -> Arc<DeadLetters> {
        self.dead_letters.clone()
    }

    /// Replaces the notifier with one built by `builder` (give it the same state database).
    /// When the new configuration's integrations cannot be built the running notifier is
    /// kept and the error returned.
    pub async fn reload(&self, builder: NotifierBuilder<'_>) -> Result<(), BuildError> {
        builder.check()?;
        let resolve_timeout = builder.config().global.resolve_timeout.as_duration();
        let mut slot = self.current.write().await;
        let Some(old) = slot.take() else {
            return Err(BuildError::Stopped);
        };
        let carried = old.shutdown().await;
        // `start` fails only where `check` does; this is a file changed in between.
        let new = builder.carry(carried).start().inspect_err(|e| {
            tracing::error!(error = %e, "the notifier could not be rebuilt: no notifications \
                are sent until a reload succeeds (queued ones stay in the state database)");
        })?;
        *slot = Some(new);
        self.alerts.set_resolve_timeout(resolve_timeout);
        Ok(())
    }

    /// Stops the notifier (see [`Notifier::shutdown`]); later events are dropped.
    pub async fn shutdown(&self) {
        if let Some(n) = self.current.write().await.take() {
            n.shutdown().await;
        }
    }
}
