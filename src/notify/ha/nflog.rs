//! The shared notification log of an HA pair: per aggregation group, receiver and integration,
//! what was last sent (Alertmanager's nflog entry: group key, receiver, firing and resolved
//! alert hashes, time), as JSON under `<prefix>/nflog/`, with the fencing token of the leader
//! that wrote it.
//!
//! [`Mirror`] is each replica's copy, fed by the leader's own writes and by the etcd watch;
//! an entry is only replaced by one of a higher etcd revision. Pure: no I/O.

use crate::notify::group::NotifiedState;
use crate::persist::dispatch::{fp_hex, fp_parse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// At most this many log entries are mirrored; more (a hostile or foreign prefix) are
/// ignored and logged.
pub const MAX_ENTRIES: usize = 100_000;

/// At most this many bytes per entry are decoded.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// Which log entry: one integration of one receiver for one aggregation group.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId {
    /// The receiver.
    pub receiver: String,
    /// The aggregation group's key.
    pub group_key: String,
    /// The integration's index in the receiver.
    pub integration: usize,
}

impl EntryId {
    /// The etcd key under `prefix`: a hash of receiver and group key (group keys hold
    /// arbitrary label values), then the integration index.
    pub fn key(&self, prefix: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.receiver.as_bytes());
        h.update([0]);
        h.update(self.group_key.as_bytes());
        let digest = h.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{prefix}/nflog/{hex}/{}", self.integration)
    }
}

/// One entry as stored in etcd.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// The receiver.
    pub receiver: String,
    /// The group key.
    pub group_key: String,
    /// The integration's index.
    pub integration: usize,
    /// Firing alerts: fingerprint (16 hex digits) → transition sequence.
    pub firing: BTreeMap<String, u64>,
    /// Resolved fingerprints.
    pub resolved: Vec<String>,
    /// Firing alerts' severity labels, by fingerprint (the replicas' transition sequences
    /// are their own evaluation times: a replica compares its own sequence where the
    /// severity is the same).
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
    /// When it was sent (RFC 3339).
    pub at: String,
    /// The replica that wrote it.
    pub replica: String,
    /// The leader key's revision when it was written (the fencing token).
    pub fencing: i64,
}

impl EntryRecord {
    /// The record of `state` for `id` (firing alerts' severities in `severity`), written by
    /// `replica` holding `fencing`.
    pub fn new(
        id: &EntryId,
        state: &NotifiedState,
        severity: &Severities,
        replica: &str,
        fencing: i64,
    ) -> EntryRecord {
        EntryRecord {
            receiver: id.receiver.clone(),
            group_key: id.group_key.clone(),
            integration: id.integration,
            firing: state
                .firing
                .iter()
                .map(|(fp, seq)| (fp_hex(*fp), *seq))
                .collect(),
            resolved: state.resolved.iter().map(|fp| fp_hex(*fp)).collect(),
            severity: severity
                .iter()
                .map(|(fp, s)| (fp_hex(*fp), s.clone()))
                .collect(),
            at: state.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            replica: replica.to_owned(),
            fencing,
        }
    }

    /// JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes an etcd value; a reason when it is not an entry.
    pub fn decode(bytes: &[u8]) -> Result<(EntryId, NotifiedState, Severities), String> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(format!("entry of {} bytes is too large", bytes.len()));
        }
        let r: EntryRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let firing = r
            .firing
            .iter()
            .map(|(fp, seq)| Ok((fp_parse(fp)?, *seq)))
            .collect::<Result<_, String>>()?;
        let resolved = r
            .resolved
            .iter()
            .map(|fp| fp_parse(fp))
            .collect::<Result<_, _>>()?;
        let severity = r
            .severity
            .iter()
            .map(|(fp, s)| Ok((fp_parse(fp)?, s.clone())))
            .collect::<Result<_, String>>()?;
        let at = DateTime::parse_from_rfc3339(&r.at)
            .map_err(|e| format!("bad time {:?}: {e}", r.at))?
            .with_timezone(&Utc);
        let id = EntryId {
            receiver: r.receiver,
            group_key: r.group_key,
            integration: r.integration,
        };
        Ok((
            id,
            NotifiedState {
                firing,
                resolved,
                at,
            },
            severity,
        ))
    }
}

/// Firing alerts' severity labels by fingerprint (alerts without one are absent).
pub type Severities = BTreeMap<u64, String>;

/// One mirrored entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Mirrored {
    /// The etcd key's mod revision (what a fenced write compares).
    pub revision: i64,
    /// What was sent.
    pub state: NotifiedState,
    /// The firing alerts' severities.
    pub severity: Severities,
}

/// An entry's content: what was sent, and the firing alerts' severities.
pub type Entry = (NotifiedState, Severities);

/// A replica's copy of the shared log.
#[derive(Debug, Default)]
pub struct Mirror {
    entries: HashMap<EntryId, Mirrored>,
    /// etcd key → entry, for deletions.
    keys: HashMap<String, EntryId>,
}

