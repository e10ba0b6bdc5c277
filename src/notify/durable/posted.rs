//! Posted alerts ↔ their records (see [`crate::persist::posted`]).
//!
//! A plain re-send (only `endsAt` pushed forward by the resolve timeout) is not written, so
//! a restored alert whose end came from the timeout gets at least one more resolve timeout
//! from the restart for its sender to re-send it.

use crate::notify::api_alerts::PostedAlert;
use crate::persist::notification::{
    labels_from_record, labels_to_record, time_from_record, time_to_record,
};
use crate::persist::posted::{posted_key, PostedAlertRecord, POSTED_PREFIX};
use crate::persist::{BadRecord, Batch, PersistError, StateDb, Table};
use chrono::{DateTime, Utc};

/// Adds `alert` (last received at `updated_at`) to `batch`.
pub fn put(
    batch: &mut Batch,
    fp: u64,
    alert: &PostedAlert,
    updated_at: DateTime<Utc>,
) -> Result<(), PersistError> {
    let record = PostedAlertRecord {
        labels: labels_to_record(&alert.labels),
        annotations: alert.annotations.clone(),
        starts_at: time_to_record(alert.starts_at),
        ends_at: time_to_record(alert.ends_at),
        timeout: alert.timeout,
        updated_at: time_to_record(updated_at),
        generator_url: alert.generator_url.clone(),
    };
    batch.put_json(Table::Meta, posted_key(fp), &record)
}

/// A restored posted alert and when it was last received.
pub type Saved = (PostedAlert, DateTime<Utc>);

/// Every stored posted alert with its last-received time; undecodable records separately.
pub fn load(db: &StateDb) -> Result<(Vec<Saved>, Vec<BadRecord>), PersistError> {
    let (records, mut bad) =
        db.load_prefix_json::<PostedAlertRecord>(Table::Meta, POSTED_PREFIX)?;
    let mut out = Vec::with_capacity(records.len());
    for (key, r) in records {
        let decoded = (|| -> Result<_, String> {
            let alert = PostedAlert {
                labels: labels_from_record(&r.labels),
                annotations: r.annotations,
                starts_at: time_from_record(&r.starts_at)?,
                ends_at: time_from_record(&r.ends_at)?,
                timeout: r.timeout,
                generator_url: r.generator_url,
            };
            Ok((alert, time_from_record(&r.updated_at)?))
        })();
        match decoded {
            Ok(a) => out.push(a),
            Err(reason) => bad.push(BadRecord {
                table: Table::Meta.name(),
                key,
                reason,
            }),
        }
    }
    Ok((out, bad))
}
