//! Inhibition: a firing source alert mutes target alerts that share the `equal` labels.
//!
//! Semantics are Alertmanager's `inhibit.Inhibitor`: each rule remembers the firing alerts
//! matching its source matchers; a target alert is muted when it matches the target matchers
//! and some remembered source has the same values for every `equal` label (absent counts as
//! the empty value). When the target also matches the source matchers, sources that match the
//! target matchers are skipped, so an alert never inhibits itself.
//!
//! **Invariant:** pure state fed by the dispatcher; no I/O.

use super::alert::NotifyAlert;
use crate::config::InhibitRule;
use crate::model::matcher_text::matches_all;
use crate::model::Labels;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The inhibition rules and the source alerts they have seen.
#[derive(Debug, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
    sources: Vec<HashMap<u64, NotifyAlert>>,
}

impl Inhibitor {
    /// An inhibitor for `rules`.
    pub fn new(rules: Vec<InhibitRule>) -> Inhibitor {
        let sources = vec![HashMap::new(); rules.len()];
        Inhibitor { rules, sources }
    }

    /// Records an alert event: firing sources are remembered, resolved ones forgotten.
    pub fn observe(&mut self, alert: &NotifyAlert, now: DateTime<Utc>) {
        for (rule, sources) in self.rules.iter().zip(&mut self.sources) {
            if !matches_all(&rule.source_matchers.0, &alert.labels) {
                continue;
            }
            if alert.resolved_at(now) {
                sources.remove(&alert.fingerprint);
            } else {
                sources.insert(alert.fingerprint, alert.clone());
            }
        }
    }

    /// Whether an alert with `labels` is muted by a firing source as of `now`.
    pub fn is_inhibited(&self, labels: &Labels, now: DateTime<Utc>) -> bool {
        !self.inhibited_by(labels, now).is_empty()
    }

    /// The fingerprints of the firing sources that mute an alert with `labels` as of `now`
    /// (Alertmanager's `inhibitedBy`), sorted, without duplicates.
    pub fn inhibited_by(&self, labels: &Labels, now: DateTime<Utc>) -> Vec<u64> {
        let mut out = Vec::new();
        for (rule, sources) in self.rules.iter().zip(&self.sources) {
            if !matches_all(&rule.target_matchers.0, labels) {
                continue;
            }
            let two_sided = matches_all(&rule.source_matchers.0, labels);
            for source in sources.values() {
                if source.resolved_at(now) {
                    continue;
                }
                if two_sided && matches_all(&rule.target_matchers.0, &source.labels) {
                    continue;
                }
                let equal = rule.equal.iter().all(|name| {
                    source.labels.get(name).unwrap_or("") == labels.get(name).unwrap_or("")
                });
                if equal {
                    out.push(source.fingerprint);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::AlertStatus;
    use std::path::Path;

    fn inhibitor(rules: &str) -> Inhibitor {
        let c = crate::config::parse_with_env(rules, Path::new("t.yml"), &|_| None).unwrap();
        Inhibitor::new(c.inhibit_rules)
    }

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), Utc::now())
    }

    #[test]
    fn critical_mutes_warning_of_the_same_alertname() {
        let mut inh = inhibitor(
            "inhibit_rules:\n  - source_matchers: [severity=critical]\n    \
             target_matchers: [severity=warning]\n    equal: [alertname]\n",
        );
        let now = Utc::now();
        let source = alert(&[("alertname", "Disk"), ("severity", "critical")]);
        inh.observe(&source, now);
        let target = Labels::from_pairs([("alertname", "Disk"), ("severity", "warning")]);
        let other = Labels::from_pairs([("alertname", "Cpu"), ("severity", "warning")]);
        assert!(inh.is_inhibited(&target, now));
        assert_eq!(inh.inhibited_by(&target, now), [source.fingerprint]);
        assert!(!inh.is_inhibited(&other, now));
        assert!(!inh.is_inhibited(&source.labels, now));

        let mut resolved = source.clone();
        resolved.status = AlertStatus::Resolved;
        inh.observe(&resolved, now);
        assert!(!inh.is_inhibited(&target, now));
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_mute_itself() {
        let mut inh = inhibitor(
            "inhibit_rules:\n  - source_matchers: [team=db]\n    target_matchers: [team=db]\n",
        );
        let now = Utc::now();
        let a = alert(&[("alertname", "A"), ("team", "db")]);
        inh.observe(&a, now);
        assert!(!inh.is_inhibited(&a.labels, now));
    }
}
