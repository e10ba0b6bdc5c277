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

use super::integration::{ErrorClass, Integration, NotifyError};
use super::metrics::{FailureLabels, IntegrationLabels, NotifyMetrics};
use super::notification::Notification;
use super::retry::{decide, RetryDecision};
use crate::config::DeliveryConfig;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Most notifications a queue holds before dropping the oldest.
pub const QUEUE_CAPACITY: usize = 1024;

/// Most entries the dead-letter list keeps (oldest dropped first).
pub const DEAD_LETTER_CAPACITY: usize = 1000;

/// A notification that could not be delivered.
#[derive(Clone, Debug)]
pub struct FailedNotification {
    /// Receiver it was for.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// The notification itself.
    pub notification: Notification,
    /// Attempts made.
    pub attempts: u32,
    /// The last error's reason (`queue_full` when dropped unsent).
    pub reason: String,
    /// The last error.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
    /// The receiver it was handed to instead, if any.
    pub fallback: Option<String>,
}

/// The bounded list of undelivered notifications, newest last.
#[derive(Debug, Default)]
pub struct DeadLetters {
    entries: Mutex<VecDeque<FailedNotification>>,
}

impl DeadLetters {
    /// Adds an entry, dropping the oldest beyond [`DEAD_LETTER_CAPACITY`].
    pub fn push(&self, entry: FailedNotification) {
        let mut entries = self.entries.lock();
        if entries.len() >= DEAD_LETTER_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub fn list(&self) -> Vec<FailedNotification> {
        self.entries.lock().iter().cloned().collect()
    }

    /// The entries as JSON for `GET /api/v1/notifications/failed` (newest first).
    pub fn to_json(&self) -> serde_json::Value {
        let entries = self.entries.lock();
        let items: Vec<serde_json::Value> = entries
            .iter()
            .rev()
            .map(|f| {
                serde_json::json!({
                    "receiver": f.receiver,
                    "integration": f.integration,
                    "groupKey": f.notification.group_key,
                    "idempotencyKey": f.notification.idempotency_key,
                    "status": f.notification.status().as_str(),
                    "alerts": f.notification.alerts.iter().map(|a| a.fingerprint_hex()).collect::<Vec<_>>(),
                    "createdAt": f.notification.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "failedAt": f.failed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "attempts": f.attempts,
                    "reason": f.reason,
                    "error": f.error,
                    "fallbackReceiver": f.fallback,
                })
            })
            .collect();
        serde_json::Value::Array(items)
    }
}

struct Pending {
    notification: Notification,
    enqueued: Instant,
    is_fallback: bool,
}

/// Where fallbacks go: receiver name → its queues. Set once all queues exist.
pub type QueueMap = HashMap<String, Vec<Arc<DeliveryQueue>>>;

/// A queue and what its worker needs.
pub struct DeliveryQueue {
    receiver: String,
    integration: Arc<dyn Integration>,
    delivery: DeliveryConfig,
    fallback: Option<String>,
    items: Mutex<VecDeque<Pending>>,
    wake: tokio::sync::Notify,
    metrics: NotifyMetrics,
    labels: IntegrationLabels,
    dead: Arc<DeadLetters>,
    all_queues: Arc<OnceLock<QueueMap>>,
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
    /// A new, empty queue.
    pub fn new(
        spec: QueueSpec,
        metrics: NotifyMetrics,
        dead: Arc<DeadLetters>,
        all_queues: Arc<OnceLock<QueueMap>>,
    ) -> Arc<DeliveryQueue> {
        let labels = IntegrationLabels {
            receiver: spec.receiver.clone(),
            integration: spec.integration.name().to_owned(),
        };
        metrics.queue_length.get_or_create(&labels).set(0);
        Arc::new(DeliveryQueue {
            receiver: spec.receiver,
            integration: spec.integration,
            delivery: spec.delivery,
            fallback: spec.fallback,
            items: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            metrics,
            labels,
            dead,
            all_queues,
        })
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

    /// Queues a notification (see the overflow policy in the module docs).
    pub fn push(&self, notification: Notification) {
        self.push_pending(Pending {
            notification,
            enqueued: Instant::now(),
            is_fallback: false,
        });
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
            let error = NotifyError::permanent("queue_full", "dropped: delivery queue full");
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
                            "timeout",
                            format!("attempt timed out after {timeout:?}"),
                        ))
                    });
            self.metrics
                .latency
                .get_or_create(&self.labels)
                .observe(started.elapsed().as_secs_f64());
            let error = match result {
                Ok(()) => {
                    tracing::debug!(receiver = %self.receiver, integration = self.integration.name(),
                        key = %pending.notification.idempotency_key, attempts, "notification delivered");
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
                    tracing::warn!(receiver = %self.receiver, integration = self.integration.name(),
                        attempts, error = %error, retry_in = ?wait, "notification failed, retrying");
                    tokio::time::sleep(wait).await;
                }
                RetryDecision::GiveUp => {
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
            reason: error.reason.to_owned(),
        };
        self.metrics.failed.get_or_create(&failure).inc();
        let fallback = self.fallback.clone().filter(|_| !pending.is_fallback);
        tracing::error!(receiver = %self.receiver, integration = self.integration.name(),
            attempts, error = %error, fallback = ?fallback, "notification given up");
        if let Some(name) = &fallback {
            let queues = self.all_queues.get().and_then(|m| m.get(name));
            for queue in queues.into_iter().flatten() {
                let mut n = pending.notification.clone();
                n.receiver = name.clone();
                queue.push_pending(Pending {
                    notification: n,
                    enqueued: Instant::now(),
                    is_fallback: true,
                });
            }
        }
        self.dead.push(FailedNotification {
            receiver: self.receiver.clone(),
            integration: self.integration.name().to_owned(),
            notification: pending.notification,
            attempts,
            reason: error.reason.to_owned(),
            error: error.message.clone(),
            failed_at: Utc::now(),
            fallback,
        });
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
