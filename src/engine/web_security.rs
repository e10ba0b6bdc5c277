//! The web security settings of the engine: `--web.config.file` (TLS, basic auth, headers)
//! and `--web.admin-token-file`, loaded at start and re-read at each reload.
//!
//! A reload that fails keeps the running settings. TLS cannot be switched on or off by a
//! reload (the listener is already serving one or the other): that needs a restart.

use crate::api::{self, Security, SecuritySettings, TlsHandle};
use crate::config::{self, Secret, WebConfig};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The loaded settings and the handles the server reads them through.
pub struct WebSecurity {
    web_config_file: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    /// What the access-control middleware checks.
    pub security: Security,
    /// The TLS configuration, when serving HTTPS.
    pub tls: Option<TlsHandle>,
}

/// Everything read from the two files.
struct Loaded {
    web: WebConfig,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    admin_token: Option<Secret>,
}

fn load(web_file: Option<&Path>, token_file: Option<&Path>) -> anyhow::Result<Loaded> {
    let web = match web_file {
        None => WebConfig::default(),
        Some(path) => config::load_web(path).map_err(|errors| {
            anyhow::anyhow!(
                "invalid web configuration:\n  {}",
                errors.lines().join("\n  ")
            )
        })?,
    };
    let tls = match &web.tls {
        None => None,
        Some(t) => Some(
            api::tls_server_config(t)
                .with_context(|| format!("web configuration {}", web.path.display()))?,
        ),
    };
    let admin_token = match token_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --web.admin-token-file {}", path.display()))?;
            let token = text.trim();
            anyhow::ensure!(
                !token.is_empty(),
                "--web.admin-token-file {} is empty",
                path.display()
            );
            Some(Secret::new(token))
        }
    };
    Ok(Loaded {
        web,
        tls,
        admin_token,
    })
}

/// Loads a web configuration file as the server would (certificates and keys parsed), for
/// `watchfire check web-config`.
pub fn check_web_config(file: &Path) -> Result<(), super::EngineError> {
    load(Some(file), None)
        .map(|_| ())
        .map_err(|e| super::EngineError::Web(format!("{e:#}")))
}

impl WebSecurity {
    /// Loads both files (each optional).
    pub fn load(
        web_config_file: Option<PathBuf>,
        admin_token_file: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let loaded = load(web_config_file.as_deref(), admin_token_file.as_deref())?;
        tracing::info!(
            tls = loaded.tls.is_some(),
            basic_auth_users = loaded.web.basic_auth_users.len(),
            admin_token = loaded.admin_token.is_some(),
            "web security settings loaded"
        );
        Ok(WebSecurity {
            web_config_file,
            admin_token_file,
            security: Security::new(SecuritySettings::new(&loaded.web, loaded.admin_token)),
            tls: loaded.tls.map(TlsHandle::new),
        })
    }

    /// Re-reads both files; on any error the running settings stay.
    pub fn reload(&self) -> anyhow::Result<()> {
        if self.web_config_file.is_none() && self.admin_token_file.is_none() {
            return Ok(());
        }
        let loaded = load(
            self.web_config_file.as_deref(),
            self.admin_token_file.as_deref(),
        )?;
        match (&self.tls, loaded.tls) {
            (Some(handle), Some(tls)) => handle.replace(tls),
            (None, None) => {}
            (Some(_), None) => anyhow::bail!("turning TLS off needs a restart"),
            (None, Some(_)) => anyhow::bail!("turning TLS on needs a restart"),
        }
        self.security
            .replace(SecuritySettings::new(&loaded.web, loaded.admin_token));
        Ok(())
    }
}
