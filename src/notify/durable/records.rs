//! Conversions between the notifier's domain types and their on-disk records
//! in [`crate::persist`] (notifications, queue entries, dead letters,
//! aggregation groups with their notification log, silences), and the typed
//! writes and loads built on them. The record structs are the format; this
//! file is the only place that knows how the notifier's types map onto them.
//! The stored codes are spelled out here, not taken from the domain types'
//! display texts, so a change of wording there never makes old records
//! unreadable.

use crate::model::Matcher;
use crate::notify::group::{GroupState, NotifiedState};
use crate::notify::queue::QueuedNotification;
use crate::notify::{
    AlertStatus, FailedNotification, Notification, NotificationReason, NotifyAlert, ResolveReason,
    Silence, Transition,
};
use crate::persist::dispatch::{fp_hex, fp_parse, group_key, GroupRecord, NotifiedRecord};
use crate::persist::notification::{
    labels_from_record, labels_to_record, time_from_record, time_to_record, NotificationRecord,
    NotifyAlertRecord, TransitionRecord,
};
use crate::persist::queue::{load_seq, seq_key, DeadLetterRecord, LoadedSeq, QueuedRecord};
use crate::persist::silences::{MatcherRecord, SilenceRecord};
use crate::persist::{BadRecord, Batch, PersistError, StateDb, Table};

impl From<&Transition> for TransitionRecord {
    fn from(t: &Transition) -> Self {
        match t {
            Transition::Firing => TransitionRecord::Firing,
            Transition::Resolved { reason } => TransitionRecord::Resolved {
                reason: resolve_reason_to_record(*reason).to_owned(),
            },
            Transition::Escalated { from, to } => TransitionRecord::Escalated {
                from: from.clone(),
                to: to.clone(),
            },
            Transition::DeEscalated { from, to } => TransitionRecord::Deescalated {
                from: from.clone(),
                to: to.clone(),
            },
        }
    }
}

impl TryFrom<TransitionRecord> for Transition {
    type Error = String;
    fn try_from(t: TransitionRecord) -> Result<Self, String> {
        Ok(match t {
            TransitionRecord::Firing => Transition::Firing,
            TransitionRecord::Resolved { reason } => Transition::Resolved {
                reason: match reason.as_str() {
                    // `recovered` is what versions of the display text wrote.
                    "value_recovered" | "recovered" => ResolveReason::ValueRecovered,
                    "data_missing" => ResolveReason::DataMissing,
                    other => return Err(format!("unknown resolve reason {other:?}")),
                },
            },
            TransitionRecord::Escalated { from, to } => Transition::Escalated { from, to },
            TransitionRecord::Deescalated { from, to } => Transition::DeEscalated { from, to },
        })
    }
}

impl From<&NotifyAlert> for NotifyAlertRecord {
    fn from(a: &NotifyAlert) -> Self {
        NotifyAlertRecord {
            labels: labels_to_record(&a.labels),
            annotations: a.annotations.clone(),
            starts_at: time_to_record(a.starts_at),
            ends_at: a.ends_at.map(time_to_record),
            generator_url: a.generator_url.clone(),
            fingerprint: a.fingerprint,
            status: status_to_record(a.status).to_owned(),
            severity: a.severity.clone(),
            transition: (&a.transition).into(),
            seq: a.seq,
        }
    }
}

impl TryFrom<NotifyAlertRecord> for NotifyAlert {
    type Error = String;
    fn try_from(r: NotifyAlertRecord) -> Result<Self, String> {
        Ok(NotifyAlert {
            labels: labels_from_record(&r.labels),
            annotations: r.annotations,
            starts_at: time_from_record(&r.starts_at)?,
            ends_at: r.ends_at.as_deref().map(time_from_record).transpose()?,
            generator_url: r.generator_url,
            fingerprint: r.fingerprint,
            status: status_from_record(&r.status)?,
            severity: r.severity,
            transition: r.transition.try_into()?,
            seq: r.seq,
        })
    }
}

fn resolve_reason_to_record(r: ResolveReason) -> &'static str {
    match r {
        ResolveReason::ValueRecovered => "value_recovered",
        ResolveReason::DataMissing => "data_missing",
    }
}

/// An alert status as stored.
pub fn status_to_record(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}

/// Reads a stored alert status.
pub fn status_from_record(s: &str) -> Result<AlertStatus, String> {
    match s {
        "firing" => Ok(AlertStatus::Firing),
        "resolved" => Ok(AlertStatus::Resolved),
        other => Err(format!("unknown alert status {other:?}")),
    }
}

