//! One notification: the alerts of a group that a receiver's integration is told about.
//!
//! Built once per flush and integration, then handed unchanged to every delivery attempt, so
//! the idempotency key (and the payload) are identical on retries.

use super::alert::{AlertStatus, NotifyAlert};
use crate::model::{Labels, LabelsBuilder};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// Why a notification is sent (Alertmanager's `notification_reason`, plus severity changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationReason {
    /// The group was never notified before.
    FirstNotification,
    /// Firing alerts appeared that the last notification did not have.
    NewAlertsAdded,
    /// A firing alert changed severity (watchfire).
    SeverityChanged,
    /// Some alerts resolved since the last notification.
    SomeAlertsResolved,
    /// Every alert resolved.
    AllAlertsResolved,
    /// Nothing changed and `repeat_interval` passed.
    RepeatIntervalElapsed,
    /// A test notification (`watchfire test receivers`) or an embedder's own.
    Unknown,
}

impl NotificationReason {
    /// The text Alertmanager sends.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationReason::FirstNotification => "first notification",
            NotificationReason::NewAlertsAdded => "new alerts added",
            NotificationReason::SeverityChanged => "severity changed",
            NotificationReason::SomeAlertsResolved => "some alerts resolved",
            NotificationReason::AllAlertsResolved => "all alerts resolved",
            NotificationReason::RepeatIntervalElapsed => "repeat interval elapsed",
            NotificationReason::Unknown => "unknown",
        }
    }
}

impl fmt::Display for NotificationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an integration sends: a group's alerts at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The receiver's name.
    pub receiver: String,
    /// The group's key (`<route key>:<group labels>`).
    pub group_key: String,
    /// The labels the group is defined by.
    pub group_labels: Labels,
    /// Why this is sent.
    pub reason: NotificationReason,
    /// The alerts, sorted by labels; firing ones have no end time.
    pub alerts: Vec<NotifyAlert>,
    /// watchfire's external URL, for back-links.
    pub external_url: String,
    /// When the notification was made (alert statuses are as of this time).
    pub created_at: DateTime<Utc>,
    /// Stable across retries: a hash of the group key and each alert's fingerprint and
    /// transition sequence.
    pub idempotency_key: String,
}

