//! The alert state machine of one alerting rule, as Prometheus'
//! `AlertingRule.Eval`: inactive → pending (`for`) → firing → resolved, with
//! `keep_firing_for`, the alert limit, and resolved alerts kept 15 minutes
//! for resending. Threshold rules add a severity that moves up and down on
//! the same alert. An active alert whose data is missing (see
//! [`nodata`](super::nodata)) follows the rule's no-data policy, and every
//! resolve carries a [`ResolveReason`].
//!
//! **Invariant:** pure: the evaluation time is a parameter; no clock, no I/O.

use super::nodata::{NoDataPolicy, ResolveReason};
use super::threshold::{Crossing, Severity};
use crate::model::{Labels, LabelsBuilder};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// How long a resolved alert is kept (for resending "resolved"), ms.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The annotation set (to `true`) on an alert held active while its data is
/// missing; it goes away when data returns.
pub const DATA_MISSING_ANNOTATION: &str = "data_missing";

/// The state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// Neither pending nor firing (resolved, or never active).
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// `inactive`, `pending` or `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// Became pending (new alert, or back from firing after `for` grew).
    Pending,
    /// Started firing.
    Firing,
    /// Severity went up (warning → critical).
    Escalated,
    /// Severity went down (critical → warning).
    Deescalated,
    /// A firing alert resolved.
    Resolved,
    /// A pending alert went away before firing.
    Inactive,
}

impl Transition {
    /// The lowercase name (`pending`, `firing`, `escalated`, `deescalated`,
    /// `resolved`, `inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Pending => "pending",
            Transition::Firing => "firing",
            Transition::Escalated => "escalated",
            Transition::Deescalated => "deescalated",
            Transition::Resolved => "resolved",
            Transition::Inactive => "inactive",
        }
    }
}

/// One alert instance of a rule, identified by its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Identity labels: series labels without `__name__`, the rule's labels,
    /// `alertname`. Never contains the threshold severity.
    pub labels: Labels,
    /// Expanded annotations, sorted by name.
    pub annotations: Vec<(String, String)>,
    /// Current state.
    pub state: AlertState,
    /// The value at the last evaluation.
    pub value: f64,
    /// When it became pending, ms.
    pub active_at: i64,
    /// When it started firing, ms.
    pub fired_at: Option<i64>,
    /// When it resolved, ms.
    pub resolved_at: Option<i64>,
    /// Since when it is kept firing by `keep_firing_for`, ms.
    pub keep_firing_since: Option<i64>,
    /// Threshold rules: the current severity.
    pub severity: Option<Severity>,
    /// Threshold rules: the level crossed.
    pub threshold: Option<f64>,
    /// Since when its data is missing while it is held active, ms.
    pub data_missing_since: Option<i64>,
    /// Why it resolved (set with `resolved_at`).
    pub resolve_reason: Option<ResolveReason>,
}

impl Alert {
    /// The labels the alert is published with: identity labels plus
    /// `severity` for threshold rules.
    pub fn public_labels(&self) -> Labels {
        match self.severity {
            None => self.labels.clone(),
            Some(s) => {
                let mut b = LabelsBuilder::new(&self.labels);
                b.set("severity", s.as_str());
                b.labels()
            }
        }
    }
}

/// One output sample of the rule's expression, prepared as an alert.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Identity labels.
    pub labels: Labels,
    /// Expanded annotations, sorted.
    pub annotations: Vec<(String, String)>,
    /// The sample value.
    pub value: f64,
    /// Threshold rules: the severity and level crossed.
    pub crossing: Option<Crossing>,
}

/// The timing parameters of a rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateParams {
    /// `for`, ms.
    pub hold_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
    /// The group `limit` (0: none).
    pub limit: usize,
    /// What an active alert does while its data is missing.
    pub no_data: NoDataPolicy,
    /// How long `keep_state` holds an alert whose data is missing, ms.
    pub no_data_for_ms: i64,
}

/// A change to one alert in one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The alert's identity fingerprint.
    pub fingerprint: u64,
    /// The state before.
    pub from: AlertState,
    /// What happened.
    pub to: Transition,
    /// The alert after the change.
    pub alert: Alert,
}

/// Why an evaluation was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpdateError {
    /// Two samples gave the same alert labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateLabelset,
    /// More pending and firing alerts than the group limit.
    #[error("exceeded limit of {limit} with {count} alerts")]
    Limit {
        /// The limit.
        limit: usize,
        /// Alerts that were active.
        count: usize,
    },
}

/// The alerts of one rule, keyed by the fingerprint of their identity labels.
#[derive(Debug, Clone, Default)]
pub struct AlertSet {
    alerts: HashMap<u64, Alert>,
    /// Restored alerts not seen in a result since the restart; while the
    /// evaluation time is before `held_until` their absence changes nothing.
    held: HashSet<u64>,
    held_until: i64,
}