const REASONS: [(NotificationReason, &str); 7] = [
    (NotificationReason::FirstNotification, "first_notification"),
    (NotificationReason::NewAlertsAdded, "new_alerts_added"),
    (NotificationReason::SeverityChanged, "severity_changed"),
    (
        NotificationReason::SomeAlertsResolved,
        "some_alerts_resolved",
    ),
    (NotificationReason::AllAlertsResolved, "all_alerts_resolved"),
    (
        NotificationReason::RepeatIntervalElapsed,
        "repeat_interval_elapsed",
    ),
    (NotificationReason::Unknown, "unknown"),
];

fn reason_to_record(r: NotificationReason) -> &'static str {
    REASONS
        .iter()
        .find(|(x, _)| *x == r)
        .map_or("unknown", |(_, code)| code)
}

fn reason_from_record(s: &str) -> Result<NotificationReason, String> {
    REASONS
        .iter()
        .find(|(_, code)| *code == s)
        .map(|(r, _)| *r)
        .ok_or_else(|| format!("unknown notification reason {s:?}"))
}

impl From<&Notification> for NotificationRecord {
    fn from(n: &Notification) -> Self {
        NotificationRecord {
            receiver: n.receiver.clone(),
            group_key: n.group_key.clone(),
            group_labels: labels_to_record(&n.group_labels),
            reason: reason_to_record(n.reason).to_owned(),
            alerts: n.alerts.iter().map(NotifyAlertRecord::from).collect(),
            external_url: n.external_url.clone(),
            created_at: time_to_record(n.created_at),
            idempotency_key: n.idempotency_key.clone(),
        }
    }
}

impl TryFrom<NotificationRecord> for Notification {
    type Error = String;
    fn try_from(r: NotificationRecord) -> Result<Self, String> {
        Ok(Notification {
            receiver: r.receiver,
            group_key: r.group_key,
            group_labels: labels_from_record(&r.group_labels),
            reason: reason_from_record(&r.reason)?,
            alerts: r
                .alerts
                .into_iter()
                .map(NotifyAlert::try_from)
                .collect::<Result<_, _>>()?,
            external_url: r.external_url,
            created_at: time_from_record(&r.created_at)?,
            idempotency_key: r.idempotency_key,
        })
    }
}

// Queue and dead letters.

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

