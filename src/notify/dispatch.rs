//! The dispatcher: routes alert events into aggregation groups and flushes the groups that are
//! due, applying inhibition and silences.
//!
//! [`Dispatcher`] is plain state driven by the notifier's task (see `notifier.rs`): `ingest`
//! for each event, `flush_due` when `next_deadline` passes. Time comes in as parameters.
//!
//! At a flush the steps are Alertmanager's pipeline: inhibition, then the route's time
//! intervals (`time_interval.rs`: a muted group sends nothing and keeps its notification log;
//! which intervals mute it is kept for the API in [`GroupMarker`]), then silences, then the
//! notification log's decision. `watchfire_notifications_suppressed_total{reason}` counts the
//! alerts each step holds back, as Alertmanager's `alertmanager_notifications_suppressed_total`.
//!
//! An alert that moves to another group (e.g. its severity label changed and the route groups
//! by severity) leaves its old group silently: the new group reports it, and the old group
//! does not claim it resolved.

use super::alert::NotifyAlert;
use super::group::{AggrGroup, GroupState, NotifiedState};
use super::inhibit::Inhibitor;
use super::metrics::SuppressedLabels;
use super::notification::Notification;
use super::route::Route;
use super::silence::Silences;
use super::time_interval::TimeIntervals;
use crate::model::Labels;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Instant;

type GroupId = (usize, Labels);

/// A notification ready for one integration of one receiver.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Receiver name.
    pub receiver: String,
    /// Index of the integration in the receiver.
    pub integration: usize,
    /// The notification.
    pub notification: Notification,
    /// What the group's notification log holds for this integration after the flush (what
    /// an HA leader writes to the shared log).
    pub logged: Option<NotifiedState>,
}

/// A change to one group's notification log for one integration, from outside the
/// dispatcher (`notify::ha`).
#[derive(Clone, Debug, PartialEq)]
pub struct LogUpdate {
    /// The receiver.
    pub receiver: String,
    /// The group's key.
    pub group_key: String,
    /// The integration's index in the receiver.
    pub integration: usize,
    /// The log entry, or none (as if nothing was sent).
    pub state: Option<NotifiedState>,
    /// The severity label of each firing alert of `state` (where it has one): where the held
    /// alert has the same, its own transition sequence stands for the entry's (another HA
    /// replica's sequences are its own evaluation times).
    pub severity: std::collections::BTreeMap<u64, String>,
    /// Flush the group again this soon (a notification that could not be claimed).
    pub retry_after: Option<std::time::Duration>,
}

/// Routing and grouping state.
pub struct Dispatcher {
    root: Route,
    groups: HashMap<GroupId, AggrGroup>,
    placed: HashMap<u64, HashSet<GroupId>>,
    inhibitor: Arc<Mutex<Inhibitor>>,
    silences: Arc<Silences>,
    send_resolved: HashMap<String, Vec<bool>>,
    external_url: String,
    /// Groups dropped since the last [`Dispatcher::take_changes`], when tracking.
    removed: Option<Vec<(usize, String)>>,
    intervals: TimeIntervals,
    marker: Arc<GroupMarker>,
    suppressed: Family<SuppressedLabels, Counter>,
}

/// Which time intervals muted each aggregation group at its last flush (Alertmanager's
/// group marker), for `/api/v2/alerts/groups`. A group that has not flushed yet, or was not
/// muted at its last flush, has no entry.
#[derive(Debug, Default)]
pub struct GroupMarker {
    groups: Mutex<HashMap<GroupId, Vec<String>>>,
}

impl GroupMarker {
    /// The names of the time intervals that muted the group of route `route_index` with
    /// `group_labels` at its last flush; empty when it was not muted.
    pub fn muted_by(&self, route_index: usize, group_labels: &Labels) -> Vec<String> {
        self.groups
            .lock()
            .get(&(route_index, group_labels.clone()))
            .cloned()
            .unwrap_or_default()
    }

