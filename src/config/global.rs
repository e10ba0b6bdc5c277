//! The `global` and `storage` sections.

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::scrape_protocol::{self, ScrapeProtocol};
use super::size::ByteSize;
use super::validate;
use serde::Serialize;
use std::collections::BTreeMap;

yaml_section! {
    /// `global` as written.
    pub(crate) struct RawGlobal {
        scrape_interval: PromDuration,
        scrape_timeout: PromDuration,
        evaluation_interval: PromDuration,
        external_labels: Entries<String>,
        resolve_timeout: PromDuration,
        telegram_api_url: String,
        telegram_bot_token: String,
        telegram_bot_token_file: String,
        pagerduty_url: String,
        opsgenie_api_url: String,
        opsgenie_api_key: String,
        opsgenie_api_key_file: String,
        webex_api_url: String,
        scrape_protocols: Vec<At<String>>,
        body_size_limit: ByteSize,
        sample_limit: u64,
        target_limit: u64,
        label_limit: u64,
        label_name_length_limit: u64,
        label_value_length_limit: u64,
        keep_dropped_targets: u64,
        always_scrape_classic_histograms: bool,
    }
}

yaml_section! {
    /// `storage` as written.
    pub(crate) struct RawStorage {
        retention: PromDuration,
        max_series: u64,
    }
}

/// Defaults for every job, and the rule evaluation interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: PromDuration,
    /// Default scrape timeout (10s, capped at `scrape_interval`).
    pub scrape_timeout: PromDuration,
    /// Default rule group evaluation interval (1m).
    pub evaluation_interval: PromDuration,
    /// Labels added to alerts and to series sent to external systems.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub external_labels: BTreeMap<String, String>,
    /// Alertmanager's `resolve_timeout` (5m): a posted alert without `endsAt` resolves this
    /// long after it was last received.
    pub resolve_timeout: PromDuration,
    /// Alertmanager's `telegram_api_url`, `telegram_bot_token` and `telegram_bot_token_file`:
    /// the defaults of `telegram_configs`.
    #[serde(skip)]
    pub telegram: super::receiver_chat::TelegramGlobals,
    /// Alertmanager's `pagerduty_url`, `opsgenie_api_*` and `webex_api_url`.
    #[serde(skip)]
    pub incident: super::receiver_incident::IncidentGlobals,
    /// Default `scrape_protocols` of every job (OpenMetrics 1.0.0, OpenMetrics 0.0.1,
    /// Prometheus text 1.0.0, Prometheus text 0.0.4).
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Default `body_size_limit` of every job (0: none).
    pub body_size_limit: ByteSize,
    /// Default `sample_limit` of every job (0: none).
    pub sample_limit: u64,
    /// Default `target_limit` of every job (0: none).
    pub target_limit: u64,
    /// Default `label_limit` of every job (0: none).
    pub label_limit: u64,
    /// Default `label_name_length_limit` of every job (0: none).
    pub label_name_length_limit: u64,
    /// Default `label_value_length_limit` of every job (0: none).
    pub label_value_length_limit: u64,
    /// Default `keep_dropped_targets` of every job (0: keep all).
    pub keep_dropped_targets: u64,
    /// Default `always_scrape_classic_histograms` (false); histograms are always classic here.
    pub always_scrape_classic_histograms: bool,
}

impl GlobalConfig {
    /// Prometheus' default scrape interval.
    pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration::from_secs(60);
    /// Prometheus' default scrape timeout.
    pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration::from_secs(10);
    /// Prometheus' default evaluation interval.
    pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration::from_secs(60);
    /// Alertmanager's default `resolve_timeout`.
    pub const DEFAULT_RESOLVE_TIMEOUT: PromDuration = PromDuration::from_secs(5 * 60);
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Self::DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: Self::DEFAULT_SCRAPE_TIMEOUT,
            evaluation_interval: Self::DEFAULT_EVALUATION_INTERVAL,
            external_labels: BTreeMap::new(),
            resolve_timeout: Self::DEFAULT_RESOLVE_TIMEOUT,
            telegram: Default::default(),
            incident: Default::default(),
            scrape_protocols: ScrapeProtocol::DEFAULTS.to_vec(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            always_scrape_classic_histograms: false,
        }
    }
}

/// watchfire's in-memory buffer (not a Prometheus section: Prometheus sets retention by flag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StorageConfig {
    /// How much history the buffer keeps (15m). Rules cannot look further back than this.
    pub retention: PromDuration,
    /// Most series the buffer holds (2,000,000; 0 means no limit): new scraped series beyond it
    /// are dropped and counted, existing ones go on.
    pub max_series: u64,
}