impl Notification {
    /// Builds a notification; sorts the alerts and computes the idempotency key.
    pub fn new(
        receiver: impl Into<String>,
        group_key: impl Into<String>,
        group_labels: Labels,
        reason: NotificationReason,
        mut alerts: Vec<NotifyAlert>,
        external_url: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Notification {
        alerts.sort_by(|a, b| alert_order(&a.labels, &b.labels));
        let group_key = group_key.into();
        let idempotency_key = idempotency_key(&group_key, &alerts);
        Notification {
            receiver: receiver.into(),
            group_key,
            group_labels,
            reason,
            alerts,
            external_url: external_url.into(),
            created_at,
            idempotency_key,
        }
    }

    /// `Firing` if any alert fires, else `Resolved`.
    pub fn status(&self) -> AlertStatus {
        if self.firing().next().is_some() {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    /// The status of `alert` as of [`Notification::created_at`].
    pub fn alert_status(&self, alert: &NotifyAlert) -> AlertStatus {
        if alert.resolved_at(self.created_at) {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| self.alert_status(a) == AlertStatus::Firing)
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| self.alert_status(a) == AlertStatus::Resolved)
    }

    /// Labels with the same value in every alert.
    pub fn common_labels(&self) -> Labels {
        let Some(first) = self.alerts.first() else {
            return Labels::empty();
        };
        let mut b = LabelsBuilder::new(&first.labels);
        for label in &first.labels {
            if self.alerts[1..]
                .iter()
                .any(|a| a.labels.get(&label.name) != Some(&*label.value))
            {
                b.del(&label.name);
            }
        }
        b.labels()
    }

    /// Annotations with the same value in every alert.
    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        let Some(first) = self.alerts.first() else {
            return BTreeMap::new();
        };
        first
            .annotations
            .iter()
            .filter(|(k, v)| {
                self.alerts[1..]
                    .iter()
                    .all(|a| a.annotations.get(*k) == Some(*v))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The highest severity among firing alerts (`critical` > `error` > `warning` > `info` >
    /// others), if any has one.
    pub fn top_severity(&self) -> Option<&str> {
        self.firing()
            .filter_map(|a| a.severity.as_deref())
            .max_by_key(|s| severity_rank(s))
    }

    /// A copy with only the firing alerts (for integrations without `send_resolved`); `None`
    /// when nothing fires. The idempotency key is recomputed for the smaller set.
    pub fn firing_only(&self) -> Option<Notification> {
        let alerts: Vec<NotifyAlert> = self.firing().cloned().collect();
        if alerts.is_empty() {
            return None;
        }
        let idempotency_key = idempotency_key(&self.group_key, &alerts);
        Some(Notification {
            alerts,
            idempotency_key,
            ..self.clone()
        })
    }
}

/// Alertmanager's alert order in a notification: by `job`, then `instance` (alerts with the
/// label first), then by label set (fewer labels first, then the first differing label in
/// name order; a missing name sorts first).
pub fn alert_order(a: &Labels, b: &Labels) -> Ordering {
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|l| &*l.name).collect();
    names.sort_unstable();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    Ordering::Equal
}

/// Orders severities: critical/page highest.
pub fn severity_rank(severity: &str) -> u8 {
    match severity.to_ascii_lowercase().as_str() {
        "critical" | "page" | "emergency" | "fatal" => 5,
        "error" | "high" => 4,
        "warning" | "warn" | "medium" => 3,
        "info" | "low" => 2,
        "none" | "debug" => 0,
        _ => 1,
    }
}

/// Hex SHA-256 (first 32 digits) of the group key and each alert's fingerprint, status and
/// transition sequence.
fn idempotency_key(group_key: &str, alerts: &[NotifyAlert]) -> String {
    let mut items: Vec<(u64, u64, AlertStatus)> = alerts
        .iter()
        .map(|a| (a.fingerprint, a.seq, a.status))
        .collect();
    items.sort();
    let mut h = Sha256::new();
    h.update(group_key.as_bytes());
    for (fp, seq, status) in items {
        h.update(format!("\n{fp:016x}:{seq}:{status}").as_bytes());
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn alert(pairs: &[(&str, &str)], seq: u64) -> NotifyAlert {
        let t = Utc.with_ymd_and_hms(2026, 8, 21, 14, 30, 0).unwrap();
        let mut a = NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), t);
        a.seq = seq;
        a
    }

    fn note(alerts: Vec<NotifyAlert>) -> Notification {
        let now = Utc.with_ymd_and_hms(2026, 8, 21, 15, 0, 0).unwrap();
        Notification::new(
            "r",
            "{}:{}",
            Labels::empty(),
            NotificationReason::FirstNotification,
            alerts,
            "http://wf",
            now,
        )
    }

    #[test]
    fn common_labels_and_annotations() {
        let mut a = alert(&[("alertname", "A"), ("x", "1"), ("y", "2")], 1);
        let mut b = alert(&[("alertname", "A"), ("x", "1"), ("y", "3")], 1);
        a.annotations.insert("s".into(), "same".into());
        b.annotations.insert("s".into(), "same".into());
        a.annotations.insert("d".into(), "1".into());
        let n = note(vec![b, a]);
        assert_eq!(
            n.common_labels(),
            Labels::from_pairs([("alertname", "A"), ("x", "1")])
        );
        assert_eq!(n.common_annotations().len(), 1);
        assert_eq!(n.alerts[0].labels.get("y"), Some("2"));
        assert_eq!(n.status(), AlertStatus::Firing);
    }

    #[test]
    fn alerts_sort_as_alertmanager() {
        let l = |p: &[(&str, &str)]| Labels::from_pairs(p.iter().copied());
        let a = l(&[("instance", "b"), ("z", "1")]);
        let b = l(&[("instance", "a"), ("z", "2")]);
        let c = l(&[("a", "1")]);
        let d = l(&[("a", "1"), ("b", "1")]);
        assert_eq!(alert_order(&a, &b), Ordering::Greater);
        assert_eq!(
            alert_order(&b, &c),
            Ordering::Less,
            "alerts with instance first"
        );
        assert_eq!(alert_order(&c, &d), Ordering::Less, "fewer labels first");
        assert_eq!(
            alert_order(&l(&[("a", "1")]), &l(&[("b", "0")])),
            Ordering::Greater
        );
    }

    #[test]
    fn idempotency_key_depends_on_sequence_only() {
        let a = note(vec![alert(&[("alertname", "A")], 1)]);
        let b = note(vec![alert(&[("alertname", "A")], 1)]);
        let c = note(vec![alert(&[("alertname", "A")], 2)]);
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_ne!(a.idempotency_key, c.idempotency_key);
        assert_eq!(a.idempotency_key.len(), 32);
    }

    #[test]
    fn firing_only_and_severity() {
        let mut r = alert(&[("alertname", "R"), ("severity", "critical")], 2);
        r.status = AlertStatus::Resolved;
        r.ends_at = Some(r.starts_at);
        let w = alert(&[("alertname", "W"), ("severity", "warning")], 1);
        let n = note(vec![r, w]);
        assert_eq!(n.top_severity(), Some("warning"));
        let f = n.firing_only().unwrap();
        assert_eq!(f.alerts.len(), 1);
        assert_ne!(f.idempotency_key, n.idempotency_key);
        assert!(severity_rank("critical") > severity_rank("warning"));
    }
}
