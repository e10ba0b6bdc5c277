//! The HTTP server: watchfire's own `/metrics`, health endpoints and the
//! Prometheus-compatible API, one file per resource. `federate.rs` serves `/federate` (text or
//! delimited protobuf, the one non-JSON answer); `parse_query.rs` the syntax tree and
//! exemplar endpoints; `tsdb.rs` the head statistics and runtime information.
//!
//! **Invariant:** only this module knows JSON wire shapes; handlers read
//! shared state and never block on a scrape or an evaluation in progress.
//!
//! Limits: at most `--web.max-connections` (512) connections, requests read within
//! `--web.read-timeout` (5m) (see `server.rs`); bodies of at most [`MAX_BODY_BYTES`] (1 MiB),
//! after gzip decoding (`Content-Encoding: gzip` is decoded, other encodings get 415). Every
//! failure under `/api/v1/` answers Prometheus' JSON error envelope and under `/api/v2/`
//! Alertmanager's JSON string, whichever layer produced it (`response::json_errors`).

mod alertmanager;
mod auth;
mod exec;
mod extract;
mod federate;
mod params;
mod parse_query;
mod query;
mod remote_write;
mod response;
mod rules;
mod rules_json;
mod series;
mod server;
mod silences;
mod status;
mod targets;
mod tls;
mod tsdb;
mod value_json;

pub use alertmanager::{alertmanager_router, AlertmanagerView};
pub use auth::{changes_state, AdminCheck, Security, SecuritySettings, CACHE_TTL};
pub use exec::{
    ExecOptions, QueryExecutor, QueryTicket, DEFAULT_MAX_CONCURRENCY, QUERY_STACK_BYTES,
};
pub use params::{parse_duration_ms, parse_time_ms};
pub use remote_write::{remote_write_router, RemoteWriteMetrics};
pub use response::{ApiError, ApiOk, ApiResult, ErrorType};
pub use server::ServeOptions;
pub use silences::{failed_notifications_router, parse_silence, silence_json, silences_router};
pub use status::StatusInfo;
pub use tls::{server_config as tls_server_config, TlsError, TlsHandle, TlsListener};
pub use tsdb::{Cardinality, HeadSummary};

use crate::promql::Engine;
use crate::rules::manager::Manager as RuleManager;
use crate::scrape::ScrapeManager;
use crate::store::Store;
use crate::telemetry::Telemetry;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest request body accepted (form-encoded queries, silences), in bytes, as sent and after
/// gzip decoding; larger bodies get 413. The request line and headers are bounded by hyper
/// (about 400 KiB; 431 above).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    /// The buffer.
    pub store: Arc<Store>,
    /// The PromQL engine.
    pub engine: Engine,
    /// Where queries and buffer walks run (`--query.max-concurrency` threads).
    pub queries: QueryExecutor,
    /// Own metrics.
    pub telemetry: Arc<Telemetry>,
    /// Scrape targets and their health.
    pub scrape: Arc<ScrapeManager>,
    /// Rule groups, alerts and their history.
    pub rules: RuleManager,
    /// Asks the run loop to reload configuration and rules; answers with the outcome.
    pub reload: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<Result<(), String>>>,
    /// Set once the configuration is loaded and the first scrape round started.
    pub ready: Arc<AtomicBool>,
    /// The configuration and flags served by `/api/v1/status/{config,flags}`.
    pub status: Arc<StatusInfo>,
}

/// The router with every endpoint.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(status::metrics))
        .route("/federate", get(federate::federate))
        .route("/-/healthy", get(status::healthy).head(status::healthy))
        .route("/-/ready", get(status::ready).head(status::ready))
        .route(
            "/-/reload",
            axum::routing::post(status::reload).put(status::reload),
        )
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(tsdb::runtimeinfo))
        .route("/api/v1/status/tsdb", get(tsdb::tsdb))
        .route(
            "/api/v1/parse_query",
            get(parse_query::parse_query).post(parse_query::parse_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(parse_query::query_exemplars).post(parse_query::query_exemplars),
        )
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format).post(query::format),
        )
        .route("/api/v1/series", get(series::series).post(series::series))
        .route("/api/v1/labels", get(series::labels).post(series::labels))
        .route("/api/v1/label/{name}/values", get(series::label_values))
        .route("/api/v1/metadata", get(series::metadata))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/targets/metadata", get(targets::metadata))
        .route("/api/v1/scrape_pools", get(targets::scrape_pools))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/alerts/history", get(rules::history))
        .with_state(state)
}

/// Puts the whole app (after merging every router) behind access control, JSON errors, gzip
/// request decoding and the body limit. From the outside in: access control (its 401/403 are
/// plain text, as Prometheus' exporter-toolkit answers), JSON errors for `/api/`, gzip decoding
/// (415 for encodings other than gzip and identity), the limit on the decoded body (a gzip bomb
/// gets 413 after at most 1 MiB of output; the compressed input is read only as far as that
/// output needs, within `--web.read-timeout`). `raw` routes (the remote-write receiver) skip the
/// gzip decoding and the body limit: they read their own encodings and limits, and their plain
/// text answers stay plain text, as Prometheus' do (see `response::json_errors`).
pub fn harden(app: Router, raw: Router, security: Security) -> Router {
    use tower_http::decompression::RequestDecompressionLayer;
    use tower_http::limit::RequestBodyLimitLayer;
    app.layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        .merge(raw)
        .layer(axum::middleware::from_fn(response::json_errors))
        .layer(axum::middleware::from_fn_with_state(security, auth::guard))
}

/// Binds `addr`; the caller learns the real port (for `:0`) before serving.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `app` (HTTPS when `tls` is set) within `options` until `shutdown` resolves, then
/// drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsHandle>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        None => server::serve_connections(listener, app, options, shutdown).await,
        Some(tls) => {
            let listener = TlsListener::new(listener, tls)?;
            server::serve_connections(listener, app, options, shutdown).await;
        }
    }
    Ok(())
}
