//! Aggregation group records (table `dispatch`): per group, its alerts and the
//! notification log (what was last notified through each integration, and
//! when), so a restart neither repeats a notification before its
//! `repeat_interval` nor forgets the alerts it must later resolve.
//!
//! Key: the route's index, zero-padded, `/`, and the group key (two sibling
//! routes with identical matchers have the same group keys).

use super::db::{Batch, Table};
use super::notification::NotifyAlertRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The last notification through one integration, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifiedRecord {
    /// Firing alerts: fingerprint (16 hex digits) → transition sequence.
    pub firing: BTreeMap<String, u64>,
    /// Resolved fingerprints (16 hex digits).
    pub resolved: Vec<String>,
    /// When it was sent.
    pub at: String,
}

/// One aggregation group as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Group key.
    pub key: String,
    /// Route key.
    pub route_key: String,
    /// Route index when saved.
    pub route_index: usize,
    /// Receiver.
    pub receiver: String,
    /// Group labels.
    pub group_labels: Vec<[String; 2]>,
    /// Alerts held.
    pub alerts: Vec<NotifyAlertRecord>,
    /// Past its first flush.
    pub has_flushed: bool,
    /// Per integration: the last notification, if any.
    pub notified: Vec<Option<NotifiedRecord>>,
}

/// A fingerprint as stored: 16 hex digits.
pub fn fp_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// Reads a stored fingerprint.
pub fn fp_parse(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|_| format!("bad fingerprint {s:?}"))
}

/// The record key of a group.
pub fn group_key(route_index: usize, key: &str) -> String {
    format!("{route_index:06}/{key}")
}

/// Adds the removal of the group `(route_index, key)` to `batch`.
pub fn delete(batch: &mut Batch, route_index: usize, key: &str) {
    batch.delete(Table::Dispatch, group_key(route_index, key));
}
