//! Silence records (table `silences`, key: the silence id).
//!
//! Matchers are stored as name, operator and value as the user wrote them
//! (regexes without our anchors) and compiled again on load; a record whose
//! regex no longer compiles is reported and skipped.

use super::db::{Batch, Table};
use serde::{Deserialize, Serialize};

/// One matcher as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatcherRecord {
    /// Label name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// Value or pattern as written.
    pub value: String,
}

/// One silence as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// The id (also the key).
    pub id: String,
    /// Matchers.
    pub matchers: Vec<MatcherRecord>,
    /// Start.
    pub starts_at: String,
    /// End.
    pub ends_at: String,
    /// Last change.
    pub updated_at: String,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

/// Adds the removal of silence `id` to `batch`.
pub fn delete(batch: &mut Batch, id: &str) {
    batch.delete(Table::Silences, id);
}
