//! The on-disk record of one alert transition (table `history`).
//!
//! Key: `time-sequence`, both zero-padded decimal (`00000001764186000000-0000000007`),
//! so keys sort by time and [`super::StateDb::delete_before`] with
//! [`retention_bound`] is a retention cut. Times before the epoch sort as 0.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The record key of the transition at `at` (ms) with sequence number `seq`.
pub fn history_key(at: i64, seq: u64) -> String {
    format!("{:020}-{seq:010}", at.max(0))
}

/// The key bound below which every transition is older than `cutoff_ms`.
pub fn retention_bound(cutoff_ms: i64) -> String {
    format!("{:020}", cutoff_ms.max(0))
}

/// The sequence number of a key written by [`history_key`].
pub fn key_sequence(key: &str) -> Option<u64> {
    key.rsplit_once('-')?.1.parse().ok()
}

/// One alert transition, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The alerting rule's name.
    pub rule: String,
    /// The group key (`file;group`).
    pub group: String,
    /// Identity labels.
    pub labels: BTreeMap<String, String>,
    /// Identity fingerprint, hex.
    pub fingerprint: String,
    /// State before.
    pub from: String,
    /// What happened (`pending`, `firing`, `escalated`, ...).
    pub to: String,
    /// State after.
    pub state: String,
    /// Threshold rules: severity after the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The value, as Rust prints it.
    pub value: String,
    /// Threshold rules: the level crossed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// Expanded annotations, in order.
    #[serde(default)]
    pub annotations: Vec<(String, String)>,
    /// When the alert became active, ms.
    pub active_at: i64,
    /// Evaluation time of the transition, ms.
    pub at: i64,
    /// Resolved transitions: `recovered` or `data_missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_reason: Option<String>,
}
