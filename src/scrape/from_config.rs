//! Builds scrape pools (one per job, with its HTTP client and its discovery providers) from the
//! configuration.

use crate::config::{Authorization, BasicAuth, Config, HttpSdConfig, ScrapeConfig, TlsConfig};
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

/// An `http_sd_configs` entry with its own client and credentials.
#[derive(Debug, Clone)]
pub struct HttpSd {
    /// The entry.
    pub config: HttpSdConfig,
    /// Its client (its TLS settings).
    pub client: reqwest::Client,
    /// Its `Authorization` header (a secret: never logged).
    pub authorization: Option<String>,
}

/// One job ready to run: its configuration, its scrape client and its HTTP SD clients.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The job.
    pub job: Arc<ScrapeConfig>,
    /// The client targets are scraped with.
    pub client: reqwest::Client,
    /// The scrape `Authorization` header.
    pub authorization: Option<String>,
    /// The job's HTTP SD endpoints.
    pub http_sd: Vec<HttpSd>,
}

/// Every job of the configuration with its clients; fails on the first client that cannot be
/// built, so a reload with a bad CA file changes nothing.
pub fn targets_from_config(cfg: &Config) -> Result<Vec<PoolConfig>, TargetError> {
    let mut out = Vec::new();
    for job in &cfg.scrape_configs {
        let err = |message: String| TargetError {
            job: job.job_name.clone(),
            message,
        };
        let client =
            build_client_with(&job.job_name, &job.tls_config, job_http(job)).map_err(err)?;
        let mut http_sd = Vec::new();
        for sd in &job.http_sd_configs {
            http_sd.push(http_sd_client(&job.job_name, sd).map_err(err)?);
        }
        out.push(PoolConfig {
            job: Arc::new(job.clone()),
            client,
            authorization: authorization(job.basic_auth.as_ref(), job.authorization.as_ref()),
            http_sd,
        });
    }
    Ok(out)
}

/// An `http_sd_configs` entry with its client (its TLS settings) and credentials; `owner` (a
/// job or an Alertmanager set) is named in logs.
pub fn http_sd_client(owner: &str, sd: &HttpSdConfig) -> Result<HttpSd, String> {
    let client = build_client(owner, &sd.tls_config)
        .map_err(|m| format!("http_sd_configs {}: {m}", sd.url))?;
    Ok(HttpSd {
        config: sd.clone(),
        client,
        authorization: authorization(sd.basic_auth.as_ref(), sd.authorization.as_ref()),
    })
}

pub(crate) fn authorization(
    basic: Option<&BasicAuth>,
    auth: Option<&Authorization>,
) -> Option<String> {
    if let Some(b) = basic {
        let password = b
            .password
            .as_ref()
            .map(|p| p.secret().expose())
            .unwrap_or("");
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{password}", b.username));
        return Some(format!("Basic {token}"));
    }
    auth.map(|a| {
        let credentials = a
            .credentials
            .as_ref()
            .map(|c| c.secret().expose())
            .unwrap_or("");
        format!("{} {credentials}", a.kind)
    })
}

/// A job's `follow_redirects` and `enable_http2`.
#[derive(Clone, Copy)]
struct HttpOptions {
    follow_redirects: bool,
    enable_http2: bool,
}

impl Default for HttpOptions {
    /// Prometheus' defaults: both on.
    fn default() -> Self {
        HttpOptions {
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

fn job_http(job: &ScrapeConfig) -> HttpOptions {
    HttpOptions {
        follow_redirects: job.follow_redirects,
        enable_http2: job.enable_http2,
    }
}

/// An HTTP client with `tls` (CA file, client certificate, `insecure_skip_verify`) and
/// Prometheus' defaults for redirects and HTTP/2; `owner` (a job or an Alertmanager set) is
/// named in logs.
pub fn build_client(owner: &str, tls: &TlsConfig) -> Result<reqwest::Client, String> {
    build_client_with(owner, tls, HttpOptions::default())
}

/// [`build_client`] with a job's `follow_redirects` and `enable_http2`.
fn build_client_with(
    job: &str,
    tls: &TlsConfig,
    http: HttpOptions,
) -> Result<reqwest::Client, String> {
    let redirect = if http.follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    let mut b = reqwest::Client::builder()
        .redirect(redirect)
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
    let version = |v: crate::config::TlsVersion| match v {
        crate::config::TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
        crate::config::TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
    };
    if let Some(min) = tls.min_version {
        b = b.min_tls_version(version(min));
    }
    if let Some(max) = tls.max_version {
        b = b.max_tls_version(version(max));
    }
    if !http.enable_http2 {
        b = b.http1_only();
    }
    if let Some(name) = &tls.server_name {
        // reqwest has no per-client SNI override; the name must match the target host.
        tracing::debug!(job = %job, server_name = %name, "tls server_name is checked against the target host");
    }
    b.build().map_err(|e| format!("building HTTP client: {e}"))
}
