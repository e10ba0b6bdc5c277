//! HTTPS: the rustls server configuration built from `tls_server_config`, and a listener that
//! hands axum connections whose TLS handshake already succeeded.
//!
//! Handshakes run in their own tasks (at most [`MAX_HANDSHAKES`] at once, each bounded by
//! [`HANDSHAKE_TIMEOUT`]) so a slow or silent client never holds up accepting others. The
//! certificate, key and client CA are read when the configuration is built; a reload swaps the
//! whole rustls configuration for new connections ([`TlsHandle::replace`]).

use crate::config::{ClientAuth, TlsServerConfig, TlsVersion};
use parking_lot::RwLock;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once; further connections wait in the kernel's backlog.
/// Each costs a task and a few KiB, and a handshake is CPU work, so a few hundred is plenty.
pub const MAX_HANDSHAKES: usize = 256;

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file that cannot be read or parsed.
    #[error("{field} {path:?}: {message}")]
    Pem {
        /// The web config field naming the file.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the combination (e.g. a key that does not match the certificate).
    #[error("invalid TLS settings: {0}")]
    Rustls(String),
}

/// Builds the rustls configuration. ALPN offers HTTP/1.1 only: the server is built without
/// HTTP/2 support (axum's `http2` feature) to keep the default build lean.
pub fn server_config(cfg: &TlsServerConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = certificates(&cfg.cert_file, "tls_server_config.cert_file")?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|e| TlsError::Pem {
        field: "tls_server_config.key_file",
        path: cfg.key_file.clone(),
        message: e.to_string(),
    })?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (cfg.min_version..=cfg.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (cfg.client_auth, &cfg.client_ca_file) {
        (ClientAuth::NoClientCert, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca, "tls_server_config.client_ca_file")? {
                roots.add(cert).map_err(|e| TlsError::Pem {
                    field: "tls_server_config.client_ca_file",
                    path: ca.clone(),
                    message: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::VerifyClientCertIfGiven {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError::Rustls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
fn certificates(
    path: &Path,
    field: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |message: String| TlsError::Pem {
        field,
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("no certificate found".to_owned()));
    }
    Ok(certs)
}

/// The rustls configuration new connections get; swapped whole on reload.
#[derive(Clone)]
pub struct TlsHandle(Arc<RwLock<Arc<rustls::ServerConfig>>>);

impl TlsHandle {
    /// A handle serving `config`.
    pub fn new(config: Arc<rustls::ServerConfig>) -> Self {
        TlsHandle(Arc::new(RwLock::new(config)))
    }

    /// Uses `config` for connections accepted from now on.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        *self.0.write() = config;
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.0.read().clone())
    }
}

/// A listener yielding connections that completed the TLS handshake.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp`, handshaking with the configuration in `tls`.
    pub fn new(tcp: TcpListener, tls: TlsHandle) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        let accept_task = tokio::spawn(accept_loop(tcp, tls, tx));
        Ok(TlsListener {
            incoming,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: TlsHandle,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = tokio::select! {
            _ = tx.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = tls.acceptor();
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(conn)) => {
                    drop(slot);
                    let _ = tx.send((conn, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(client = %addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(client = %addr, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(conn) => conn,
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_cfg(dir: &Path) -> TlsServerConfig {
        TlsServerConfig {
            cert_file: dir.join("c.pem"),
            key_file: dir.join("k.pem"),
            client_auth: ClientAuth::NoClientCert,
            client_ca_file: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
        }
    }

    #[test]
    fn bad_pem_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), "not pem").unwrap();
        std::fs::write(dir.path().join("k.pem"), "not pem").unwrap();
        let err = server_config(&tls_cfg(dir.path())).unwrap_err().to_string();
        assert!(
            err.starts_with("tls_server_config.cert_file ") && err.contains("c.pem"),
            "{err}"
        );
        assert!(err.ends_with("no certificate found"), "{err}");
    }
}
