//! On-disk shape of a notification and its alerts, shared by the queue,
//! dead-letter and dispatch records.
//!
//! Everything a notification carries is stored verbatim (the idempotency key
//! included, never recomputed), so a notification restored after a restart is
//! sent with the same key and the same payload as before. Times are RFC 3339
//! strings with full precision; labels are `[name, value]` pairs.

use crate::model::Labels;
use crate::notify::{
    AlertStatus, Notification, NotificationReason, NotifyAlert, ResolveReason, Transition,
};
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

// The stored codes below are spelled out here, not taken from the domain types' display
// texts, so a change of wording there never makes old records unreadable.

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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
