//! Conversions between the rules' domain types and their on-disk records in
//! [`crate::persist`] (`AlertRecord`, `HistoryRecord`): the record structs are
//! the format, this file is the only place that knows how an [`Alert`] or an
//! [`AlertTransition`] maps onto them.

use crate::model::Labels;
use crate::persist::alerts::{decode_f64, encode_f64, labels_map, InvalidRecord};
use crate::persist::{AlertRecord, HistoryRecord};
use crate::rules::alert::{Alert, AlertState, AlertTransition, Transition};
use crate::rules::threshold::Severity;
use crate::rules::ResolveReason;
use std::sync::Arc;

impl From<&Alert> for AlertRecord {
    fn from(a: &Alert) -> Self {
        Self {
            labels: labels_map(&a.labels),
            annotations: a.annotations.iter().cloned().collect(),
            state: a.state.as_str().to_string(),
            value: encode_f64(a.value),
            active_at: a.active_at,
            fired_at: a.fired_at,
            resolved_at: a.resolved_at,
            keep_firing_since: a.keep_firing_since,
            severity: a.severity.map(|s| s.as_str().to_string()),
            threshold: a.threshold.map(encode_f64),
            data_missing_since: a.data_missing_since,
            resolve_reason: a.resolve_reason.map(|r| r.as_str().to_string()),
        }
    }
}

impl AlertRecord {
    /// The alert this record describes.
    pub fn to_alert(&self) -> Result<Alert, InvalidRecord> {
        Ok(Alert {
            labels: Labels::from_pairs(self.labels.iter()),
            annotations: self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            state: decode_state(&self.state)?,
            value: decode_f64("value", &self.value)?,
            active_at: self.active_at,
            fired_at: self.fired_at,
            resolved_at: self.resolved_at,
            keep_firing_since: self.keep_firing_since,
            severity: self.severity.as_deref().map(decode_severity).transpose()?,
            threshold: self
                .threshold
                .as_deref()
                .map(|t| decode_f64("threshold", t))
                .transpose()?,
            data_missing_since: self.data_missing_since,
            resolve_reason: self
                .resolve_reason
                .as_deref()
                .map(decode_resolve_reason)
                .transpose()?,
        })
    }
}

fn decode_state(s: &str) -> Result<AlertState, InvalidRecord> {
    match s {
        "inactive" => Ok(AlertState::Inactive),
        "pending" => Ok(AlertState::Pending),
        "firing" => Ok(AlertState::Firing),
        _ => Err(InvalidRecord {
            field: "state",
            value: s.to_string(),
        }),
    }
}

fn decode_resolve_reason(s: &str) -> Result<ResolveReason, InvalidRecord> {
    match s {
        "recovered" => Ok(ResolveReason::Recovered),
        "data_missing" => Ok(ResolveReason::DataMissing),
        _ => Err(InvalidRecord {
            field: "resolve_reason",
            value: s.to_string(),
        }),
    }
}

fn decode_severity(s: &str) -> Result<Severity, InvalidRecord> {
    match s {
        "warning" => Ok(Severity::Warning),
        "critical" => Ok(Severity::Critical),
        _ => Err(InvalidRecord {
            field: "severity",
            value: s.to_string(),
        }),
    }
}

impl From<&AlertTransition> for HistoryRecord {
    fn from(t: &AlertTransition) -> Self {
        Self {
            rule: t.rule.to_string(),
            group: t.group.to_string(),
            labels: labels_map(&t.labels),
            fingerprint: format!("{:016x}", t.fingerprint),
            from: t.from.as_str().to_string(),
            to: t.to.as_str().to_string(),
            state: t.state.as_str().to_string(),
            severity: t.severity.map(|s| s.as_str().to_string()),
            value: encode_f64(t.value),
            threshold: t.threshold.map(encode_f64),
            annotations: t.annotations.clone(),
            active_at: t.active_at,
            at: t.at,
            resolve_reason: t.resolve_reason.map(|r| r.as_str().to_string()),
        }
    }
}

impl HistoryRecord {
    /// The transition this record describes.
    pub fn to_transition(&self) -> Result<AlertTransition, InvalidRecord> {
        Ok(AlertTransition {
            rule: Arc::from(self.rule.as_str()),
            group: Arc::from(self.group.as_str()),
            labels: Labels::from_pairs(self.labels.iter()),
            fingerprint: u64::from_str_radix(&self.fingerprint, 16).map_err(|_| InvalidRecord {
                field: "fingerprint",
                value: self.fingerprint.clone(),
            })?,
            from: decode_state(&self.from)?,
            to: decode_transition(&self.to)?,
            state: decode_state(&self.state)?,
            severity: self.severity.as_deref().map(decode_severity).transpose()?,
            value: decode_f64("value", &self.value)?,
            threshold: self
                .threshold
                .as_deref()
                .map(|t| decode_f64("threshold", t))
                .transpose()?,
            annotations: self.annotations.clone(),
            active_at: self.active_at,
            at: self.at,
            resolve_reason: self
                .resolve_reason
                .as_deref()
                .map(decode_resolve_reason)
                .transpose()?,
        })
    }
}

