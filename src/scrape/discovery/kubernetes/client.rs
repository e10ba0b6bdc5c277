//! The kube-rs client of a `kubernetes_sd_configs` entry, as Prometheus builds its client-go
//! one: `kubeconfig_file` (its current context), `api_server` with the entry's basic auth,
//! authorization and TLS settings, or the in-cluster service account
//! (`KUBERNETES_SERVICE_HOST`/`_PORT`, the token and CA under
//! `/var/run/secrets/kubernetes.io/serviceaccount/`).

use crate::config::KubernetesSdConfig;
use kube::config::{KubeConfigOptions, Kubeconfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Where the in-cluster namespace file is.
const OWN_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// A ready client, the API server URL (for messages) and the process' own namespace (read only
/// for `namespaces.own_namespace` in-cluster).
pub(super) struct Connected {
    pub client: kube::Client,
    pub url: String,
    pub own_namespace: Option<String>,
}

/// Builds the client; the error says what could not be read or parsed.
pub(super) async fn connect(config: &KubernetesSdConfig) -> Result<Connected, String> {
    let mut own_namespace = None;
    let kcfg = if let Some(path) = &config.kubeconfig_file {
        let kc = Kubeconfig::read_from(path).map_err(|e| super::error_chain(&e))?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| super::error_chain(&e))?
    } else if let Some(url) = &config.api_server {
        api_server_config(config, url)?
    } else {
        let c = kube::Config::incluster_env().map_err(|e| super::error_chain(&e))?;
        if config.namespaces.own_namespace {
            let ns = std::fs::read_to_string(OWN_NAMESPACE_FILE)
                .map_err(|e| format!("could not determine the pod's namespace: {e}"))?;
            if ns.is_empty() {
                return Err("could not read own namespace name (empty file)".to_owned());
            }
            own_namespace = Some(ns);
        }
        tracing::info!("Using pod service account via in-cluster config");
        c
    };
    let url = kcfg.cluster_url.to_string();
    let builder =
        kube::client::ClientBuilder::try_from(kcfg).map_err(|e| super::error_chain(&e))?;
    let limit = tower_http::map_response_body::MapResponseBodyLayer::new(|body| {
        super::limit::LimitedBody::new(body, super::limit::MAX_LINE_BYTES)
    });
    let client = builder.with_layer(&limit).build();
    Ok(Connected {
        client,
        url,
        own_namespace,
    })
}

fn api_server_config(config: &KubernetesSdConfig, url: &str) -> Result<kube::Config, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("api_server {url:?}: {e}"))?;
    let mut kcfg = kube::Config::new(uri);
    let tls = &config.tls_config;
    if let Some(ca) = &tls.ca_file {
        let certs = CertificateDer::pem_file_iter(ca)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("reading ca_file {}: {e}", ca.display()))?;
        kcfg.root_cert = Some(certs.into_iter().map(|c| c.to_vec()).collect());
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        kcfg.auth_info.client_certificate = Some(cert.display().to_string());
        kcfg.auth_info.client_key = Some(key.display().to_string());
    }
    kcfg.accept_invalid_certs = tls.insecure_skip_verify;
    kcfg.tls_server_name = tls.server_name.clone();
    let auth = crate::scrape::from_config::authorization(
        config.basic_auth.as_ref(),
        config.authorization.as_ref(),
    );
    if let Some(auth) = auth {
        let mut value = http::HeaderValue::from_str(&auth)
            .map_err(|_| "authorization credentials are not a valid header value".to_owned())?;
        value.set_sensitive(true);
        kcfg.headers.push((http::header::AUTHORIZATION, value));
    }
    Ok(kcfg)
}
