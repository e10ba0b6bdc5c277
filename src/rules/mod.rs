//! The rule engine: rule files, the alert state machine, group evaluation
//! and scheduling, with the warning/critical threshold extension.
//!
//! - [`file`]: the rule file model, loader and validation (Prometheus' `rulefmt`).
//! - [`threshold`]: warning/critical levels, direction, hysteresis, overrides.
//!
//! **Invariant:** the alert state machine and group evaluation take the
//! evaluation time as a parameter; only the manager reads the clock.

pub mod alert;
pub mod api_json;
pub mod check;
mod duration;
pub mod file;
pub mod group;
pub mod history;
pub mod manager;
pub mod metrics;
mod raw;
pub mod selector;
#[cfg(test)]
mod testutil;
pub mod threshold;
mod tmpl;
pub mod unittest;

pub use duration::{format_duration, parse_duration};
pub use file::{
    load_rule_file, parse_rule_file, GroupSpec, LoadOptions, NameValidation, RuleFile,
    RuleFileError, RuleKind, RuleSpec,
};
pub use raw::Pos;
pub use threshold::{Crossing, Direction, Levels, Severity, Thresholds};
