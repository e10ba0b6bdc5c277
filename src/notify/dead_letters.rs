//! The dead-letter list: notifications given up on (retries exhausted, a permanent error,
//! a full queue, or a receiver removed while they waited), bounded, newest last. With a
//! state database each entry is written with the give-up that makes it and loaded at start.
//! It also holds the in-memory [`DeliveryJournal`] of every attempt per alert: both outlive a
//! reload's notifier, and every delivery queue writes to both.

use super::journal::DeliveryJournal;
use super::notification::Notification;
use crate::persist::{self, Batch};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::VecDeque;

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

#[derive(Debug, Default)]
struct DeadInner {
    /// Entries with their sequence numbers (the database keys), oldest first.
    entries: VecDeque<(u64, FailedNotification)>,
    next_seq: u64,
}

/// The bounded list of undelivered notifications, newest last.
#[derive(Debug, Default)]
pub struct DeadLetters {
    inner: Mutex<DeadInner>,
    journal: DeliveryJournal,
}

impl DeadLetters {
    /// The journal of delivery attempts per alert.
    pub fn journal(&self) -> &DeliveryJournal {
        &self.journal
    }

    /// Adds an entry, dropping the oldest beyond [`DEAD_LETTER_CAPACITY`].
    pub fn push(&self, entry: FailedNotification) {
        self.push_in(entry, None);
    }

    /// Like [`DeadLetters::push`], adding the write (and the removal of the entry dropped)
    /// to `batch`.
    pub(crate) fn push_in(&self, entry: FailedNotification, batch: Option<&mut Batch>) {
        let mut inner = self.inner.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let evicted = if inner.entries.len() >= DEAD_LETTER_CAPACITY {
            inner.entries.pop_front().map(|(s, _)| s)
        } else {
            None
        };
        if let Some(batch) = batch {
            if let Err(e) = super::durable::records::put_dead(batch, seq, &entry) {
                tracing::error!(error = %e, "dead letter not saved");
            }
            if let Some(old) = evicted {
                persist::queue::delete_dead(batch, old);
            }
        }
        inner.entries.push_back((seq, entry));
    }

    /// Replaces the entries with `loaded` (sequence numbers and entries, oldest first) as
    /// restored after a restart; returns the sequence numbers beyond the capacity, dropped.
    pub(crate) fn restore(&self, loaded: Vec<(u64, FailedNotification)>) -> Vec<u64> {
        let mut inner = self.inner.lock();
        inner.next_seq = loaded.iter().map(|(s, _)| s + 1).max().unwrap_or(0);
        inner.entries = loaded.into();
        let excess = inner.entries.len().saturating_sub(DEAD_LETTER_CAPACITY);
        inner.entries.drain(..excess).map(|(s, _)| s).collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// True when nothing was given up.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the entries, oldest first.
    pub fn list(&self) -> Vec<FailedNotification> {
        self.inner
            .lock()
            .entries
            .iter()
            .map(|(_, f)| f.clone())
            .collect()
    }

    /// The entries as JSON for `GET /api/v1/notifications/failed` (newest first).
    pub fn to_json(&self) -> serde_json::Value {
        let inner = self.inner.lock();
        let items: Vec<serde_json::Value> = inner
            .entries
            .iter()
            .rev()
            .map(|(_, f)| {
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
