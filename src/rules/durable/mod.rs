//! Alert state and history that survive a restart: the rule side of the
//! state database ([`crate::persist`]).
//!
//! After each group evaluation the rules' changed alerts and the new
//! transitions are written in one transaction. "Changed" means a new or
//! removed alert, or a different state, severity, `active_at`, `fired_at`,
//! `resolved_at` or `keep_firing_since`; value and annotation updates alone
//! are written at most once per [`REFRESH_MS`] together with the group's
//! "last saved" time, so a steady firing alert costs one small write a minute.
//!
//! **Invariant (restore):** on the first load, an alert saved by a rule that
//! still exists (same group key and rule name) comes back exactly as saved —
//! firing stays firing with its original `active_at` and `fired_at`, pending
//! keeps its `active_at` so `for` progress continues — and emits no
//! transition, so no new notification comes from a restart; until it shows
//! up in a result again (or [`RestoreOptions::resolve_grace`] passes) its
//! absence does not resolve it, as the data buffer starts empty. Nothing is
//! restored for a group whose last save is older than the outage tolerance;
//! records of rules that no longer exist are deleted.

use super::alert::{AlertState, AlertTransition};
use super::file::RuleKind;
use super::group::Group;
use super::history::History;
use super::threshold::Severity;
use crate::persist::alerts::{group_of_saved_key, saved_key, SAVED_PREFIX};
use crate::persist::history::{history_key, key_sequence, retention_bound};
use crate::persist::{
    AlertKey, AlertRecord, Batch, GroupSavedRecord, HistoryRecord, PersistError, StateDb, Table,
};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Value-only updates of a group's alerts are written at most this often, ms
/// (this is also the resolution of the outage-tolerance check).
pub const REFRESH_MS: i64 = 60_000;

/// A retention cut removing at least this many transitions compacts the file.
pub const COMPACT_AFTER_CUT: u64 = 10_000;

/// How long saved state stays usable.
#[derive(Debug, Clone, Copy)]
pub struct RestoreOptions {
    /// Saved alert state older than this at start is not restored
    /// (`--rules.alert.for-outage-tolerance`).
    pub outage_tolerance: Duration,
    /// Transitions older than this are deleted (`--storage.history-retention`).
    pub history_retention: Duration,
    /// A restored pending or firing alert missing from its rule's results
    /// is kept as it is for this long after the restart (at least two
    /// evaluation intervals of its group): the data buffer starts empty, and
    /// resolving then would send a false "resolved" and a new "firing".
    /// `watchfire run` uses twice the longest scrape interval.
    pub resolve_grace: Duration,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            outage_tolerance: Duration::from_secs(3600),
            history_retention: Duration::from_secs(7 * 24 * 3600),
            resolve_grace: Duration::from_secs(120),
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Alerts put back.
    pub restored: usize,
    /// Records deleted: their rule is gone, or their group's state was too old.
    pub dropped: usize,
    /// Records that did not decode (deleted too).
    pub bad: usize,
}

/// The saved identity of an alert, compared to decide whether to write.
#[derive(Debug, Clone, PartialEq)]
struct Digest {
    rule: Arc<str>,
    state: AlertState,
    severity: Option<Severity>,
    active_at: i64,
    fired_at: Option<i64>,
    resolved_at: Option<i64>,
    keep_firing_since: Option<i64>,
}

impl Digest {
    fn of(rule: &Arc<str>, a: &super::alert::Alert) -> Self {
        Self {
            rule: rule.clone(),
            state: a.state,
            severity: a.severity,
            active_at: a.active_at,
            fired_at: a.fired_at,
            resolved_at: a.resolved_at,
            keep_firing_since: a.keep_firing_since,
        }
    }
}

/// What is on disk for one group.
#[derive(Debug, Default)]
struct GroupTrack {
    saved_at: Option<i64>,
    /// (rule index, fingerprint) → what was written.
    written: HashMap<(usize, u64), Digest>,
}

/// The rule manager's link to the state database.
#[derive(Debug)]
pub(crate) struct Durable {
    db: Arc<StateDb>,
    opts: RestoreOptions,
    restored: bool,
    next_seq: u64,
    groups: HashMap<String, GroupTrack>,
}

impl Durable {
    pub(crate) fn new(db: Arc<StateDb>, opts: RestoreOptions) -> Self {
        Self {
            db,
            opts,
            restored: false,
            next_seq: 0,
            groups: HashMap::new(),
        }
    }

    pub(crate) fn db(&self) -> &Arc<StateDb> {
        &self.db
    }

    pub(crate) fn options(&self) -> RestoreOptions {
        self.opts
    }

    /// Whether the first load still has to restore alerts.
    pub(crate) fn needs_restore(&self) -> bool {
        !self.restored
    }

