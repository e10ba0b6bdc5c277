//! The on-disk record of one alert of one alerting rule (table `alerts`),
//! and the per-group "last saved" record (table `meta`) that the outage
//! tolerance is measured against.
//!
//! Key: `group ␀ rule ␀ index ␀ fingerprint` — the group key (`file;group`),
//! the rule's name, its zero-padded position in the group and the alert's
//! identity fingerprint in hex. Components are escaped (`%` → `%25`,
//! `␀` → `%00`) so a group's records share the prefix `group ␀`.

use crate::model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Separator between key components.
const SEP: char = '\0';

/// Prefix of the per-group "last saved" keys in the `meta` table.
pub const SAVED_PREFIX: &str = "rules.saved\0";

/// A record field that does not decode into the domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: invalid value {value:?}")]
pub struct InvalidRecord {
    /// The field.
    pub field: &'static str,
    /// The value found.
    pub value: String,
}

/// Where an alert record belongs: group, rule and alert identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    /// The group key (`file;group`).
    pub group: String,
    /// The alerting rule's name.
    pub rule: String,
    /// The rule's position in the group.
    pub index: usize,
    /// The alert's identity fingerprint.
    pub fingerprint: u64,
}

impl AlertKey {
    /// The record key.
    pub fn encode(&self) -> String {
        format!(
            "{}{}{SEP}{:04}{SEP}{:016x}",
            group_prefix(&self.group),
            escape(&self.rule),
            self.index,
            self.fingerprint
        )
    }

    /// Parses a record key; `None` when it is not one this module wrote.
    pub fn decode(key: &str) -> Option<Self> {
        let mut parts = key.split(SEP);
        let group = unescape(parts.next()?)?;
        let rule = unescape(parts.next()?)?;
        let index = parts.next()?.parse().ok()?;
        let fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            group,
            rule,
            index,
            fingerprint,
        })
    }
}

/// The key prefix shared by every record of a group.
pub fn group_prefix(group: &str) -> String {
    format!("{}{SEP}", escape(group))
}

/// The `meta` key of a group's "last saved" record.
pub fn saved_key(group: &str) -> String {
    format!("{SAVED_PREFIX}{}", escape(group))
}

/// The group key of a `meta` "last saved" key.
pub fn group_of_saved_key(key: &str) -> Option<String> {
    unescape(key.strip_prefix(SAVED_PREFIX)?)
}

fn escape(s: &str) -> String {
    s.replace('%', "%25").replace(SEP, "%00")
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3)? {
            "25" => out.push('%'),
            "00" => out.push(SEP),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// When a group's alerts were last written (evaluation time, ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSavedRecord {
    /// Evaluation time of the last write, ms since the epoch.
    pub at: i64,
}

/// One alert, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Identity labels.
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// `inactive`, `pending` or `firing`.
    pub state: String,
    /// The value at the last write, as Rust prints it (`NaN` and `inf` survive).
    pub value: String,
    /// When it became pending, ms.
    pub active_at: i64,
    /// When it started firing, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<i64>,
    /// When it resolved, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    /// Since when `keep_firing_for` holds it, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<i64>,
    /// Threshold rules: `warning` or `critical`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Threshold rules: the level crossed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// Since when its data is missing (no-data policy), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_missing_since: Option<i64>,
    /// Why it resolved: `recovered` or `data_missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_reason: Option<String>,
}

/// Labels as a sorted name → value map.
pub(crate) fn labels_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

pub(crate) fn encode_f64(v: f64) -> String {
    v.to_string()
}

pub(crate) fn decode_f64(field: &'static str, s: &str) -> Result<f64, InvalidRecord> {
    s.parse().map_err(|_| InvalidRecord {
        field,
        value: s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_share_the_group_prefix() {
        let k = AlertKey {
            group: "rules/a%b.yml;g\0x".into(),
            rule: "Hot\0".into(),
            index: 3,
            fingerprint: 0xabc,
        };
        let s = k.encode();
        assert!(s.starts_with(&group_prefix(&k.group)));
        assert_eq!(AlertKey::decode(&s), Some(k.clone()));
        assert!(!s.starts_with(&group_prefix("rules/a%b.yml;g")));
        assert_eq!(AlertKey::decode("junk"), None);
        assert_eq!(AlertKey::decode("a\0b\0x\0ff"), None);
        assert_eq!(
            group_of_saved_key(&saved_key(&k.group)).as_deref(),
            Some(k.group.as_str())
        );
    }
}