/// Every queue entry in the order queued.
pub fn load_queued(db: &StateDb) -> Result<LoadedSeq<QueuedNotification>, PersistError> {
    load_seq(db, Table::Queue, |r: QueuedRecord| {
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

/// Every dead letter, oldest first.
pub fn load_dead(db: &StateDb) -> Result<LoadedSeq<FailedNotification>, PersistError> {
    load_seq(db, Table::DeadLetters, |r: DeadLetterRecord| {
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

// Aggregation groups and their notification log.

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
pub fn put_group(batch: &mut Batch, group: &GroupState) -> Result<(), PersistError> {
    batch.put_json(
        Table::Dispatch,
        group_key(group.route_index, &group.key),
        &GroupRecord::from(group),
    )
}

/// Every stored group.
pub fn load_groups(db: &StateDb) -> Result<(Vec<GroupState>, Vec<BadRecord>), PersistError> {
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

// Silences.

impl From<&Silence> for SilenceRecord {
    fn from(s: &Silence) -> Self {
        SilenceRecord {
            id: s.id.clone(),
            matchers: s
                .matchers
                .iter()
                .map(|m| MatcherRecord {
                    name: m.name.clone(),
                    op: m.op_str().to_owned(),
                    value: m.value().to_owned(),
                })
                .collect(),
            starts_at: time_to_record(s.starts_at),
            ends_at: time_to_record(s.ends_at),
            updated_at: time_to_record(s.updated_at),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

impl TryFrom<SilenceRecord> for Silence {
    type Error = String;
    fn try_from(r: SilenceRecord) -> Result<Self, String> {
        let matchers = r
            .matchers
            .into_iter()
            .map(|m| match m.op.as_str() {
                "=" => Ok(Matcher::equal(m.name, m.value)),
                "!=" => Ok(Matcher::not_equal(m.name, m.value)),
                "=~" => Matcher::regex(m.name, &m.value).map_err(|e| e.to_string()),
                "!~" => Matcher::not_regex(m.name, &m.value).map_err(|e| e.to_string()),
                other => Err(format!("unknown matcher operator {other:?}")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Silence {
            id: r.id,
            matchers,
            starts_at: time_from_record(&r.starts_at)?,
            ends_at: time_from_record(&r.ends_at)?,
            updated_at: time_from_record(&r.updated_at)?,
            created_by: r.created_by,
            comment: r.comment,
        })
    }
}

/// Adds a write of `silence` to `batch`.
pub fn put_silence(batch: &mut Batch, silence: &Silence) -> Result<(), PersistError> {
    batch.put_json(
        Table::Silences,
        silence.id.clone(),
        &SilenceRecord::from(silence),
    )
}

/// The size of `silence` as stored, in bytes (what `--silences.max-silence-size-bytes` bounds).
pub fn silence_stored_size(silence: &Silence) -> usize {
    serde_json::to_vec(&SilenceRecord::from(silence)).map_or(usize::MAX, |v| v.len())
}

/// Below this many records a load decodes them on the calling thread.
const PARALLEL_FROM: usize = 512;

/// Every stored silence; records that do not decode are returned separately.
///
/// Compiling the regex matchers is most of the work (about 60 µs for a short pattern, 12 ms
/// for a 13 KB alternation, release build), so many records are decoded on one thread per
/// core.
pub fn load_silences(db: &StateDb) -> Result<(Vec<Silence>, Vec<BadRecord>), PersistError> {
    let (records, mut bad) = db.load_json::<SilenceRecord>(Table::Silences)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let decode = |part: Vec<(String, SilenceRecord)>| {
        let mut out = Vec::with_capacity(part.len());
        let mut bad = Vec::new();
        for (key, record) in part {
            match Silence::try_from(record) {
                Ok(s) => out.push(s),
                Err(reason) => bad.push(BadRecord {
                    table: Table::Silences.name(),
                    key,
                    reason,
                }),
            }
        }
        (out, bad)
    };
    if records.len() < PARALLEL_FROM || threads == 1 {
        let (out, more) = decode(records);
        bad.extend(more);
        return Ok((out, bad));
    }
    let per_thread = records.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = records.into_iter();
    loop {
        let part: Vec<_> = rest.by_ref().take(per_thread).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let mut out = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || decode(part)))
            .collect();
        for h in handles {
            // A panic while decoding is a bug; surface it rather than losing silences.
            let (silences, more) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            out.extend(silences);
            bad.extend(more);
        }
    });
    Ok((out, bad))
}

#[cfg(test)]
mod notification_tests {
    use super::*;
    use crate::model::Labels;
    use chrono::TimeZone;
    use chrono::Utc;

    /// A notification exercising every field: a firing alert that escalated and a resolved
    /// one, sub-second times, annotations.
    pub(crate) fn sample() -> Notification {
        let t = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
        let mut a = NotifyAlert::firing(
            Labels::from_pairs([("alertname", "A"), ("severity", "critical")]),
            t,
        );
        a.annotations
            .insert("summary".into(), "über \"slow\"".into());
        a.generator_url = "http://wf/alerts".into();
        a.seq = 1_790_000_000_123;
        a.transition = Transition::Escalated {
            from: "warning".into(),
            to: "critical".into(),
        };
        let mut b = NotifyAlert::firing(Labels::from_pairs([("alertname", "B")]), t);
        b.status = AlertStatus::Resolved;
        b.ends_at = Some(t + chrono::Duration::milliseconds(1500));
        b.transition = Transition::Resolved {
            reason: ResolveReason::DataMissing,
        };
        Notification::new(
            "ops",
            r#"{}:{alertname="A"}"#,
            Labels::from_pairs([("alertname", "A")]),
            NotificationReason::SeverityChanged,
            vec![a, b],
            "http://wf",
            t,
        )
    }

    #[test]
    fn notifications_round_trip_exactly() {
        let n = sample();
        let json = serde_json::to_string(&NotificationRecord::from(&n)).unwrap();
        let back: NotificationRecord = serde_json::from_str(&json).unwrap();
        let restored = Notification::try_from(back).unwrap();
        assert_eq!(restored, n);
        assert_eq!(restored.idempotency_key, n.idempotency_key);
        assert!(json.contains(r#""kind":"escalated""#), "{json}");
        assert!(json.contains(r#""reason":"severity_changed""#), "{json}");
        assert!(json.contains(r#""reason":"data_missing""#), "{json}");
        assert!(json.contains("2026-09-21T"), "{json}");
    }

    #[test]
    fn bad_fields_are_errors_not_panics() {
        let mut r = NotificationRecord::from(&sample());
        r.reason = "because".into();
        assert!(Notification::try_from(r.clone())
            .unwrap_err()
            .contains("reason"));
        r.reason = "first_notification".into();
        r.created_at = "yesterday".into();
        assert!(Notification::try_from(r.clone())
            .unwrap_err()
            .contains("bad time"));
        r.created_at = time_to_record(Utc::now());
        r.alerts[0].status = "pending".into();
        assert!(Notification::try_from(r).unwrap_err().contains("status"));
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::{NotificationReason, NotifyAlert};
    use crate::persist::queue::{delete_dead, delete_queued};
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

#[cfg(test)]
mod dispatch_tests {
    use super::*;
    use crate::model::Labels;
    use crate::persist::dispatch::delete;
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeMap;
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
        put_group(&mut b, &g).unwrap();
        let mut broken = GroupRecord::from(&g);
        broken.key = "other".into();
        broken.notified[1].as_mut().unwrap().resolved = vec!["xyz".into()];
        b.put_json(Table::Dispatch, group_key(1, "other"), &broken)
            .unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load_groups(&db).unwrap();
        assert_eq!(loaded, vec![g.clone()]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains("fingerprint"), "{bad:?}");
        let mut b = Batch::new();
        delete(&mut b, 0, &g.key);
        db.commit(b).unwrap();
        assert!(load_groups(&db).unwrap().0.is_empty());
    }
}

#[cfg(test)]
mod silence_tests {
    use super::*;
    use crate::model::matcher_text::parse_matchers;
    use crate::persist::silences::delete;
    use chrono::{TimeZone, Utc};

    fn silence() -> Silence {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        Silence {
            id: "8c1b7a4e-0000-4000-8000-000000000001".into(),
            matchers: parse_matchers(r#"alertname="A", env=~"prod|stage", team!="x", a!~"b.*""#)
                .unwrap(),
            starts_at: t,
            ends_at: t + chrono::Duration::hours(2),
            updated_at: t,
            created_by: "me".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn silences_round_trip_through_the_database() {
        let db = StateDb::memory();
        let s = silence();
        let mut b = Batch::new();
        put_silence(&mut b, &s).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load_silences(&db).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(loaded.len(), 1);
        let l = &loaded[0];
        assert_eq!(l.id, s.id);
        assert_eq!((l.starts_at, l.ends_at), (s.starts_at, s.ends_at));
        let show = |m: &[Matcher]| m.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(show(&l.matchers), show(&s.matchers));
        let labels = crate::model::Labels::from_pairs([("alertname", "A"), ("env", "prod")]);
        assert!(l.mutes(&labels, s.starts_at));
        let mut b = Batch::new();
        delete(&mut b, &s.id);
        db.commit(b).unwrap();
        assert!(load_silences(&db).unwrap().0.is_empty());
    }

    #[test]
    fn a_bad_matcher_is_reported_not_fatal() {
        let db = StateDb::memory();
        let mut r = SilenceRecord::from(&silence());
        r.matchers[0].op = "~~".into();
        let mut b = Batch::new();
        b.put_json(Table::Silences, "bad", &r).unwrap();
        r.matchers[0].op = "=~".into();
        r.matchers[0].value = "(".into();
        b.put_json(Table::Silences, "bad2", &r).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load_silences(&db).unwrap();
        assert!(loaded.is_empty());
        assert_eq!(bad.len(), 2);
        assert!(bad[0].reason.contains("operator"), "{bad:?}");
        assert!(bad[1].reason.contains("invalid regex"), "{bad:?}");
    }

    #[test]
    fn many_silences_load_in_parallel_and_completely() {
        let db = StateDb::memory();
        let mut b = Batch::new();
        let n = PARALLEL_FROM * 3 + 7;
        for i in 0..n {
            let mut s = silence();
            s.id = format!("id-{i:05}");
            s.matchers = parse_matchers(&format!(r#"alertname=~"A{i}.*""#)).unwrap();
            put_silence(&mut b, &s).unwrap();
        }
        let mut r = SilenceRecord::from(&silence());
        r.id = "bad".into();
        r.matchers[0].op = "~~".into();
        b.put_json(Table::Silences, "bad", &r).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load_silences(&db).unwrap();
        assert_eq!(loaded.len(), n);
        assert_eq!(bad.len(), 1);
        let mut ids: Vec<&str> = loaded.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        let l = loaded.iter().find(|s| s.id == "id-00042").unwrap();
        assert!(l.mutes(
            &crate::model::Labels::from_pairs([("alertname", "A42x")]),
            l.starts_at
        ));
    }
}