    /// Refills the history ring with the newest saved transitions and
    /// continues their sequence numbers. Returns how many were loaded.
    pub(crate) fn load_history(&mut self, history: &mut History) -> Result<usize, PersistError> {
        let (records, bad) = self
            .db
            .load_last_json::<HistoryRecord>(Table::History, history.capacity())?;
        for b in &bad {
            tracing::warn!(key = %b.key, reason = %b.reason, "skipping unreadable alert history record");
        }
        if let Some(seq) = records.iter().filter_map(|(k, _)| key_sequence(k)).max() {
            self.next_seq = self.next_seq.max(seq + 1);
        }
        let mut n = 0;
        for (key, r) in records {
            match r.to_transition() {
                Ok(t) => {
                    history.push(t);
                    n += 1;
                }
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "skipping unreadable alert history record")
                }
            }
        }
        Ok(n)
    }

    /// Restores saved alerts into `groups` (the first load's rule set) at
    /// wall-clock time `now_ms`; `default_offset_ms` is the global rule query
    /// offset (the restored `ALERTS` samples are written at `now - offset`).
    pub(crate) fn restore(
        &mut self,
        groups: &BTreeMap<String, Arc<Group>>,
        now_ms: i64,
        default_offset_ms: i64,
        store: &Store,
    ) -> Result<RestoreReport, PersistError> {
        self.restored = true;
        let mut report = RestoreReport::default();
        let mut batch = Batch::new();
        let (saved, bad_saved) = self
            .db
            .load_prefix_json::<GroupSavedRecord>(Table::Meta, SAVED_PREFIX)?;
        let mut saved_at: HashMap<String, i64> = HashMap::new();
        for (key, rec) in saved {
            match group_of_saved_key(&key).filter(|g| groups.contains_key(g)) {
                Some(g) => {
                    saved_at.insert(g, rec.at);
                }
                None => batch.delete(Table::Meta, key),
            }
        }
        for b in bad_saved {
            batch.delete(Table::Meta, b.key);
        }
        let tolerance = self.opts.outage_tolerance.as_millis() as i64;
        let (records, bad) = self.db.load_json::<AlertRecord>(Table::Alerts)?;
        for b in bad {
            tracing::warn!(key = %b.key, reason = %b.reason, "dropping unreadable alert record");
            report.bad += 1;
            batch.delete(Table::Alerts, b.key);
        }
        // (group, rule index) → alerts to put back.
        let mut put_back: BTreeMap<(String, usize), Vec<super::alert::Alert>> = BTreeMap::new();
        for (key, rec) in records {
            let target = AlertKey::decode(&key).and_then(|k| {
                let g = groups.get(&k.group)?;
                let fresh = saved_at
                    .get(&k.group)
                    .is_some_and(|&at| now_ms - at <= tolerance);
                let index = fresh.then(|| rule_index(g, &k.rule, k.index)).flatten()?;
                Some((k, index))
            });
            let alert = match rec.to_alert() {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "dropping unreadable alert record");
                    report.bad += 1;
                    batch.delete(Table::Alerts, key);
                    continue;
                }
            };
            let Some((k, index)) = target else {
                report.dropped += 1;
                batch.delete(Table::Alerts, key);
                continue;
            };
            let fp = alert.labels.fingerprint();
            let track = self.groups.entry(k.group.clone()).or_default();
            track.saved_at = saved_at.get(&k.group).copied();
            if index == k.index && fp == k.fingerprint {
                let rule: Arc<str> = Arc::from(k.rule.as_str());
                track.written.insert((index, fp), Digest::of(&rule, &alert));
            } else {
                // Stored under an old position: the next evaluation rewrites it.
                batch.delete(Table::Alerts, key);
            }
            put_back.entry((k.group, index)).or_default().push(alert);
        }
        for (group, at) in &saved_at {
            if now_ms - at > tolerance {
                tracing::info!(group = %group, saved_ms_ago = now_ms - at, "saved alert state is older than the outage tolerance; not restored");
                batch.delete(Table::Meta, saved_key(group));
            }
        }
        for ((group, index), alerts) in put_back {
            let g = &groups[&group];
            let t = now_ms - g.query_offset_ms(default_offset_ms);
            let grace = (self.opts.resolve_grace.as_millis() as i64).max(2 * g.interval_ms());
            report.restored += g.restore_alerts(index, alerts, t, now_ms + grace, store);
        }
        self.db.commit(batch)?;
        Ok(report)
    }

    /// Writes what the evaluation of `g` at `ts` changed, with `transitions`,
    /// in one transaction. Returns the number of operations written (0 when
    /// nothing needed writing).
    pub(crate) fn after_eval(
        &mut self,
        g: &Group,
        ts: i64,
        transitions: &[AlertTransition],
    ) -> Result<usize, PersistError> {
        let track = self.groups.entry(g.key().to_string()).or_default();
        let refresh = track.saved_at.is_none_or(|at| ts - at >= REFRESH_MS);
        let mut now_written: HashMap<(usize, u64), Digest> = HashMap::new();
        let mut puts: Vec<(String, AlertRecord)> = Vec::new();
        let mut changed = false;
        g.with_state(|s| {
            for (i, r) in s.rules.iter().enumerate() {
                if r.spec.kind != RuleKind::Alerting || r.alerts.is_empty() {
                    continue;
                }
                let rule: Arc<str> = Arc::from(r.spec.name.as_str());
                for a in r.alerts.iter() {
                    let fp = a.labels.fingerprint();
                    let d = Digest::of(&rule, a);
                    let same = track.written.get(&(i, fp)) == Some(&d);
                    changed |= !same;
                    if !same || refresh {
                        let key = alert_key(g.key(), &rule, i, fp);
                        puts.push((key, AlertRecord::from(a)));
                    }
                    now_written.insert((i, fp), d);
                }
            }
        });
        let deletes: Vec<String> = track
            .written
            .iter()
            .filter(|(k, _)| !now_written.contains_key(k))
            .map(|((i, fp), d)| alert_key(g.key(), &d.rule, *i, *fp))
            .collect();
        changed |= !deletes.is_empty();
        let write_alerts = changed || (refresh && !now_written.is_empty());

        let mut batch = Batch::new();
        let mut seq = self.next_seq;
        for t in transitions {
            batch.put_json(
                Table::History,
                history_key(t.at, seq),
                &HistoryRecord::from(t),
            )?;
            seq += 1;
        }
        if write_alerts {
            for (key, rec) in &puts {
                batch.put_json(Table::Alerts, key.as_str(), rec)?;
            }
            for key in deletes {
                batch.delete(Table::Alerts, key);
            }
            batch.put_json(
                Table::Meta,
                saved_key(g.key()),
                &GroupSavedRecord { at: ts },
            )?;
        }
        let ops = batch.len();
        if ops == 0 {
            return Ok(0);
        }
        let started = Instant::now();
        self.db.commit(batch)?;
        tracing::debug!(group = %g.key(), ops, took_us = started.elapsed().as_micros() as u64, "alert state written");
        self.next_seq = seq;
        if write_alerts {
            track.saved_at = Some(ts);
            track.written = now_written;
        }
        Ok(ops)
    }

    /// Deletes the saved alerts of a group removed on reload.
    pub(crate) fn forget_group(&mut self, key: &str) -> Result<(), PersistError> {
        let Some(track) = self.groups.remove(key) else {
            return Ok(());
        };
        let mut batch = Batch::new();
        for ((i, fp), d) in track.written {
            batch.delete(Table::Alerts, alert_key(key, &d.rule, i, fp));
        }
        batch.delete(Table::Meta, saved_key(key));
        self.db.commit(batch)
    }
}

