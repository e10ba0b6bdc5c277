//! Silences: time-boxed matchers that mute notifications, as Alertmanager's API v2 models them.
//!
//! A silence mutes an alert when every matcher matches its labels and `now` lies in
//! `[starts_at, ends_at)`. Creating validates as Alertmanager does (at least one matcher that
//! does not match the empty string, start before end, end not in the past); a start in the past
//! becomes now. Expiring an active silence ends it now; a pending one is ended before it
//! starts. Expired silences are kept for the retention ([`SilenceLimits::retention`],
//! Alertmanager's `--data.retention`, default 120h) so they can be listed, then purged from
//! memory and the database.
//!
//! **Limits** ([`SilenceLimits`], Alertmanager's `--silences.max-silences` and
//! `--silences.max-silence-size-bytes`): at most 10,000 silences, expired ones included, and
//! at most 16 KiB per silence as stored; beyond either a create or update is refused with
//! Alertmanager's message (HTTP 400). Unlike Alertmanager (0 = no limit by default) both are
//! on by default, so no client can grow the store without bound; 0 turns a limit off.
//!
//! The HTTP wire shapes live in `api::silences`. With a state database
//! ([`Silences::persist_to`]) every change is written through before the call returns, and
//! the silences saved before a restart are loaded (those expired longer than the retention
//! ago are dropped).

use super::durable::commit_blocking;
use crate::model::matcher_text::matches_all;
use crate::model::{Labels, Matcher};
use crate::persist::{self, Batch, PersistError, StateDb};
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rand::Rng;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A silence's state at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SilenceState {
    /// Muting now.
    Active,
    /// Starts later.
    Pending,
    /// Over.
    Expired,
}