impl StorageConfig {
    /// The default time window.
    pub const DEFAULT_RETENTION: PromDuration = PromDuration::from_secs(15 * 60);
    /// Default of `storage.max_series`: 2M series. At the measured ~700 B per series with
    /// 15 minutes of 15 s samples (`cargo bench --bench store`), and ~1 KB for churning
    /// series whose label values share nothing, that is 1.4–2 GB of a 24 GiB, 2-core box:
    /// room for queries, the snapshot and rule evaluation.
    pub const DEFAULT_MAX_SERIES: u64 = 2_000_000;
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            retention: Self::DEFAULT_RETENTION,
            max_series: Self::DEFAULT_MAX_SERIES,
        }
    }
}

/// Applies defaults to `global` and checks it, as Prometheus' `GlobalConfig` does.
pub(crate) fn resolve_global(raw: Option<At<RawGlobal>>, cx: &mut Cx<'_>) -> GlobalConfig {
    let raw = raw.map(|r| r.value).unwrap_or_default();
    let (scrape_interval, scrape_timeout) = validate::interval_and_timeout(
        raw.scrape_interval,
        raw.scrape_timeout,
        (
            GlobalConfig::DEFAULT_SCRAPE_INTERVAL,
            GlobalConfig::DEFAULT_SCRAPE_TIMEOUT,
        ),
        &Scope::Global,
        cx,
    );
    let evaluation_interval = raw
        .evaluation_interval
        .map(|e| e.value)
        .filter(|e| !e.is_zero())
        .unwrap_or(GlobalConfig::DEFAULT_EVALUATION_INTERVAL);
    let external_labels = validate::labels(
        raw.external_labels.map(|l| l.value).unwrap_or_default(),
        "external_labels",
        cx,
    );
    let resolve_timeout = raw
        .resolve_timeout
        .map(|r| r.value)
        .filter(|r| !r.is_zero())
        .unwrap_or(GlobalConfig::DEFAULT_RESOLVE_TIMEOUT);
    let telegram = super::receiver_chat::telegram_globals(
        raw.telegram_api_url,
        raw.telegram_bot_token,
        raw.telegram_bot_token_file,
        cx,
    );
    let incident = super::receiver_incident::globals(
        raw.pagerduty_url,
        raw.opsgenie_api_url,
        raw.opsgenie_api_key,
        raw.opsgenie_api_key_file,
        raw.webex_api_url,
        cx,
    );
    let scrape_protocols = raw
        .scrape_protocols
        .and_then(|p| scrape_protocol::validate_list(p, "global.scrape_protocols", cx))
        .unwrap_or_else(|| ScrapeProtocol::DEFAULTS.to_vec());
    let count = |field: Option<At<u64>>| field.map_or(0, |f| f.value);
    GlobalConfig {
        scrape_interval,
        scrape_timeout,
        evaluation_interval,
        external_labels,
        resolve_timeout,
        telegram,
        incident,
        scrape_protocols,
        body_size_limit: raw.body_size_limit.map_or(ByteSize(0), |b| b.value),
        sample_limit: count(raw.sample_limit),
        target_limit: count(raw.target_limit),
        label_limit: count(raw.label_limit),
        label_name_length_limit: count(raw.label_name_length_limit),
        label_value_length_limit: count(raw.label_value_length_limit),
        keep_dropped_targets: count(raw.keep_dropped_targets),
        always_scrape_classic_histograms: raw
            .always_scrape_classic_histograms
            .is_some_and(|a| a.value),
    }
}

/// Applies defaults to `storage`; a zero retention is an error.
pub(crate) fn resolve_storage(raw: Option<At<RawStorage>>, cx: &mut Cx<'_>) -> StorageConfig {
    let raw = raw.map(|r| r.value).unwrap_or_default();
    let retention = match raw.retention {
        None => StorageConfig::DEFAULT_RETENTION,
        Some(At { value, pos }) if value.is_zero() => {
            let kind = ErrorKind::InvalidValue {
                path: "storage.retention".to_owned(),
                message: "must be greater than 0s".to_owned(),
            };
            cx.error(pos, kind);
            StorageConfig::DEFAULT_RETENTION
        }
        Some(At { value, .. }) => value,
    };
    let max_series = raw
        .max_series
        .map_or(StorageConfig::DEFAULT_MAX_SERIES, |m| m.value);
    StorageConfig {
        retention,
        max_series,
    }
}