    fn set(&self, id: &GroupId, muted_by: Vec<String>) {
        let mut groups = self.groups.lock();
        if muted_by.is_empty() {
            groups.remove(id);
        } else {
            groups.insert(id.clone(), muted_by);
        }
    }
}

/// Group state to save: groups that changed, and groups that are gone (route index, key).
#[derive(Debug, Default)]
pub struct GroupChanges {
    /// Changed groups.
    pub saved: Vec<GroupState>,
    /// Dropped groups.
    pub removed: Vec<(usize, String)>,
}

impl Dispatcher {
    /// A dispatcher over `root`; `send_resolved` lists, per receiver, each integration's flag.
    pub fn new(
        root: Route,
        inhibitor: Arc<Mutex<Inhibitor>>,
        silences: Arc<Silences>,
        send_resolved: HashMap<String, Vec<bool>>,
        external_url: String,
    ) -> Dispatcher {
        Dispatcher {
            root,
            groups: HashMap::new(),
            placed: HashMap::new(),
            inhibitor,
            silences,
            send_resolved,
            external_url,
            removed: None,
            intervals: TimeIntervals::default(),
            marker: Arc::default(),
            suppressed: Family::default(),
        }
    }

    /// Uses the configuration's named time intervals for the routes' `mute_time_intervals`
    /// and `active_time_intervals` (without them every route notifies at all times).
    pub fn with_time_intervals(mut self, intervals: TimeIntervals) -> Dispatcher {
        self.intervals = intervals;
        self
    }

    /// Counts suppressed alerts into this family (`watchfire_notifications_suppressed_total`).
    pub fn with_suppressed_counter(mut self, family: Family<SuppressedLabels, Counter>) -> Self {
        self.suppressed = family;
        self
    }

    /// Which time intervals muted each group at its last flush.
    pub fn marker(&self) -> Arc<GroupMarker> {
        self.marker.clone()
    }

    /// Starts recording changes for [`Dispatcher::take_changes`] (the notifier does when it
    /// has a state database).
    pub fn track_changes(&mut self) {
        self.removed.get_or_insert_with(Vec::new);
    }

    /// The groups changed and dropped since the last call (empty unless tracking).
    pub fn take_changes(&mut self) -> GroupChanges {
        let Some(removed) = self.removed.as_mut() else {
            return GroupChanges::default();
        };
        let removed = std::mem::take(removed);
        let saved = self
            .groups
            .values_mut()
            .filter_map(|g| g.take_dirty().then(|| g.snapshot()))
            .collect();
        GroupChanges { saved, removed }
    }

