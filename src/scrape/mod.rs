//! Scraping: one task per target pulls `/metrics`, parses it with our
//! streaming [`exposition`] parser and commits each scrape to the buffer as
//! a whole. [`exposition`] is the streaming, zero-copy parser for the
//! Prometheus text format (0.0.4 / 1.0.0) and OpenMetrics 1.0 text.

mod cache;
mod client;
mod from_config;
mod ingest;
mod manager;
mod metrics;
mod scrape_loop;
mod series_limit;
mod target;

pub mod exposition;
mod landed;

pub use cache::SeriesCache;
pub use from_config::{targets_from_config, TargetError};
pub use ingest::{ingest, IngestError, IngestOutcome, Metadata, MetricMeta};
pub use landed::{landed_channel, LandedSender, ScrapeLanded};
pub use manager::{ScrapeManager, TargetView};
pub use series_limit::{Refusals, SeriesLimit};
pub use target::{Health, ScrapeLimits, TargetSpec, TargetStatus};
