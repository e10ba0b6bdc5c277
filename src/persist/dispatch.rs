//! Aggregation group records (table `dispatch`): per group, its alerts and the
//! notification log (what was last notified through each integration, and
//! when), so a restart neither repeats a notification before its
//! `repeat_interval` nor forgets the alerts it must later resolve.
//!
//! Key: the route's index, zero-padded, `/`, and the group key (two sibling
//! routes with identical matchers have the same group keys).

use super::db::{BadRecord, Batch, PersistError, StateDb, Table};
use super::notification::{
    labels_from_record, labels_to_record, time_from_record, time_to_record, NotifyAlertRecord,
};
use crate::notify::group::{GroupState, NotifiedState};
use crate::notify::NotifyAlert;
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

fn fp_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

fn fp_parse(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s, 16).map_err(|_| format!("bad fingerprint {s:?}"))
}

/// The record key of a group.
pub fn group_key(route_index: usize, key: &str) -> String {
    format!("{route_index:06}/{key}")
}

impl From<&GroupState> for GroupRecord {
    fn from(g: &GroupState) -> Self {
        GroupRecord {
            key: g.key.clone(),
            route_key: g.route_key.clone(),
            route_index: g.route_index,
            receiver: g.receiver.clone(),
            group_labels: labels_to_record(&g.group_labels),
            alerts: g.alerts.iter().map(NotifyAlertRecord::from).collect(),
            has_flushed: g.has_flushed,
            notified: g
                .notified
                .iter()
                .map(|n| {
                    n.as_ref().map(|n| NotifiedRecord {
                        firing: n.firing.iter().map(|(fp, s)| (fp_hex(*fp), *s)).collect(),
                        resolved: n.resolved.iter().map(|fp| fp_hex(*fp)).collect(),
                        at: time_to_record(n.at),
                    })
                })
                .collect(),
        }
    }
}

impl TryFrom<GroupRecord> for GroupState {
    type Error = String;
    fn try_from(r: GroupRecord) -> Result<Self, String> {
        let notified = r
            .notified
            .into_iter()
            .map(|n| {
                n.map(|n| {
                    Ok::<_, String>(NotifiedState {
                        firing: n
                            .firing
                            .iter()
                            .map(|(fp, s)| Ok((fp_parse(fp)?, *s)))
                            .collect::<Result<_, String>>()?,
                        resolved: n
                            .resolved
                            .iter()
                            .map(|fp| fp_parse(fp))
                            .collect::<Result<_, _>>()?,
                        at: time_from_record(&n.at)?,
                    })
                })
                .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok(GroupState {
            key: r.key,
            route_key: r.route_key,
            route_index: r.route_index,
            receiver: r.receiver,
            group_labels: labels_from_record(&r.group_labels),
            alerts: r
                .alerts
                .into_iter()
                .map(NotifyAlert::try_from)
                .collect::<Result<_, _>>()?,
            has_flushed: r.has_flushed,
            notified,
        })
    }
}

/// Adds the write of `group` to `batch`.
pub fn put(batch: &mut Batch, group: &GroupState) -> Result<(), PersistError> {
    batch.put_json(
        Table::Dispatch,
        group_key(group.route_index, &group.key),
        &GroupRecord::from(group),
    )
}

/// Adds the removal of the group `(route_index, key)` to `batch`.
pub fn delete(batch: &mut Batch, route_index: usize, key: &str) {
    batch.delete(Table::Dispatch, group_key(route_index, key));
}

/// Every stored group.
pub fn load(db: &StateDb) -> Result<(Vec<GroupState>, Vec<BadRecord>), PersistError> {
    let (records, mut bad) = db.load_json::<GroupRecord>(Table::Dispatch)?;
    let mut out = Vec::with_capacity(records.len());
    for (key, record) in records {
        match GroupState::try_from(record) {
            Ok(g) => out.push(g),
            Err(reason) => bad.push(BadRecord {
                table: Table::Dispatch.name(),
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
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeSet;

    fn state() -> GroupState {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let a = NotifyAlert::firing(Labels::from_pairs([("alertname", "A")]), t);
        GroupState {
            key: r#"{}:{alertname="A"}"#.into(),
            route_key: "{}".into(),
            route_index: 0,
            receiver: "ops".into(),
            group_labels: Labels::from_pairs([("alertname", "A")]),
            notified: vec![
                None,
                Some(NotifiedState {
                    firing: BTreeMap::from([(a.fingerprint, a.seq)]),
                    resolved: BTreeSet::from([u64::MAX]),
                    at: t,
                }),
            ],
            alerts: vec![a],
            has_flushed: true,
        }
    }

    #[test]
    fn groups_round_trip_and_bad_fingerprints_are_reported() {
        let db = StateDb::memory();
        let g = state();
        let mut b = Batch::new();
        put(&mut b, &g).unwrap();
        let mut broken = GroupRecord::from(&g);
        broken.key = "other".into();
        broken.notified[1].as_mut().unwrap().resolved = vec!["xyz".into()];
        b.put_json(Table::Dispatch, group_key(1, "other"), &broken)
            .unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load(&db).unwrap();
        assert_eq!(loaded, vec![g.clone()]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains("fingerprint"), "{bad:?}");
        let mut b = Batch::new();
        delete(&mut b, 0, &g.key);
        db.commit(b).unwrap();
        assert!(load(&db).unwrap().0.is_empty());
    }
}
