//! `/metrics`, `/-/healthy`, `/-/ready`, build information, the loaded configuration and the
//! command-line flags.

use super::response::{ApiOk, ApiResult};
use super::AppState;
use crate::config::Config;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use parking_lot::RwLock;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// What `/api/v1/status/config` and `/api/v1/status/flags` serve.
#[derive(Debug, Default)]
pub struct StatusInfo {
    config_yaml: RwLock<String>,
    flags: BTreeMap<String, String>,
    alertmanager: RwLock<super::alertmanager::AlertmanagerView>,
    external_labels: RwLock<BTreeMap<String, String>>,
    started: chrono::DateTime<chrono::Utc>,
    /// The outcome of the last (re)load and when the configuration in force was loaded.
    reload: RwLock<(bool, chrono::DateTime<chrono::Utc>)>,
    retention: RwLock<String>,
    ha: std::sync::OnceLock<crate::notify::ha::Ha>,
}

impl StatusInfo {
    /// Status for a server started with `flags` (name without `--` → value) and `config`.
    pub fn new(flags: BTreeMap<String, String>, config: &Config) -> Self {
        StatusInfo {
            config_yaml: RwLock::new(config.redacted_yaml()),
            flags,
            alertmanager: RwLock::new(super::alertmanager::AlertmanagerView::of(config)),
            external_labels: RwLock::new(config.global.external_labels.clone()),
            started: chrono::Utc::now(),
            reload: RwLock::new((true, chrono::Utc::now())),
            retention: RwLock::new(config.storage.retention.to_string()),
            ha: std::sync::OnceLock::new(),
        }
    }

    /// Shows this HA membership as the `cluster` of `/api/v2/status`.
    pub fn set_ha(&self, ha: crate::notify::ha::Ha) {
        let _ = self.ha.set(ha);
    }

    /// The HA membership, if any.
    pub(crate) fn ha(&self) -> Option<&crate::notify::ha::Ha> {
        self.ha.get()
    }

    /// Serves `config` from now on (after a successful reload).
    pub fn set_config(&self, config: &Config) {
        *self.config_yaml.write() = config.redacted_yaml();
        *self.alertmanager.write() = super::alertmanager::AlertmanagerView::of(config);
        *self.external_labels.write() = config.global.external_labels.clone();
        *self.retention.write() = config.storage.retention.to_string();
        *self.reload.write() = (true, chrono::Utc::now());
    }

    /// Records a failed reload (the running configuration stays).
    pub fn reload_failed(&self) {
        self.reload.write().0 = false;
    }

    /// Whether the last (re)load succeeded, and when the configuration in force was loaded.
    pub(crate) fn reload_state(&self) -> (bool, chrono::DateTime<chrono::Utc>) {
        *self.reload.read()
    }

    /// The buffer's retention in force (`storage.retention`).
    pub(crate) fn retention(&self) -> String {
        self.retention.read().clone()
    }

    /// `global.external_labels` in force.
    pub(crate) fn external_labels(&self) -> BTreeMap<String, String> {
        self.external_labels.read().clone()
    }

    /// The configuration in force as YAML, every secret as `<secret>` (the web UI's `/status`).
    pub fn config_yaml(&self) -> String {
        self.config_yaml.read().clone()
    }

    /// The command-line flags (name without `--` → value).
    pub fn flag_values(&self) -> &BTreeMap<String, String> {
        &self.flags
    }

    /// When the server started.
    pub fn start_time(&self) -> chrono::DateTime<chrono::Utc> {
        self.started()
    }

    /// The Alertmanager part of the configuration in force.
    pub(crate) fn alertmanager(&self) -> super::alertmanager::AlertmanagerView {
        self.alertmanager.read().clone()
    }

    /// When the server started (Alertmanager's `uptime`).
    pub(crate) fn started(&self) -> chrono::DateTime<chrono::Utc> {
        self.started
    }
}

/// `/api/v1/status/config`: the loaded configuration as YAML, every secret as `<secret>`.
pub async fn config(State(s): State<AppState>) -> ApiResult {
    let yaml = s.status.config_yaml.read().clone();
    Ok(ApiOk::new(json!({ "yaml": yaml })))
}

/// `/api/v1/status/flags`: every flag of `watchfire run` and its value, as strings.
pub async fn flags(State(s): State<AppState>) -> ApiResult {
    Ok(ApiOk::new(json!(s.status.flags)))
}

/// Own metrics in the Prometheus text format. Encoding visits every series of the buffer
/// (`watchfire_buffer_*`), so it runs on tokio's blocking pool, which queries never use.
pub async fn metrics(State(s): State<AppState>) -> axum::response::Response {
    let telemetry = s.telemetry.clone();
    match tokio::task::spawn_blocking(move || telemetry.encode()).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}"),
        )
            .into_response(),
    }
}

/// Liveness: always healthy while the process serves.
pub async fn healthy() -> impl IntoResponse {
    (StatusCode::OK, "watchfire is Healthy.\n")
}

/// Readiness: after the configuration loaded and the first scrape round started.
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "watchfire is Ready.\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
    }
}

/// `POST|PUT /-/reload`: reloads configuration and rule files; 200 when the
/// new ones are in effect, 500 with the errors when the running ones stay.
pub async fn reload(State(s): State<AppState>) -> impl IntoResponse {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if s.reload.send(tx).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_string(),
        );
    }
    match rx.await {
        Ok(Ok(())) => (StatusCode::OK, String::new()),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_string(),
        ),
    }
}

/// `/api/v1/status/buildinfo` with Prometheus' fields; `version` is a
/// Prometheus-3-compatible string so clients (Grafana) enable current features.
pub async fn buildinfo() -> ApiResult {
    Ok(ApiOk::new(json!({
        "version": "3.0.0",
        "revision": option_env!("WATCHFIRE_REVISION").unwrap_or("unknown"),
        "branch": option_env!("WATCHFIRE_BRANCH").unwrap_or("unknown"),
        "buildUser": "watchfire",
        "buildDate": "unknown",
        "goVersion": concat!("watchfire ", env!("CARGO_PKG_VERSION")),
    })))
}
