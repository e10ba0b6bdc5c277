//! Reloading the running engine: the configuration, the rule files, the receivers and the web
//! security settings, all or nothing, with Prometheus' reload metrics.

use super::web_security::WebSecurity;
use super::{load_config, rule_settings, EngineError, Wiring};
use crate::api::StatusInfo;
use crate::config::Config;
use crate::model::Labels;
use crate::notify::NotifierHandle;
use crate::rules::manager::Manager as RuleManager;
use crate::scrape::{targets_from_config, ScrapeManager};
use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::AtomicU64;
use tokio::sync::{mpsc, oneshot};

/// Where reload requests go (the HTTP API's `/-/reload` and [`ReloadHandle`]).
pub(super) type ReloadSender = mpsc::Sender<oneshot::Sender<Result<(), String>>>;
/// The engine's end of [`ReloadSender`].
pub(super) type ReloadReceiver = mpsc::Receiver<oneshot::Sender<Result<(), String>>>;

/// Asks a running engine to reload; cheap to clone.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: ReloadSender,
}

impl ReloadHandle {
    pub(super) fn new(tx: ReloadSender) -> Self {
        Self { tx }
    }

    /// Reloads and waits for the outcome; `Err` carries every problem found (the running
    /// configuration stays), or says that the engine is not running.
    pub async fn reload(&self) -> Result<(), String> {
        let (answer, outcome) = oneshot::channel();
        self.tx
            .send(answer)
            .await
            .map_err(|_| "the engine is not running".to_string())?;
        outcome
            .await
            .map_err(|_| "the engine stopped during the reload".to_string())?
    }
}

/// `watchfire_config_last_reload_successful` and its timestamp, as Prometheus names them.
pub(super) struct ReloadMetrics {
    successful: Gauge,
    success_time: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    pub(super) fn register(registry: &mut prometheus_client::registry::Registry) -> Self {
        let m = Self {
            successful: Gauge::default(),
            success_time: Gauge::default(),
        };
        m.successful.set(1);
        m.success_time
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        registry.register(
            "watchfire_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            m.successful.clone(),
        );
        registry.register(
            "watchfire_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            m.success_time.clone(),
        );
        m
    }
}

/// What a reload touches.
pub(super) struct Reloadable<'a> {
    pub(super) path: &'a std::path::Path,
    pub(super) alertmanager_path: Option<&'a std::path::Path>,
    pub(super) shard: Option<super::Shard>,
    pub(super) scrape: &'a ScrapeManager,
    pub(super) rules: &'a RuleManager,
    pub(super) metrics: &'a ReloadMetrics,
    pub(super) status: &'a StatusInfo,
    pub(super) web: &'a WebSecurity,
    pub(super) notifier: &'a NotifierHandle,
    pub(super) wiring: &'a Wiring,
    pub(super) external_labels: &'a parking_lot::RwLock<Labels>,
    pub(super) remote_write: &'a crate::remote::write::RemoteWriter,
}

/// Reloads, logs and counts the outcome.
pub(super) async fn reload_and_report(r: &Reloadable<'_>) -> Result<(), String> {
    let metrics = r.metrics;
    let outcome = match r.web.reload() {
        Ok(()) => reload(r).await,
        Err(e) => Err(EngineError::Web(format!("{e:#}"))),
    };
    match outcome {
        Ok(()) => {
            metrics.successful.set(1);
            metrics
                .success_time
                .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
            Ok(())
        }
        Err(e) => {
            metrics.successful.set(0);
            r.status.reload_failed();
            let msg = e.to_string();
            tracing::error!(error = %msg, "reload failed; keeping the running configuration");
            Err(msg)
        }
    }
}

/// Reloads configuration, rules and the notifier; on any error the running ones stay.
async fn reload(r: &Reloadable<'_>) -> Result<(), EngineError> {
    let cfg = load_config(r.path, r.alertmanager_path, r.shard)?;
    let targets = targets_from_config(&cfg)?;
    // Checked before anything changes, so a receiver that cannot be built keeps everything.
    r.wiring.notifier_builder(&cfg).check()?;
    r.remote_write
        .check(&cfg.remote_write)
        .map_err(EngineError::Setting)?;
    load_rules(&cfg, r.rules).await?;
    r.scrape.set_max_series(cfg.storage.max_series as usize);
    r.scrape.apply(targets).await;
    let builder = r
        .wiring
        .notifier_builder(&cfg)
        .sd_metrics(r.scrape.sd_metrics());
    r.notifier.reload(builder).await?;
    *r.external_labels.write() = r.wiring.alert_labels(&cfg);
    if r.wiring.ha.as_ref().map(|h| h.config()) != cfg.ha.as_ref() {
        tracing::warn!("the ha section changed: it takes effect at the next restart");
    }
    r.remote_write
        .apply(
            &cfg.remote_write,
            &Labels::from_pairs(&cfg.global.external_labels),
        )
        .map_err(EngineError::Setting)?;
    r.status.set_config(&cfg);
    tracing::info!("configuration reloaded");
    Ok(())
}

/// Loads the configuration's rule files into the manager: all or nothing.
pub(super) async fn load_rules(cfg: &Config, rules: &RuleManager) -> Result<(), EngineError> {
    let files = cfg
        .rule_file_paths()
        .map_err(|e| EngineError::RuleFiles(e.to_string()))?;
    match rules.update(&files, rule_settings(cfg)).await {
        Ok(summary) => {
            tracing::info!(
                files = files.len(),
                groups = rules.groups().len(),
                unchanged = summary.unchanged,
                started = summary.started,
                removed = summary.removed,
                "rules loaded"
            );
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!(error = %e, "invalid rule file");
            }
            Err(EngineError::Rules(errors))
        }
    }
}
