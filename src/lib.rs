//! watchfire: a Prometheus-compatible alert rule engine in one binary.
//!
//! # Layout
//! Modules follow the pipeline: scrape → buffer → evaluate → alert state → notify → serve.
//! See `ARCHITECTURE.md` for the map and the invariants.
//!
//! - [`gostd`]: text exactly as Go's standard library writes it (floats, JSON, quoting).
//! - [`model`]: label sets, matchers, samples — shared by every stage.
//! - [`config`]: the YAML configuration (Prometheus vocabulary), loading and validation.
//! - [`scrape`]: target scrape loops and the streaming exposition parser.
//! - [`store`]: the in-memory time-window buffer (series index, postings, samples).
//! - [`promql`]: the PromQL evaluator over the buffer.
//! - [`rules`]: rule files, alert state machine, group evaluation and scheduling.
//! - [`template`]: Go-template expansion for alert labels, annotations and notifications.
//! - [`notify`]: routing, grouping, silences and delivery of notifications.
//! - [`persist`]: the state directory: alert states, history, silences and queues across restarts.
//! - [`telemetry`]: watchfire's own metrics and logging.
//! - [`api`]: the HTTP server and its Prometheus-compatible API.
//! - [`engine`]: every stage wired together ([`Engine`]), for `watchfire run` and embedders.

pub mod api;
pub mod config;
pub mod engine;
pub mod gostd;
pub mod model;
pub mod notify;
pub mod persist;
pub mod promql;
pub mod rules;
pub mod scrape;
pub mod store;
pub mod telemetry;
pub mod template;

pub use engine::{Engine, EngineBuilder, EngineError, ReloadHandle, Settings};
