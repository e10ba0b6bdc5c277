//! Scrape health in watchfire's own `/metrics`: counts, failures by reason,
//! durations and samples per target.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of per-target metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TargetLabels {
    /// Job name.
    pub job: String,
    /// Instance.
    pub instance: String,
}

/// Labels of scrape failures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct FailureLabels {
    /// Job name.
    pub job: String,
    /// Instance.
    pub instance: String,
    /// Short reason: `http`, `status`, `timeout`, `body_size_limit`, `sample_limit`, `label_limit`, `parse`, `target_limit`.
    pub reason: String,
}

/// Labels of `watchfire_buffer_series_rejected_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RejectedLabels {
    /// The configuration key of the limit: `series_limit` (per target) or `max_series` (buffer).
    pub limit: String,
}

/// Labels of per-job metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct JobLabels {
    /// Job name.
    pub job: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// The scrape metric families.
#[derive(Debug, Clone)]
pub struct ScrapeMetrics {
    /// Scrapes attempted.
    pub scrapes: Family<TargetLabels, Counter>,
    /// Scrapes failed, by reason.
    pub failures: Family<FailureLabels, Counter>,
    /// Samples appended to the buffer.
    pub samples_appended: Family<TargetLabels, Counter>,
    /// Samples refused by the buffer (out of order, duplicate timestamp).
    pub samples_rejected: Family<TargetLabels, Counter>,
    /// Whether the last scrape succeeded.
    pub up: Family<TargetLabels, Gauge>,
    /// Scrape durations by job.
    pub duration: Family<JobLabels, Histogram, fn() -> Histogram>,
    /// New series a series limit refused, by limit.
    pub series_rejected: Family<RejectedLabels, Counter>,
}

impl ScrapeMetrics {
    /// Creates the families and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            scrapes: Family::default(),
            failures: Family::default(),
            samples_appended: Family::default(),
            samples_rejected: Family::default(),
            up: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            series_rejected: Family::default(),
        };
        registry.register(
            "watchfire_scrapes",
            "Scrapes attempted, by target.",
            m.scrapes.clone(),
        );
        registry.register(
            "watchfire_scrape_failures",
            "Scrapes that failed, by target and reason.",
            m.failures.clone(),
        );
        registry.register(
            "watchfire_scrape_samples_appended",
            "Samples appended to the buffer, by target.",
            m.samples_appended.clone(),
        );
        registry.register(
            "watchfire_scrape_samples_rejected",
            "Samples the buffer refused (out of order or duplicate timestamp), by target.",
            m.samples_rejected.clone(),
        );
        registry.register(
            "watchfire_target_up",
            "1 if the target's last scrape succeeded, 0 otherwise.",
            m.up.clone(),
        );
        registry.register(
            "watchfire_buffer_series_rejected",
            "New scraped series the buffer refused, by limit: a target's series_limit or \
             storage.max_series.",
            m.series_rejected.clone(),
        );
        registry.register(
            "watchfire_scrape_duration_seconds",
            "Scrape durations, by job.",
            m.duration.clone(),
        );
        m
    }
}
