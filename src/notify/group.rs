//! Aggregation groups: the alerts of one route with the same group labels, and when to tell
//! each of the route receiver's integrations about them.
//!
//! Timing follows Alertmanager's `dispatch.aggrGroup`: the first flush comes `group_wait` after
//! the group is created (at once when its first alert started longer ago than that), later ones
//! every `group_interval`. At each flush the decision per integration follows the notification
//! log rules of `notify.DedupStage`: notify when firing alerts appeared, when all resolved, when
//! some resolved and `send_resolved` is on, or when `repeat_interval` passed. watchfire adds: a
//! firing alert whose transition sequence changed (escalated or de-escalated) is notified too,
//! and a critical alert makes a group without explicit `group_wait` flush at once. A flush
//! while the route's time intervals mute it ([`AggrGroup::flush_muted`]) sends nothing and
//! leaves the log alone.
//!
//! **Invariant:** pure: time comes in as parameters; no I/O.

use super::alert::{NotifyAlert, Transition};
use super::notification::{Notification, NotificationReason};
use super::route::Route;
use crate::model::matcher_text::label_set_string;
use crate::model::Labels;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// What the group remembers about the last notification sent through one integration.
#[derive(Clone, Debug, PartialEq)]
struct LogEntry {
    /// Firing fingerprints and their transition sequence.
    firing: BTreeMap<u64, u64>,
    /// Resolved fingerprints.
    resolved: BTreeSet<u64>,
    /// When it was sent (monotonic clock).
    at: Instant,
    /// When it was sent (calendar time; what survives a restart).
    wall: DateTime<Utc>,
}

/// What an aggregation group carries across a restart: its alerts and, per integration, what
/// was last notified (Alertmanager's notification log). Plain data; `persist::dispatch`
/// stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    /// `<route key>:<group labels>`.
    pub key: String,
    /// The route's key (`{}` for the root).
    pub route_key: String,
    /// The route's index in the tree when the state was saved.
    pub route_index: usize,
    /// The receiver.
    pub receiver: String,
    /// The labels that define the group.
    pub group_labels: Labels,
    /// The alerts held.
    pub alerts: Vec<NotifyAlert>,
    /// Whether the group has flushed at least once (its `group_wait` is over).
    pub has_flushed: bool,
    /// Per integration of the receiver, the last notification sent through it.
    pub notified: Vec<Option<NotifiedState>>,
}

/// The last notification sent through one integration of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifiedState {
    /// Firing fingerprints and their transition sequence (a severity change bumps it).
    pub firing: BTreeMap<u64, u64>,
    /// Resolved fingerprints.
    pub resolved: BTreeSet<u64>,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// One aggregation group.
#[derive(Clone, Debug)]
pub struct AggrGroup {
    /// `<route key>:<group labels>`.
    pub key: String,
    /// The receiver that gets the notifications.
    pub receiver: String,
    /// The labels that define the group.
    pub group_labels: Labels,
    /// Index of the route in the tree.
    pub route_index: usize,
    route_key: String,
    group_interval: Duration,
    repeat_interval: Duration,
    fast_default: bool,
    mute_time_intervals: Vec<String>,
    active_time_intervals: Vec<String>,
    alerts: BTreeMap<u64, NotifyAlert>,
    next_flush: Instant,
    has_flushed: bool,
    logs: Vec<Option<LogEntry>>,
    /// Changed since the last [`AggrGroup::take_dirty`] in a way a restart must not lose.
    dirty: bool,
}

impl AggrGroup {
    /// A new group for `route` holding `first`; `now` is the monotonic clock, `wall` the
    /// calendar time the alert times are compared with.
    pub fn new(
        route: &Route,
        group_labels: Labels,
        first: NotifyAlert,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> AggrGroup {
        let wait = route.group_wait_for(first.severity.as_deref());
        let old_enough = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|w| first.starts_at.checked_add_signed(w))
            .is_some_and(|t| t < wall);
        let next_flush = if old_enough { now } else { now + wait };
        let mut group = AggrGroup {
            key: format!("{}:{}", route.key, label_set_string(&group_labels)),
            receiver: route.receiver.clone(),
            group_labels,
            route_index: route.index,
            route_key: route.key.clone(),
            group_interval: route.group_interval,
            repeat_interval: route.repeat_interval,
            fast_default: route.group_wait.is_none(),
            mute_time_intervals: route.mute_time_intervals.clone(),
            active_time_intervals: route.active_time_intervals.clone(),
            alerts: BTreeMap::new(),
            next_flush,
            has_flushed: false,
            logs: Vec::new(),
            dirty: true,
        };
        group.insert(first, now);
        group
    }

    /// Adds or updates an alert; an event older (by sequence) than the one held is ignored.
    pub fn insert(&mut self, alert: NotifyAlert, now: Instant) {
        if let Some(held) = self.alerts.get(&alert.fingerprint) {
            if held.seq > alert.seq {
                return;
            }
        }
        if !self.has_flushed && self.fast_default && alert.severity.as_deref() == Some("critical") {
            self.next_flush = self.next_flush.min(now);
        }
        self.alerts.insert(alert.fingerprint, alert);
        self.dirty = true;
    }

