//! The state database: one [redb] file in the state directory.
//!
//! redb is an embedded, pure-Rust key-value store with ACID transactions:
//! every commit is copy-on-write and checksummed, so a `kill -9` or power
//! loss leaves either the previous or the new committed state, never a torn
//! one. Records are JSON values (the record types in this module's siblings
//! are the only on-disk format; domain types never serialize themselves).
//! The file carries a format version in the `meta` table.
//!
//! When the directory cannot be used the caller falls back to
//! [`StateDb::memory`]: the same API over an in-memory backend, so alerts keep
//! flowing, while `watchfire_storage_persistent 0` and the error log say that
//! nothing survives a restart.

use super::metrics::PersistMetrics;
use parking_lot::RwLock;
use redb::{Database, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// On-disk format version written to and checked in the `meta` table.
pub const FORMAT_VERSION: &str = "1";

/// File name of the database inside the state directory.
pub const DB_FILE: &str = "state.redb";

/// A table of the state database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Table {
    /// Alert states per rule (key: group key, rule index, fingerprint).
    Alerts,
    /// Alert transition history (key: zero-padded time and sequence).
    History,
    /// Silences (key: silence id).
    Silences,
    /// Notifications waiting for delivery (key: queue and sequence).
    Queue,
    /// Notifications that ran out of attempts.
    DeadLetters,
    /// Per aggregation group notification state (last sent, per receiver).
    Dispatch,
    /// Format version and similar facts about the file itself.
    Meta,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 7] = [
        Table::Alerts,
        Table::History,
        Table::Silences,
        Table::Queue,
        Table::DeadLetters,
        Table::Dispatch,
        Table::Meta,
    ];

    /// The table's name in the file and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Table::Alerts => "alerts",
            Table::History => "history",
            Table::Silences => "silences",
            Table::Queue => "queue",
            Table::DeadLetters => "dead_letters",
            Table::Dispatch => "dispatch",
            Table::Meta => "meta",
        }
    }

    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// Errors of the state database; each names the directory or table involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The state directory cannot be created or written.
    #[error("state directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The database file cannot be opened.
    #[error("state database {path}: {reason}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A transaction failed.
    #[error("state table {table}: {reason}")]
    Storage {
        /// The table being read or written.
        table: &'static str,
        /// What failed.
        reason: String,
    },
    /// A record could not be encoded.
    #[error("state table {table}, key {key}: encoding: {reason}")]
    Encode {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
        /// What failed.
        reason: String,
    },
}

fn storage(table: Table, e: impl std::fmt::Display) -> PersistError {
    PersistError::Storage {
        table: table.name(),
        reason: e.to_string(),
    }
}

enum Op {
    Put(Table, String, Vec<u8>),
    Delete(Table, String),
    Clear(Table),
}

/// Changes committed together, atomically, by [`StateDb::commit`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("ops", &self.ops.len())
            .finish()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Writes `value` as JSON under `key`.
    pub fn put_json<T: Serialize>(
        &mut self,
        table: Table,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), PersistError> {
        let key = key.into();
        let bytes = serde_json::to_vec(value).map_err(|e| PersistError::Encode {
            table: table.name(),
            key: key.clone(),
            reason: e.to_string(),
        })?;
        self.ops.push(Op::Put(table, key, bytes));
        Ok(())
    }

    /// Removes `key` (no effect when absent).
    pub fn delete(&mut self, table: Table, key: impl Into<String>) {
        self.ops.push(Op::Delete(table, key.into()));
    }

    /// Removes every record of `table` (later operations in the batch apply after).
    pub fn clear(&mut self, table: Table) {
        self.ops.push(Op::Clear(table));
    }
}

/// A record that could not be decoded; reported, then skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The table.
    pub table: &'static str,
    /// The record's key.
    pub key: String,
    /// Why it was rejected.
    pub reason: String,
}