    /// Rebuilds groups saved before a restart, under the current routes: a group whose route
    /// is gone is dropped; one whose route now names another receiver keeps its alerts but
    /// not its notification log. Returns the restored groups' states (under the current
    /// route indexes).
    pub fn restore(
        &mut self,
        states: Vec<GroupState>,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Vec<GroupState> {
        let mut out = Vec::new();
        for mut state in states {
            let routes = self.root.walk();
            let route = routes
                .iter()
                .find(|r| r.key == state.route_key && r.index == state.route_index)
                .or_else(|| routes.iter().find(|r| r.key == state.route_key));
            let Some(route) = route else {
                tracing::info!(group = %state.key, "route gone; saved aggregation group dropped");
                continue;
            };
            if route.receiver != state.receiver {
                state.notified.clear();
            }
            let id = (route.index, state.group_labels.clone());
            if self.groups.contains_key(&id) {
                continue;
            }
            let Some(mut group) = AggrGroup::restore(route, state, now, wall) else {
                continue;
            };
            let mut inhibitor = self.inhibitor.lock();
            for a in group.alerts() {
                // Firing sources inhibit again at once, before the first flush after restart.
                inhibitor.observe(a, wall);
                self.placed
                    .entry(a.fingerprint)
                    .or_default()
                    .insert(id.clone());
            }
            drop(inhibitor);
            group.take_dirty();
            out.push(group.snapshot());
            self.groups.insert(id, group);
        }
        out
    }

    /// Takes one alert event.
    pub fn ingest(&mut self, alert: NotifyAlert, now: Instant, wall: DateTime<Utc>) {
        self.inhibitor.lock().observe(&alert, wall);
        let mut targets: HashSet<GroupId> = HashSet::new();
        for route in self.root.match_labels(&alert.labels) {
            targets.insert((route.index, route.group_labels(&alert.labels)));
        }
        let fp = alert.fingerprint;
        if let Some(before) = self.placed.remove(&fp) {
            for id in before.difference(&targets) {
                if let Some(group) = self.groups.get_mut(id) {
                    group.remove(fp);
                    if group.is_empty() {
                        if let Some(removed) = self.removed.as_mut() {
                            removed.push((group.route_index, group.key.clone()));
                        }
                        self.groups.remove(id);
                        self.marker.set(id, Vec::new());
                    }
                }
            }
        }
        let resolved = alert.resolved_at(wall);
        let mut placed = HashSet::new();
        for id in targets {
            if let Some(group) = self.groups.get_mut(&id) {
                group.insert(alert.clone(), now);
                placed.insert(id);
            } else if !resolved {
                let Some(route) = self.root.walk().into_iter().find(|r| r.index == id.0) else {
                    continue;
                };
                let group = AggrGroup::new(route, id.1.clone(), alert.clone(), now, wall);
                self.groups.insert(id.clone(), group);
                placed.insert(id);
            }
        }
        if !resolved && !placed.is_empty() {
            self.placed.insert(fp, placed);
        }
    }

    /// When the next group is due, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.groups.values().map(AggrGroup::next_flush).min()
    }

    /// Flushes every group due at `now`; drops groups left empty.
    pub fn flush_due(&mut self, now: Instant, wall: DateTime<Utc>) -> Vec<Outgoing> {
        let inhibitor = self.inhibitor.lock();
        let silences = &self.silences;
        let count = |reason: &'static str, n: usize| {
            if n > 0 {
                let labels = SuppressedLabels {
                    reason: reason.to_owned(),
                };
                self.suppressed.get_or_create(&labels).inc_by(n as u64);
            }
        };
        let mut out = Vec::new();
        let mut emptied = Vec::new();
        for (id, group) in self.groups.iter_mut() {
            if group.next_flush() > now {
                continue;
            }
            let inhibited: HashSet<u64> = group
                .alerts()
                .filter(|a| inhibitor.is_inhibited(&a.labels, wall))
                .map(|a| a.fingerprint)
                .collect();
            count("inhibition", inhibited.len());
            let passing = group.alerts().count() - inhibited.len();
            // Alertmanager's pipeline stops where no alert is left: the time stages see a
            // group only when some alert passed inhibition.
            if passing > 0 {
                let (mute, active) = group.time_intervals();
                let muted = self.intervals.route_muted(mute, active, wall);
                if let Some((why, by)) = muted {
                    self.marker.set(id, by);
                    count(why.reason(), passing);
                    group.flush_muted(now, wall);
                    if group.is_empty() {
                        emptied.push(id.clone());
                    }
                    continue;
                }
                self.marker.set(id, Vec::new());
            }
            let silenced: HashSet<u64> = group
                .alerts()
                .filter(|a| !inhibited.contains(&a.fingerprint))
                .filter(|a| silences.is_silenced(&a.labels, wall))
                .map(|a| a.fingerprint)
                .collect();
            count("silence", silenced.len());
            let muted = |a: &NotifyAlert| {
                inhibited.contains(&a.fingerprint) || silenced.contains(&a.fingerprint)
            };
            let flags = self
                .send_resolved
                .get(&group.receiver)
                .map_or(&[][..], Vec::as_slice);
            for (integration, notification) in
                group.flush(now, wall, flags, &muted, &self.external_url)
            {
                out.push(Outgoing {
                    receiver: group.receiver.clone(),
                    integration,
                    logged: group.notified(integration),
                    notification,
                });
            }
            if group.is_empty() {
                emptied.push(id.clone());
            }
        }
        drop(inhibitor);
        for id in emptied {
            self.marker.set(&id, Vec::new());
            if let Some(g) = self.groups.remove(&id) {
                if let Some(removed) = self.removed.as_mut() {
                    removed.push((g.route_index, g.key));
                }
            }
        }
        let groups = &self.groups;
        self.placed.retain(|_, ids| {
            ids.retain(|id| groups.contains_key(id));
            !ids.is_empty()
        });
        out
    }

    /// Sets a group's notification log for one integration (an HA pair's shared log, or the
    /// entry to fall back to when a notification was not claimed). Returns false when no
    /// such group is held.
    pub fn set_notified(&mut self, update: LogUpdate, now: Instant, wall: DateTime<Utc>) -> bool {
        let Some(group) = self
            .groups
            .values_mut()
            .find(|g| g.key == update.group_key && g.receiver == update.receiver)
        else {
            return false;
        };
        if let Some(after) = update.retry_after {
            group.flush_by(now + after);
        }
        group.set_notified(
            update.integration,
            update.state,
            &update.severity,
            now,
            wall,
        )
    }

    /// Makes every group that has flushed before flush at `now` (an HA replica that just
    /// became the leader sends what the old leader's log does not show as sent).
    pub fn hurry(&mut self, now: Instant) {
        for group in self.groups.values_mut().filter(|g| g.has_flushed()) {
            group.flush_by(now);
        }
    }

    /// Number of aggregation groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The groups, for inspection (`/api/v2/alerts/groups`-style views).
    pub fn groups(&self) -> impl Iterator<Item = &AggrGroup> {
        self.groups.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::{AlertStatus, Transition};
    use std::path::Path;
    use std::time::Duration;

    fn dispatcher(yaml: &str) -> Dispatcher {
        let c = crate::config::parse_with_env(yaml, Path::new("t.yml"), &|_| None).unwrap();
        let mut flags = HashMap::new();
        for r in &c.receivers {
            flags.insert(r.name.clone(), vec![true]);
        }
        Dispatcher::new(
            Route::from_config(c.route.as_ref()),
            Arc::new(Mutex::new(Inhibitor::new(c.inhibit_rules.clone()))),
            Arc::new(Silences::new()),
            flags,
            "http://wf".into(),
        )
    }

    fn alert(pairs: &[(&str, &str)]) -> NotifyAlert {
        NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), Utc::now())
    }

    const CONFIG: &str = r#"
