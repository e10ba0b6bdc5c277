//! The notifier's link to the state database (`--storage.path`): what it writes when, and
//! how it comes back after a restart (including `kill -9`).
//!
//! - **Queues:** a notification is written ahead before its worker may send it and deleted
//!   when delivered or given up (see [`super::queue`]). At start, every notification still in
//!   the table goes back into its (receiver, integration) queue, in the order queued, with the
//!   same idempotency key and payload; one whose receiver or integration no longer exists is
//!   dead-lettered with reason `receiver_removed`.
//! - **Dead letters:** written with the give-up that makes them, loaded at start, bounded.
//! - **Aggregation groups:** each group's alerts and notification log are written whenever
//!   they change, in the same transaction as the notifications a flush queues; restored
//!   groups keep their alerts (so resolves are still sent) and their log (so a firing alert
//!   is not notified again before `repeat_interval`).
//! - **Silences:** written through on every change (see [`super::silence`]).
//! - **Posted alerts** (`POST /api/v2/alerts`): written when new, changed or gone (not for a
//!   plain re-send); see [`posted`].
//!
//! Writes go through [`NotifyStore`]: the dispatcher and the workers commit on Tokio's
//! blocking pool (`spawn_blocking`), rare writes (a silence, a dead letter) in place with
//! `block_in_place`. A failed write is logged and counted
//! (`watchfire_storage_write_failures_total`); notifications keep flowing from memory.

use super::dispatch::Dispatcher;
use super::queue::{DeadLetters, FailedNotification, QueueMap};
use crate::persist::{self, BadRecord, Batch, PersistError, StateDb};
use chrono::Utc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub mod posted;
pub mod records;

/// The state database as the notifier uses it, with the next queue sequence number.
#[derive(Debug)]
pub struct NotifyStore {
    db: Arc<StateDb>,
    next_queue_seq: AtomicU64,
}

impl NotifyStore {
    /// A store over `db`; queue sequence numbers continue after the highest stored.
    pub fn new(db: Arc<StateDb>) -> Arc<NotifyStore> {
        Arc::new(NotifyStore {
            db,
            next_queue_seq: AtomicU64::new(0),
        })
    }

    /// The database.
    pub fn db(&self) -> &Arc<StateDb> {
        &self.db
    }

    /// A fresh queue sequence number.
    pub fn next_queue_seq(&self) -> u64 {
        self.next_queue_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Commits `batch` on the blocking pool; logs a failure (`what` names the records).
    pub async fn commit(self: &Arc<Self>, batch: Batch, what: &'static str) {
        if batch.is_empty() {
            return;
        }
        let me = self.clone();
        let result = tokio::task::spawn_blocking(move || me.db.commit(batch)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log_failure(what, &e),
            Err(e) => tracing::error!(error = %e, what, "state database write task failed"),
        }
    }

    /// Commits `batch` now, from sync code: with `block_in_place` on a multi-thread runtime,
    /// directly elsewhere. For rare writes.
    pub fn commit_now(&self, batch: Batch, what: &'static str) {
        if let Err(e) = commit_blocking(&self.db, batch) {
            log_failure(what, &e);
        }
    }
}

fn log_failure(what: &str, e: &PersistError) {
    tracing::error!(error = %e, what,
        "state database write failed; kept in memory only (lost on restart)");
}

/// Commits `batch` to `db` without stalling a Tokio worker thread where avoidable.
pub(crate) fn commit_blocking(db: &StateDb, batch: Batch) -> Result<(), PersistError> {
    if batch.is_empty() {
        return Ok(());
    }
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(|| db.commit(batch))
    } else {
        db.commit(batch)
    }
}

fn report_bad(bad: &[BadRecord]) {
    for b in bad {
        tracing::warn!(table = b.table, key = %b.key, reason = %b.reason,
            "unreadable state record skipped");
    }
}

/// What a restore brought back, for the start-up log and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Notifications re-queued for delivery.
    pub queued: usize,
    /// Queued notifications whose receiver or integration is gone (dead-lettered).
    pub orphaned: usize,
    /// Dead letters loaded.
    pub dead_letters: usize,
    /// Aggregation groups restored.
    pub groups: usize,
    /// Records that could not be read (skipped, logged).
    pub unreadable: usize,
}