impl AlertSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The alert with this identity fingerprint, in any state.
    pub fn get(&self, fp: u64) -> Option<&Alert> {
        self.alerts.get(&fp)
    }

    /// Whether the alert with this fingerprint is pending or firing.
    pub fn is_active(&self, fp: u64) -> bool {
        self.alerts
            .get(&fp)
            .is_some_and(|a| a.state != AlertState::Inactive)
    }

    /// All alerts, resolved ones included (unordered).
    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Number of alerts held, resolved ones included.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether no alert is held.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// The highest state of any alert (Inactive when none is active).
    pub fn max_state(&self) -> AlertState {
        self.alerts
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Applies one evaluation's results at time `ts` (ms) and returns what
    /// changed. On error the results are not applied (duplicate labels) or
    /// every alert is dropped (limit), as Prometheus does. Absent alerts are
    /// treated as recovered; see [`AlertSet::update_with`].
    pub fn update(
        &mut self,
        candidates: Vec<Candidate>,
        ts: i64,
        p: &StateParams,
    ) -> Result<Vec<Change>, UpdateError> {
        self.update_with(candidates, &|_| false, ts, p)
    }

    /// As [`AlertSet::update`]; `data_missing` tells, for an active alert
    /// absent from `candidates`, whether its data is missing (then the no-data
    /// policy of `p` applies) rather than recovered.
    ///
    /// While data is missing `keep_firing_for` does not apply: `keep_state`
    /// holds the alert (state, value, `for` timer frozen) until
    /// `no_data_for_ms` has passed, `resolve` resolves it at once, `alert`
    /// keeps it active (a pending alert still goes on to fire) until data
    /// returns. A held alert carries the [`DATA_MISSING_ANNOTATION`].
    pub fn update_with(
        &mut self,
        candidates: Vec<Candidate>,
        data_missing: &dyn Fn(&Labels) -> bool,
        ts: i64,
        p: &StateParams,
    ) -> Result<Vec<Change>, UpdateError> {
        let mut fresh: HashMap<u64, Candidate> = HashMap::with_capacity(candidates.len());
        for c in candidates {
            if fresh.insert(c.labels.fingerprint(), c).is_some() {
                return Err(UpdateError::DuplicateLabelset);
            }
        }
        for fp in fresh.keys() {
            self.held.remove(fp);
        }
        if ts >= self.held_until {
            self.held.clear();
        }
        let mut changes = Vec::new();
        let mut created = Vec::new();
        for (fp, c) in &fresh {
            if let Some(a) = self
                .alerts
                .get_mut(fp)
                .filter(|a| a.state != AlertState::Inactive)
            {
                a.value = c.value;
                a.annotations = c.annotations.clone();
                if let Some(x) = c.crossing {
                    let old = a.severity;
                    a.severity = Some(x.severity);
                    a.threshold = Some(x.threshold);
                    let to = match old {
                        Some(o) if o < x.severity => Some(Transition::Escalated),
                        Some(o) if o > x.severity => Some(Transition::Deescalated),
                        _ => None,
                    };
                    if let Some(to) = to {
                        changes.push(change(*fp, a.state, to, a));
                    }
                }
                continue;
            }
            self.alerts.insert(
                *fp,
                Alert {
                    labels: c.labels.clone(),
                    annotations: c.annotations.clone(),
                    state: AlertState::Pending,
                    value: c.value,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    keep_firing_since: None,
                    severity: c.crossing.map(|x| x.severity),
                    threshold: c.crossing.map(|x| x.threshold),
                    data_missing_since: None,
                    resolve_reason: None,
                },
            );
            created.push(*fp);
        }

        let mut remove = Vec::new();
        let mut active = 0usize;
        for (fp, a) in self.alerts.iter_mut() {
            let is_new = created.contains(fp);
            if self.held.contains(fp) && a.state != AlertState::Inactive {
                // Restored and not seen yet: the buffer may still be filling.
                active += 1;
                continue;
            }
            if !fresh.contains_key(fp) {
                let mut keep = false;
                let mut reason = ResolveReason::Recovered;
                if a.state != AlertState::Inactive && data_missing(&a.labels) {
                    reason = ResolveReason::DataMissing;
                    let since = *a.data_missing_since.get_or_insert(ts);
                    keep = p.no_data.holds(ts - since, p.no_data_for_ms);
                    if keep {
                        mark_data_missing(a);
                    }
                } else {
                    if a.data_missing_since.take().is_some() {
                        a.annotations.retain(|(k, _)| k != DATA_MISSING_ANNOTATION);
                    }
                    if a.state == AlertState::Firing && p.keep_firing_for_ms > 0 {
                        let since = *a.keep_firing_since.get_or_insert(ts);
                        keep = ts - since < p.keep_firing_for_ms;
                    }
                }
                if (a.state == AlertState::Pending && !keep)
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(*fp);
                }
                if a.state != AlertState::Inactive && !keep {
                    let from = a.state;
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                    a.resolve_reason = Some(reason);
                    let to = if from == AlertState::Firing {
                        Transition::Resolved
                    } else {
                        Transition::Inactive
                    };
                    changes.push(change(*fp, from, to, a));
                }
                if !keep {
                    continue;
                }
                if reason == ResolveReason::DataMissing && p.no_data == NoDataPolicy::KeepState {
                    active += 1;
                    continue;
                }
            } else {
                a.keep_firing_since = None;
                a.data_missing_since = None;
            }
            active += 1;
            let before = a.state;
            if a.state == AlertState::Pending && ts - a.active_at >= p.hold_ms {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if a.state == AlertState::Firing && ts - a.active_at < p.hold_ms {
                a.state = AlertState::Pending;
                a.fired_at = None;
                a.keep_firing_since = None;
            }
            if is_new {
                let to = match a.state {
                    AlertState::Firing => Transition::Firing,
                    _ => Transition::Pending,
                };
                changes.push(change(*fp, AlertState::Inactive, to, a));
            } else if a.state != before {
                let to = match a.state {
                    AlertState::Firing => Transition::Firing,
                    _ => Transition::Pending,
                };
                changes.push(change(*fp, before, to, a));
            }
        }
        for fp in remove {
            self.alerts.remove(&fp);
        }
        if p.limit > 0 && active > p.limit {
            self.alerts.clear();
            return Err(UpdateError::Limit {
                limit: p.limit,
                count: active,
            });
        }
        Ok(changes)
    }

    /// Puts back an alert saved before a restart, as it was: a firing alert
    /// stays firing with its `active_at` and `fired_at`, so the next
    /// evaluation emits no transition for it unless it really changes.
    /// Until it shows up in a result again, or until `hold_until` (ms), its
    /// absence does not resolve it: right after a restart the data buffer
    /// is empty, and resolving then would only flap notifications.
    pub fn restore(&mut self, a: Alert, hold_until: i64) {
        let fp = a.labels.fingerprint();
        if a.state != AlertState::Inactive {
            self.held.insert(fp);
            self.held_until = self.held_until.max(hold_until);
        }
        self.alerts.insert(fp, a);
    }

    /// Moves a pending alert's `active_at` back to `active_at` (ms), as restoring the `for`
    /// state from `ALERTS_FOR_STATE` does; returns whether it moved. Firing, inactive and
    /// unknown alerts, and times not earlier than the alert's own, are left alone.
    pub fn restore_active_at(&mut self, fp: u64, active_at: i64) -> bool {
        match self.alerts.get_mut(&fp) {
            Some(a) if a.state == AlertState::Pending && active_at < a.active_at => {
                a.active_at = active_at;
                true
            }
            _ => false,
        }
    }

    /// Takes over alerts from a previous version of the rule (on reload).
    pub fn carry_over(&mut self, from: &AlertSet) {
        for (fp, a) in &from.alerts {
            self.alerts.insert(*fp, a.clone());
        }
        self.held.extend(from.held.iter().copied());
        self.held_until = self.held_until.max(from.held_until);
    }
}