fn decode_transition(s: &str) -> Result<Transition, InvalidRecord> {
    Ok(match s {
        "pending" => Transition::Pending,
        "firing" => Transition::Firing,
        "escalated" => Transition::Escalated,
        "deescalated" => Transition::Deescalated,
        "resolved" => Transition::Resolved,
        "inactive" => Transition::Inactive,
        _ => {
            return Err(InvalidRecord {
                field: "to",
                value: s.to_string(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::history::{history_key, key_sequence, retention_bound};
    use crate::persist::{Batch, StateDb, Table};

    fn alert() -> Alert {
        Alert {
            labels: Labels::from_pairs([("alertname", "Hot"), ("job", "a")]),
            annotations: vec![("summary".into(), "hot".into())],
            state: AlertState::Firing,
            value: f64::NAN,
            active_at: 1_000,
            fired_at: Some(61_000),
            resolved_at: None,
            keep_firing_since: Some(70_000),
            severity: Some(Severity::Critical),
            threshold: Some(f64::INFINITY),
            data_missing_since: Some(65_000),
            resolve_reason: Some(ResolveReason::DataMissing),
        }
    }

    #[test]
    fn alert_round_trips_through_json() {
        let a = alert();
        let json = serde_json::to_string(&AlertRecord::from(&a)).unwrap();
        let back: AlertRecord = serde_json::from_str(&json).unwrap();
        let b = back.to_alert().unwrap();
        assert!(b.value.is_nan());
        assert_eq!(
            Alert {
                value: 0.0,
                ..b.clone()
            },
            Alert { value: 0.0, ..a }
        );
        assert_eq!(b.threshold, Some(f64::INFINITY));
    }

    #[test]
    fn bad_fields_are_errors() {
        let mut r = AlertRecord::from(&alert());
        r.state = "burning".into();
        assert_eq!(r.to_alert().unwrap_err().field, "state");
        let mut r = AlertRecord::from(&alert());
        r.severity = Some("mild".into());
        assert_eq!(r.to_alert().unwrap_err().field, "severity");
        let mut r = AlertRecord::from(&alert());
        r.value = "ten".into();
        assert!(r.to_alert().unwrap_err().to_string().contains("value"));
    }

    fn tr(at: i64, to: Transition) -> AlertTransition {
        AlertTransition {
            rule: Arc::from("Hot"),
            group: Arc::from("f.yml;g"),
            labels: Labels::from_pairs([("alertname", "Hot"), ("job", "x")]),
            fingerprint: u64::MAX,
            from: AlertState::Pending,
            to,
            state: AlertState::Firing,
            severity: Some(Severity::Warning),
            value: 31.5,
            threshold: Some(30.0),
            annotations: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
            active_at: at - 1000,
            at,
            resolve_reason: (to == Transition::Resolved)
                .then_some(crate::rules::ResolveReason::DataMissing),
        }
    }

    #[test]
    fn transition_round_trips() {
        for to in [
            Transition::Pending,
            Transition::Firing,
            Transition::Escalated,
            Transition::Deescalated,
            Transition::Resolved,
            Transition::Inactive,
        ] {
            let t = tr(5_000, to);
            let json = serde_json::to_vec(&HistoryRecord::from(&t)).unwrap();
            let back: HistoryRecord = serde_json::from_slice(&json).unwrap();
            assert_eq!(back.to_transition().unwrap(), t);
        }
        let mut r = HistoryRecord::from(&tr(1, Transition::Firing));
        r.to = "exploded".into();
        assert_eq!(r.to_transition().unwrap_err().field, "to");
    }

    #[test]
    fn keys_sort_by_time_and_retention_cuts_older_ones() {
        assert!(history_key(9_999, 5) < history_key(10_000, 0));
        assert!(history_key(10_000, 9) < history_key(10_000, 10));
        assert_eq!(key_sequence(&history_key(7, 42)), Some(42));
        let db = StateDb::memory();
        let mut b = Batch::new();
        for (i, at) in [1_000, 2_000, 3_000, 3_000, 4_000].into_iter().enumerate() {
            let t = tr(at, Transition::Firing);
            b.put_json(
                Table::History,
                history_key(at, i as u64),
                &HistoryRecord::from(&t),
            )
            .unwrap();
        }
        db.commit(b).unwrap();
        let cut = db
            .delete_before(Table::History, &retention_bound(3_000))
            .unwrap();
        assert_eq!(cut, 2);
        let (left, bad) = db.load_json::<HistoryRecord>(Table::History).unwrap();
        assert!(bad.is_empty());
        assert_eq!(
            left.iter().map(|(_, r)| r.at).collect::<Vec<_>>(),
            vec![3_000, 3_000, 4_000]
        );
    }
}