/// Where a notifier being built gets its dead-letter list from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadLetterSource {
    /// Loaded from the database (at start).
    Database,
    /// Carried over, already filled, from the notifier it replaces (on reload).
    Carried,
}

/// Loads dead letters, aggregation groups and queued notifications into a notifier being
/// built. Queued notifications are pushed into `queues` (their workers need not run yet).
pub(crate) fn restore(
    store: &NotifyStore,
    dispatcher: &mut Dispatcher,
    queues: &QueueMap,
    dead: &DeadLetters,
    dead_source: DeadLetterSource,
) -> Result<Restored, PersistError> {
    let db = &store.db;
    let mut r = Restored::default();
    let mut batch = Batch::new();

    if dead_source == DeadLetterSource::Database {
        let (letters, bad) = records::load_dead(db)?;
        report_bad(&bad);
        r.unreadable += bad.len();
        r.dead_letters = letters.len();
        for seq in dead.restore(letters) {
            persist::queue::delete_dead(&mut batch, seq);
        }
        r.dead_letters = r.dead_letters.min(dead.len());
    }

    let (groups, bad) = records::load_groups(db)?;
    report_bad(&bad);
    r.unreadable += bad.len();
    let stale: Vec<(usize, String)> = groups
        .iter()
        .map(|g| (g.route_index, g.key.clone()))
        .collect();
    let restored = dispatcher.restore(groups, tokio::time::Instant::now(), Utc::now());
    r.groups = restored.len();
    // Rewrite under the current route indexes (they change when the route tree does).
    for (index, key) in stale {
        persist::dispatch::delete(&mut batch, index, &key);
    }
    for g in &restored {
        records::put_group(&mut batch, g)?;
    }

    let (entries, bad) = records::load_queued(db)?;
    report_bad(&bad);
    r.unreadable += bad.len();
    let next = entries.iter().map(|(s, _)| s + 1).max().unwrap_or(0);
    store.next_queue_seq.fetch_max(next, Ordering::Relaxed);
    let mut targets = Vec::new();
    for (seq, q) in entries {
        let queue = queues
            .get(&q.receiver)
            .and_then(|qs| qs.get(q.integration))
            .filter(|queue| queue.integration_name() == q.integration_name);
        match queue {
            Some(queue) => targets.push((queue.clone(), seq, q)),
            None => {
                r.orphaned += 1;
                persist::queue::delete_queued(&mut batch, seq);
                let entry = FailedNotification {
                    error: format!(
                        "receiver {:?} has no {} integration number {} any more",
                        q.receiver,
                        q.integration_name,
                        q.integration + 1
                    ),
                    receiver: q.receiver,
                    integration: q.integration_name,
                    notification: q.notification,
                    attempts: 0,
                    reason: "receiver_removed".to_owned(),
                    failed_at: Utc::now(),
                    fallback: None,
                };
                dead.push_in(entry, Some(&mut batch));
            }
        }
    }
    commit_blocking(db, batch)?;
    r.queued = targets.len();
    for (queue, seq, q) in targets {
        queue.restore(seq, q);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeliveryConfig;
    use crate::model::Labels;
    use crate::notify::inhibit::Inhibitor;
    use crate::notify::integration::{async_trait, Integration, NotifyError};
    use crate::notify::metrics::NotifyMetrics;
    use crate::notify::queue::{
        fallback_map, DeliveryQueue, QueueSpec, QueuedNotification, DEAD_LETTER_CAPACITY,
    };
    use crate::notify::route::Route;
    use crate::notify::silence::Silences;
    use crate::notify::{Notification, NotificationReason, NotifyAlert};
    use crate::persist::Table;
    use parking_lot::Mutex;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    struct Hook;

    #[async_trait]
    impl Integration for Hook {
        fn name(&self) -> &str {
            "webhook"
        }
        async fn notify(&self, _: &Notification) -> Result<(), NotifyError> {
            Ok(())
        }
    }

    fn note(name: &str) -> Notification {
        let a = NotifyAlert::firing(Labels::from_pairs([("alertname", name)]), Utc::now());
        Notification::new(
            "ops",
            "{}:{}",
            Labels::empty(),
            NotificationReason::FirstNotification,
            vec![a],
            "",
            Utc::now(),
        )
    }

    fn queued(receiver: &str, integration: usize, kind: &str, name: &str) -> QueuedNotification {
        QueuedNotification {
            receiver: receiver.into(),
            integration,
            integration_name: kind.into(),
            is_fallback: false,
            enqueued_at: Utc::now(),
            notification: note(name),
        }
    }

    fn setup(store: &Arc<NotifyStore>) -> (QueueMap, Arc<DeadLetters>, Dispatcher) {
        let dead = Arc::new(DeadLetters::default());
        let all = Arc::new(OnceLock::new());
        let q = DeliveryQueue::new(
            QueueSpec {
                receiver: "ops".into(),
                integration: Arc::new(Hook),
                delivery: DeliveryConfig::default(),
                fallback: None,
            },
            0,
            NotifyMetrics::default(),
            dead.clone(),
            all.clone(),
            Some(store.clone()),
        );
        let queues: QueueMap = HashMap::from([("ops".to_owned(), vec![q])]);
        let _ = all.set(fallback_map(&queues));
        let d = Dispatcher::new(
            Route::from_config(None),
            Arc::new(Mutex::new(Inhibitor::new(Vec::new()))),
            Arc::new(Silences::new()),
            HashMap::new(),
            String::new(),
        );
        (queues, dead, d)
    }

    #[test]
    fn queued_notifications_return_to_their_queues_or_are_dead_lettered() {
        let store = NotifyStore::new(StateDb::memory());
        let mut b = Batch::new();
        records::put_queued(&mut b, 3, &queued("ops", 0, "webhook", "A")).unwrap();
        records::put_queued(&mut b, 7, &queued("gone", 0, "webhook", "B")).unwrap();
        records::put_queued(&mut b, 9, &queued("ops", 0, "slack", "C")).unwrap();
        records::put_queued(&mut b, 11, &queued("ops", 0, "webhook", "D")).unwrap();
        store.db().commit(b).unwrap();
        let (queues, dead, mut d) = setup(&store);
        let r = restore(&store, &mut d, &queues, &dead, DeadLetterSource::Database).unwrap();
        assert_eq!((r.queued, r.orphaned, r.unreadable), (2, 2, 0), "{r:?}");
        assert_eq!(queues["ops"][0].len(), 2);
        let letters = dead.list();
        assert_eq!(letters.len(), 2);
        assert!(letters.iter().all(|l| l.reason == "receiver_removed"));
        assert!(
            letters[0].error.contains("\"gone\""),
            "{}",
            letters[0].error
        );
        let (left, _) = records::load_queued(store.db()).unwrap();
        let seqs: Vec<u64> = left.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [3, 11], "orphans leave the queue table");
        assert_eq!(store.db().count(Table::DeadLetters).unwrap(), 2);
        assert_eq!(
            store.next_queue_seq(),
            12,
            "new entries sort after the restored ones"
        );
    }

    #[test]
    fn dead_letters_are_restored_within_the_cap() {
        let store = NotifyStore::new(StateDb::memory());
        let mut b = Batch::new();
        let extra = 5;
        for seq in 0..(DEAD_LETTER_CAPACITY + extra) as u64 {
            let f = FailedNotification {
                receiver: "ops".into(),
                integration: "webhook".into(),
                notification: note("A"),
                attempts: 1,
                reason: "connect".into(),
                error: format!("attempt {seq}"),
                failed_at: Utc::now(),
                fallback: None,
            };
            records::put_dead(&mut b, seq, &f).unwrap();
        }
        store.db().commit(b).unwrap();
        let (queues, dead, mut d) = setup(&store);
        let r = restore(&store, &mut d, &queues, &dead, DeadLetterSource::Database).unwrap();
        assert_eq!(r.dead_letters, DEAD_LETTER_CAPACITY);
        assert_eq!(
            dead.list()[0].error,
            format!("attempt {extra}"),
            "oldest dropped"
        );
        let stored = store.db().count(Table::DeadLetters).unwrap();
        assert_eq!(stored, DEAD_LETTER_CAPACITY as u64);
    }
}
