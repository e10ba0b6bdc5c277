//! Rule engine → notifier: turns the rule manager's alert transitions into
//! [`NotifyAlert`]s. Pending and never-fired alerts are not notified; a
//! severity change of a firing alert becomes an escalation or de-escalation
//! of the same alert (same fingerprint), never a resolve plus a new alert.

use super::alert::{AlertStatus, NotifyAlert, ResolveReason, Transition};
use super::handle::NotifierHandle;
use crate::model::{Labels, LabelsBuilder};
use crate::rules::alert::{AlertState, AlertTransition, Transition as RuleTransition};
use crate::rules::manager::HeldAlert;
use crate::rules::nodata::ResolveReason as RuleResolveReason;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What the bridge remembers of a firing alert.
#[derive(Debug, Clone)]
struct Firing {
    fired_at: i64,
    severity: Option<String>,
}

/// Converts transitions, remembering each firing alert's start and severity.
#[derive(Debug, Default)]
pub struct Bridge {
    external_labels: Arc<RwLock<Labels>>,
    generator_url: String,
    firing: HashMap<u64, Firing>,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Bridge {
    /// A bridge adding `external_labels` (without overriding alert labels) and
    /// linking notifications to `external_url`.
    pub fn new(external_labels: Labels, external_url: &str) -> Self {
        Self {
            external_labels: Arc::new(RwLock::new(external_labels)),
            generator_url: format!("{}/alerts", external_url.trim_end_matches('/')),
            firing: HashMap::new(),
        }
    }

    /// Where the external labels live: replace them there on a configuration reload and the
    /// next notification carries the new ones.
    pub fn external_labels(&self) -> Arc<RwLock<Labels>> {
        self.external_labels.clone()
    }

    /// The notification for one transition, if it is one to notify.
    pub fn convert(&mut self, t: &AlertTransition) -> Option<NotifyAlert> {
        let severity = t.severity.map(|s| s.as_str().to_string());
        let (transition, status) = match t.to {
            RuleTransition::Pending | RuleTransition::Inactive => return None,
            RuleTransition::Firing => {
                self.firing.insert(
                    t.fingerprint,
                    Firing {
                        fired_at: t.at,
                        severity: severity.clone(),
                    },
                );
                (Transition::Firing, AlertStatus::Firing)
            }
            // A severity change while still pending is not news to a receiver:
            // the firing notification will carry the severity reached by then.
            RuleTransition::Escalated | RuleTransition::Deescalated
                if t.state != AlertState::Firing =>
            {
                return None
            }
            RuleTransition::Escalated | RuleTransition::Deescalated => {
                let entry = self.firing.entry(t.fingerprint).or_insert(Firing {
                    fired_at: t.active_at,
                    severity: None,
                });
                let from = entry.severity.replace(severity.clone().unwrap_or_default());
                let from = from.unwrap_or_default();
                let to = severity.clone().unwrap_or_default();
                let tr = if t.to == RuleTransition::Escalated {
                    Transition::Escalated { from, to }
                } else {
                    Transition::DeEscalated { from, to }
                };
                (tr, AlertStatus::Firing)
            }
            RuleTransition::Resolved => (
                Transition::Resolved {
                    reason: match t.resolve_reason {
                        Some(RuleResolveReason::DataMissing) => ResolveReason::DataMissing,
                        Some(RuleResolveReason::Recovered) | None => ResolveReason::ValueRecovered,
                    },
                },
                AlertStatus::Resolved,
            ),
        };
        let fired_at = self
            .firing
            .get(&t.fingerprint)
            .map_or(t.active_at, |f| f.fired_at);
        if status == AlertStatus::Resolved {
            self.firing.remove(&t.fingerprint);
        }
        let mut labels = LabelsBuilder::new(&t.labels);
        for l in self.external_labels.read().iter() {
            if labels.get(&l.name).is_none() {
                labels.set_shared(l.name.clone(), l.value.clone());
            }
        }
        if let Some(s) = &severity {
            labels.set("severity", s);
        }
        Some(NotifyAlert {
            labels: labels.labels(),
            annotations: t.annotations.iter().cloned().collect(),
            starts_at: time(fired_at),
            ends_at: (status == AlertStatus::Resolved).then(|| time(t.at)),
            generator_url: self.generator_url.clone(),
            fingerprint: t.fingerprint,
            status,
            severity,
            transition,
            seq: u64::try_from(t.at).unwrap_or_default(),
        })
    }
}

/// The firing alerts a restart restored, as the firing transitions that started them (at
/// their `fired_at`). Fed to the bridge first: it learns each alert's start and severity
/// (for later escalations and resolves), and the notifier, which compares transition
/// sequences with its notification log, sends only what it never sent before the restart —
/// e.g. a firing that was evaluated, but not yet queued, when the process was killed.
pub fn resync_transitions(held: &[HeldAlert]) -> Vec<AlertTransition> {
    held.iter()
        .filter(|h| h.alert.state == AlertState::Firing)
        .map(|h| {
            let a = &h.alert;
            AlertTransition {
                rule: h.rule.clone(),
                group: h.group.clone(),
                labels: a.labels.clone(),
                fingerprint: a.labels.fingerprint(),
                from: AlertState::Pending,
                to: RuleTransition::Firing,
                state: AlertState::Firing,
                severity: a.severity,
                value: a.value,
                threshold: a.threshold,
                annotations: a.annotations.clone(),
                active_at: a.active_at,
                at: a.fired_at.unwrap_or(a.active_at),
                resolve_reason: None,
            }
        })
        .collect()
}

/// Feeds `resync` (see [`resync_transitions`]), then every transition from `events`, to
/// `notifier`. When `stop` fires it forwards what the rule engine had already published and
/// returns, so a graceful shutdown loses no transition.
pub async fn run(
    mut bridge: Bridge,
    resync: Vec<AlertTransition>,
    mut events: broadcast::Receiver<AlertTransition>,
    notifier: Arc<NotifierHandle>,
    stop: CancellationToken,
) {
    for t in &resync {
        if let Some(alert) = bridge.convert(t) {
            notifier.send(alert).await;
        }
    }
    loop {
        let received = tokio::select! {
            biased;
            r = events.recv() => r,
            _ = stop.cancelled() => loop {
                match events.try_recv() {
                    Ok(t) => {
                        if let Some(alert) = bridge.convert(&t) {
                            notifier.send(alert).await;
                        }
                    }
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        tracing::error!(lost = n, "notifier fell behind the rule engine; transitions lost");
                    }
                    Err(_) => return,
                }
            },
        };
        match received {
            Ok(t) => {
                if let Some(alert) = bridge.convert(&t) {
                    notifier.send(alert).await;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::error!(
                    lost = n,
                    "notifier fell behind the rule engine; transitions lost"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;
    use std::sync::Arc as StdArc;

    fn tr(to: RuleTransition, severity: Option<Severity>, at: i64) -> AlertTransition {
        AlertTransition {
            rule: StdArc::from("HighLatencyP95"),
            group: StdArc::from("g"),
            labels: Labels::from_pairs([("alertname", "HighLatencyP95"), ("module", "checkout")]),
            fingerprint: 42,
            from: AlertState::Pending,
            to,
            state: AlertState::Firing,
            severity,
            value: 3.0,
            threshold: Some(2.0),
            annotations: vec![("summary".into(), "slow".into())],
            resolve_reason: (to == RuleTransition::Resolved)
                .then_some(RuleResolveReason::Recovered),
            active_at: 1_000,
            at,
        }
    }

    #[test]
    fn escalation_keeps_identity_and_start() {
        let mut b = Bridge::new(Labels::from_pairs([("monitor", "wf")]), "http://wf:9711/");
        assert!(b
            .convert(&tr(RuleTransition::Pending, Some(Severity::Warning), 1_000))
            .is_none());
        let fire = b
            .convert(&tr(RuleTransition::Firing, Some(Severity::Warning), 31_000))
            .unwrap();
        assert_eq!(fire.transition, Transition::Firing);
        assert_eq!(fire.labels.get("severity"), Some("warning"));
        assert_eq!(fire.labels.get("monitor"), Some("wf"));
        assert_eq!(fire.generator_url, "http://wf:9711/alerts");
        let esc = b
            .convert(&tr(
                RuleTransition::Escalated,
                Some(Severity::Critical),
                61_000,
            ))
            .unwrap();
        assert_eq!(
            esc.transition,
            Transition::Escalated {
                from: "warning".into(),
                to: "critical".into()
            }
        );
        assert_eq!(esc.fingerprint, fire.fingerprint);
        assert_eq!(esc.starts_at, fire.starts_at);
        assert!(esc.seq > fire.seq);
        let res = b
            .convert(&tr(
                RuleTransition::Resolved,
                Some(Severity::Critical),
                91_000,
            ))
            .unwrap();
        assert_eq!(res.status, AlertStatus::Resolved);
        assert_eq!(
            res.transition,
            Transition::Resolved {
                reason: ResolveReason::ValueRecovered
            }
        );
        assert_eq!(res.ends_at, Some(time(91_000)));
        assert_eq!(res.starts_at, fire.starts_at);
        assert!(b.firing.is_empty());
    }

    #[test]
    fn data_missing_reason_reaches_the_notification() {
        let mut b = Bridge::new(Labels::empty(), "http://wf:9711");
        b.convert(&tr(RuleTransition::Firing, None, 31_000));
        let mut gone = tr(RuleTransition::Resolved, None, 91_000);
        gone.resolve_reason = Some(RuleResolveReason::DataMissing);
        let res = b.convert(&gone).unwrap();
        assert_eq!(
            res.transition,
            Transition::Resolved {
                reason: ResolveReason::DataMissing
            }
        );
    }

    #[test]
    fn severity_changes_while_pending_are_not_notified() {
        let mut b = Bridge::new(Labels::empty(), "http://wf");
        let mut esc = tr(RuleTransition::Escalated, Some(Severity::Critical), 5_000);
        esc.state = AlertState::Pending;
        assert!(b.convert(&esc).is_none());
        let fire = b
            .convert(&tr(
                RuleTransition::Firing,
                Some(Severity::Critical),
                31_000,
            ))
            .unwrap();
        assert_eq!(fire.transition, Transition::Firing);
        assert_eq!(fire.labels.get("severity"), Some("critical"));
    }

    #[test]
    fn resync_replays_restored_firing_alerts_at_their_start() {
        use crate::rules::alert::Alert;
        let alert = |state: AlertState, fired_at: Option<i64>| Alert {
            labels: Labels::from_pairs([("alertname", "HighLatencyP95"), ("module", "checkout")]),
            annotations: vec![],
            state,
            value: 7.0,
            active_at: 1_000,
            fired_at,
            resolved_at: None,
            keep_firing_since: None,
            severity: Some(Severity::Critical),
            threshold: Some(5.0),
            data_missing_since: None,
            resolve_reason: None,
        };
        let held = |a: Alert| HeldAlert {
            group: StdArc::from("g"),
            rule: StdArc::from("HighLatencyP95"),
            alert: a,
        };
        let resync = resync_transitions(&[
            held(alert(AlertState::Firing, Some(31_000))),
            held(alert(AlertState::Pending, None)),
        ]);
        assert_eq!(resync.len(), 1, "only firing alerts are replayed");
        let mut b = Bridge::new(Labels::empty(), "http://wf");
        let fire = b.convert(&resync[0]).unwrap();
        assert_eq!(fire.transition, Transition::Firing);
        assert_eq!(fire.seq, 31_000, "the sequence of the original firing");
        assert_eq!(fire.starts_at, time(31_000));
        assert_eq!(fire.labels.get("severity"), Some("critical"));
        // The bridge now knows the alert: a later de-escalation says from where.
        let mut de = tr(RuleTransition::Deescalated, Some(Severity::Warning), 90_000);
        de.fingerprint = resync[0].fingerprint;
        let de = b.convert(&de).unwrap();
        assert_eq!(
            de.transition,
            Transition::DeEscalated {
                from: "critical".into(),
                to: "warning".into()
            }
        );
        assert_eq!(de.starts_at, time(31_000));
    }

    #[test]
    fn external_labels_can_change_on_reload() {
        let mut b = Bridge::new(Labels::from_pairs([("dc", "a")]), "http://wf");
        let fire = b.convert(&tr(RuleTransition::Firing, None, 1_000)).unwrap();
        assert_eq!(fire.labels.get("dc"), Some("a"));
        *b.external_labels().write() = Labels::from_pairs([("dc", "b")]);
        let res = b
            .convert(&tr(RuleTransition::Resolved, None, 2_000))
            .unwrap();
        assert_eq!(res.labels.get("dc"), Some("b"));
    }
}
