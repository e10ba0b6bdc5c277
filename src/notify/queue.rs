//! Delivery: one bounded queue and one worker per (receiver, integration), so a dead endpoint
//! only delays its own notifications.
//!
//! A worker delivers its queue in order, one notification at a time (so a receiver sees
//! firing, escalated and resolved in the order they happened), retrying retryable failures as
//! `retry` decides. A notification that cannot be delivered goes to the dead-letter list and,
//! when the receiver has a `fallback_receiver`, to each of that receiver's queues (once: a
//! fallback never falls back again).
//!
//! **Overflow policy:** a full queue drops its *oldest* waiting notification into the
//! dead-letter list (reason `queue_full`): newer notifications describe the current state
//! better.
//!
//! **Durability** (with a state database, see [`NotifyStore`]): a notification is written to
//! the queue table before it enters the in-memory queue, so before its worker can send it,
//! and deleted once delivered or given up (in the same transaction as its dead letter and
//! its fallback copies). A crash between a successful send and that delete sends it again
//! after the restart with the same idempotency key: delivery is at least once.

pub use super::dead_letters::{DeadLetters, FailedNotification, DEAD_LETTER_CAPACITY};
use super::durable::NotifyStore;
use super::integration::{ErrorClass, Integration, NotifyError};
use super::journal::Outcome;
use super::metrics::{FailureLabels, IntegrationLabels, NotifyMetrics};
use super::notification::Notification;
use super::retry::{decide, RetryDecision};
use crate::config::DeliveryConfig;
use crate::notify::FailureReason;
use crate::persist::{self, Batch};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock, Weak};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Most notifications a queue holds before dropping the oldest.
pub const QUEUE_CAPACITY: usize = 1024;

/// A notification waiting in (or being delivered from) a queue, as the state database keeps
/// it across restarts.
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedNotification {
    /// The receiver whose queue holds it.
    pub receiver: String,
    /// Index of the integration within the receiver.
    pub integration: usize,
    /// The integration's kind, checked on restore.
    pub integration_name: String,
    /// Handed over by another receiver's `fallback_receiver` (it does not fall back again).
    pub is_fallback: bool,
    /// When it was first queued (`max_age` counts from here, across restarts too).
    pub enqueued_at: DateTime<Utc>,
    /// The notification.
    pub notification: Notification,
}

struct Pending {
    notification: Notification,
    enqueued: Instant,
    enqueued_at: DateTime<Utc>,
    is_fallback: bool,
    /// The key of its queue record, when persisted.
    seq: Option<u64>,
}

/// A notification written to the batch of the state database, to be queued in memory once
/// that batch is committed ([`DeliveryQueue::push_staged`]).
pub struct Staged(Pending);

/// Where fallbacks go: receiver name → its queues. Set once all queues exist.
pub type QueueMap = HashMap<String, Vec<Arc<DeliveryQueue>>>;

/// What each queue sees of the others, for fallbacks: weak, so queues do not keep each other
/// (and the state database they write to) alive once the notifier and its tasks are gone.
pub type FallbackMap = HashMap<String, Vec<Weak<DeliveryQueue>>>;

/// The [`FallbackMap`] of `queues`.
pub fn fallback_map(queues: &QueueMap) -> FallbackMap {
    queues
        .iter()
        .map(|(name, qs)| (name.clone(), qs.iter().map(Arc::downgrade).collect()))
        .collect()
}

/// A queue and what its worker needs.
pub struct DeliveryQueue {
    receiver: String,
    index: usize,
    integration: Arc<dyn Integration>,
    delivery: DeliveryConfig,
    fallback: Option<String>,
    items: Mutex<VecDeque<Pending>>,
    wake: tokio::sync::Notify,
    metrics: NotifyMetrics,
    labels: IntegrationLabels,
    dead: Arc<DeadLetters>,
    all_queues: Arc<OnceLock<FallbackMap>>,
    store: Option<Arc<NotifyStore>>,
    /// The integration's kind, shared by its journal entries.
    kind: Arc<str>,
}

impl std::fmt::Debug for DeliveryQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryQueue")
            .field("receiver", &self.receiver)
            .field("integration", &self.integration.name())
            .finish()
    }
}

/// What a queue is built from.
pub struct QueueSpec {
    /// Receiver name.
    pub receiver: String,
    /// The integration.
    pub integration: Arc<dyn Integration>,
    /// Retry settings.
    pub delivery: DeliveryConfig,
    /// The receiver's `fallback_receiver`.
    pub fallback: Option<String>,
}

