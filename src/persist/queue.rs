//! Delivery queue and dead-letter records.
//!
//! Table `queue`: one record per notification waiting for (or in) delivery,
//! written before its worker may send it and removed once it is delivered or
//! given up. Table `dead_letters`: the bounded list of notifications given up.
//! Both are keyed by a zero-padded sequence number, so a load returns them in
//! the order they were queued.

use super::db::{BadRecord, Batch, PersistError, StateDb, Table};
use super::notification::{time_from_record, time_to_record, NotificationRecord};
use crate::notify::queue::QueuedNotification;
use crate::notify::{FailedNotification, Notification};
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

/// Adds the write of queue entry `seq` to `batch`.
pub fn put_queued(batch: &mut Batch, seq: u64, q: &QueuedNotification) -> Result<(), PersistError> {
    let record = QueuedRecord {
        receiver: q.receiver.clone(),
        integration: q.integration,
        integration_name: q.integration_name.clone(),
        fallback: q.is_fallback,
        enqueued_at: time_to_record(q.enqueued_at),
        notification: (&q.notification).into(),
    };
    batch.put_json(Table::Queue, seq_key(seq), &record)
}

/// Adds the removal of queue entry `seq` to `batch`.
pub fn delete_queued(batch: &mut Batch, seq: u64) {
    batch.delete(Table::Queue, seq_key(seq));
}

/// Every queue entry in the order queued.
pub fn load_queued(db: &StateDb) -> Result<LoadedSeq<QueuedNotification>, PersistError> {
    load(db, Table::Queue, |r: QueuedRecord| {
        Ok(QueuedNotification {
            receiver: r.receiver,
            integration: r.integration,
            integration_name: r.integration_name,
            is_fallback: r.fallback,
            enqueued_at: time_from_record(&r.enqueued_at)?,
            notification: Notification::try_from(r.notification)?,
        })
    })
}

/// Adds the write of dead letter `seq` to `batch`.
pub fn put_dead(batch: &mut Batch, seq: u64, f: &FailedNotification) -> Result<(), PersistError> {
    let record = DeadLetterRecord {
        receiver: f.receiver.clone(),
        integration: f.integration.clone(),
        notification: (&f.notification).into(),
        attempts: f.attempts,
        reason: f.reason.clone(),
        error: f.error.clone(),
        failed_at: time_to_record(f.failed_at),
        fallback: f.fallback.clone(),
    };
    batch.put_json(Table::DeadLetters, seq_key(seq), &record)
}

/// Adds the removal of dead letter `seq` to `batch`.
pub fn delete_dead(batch: &mut Batch, seq: u64) {
    batch.delete(Table::DeadLetters, seq_key(seq));
}

/// Every dead letter, oldest first.
pub fn load_dead(db: &StateDb) -> Result<LoadedSeq<FailedNotification>, PersistError> {
    load(db, Table::DeadLetters, |r: DeadLetterRecord| {
        Ok(FailedNotification {
            receiver: r.receiver,
            integration: r.integration,
            notification: Notification::try_from(r.notification)?,
            attempts: r.attempts,
            reason: r.reason,
            error: r.error,
            failed_at: time_from_record(&r.failed_at)?,
            fallback: r.fallback,
        })
    })
}

/// Decoded records with their sequence numbers, in order, and the records that did not
/// decode.
pub type LoadedSeq<T> = (Vec<(u64, T)>, Vec<BadRecord>);

fn load<R: DeserializeOwned, T>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::{NotificationReason, NotifyAlert};
    use chrono::{TimeZone, Utc};

    fn note() -> Notification {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let a = NotifyAlert::firing(Labels::from_pairs([("alertname", "A")]), t);
        Notification::new(
            "ops",
            "{}:{}",
            Labels::empty(),
            NotificationReason::FirstNotification,
            vec![a],
            "",
            t,
        )
    }

    #[test]
    fn queue_entries_load_in_sequence_order() {
        let db = StateDb::memory();
        let mut b = Batch::new();
        for seq in [10u64, 2, 300] {
            let q = QueuedNotification {
                receiver: format!("r{seq}"),
                integration: 1,
                integration_name: "webhook".into(),
                is_fallback: seq == 2,
                enqueued_at: Utc.timestamp_millis_opt(1_000 + seq as i64).unwrap(),
                notification: note(),
            };
            put_queued(&mut b, seq, &q).unwrap();
        }
        b.put_json(Table::Queue, "x", &"junk").unwrap();
        b.put_json(Table::Queue, "00000000000000000007", &7)
            .unwrap();
        db.commit(b).unwrap();
        let mut b = Batch::new();
        delete_queued(&mut b, 10);
        db.commit(b).unwrap();
        let (loaded, bad) = load_queued(&db).unwrap();
        let seqs: Vec<u64> = loaded.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [2, 300]);
        assert!(loaded[0].1.is_fallback);
        assert_eq!(loaded[1].1.receiver, "r300");
        assert_eq!(loaded[1].1.notification, note());
        assert_eq!(bad.len(), 2, "{bad:?}");
    }

    #[test]
    fn dead_letters_round_trip() {
        let db = StateDb::memory();
        let f = FailedNotification {
            receiver: "ops".into(),
            integration: "webhook".into(),
            notification: note(),
            attempts: 3,
            reason: "connect".into(),
            error: "refused".into(),
            failed_at: Utc.with_ymd_and_hms(2026, 11, 26, 13, 0, 0).unwrap(),
            fallback: Some("backup".into()),
        };
        let mut b = Batch::new();
        put_dead(&mut b, 5, &f).unwrap();
        put_dead(&mut b, 6, &f).unwrap();
        delete_dead(&mut b, 5);
        db.commit(b).unwrap();
        let (loaded, bad) = load_dead(&db).unwrap();
        assert!(bad.is_empty());
        assert_eq!(loaded.len(), 1);
        let (seq, g) = &loaded[0];
        assert_eq!(*seq, 6);
        assert_eq!(g.notification, f.notification);
        assert_eq!(
            (g.attempts, g.reason.as_str(), g.fallback.as_deref()),
            (3, "connect", Some("backup"))
        );
        assert_eq!(g.failed_at, f.failed_at);
    }
}
