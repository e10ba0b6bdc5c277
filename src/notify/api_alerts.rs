//! The alerts Alertmanager's API shows: watchfire's own firing rule alerts as the notifier
//! was handed them, and alerts posted to `POST /api/v2/alerts` by Prometheus, vmalert,
//! Grafana or scripts.
//!
//! Posted alerts follow Alertmanager's rules: a missing `startsAt` becomes `endsAt` (or now),
//! a missing `endsAt` becomes now + `global.resolve_timeout` and is pushed forward by every
//! re-send; a re-sent alert (same label set, so same fingerprint) keeps the earlier start. A
//! new or changed posted alert enters the notifier as a firing [`NotifyAlert`] (so routing,
//! grouping, inhibition, silences and the durable queue treat it like a rule alert), and a
//! resolved one (posted with a past `endsAt`, or expired by [`ApiAlerts::expire`]) as a
//! resolved one. At most [`MAX_POSTED_ALERTS`] posted alerts, and [`MAX_POSTED_BYTES`] of
//! their text, are held; new ones beyond that are refused, re-sends of held ones are still
//! taken.
//!
//! With a state database, posted alerts are written when new, changed or gone and restored at
//! start (see [`super::durable::posted`]); Alertmanager itself keeps them only in memory.
//!
//! **Invariant:** no I/O and no clock; `now` is passed in.

use super::alert::{alert_fingerprint, AlertStatus, NotifyAlert, Transition};
use super::durable::posted as records;
use crate::model::Labels;
use crate::persist::{self, Batch};
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};

/// Most posted alerts held at once (firing ones; resolved ones are dropped once notified).
/// Prometheus sends each firing alert every minute, so this covers 100,000 distinct firing
/// alerts from all senders together, about 100 MiB at 1 KiB of labels and annotations each.
pub const MAX_POSTED_ALERTS: usize = 100_000;

/// Most bytes of labels, annotations and links the posted alerts held may take together: a
/// request body may be 1 MiB, so the count alone would let large alerts take 100 GB.
pub const MAX_POSTED_BYTES: usize = 256 << 20;

/// What a held alert costs against [`MAX_POSTED_BYTES`]: its text plus a fixed overhead.
fn held_bytes(a: &NotifyAlert) -> usize {
    let labels: usize = a.labels.iter().map(|l| l.name.len() + l.value.len()).sum();
    let annotations: usize = a.annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    256 + labels + annotations + a.generator_url.len()
}

/// One alert as posted, after Alertmanager's defaults were applied.
#[derive(Clone, Debug, PartialEq)]
pub struct PostedAlert {
    /// Labels (empty values already removed).
    pub labels: Labels,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End: as posted, or now + resolve timeout when `timeout` is set.
    pub ends_at: DateTime<Utc>,
    /// Whether `ends_at` was filled in from the resolve timeout.
    pub timeout: bool,
    /// Link to the source.
    pub generator_url: String,
}

/// An alert as the API lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedAlert {
    /// The alert (for rule alerts as last handed to the notifier).
    pub alert: NotifyAlert,
    /// The `endsAt` shown: the posted or timeout end; `None` for rule alerts.
    pub ends_at: Option<DateTime<Utc>>,
    /// When the alert was last received or changed.
    pub updated_at: DateTime<Utc>,
    /// Whether `ends_at` came from the resolve timeout (posted alerts only).
    pub timeout: bool,
}

/// Why a posted batch was not (wholly) taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostError {
    /// Too many posted alerts, or too many bytes of them, are held already.
    #[error(
        "too many alerts held (limit {limit} alerts, {max_bytes} bytes); \
         {refused} new alerts refused"
    )]
    Full {
        /// [`MAX_POSTED_ALERTS`] or the configured cap.
        limit: usize,
        /// [`MAX_POSTED_BYTES`] or the configured cap.
        max_bytes: usize,
        /// How many were refused.
        refused: usize,
    },
}

#[derive(Debug, Default)]
struct Inner {
    rule: HashMap<u64, ListedAlert>,
    posted: HashMap<u64, ListedAlert>,
    /// [`held_bytes`] of every alert in `posted`.
    posted_bytes: usize,
}

impl Inner {
    fn insert_posted(&mut self, fp: u64, listed: ListedAlert) {
        self.posted_bytes += held_bytes(&listed.alert);
        if let Some(old) = self.posted.insert(fp, listed) {
            self.posted_bytes -= held_bytes(&old.alert);
        }
    }

