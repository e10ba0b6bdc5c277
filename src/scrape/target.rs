//! A scrape target: what to scrape and how (built from the configuration),
//! and its health as shown by `/api/v1/targets`.

use super::exposition::Format;
use crate::config::ScrapeProtocol;
use crate::model::relabel::RelabelConfig;
use crate::model::Labels;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Limits applied to one scrape; zero means "no limit".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrapeLimits {
    /// Most samples one scrape may return.
    pub sample_limit: usize,
    /// Most bytes of (uncompressed) body.
    pub body_size_limit: usize,
    /// Most labels one series may have.
    pub label_limit: usize,
    /// Longest label name.
    pub label_name_length_limit: usize,
    /// Longest label value.
    pub label_value_length_limit: usize,
    /// Most series of this target the buffer holds at once (VictoriaMetrics'
    /// `series_limit`); new series beyond it are dropped, the scrape is kept.
    pub series_limit: usize,
}

/// What a scrape asks for and how it reads the answer (`scrape_protocols`,
/// `fallback_scrape_protocol`, `enable_compression`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// The `Accept` header, as Prometheus builds it from `scrape_protocols`.
    pub accept: Arc<str>,
    /// Ask for gzip (`Accept-Encoding: gzip`) rather than `identity`.
    pub compression: bool,
    /// The format a body is read as when its `Content-Type` is missing, unparseable or
    /// unknown; without one such a scrape fails, as in Prometheus 3.
    pub fallback: Option<Format>,
}

impl Negotiation {
    /// The negotiation of a job's settings.
    pub fn new(
        protocols: &[ScrapeProtocol],
        compression: bool,
        fallback: Option<ScrapeProtocol>,
    ) -> Self {
        let format = |p: ScrapeProtocol| {
            if p.is_openmetrics() {
                Format::OpenMetrics
            } else {
                Format::PrometheusText
            }
        };
        Negotiation {
            accept: Arc::from(super::client::accept_header(protocols)),
            compression,
            fallback: fallback.map(format),
        }
    }
}

impl Default for Negotiation {
    /// Prometheus' defaults: every text format, OpenMetrics first; gzip; no fallback.
    fn default() -> Self {
        Negotiation::new(&ScrapeProtocol::DEFAULTS, true, None)
    }
}

/// Everything the scrape loop needs to know about one target.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The job (scrape pool) name.
    pub job: String,
    /// Full URL scraped, with scheme, path and params.
    pub url: String,
    /// Target labels attached to every series: `job`, `instance` and static labels.
    pub labels: Labels,
    /// Time between scrapes.
    pub interval: Duration,
    /// Budget of one scrape.
    pub timeout: Duration,
    /// Keep scraped labels that clash with target labels.
    pub honor_labels: bool,
    /// Keep timestamps given in the exposition.
    pub honor_timestamps: bool,
    /// Write staleness markers for series with explicit timestamps too
    /// (`track_timestamps_staleness`).
    pub track_timestamps_staleness: bool,
    /// Formats asked for, compression, fallback format.
    pub negotiation: Negotiation,
    /// Set when the job is over its `target_limit`: the target is not scraped and
    /// each scrape reports this error, as in Prometheus.
    pub forced_error: Option<Arc<str>>,
    /// Limits of one scrape.
    pub limits: ScrapeLimits,
    /// Value of the `Authorization` header, if any (a secret: never logged).
    pub authorization: Option<String>,
    /// The job's `metric_relabel_configs`, applied to each new series.
    pub metric_relabel: Arc<[RelabelConfig]>,
}

impl TargetSpec {
    /// The `instance` label.
    pub fn instance(&self) -> &str {
        self.labels.get("instance").unwrap_or("")
    }

    /// A stable key identifying the target across reloads.
    pub fn key(&self) -> String {
        format!("{}\u{0}{}\u{0}{}", self.job, self.url, self.labels)
    }

    /// The target's stable offset into its interval, so that targets spread
    /// over the interval instead of all scraping at once.
    pub fn offset(&self) -> Duration {
        let h = self.labels.fingerprint() ^ fnv(self.url.as_bytes());
        let interval_ns = self.interval.as_nanos().max(1) as u64;
        Duration::from_nanos(h % interval_ns)
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Health of a target, as Prometheus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// Last scrape succeeded.
    Up,
    /// Last scrape failed.
    Down,
}

impl Health {
    /// `"up"`, `"down"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The last scrape's outcome.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Health after the last scrape.
    pub health: Health,
    /// Why the last scrape failed (empty when it succeeded).
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
    /// Samples in the last successful scrape.
    pub last_samples: usize,
}

impl Default for TargetStatus {
    fn default() -> Self {
        Self {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
            last_samples: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> TargetSpec {
        TargetSpec {
            job: "j".into(),
            url: url.into(),
            labels: Labels::from_pairs([("job", "j"), ("instance", url)]),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            negotiation: Negotiation::default(),
            forced_error: None,
            limits: ScrapeLimits::default(),
            authorization: None,
            metric_relabel: std::sync::Arc::from([]),
        }
    }

    #[test]
    fn offsets_are_stable_spread_and_inside_the_interval() {
        let a = spec("http://a:1/metrics");
        let b = spec("http://b:1/metrics");
        assert_eq!(a.offset(), spec("http://a:1/metrics").offset());
        assert_ne!(a.offset(), b.offset());
        assert!(a.offset() < a.interval && b.offset() < b.interval);
    }
}
