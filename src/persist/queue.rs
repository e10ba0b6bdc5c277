//! Delivery queue and dead-letter records.
//!
//! Table `queue`: one record per notification waiting for (or in) delivery,
//! written before its worker may send it and removed once it is delivered or
//! given up. Table `dead_letters`: the bounded list of notifications given up.
//! Both are keyed by a zero-padded sequence number, so a load returns them in
//! the order they were queued.

use super::db::{BadRecord, Batch, PersistError, StateDb, Table};
use super::notification::NotificationRecord;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The key of sequence number `seq` (sorts numerically).
pub fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

fn parse_seq(table: Table, key: &str) -> Result<u64, BadRecord> {
    key.parse().map_err(|_| BadRecord {
        table: table.name(),
        key: key.to_owned(),
        reason: "key is not a sequence number".to_owned(),
    })
}

/// A queued notification as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedRecord {
    /// The receiver whose queue holds it.
    pub receiver: String,
    /// Index of the integration within the receiver.
    pub integration: usize,
    /// The integration's kind (`webhook`, `slack`, ...).
    pub integration_name: String,
    /// Handed over by another receiver's `fallback_receiver`.
    pub fallback: bool,
    /// When it was first queued (retry age counts from here).
    pub enqueued_at: String,
    /// The notification, verbatim.
    pub notification: NotificationRecord,
}

/// A dead letter as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRecord {
    /// Receiver.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// The notification.
    pub notification: NotificationRecord,
    /// Attempts made.
    pub attempts: u32,
    /// Last error's reason.
    pub reason: String,
    /// Last error.
    pub error: String,
    /// When it was given up.
    pub failed_at: String,
    /// Fallback receiver it was handed to.
    pub fallback: Option<String>,
}

/// Adds the removal of queue entry `seq` to `batch`.
pub fn delete_queued(batch: &mut Batch, seq: u64) {
    batch.delete(Table::Queue, seq_key(seq));
}

/// Adds the removal of dead letter `seq` to `batch`.
pub fn delete_dead(batch: &mut Batch, seq: u64) {
    batch.delete(Table::DeadLetters, seq_key(seq));
}

/// Decoded records with their sequence numbers, in order, and the records that did not
/// decode.
pub type LoadedSeq<T> = (Vec<(u64, T)>, Vec<BadRecord>);

/// Loads a sequence-keyed table, converting each record with `convert`.
pub fn load_seq<R: DeserializeOwned, T>(
    db: &StateDb,
    table: Table,
    convert: impl Fn(R) -> Result<T, String>,
) -> Result<LoadedSeq<T>, PersistError> {
    let (records, mut bad) = db.load_json::<R>(table)?;
    let mut out = Vec::with_capacity(records.len());
    for (key, record) in records {
        let seq = match parse_seq(table, &key) {
            Ok(seq) => seq,
            Err(b) => {
                bad.push(b);
                continue;
            }
        };
        match convert(record) {
            Ok(v) => out.push((seq, v)),
            Err(reason) => bad.push(BadRecord {
                table: table.name(),
                key,
                reason,
            }),
        }
    }
    Ok((out, bad))
}
