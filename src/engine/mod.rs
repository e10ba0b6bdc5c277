//! The engine: every stage wired together, for the `watchfire run` command and for programs
//! that embed watchfire.
//!
//! ```no_run
//! # async fn example() -> Result<(), watchfire::EngineError> {
//! let mut settings = watchfire::Settings::default();
//! settings.config_file = "watchfire.yml".into();
//! let engine = watchfire::Engine::builder(settings).build()?;
//! engine.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! [`EngineBuilder::build`] reads the configuration and the web security files, opens the
//! state directory and binds the listener, so every problem a user can fix is reported before
//! anything runs. [`Engine::run`] restores the buffer and the alert state, starts the notifier,
//! the rule manager, the scrape loops and the HTTP server, and serves until `shutdown`
//! resolves; then it stops the stages in the order that loses nothing (rules, the bridge's last
//! transitions, scrapes, the buffer snapshot, the notifier's queue, the server).
//!
//! Integrations added with [`EngineBuilder::integration`] are handed to every notifier the
//! engine builds, at start and at each reload, so a route can name them as receivers.
//!
//! **Invariant:** a reload (SIGHUP, `POST /-/reload` or [`ReloadHandle::reload`]) is all or
//! nothing: the configuration, rules and receivers are checked before anything changes.

mod reload;
mod settings;
mod shard;
mod web_security;

pub use reload::ReloadHandle;
pub use settings::Settings;
pub use shard::Shard;
pub use web_security::check_web_config;

use crate::api::{self, AppState};
use crate::config::{self, Config, ConfigErrors};
use crate::model::Labels;
use crate::notify::bridge::{self, Bridge};
use crate::notify::ha::Ha;
use crate::notify::integrations::alertmanager::ForwardOptions;
use crate::notify::{
    BuildError, Integration, IntegrationOptions, NotifierBuilder, NotifierHandle, SilenceLimits,
    Silences,
};
use crate::persist::{buffer, StateDb};
use crate::promql::{Engine as QueryEngine, EngineOptions};
use crate::remote::write::{ClientFactory, RemoteWriter};
use crate::rules::manager::{Manager as RuleManager, ManagerOptions, RuleSettings};
use crate::rules::{RestoreOptions, RuleFileError};
use crate::scrape::{targets_from_config, ScrapeManager, TargetError};
use crate::store::StoreOptions;
use crate::telemetry::{AlertsCollector, BufferCollector, Telemetry};
use reload::{ReloadMetrics, Reloadable};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use web_security::WebSecurity;

/// How often series stale for longer than the retention window are dropped
/// (more often when the retention is shorter than twice this).
const GC_INTERVAL: Duration = Duration::from_secs(30);

