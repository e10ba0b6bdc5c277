//! The rule engine: rule files, the alert state machine, group evaluation
//! and scheduling, with the warning/critical threshold extension.
//!
//! - [`file`](mod@file): the rule file model, loader and validation (Prometheus' `rulefmt`),
//!   every error with file:line:column; [`check`] is `watchfire check rules`.
//! - [`threshold`]: warning/critical levels, direction, hysteresis, overrides.
//! - [`alert`]: the alert state machine of one rule (pure, `now` as a parameter).
//! - [`nodata`]: the `no_data:` policy (what an alert does when its data goes
//!   missing) and how missing data is told apart from recovery.
//! - [`group`]: one group evaluated at one timestamp (recording output,
//!   `ALERTS` / `ALERTS_FOR_STATE`, staleness markers).
//! - [`manager`]: loading/reloading, scheduling on tokio, the transition
//!   channel, [`history`] and [`metrics`].
//! - [`datasource`]: groups with `datasource:` — instant queries on a Prometheus-API
//!   endpoint, failures kept as rule errors, `for` state restored from the datasource.
//! - [`durable`]: alert state and history written to and restored from
//!   the state database.
//! - [`unittest`]: `watchfire test rules` (promtool's unit-test format).
//!
//! **Invariant:** the alert state machine and group evaluation take the
//! evaluation time as a parameter; only the manager reads the clock.

pub mod alert;
pub mod check;
pub mod datasource;
pub mod durable;
mod duration;
pub mod file;
pub mod group;
pub mod history;
pub mod manager;
pub mod metrics;
pub mod nodata;
pub mod on_scrape;
mod raw;
pub mod selector;
#[cfg(test)]
pub(crate) mod testutil;
pub mod threshold;
mod tmpl;
pub mod unittest;
mod validate;

pub use alert::{Alert, AlertState, AlertTransition, Transition};
pub use durable::RestoreOptions;
pub use duration::{format_duration, parse_duration};
pub use file::{
    load_rule_file, parse_rule_file, GroupSpec, LoadOptions, NameValidation, RuleFile,
    RuleFileError, RuleKind, RuleSpec,
};
pub use history::HistoryQuery;
pub use manager::{HeldAlert, Manager, ManagerOptions, RuleSettings, UpdateSummary};
pub use nodata::{NoDataPolicy, ResolveReason};
pub use raw::Pos;
pub use threshold::{Crossing, Direction, Levels, Severity, Thresholds};
