//! Durable state: the state directory (`--storage.path`).
//!
//! Only this module knows the on-disk format. [`db`] is the crash-safe
//! key-value database (redb) the other stages write their records to; the
//! record types that map domain state to that format live beside it, one
//! file per kind of state. [`buffer`] is the one exception: the scraped
//! samples are snapshotted to their own binary file at shutdown.

pub mod alerts;
pub mod buffer;
pub mod db;
pub mod dispatch;
pub mod history;
pub mod metrics;
pub mod notification;
pub mod posted;
pub mod queue;
pub mod silences;

pub use alerts::{AlertKey, AlertRecord, GroupSavedRecord, InvalidRecord};
pub use db::{BadRecord, Batch, Loaded, PersistError, StateDb, Table, FORMAT_VERSION};
pub use history::HistoryRecord;
pub use metrics::PersistMetrics;
