//! `watchfire run`: load the configuration, start scraping and serving,
//! reload on SIGHUP, shut down gracefully on SIGINT/SIGTERM.

use super::web::WebSecurity;
use super::RunArgs;
use crate::api::{self, AppState};
use crate::config::{self, Config};
use crate::model::Labels;
use crate::notify::bridge::{self, Bridge};
use crate::notify::integrations::alertmanager::ForwardOptions;
use crate::notify::{NotifierBuilder, NotifierHandle, SilenceLimits, Silences};
use crate::persist::{buffer, StateDb};
use crate::promql::{Engine, EngineOptions};
use crate::rules::manager::{Manager as RuleManager, ManagerOptions, RuleSettings};
use crate::rules::RestoreOptions;
use crate::scrape::{targets_from_config, ScrapeManager};
use crate::store::StoreOptions;
use crate::telemetry::{init_logging, AlertsCollector, BufferCollector, Telemetry};
use anyhow::Context;
use prometheus_client::metrics::gauge::Gauge;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// How often series stale for longer than the retention window are dropped
/// (more often when the retention is shorter than twice this).
const GC_INTERVAL: Duration = Duration::from_secs(30);

/// Runs the server until a termination signal.
pub fn run(args: RunArgs) -> ExitCode {
    if let Err(e) = init_logging(&args.log_level, args.log_format) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "watchfire stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    config::load(path).map_err(|errors| {
        let lines = errors.lines();
        for l in &lines {
            tracing::error!(error = %l, "invalid configuration");
        }
        anyhow::anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
    })
}

async fn serve(args: RunArgs) -> anyhow::Result<()> {
    let cfg = load_config(&args.config)?;
    let web = WebSecurity::load(args.web_config_file.clone(), args.admin_token_file.clone())?;
    let status = Arc::new(api::StatusInfo::new(args.flags(), &cfg));
    tracing::info!(config = %args.config.display(), jobs = cfg.scrape_configs.len(), "configuration loaded");

    let mut telemetry = Telemetry::new();
    let state_db = open_state(&args.storage_path);
    // Before any scrape: the buffer as it was at the last graceful shutdown.
    let store = Arc::new(buffer::restore(
        state_db.dir(),
        StoreOptions {
            retention_ms: Some(cfg.storage.retention.as_millis_i64()),
        },
        chrono::Utc::now().timestamp_millis(),
    ));
    store.set_max_series(cfg.storage.max_series as usize);
    state_db.metrics().register(telemetry.registry_mut());
    telemetry
        .registry_mut()
        .register_collector(Box::new(BufferCollector::new(store.clone())));
    let scrape = Arc::new(ScrapeManager::new(store.clone(), telemetry.registry_mut()));
    let engine = Engine::new(EngineOptions {
        timeout: args.query_timeout,
        max_samples: args.query_max_samples,
        max_bytes: match args.query_max_bytes.0 {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        },
        ..Default::default()
    });
    let queries = api::QueryExecutor::new(api::ExecOptions {
        max_concurrency: usize::from(args.query_max_concurrency),
        timeout: args.query_timeout,
    })
    .context("starting the query threads")?;
    queries.register(telemetry.registry_mut());
    let rules = RuleManager::new(
        store.clone(),
        Arc::new(engine.clone()),
        ManagerOptions::default(),
    );
    rules.register(telemetry.registry_mut());
    rules.set_state(
        state_db.clone(),
        RestoreOptions {
            outage_tolerance: args.outage_tolerance,
            history_retention: args.history_retention,
            resolve_grace: 2 * longest_scrape_interval(&cfg),
        },
    );
    telemetry
        .registry_mut()
        .register_collector(Box::new(AlertsCollector::new(rules.clone())));
    load_rules(&cfg, &rules).await?;
    let scheme = if web.tls.is_some() { "https" } else { "http" };
    let external_url = args
        .external_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}", args.listen));
    let silences = Arc::new(Silences::with_limits(SilenceLimits {
        max_silences: args.max_silences,
        max_silence_size_bytes: args.max_silence_size_bytes,
        retention: chrono::Duration::from_std(args.data_retention)
            .context("--data.retention is too long")?,
    }));
    let notifier = notifier_builder(&cfg, &external_url, &state_db)
        .silences(silences)
        .start()
        .context("starting the notifier")?;
    notifier.register_metrics(telemetry.registry_mut());
    let notifier = Arc::new(NotifierHandle::new(notifier));
    let stop_bridge = CancellationToken::new();
    let bridge = Bridge::new(
        Labels::from_pairs(&cfg.global.external_labels),
        &external_url,
    );
    let external_labels = bridge.external_labels();
    let bridge_task = tokio::spawn(bridge::run(
        bridge,
        bridge::resync_transitions(&rules.alerts_snapshot()),
        rules.subscribe(),
        notifier.clone(),
        stop_bridge.clone(),
    ));
    let reload_metrics = ReloadMetrics::register(telemetry.registry_mut());
    let telemetry = Arc::new(telemetry);

    let listener = api::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, tls = web.tls.is_some(), "serving HTTP");
    let ready = Arc::new(AtomicBool::new(false));
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
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
    let app = api::router(state)
        .merge(api::silences_router(notifier.silences()))
        .merge(api::failed_notifications_router(notifier.dead_letters()));
    let app = api::harden(app, web.security.clone());
    let server = tokio::spawn(api::serve(
        listener,
        app,
        web.tls.clone(),
        api::ServeOptions {
            max_connections: args.max_connections as usize,
            read_timeout: Some(args.read_timeout).filter(|t| !t.is_zero()),
        },
        stop_serving.clone().cancelled_owned(),
    ));
    let reloadable = Reloadable {
        path: &args.config,
        scrape: &scrape,
        rules: &rules,
        metrics: &reload_metrics,
        status: &status,
        web: &web,
        notifier: &notifier,
        external_url: &external_url,
        external_labels: &external_labels,
        state_db: &state_db,
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

    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hup.recv() => {
                let _ = reload_and_report(&reloadable).await;
            }
            Some(answer) = reload_rx.recv() => {
                let outcome = reload_and_report(&reloadable).await;
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
    scrape.shutdown().await;
    buffer::snapshot(
        state_db.dir(),
        &store,
        chrono::Utc::now().timestamp_millis(),
    );
    // Takes in every event sent so far; what is still queued stays in the state database.
    notifier.shutdown().await;
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
        ..Default::default()
    }
}

