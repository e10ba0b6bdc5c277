//! Builds scrape targets (and one HTTP client per job) from the configuration.

use super::target::{ScrapeLimits, TargetSpec};
use crate::config::{Config, ScrapeConfig};
use crate::model::relabel::RelabelConfig;
use crate::model::LabelsBuilder;
use base64::Engine as _;
use std::sync::Arc;

/// A job whose HTTP client could not be built (bad CA file, bad client certificate).
#[derive(Debug, thiserror::Error)]
#[error("job {job:?}: {message}")]
pub struct TargetError {
    /// The job.
    pub job: String,
    /// What went wrong.
    pub message: String,
}

/// Every target of every job, with its job's client.
pub fn targets_from_config(
    cfg: &Config,
) -> Result<Vec<(TargetSpec, reqwest::Client)>, TargetError> {
    let mut out = Vec::new();
    for job in &cfg.scrape_configs {
        let err = |message: String| TargetError {
            job: job.job_name.clone(),
            message,
        };
        let client = build_client(job).map_err(err)?;
        let authorization = authorization(job);
        let metric_relabel: Arc<[RelabelConfig]> = Arc::from(job.metric_relabel_configs.as_slice());
        for (address, static_labels) in job.targets() {
            let url = job
                .target_url(address)
                .map_err(|e| err(format!("target {address:?}: {e}")))?;
            let mut labels = LabelsBuilder::new(&Default::default());
            for (k, v) in static_labels {
                labels.set(k, v);
            }
            labels.set("job", &job.job_name);
            if labels.get("instance").is_none() {
                labels.set("instance", address);
            }
            let spec = TargetSpec {
                job: job.job_name.clone(),
                url: url.to_string(),
                labels: labels.labels(),
                interval: job.scrape_interval.0,
                timeout: job.scrape_timeout.0,
                honor_labels: job.honor_labels,
                honor_timestamps: job.honor_timestamps,
                limits: ScrapeLimits {
                    sample_limit: job.sample_limit as usize,
                    body_size_limit: job.body_size_limit.0 as usize,
                    label_limit: job.label_limit as usize,
                    label_name_length_limit: job.label_name_length_limit as usize,
                    label_value_length_limit: job.label_value_length_limit as usize,
                    series_limit: job.series_limit as usize,
                },
                authorization: authorization.clone(),
                metric_relabel: metric_relabel.clone(),
            };
            out.push((spec, client.clone()));
        }
    }
    Ok(out)
}

fn authorization(job: &ScrapeConfig) -> Option<String> {
    if let Some(b) = &job.basic_auth {
        let password = b
            .password
            .as_ref()
            .map(|p| p.secret().expose())
            .unwrap_or("");
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", b.username));
        return Some(format!("Basic {token}"));
    }
    job.authorization.as_ref().map(|a| {
        let credentials = a
            .credentials
            .as_ref()
            .map(|c| c.secret().expose())
            .unwrap_or("");
        format!("{} {credentials}", a.kind)
    })
}

fn build_client(job: &ScrapeConfig) -> Result<reqwest::Client, String> {
    let tls = &job.tls_config;
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .pool_max_idle_per_host(2)
        .danger_accept_invalid_certs(tls.insecure_skip_verify);
    if let Some(ca) = &tls.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| format!("reading ca_file {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("parsing ca_file {}: {e}", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        let mut pem = std::fs::read(cert)
            .map_err(|e| format!("reading cert_file {}: {e}", cert.display()))?;
        pem.extend(
            std::fs::read(key).map_err(|e| format!("reading key_file {}: {e}", key.display()))?,
        );
        let id =
            reqwest::Identity::from_pem(&pem).map_err(|e| format!("client certificate: {e}"))?;
        b = b.identity(id);
    }
    if let Some(name) = &tls.server_name {
        // reqwest has no per-client SNI override; the name must match the target host.
        tracing::debug!(job = %job.job_name, server_name = %name, "tls server_name is checked against the target host");
    }
    b.build().map_err(|e| format!("building HTTP client: {e}"))
}