    fn remove_posted(&mut self, fp: u64) -> Option<ListedAlert> {
        let old = self.posted.remove(&fp)?;
        self.posted_bytes -= held_bytes(&old.alert);
        Some(old)
    }
}

/// Rule alerts as notified, and posted alerts; shared by the notifier handle and the API.
#[derive(Debug)]
pub struct ApiAlerts {
    inner: Mutex<Inner>,
    limit: usize,
    max_bytes: usize,
    resolve_timeout: Mutex<Duration>,
}

impl Default for ApiAlerts {
    fn default() -> Self {
        ApiAlerts::new(MAX_POSTED_ALERTS)
    }
}

impl ApiAlerts {
    /// The same set holding at most `max_bytes` of posted alerts' text (default
    /// [`MAX_POSTED_BYTES`]).
    pub fn with_byte_limit(mut self, max_bytes: usize) -> ApiAlerts {
        self.max_bytes = max_bytes;
        self
    }

    /// An empty set holding at most `limit` posted alerts, with a 5m resolve timeout.
    pub fn new(limit: usize) -> ApiAlerts {
        ApiAlerts {
            inner: Mutex::default(),
            limit,
            max_bytes: MAX_POSTED_BYTES,
            resolve_timeout: Mutex::new(Duration::minutes(5)),
        }
    }

    /// `global.resolve_timeout`, applied to alerts posted from now on.
    pub fn set_resolve_timeout(&self, timeout: std::time::Duration) {
        *self.resolve_timeout.lock() = Duration::from_std(timeout).unwrap_or(Duration::MAX);
    }

    /// The current `global.resolve_timeout`.
    pub fn resolve_timeout(&self) -> Duration {
        *self.resolve_timeout.lock()
    }

    /// Records a rule alert event handed to the notifier: firing ones are listed (an
    /// escalation replaces the entry under the same fingerprint), resolved ones removed.
    pub fn observe_rule(&self, alert: &NotifyAlert, now: DateTime<Utc>) {
        let mut inner = self.inner.lock();
        if alert.resolved_at(now) {
            inner.rule.remove(&alert.fingerprint);
        } else {
            let listed = ListedAlert {
                alert: alert.clone(),
                ends_at: None,
                updated_at: now,
                timeout: false,
            };
            inner.rule.insert(alert.fingerprint, listed);
        }
    }

    /// Takes posted alerts (already validated, defaults applied) and returns the events to
    /// hand to the notifier: new or changed firing alerts, and resolved ones. New alerts
    /// beyond the cap are refused (the others are still taken).
    /// The batch holds the record changes to commit before the events are handed on.
    pub fn post(
        &self,
        alerts: Vec<PostedAlert>,
        now: DateTime<Utc>,
    ) -> (Vec<NotifyAlert>, Batch, Result<(), PostError>) {
        let mut inner = self.inner.lock();
        let mut batch = Batch::new();
        let put = |batch: &mut Batch, fp: u64, a: &PostedAlert| {
            if let Err(e) = records::put(batch, fp, a, now) {
                tracing::error!(error = %e, "posted alert not saved");
            }
        };
        let mut events = Vec::new();
        let mut refused = 0;
        for posted in alerts {
            let fp = alert_fingerprint(&posted.labels);
            let held = inner.posted.get(&fp).filter(|h| !h.alert.resolved_at(now));
            let resolved = posted.ends_at <= now;
            let Some(held) = held.cloned() else {
                // New (or the held one already ended).
                if resolved {
                    if inner.remove_posted(fp).is_some() {
                        persist::posted::delete(&mut batch, fp);
                    }
                    events.push(resolved_event(&posted, fp));
                    continue;
                }
                let event = firing_event(&posted, fp);
                let full = inner.posted.len() >= self.limit
                    || inner.posted_bytes + held_bytes(&event) > self.max_bytes;
                if full && !inner.posted.contains_key(&fp) {
                    refused += 1;
                    continue;
                }
                events.push(event.clone());
                put(&mut batch, fp, &posted);
                inner.insert_posted(
                    fp,
                    ListedAlert {
                        alert: event,
                        ends_at: Some(posted.ends_at),
                        updated_at: now,
                        timeout: posted.timeout,
                    },
                );
                continue;
            };
            // Alertmanager's merge: the earlier start wins; while the new one is not resolved,
            // a later explicit end held before rules.
            let held_end = held.ends_at.unwrap_or(posted.ends_at);
            let mut merged = posted.clone();
            merged.starts_at = merged.starts_at.min(held.alert.starts_at);
            if posted.ends_at > now && held_end > posted.ends_at && !held.timeout {
                merged.ends_at = held_end;
                merged.timeout = false;
            }
            if merged.ends_at <= now {
                inner.remove_posted(fp);
                persist::posted::delete(&mut batch, fp);
                events.push(resolved_event(&merged, fp));
                continue;
            }
            let event = firing_event(&merged, fp);
            let changed = event.annotations != held.alert.annotations
                || event.generator_url != held.alert.generator_url
                || event.starts_at != held.alert.starts_at;
            // An explicit end that moved is saved too; a timeout end is not (see
            // `durable::posted`).
            if changed || (!merged.timeout && Some(merged.ends_at) != held.ends_at) {
                put(&mut batch, fp, &merged);
            }
            if changed {
                events.push(event.clone());
            }
            inner.insert_posted(
                fp,
                ListedAlert {
                    alert: event,
                    ends_at: Some(merged.ends_at),
                    updated_at: now,
                    timeout: merged.timeout,
                },
            );
        }
        let outcome = if refused == 0 {
            Ok(())
        } else {
            Err(PostError::Full {
                limit: self.limit,
                max_bytes: self.max_bytes,
                refused,
            })
        };
        (events, batch, outcome)
    }

