//! The "a scrape landed" signal: published by every scrape loop once a
//! scrape's samples (or its failure's `up 0`) are in the buffer, so rule
//! groups with `evaluation: on_scrape` can evaluate at once.
//!
//! Overflow policy: a `tokio::sync::broadcast` channel of fixed capacity;
//! a subscriber that falls behind is told it lagged (and should treat that
//! as "something landed"). Scraping never waits for subscribers.

use std::sync::Arc;
use tokio::sync::broadcast;

/// Capacity of the landed-scrape channel (a few intervals of 1,000 targets).
pub const LANDED_CHANNEL_CAPACITY: usize = 4096;

/// One completed scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeLanded {
    /// The target's `job` label.
    pub job: Arc<str>,
    /// The target's `instance` label.
    pub instance: Arc<str>,
    /// The scrape's timestamp (its samples' time), ms.
    pub at_ms: i64,
    /// Whether the scrape succeeded.
    pub up: bool,
}

/// The sending side shared by the scrape loops.
pub type LandedSender = broadcast::Sender<ScrapeLanded>;

/// A new channel with `LANDED_CHANNEL_CAPACITY`.
pub fn landed_channel() -> LandedSender {
    broadcast::channel(LANDED_CHANNEL_CAPACITY).0
}