impl SilenceState {
    /// `active`, `pending` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

/// One silence.
#[derive(Clone, Debug)]
pub struct Silence {
    /// UUID.
    pub id: String,
    /// All must match for an alert to be muted.
    pub matchers: Vec<Matcher>,
    /// Start of the muting window.
    pub starts_at: DateTime<Utc>,
    /// End of the muting window (exclusive).
    pub ends_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// The state as of `now`.
    pub fn state(&self, now: DateTime<Utc>) -> SilenceState {
        if self.ends_at <= now {
            SilenceState::Expired
        } else if self.starts_at > now {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether the silence mutes `labels` at `now`.
    pub fn mutes(&self, labels: &Labels, now: DateTime<Utc>) -> bool {
        self.state(now) == SilenceState::Active && matches_all(&self.matchers, labels)
    }
}

/// Why a silence cannot be stored or expired.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SilenceError {
    /// The silence is malformed (the message says how), HTTP 400.
    #[error("{0}")]
    Invalid(String),
    /// No silence with this id, HTTP 404.
    #[error("silence {0} not found")]
    NotFound(String),
    /// The silence is already expired, HTTP 400 (Alertmanager's 500 is not worth copying).
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
    /// Storing the silence would exceed `--silences.max-silences`, HTTP 400 as Alertmanager.
    #[error("exceeded maximum number of silences: {count} (limit: {limit})")]
    TooMany {
        /// Silences held now, expired ones included.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The silence is larger than `--silences.max-silence-size-bytes`, HTTP 400 as Alertmanager.
    #[error("silence exceeded maximum size: {size} bytes (limit: {limit} bytes)")]
    TooLarge {
        /// The silence's size as stored.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Bounds on the silence store (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SilenceLimits {
    /// Most silences held, expired ones included (`--silences.max-silences`); 0: no limit.
    pub max_silences: usize,
    /// Largest silence in bytes as stored (`--silences.max-silence-size-bytes`); 0: no limit.
    pub max_silence_size_bytes: usize,
    /// How long an expired silence is kept before it is purged (`--data.retention`).
    pub retention: chrono::Duration,
}

impl SilenceLimits {
    /// Default of `--silences.max-silences`.
    pub const DEFAULT_MAX_SILENCES: usize = 10_000;
    /// Default of `--silences.max-silence-size-bytes`.
    pub const DEFAULT_MAX_SILENCE_SIZE_BYTES: usize = 16 << 10;
    /// Default of `--data.retention` (Alertmanager's).
    pub const DEFAULT_RETENTION: chrono::Duration = chrono::Duration::hours(120);
}

impl Default for SilenceLimits {
    fn default() -> Self {
        SilenceLimits {
            max_silences: Self::DEFAULT_MAX_SILENCES,
            max_silence_size_bytes: Self::DEFAULT_MAX_SILENCE_SIZE_BYTES,
            retention: Self::DEFAULT_RETENTION,
        }
    }
}

/// The silences, shared between the API and the dispatcher.
#[derive(Debug, Default)]
pub struct Silences {
    inner: RwLock<HashMap<String, Silence>>,
    db: OnceLock<Arc<StateDb>>,
    limits: SilenceLimits,
    outbox: OnceLock<Arc<SilenceOutbox>>,
}

/// The ids of silences created, updated or expired through this store since the replicator
/// (`notify::ha`) last took them. Bounded by the number of silences (a set of ids).
#[derive(Debug, Default)]
pub struct SilenceOutbox {
    ids: parking_lot::Mutex<std::collections::BTreeSet<String>>,
    wake: tokio::sync::Notify,
}

impl SilenceOutbox {
    fn mark(&self, id: &str) {
        self.ids.lock().insert(id.to_owned());
        self.wake.notify_one();
    }

    /// Takes the ids marked so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.ids.lock()).into_iter().collect()
    }

    /// Marks ids again (their replication failed; it is retried).
    pub fn put_back(&self, ids: impl IntoIterator<Item = String>) {
        self.ids.lock().extend(ids);
    }

    /// Waits until an id is marked.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

impl Silences {
    /// An empty set with the default [`SilenceLimits`].
    pub fn new() -> Silences {
        Silences::default()
    }

    /// An empty set with `limits`.
    pub fn with_limits(limits: SilenceLimits) -> Silences {
        Silences {
            limits,
            ..Silences::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> SilenceLimits {
        self.limits
    }

    /// Whether `s` is past its retention at `now` (expired longer than the retention ago).
    fn purgeable(&self, s: &Silence, now: DateTime<Utc>) -> bool {
        s.ends_at + self.limits.retention <= now
    }

    /// Creates a silence, or updates the one with `silence.id` when that is set and not
    /// expired. Returns the id.
    pub fn upsert(&self, mut silence: Silence, now: DateTime<Utc>) -> Result<String, SilenceError> {
        validate(&silence, now)?;
        if silence.starts_at < now {
            silence.starts_at = now;
        }
        silence.updated_at = now;
        let mut map = self.inner.write();
        let creates = if silence.id.is_empty() {
            true
        } else {
            match map.get(&silence.id) {
                None => return Err(SilenceError::NotFound(silence.id)),
                // Alertmanager makes a new silence when the old one cannot be changed.
                Some(old) => old.state(now) == SilenceState::Expired,
            }
        };
        if creates {
            silence.id = new_id();
        }
        let limit = self.limits.max_silence_size_bytes;
        if limit > 0 {
            let size = super::durable::records::silence_stored_size(&silence);
            if size > limit {
                return Err(SilenceError::TooLarge { size, limit });
            }
        }
        let limit = self.limits.max_silences;
        if creates && limit > 0 && map.len() >= limit {
            // Silences past their retention do not count, even before the next purge.
            self.purge_locked(&mut map, now);
            if map.len() >= limit {
                return Err(SilenceError::TooMany {
                    count: map.len(),
                    limit,
                });
            }
        }
        let id = silence.id.clone();
        self.write(|b| super::durable::records::put_silence(b, &silence));
        map.insert(id.clone(), silence);
        if let Some(outbox) = self.outbox.get() {
            outbox.mark(&id);
        }
        Ok(id)
    }

    /// Reports every change made through this store (creates, updates, expiries; not
    /// [`Silences::apply_replicated`]) to the returned outbox, starting with the silences
    /// held now. The same outbox on later calls.
    pub fn replicate(&self) -> Arc<SilenceOutbox> {
        let outbox = self.outbox.get_or_init(Arc::default).clone();
        for id in self.inner.read().keys() {
            outbox.mark(id);
        }
        outbox
    }

    /// Takes a silence replicated from another replica: kept when no silence with its id is
    /// held or the held one was changed earlier (`updated_at`); saved to the state database.
    /// Returns whether it was taken. A silence over the size limit, or a new one beyond the
    /// count limit, is refused.
    pub fn apply_replicated(
        &self,
        silence: Silence,
        now: DateTime<Utc>,
    ) -> Result<bool, SilenceError> {
        let mut map = self.inner.write();
        match map.get(&silence.id) {
            Some(held) if held.updated_at >= silence.updated_at => return Ok(false),
            _ => {}
        }
        if self.purgeable(&silence, now) {
            return Ok(false);
        }
        let limit = self.limits.max_silence_size_bytes;
        if limit > 0 {
            let size = super::durable::records::silence_stored_size(&silence);
            if size > limit {
                return Err(SilenceError::TooLarge { size, limit });
            }
        }
        let limit = self.limits.max_silences;
        if limit > 0 && !map.contains_key(&silence.id) && map.len() >= limit {
            self.purge_locked(&mut map, now);
            if map.len() >= limit {
                return Err(SilenceError::TooMany {
                    count: map.len(),
                    limit,
                });
            }
        }
        self.write(|b| super::durable::records::put_silence(b, &silence));
        map.insert(silence.id.clone(), silence);
        Ok(true)
    }

    /// Writes through to the state database, if any (called with the map locked, so writes
    /// of one silence land in the order made). A failure is logged; the change stays in
    /// memory.
    fn write(&self, fill: impl FnOnce(&mut Batch) -> Result<(), PersistError>) {
        let Some(db) = self.db.get() else { return };
        let mut batch = Batch::new();
        let result = fill(&mut batch).and_then(|()| commit_blocking(db, batch));
        if let Err(e) = result {
            tracing::error!(error = %e, "silence not saved; it will not survive a restart");
        }
    }

    /// Keeps the silences in `db` from now on: loads the saved ones (dropping, also from the
    /// database, those past their retention at `now`), saves the ones held in memory, then
    /// writes every change through. Returns how many were loaded.
    /// A second call with the same database (a notifier rebuilt on a config reload) reads
    /// nothing (the silences in memory are already the database's) and returns how many are
    /// held.
    pub fn persist_to(&self, db: Arc<StateDb>, now: DateTime<Utc>) -> Result<usize, PersistError> {
        if self.db.get().is_some_and(|held| Arc::ptr_eq(held, &db)) {
            return Ok(self.inner.read().len());
        }
        let (loaded, bad) = super::durable::records::load_silences(&db)?;
        for b in &bad {
            tracing::warn!(key = %b.key, reason = %b.reason, "unreadable silence skipped");
        }
        let mut map = self.inner.write();
        let mut batch = Batch::new();
        let mut count = 0;
        let stored: std::collections::HashSet<String> =
            loaded.iter().map(|s| s.id.clone()).collect();
        for s in loaded {
            if self.purgeable(&s, now) {
                persist::silences::delete(&mut batch, &s.id);
                continue;
            }
            count += 1;
            map.entry(s.id.clone()).or_insert(s);
        }
        for s in map.values().filter(|s| !stored.contains(&s.id)) {
            crate::notify::durable::records::put_silence(&mut batch, s)?;
        }
        commit_blocking(&db, batch)?;
        let _ = self.db.set(db);
        Ok(count)
    }

    /// Expires the silence `id` as of `now`.
    pub fn expire(&self, id: &str, now: DateTime<Utc>) -> Result<(), SilenceError> {
        let mut map = self.inner.write();
        let s = map
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        match s.state(now) {
            SilenceState::Expired => return Err(SilenceError::AlreadyExpired(id.to_owned())),
            SilenceState::Pending => s.starts_at = now,
            SilenceState::Active => {}
        }
        s.ends_at = now;
        s.updated_at = now;
        let s = s.clone();
        self.write(|b| super::durable::records::put_silence(b, &s));
        if let Some(outbox) = self.outbox.get() {
            outbox.mark(id);
        }
        Ok(())
    }

    /// The silence `id`.
    pub fn get(&self, id: &str) -> Option<Silence> {
        self.inner.read().get(id).cloned()
    }

    /// Every silence, in Alertmanager's listing order: active by end time, pending by start
    /// time, then expired, most recently ended first.
    pub fn list(&self, now: DateTime<Utc>) -> Vec<Silence> {
        let mut all: Vec<Silence> = self.inner.read().values().cloned().collect();
        all.sort_by(|a, b| {
            let (sa, sb) = (a.state(now), b.state(now));
            sa.cmp(&sb).then_with(|| match sa {
                SilenceState::Active => a.ends_at.cmp(&b.ends_at),
                SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
                SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
            })
        });
        all
    }

    /// The ids of the active silences muting `labels` at `now`, sorted.
    pub fn muting(&self, labels: &Labels, now: DateTime<Utc>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .inner
            .read()
            .values()
            .filter(|s| s.mutes(labels, now))
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Whether any active silence mutes `labels` at `now`.
    pub fn is_silenced(&self, labels: &Labels, now: DateTime<Utc>) -> bool {
        self.inner.read().values().any(|s| s.mutes(labels, now))
    }

    /// Drops silences past their retention (in memory and in the database); returns how many.
    pub fn gc(&self, now: DateTime<Utc>) -> usize {
        self.purge_locked(&mut self.inner.write(), now)
    }

    fn purge_locked(&self, map: &mut HashMap<String, Silence>, now: DateTime<Utc>) -> usize {
        let mut gone = Vec::new();
        map.retain(|id, s| {
            let keep = !self.purgeable(s, now);
            if !keep {
                gone.push(id.clone());
            }
            keep
        });
        if !gone.is_empty() {
            self.write(|b| {
                gone.iter().for_each(|id| persist::silences::delete(b, id));
                Ok(())
            });
        }
        gone.len()
    }

    /// How many silences are held, expired ones included.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether no silence is held.
    pub fn is_empty(&self) -> bool {
        self.inner.read().is_empty()
    }
}

fn validate(s: &Silence, now: DateTime<Utc>) -> Result<(), SilenceError> {
    let invalid = |m: &str| Err(SilenceError::Invalid(m.to_owned()));
    if s.matchers.is_empty() {
        return invalid("at least one matcher required");
    }
    if s.matchers.iter().all(Matcher::matches_empty) {
        return invalid("at least one matcher must not match the empty string");
    }
    if s.starts_at >= s.ends_at {
        return invalid("start time must be before end time");
    }
    if s.ends_at < now {
        return invalid("end time can't be in the past");
    }
    Ok(())
}

/// A random (version 4) UUID.
fn new_id() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl fmt::Display for SilenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher_text::parse_matchers;

    fn silence(matchers: &str, start: i64, end: i64, now: DateTime<Utc>) -> Silence {
        Silence {
            id: String::new(),
            matchers: parse_matchers(matchers).unwrap(),
            starts_at: now + chrono::Duration::minutes(start),
            ends_at: now + chrono::Duration::minutes(end),
            updated_at: now,
            created_by: "me".into(),
            comment: "c".into(),
        }
    }

    #[test]
    fn replication_reports_local_changes_and_takes_newer_remote_ones() {
        let now = Utc::now();
        let s = Silences::with_limits(SilenceLimits {
            max_silences: 2,
            ..SilenceLimits::default()
        });
        let before = s.upsert(silence(r#"a="1""#, 0, 60, now), now).unwrap();
        let outbox = s.replicate();
        assert_eq!(
            outbox.take(),
            std::slice::from_ref(&before),
            "what is held goes first"
        );
        let id = s.upsert(silence(r#"a="2""#, 0, 60, now), now).unwrap();
        s.expire(&before, now).unwrap();
        let mut marked = outbox.take();
        marked.sort();
        let mut want = vec![before.clone(), id.clone()];
        want.sort();
        assert_eq!(marked, want);
        // From the other replica: newer wins, older or equal is ignored, nothing is marked.
        let mut remote = s.get(&id).unwrap();
        remote.comment = "changed there".into();
        remote.updated_at = now + chrono::Duration::seconds(1);
        assert_eq!(s.apply_replicated(remote.clone(), now), Ok(true));
        assert_eq!(s.get(&id).unwrap().comment, "changed there");
        remote.comment = "older".into();
        remote.updated_at = now;
        assert_eq!(s.apply_replicated(remote, now), Ok(false));
        assert!(outbox.take().is_empty());
        // Limits hold for replicated silences too.
        let mut third = silence(r#"a="3""#, 0, 60, now);
        third.id = "third".into();
        assert!(matches!(
            s.apply_replicated(third, now),
            Err(SilenceError::TooMany { .. })
        ));
        let mut gone = silence(r#"a="4""#, -10_000, -9_000, now);
        gone.id = "gone".into();
        assert_eq!(
            s.apply_replicated(gone, now),
            Ok(false),
            "past its retention"
        );
    }

    #[test]
    fn create_match_expire() {
        let now = Utc::now();
        let s = Silences::new();
        let id = s
            .upsert(silence(r#"alertname="A", env=~"prod.*""#, -5, 60, now), now)
            .unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        let hit = Labels::from_pairs([("alertname", "A"), ("env", "prod-eu")]);
        let miss = Labels::from_pairs([("alertname", "A"), ("env", "dev")]);
        assert!(s.is_silenced(&hit, now));
        assert!(!s.is_silenced(&miss, now));
        assert_eq!(s.muting(&hit, now), std::slice::from_ref(&id));
        assert_eq!(
            s.get(&id).unwrap().starts_at,
            now,
            "a past start becomes now"
        );
        s.expire(&id, now).unwrap();
        assert!(!s.is_silenced(&hit, now));
        assert_eq!(
            s.expire(&id, now),
            Err(SilenceError::AlreadyExpired(id.clone()))
        );
        assert!(matches!(
            s.expire("nope", now),
            Err(SilenceError::NotFound(_))
        ));
        s.gc(now + chrono::Duration::hours(121));
        assert!(s.get(&id).is_none());
    }

    #[test]
    fn validation_as_alertmanager() {
        let now = Utc::now();
        let s = Silences::new();
        let err = |sil| match s.upsert(sil, now) {
            Err(SilenceError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err(silence("a=~.*", 0, 5, now)).contains("must not match the empty string"));
        assert!(err(silence("a=b", 5, 5, now)).contains("start time must be before end time"));
        assert!(err(silence("a=b", -10, -5, now)).contains("in the past"));
        let mut unknown = silence("a=b", 0, 5, now);
        unknown.id = "x".into();
        assert!(matches!(
            s.upsert(unknown, now),
            Err(SilenceError::NotFound(_))
        ));
    }

    #[test]
    fn pending_silences_and_listing_order() {
        let now = Utc::now();
        let s = Silences::new();
        let later = s.upsert(silence("a=b", 10, 20, now), now).unwrap();
        let active = s.upsert(silence("a=b", 0, 30, now), now).unwrap();
        let l = Labels::from_pairs([("a", "b")]);
        assert_eq!(s.muting(&l, now), std::slice::from_ref(&active));
        let order: Vec<String> = s.list(now).into_iter().map(|x| x.id).collect();
        assert_eq!(order, [active, later.clone()]);
        s.expire(&later, now).unwrap();
        assert_eq!(s.get(&later).unwrap().state(now), SilenceState::Expired);
    }

    #[test]
    fn silences_are_written_through_and_restored() {
        let now = Utc::now();
        let db = StateDb::memory();
        let first = Silences::new();
        let early = first.upsert(silence("a=b", 0, 60, now), now).unwrap();
        assert_eq!(first.persist_to(db.clone(), now).unwrap(), 0);
        let later = first.upsert(silence("c=d", 10, 60, now), now).unwrap();
        first.expire(&later, now).unwrap();
        let mut old = silence("e=f", -10_000, -9_000, now);
        old.id = "old".into();
        let mut b = Batch::new();
        crate::notify::durable::records::put_silence(&mut b, &old).unwrap();
        db.commit(b).unwrap();

        // Restored four days later: the long-expired one is dropped, here and on disk.
        let later_on = now + chrono::Duration::days(4);
        let second = Silences::new();
        assert_eq!(second.persist_to(db.clone(), later_on).unwrap(), 2);
        assert!(second.get("old").is_none());
        assert_eq!(db.count(crate::persist::Table::Silences).unwrap(), 2);
        assert_eq!(
            second.get(&later).unwrap().state(now),
            SilenceState::Expired
        );
        let l = Labels::from_pairs([("a", "b")]);
        assert_eq!(second.muting(&l, now), std::slice::from_ref(&early));

        // Retention passes: gc removes them from the database too.
        second.gc(now + chrono::Duration::days(10));
        assert_eq!(db.count(crate::persist::Table::Silences).unwrap(), 0);
    }

    #[test]
    fn limits_as_alertmanager() {
        let now = Utc::now();
        let s = Silences::with_limits(SilenceLimits {
            max_silences: 2,
            max_silence_size_bytes: 600,
            retention: chrono::Duration::hours(1),
        });
        let a = s.upsert(silence("a=b", 0, 60, now), now).unwrap();
        let b = s.upsert(silence("c=d", 0, 60, now), now).unwrap();
        // Expired silences count too.
        s.expire(&b, now).unwrap();
        assert_eq!(
            s.upsert(silence("e=f", 0, 60, now), now),
            Err(SilenceError::TooMany { count: 2, limit: 2 })
        );
        assert_eq!(
            SilenceError::TooMany { count: 2, limit: 2 }.to_string(),
            "exceeded maximum number of silences: 2 (limit: 2)"
        );
        // Updating one in place is not a new silence.
        let mut update = silence("a=b", 0, 90, now);
        update.id = a.clone();
        assert_eq!(s.upsert(update, now).unwrap(), a);
        // Once the expired one is past its retention it no longer counts.
        let later = now + chrono::Duration::minutes(61);
        let c = s.upsert(silence("e=f", 0, 60, later), later).unwrap();
        assert!(s.get(&b).is_none());
        assert!(s.get(&c).is_some());

        let mut big = silence("a=b", 0, 60, later);
        big.comment = "x".repeat(1000);
        let err = s.upsert(big, later).unwrap_err();
        assert!(
            matches!(err, SilenceError::TooLarge { size, limit: 600 } if size > 1000),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .starts_with("silence exceeded maximum size: "));
    }

    #[test]
    fn no_limit_when_zero() {
        let now = Utc::now();
        let s = Silences::with_limits(SilenceLimits {
            max_silences: 0,
            max_silence_size_bytes: 0,
            ..SilenceLimits::default()
        });
        for _ in 0..3 {
            let mut sil = silence("a=b", 0, 60, now);
            sil.comment = "x".repeat(100_000);
            s.upsert(sil, now).unwrap();
        }
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_second_persist_to_the_same_database_reads_nothing() {
        let now = Utc::now();
        let db = StateDb::memory();
        let s = Silences::new();
        s.persist_to(db.clone(), now).unwrap();
        let id = s.upsert(silence("a=b", 0, 60, now), now).unwrap();
        // A record only in the database (not through this store) is not picked up again:
        // the store in memory is the truth once attached.
        let mut other = silence("c=d", 0, 60, now);
        other.id = "other".into();
        let mut b = Batch::new();
        crate::notify::durable::records::put_silence(&mut b, &other).unwrap();
        db.commit(b).unwrap();
        assert_eq!(s.persist_to(db.clone(), now).unwrap(), 1);
        assert!(s.get("other").is_none());
        assert!(s.get(&id).is_some());
        // A fresh store (a restart) loads both.
        let fresh = Silences::new();
        assert_eq!(fresh.persist_to(db, now).unwrap(), 2);
    }

    #[test]
    fn short_retention_purges_memory_and_database() {
        let now = Utc::now();
        let db = StateDb::memory();
        let s = Silences::with_limits(SilenceLimits {
            retention: chrono::Duration::seconds(2),
            ..SilenceLimits::default()
        });
        s.persist_to(db.clone(), now).unwrap();
        let id = s.upsert(silence("a=b", 0, 60, now), now).unwrap();
        s.expire(&id, now).unwrap();
        assert_eq!(s.gc(now + chrono::Duration::seconds(1)), 0);
        assert_eq!(s.gc(now + chrono::Duration::seconds(2)), 1);
        assert!(s.is_empty());
        assert_eq!(db.count(crate::persist::Table::Silences).unwrap(), 0);
    }
}