    /// Removes posted alerts whose end has passed; their resolved events, and the removal of
    /// their records.
    pub fn expire(&self, now: DateTime<Utc>) -> (Vec<NotifyAlert>, Batch) {
        let mut inner = self.inner.lock();
        let mut out = Vec::new();
        let mut batch = Batch::new();
        let Inner {
            posted,
            posted_bytes,
            ..
        } = &mut *inner;
        posted.retain(|fp, held| {
            let Some(end) = held.ends_at.filter(|end| *end <= now) else {
                return true;
            };
            *posted_bytes -= held_bytes(&held.alert);
            let mut event = held.alert.clone();
            resolve(&mut event, end, *fp);
            out.push(event);
            persist::posted::delete(&mut batch, *fp);
            false
        });
        (out, batch)
    }

    /// Takes back posted alerts saved before a restart (with when each was last received).
    /// An end that came from the resolve timeout is pushed to at least `now` + the timeout,
    /// giving senders time to re-send. Returns the firing events to hand to the notifier (it
    /// sends only what its notification log has not seen); alerts already ended resolve at
    /// the next [`ApiAlerts::expire`].
    pub fn restore(
        &self,
        saved: Vec<(PostedAlert, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Vec<NotifyAlert> {
        let timeout_end = now
            .checked_add_signed(self.resolve_timeout())
            .unwrap_or(now);
        let mut inner = self.inner.lock();
        let mut events = Vec::new();
        for (mut alert, updated_at) in saved {
            if inner.posted.len() >= self.limit || inner.posted_bytes >= self.max_bytes {
                break;
            }
            if alert.timeout {
                alert.ends_at = alert.ends_at.max(timeout_end);
            }
            let fp = alert_fingerprint(&alert.labels);
            let event = firing_event(&alert, fp);
            if alert.ends_at > now {
                events.push(event.clone());
            }
            let listed = ListedAlert {
                alert: event,
                ends_at: Some(alert.ends_at),
                updated_at,
                timeout: alert.timeout,
            };
            inner.insert_posted(fp, listed);
        }
        events
    }

    /// Every alert still active at `now`: rule alerts, then posted ones.
    pub fn list(&self, now: DateTime<Utc>) -> Vec<ListedAlert> {
        let inner = self.inner.lock();
        inner
            .rule
            .values()
            .chain(
                inner
                    .posted
                    .values()
                    .filter(|a| a.ends_at.is_none_or(|e| e > now)),
            )
            .cloned()
            .collect()
    }

    /// How many posted alerts are held.
    pub fn posted_len(&self) -> usize {
        self.inner.lock().posted.len()
    }
}

fn firing_event(p: &PostedAlert, fingerprint: u64) -> NotifyAlert {
    NotifyAlert {
        labels: p.labels.clone(),
        annotations: p.annotations.clone(),
        starts_at: p.starts_at,
        ends_at: None,
        generator_url: p.generator_url.clone(),
        fingerprint,
        status: AlertStatus::Firing,
        severity: p.labels.get("severity").map(str::to_owned),
        transition: Transition::Firing,
        seq: u64::try_from(p.starts_at.timestamp_millis()).unwrap_or_default(),
    }
}

fn resolved_event(p: &PostedAlert, fingerprint: u64) -> NotifyAlert {
    let mut event = firing_event(p, fingerprint);
    resolve(&mut event, p.ends_at, fingerprint);
    event
}

/// Turns a firing event into its resolution at `end`; its sequence is past the firing's.
fn resolve(event: &mut NotifyAlert, end: DateTime<Utc>, fingerprint: u64) {
    let start_seq = u64::try_from(event.starts_at.timestamp_millis()).unwrap_or_default();
    let end_seq = u64::try_from(end.timestamp_millis()).unwrap_or_default();
    event.fingerprint = fingerprint;
    event.status = AlertStatus::Resolved;
    event.ends_at = Some(end);
    event.transition = Transition::Resolved {
        reason: super::alert::ResolveReason::ValueRecovered,
    };
    event.seq = end_seq.max(start_seq + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(name: &str, start: DateTime<Utc>, end: DateTime<Utc>, timeout: bool) -> PostedAlert {
        PostedAlert {
            labels: Labels::from_pairs([("alertname", name)]),
            annotations: BTreeMap::new(),
            starts_at: start,
            ends_at: end,
            timeout,
            generator_url: String::new(),
        }
    }

    #[test]
    fn new_alerts_fire_once_and_resend_keeps_the_start() {
        let a = ApiAlerts::new(10);
        let t0 = Utc::now();
        let m = Duration::minutes(5);
        let (ev, batch, ok) = a.post(vec![posted("A", t0, t0 + m, true)], t0);
        assert_eq!(batch.len(), 1, "a new alert is saved");
        assert_eq!(ok, Ok(()));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].status, AlertStatus::Firing);
        assert_eq!(ev[0].fingerprint, alert_fingerprint(&ev[0].labels));
        // Re-sent a minute later with a later start: no new event, the earlier start kept,
        // the timeout end pushed forward.
        let t1 = t0 + Duration::minutes(1);
        let (ev, batch, _) = a.post(vec![posted("A", t1, t1 + m, true)], t1);
        assert!(ev.is_empty());
        assert!(batch.is_empty(), "a plain re-send is not written");
        let listed = a.list(t1);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].alert.starts_at, t0);
        assert_eq!(listed[0].ends_at, Some(t1 + m));
        assert_eq!(listed[0].updated_at, t1);
    }

    #[test]
    fn a_later_explicit_end_outlives_timeout_resends() {
        let a = ApiAlerts::new(10);
        let t0 = Utc::now();
        let explicit = t0 + Duration::hours(1);
        a.post(vec![posted("A", t0, explicit, false)], t0)
            .2
            .unwrap();
        let t1 = t0 + Duration::minutes(1);
        let (ev, batch, _) = a.post(vec![posted("A", t1, t1 + Duration::minutes(5), true)], t1);
        assert!(ev.is_empty() && batch.is_empty());
        assert_eq!(a.list(t1)[0].ends_at, Some(explicit));
        assert!(!a.list(t1)[0].timeout);
        // A timeout end gives way to a later explicit one.
        let b = ApiAlerts::new(10);
        b.post(vec![posted("B", t0, t0 + Duration::minutes(5), true)], t0)
            .2
            .unwrap();
        b.post(vec![posted("B", t1, explicit, false)], t1)
            .2
            .unwrap();
        assert_eq!(b.list(t1)[0].ends_at, Some(explicit));
    }

    #[test]
    fn alerts_resolve_at_their_end_or_when_posted_resolved() {
        let a = ApiAlerts::new(10);
        let t0 = Utc::now();
        let (ev, _, ok) = a.post(
            vec![
                posted("A", t0, t0 + Duration::seconds(10), false),
                posted("B", t0, t0 + Duration::minutes(5), true),
            ],
            t0,
        );
        assert_eq!((ev.len(), ok), (2, Ok(())));
        assert!(a.expire(t0 + Duration::seconds(9)).0.is_empty());
        let (gone, batch) = a.expire(t0 + Duration::seconds(10));
        assert_eq!(batch.len(), 1, "its record is removed");
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].name(), "A");
        assert_eq!(gone[0].status, AlertStatus::Resolved);
        assert_eq!(gone[0].ends_at, Some(t0 + Duration::seconds(10)));
        assert!(gone[0].seq > u64::try_from(t0.timestamp_millis()).unwrap());
        // B is resolved by its sender: a past endsAt.
        let t1 = t0 + Duration::seconds(20);
        let (ev, _, _) = a.post(vec![posted("B", t0, t1, false)], t1);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].status, AlertStatus::Resolved);
        assert_eq!(a.posted_len(), 0);
        assert!(a.list(t1).is_empty());
    }

    #[test]
    fn the_cap_refuses_only_new_alerts() {
        let a = ApiAlerts::new(1);
        let t0 = Utc::now();
        let end = t0 + Duration::minutes(5);
        let (ev, _, ok) = a.post(
            vec![posted("A", t0, end, true), posted("B", t0, end, true)],
            t0,
        );
        assert_eq!(ev.len(), 1);
        assert_eq!(
            ok,
            Err(PostError::Full {
                limit: 1,
                max_bytes: MAX_POSTED_BYTES,
                refused: 1
            })
        );
        let mut changed = posted("A", t0, end, true);
        changed.annotations.insert("summary".into(), "new".into());
        let (ev, _, ok) = a.post(vec![changed], t0);
        assert_eq!((ev.len(), ok), (1, Ok(())), "a changed re-send is news");
    }

    #[test]
    fn the_byte_budget_refuses_new_alerts_and_is_given_back() {
        let a = ApiAlerts::new(100).with_byte_limit(10_000);
        let t0 = Utc::now();
        let end = t0 + Duration::minutes(5);
        let big = |name: &str| {
            let mut p = posted(name, t0, end, false);
            p.annotations
                .insert("description".into(), "x".repeat(4_000));
            p
        };
        let (ev, _, ok) = a.post(vec![big("A"), big("B"), big("C")], t0);
        assert_eq!(ev.len(), 2, "two fit in 10,000 bytes");
        assert!(
            matches!(ok, Err(PostError::Full { refused: 1, .. })),
            "{ok:?}"
        );
        let (ev, _, ok) = a.post(vec![big("A")], t0);
        assert_eq!(
            (ev.len(), ok),
            (0, Ok(())),
            "a re-send of a held alert is taken"
        );
        let (resolved, _) = a.expire(end);
        assert_eq!(resolved.len(), 2);
        assert_eq!(
            a.inner.lock().posted_bytes,
            0,
            "expiry gives the bytes back"
        );
        let (ev, _, ok) = a.post(vec![big("C")], end);
        assert_eq!((ev.len(), ok), (1, Ok(())));
    }

    #[test]
    fn saved_alerts_come_back_with_time_to_be_resent() {
        let db = crate::persist::StateDb::memory();
        let a = ApiAlerts::new(10);
        let t0 = Utc::now();
        let (_, batch, _) = a.post(
            vec![
                posted("A", t0, t0 + Duration::minutes(5), true),
                posted("B", t0, t0 + Duration::minutes(1), false),
            ],
            t0,
        );
        db.commit(batch).unwrap();
        let (saved, bad) = records::load(&db).unwrap();
        assert!(bad.is_empty());
        assert_eq!(saved.len(), 2);
        // Restart 10 minutes later: A (timeout end) gets a new timeout, B (explicit end, past)
        // resolves at the next expiry.
        let t1 = t0 + Duration::minutes(10);
        let b = ApiAlerts::new(10);
        let events = b.restore(saved, t1);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name(), "A");
        assert_eq!(events[0].starts_at, t0);
        let (resolved, _) = b.expire(t1);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].name(), "B");
        assert_eq!(b.list(t1)[0].ends_at, Some(t1 + Duration::minutes(5)));
    }

    #[test]
    fn rule_alerts_keep_one_entry_across_escalation() {
        let a = ApiAlerts::new(10);
        let now = Utc::now();
        let mut fire = NotifyAlert::firing(
            Labels::from_pairs([("alertname", "Lat"), ("severity", "warning")]),
            now,
        );
        fire.fingerprint = 7;
        a.observe_rule(&fire, now);
        let mut esc = fire.clone();
        esc.labels = Labels::from_pairs([("alertname", "Lat"), ("severity", "critical")]);
        a.observe_rule(&esc, now);
        let listed = a.list(now);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].alert.labels.get("severity"), Some("critical"));
        esc.status = AlertStatus::Resolved;
        a.observe_rule(&esc, now);
        assert!(a.list(now).is_empty());
    }
}
