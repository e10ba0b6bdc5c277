//! Scraping: one task per target pulls `/metrics`, parses it with our
//! streaming [`exposition`] parser and commits each scrape to the buffer as
//! a whole. [`exposition`] is the streaming, zero-copy parser for the
//! Prometheus text format (0.0.4 / 1.0.0) and OpenMetrics 1.0 text.
//!
//! The parts: `target_labels.rs` (a discovered label set → the target, as Prometheus'
//! `PopulateLabels`), `discovery/` (static, file, HTTP and DNS providers of target groups; the
//! notifier finds Alertmanagers with them too),
//! `target.rs` (what to scrape, a stable per-target offset, health), `client.rs`
//! (HTTP fetch into a reused buffer, the body-size limit enforced while streaming),
//! `cache.rs` (raw series text → series or "dropped by metric relabeling", staleness
//! bookkeeping), `ingest.rs` (a body into a batch: label merging with `exported_` on clashes,
//! `metric_relabel_configs` once per new series, sample and label limits, metadata),
//! `scrape_loop.rs` (one target's loop, synthetic `up`/`scrape_*` series, errors mapped to a
//! fixed metric reason by `ScrapeError`), `manager.rs` (one pool per job; starts and stops
//! loops as the configuration or a pool's discovered targets change), `landed.rs` (the broadcast `evaluation: on_scrape` groups wait on).
//! The parser follows Prometheus' server parser and is checked against promtool's on the
//! fixtures; a sample borrows from the body and exposes its raw `name{labels}` text as the
//! cache key, so labels are decoded only on a cache miss.
//!
//! **Invariant:** a scrape's samples reach the store all or nothing; a failed scrape writes
//! staleness markers for the target's series (as Prometheus); no lock is held across a
//! scrape; a steady-state scrape allocates nothing per sample (`benches/scrape_path.rs`).

mod cache;
mod client;
pub mod discovery;
mod from_config;
mod ingest;
mod manager;
mod metrics;
mod scrape_loop;
mod series_limit;
mod target;
pub mod target_labels;

pub mod exposition;
mod landed;

pub use cache::SeriesCache;
pub use from_config::{
    build_client, http_sd_client, targets_from_config, HttpSd, PoolConfig, TargetError,
};
pub use ingest::{ingest, IngestError, IngestOutcome, Metadata, MetricMeta};
pub use landed::{landed_channel, LandedSender, ScrapeLanded};
pub use manager::{DroppedView, ScrapeManager, TargetView};
pub use series_limit::{Refusals, SeriesLimit};
pub use target::{Health, Negotiation, ScrapeLimits, TargetSpec, TargetStatus};
