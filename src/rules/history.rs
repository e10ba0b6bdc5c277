//! A bounded, in-memory history of alert transitions (ring buffer: the
//! oldest entry is dropped when full), queried by name, matchers and time.

use super::alert::AlertTransition;
use crate::model::Matcher;
use std::collections::VecDeque;

/// Default number of transitions kept.
pub const DEFAULT_HISTORY_CAPACITY: usize = 10_000;

/// A history query; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only this alert name.
    pub alertname: Option<String>,
    /// Matcher sets, ORed; each set's matchers are ANDed against the alert's
    /// public labels (severity included).
    pub matcher_sets: Vec<Vec<Matcher>>,
    /// From this time (ms, inclusive).
    pub start_ms: Option<i64>,
    /// Until this time (ms, inclusive).
    pub end_ms: Option<i64>,
    /// At most this many entries (the newest).
    pub limit: Option<usize>,
}

/// The ring buffer.
#[derive(Debug)]
pub struct History {
    cap: usize,
    entries: VecDeque<AlertTransition>,
}

impl History {
    /// A history keeping at most `cap` transitions.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            entries: VecDeque::new(),
        }
    }

    /// Appends a transition, dropping the oldest when full.
    pub fn push(&mut self, t: AlertTransition) {
        if self.entries.len() == self.cap {
            self.entries.pop_front();
        }
        self.entries.push_back(t);
    }

    /// The most entries kept.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Matching transitions in time order.
    pub fn query(&self, q: &HistoryQuery) -> Vec<AlertTransition> {
        let mut out: Vec<AlertTransition> = self
            .entries
            .iter()
            .filter(|t| q.start_ms.is_none_or(|s| t.at >= s))
            .filter(|t| q.end_ms.is_none_or(|e| t.at <= e))
            .filter(|t| q.alertname.as_deref().is_none_or(|n| &*t.rule == n))
            .filter(|t| {
                if q.matcher_sets.is_empty() {
                    return true;
                }
                let labels = public_labels(t);
                q.matcher_sets
                    .iter()
                    .any(|set| super::selector::matches_all(set, &labels))
            })
            .cloned()
            .collect();
        if let Some(l) = q.limit {
            let skip = out.len().saturating_sub(l);
            out.drain(..skip);
        }
        out
    }
}

/// A transition's labels with `severity` for threshold rules.
pub fn public_labels(t: &AlertTransition) -> crate::model::Labels {
    match t.severity {
        None => t.labels.clone(),
        Some(s) => {
            let mut b = crate::model::LabelsBuilder::new(&t.labels);
            b.set("severity", s.as_str());
            b.labels()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::rules::alert::{AlertState, Transition};
    use std::sync::Arc;

    fn tr(rule: &str, at: i64, job: &str) -> AlertTransition {
        AlertTransition {
            rule: Arc::from(rule),
            group: Arc::from("f;g"),
            labels: Labels::from_pairs([("alertname", rule), ("job", job)]),
            fingerprint: 0,
            from: AlertState::Inactive,
            to: Transition::Firing,
            state: AlertState::Firing,
            severity: None,
            value: 1.0,
            threshold: None,
            annotations: vec![],
            resolve_reason: None,
            active_at: at,
            at,
        }
    }

    #[test]
    fn ring_drops_oldest_and_filters() {
        let mut h = History::new(3);
        for (i, r) in ["A", "B", "A", "A"].iter().enumerate() {
            h.push(tr(r, i as i64 * 1000, if i % 2 == 0 { "x" } else { "y" }));
        }
        assert_eq!(h.len(), 3);
        let all = h.query(&HistoryQuery::default());
        assert_eq!(
            all.iter().map(|t| t.at).collect::<Vec<_>>(),
            vec![1000, 2000, 3000]
        );
        let q = HistoryQuery {
            alertname: Some("A".into()),
            start_ms: Some(2500),
            ..Default::default()
        };
        assert_eq!(h.query(&q).len(), 1);
        let q = HistoryQuery {
            matcher_sets: vec![vec![Matcher::equal("job", "y")]],
            ..Default::default()
        };
        assert_eq!(
            h.query(&q).iter().map(|t| t.at).collect::<Vec<_>>(),
            vec![1000, 3000]
        );
        let q = HistoryQuery {
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(h.query(&q)[0].at, 3000);
    }
}