/// Decoded records in key order, and the records that did not decode.
pub type Loaded<T> = (Vec<(String, T)>, Vec<BadRecord>);

/// The state database (share it as `Arc<StateDb>`).
pub struct StateDb {
    db: RwLock<Database>,
    dir: Option<PathBuf>,
    metrics: PersistMetrics,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").field("dir", &self.dir).finish()
    }
}

impl StateDb {
    /// Opens (creating if needed) the state database in `dir`. Fails with a
    /// clear error when the directory cannot be created or written, when
    /// another process holds the database, or when the file was written by
    /// an incompatible version.
    pub fn open(dir: &Path) -> Result<Arc<Self>, PersistError> {
        let dir_err = |reason: String| PersistError::Directory {
            path: dir.to_path_buf(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| dir_err(format!("cannot create: {e}")))?;
        probe_writable(dir).map_err(|e| dir_err(format!("not writable: {e}")))?;
        let path = dir.join(DB_FILE);
        let open_err = |reason: String| PersistError::Open {
            path: path.clone(),
            reason,
        };
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                open_err("already in use by another process".to_string())
            }
            e => open_err(e.to_string()),
        })?;
        let this = Self {
            db: RwLock::new(db),
            dir: Some(dir.to_path_buf()),
            metrics: PersistMetrics::new(true),
        };
        this.init_tables()?;
        match this.meta("format")? {
            None => this.set_meta("format", FORMAT_VERSION)?,
            Some(v) if v == FORMAT_VERSION => {}
            Some(v) => {
                return Err(open_err(format!(
                    "format version {v} is not supported (this version reads {FORMAT_VERSION})"
                )))
            }
        }
        Ok(Arc::new(this))
    }

    /// A database that lives in memory only (nothing survives a restart).
    pub fn memory() -> Arc<Self> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory redb database always opens");
        let this = Self {
            db: RwLock::new(db),
            dir: None,
            metrics: PersistMetrics::new(false),
        };
        if let Err(e) = this.init_tables() {
            tracing::error!(error = %e, "initialising the in-memory state database");
        }
        Arc::new(this)
    }

    /// Whether records survive a restart (false for [`StateDb::memory`]).
    pub fn is_persistent(&self) -> bool {
        self.dir.is_some()
    }

    /// The state directory, when persistent.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The database's own metrics.
    pub fn metrics(&self) -> &PersistMetrics {
        &self.metrics
    }

    fn init_tables(&self) -> Result<(), PersistError> {
        let db = self.db.read();
        let txn = db.begin_write().map_err(|e| storage(Table::Meta, e))?;
        for t in Table::ALL {
            txn.open_table(t.def()).map_err(|e| storage(t, e))?;
        }
        txn.commit().map_err(|e| storage(Table::Meta, e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>, PersistError> {
        let db = self.db.read();
        let txn = db.begin_read().map_err(|e| storage(Table::Meta, e))?;
        let table = txn
            .open_table(Table::Meta.def())
            .map_err(|e| storage(Table::Meta, e))?;
        let v = table.get(key).map_err(|e| storage(Table::Meta, e))?;
        Ok(v.map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), PersistError> {
        let mut b = Batch::new();
        b.ops.push(Op::Put(
            Table::Meta,
            key.to_string(),
            value.as_bytes().to_vec(),
        ));
        self.commit(b)
    }

    /// Applies `batch` in one durable transaction (all or nothing). Failures
    /// are counted in `watchfire_storage_write_failures_total`; callers log
    /// them and carry on in memory.
    pub fn commit(&self, batch: Batch) -> Result<(), PersistError> {
        if batch.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.commit_inner(batch);
        self.metrics
            .observe_write(started.elapsed(), result.is_ok());
        result
    }

    fn commit_inner(&self, batch: Batch) -> Result<(), PersistError> {
        let db = self.db.read();
        let txn = db.begin_write().map_err(|e| storage(Table::Meta, e))?;
        for op in batch.ops {
            match op {
                Op::Put(t, k, v) => {
                    let mut table = txn.open_table(t.def()).map_err(|e| storage(t, e))?;
                    table
                        .insert(k.as_str(), v.as_slice())
                        .map_err(|e| storage(t, e))?;
                }
                Op::Delete(t, k) => {
                    let mut table = txn.open_table(t.def()).map_err(|e| storage(t, e))?;
                    table.remove(k.as_str()).map_err(|e| storage(t, e))?;
                }
                Op::Clear(t) => {
                    let mut table = txn.open_table(t.def()).map_err(|e| storage(t, e))?;
                    table.retain(|_, _| false).map_err(|e| storage(t, e))?;
                }
            }
        }
        txn.commit().map_err(|e| storage(Table::Meta, e))
    }

    /// Every record of `table` in key order, decoded from JSON. Records that
    /// do not decode are skipped and returned separately so the caller can
    /// report them; they never stop a restore.
    pub fn load_json<T: DeserializeOwned>(&self, table: Table) -> Result<Loaded<T>, PersistError> {
        self.load_range_json(table, None)
    }

    /// Like [`StateDb::load_json`], limited to keys starting with `prefix`.
    pub fn load_prefix_json<T: DeserializeOwned>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Loaded<T>, PersistError> {
        self.load_range_json(table, Some(prefix))
    }

    /// The last `n` records of `table` in key order (the newest, for
    /// time-ordered keys), decoded like [`StateDb::load_json`]; only those
    /// are read.
    pub fn load_last_json<T: DeserializeOwned>(
        &self,
        table: Table,
        n: usize,
    ) -> Result<Loaded<T>, PersistError> {
        let db = self.db.read();
        let txn = db.begin_read().map_err(|e| storage(table, e))?;
        let t = txn.open_table(table.def()).map_err(|e| storage(table, e))?;
        let iter = t.range::<&str>(..).map_err(|e| storage(table, e))?;
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for entry in iter.rev().take(n) {
            let (k, v) = entry.map_err(|e| storage(table, e))?;
            let key = k.value().to_string();
            match serde_json::from_slice::<T>(v.value()) {
                Ok(rec) => good.push((key, rec)),
                Err(e) => bad.push(BadRecord {
                    table: table.name(),
                    key,
                    reason: e.to_string(),
                }),
            }
        }
        good.reverse();
        bad.reverse();
        Ok((good, bad))
    }

    fn load_range_json<T: DeserializeOwned>(
        &self,
        table: Table,
        prefix: Option<&str>,
    ) -> Result<Loaded<T>, PersistError> {
        let db = self.db.read();
        let txn = db.begin_read().map_err(|e| storage(table, e))?;
        let t = txn.open_table(table.def()).map_err(|e| storage(table, e))?;
        let iter = match prefix {
            Some(p) => t.range(p..).map_err(|e| storage(table, e))?,
            None => t.range::<&str>(..).map_err(|e| storage(table, e))?,
        };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for entry in iter {
            let (k, v) = entry.map_err(|e| storage(table, e))?;
            let key = k.value();
            if let Some(p) = prefix {
                if !key.starts_with(p) {
                    break;
                }
            }
            match serde_json::from_slice::<T>(v.value()) {
                Ok(rec) => good.push((key.to_string(), rec)),
                Err(e) => bad.push(BadRecord {
                    table: table.name(),
                    key: key.to_string(),
                    reason: e.to_string(),
                }),
            }
        }
        Ok((good, bad))
    }

    /// Number of records in `table`.
    pub fn count(&self, table: Table) -> Result<u64, PersistError> {
        let db = self.db.read();
        let txn = db.begin_read().map_err(|e| storage(table, e))?;
        let t = txn.open_table(table.def()).map_err(|e| storage(table, e))?;
        t.len().map_err(|e| storage(table, e))
    }

    /// Removes every record of `table` whose key sorts before `bound`
    /// (time-ordered keys make this a retention cut); returns how many.
    pub fn delete_before(&self, table: Table, bound: &str) -> Result<u64, PersistError> {
        let started = Instant::now();
        let result = (|| {
            let db = self.db.read();
            let txn = db.begin_write().map_err(|e| storage(table, e))?;
            let mut removed = 0u64;
            {
                let mut t = txn.open_table(table.def()).map_err(|e| storage(table, e))?;
                t.retain_in::<&str, _>(..bound, |_, _| {
                    removed += 1;
                    false
                })
                .map_err(|e| storage(table, e))?;
            }
            txn.commit().map_err(|e| storage(table, e))?;
            Ok(removed)
        })();
        self.metrics
            .observe_write(started.elapsed(), result.is_ok());
        result
    }

    /// Compacts the file, returning freed pages to the file system. Waits for
    /// running transactions; call it rarely (after a retention cut).
    pub fn compact(&self) -> Result<bool, PersistError> {
        let mut db = self.db.write();
        db.compact().map_err(|e| PersistError::Storage {
            table: "*",
            reason: format!("compaction: {e}"),
        })
    }
}

/// Creates, syncs and removes a probe file so an unwritable directory (read
/// only, full, wrong owner) is reported at start rather than at the first write.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let probe = dir.join(".write-probe");
    let mut f = std::fs::File::create(&probe)?;
    f.write_all(b"watchfire")?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Rec {
        n: u32,
    }

    #[test]
    fn records_survive_reopen_and_batches_are_atomic() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = StateDb::open(dir.path()).unwrap();
            assert!(db.is_persistent());
            let mut b = Batch::new();
            b.put_json(Table::Alerts, "a", &Rec { n: 1 }).unwrap();
            b.put_json(Table::Alerts, "b", &Rec { n: 2 }).unwrap();
            b.delete(Table::Alerts, "a");
            db.commit(b).unwrap();
        }
        let db = StateDb::open(dir.path()).unwrap();
        let (good, bad) = db.load_json::<Rec>(Table::Alerts).unwrap();
        assert_eq!(good, vec![("b".to_string(), Rec { n: 2 })]);
        assert!(bad.is_empty());
    }

    #[test]
    fn undecodable_records_are_reported_not_fatal() {
        let db = StateDb::memory();
        let mut b = Batch::new();
        b.put_json(Table::Silences, "x", &"not a record").unwrap();
        b.put_json(Table::Silences, "y", &Rec { n: 7 }).unwrap();
        db.commit(b).unwrap();
        let (good, bad) = db.load_json::<Rec>(Table::Silences).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].key, "x");
        assert_eq!(bad[0].table, "silences");
    }

    #[test]
    fn prefix_loads_and_retention_cuts() {
        let db = StateDb::memory();
        let mut b = Batch::new();
        for k in ["g1/0001", "g1/0002", "g2/0001", "h"] {
            b.put_json(Table::History, k, &Rec { n: 0 }).unwrap();
        }
        db.commit(b).unwrap();
        let (g1, _) = db.load_prefix_json::<Rec>(Table::History, "g1/").unwrap();
        assert_eq!(g1.len(), 2);
        let (last, _) = db.load_last_json::<Rec>(Table::History, 2).unwrap();
        let keys: Vec<&str> = last.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["g2/0001", "h"]);
        assert_eq!(db.delete_before(Table::History, "g2").unwrap(), 2);
        assert_eq!(db.count(Table::History).unwrap(), 2);
        let mut b = Batch::new();
        b.clear(Table::History);
        db.commit(b).unwrap();
        assert_eq!(db.count(Table::History).unwrap(), 0);
        db.compact().unwrap();
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = StateDb::open(&file.join("sub")).unwrap_err().to_string();
        assert!(err.starts_with("state directory"), "{err}");
        assert!(err.contains("plain-file"), "{err}");
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateDb::open(dir.path()).unwrap();
        let err = StateDb::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("already in use"), "{err}");
    }
}