route:
  receiver: all
  group_by: [alertname, severity]
  group_wait: 1s
  group_interval: 10s
  routes:
    - matchers: [team=db]
      receiver: db
      continue: true
receivers: [{name: all}, {name: db}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=info]
    equal: [alertname]
"#;

    #[test]
    fn routes_groups_and_flushes() {
        let mut d = dispatcher(CONFIG);
        let t0 = Instant::now();
        let wall = Utc::now();
        d.ingest(
            alert(&[("alertname", "A"), ("team", "db"), ("severity", "warning")]),
            t0,
            wall,
        );
        d.ingest(
            alert(&[("alertname", "A"), ("team", "web"), ("severity", "warning")]),
            t0,
            wall,
        );
        assert_eq!(
            d.group_count(),
            2,
            "the db route, and the root for the rest"
        );
        assert_eq!(d.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(d.flush_due(t0, wall).is_empty());
        let out = d.flush_due(t0 + Duration::from_secs(1), wall);
        let mut got: Vec<(String, usize)> = out
            .iter()
            .map(|o| (o.receiver.clone(), o.notification.alerts.len()))
            .collect();
        got.sort();
        assert_eq!(got, [("all".to_owned(), 1), ("db".to_owned(), 1)]);
    }

    #[test]
    fn inhibited_and_silenced_alerts_are_not_sent() {
        let mut d = dispatcher(CONFIG);
        let t0 = Instant::now();
        let wall = Utc::now();
        d.ingest(
            alert(&[("alertname", "A"), ("severity", "critical")]),
            t0,
            wall,
        );
        d.ingest(alert(&[("alertname", "A"), ("severity", "info")]), t0, wall);
        let out = d.flush_due(t0 + Duration::from_secs(1), wall);
        assert_eq!(out.len(), 1, "only the critical group notifies: {out:?}");
        assert_eq!(
            out[0].notification.alerts[0].labels.get("severity"),
            Some("critical")
        );
    }

    #[test]
    fn an_alert_changing_group_leaves_its_old_group() {
        let mut d = dispatcher(CONFIG);
        let t0 = Instant::now();
        let wall = Utc::now();
        let a = alert(&[("alertname", "A"), ("severity", "warning")]);
        d.ingest(a.clone(), t0, wall);
        assert_eq!(d.flush_due(t0 + Duration::from_secs(1), wall).len(), 1);
        let mut up = a.clone();
        up.labels = Labels::from_pairs([("alertname", "A"), ("severity", "critical")]);
        up.severity = Some("critical".into());
        up.seq = 2;
        up.transition = Transition::Escalated {
            from: "warning".into(),
            to: "critical".into(),
        };
        d.ingest(up, t0 + Duration::from_secs(2), wall);
        assert_eq!(d.group_count(), 1);
        assert!(d.flush_due(t0 + Duration::from_secs(2), wall).is_empty());
        let out = d.flush_due(t0 + Duration::from_secs(3), wall);
        assert_eq!(out.len(), 1, "the new group flushes after its group_wait");
        assert_eq!(out[0].notification.alerts[0].seq, 2);
        assert_eq!(out[0].notification.status(), AlertStatus::Firing);
    }

    const TIMED: &str = r#"
route:
  receiver: all
  group_by: [alertname]
  group_wait: 1s
  group_interval: 10s
  repeat_interval: 12h
  routes:
    - matchers: [team=db]
      receiver: db
      mute_time_intervals: [night]
    - matchers: [team=web]
      receiver: web
      active_time_intervals: [night]
receivers: [{name: all}, {name: db}, {name: web}]
time_intervals:
  - name: night
    time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]
