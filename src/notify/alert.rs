//! The notifier's input: one alert transition as the rule engine reports it.
//!
//! The rule engine produces [`NotifyAlert`]s (the lead's bridge fills them from rule events);
//! everything downstream (routing, grouping, integrations) reads only this type.
//!
//! **Invariant:** no I/O and no clock here.

use crate::model::Labels;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;

/// Whether an alert is firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertStatus {
    /// Active.
    Firing,
    /// No longer active.
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`, as Alertmanager writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an alert resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResolveReason {
    /// The condition cleared while its data was still reported (`recovered`).
    ValueRecovered,
    /// The data the rule needs went missing, e.g. the target is down (`data_missing`).
    DataMissing,
}

impl ResolveReason {
    /// `recovered` or `data_missing`, as the webhook's `resolveReason` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveReason::ValueRecovered => "recovered",
            ResolveReason::DataMissing => "data_missing",
        }
    }
}

/// What happened to the alert in the transition that produced this event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Started firing.
    Firing,
    /// Stopped firing.
    Resolved {
        /// Why.
        reason: ResolveReason,
    },
    /// Still firing, at a higher severity.
    Escalated {
        /// The previous severity.
        from: String,
        /// The new severity.
        to: String,
    },
    /// Still firing, at a lower severity.
    DeEscalated {
        /// The previous severity.
        from: String,
        /// The new severity.
        to: String,
    },
}

impl Transition {
    /// `firing`, `resolved`, `escalated` or `deescalated`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transition::Firing => "firing",
            Transition::Resolved { .. } => "resolved",
            Transition::Escalated { .. } => "escalated",
            Transition::DeEscalated { .. } => "deescalated",
        }
    }

    /// The severities before and after, for escalations and de-escalations.
    pub fn severities(&self) -> Option<(&str, &str)> {
        match self {
            Transition::Escalated { from, to } | Transition::DeEscalated { from, to } => {
                Some((from, to))
            }
            _ => None,
        }
    }
}

/// One alert as the notifier sees it: its current state and the transition that led there.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifyAlert {
    /// All labels, including `alertname` and external labels.
    pub labels: Labels,
    /// Annotations, already expanded.
    pub annotations: BTreeMap<String, String>,
    /// When the alert became firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved; `None` while firing.
    pub ends_at: Option<DateTime<Utc>>,
    /// Link back to the expression (`<external url>/graph?g0.expr=...&g0.tab=1`).
    pub generator_url: String,
    /// The alert's identity; see [`alert_fingerprint`]. Stays the same across severity changes
    /// when the severity is not part of the identity.
    pub fingerprint: u64,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The severity (usually the `severity` label), if the rule has one.
    pub severity: Option<String>,
    /// The transition that produced this event.
    pub transition: Transition,
    /// Transition sequence number of this alert: grows by one per transition. With the
    /// fingerprint it identifies a notification-worthy event (idempotency keys use it).
    pub seq: u64,
}

impl NotifyAlert {
    /// A firing alert with sequence 1, its fingerprint computed from `labels` and its severity
    /// taken from the `severity` label.
    pub fn firing(labels: Labels, starts_at: DateTime<Utc>) -> Self {
        NotifyAlert {
            fingerprint: alert_fingerprint(&labels),
            severity: labels.get("severity").map(str::to_owned),
            labels,
            annotations: BTreeMap::new(),
            starts_at,
            ends_at: None,
            generator_url: String::new(),
            status: AlertStatus::Firing,
            transition: Transition::Firing,
            seq: 1,
        }
    }

    /// The `alertname` label, or an empty string.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").unwrap_or("")
    }

    /// Whether the alert is resolved as of `now`: resolved status, or an end time not after
    /// `now` (Alertmanager's `ResolvedAt`).
    pub fn resolved_at(&self, now: DateTime<Utc>) -> bool {
        self.status == AlertStatus::Resolved || self.ends_at.is_some_and(|end| end <= now)
    }

    /// The alert's fingerprint as 16 lower-case hex digits.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }
}

/// Alertmanager's alert fingerprint: 64-bit FNV-1a over the label names and values in name
/// order, each followed by the byte `0xff`.
pub fn alert_fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for label in labels {
        eat(label.name.as_bytes());
        eat(&[0xff]);
        eat(label.value.as_bytes());
        eat(&[0xff]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_prometheus_common() {
        // The empty set hashes to the FNV offset basis; {foo="bar"} was computed independently
        // (Python, FNV-1a over b"foo\xffbar\xff"). The e2e test checks against Alertmanager.
        assert_eq!(
            alert_fingerprint(&Labels::empty()),
            14_695_981_039_346_656_037
        );
        let l = Labels::from_pairs([("foo", "bar")]);
        assert_eq!(alert_fingerprint(&l), 0x3fff_2c2d_7595_e046);
    }

    #[test]
    fn resolved_at_uses_status_and_end() {
        let now = Utc::now();
        let mut a = NotifyAlert::firing(Labels::from_pairs([("alertname", "X")]), now);
        assert!(!a.resolved_at(now));
        a.ends_at = Some(now);
        assert!(a.resolved_at(now));
        assert_eq!(a.name(), "X");
        assert_eq!(a.fingerprint_hex().len(), 16);
    }
}