impl Mirror {
    /// Takes an entry read from etcd at `revision`; false when it is not newer than the one
    /// held or the mirror is full.
    pub fn apply(&mut self, key: &str, id: EntryId, revision: i64, entry: Entry) -> bool {
        if let Some(held) = self.entries.get(&id) {
            if held.revision >= revision {
                return false;
            }
        } else if self.entries.len() >= MAX_ENTRIES {
            return false;
        }
        self.keys.insert(key.to_owned(), id.clone());
        let (state, severity) = entry;
        self.entries.insert(
            id,
            Mirrored {
                revision,
                state,
                severity,
            },
        );
        true
    }

    /// Forgets the entry stored under etcd key `key` (deleted there).
    pub fn remove_key(&mut self, key: &str) {
        if let Some(id) = self.keys.remove(key) {
            self.entries.remove(&id);
        }
    }

    /// The entry for `id`.
    pub fn get(&self, id: &EntryId) -> Option<&Mirrored> {
        self.entries.get(id)
    }

    /// The entries changed after `revision`, oldest first.
    pub fn since(&self, revision: i64) -> Vec<(EntryId, Mirrored)> {
        let mut out: Vec<(EntryId, Mirrored)> = self
            .entries
            .iter()
            .filter(|(_, m)| m.revision > revision)
            .map(|(id, m)| (id.clone(), m.clone()))
            .collect();
        out.sort_by_key(|(_, m)| m.revision);
        out
    }

    /// The etcd keys of entries sent before `before` (to delete: past the retention).
    pub fn older_than(&self, before: DateTime<Utc>) -> Vec<String> {
        self.keys
            .iter()
            .filter(|(_, id)| self.entries.get(id).is_some_and(|m| m.state.at < before))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn id(group: &str, i: usize) -> EntryId {
        EntryId {
            receiver: "web".into(),
            group_key: group.into(),
            integration: i,
        }
    }

    fn state(firing: &[u64], resolved: &[u64], secs: i64) -> NotifiedState {
        NotifiedState {
            firing: firing.iter().map(|fp| (*fp, 7)).collect(),
            resolved: resolved.iter().copied().collect::<BTreeSet<_>>(),
            at: DateTime::from_timestamp(secs, 5_000_000).unwrap(),
        }
    }

    #[test]
    fn records_round_trip_and_keys_are_stable_and_distinct() {
        let s = state(&[1, u64::MAX], &[3], 1_700_000_000);
        let sev = Severities::from([(1, "warning".to_owned())]);
        let rec = EntryRecord::new(&id("{}:{a=\"b\"}", 1), &s, &sev, "a", 42);
        assert_eq!(rec.fencing, 42);
        assert_eq!(rec.firing["ffffffffffffffff"], 7);
        let (got_id, got, got_sev) = EntryRecord::decode(&rec.encode()).unwrap();
        assert_eq!(got_id, id("{}:{a=\"b\"}", 1));
        assert_eq!(got, s);
        assert_eq!(got_sev, sev);
        let k = id("{}:{a=\"b\"}", 1).key("/wf");
        assert!(k.starts_with("/wf/nflog/") && k.ends_with("/1"), "{k}");
        assert_eq!(k, id("{}:{a=\"b\"}", 1).key("/wf"));
        assert_ne!(k, id("{}:{a=\"c\"}", 1).key("/wf"));
        assert_ne!(k, id("{}:{a=\"b\"}", 0).key("/wf"));
    }

    #[test]
    fn hostile_values_are_errors() {
        assert!(EntryRecord::decode(b"not json").is_err());
        assert!(EntryRecord::decode(&vec![b' '; MAX_ENTRY_BYTES + 1]).is_err());
        let mut rec = EntryRecord::new(
            &id("g", 0),
            &state(&[1], &[], 0),
            &Severities::new(),
            "a",
            1,
        );
        rec.firing.insert("xyz".into(), 1);
        assert!(EntryRecord::decode(&rec.encode()).is_err());
        let mut rec = EntryRecord::new(
            &id("g", 0),
            &state(&[1], &[], 0),
            &Severities::new(),
            "a",
            1,
        );
        rec.at = "yesterday".into();
        assert!(EntryRecord::decode(&rec.encode()).is_err());
    }

    #[test]
    fn the_mirror_keeps_the_highest_revision() {
        let mut m = Mirror::default();
        assert!(m.apply(
            "k1",
            id("g", 0),
            5,
            (state(&[1], &[], 10), Severities::new())
        ));
        // An older revision (a watch event after the leader's own write) changes nothing.
        assert!(!m.apply(
            "k1",
            id("g", 0),
            4,
            (state(&[], &[1], 11), Severities::new())
        ));
        assert!(!m.apply(
            "k1",
            id("g", 0),
            5,
            (state(&[], &[1], 11), Severities::new())
        ));
        assert_eq!(m.get(&id("g", 0)).unwrap().state, state(&[1], &[], 10));
        assert!(m.apply(
            "k1",
            id("g", 0),
            9,
            (state(&[], &[1], 12), Severities::new())
        ));
        assert!(m.apply(
            "k2",
            id("h", 0),
            7,
            (state(&[2], &[], 1), Severities::new())
        ));
        let since: Vec<i64> = m.since(5).iter().map(|(_, e)| e.revision).collect();
        assert_eq!(since, [7, 9]);
        assert_eq!(
            m.older_than(DateTime::from_timestamp(5, 0).unwrap()),
            ["k2"]
        );
        m.remove_key("k2");
        assert_eq!(m.len(), 1);
        assert!(m.get(&id("h", 0)).is_none());
    }
}