"#;

    fn timed() -> (Dispatcher, Family<SuppressedLabels, Counter>) {
        let c = crate::config::parse_with_env(TIMED, Path::new("t.yml"), &|_| None).unwrap();
        let family = Family::<SuppressedLabels, Counter>::default();
        let d = dispatcher(TIMED)
            .with_time_intervals(TimeIntervals::from_config(&c))
            .with_suppressed_counter(family.clone());
        (d, family)
    }

    fn suppressed(f: &Family<SuppressedLabels, Counter>, reason: &str) -> u64 {
        f.get_or_create(&SuppressedLabels {
            reason: reason.into(),
        })
        .get()
    }

    fn wall_at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_muted_group_sends_at_the_first_flush_after_its_interval() {
        let (mut d, family) = timed();
        let t0 = Instant::now();
        let sec = Duration::from_secs;
        let a = alert(&[("alertname", "A"), ("team", "db")]);
        let group = Labels::from_pairs([("alertname", "A")]);
        d.ingest(a.clone(), t0, wall_at("2024-05-01T05:59:50Z"));
        let out = d.flush_due(t0 + sec(1), wall_at("2024-05-01T05:59:51Z"));
        assert!(
            out.is_empty(),
            "05:59:51 is inside the mute interval: {out:?}"
        );
        assert_eq!(d.marker().muted_by(1, &group), ["night"]);
        assert_eq!(suppressed(&family, "mute_time_interval"), 1);
        assert_eq!(d.group_count(), 1, "the alert stays in its group");
        assert_eq!(
            d.next_deadline(),
            Some(t0 + sec(11)),
            "one group_interval later"
        );
        // 06:00:00 is outside (the end is exclusive): the next flush notifies, as a first
        // notification since nothing was logged while muted.
        let out = d.flush_due(t0 + sec(11), wall_at("2024-05-01T06:00:00Z"));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].notification.reason,
            crate::notify::NotificationReason::FirstNotification
        );
        assert!(d.marker().muted_by(1, &group).is_empty());
        // Back inside the interval the next day; at a repeat the group stays quiet, and after
        // the interval the repeat (more than 12h since the last one) goes out.
        let out = d.flush_due(t0 + sec(21), wall_at("2024-05-02T01:00:00Z"));
        assert!(out.is_empty());
        let out = d.flush_due(t0 + sec(3600 * 24), wall_at("2024-05-02T07:00:00Z"));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].notification.reason,
            crate::notify::NotificationReason::RepeatIntervalElapsed
        );
    }

    #[test]
    fn a_resolution_inside_a_mute_interval_is_never_notified() {
        let (mut d, _) = timed();
        let t0 = Instant::now();
        let sec = Duration::from_secs;
        let a = alert(&[("alertname", "A"), ("team", "db")]);
        let b = alert(&[("alertname", "A"), ("team", "db"), ("x", "y")]);
        d.ingest(a.clone(), t0, wall_at("2024-05-01T23:59:00Z"));
        d.ingest(b.clone(), t0, wall_at("2024-05-01T23:59:00Z"));
        assert_eq!(
            d.flush_due(t0 + sec(1), wall_at("2024-05-01T23:59:01Z"))
                .len(),
            1
        );
        let mut r = a.clone();
        r.status = AlertStatus::Resolved;
        r.seq = 2;
        d.ingest(r, t0 + sec(2), wall_at("2024-05-02T00:00:05Z"));
        assert!(d
            .flush_due(t0 + sec(11), wall_at("2024-05-02T00:00:11Z"))
            .is_empty());
        // After the interval: A is gone from the group, B unchanged and notified less than
        // `repeat_interval` ago: nothing to say.
        assert!(d
            .flush_due(t0 + sec(21), wall_at("2024-05-02T06:00:01Z"))
            .is_empty());
        let mut r = b.clone();
        r.status = AlertStatus::Resolved;
        r.seq = 2;
        d.ingest(r, t0 + sec(22), wall_at("2024-05-02T06:00:02Z"));
        let out = d.flush_due(t0 + sec(31), wall_at("2024-05-02T06:00:11Z"));
        assert_eq!(out.len(), 1, "the last one resolves outside the interval");
        assert_eq!(out[0].notification.status(), AlertStatus::Resolved);
        assert_eq!(
            out[0].notification.alerts.len(),
            1,
            "A was dropped while muted"
        );
    }

    #[test]
    fn an_inactive_group_is_muted_by_all_its_active_intervals() {
        let (mut d, family) = timed();
        let t0 = Instant::now();
        let sec = Duration::from_secs;
        let group = Labels::from_pairs([("alertname", "W")]);
        d.ingest(
            alert(&[("alertname", "W"), ("team", "web")]),
            t0,
            wall_at("2024-05-01T12:00:00Z"),
        );
        assert!(d
            .flush_due(t0 + sec(1), wall_at("2024-05-01T12:00:01Z"))
            .is_empty());
        assert_eq!(d.marker().muted_by(2, &group), ["night"]);
        assert_eq!(suppressed(&family, "active_time_interval"), 1);
        let out = d.flush_due(t0 + sec(11), wall_at("2024-05-02T00:00:00Z"));
        assert_eq!(out.len(), 1, "active from midnight");
        assert!(d.marker().muted_by(2, &group).is_empty());
        // The root route has no intervals and notifies at any time.
        d.ingest(
            alert(&[("alertname", "R")]),
            t0,
            wall_at("2024-05-01T12:00:00Z"),
        );
        assert_eq!(
            d.flush_due(t0 + sec(12), wall_at("2024-05-01T12:00:01Z"))
                .len(),
            1
        );
    }

    #[test]
    fn resolved_alerts_without_a_group_are_ignored() {
        let mut d = dispatcher(CONFIG);
        let mut a = alert(&[("alertname", "A")]);
        a.status = AlertStatus::Resolved;
        d.ingest(a, Instant::now(), Utc::now());
        assert_eq!(d.group_count(), 0);
    }

    #[test]
    fn changes_are_tracked_and_groups_restore_under_the_current_routes() {
        let mut d = dispatcher(CONFIG);
        d.track_changes();
        let t0 = Instant::now();
        let wall = Utc::now();
        let a = alert(&[("alertname", "A"), ("team", "db"), ("severity", "warning")]);
        let b = alert(&[("alertname", "A"), ("team", "web"), ("severity", "warning")]);
        d.ingest(a.clone(), t0, wall);
        d.ingest(b.clone(), t0, wall);
        let changes = d.take_changes();
        assert_eq!(changes.saved.len(), 2, "the db route and the root");
        assert!(changes.removed.is_empty());
        assert_eq!(d.flush_due(t0 + Duration::from_secs(1), wall).len(), 2);
        let saved = d.take_changes().saved;
        assert_eq!(saved.len(), 2, "both logs changed");
        assert!(d.take_changes().saved.is_empty(), "nothing changed since");

        // A config where the db route moved (new index) and the root sends elsewhere.
        let moved = CONFIG.replace("receiver: all\n", "receiver: db\n").replace(
            "  routes:\n",
            "  routes:\n    - {matchers: [team=web], receiver: all}\n",
        );
        let mut e = dispatcher(&moved);
        let restored = e.restore(saved, t0, wall);
        assert_eq!(restored.len(), 2);
        let db_group = restored
            .iter()
            .find(|g| g.receiver == "db" && g.route_key != "{}");
        assert_eq!(
            db_group.unwrap().route_index,
            2,
            "rewritten under the new index"
        );
        let root = restored.iter().find(|g| g.route_key == "{}").unwrap();
        assert!(
            root.notified.is_empty(),
            "the root's receiver changed: log dropped"
        );

        // The restored groups hold their alerts: resolves reach them. B now belongs to the
        // new web route, so it leaves the root group silently.
        for x in [&a, &b] {
            let mut r = x.clone();
            r.status = AlertStatus::Resolved;
            r.ends_at = Some(wall);
            r.seq = 2;
            e.ingest(r, t0, wall);
        }
        let out = e.flush_due(t0 + Duration::from_secs(1), wall);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].notification.group_key.contains(r#"team="db""#));
        assert_eq!(out[0].notification.status(), AlertStatus::Resolved);
        e.track_changes();
        assert_eq!(e.group_count(), 0);
    }

    #[test]
    fn removed_groups_are_reported() {
        let mut d = dispatcher(CONFIG);
        d.track_changes();
        let t0 = Instant::now();
        let wall = Utc::now();
        let a = alert(&[("alertname", "A")]);
        d.ingest(a.clone(), t0, wall);
        d.flush_due(t0 + Duration::from_secs(1), wall);
        d.take_changes();
        let mut r = a;
        r.status = AlertStatus::Resolved;
        r.seq = 2;
        d.ingest(r, t0, wall);
        d.flush_due(t0 + Duration::from_secs(11), wall);
        let changes = d.take_changes();
        assert_eq!(changes.removed.len(), 1);
        assert_eq!(changes.removed[0].1, r#"{}:{alertname="A"}"#);
    }

    #[test]
    fn restored_sources_inhibit_before_the_first_flush() {
        let mut d = dispatcher(CONFIG);
        d.track_changes();
        let t0 = Instant::now();
        let wall = Utc::now();
        d.ingest(
            alert(&[("alertname", "A"), ("severity", "critical")]),
            t0,
            wall,
        );
        d.ingest(alert(&[("alertname", "A"), ("severity", "info")]), t0, wall);
        assert_eq!(d.flush_due(t0 + Duration::from_secs(1), wall).len(), 1);
        let saved = d.take_changes().saved;
        let mut e = dispatcher(CONFIG);
        assert_eq!(e.restore(saved, t0, wall).len(), 2);
        assert!(
            e.flush_due(t0, wall).is_empty(),
            "the info alert stays inhibited, the critical one was notified already"
        );
    }
}
