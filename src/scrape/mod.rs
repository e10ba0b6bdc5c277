//! Scraping: turning a target's `/metrics` payload into samples.
//!
//! - [`exposition`]: the streaming, zero-copy parser for the Prometheus text
//!   format (0.0.4 / 1.0.0) and OpenMetrics 1.0 text.

pub mod exposition;