impl DeliveryQueue {
    /// A new, empty queue for integration number `index` of its receiver; with a `store`,
    /// every notification is written ahead to the state database.
    pub fn new(
        spec: QueueSpec,
        index: usize,
        metrics: NotifyMetrics,
        dead: Arc<DeadLetters>,
        all_queues: Arc<OnceLock<FallbackMap>>,
        store: Option<Arc<NotifyStore>>,
    ) -> Arc<DeliveryQueue> {
        let labels = IntegrationLabels {
            receiver: spec.receiver.clone(),
            integration: spec.integration.name().to_owned(),
        };
        metrics.queue_length.get_or_create(&labels).set(0);
        let kind = Arc::from(spec.integration.name());
        Arc::new(DeliveryQueue {
            receiver: spec.receiver,
            index,
            integration: spec.integration,
            delivery: spec.delivery,
            fallback: spec.fallback,
            items: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            metrics,
            labels,
            dead,
            all_queues,
            store,
            kind,
        })
    }

    /// Index of the integration within the receiver.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The integration's kind.
    pub fn integration_name(&self) -> &str {
        self.integration.name()
    }

    /// The receiver name.
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// Notifications waiting.
    pub fn len(&self) -> usize {
        self.items.lock().len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a notification (see the overflow policy in the module docs); with a state
    /// database, writes it there first.
    pub fn push(&self, notification: Notification) {
        let mut batch = Batch::new();
        let staged = self.stage(notification, &mut batch);
        if let Some(store) = &self.store {
            store.commit_now(batch, "queued notification");
        }
        self.push_staged(staged);
    }

    /// Adds the write of `notification` to `batch` (with a state database); queue the result
    /// with [`DeliveryQueue::push_staged`] once the batch is committed, so the worker never
    /// sends what a crash could lose.
    pub fn stage(&self, notification: Notification, batch: &mut Batch) -> Staged {
        Staged(self.stage_pending(notification, false, batch))
    }

    /// Queues a notification staged with [`DeliveryQueue::stage`].
    pub fn push_staged(&self, staged: Staged) {
        self.push_pending(staged.0);
    }

    /// Queues a notification restored from the state database under its old sequence number
    /// (no write: its record is there already).
    pub(crate) fn restore(&self, seq: u64, q: QueuedNotification) {
        let age = (Utc::now() - q.enqueued_at).to_std().unwrap_or_default();
        let now = Instant::now();
        self.push_pending(Pending {
            notification: q.notification,
            enqueued: now.checked_sub(age).unwrap_or(now),
            enqueued_at: q.enqueued_at,
            is_fallback: q.is_fallback,
            seq: Some(seq),
        });
    }

    fn stage_pending(
        &self,
        notification: Notification,
        is_fallback: bool,
        batch: &mut Batch,
    ) -> Pending {
        let mut pending = Pending {
            notification,
            enqueued: Instant::now(),
            enqueued_at: Utc::now(),
            is_fallback,
            seq: None,
        };
        let Some(store) = &self.store else {
            return pending;
        };
        let seq = store.next_queue_seq();
        let record = QueuedNotification {
            receiver: self.receiver.clone(),
            integration: self.index,
            integration_name: self.integration.name().to_owned(),
            is_fallback,
            enqueued_at: pending.enqueued_at,
            notification: pending.notification,
        };
        match super::durable::records::put_queued(batch, seq, &record) {
            Ok(()) => pending.seq = Some(seq),
            Err(e) => tracing::error!(error = %e, "queued notification not saved"),
        }
        pending.notification = record.notification;
        pending
    }

    fn push_pending(&self, pending: Pending) {
        let dropped = {
            let mut items = self.items.lock();
            let dropped = if items.len() >= QUEUE_CAPACITY {
                items.pop_front()
            } else {
                None
            };
            items.push_back(pending);
            self.metrics
                .queue_length
                .get_or_create(&self.labels)
                .set(items.len() as i64);
            dropped
        };
        if let Some(old) = dropped {
            let error =
                NotifyError::permanent(FailureReason::QueueFull, "dropped: delivery queue full");
            self.give_up(old, 0, &error);
        }
        self.wake.notify_one();
    }

    /// Runs the worker until `cancel` fires.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let next = {
                let mut items = self.items.lock();
                let next = items.pop_front();
                self.metrics
                    .queue_length
                    .get_or_create(&self.labels)
                    .set(items.len() as i64);
                next
            };
            let Some(pending) = next else {
                tokio::select! {
                    _ = self.wake.notified() => continue,
                    _ = cancel.cancelled() => return,
                }
            };
            tokio::select! {
                _ = self.deliver(pending) => {}
                _ = cancel.cancelled() => return,
            }
        }
    }

    async fn deliver(&self, pending: Pending) {
        self.metrics.notifications.get_or_create(&self.labels).inc();
        let timeout = self.delivery.timeout.as_duration();
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            if attempts > 1 {
                self.metrics.retries.get_or_create(&self.labels).inc();
            }
            let started = Instant::now();
            let result =
                tokio::time::timeout(timeout, self.integration.notify(&pending.notification))
                    .await
                    .unwrap_or_else(|_| {
                        Err(NotifyError::retryable(
                            FailureReason::Timeout,
                            format!("attempt timed out after {timeout:?}"),
                        ))
                    });
            self.metrics
                .latency
                .get_or_create(&self.labels)
                .observe(started.elapsed().as_secs_f64());
            let error = match result {
                Ok(()) => {
                    self.dead.journal().record(
                        &pending.notification,
                        &self.kind,
                        attempts,
                        Outcome::Sent,
                        "",
                    );
                    tracing::debug!(receiver = %self.receiver, integration = self.integration.name(),
                        key = %pending.notification.idempotency_key, attempts, "notification delivered");
                    if let (Some(store), Some(seq)) = (&self.store, pending.seq) {
                        let mut batch = Batch::new();
                        persist::queue::delete_queued(&mut batch, seq);
                        store.commit(batch, "delivered notification").await;
                    }
                    return;
                }
                Err(e) => e,
            };
            let decision = match error.class {
                ErrorClass::Permanent => RetryDecision::GiveUp,
                ErrorClass::Retryable => decide(
                    &self.delivery,
                    attempts,
                    pending.enqueued.elapsed(),
                    error.retry_after,
                    rand::rng().random::<f64>(),
                ),
            };
            match decision {
                RetryDecision::RetryAfter(wait) => {
                    self.dead.journal().record(
                        &pending.notification,
                        &self.kind,
                        attempts,
                        Outcome::Retrying,
                        &error.message,
                    );
                    tracing::warn!(receiver = %self.receiver, integration = self.integration.name(),
                        attempts, error = %error, retry_in = ?wait, "notification failed, retrying");
                    tokio::time::sleep(wait).await;
                }
                RetryDecision::GiveUp => {
                    self.dead.journal().record(
                        &pending.notification,
                        &self.kind,
                        attempts,
                        Outcome::GivenUp,
                        &error.message,
                    );
                    self.give_up(pending, attempts, &error);
                    return;
                }
            }
        }
    }

    fn give_up(&self, pending: Pending, attempts: u32, error: &NotifyError) {
        let failure = FailureLabels {
            receiver: self.receiver.clone(),
            integration: self.integration.name().to_owned(),
            reason: error.reason.as_str().to_owned(),
        };
        self.metrics.failed.get_or_create(&failure).inc();
        let fallback = self.fallback.clone().filter(|_| !pending.is_fallback);
        tracing::error!(receiver = %self.receiver, integration = self.integration.name(),
            attempts, error = %error, fallback = ?fallback, "notification given up");
        let mut batch = Batch::new();
        if let Some(seq) = pending.seq {
            persist::queue::delete_queued(&mut batch, seq);
        }
        let mut handed = Vec::new();
        if let Some(name) = &fallback {
            let queues = self.all_queues.get().and_then(|m| m.get(name));
            for queue in queues.into_iter().flatten().filter_map(Weak::upgrade) {
                let mut n = pending.notification.clone();
                n.receiver = name.clone();
                handed.push((queue.clone(), queue.stage_pending(n, true, &mut batch)));
            }
        }
        let entry = FailedNotification {
            receiver: self.receiver.clone(),
            integration: self.integration.name().to_owned(),
            notification: pending.notification,
            attempts,
            reason: error.reason.as_str().to_owned(),
            error: error.message.clone(),
            failed_at: Utc::now(),
            fallback,
        };
        match &self.store {
            Some(store) => {
                self.dead.push_in(entry, Some(&mut batch));
                store.commit_now(batch, "dead letter");
            }
            None => self.dead.push(entry),
        }
        for (queue, p) in handed {
            queue.push_pending(p);
        }
    }
}

#[cfg(test)]
mod tests;
