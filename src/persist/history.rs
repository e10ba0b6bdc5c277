//! The on-disk record of one alert transition (table `history`).
//!
//! Key: `time-sequence`, both zero-padded decimal (`00000001764186000000-0000000007`),
//! so keys sort by time and [`super::StateDb::delete_before`] with
//! [`retention_bound`] is a retention cut. Times before the epoch sort as 0.

use super::alerts::{
    decode_f64, decode_resolve_reason, decode_severity, decode_state, encode_f64, labels_map,
    InvalidRecord,
};
use crate::model::Labels;
use crate::rules::alert::{AlertTransition, Transition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The record key of the transition at `at` (ms) with sequence number `seq`.
pub fn history_key(at: i64, seq: u64) -> String {
    format!("{:020}-{seq:010}", at.max(0))
}

/// The key bound below which every transition is older than `cutoff_ms`.
pub fn retention_bound(cutoff_ms: i64) -> String {
    format!("{:020}", cutoff_ms.max(0))
}

/// The sequence number of a key written by [`history_key`].
pub fn key_sequence(key: &str) -> Option<u64> {
    key.rsplit_once('-')?.1.parse().ok()
}

/// One alert transition, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The alerting rule's name.
    pub rule: String,
    /// The group key (`file;group`).
    pub group: String,
    /// Identity labels.
    pub labels: BTreeMap<String, String>,
    /// Identity fingerprint, hex.
    pub fingerprint: String,
    /// State before.
    pub from: String,
    /// What happened (`pending`, `firing`, `escalated`, ...).
    pub to: String,
    /// State after.
    pub state: String,
    /// Threshold rules: severity after the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The value, as Rust prints it.
    pub value: String,
    /// Threshold rules: the level crossed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// Expanded annotations, in order.
    #[serde(default)]
    pub annotations: Vec<(String, String)>,
    /// When the alert became active, ms.
    pub active_at: i64,
    /// Evaluation time of the transition, ms.
    pub at: i64,
    /// Resolved transitions: `recovered` or `data_missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_reason: Option<String>,
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
    use crate::persist::{Batch, StateDb, Table};
    use crate::rules::alert::AlertState;
    use crate::rules::threshold::Severity;

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
