//! Alerts posted to `POST /api/v2/alerts`, kept across restarts (table `meta`, key
//! `posted/<fingerprint as 16 hex digits>`).

use super::db::{Batch, Table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Key prefix of posted alert records in [`Table::Meta`].
pub const POSTED_PREFIX: &str = "posted/";

/// The key of the posted alert with fingerprint `fp`.
pub fn posted_key(fp: u64) -> String {
    format!("{POSTED_PREFIX}{fp:016x}")
}

/// One posted alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedAlertRecord {
    /// Labels as `[name, value]` pairs.
    pub labels: Vec<[String; 2]>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start (RFC 3339).
    pub starts_at: String,
    /// End (RFC 3339).
    pub ends_at: String,
    /// Whether the end came from the resolve timeout.
    pub timeout: bool,
    /// Last received (RFC 3339).
    pub updated_at: String,
    /// Link to the source.
    pub generator_url: String,
}

/// Adds the removal of the posted alert `fp` to `batch`.
pub fn delete(batch: &mut Batch, fp: u64) {
    batch.delete(Table::Meta, posted_key(fp));
}