    /// Forgets an alert without notifying (it moved to another group).
    pub fn remove(&mut self, fingerprint: u64) {
        self.dirty |= self.alerts.remove(&fingerprint).is_some();
    }

    /// When the group wants to flush next.
    pub fn next_flush(&self) -> Instant {
        self.next_flush
    }

    /// True when the group holds no alerts (and can be dropped).
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// The alerts held, by fingerprint.
    pub fn alerts(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts.values()
    }

    /// Whether the group changed since the last call (alerts, notification log), clearing
    /// the flag: the notifier writes changed groups to the state database.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The group's alerts and notification log, to save.
    pub fn snapshot(&self) -> GroupState {
        GroupState {
            key: self.key.clone(),
            route_key: self.route_key.clone(),
            route_index: self.route_index,
            receiver: self.receiver.clone(),
            group_labels: self.group_labels.clone(),
            alerts: self.alerts.values().cloned().collect(),
            has_flushed: self.has_flushed,
            notified: self
                .logs
                .iter()
                .map(|l| {
                    l.as_ref().map(|l| NotifiedState {
                        firing: l.firing.clone(),
                        resolved: l.resolved.clone(),
                        at: l.wall,
                    })
                })
                .collect(),
        }
    }

    /// A group rebuilt after a restart from `state` under `route` (which may have new
    /// timings). A group that had flushed flushes at once: its notification log keeps what
    /// was already sent from being sent again before `repeat_interval`, while anything that
    /// changed meanwhile is notified. One that had not waits its `group_wait` as a new group.
    /// `None` when `state` holds no alerts.
    pub fn restore(
        route: &Route,
        state: GroupState,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Option<AggrGroup> {
        let mut alerts = state.alerts.into_iter();
        let first = alerts.next()?;
        let mut group = AggrGroup::new(route, state.group_labels, first, now, wall);
        for a in alerts {
            group.insert(a, now);
        }
        // Monotonic time of a calendar time in the past; when the process has not run that
        // long, `now` (the calendar time still decides the repeat).
        let instant_of = |at: DateTime<Utc>| {
            let ago = (wall - at).to_std().unwrap_or(Duration::ZERO);
            now.checked_sub(ago).unwrap_or(now)
        };
        group.logs = state
            .notified
            .into_iter()
            .map(|n| {
                n.map(|n| LogEntry {
                    firing: n.firing,
                    resolved: n.resolved,
                    at: instant_of(n.at),
                    wall: n.at,
                })
            })
            .collect();
        if state.has_flushed {
            group.has_flushed = true;
            group.next_flush = now;
        }
        Some(group)
    }

    /// Flushes: decides per integration (`send_resolved` flags, in the receiver's order)
    /// whether to notify, returns the notifications by integration index, and drops resolved
    /// alerts. Alerts for which `muted` is true are left out, as Alertmanager's inhibition and
    /// silencing stages do.
    pub fn flush(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        send_resolved: &[bool],
        muted: &dyn Fn(&NotifyAlert) -> bool,
        external_url: &str,
    ) -> Vec<(usize, Notification)> {
        self.next_flush = now + self.group_interval;
        self.dirty |= !self.has_flushed || self.logs.len() != send_resolved.len();
        self.has_flushed = true;
        self.logs.resize(send_resolved.len(), None);
        let mut visible: Vec<NotifyAlert> = Vec::new();
        let mut firing = BTreeMap::new();
        let mut resolved = BTreeSet::new();
        for alert in self.alerts.values() {
            if muted(alert) {
                continue;
            }
            let mut a = alert.clone();
            if a.resolved_at(wall) {
                resolved.insert(a.fingerprint);
            } else {
                a.ends_at = None;
                firing.insert(a.fingerprint, a.seq);
            }
            visible.push(a);
        }
        let mut out = Vec::new();
        for (i, &resolved_too) in send_resolved.iter().enumerate() {
            let entry = self.logs[i].as_ref();
            let Some(reason) = self.decide(entry, &firing, &resolved, resolved_too, now, wall)
            else {
                continue;
            };
            self.dirty = true;
            self.logs[i] = Some(LogEntry {
                firing: firing.clone(),
                resolved: resolved.clone(),
                at: now,
                wall,
            });
            let n = Notification::new(
                self.receiver.clone(),
                self.key.clone(),
                self.group_labels.clone(),
                reason,
                visible.clone(),
                external_url,
                wall,
            );
            let n = if resolved_too {
                Some(n)
            } else {
                n.firing_only()
            };
            if let Some(n) = n {
                out.push((i, n));
            }
        }
        let held = self.alerts.len();
        self.alerts.retain(|_, a| !a.resolved_at(wall));
        self.dirty |= held != self.alerts.len();
        out
    }

    /// What the notification log holds for integration `integration`.
    pub fn notified(&self, integration: usize) -> Option<NotifiedState> {
        self.logs.get(integration)?.as_ref().map(|l| NotifiedState {
            firing: l.firing.clone(),
            resolved: l.resolved.clone(),
            at: l.wall,
        })
    }

    /// Replaces the notification log of integration `integration` with a replicated entry
    /// (an HA pair's shared log) or clears it; `now` and `wall` place the entry's time on
    /// the monotonic clock. A firing alert of the entry that this group holds with the
    /// severity `severity` gives (none when absent) gets the held alert's transition
    /// sequence. Returns false when the integration index is out of range.
    pub fn set_notified(
        &mut self,
        integration: usize,
        state: Option<NotifiedState>,
        severity: &BTreeMap<u64, String>,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> bool {
        if integration >= 1024 {
            return false;
        }
        if self.logs.len() <= integration {
            self.logs.resize(integration + 1, None);
        }
        let entry = state.map(|n| {
            let ago = (wall - n.at).to_std().unwrap_or(Duration::ZERO);
            let firing = n
                .firing
                .into_iter()
                .map(|(fp, seq)| match self.alerts.get(&fp) {
                    Some(held) if held.severity.as_ref() == severity.get(&fp) => (fp, held.seq),
                    _ => (fp, seq),
                })
                .collect();
            LogEntry {
                firing,
                resolved: n.resolved,
                at: now.checked_sub(ago).unwrap_or(now),
                wall: n.at,
            }
        });
        if self.logs[integration] != entry {
            self.logs[integration] = entry;
            self.dirty = true;
        }
        true
    }

    /// Brings the next flush forward to `at` if it is later (an HA replica that just became
    /// the leader, or a notification to claim again).
    pub fn flush_by(&mut self, at: Instant) {
        self.next_flush = self.next_flush.min(at);
    }

    /// Whether the group has flushed at least once.
    pub fn has_flushed(&self) -> bool {
        self.has_flushed
    }

    /// The route's `mute_time_intervals` and `active_time_intervals`.
    pub fn time_intervals(&self) -> (&[String], &[String]) {
        (&self.mute_time_intervals, &self.active_time_intervals)
    }

    /// A flush while the route's time intervals mute it (Alertmanager's time stages end the
    /// pipeline without error): nothing is notified and the notification log stays as it
    /// was, so the first flush after the interval decides against what was last sent; the
    /// next flush comes `group_interval` later; resolved alerts are dropped, as after a
    /// notification, so a resolution that happened inside the interval is never notified.
    pub fn flush_muted(&mut self, now: Instant, wall: DateTime<Utc>) {
        self.next_flush = now + self.group_interval;
        self.dirty |= !self.has_flushed;
        self.has_flushed = true;
        let held = self.alerts.len();
        self.alerts.retain(|_, a| !a.resolved_at(wall));
        self.dirty |= held != self.alerts.len();
    }

    fn decide(
        &self,
        entry: Option<&LogEntry>,
        firing: &BTreeMap<u64, u64>,
        resolved: &BTreeSet<u64>,
        send_resolved: bool,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Option<NotificationReason> {
        let Some(entry) = entry else {
            return (!firing.is_empty()).then_some(NotificationReason::FirstNotification);
        };
        if firing.keys().any(|fp| !entry.firing.contains_key(fp)) {
            return Some(NotificationReason::NewAlertsAdded);
        }
        let changed = firing
            .iter()
            .filter(|(fp, seq)| entry.firing.get(fp) != Some(seq))
            .map(|(fp, _)| fp);
        let mut any_changed = false;
        for fp in changed {
            any_changed = true;
            let severity = self.alerts.get(fp).is_some_and(|a| {
                matches!(
                    a.transition,
                    Transition::Escalated { .. } | Transition::DeEscalated { .. }
                )
            });
            if severity {
                return Some(NotificationReason::SeverityChanged);
            }
        }
        if any_changed {
            return Some(NotificationReason::NewAlertsAdded);
        }
        if firing.is_empty() {
            return (!entry.firing.is_empty()).then_some(NotificationReason::AllAlertsResolved);
        }
        if send_resolved && !resolved.is_subset(&entry.resolved) {
            return Some(NotificationReason::SomeAlertsResolved);
        }
        // The monotonic clock decides while the process runs; the calendar time also counts
        // so that an entry restored after a restart (whose monotonic time is only estimated)
        // repeats on time, as Alertmanager's notification log does.
        let repeat = chrono::Duration::from_std(self.repeat_interval).ok();
        let wall_due = repeat
            .and_then(|r| entry.wall.checked_add_signed(r))
            .is_some_and(|due| due <= wall);
        (entry.at + self.repeat_interval <= now || wall_due)
            .then_some(NotificationReason::RepeatIntervalElapsed)
    }
}

#[cfg(test)]
mod tests;
