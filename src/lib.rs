//! watchfire: a Prometheus-compatible alert rule engine in one binary.
//!
//! # Embedding
//! The public contract is [`Engine`] with its [`Settings`] and [`EngineBuilder`], the
//! [`config`] types, [`model`] (labels, matchers) and the [`notify::Integration`] trait with
//! the notification types it is handed. Start a whole engine with
//! `Engine::builder(settings).integration(name, my_integration).build()?.run(shutdown)`;
//! `examples/custom_receiver.rs` does it. The other modules are public only so this crate's
//! benches, fuzz targets and end-to-end tests can reach the stages one by one: they are hidden
//! from the documentation and promise no stability.
//!
//! # Layout
//! Modules follow the pipeline: scrape → buffer → evaluate → alert state → notify → serve.
//! See `ARCHITECTURE.md` for the map, the layering and the invariants.
//!
//! - [`model`]: label sets, matchers, samples — shared by every stage.
//! - [`config`]: the YAML configuration (Prometheus vocabulary), loading and validation.
//! - `gostd`: text exactly as Go's standard library writes it (floats, JSON, quoting).
//! - `scrape`: target scrape loops and the streaming exposition parser.
//! - `store`: the in-memory time-window buffer (series index, postings, samples).
//! - `promql`: the PromQL evaluator over the buffer.
//! - `rules`: rule files, alert state machine, group evaluation and scheduling.
//! - `template`: Go-template expansion for alert labels, annotations and notifications.
//! - [`notify`]: routing, grouping, silences and delivery of notifications.
//! - `remote`: Prometheus remote write: its messages, and received writes into the buffer.
//! - `persist`: the state directory: alert states, history, silences and queues across restarts.
//! - `telemetry`: watchfire's own metrics and logging.
//! - `api`: the HTTP server and its Prometheus-compatible API.
//! - `ui`: the web UI's pages and embedded assets, over the API's state.
//! - [`engine`]: every stage wired together ([`Engine`]), for `watchfire run` and embedders.

pub mod config;
pub mod engine;
pub mod model;
pub mod notify;

#[doc(hidden)]
pub mod api;
#[doc(hidden)]
pub mod gostd;
#[doc(hidden)]
pub mod persist;
#[doc(hidden)]
pub mod promql;
#[doc(hidden)]
pub mod remote;
#[doc(hidden)]
pub mod rules;
#[doc(hidden)]
pub mod scrape;
#[doc(hidden)]
pub mod store;
#[doc(hidden)]
pub mod telemetry;
#[doc(hidden)]
pub mod template;
#[doc(hidden)]
pub mod ui;

pub use engine::{Engine, EngineBuilder, EngineError, ReloadHandle, Settings};
