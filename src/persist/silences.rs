//! Silence records (table `silences`, key: the silence id).
//!
//! Matchers are stored as name, operator and value as the user wrote them
//! (regexes without our anchors) and compiled again on load; a record whose
//! regex no longer compiles is reported and skipped.

use super::db::{BadRecord, Batch, PersistError, StateDb, Table};
use super::notification::{time_from_record, time_to_record};
use crate::model::Matcher;
use crate::notify::Silence;
use serde::{Deserialize, Serialize};

/// One matcher as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatcherRecord {
    /// Label name.
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    /// Value or pattern as written.
    pub value: String,
}

/// One silence as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// The id (also the key).
    pub id: String,
    /// Matchers.
    pub matchers: Vec<MatcherRecord>,
    /// Start.
    pub starts_at: String,
    /// End.
    pub ends_at: String,
    /// Last change.
    pub updated_at: String,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

impl From<&Silence> for SilenceRecord {
    fn from(s: &Silence) -> Self {
        SilenceRecord {
            id: s.id.clone(),
            matchers: s
                .matchers
                .iter()
                .map(|m| MatcherRecord {
                    name: m.name.clone(),
                    op: m.op_str().to_owned(),
                    value: m.value().to_owned(),
                })
                .collect(),
            starts_at: time_to_record(s.starts_at),
            ends_at: time_to_record(s.ends_at),
            updated_at: time_to_record(s.updated_at),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

impl TryFrom<SilenceRecord> for Silence {
    type Error = String;
    fn try_from(r: SilenceRecord) -> Result<Self, String> {
        let matchers = r
            .matchers
            .into_iter()
            .map(|m| match m.op.as_str() {
                "=" => Ok(Matcher::equal(m.name, m.value)),
                "!=" => Ok(Matcher::not_equal(m.name, m.value)),
                "=~" => Matcher::regex(m.name, &m.value).map_err(|e| e.to_string()),
                "!~" => Matcher::not_regex(m.name, &m.value).map_err(|e| e.to_string()),
                other => Err(format!("unknown matcher operator {other:?}")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Silence {
            id: r.id,
            matchers,
            starts_at: time_from_record(&r.starts_at)?,
            ends_at: time_from_record(&r.ends_at)?,
            updated_at: time_from_record(&r.updated_at)?,
            created_by: r.created_by,
            comment: r.comment,
        })
    }
}

/// Adds a write of `silence` to `batch`.
pub fn put(batch: &mut Batch, silence: &Silence) -> Result<(), PersistError> {
    batch.put_json(
        Table::Silences,
        silence.id.clone(),
        &SilenceRecord::from(silence),
    )
}

/// The size of `silence` as stored, in bytes (what `--silences.max-silence-size-bytes` bounds).
pub fn stored_size(silence: &Silence) -> usize {
    serde_json::to_vec(&SilenceRecord::from(silence)).map_or(usize::MAX, |v| v.len())
}

/// Adds the removal of silence `id` to `batch`.
pub fn delete(batch: &mut Batch, id: &str) {
    batch.delete(Table::Silences, id);
}

/// Below this many records a load decodes them on the calling thread.
const PARALLEL_FROM: usize = 512;

/// Every stored silence; records that do not decode are returned separately.
///
/// Compiling the regex matchers is most of the work (about 60 µs for a short pattern, 12 ms
/// for a 13 KB alternation, release build), so many records are decoded on one thread per
/// core.
pub fn load(db: &StateDb) -> Result<(Vec<Silence>, Vec<BadRecord>), PersistError> {
    let (records, mut bad) = db.load_json::<SilenceRecord>(Table::Silences)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let decode = |part: Vec<(String, SilenceRecord)>| {
        let mut out = Vec::with_capacity(part.len());
        let mut bad = Vec::new();
        for (key, record) in part {
            match Silence::try_from(record) {
                Ok(s) => out.push(s),
                Err(reason) => bad.push(BadRecord {
                    table: Table::Silences.name(),
                    key,
                    reason,
                }),
            }
        }
        (out, bad)
    };
    if records.len() < PARALLEL_FROM || threads == 1 {
        let (out, more) = decode(records);
        bad.extend(more);
        return Ok((out, bad));
    }
    let per_thread = records.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = records.into_iter();
    loop {
        let part: Vec<_> = rest.by_ref().take(per_thread).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let mut out = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || decode(part)))
            .collect();
        for h in handles {
            // A panic while decoding is a bug; surface it rather than losing silences.
            let (silences, more) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            out.extend(silences);
            bad.extend(more);
        }
    });
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::matchers::parse_matchers;
    use chrono::{TimeZone, Utc};

    fn silence() -> Silence {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        Silence {
            id: "8c1b7a4e-0000-4000-8000-000000000001".into(),
            matchers: parse_matchers(r#"alertname="A", env=~"prod|stage", team!="x", a!~"b.*""#)
                .unwrap(),
            starts_at: t,
            ends_at: t + chrono::Duration::hours(2),
            updated_at: t,
            created_by: "me".into(),
            comment: "maintenance".into(),
        }
    }

    #[test]
    fn silences_round_trip_through_the_database() {
        let db = StateDb::memory();
        let s = silence();
        let mut b = Batch::new();
        put(&mut b, &s).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load(&db).unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(loaded.len(), 1);
        let l = &loaded[0];
        assert_eq!(l.id, s.id);
        assert_eq!((l.starts_at, l.ends_at), (s.starts_at, s.ends_at));
        let show = |m: &[Matcher]| m.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(show(&l.matchers), show(&s.matchers));
        let labels = crate::model::Labels::from_pairs([("alertname", "A"), ("env", "prod")]);
        assert!(l.mutes(&labels, s.starts_at));
        let mut b = Batch::new();
        delete(&mut b, &s.id);
        db.commit(b).unwrap();
        assert!(load(&db).unwrap().0.is_empty());
    }

    #[test]
    fn a_bad_matcher_is_reported_not_fatal() {
        let db = StateDb::memory();
        let mut r = SilenceRecord::from(&silence());
        r.matchers[0].op = "~~".into();
        let mut b = Batch::new();
        b.put_json(Table::Silences, "bad", &r).unwrap();
        r.matchers[0].op = "=~".into();
        r.matchers[0].value = "(".into();
        b.put_json(Table::Silences, "bad2", &r).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load(&db).unwrap();
        assert!(loaded.is_empty());
        assert_eq!(bad.len(), 2);
        assert!(bad[0].reason.contains("operator"), "{bad:?}");
        assert!(bad[1].reason.contains("invalid regex"), "{bad:?}");
    }

    #[test]
    fn many_silences_load_in_parallel_and_completely() {
        let db = StateDb::memory();
        let mut b = Batch::new();
        let n = PARALLEL_FROM * 3 + 7;
        for i in 0..n {
            let mut s = silence();
            s.id = format!("id-{i:05}");
            s.matchers = parse_matchers(&format!(r#"alertname=~"A{i}.*""#)).unwrap();
            put(&mut b, &s).unwrap();
        }
        let mut r = SilenceRecord::from(&silence());
        r.id = "bad".into();
        r.matchers[0].op = "~~".into();
        b.put_json(Table::Silences, "bad", &r).unwrap();
        db.commit(b).unwrap();
        let (loaded, bad) = load(&db).unwrap();
        assert_eq!(loaded.len(), n);
        assert_eq!(bad.len(), 1);
        let mut ids: Vec<&str> = loaded.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        let l = loaded.iter().find(|s| s.id == "id-00042").unwrap();
        assert!(l.mutes(
            &crate::model::Labels::from_pairs([("alertname", "A42x")]),
            l.starts_at
        ));
    }
}
