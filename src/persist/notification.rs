//! On-disk shape of a notification and its alerts, shared by the queue,
//! dead-letter and dispatch records.
//!
//! Everything a notification carries is stored verbatim (the idempotency key
//! included, never recomputed), so a notification restored after a restart is
//! sent with the same key and the same payload as before. Times are RFC 3339
//! strings with full precision; labels are `[name, value]` pairs.

use crate::model::Labels;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A time as stored: RFC 3339 with as many fractional digits as needed.
pub fn time_to_record(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Reads a stored time.
pub fn time_from_record(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("bad time {s:?}: {e}"))
}

/// A label set as stored.
pub fn labels_to_record(labels: &Labels) -> Vec<[String; 2]> {
    labels
        .iter()
        .map(|l| [l.name.to_string(), l.value.to_string()])
        .collect()
}

/// Reads a stored label set.
pub fn labels_from_record(pairs: &[[String; 2]]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|[n, v]| (n.as_str(), v.as_str())))
}

/// How a transition is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TransitionRecord {
    /// Started firing.
    Firing,
    /// Stopped firing.
    Resolved {
        /// `value_recovered` or `data_missing`.
        reason: String,
    },
    /// Severity went up.
    Escalated {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// Severity went down.
    Deescalated {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
}

/// One alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyAlertRecord {
    /// Labels.
    pub labels: Vec<[String; 2]>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start.
    pub starts_at: String,
    /// End, when resolved.
    pub ends_at: Option<String>,
    /// Back-link.
    pub generator_url: String,
    /// Identity (kept as given, not recomputed from the labels).
    pub fingerprint: u64,
    /// `firing` or `resolved`.
    pub status: String,
    /// Severity.
    pub severity: Option<String>,
    /// The transition that produced the event.
    pub transition: TransitionRecord,
    /// Transition sequence.
    pub seq: u64,
}

/// One notification as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Receiver.
    pub receiver: String,
    /// Group key.
    pub group_key: String,
    /// Group labels.
    pub group_labels: Vec<[String; 2]>,
    /// Why it is sent (Alertmanager's text).
    pub reason: String,
    /// The alerts, in notification order.
    pub alerts: Vec<NotifyAlertRecord>,
    /// External URL.
    pub external_url: String,
    /// When it was made.
    pub created_at: String,
    /// The idempotency key, verbatim.
    pub idempotency_key: String,
}