/// Deletes transitions older than `retention` before `now_ms`; compacts the
/// file after a large cut. Returns how many were deleted.
pub(crate) fn cut_history(
    db: &StateDb,
    retention: Duration,
    now_ms: i64,
) -> Result<u64, PersistError> {
    let cutoff = now_ms.saturating_sub(retention.as_millis() as i64);
    let removed = db.delete_before(Table::History, &retention_bound(cutoff))?;
    if removed >= COMPACT_AFTER_CUT {
        let started = Instant::now();
        db.compact()?;
        tracing::info!(
            removed,
            took_ms = started.elapsed().as_millis() as u64,
            "state database compacted after a history retention cut"
        );
    }
    Ok(removed)
}

fn alert_key(group: &str, rule: &str, index: usize, fingerprint: u64) -> String {
    AlertKey {
        group: group.to_string(),
        rule: rule.to_string(),
        index,
        fingerprint,
    }
    .encode()
}

/// The position of the alerting rule a record of rule `name` at `index`
/// belongs to: the same position when the name matches there, else the only
/// alerting rule of that name in the group.
fn rule_index(g: &Group, name: &str, index: usize) -> Option<usize> {
    g.with_state(|s| {
        let alerting = |i: &usize| {
            s.rules
                .get(*i)
                .is_some_and(|r| r.spec.kind == RuleKind::Alerting && r.spec.name == name)
        };
        if alerting(&index) {
            return Some(index);
        }
        let mut hits = (0..s.rules.len()).filter(alerting);
        match (hits.next(), hits.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    })
}

mod records;

#[cfg(test)]
mod tests;
