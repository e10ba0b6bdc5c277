//! The manager's link to the state database: restoring alert state and
//! history at start, writing after each evaluation, the history retention cut.

use super::{active_counts, now_ms, Manager};
use crate::persist::StateDb;
use crate::rules::durable::{cut_history, Durable, RestoreOptions};
use crate::rules::group::Group;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often transitions older than the history retention are deleted.
pub const HISTORY_CUT_EVERY: Duration = Duration::from_secs(3600);

impl Manager {
    /// Persists alert state and history in `db` from now on. Call it before
    /// the first [`Manager::update`]: that load restores the saved alerts of
    /// rules that still exist (see [`crate::rules::durable`]). The history ring is
    /// refilled here, after cutting transitions older than the retention.
    pub fn set_state(&self, db: Arc<StateDb>, opts: RestoreOptions) {
        let started = Instant::now();
        match cut_history(&db, opts.history_retention, now_ms()) {
            Ok(n) if n > 0 => tracing::info!(
                removed = n,
                "alert history older than the retention deleted"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cutting the alert history"),
        }
        let mut d = Durable::new(db, opts);
        match d.load_history(&mut self.inner.history.lock()) {
            Ok(n) => tracing::info!(
                transitions = n,
                took_ms = started.elapsed().as_millis() as u64,
                "alert history restored"
            ),
            Err(e) => tracing::error!(error = %e, "alert history not restored"),
        }
        *self.inner.durable.lock() = Some(d);
    }

    /// On the first load with a state database, restores saved alerts into
    /// `new`; afterwards deletes the saved alerts of groups a reload removed.
    pub(super) fn restore_or_forget(
        &self,
        new: &BTreeMap<String, Arc<Group>>,
        old: &BTreeMap<String, Arc<Group>>,
    ) {
        let mut durable = self.inner.durable.lock();
        let Some(d) = durable.as_mut() else { return };
        if d.needs_restore() {
            let started = Instant::now();
            let offset = self.inner.settings.read().query_offset_ms;
            match d.restore(new, now_ms(), offset, &self.inner.store) {
                Ok(r) => tracing::info!(
                    restored = r.restored,
                    dropped = r.dropped,
                    unreadable = r.bad,
                    took_ms = started.elapsed().as_millis() as u64,
                    "alert state restored"
                ),
                Err(e) => tracing::error!(error = %e, "alert state not restored"),
            }
            for g in new.values() {
                let counts = active_counts(g);
                self.inner
                    .active_counts
                    .lock()
                    .insert(g.key().to_string(), counts);
            }
            return;
        }
        for key in old.keys().filter(|k| !new.contains_key(*k)) {
            if let Err(e) = d.forget_group(key) {
                tracing::warn!(group = %key, error = %e, "deleting saved alerts of a removed group");
            }
        }
    }

    /// Cuts the alert history to the retention every [`HISTORY_CUT_EVERY`].
    pub(super) fn spawn_retention(&self) {
        let Some((db, opts)) = self
            .inner
            .durable
            .lock()
            .as_ref()
            .map(|d| (d.db().clone(), d.options()))
        else {
            return;
        };
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(HISTORY_CUT_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let db = db.clone();
                let cut = tokio::task::spawn_blocking(move || {
                    cut_history(&db, opts.history_retention, now_ms())
                })
                .await;
                match cut {
                    Ok(Ok(n)) if n > 0 => {
                        tracing::info!(
                            removed = n,
                            "alert history older than the retention deleted"
                        )
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "cutting the alert history"),
                    Err(e) => tracing::error!(error = %e, "alert history cut panicked"),
                }
            }
        });
        if let Some(old) = self.inner.retention_task.lock().replace(task) {
            old.abort();
        }
    }

    /// Writes what the evaluation of `g` at `ts` changed (see
    /// [`Durable::after_eval`]); a failure is logged and state stays in memory.
    pub(super) fn persist_eval(
        &self,
        g: &Group,
        ts: i64,
        transitions: &[crate::rules::AlertTransition],
    ) {
        if let Some(d) = self.inner.durable.lock().as_mut() {
            if let Err(e) = d.after_eval(g, ts, transitions) {
                tracing::warn!(group = %g.key(), error = %e, "alert state not written; kept in memory");
            }
        }
    }
}