/// Why the engine could not start, or a reload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration file has problems (every one of them, with file:line:column).
    #[error("invalid configuration:\n  {}", .0.lines().join("\n  "))]
    Config(ConfigErrors),
    /// `--web.config.file` or `--web.admin-token-file` cannot be used.
    #[error("web security settings: {0}")]
    Web(String),
    /// `rule_files` patterns do not expand.
    #[error("expanding rule_files: {0}")]
    RuleFiles(String),
    /// Rule files have problems (every one of them, with file:line:column).
    #[error("invalid rule files:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Rules(Vec<RuleFileError>),
    /// A scrape target's settings cannot be used.
    #[error("scrape targets: {0}")]
    Targets(#[from] TargetError),
    /// A receiver cannot be built.
    #[error("building the notifier: {0}")]
    Notifier(#[from] BuildError),
    /// The listen address cannot be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A setting cannot be used.
    #[error("{0}")]
    Setting(String),
    /// The HTTP server or a signal handler failed.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// An integration added by the embedding program.
#[derive(Clone)]
struct CustomIntegration {
    name: String,
    integration: Arc<dyn Integration>,
    options: IntegrationOptions,
}

/// Builds an [`Engine`]; see the module documentation.
pub struct EngineBuilder {
    settings: Settings,
    integrations: Vec<CustomIntegration>,
}

impl EngineBuilder {
    /// Adds an integration of the embedding program; routes reach it through the receiver
    /// named `name` (a receiver with that name must exist in the configuration).
    pub fn integration(
        self,
        name: impl Into<String>,
        integration: impl Integration + 'static,
    ) -> Self {
        self.integration_with(name, integration, IntegrationOptions::default())
    }

    /// [`Self::integration`] with delivery options (retries, backoff, `send_resolved`).
    pub fn integration_with(
        mut self,
        name: impl Into<String>,
        integration: impl Integration + 'static,
        options: IntegrationOptions,
    ) -> Self {
        self.integrations.push(CustomIntegration {
            name: name.into(),
            integration: Arc::new(integration),
            options,
        });
        self
    }

    /// Reads and checks the configuration and the web security files, opens the state
    /// directory and binds the listen address.
    pub fn build(self) -> Result<Engine, EngineError> {
        let settings = self.settings;
        let config = load_config(
            &settings.config_file,
            settings.alertmanager_config_file.as_deref(),
            settings.shard,
        )?;
        let web = WebSecurity::load(
            settings.web_config_file.clone(),
            settings.admin_token_file.clone(),
        )
        .map_err(|e| EngineError::Web(format!("{e:#}")))?;
        let listener =
            std::net::TcpListener::bind(settings.listen).map_err(|source| EngineError::Listen {
                addr: settings.listen,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| EngineError::Io {
                what: "setting up the listener",
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| EngineError::Io {
            what: "reading the listen address",
            source,
        })?;
        let scheme = if web.tls.is_some() { "https" } else { "http" };
        let external_url = settings
            .external_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local_addr}"));
        let state_db = open_state(&settings.storage_path);
        let wiring = Wiring {
            external_url,
            state_db,
            integrations: self.integrations,
            ha: None,
        };
        // Checked before anything runs, so a receiver that cannot be built is a start error.
        wiring.notifier_builder(&config).check()?;
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
        Ok(Engine {
            settings,
            config,
            web,
            listener,
            local_addr,
            wiring,
            reload_tx,
            reload_rx,
        })
    }
}

/// What both the start and every reload need to build a notifier.
struct Wiring {
    external_url: String,
    state_db: Arc<StateDb>,
    integrations: Vec<CustomIntegration>,
    /// The HA membership (started by `run` when the config has `ha`; a reload keeps it).
    ha: Option<Ha>,
}

impl Wiring {
    /// The notifier a configuration describes, on the state database, with the embedder's
    /// integrations.
    fn notifier_builder<'a>(&self, cfg: &'a Config) -> NotifierBuilder<'a> {
        let mut builder = NotifierBuilder::new(cfg)
            .external_url(&self.external_url)
            .state(self.state_db.clone())
            .forward_options(ForwardOptions {
                evaluation_interval: cfg.global.evaluation_interval.0,
                ..Default::default()
            });
        for c in &self.integrations {
            builder = builder.integration(&c.name, c.integration.clone(), c.options.clone());
        }
        if let Some(ha) = &self.ha {
            builder = builder.ha(ha.clone());
        }
        builder
    }

    /// The external labels alerts carry: `global.external_labels`, less the `replica` label
    /// in an HA pair (the replicas must send identical alerts).
    fn alert_labels(&self, cfg: &Config) -> Labels {
        let labels =
            cfg.global.external_labels.iter().filter(|(name, _)| {
                self.ha.is_none() || name.as_str() != crate::config::REPLICA_LABEL
            });
        Labels::from_pairs(labels)
    }
}

/// A configured engine, ready to [`run`](Self::run).
pub struct Engine {
    settings: Settings,
    config: Config,
    web: WebSecurity,
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    wiring: Wiring,
    reload_tx: reload::ReloadSender,
    reload_rx: reload::ReloadReceiver,
}

impl Engine {
    /// A builder for an engine with these settings.
    pub fn builder(settings: Settings) -> EngineBuilder {
        EngineBuilder {
            settings,
            integrations: Vec::new(),
        }
    }

    /// The address the HTTP server listens on (the real port when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that reloads the configuration, rules and web settings of the running engine
    /// (what SIGHUP does to `watchfire run`).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle::new(self.reload_tx.clone())
    }

    /// Runs every stage until `shutdown` resolves, then stops them without losing anything
    /// already accepted.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), EngineError> {
        let Engine {
            settings,
            config: cfg,
            web,
            listener,
            local_addr,
            mut wiring,
            reload_tx,
            mut reload_rx,
        } = self;
        let status = Arc::new(api::StatusInfo::new(settings.flags(), &cfg));
        tracing::info!(config = %settings.config_file.display(), jobs = cfg.scrape_configs.len(), "configuration loaded");

        let mut telemetry = Telemetry::new();
        let state_db = wiring.state_db.clone();
        // Before any scrape: the buffer as it was at the last graceful shutdown.
        let store = Arc::new(buffer::restore(
            state_db.dir(),
            StoreOptions {
                retention_ms: Some(cfg.storage.retention.as_millis_i64()),
            },
            chrono::Utc::now().timestamp_millis(),
        ));
        store.set_max_series(cfg.storage.max_series as usize);
        let remote_write = start_remote_write(&settings, &state_db, &cfg, &mut telemetry)?;
        store.set_tap(remote_write.tap());
        state_db.metrics().register(telemetry.registry_mut());
        telemetry
            .registry_mut()
            .register_collector(Box::new(BufferCollector::new(store.clone())));
        let scrape = Arc::new(ScrapeManager::new(store.clone(), telemetry.registry_mut()));
        let engine = QueryEngine::new(EngineOptions {
            timeout: settings.query_timeout,
            max_samples: settings.query_max_samples,
            max_bytes: match settings.query_max_bytes.0 {
                0 => usize::MAX,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            },
            ..Default::default()
        });
        let queries = api::QueryExecutor::new(api::ExecOptions {
            max_concurrency: usize::from(settings.query_max_concurrency),
            timeout: settings.query_timeout,
        })
        .map_err(|source| EngineError::Io {
            what: "starting the query threads",
            source,
        })?;
        queries.register(telemetry.registry_mut());
        let remote_write_metrics = api::RemoteWriteMetrics::default();
        if settings.enable_remote_write_receiver {
            remote_write_metrics.register(telemetry.registry_mut());
        }
        let rules = RuleManager::new(
            store.clone(),
            Arc::new(engine.clone()),
            ManagerOptions::default(),
        );
        rules.register(telemetry.registry_mut());
        rules.set_state(
            state_db.clone(),
            RestoreOptions {
                outage_tolerance: settings.outage_tolerance,
                history_retention: settings.history_retention,
                resolve_grace: 2 * longest_scrape_interval(&cfg),
            },
        );
        telemetry
            .registry_mut()
            .register_collector(Box::new(AlertsCollector::new(rules.clone())));
        reload::load_rules(&cfg, &rules).await?;
        let silences = Arc::new(Silences::with_limits(SilenceLimits {
            max_silences: settings.max_silences,
            max_silence_size_bytes: settings.max_silence_size_bytes,
            retention: chrono::Duration::from_std(settings.data_retention)
                .map_err(|_| EngineError::Setting("--data.retention is too long".into()))?,
        }));
        let stop_ha = CancellationToken::new();
        let mut ha_tasks = Vec::new();
        if let Some(ha_config) = &cfg.ha {
            let retention = chrono::Duration::from_std(settings.data_retention)
                .unwrap_or(chrono::Duration::MAX);
            let (ha, tasks) = Ha::start(
                ha_config.clone(),
                silences.clone(),
                retention,
                stop_ha.clone(),
            );
            ha.register_metrics(telemetry.registry_mut());
            status.set_ha(ha.clone());
            tracing::info!(replica = %ha_config.replica, endpoints = ?ha_config.etcd.endpoints, "HA pair on etcd");
            ha_tasks = tasks;
            wiring.ha = Some(ha);
        }
        let notifier = wiring
            .notifier_builder(&cfg)
            .silences(silences)
            .sd_metrics(scrape.sd_metrics())
            .start()?;
        notifier.register_metrics(telemetry.registry_mut());
        let notifier = Arc::new(NotifierHandle::new(notifier));
        notifier.persist_posted(state_db.clone()).await;
        if let Some(ha) = &wiring.ha {
            let task = ha.clone().run_self_alert(notifier.clone(), stop_ha.clone());
            ha_tasks.push(tokio::spawn(task));
        }
        let stop_bridge = CancellationToken::new();
        let bridge = Bridge::new(wiring.alert_labels(&cfg), &wiring.external_url);
        let external_labels = bridge.external_labels();
        let bridge_task = tokio::spawn(bridge::run(
            bridge,
            bridge::resync_transitions(&rules.alerts_snapshot()),
            rules.subscribe(),
            notifier.clone(),
            stop_bridge.clone(),
        ));
        let stop_expiry = CancellationToken::new();
        let expiry_task = tokio::spawn(notifier.clone().run_expiry(stop_expiry.clone()));
        let reload_metrics = ReloadMetrics::register(telemetry.registry_mut());
        let telemetry = Arc::new(telemetry);

        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| EngineError::Io {
                what: "setting up the listener",
                source,
            })?;
        tracing::info!(address = %local_addr, tls = web.tls.is_some(), "serving HTTP");
        let ready = Arc::new(AtomicBool::new(false));
        let state = AppState {
            store: store.clone(),
            engine,
            queries,
            telemetry,
            scrape: scrape.clone(),
            rules: rules.clone(),
            reload: reload_tx,
            ready: ready.clone(),
            status: status.clone(),
        };
        let stop_serving = CancellationToken::new();
        let app = api::router(state.clone())
            .merge(crate::ui::router(crate::ui::UiState::new(
                state,
                notifier.clone(),
            )))
            .merge(api::silences_router(notifier.silences()))
            .merge(api::alertmanager_router(notifier.clone(), status.clone()))
            .merge(api::failed_notifications_router(notifier.dead_letters()));
        let raw = if settings.enable_remote_write_receiver {
            api::remote_write_router(store.clone(), remote_write_metrics)
        } else {
            axum::Router::new()
        };
        let app = api::harden(app, raw, web.security.clone());
        let server = tokio::spawn(api::serve(
            listener,
            app,
            web.tls.clone(),
            api::ServeOptions {
                max_connections: settings.max_connections as usize,
                read_timeout: Some(settings.read_timeout).filter(|t| !t.is_zero()),
            },
            stop_serving.clone().cancelled_owned(),
        ));
        let reloadable = Reloadable {
            path: &settings.config_file,
            alertmanager_path: settings.alertmanager_config_file.as_deref(),
            shard: settings.shard,
            scrape: &scrape,
            rules: &rules,
            metrics: &reload_metrics,
            status: &status,
            web: &web,
            notifier: &notifier,
            wiring: &wiring,
            external_labels: &external_labels,
            remote_write: &remote_write,
        };

        let targets = targets_from_config(&cfg)?;
        scrape.apply(targets).await;
        rules.set_scrape_feed(scrape.landed());
        rules.start();
        ready.store(true, Ordering::Release);
        tracing::info!("ready");

        let gc_store = store.clone();
        let gc_every = GC_INTERVAL
            .min(cfg.storage.retention.0 / 2)
            .max(Duration::from_secs(1));
        let gc = tokio::spawn(async move {
            let mut every = tokio::time::interval(gc_every);
            loop {
                every.tick().await;
                let now = chrono::Utc::now().timestamp_millis();
                // A pass visits every series: off the async workers.
                let store = gc_store.clone();
                let removed = tokio::task::spawn_blocking(move || store.gc(now))
                    .await
                    .unwrap_or(0);
                if removed > 0 {
                    tracing::debug!(
                        removed,
                        "dropped series stale for longer than the retention window"
                    );
                }
            }
        });

        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(answer) = reload_rx.recv() => {
                    let outcome = reload::reload_and_report(&reloadable).await;
                    let _ = answer.send(outcome);
                }
            }
        }
        tracing::info!("shutting down");
        ready.store(false, Ordering::Release);
        gc.abort();
        rules.stop().await;
        // Forward what the last evaluations published, then stop.
        stop_bridge.cancel();
        let _ = bridge_task.await;
        stop_expiry.cancel();
        let _ = expiry_task.await;
        scrape.shutdown().await;
        // Open batches go to the backlog on disk; a restart sends them.
        remote_write.shutdown().await;
        buffer::snapshot(
            state_db.dir(),
            &store,
            chrono::Utc::now().timestamp_millis(),
        );
        // Takes in every event sent so far; what is still queued stays in the state database.
        notifier.shutdown().await;
        // Then gives the HA lease back, so the other replica takes over at once.
        stop_ha.cancel();
        for task in ha_tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        stop_serving.cancel();
        match tokio::time::timeout(Duration::from_secs(10), server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!("HTTP server did not drain within 10s"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Reads the configuration file (and the separate Alertmanager file, if any), logging each
/// problem.
fn load_config(
    path: &std::path::Path,
    alertmanager: Option<&std::path::Path>,
    shard: Option<Shard>,
) -> Result<Config, EngineError> {
    let mut cfg = config::load_files(path, alertmanager).map_err(|errors| {
        for l in errors.lines() {
            tracing::error!(error = %l, "invalid configuration");
        }
        EngineError::Config(errors)
    })?;
    if let Some(shard) = shard {
        shard.apply(&mut cfg);
    }
    Ok(cfg)
}

/// Opens the state directory; when it cannot be used, logs the error loudly
/// and carries on with state in memory (`watchfire_storage_persistent 0`).
fn open_state(dir: &std::path::Path) -> Arc<StateDb> {
    match StateDb::open(dir) {
        Ok(db) => {
            tracing::info!(path = %dir.display(), "state directory opened");
            db
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "cannot use the state directory; alert state, silences and queued notifications \
                 are kept in memory only and will not survive a restart"
            );
            StateDb::memory()
        }
    }
}

/// Starts the remote-write sender with the configuration's queues; its backlog lives under
/// the state directory (a temporary directory when that cannot be used).
fn start_remote_write(
    settings: &Settings,
    state_db: &StateDb,
    cfg: &Config,
    telemetry: &mut Telemetry,
) -> Result<RemoteWriter, EngineError> {
    let dir = match state_db.dir() {
        Some(d) => d.to_path_buf(),
        None => {
            let d = std::env::temp_dir().join(format!("watchfire-{}", std::process::id()));
            if !cfg.remote_write.is_empty() {
                tracing::warn!(dir = %d.display(), "the state directory cannot be used; the remote write backlog is kept in a temporary directory and will not survive a restart");
            }
            d
        }
    };
    let factory: ClientFactory =
        Arc::new(|owner: &str, tls: &config::TlsConfig| crate::scrape::build_client(owner, tls));
    let writer = RemoteWriter::new(
        &dir,
        settings.remote_write_max_bytes.0,
        factory,
        telemetry.registry_mut(),
    )
    .map_err(EngineError::Setting)?;
    writer
        .apply(
            &cfg.remote_write,
            &Labels::from_pairs(&cfg.global.external_labels),
        )
        .map_err(EngineError::Setting)?;
    Ok(writer)
}

/// The longest scrape interval of the configuration (the time the empty
/// buffer needs to see every target once after a start).
fn longest_scrape_interval(cfg: &Config) -> Duration {
    cfg.scrape_configs
        .iter()
        .map(|s| s.scrape_interval.0)
        .fold(cfg.global.scrape_interval.0, Duration::max)
}

/// The rule settings a configuration implies.
fn rule_settings(cfg: &Config) -> RuleSettings {
    RuleSettings {
        evaluation_interval_ms: cfg.global.evaluation_interval.as_millis_i64(),
        external_labels: Labels::from_pairs(&cfg.global.external_labels),
        datasources: cfg.datasources.clone(),
        ..Default::default()
    }
}