/// Loads the configuration's rule files into the manager: all or nothing.
async fn load_rules(cfg: &Config, rules: &RuleManager) -> anyhow::Result<()> {
    let files = cfg.rule_file_paths().context("expanding rule_files")?;
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
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            for l in &lines {
                tracing::error!(error = %l, "invalid rule file");
            }
            anyhow::bail!("invalid rule files:\n  {}", lines.join("\n  "))
        }
    }
}

/// `watchfire_config_last_reload_successful` and its timestamp, as Prometheus names them.
struct ReloadMetrics {
    successful: Gauge,
    success_time: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    fn register(registry: &mut prometheus_client::registry::Registry) -> Self {
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
struct Reloadable<'a> {
    path: &'a std::path::Path,
    scrape: &'a ScrapeManager,
    rules: &'a RuleManager,
    metrics: &'a ReloadMetrics,
    status: &'a api::StatusInfo,
    web: &'a WebSecurity,
    notifier: &'a NotifierHandle,
    external_url: &'a str,
    external_labels: &'a parking_lot::RwLock<Labels>,
    state_db: &'a Arc<StateDb>,
}

/// Reloads, logs and counts the outcome (for SIGHUP and `/-/reload`).
async fn reload_and_report(r: &Reloadable<'_>) -> Result<(), String> {
    let metrics = r.metrics;
    let outcome = match r.web.reload() {
        Ok(()) => reload(r).await,
        Err(e) => Err(e.context("reloading the web security settings")),
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
            let msg = format!("{e:#}");
            tracing::error!(error = %msg, "reload failed; keeping the running configuration");
            Err(msg)
        }
    }
}

/// Reloads configuration, rules and the notifier; on any error the running ones stay.
async fn reload(r: &Reloadable<'_>) -> anyhow::Result<()> {
    let cfg = load_config(r.path)?;
    let targets = targets_from_config(&cfg)?;
    // Checked before anything changes, so a receiver that cannot be built keeps everything.
    notifier_builder(&cfg, r.external_url, r.state_db)
        .check()
        .context("building the notifier")?;
    load_rules(&cfg, r.rules).await?;
    r.scrape.set_max_series(cfg.storage.max_series as usize);
    r.scrape.apply(targets).await;
    r.notifier
        .reload(notifier_builder(&cfg, r.external_url, r.state_db))
        .await
        .context("rebuilding the notifier")?;
    *r.external_labels.write() = Labels::from_pairs(&cfg.global.external_labels);
    r.status.set_config(&cfg);
    tracing::info!("configuration reloaded");
    Ok(())
}

/// The notifier a configuration describes, on the state database.
fn notifier_builder<'a>(
    cfg: &'a Config,
    external_url: &str,
    state_db: &Arc<StateDb>,
) -> NotifierBuilder<'a> {
    NotifierBuilder::new(cfg)
        .external_url(external_url)
        .state(state_db.clone())
        .forward_options(ForwardOptions {
            evaluation_interval: cfg.global.evaluation_interval.0,
            ..Default::default()
        })
}