/// Adds the [`DATA_MISSING_ANNOTATION`] to a held alert, keeping the
/// annotations sorted.
fn mark_data_missing(a: &mut Alert) {
    if let Err(i) = a
        .annotations
        .binary_search_by(|(k, _)| k.as_str().cmp(DATA_MISSING_ANNOTATION))
    {
        a.annotations
            .insert(i, (DATA_MISSING_ANNOTATION.to_string(), "true".to_string()));
    }
}

fn change(fp: u64, from: AlertState, to: Transition, a: &Alert) -> Change {
    Change {
        fingerprint: fp,
        from,
        to,
        alert: a.clone(),
    }
}

/// An alert transition, as published to subscribers and kept in history.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTransition {
    /// The alerting rule's name.
    pub rule: Arc<str>,
    /// The group key (`file;group`).
    pub group: Arc<str>,
    /// The alert's identity labels (without severity).
    pub labels: Labels,
    /// Fingerprint of the identity labels.
    pub fingerprint: u64,
    /// The state before.
    pub from: AlertState,
    /// What happened.
    pub to: Transition,
    /// The state after.
    pub state: AlertState,
    /// Threshold rules: the severity after the transition.
    pub severity: Option<Severity>,
    /// The value at the evaluation.
    pub value: f64,
    /// Threshold rules: the level crossed.
    pub threshold: Option<f64>,
    /// Expanded annotations.
    pub annotations: Vec<(String, String)>,
    /// Resolved (and pending → inactive) transitions: why the alert went.
    pub resolve_reason: Option<ResolveReason>,
    /// When the alert became active, ms.
    pub active_at: i64,
    /// Evaluation time of the transition, ms.
    pub at: i64,
}

#[cfg(test)]
mod tests;
