//! What the engine is told at start: the `watchfire run` flags, as plain data an embedder can
//! fill in. The defaults are the flags' defaults.

use crate::api::ServeOptions;
use crate::config::{ByteSize, PromDuration};
use crate::notify::SilenceLimits;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The engine's settings; see each field for the `watchfire run` flag it mirrors.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `--config`: the configuration file (re-read at every reload).
    pub config_file: PathBuf,
    /// `--alertmanager.config.file`: Alertmanager's sections (`route`, `receivers`,
    /// `inhibit_rules`, `templates`, `global.resolve_timeout`) in their own file, re-read with
    /// the main one; `None`: the main file holds them.
    pub alertmanager_config_file: Option<PathBuf>,
    /// `--listen`: the HTTP address; port 0 picks a free port ([`super::Engine::local_addr`]).
    pub listen: SocketAddr,
    /// `--web.external-url`: the URL users reach watchfire at (default: `http(s)://<listen>`).
    pub external_url: Option<String>,
    /// `--web.enable-remote-write-receiver`: accept Prometheus remote write (1.0 and 2.0) at
    /// `POST /api/v1/write` into the buffer.
    pub enable_remote_write_receiver: bool,
    /// `--web.config.file`: TLS, basic auth and headers, as Prometheus' web config file.
    pub web_config_file: Option<PathBuf>,
    /// `--web.admin-token-file`: the bearer token state-changing requests need.
    pub admin_token_file: Option<PathBuf>,
    /// `--query.timeout`: the longest a query may run.
    pub query_timeout: Duration,
    /// `--query.max-samples`: the most samples a query may hold at once.
    pub query_max_samples: usize,
    /// `--query.max-bytes`: the most bytes one query may use (samples held plus the label text
    /// it creates); 0: no limit.
    pub query_max_bytes: ByteSize,
    /// `--query.max-concurrency`: queries (and series/label/metadata walks) running at once,
    /// one thread each; further requests wait for a slot until their timeout.
    pub query_max_concurrency: u16,
    /// `--storage.path`: the state directory.
    pub storage_path: PathBuf,
    /// `--storage.history-retention`: how long alert history is kept.
    pub history_retention: Duration,
    /// `--storage.remote-write.max-bytes`: most bytes of unsent batches kept on disk per
    /// `remote_write` queue; past it the oldest are dropped.
    pub remote_write_max_bytes: ByteSize,
    /// `--rules.alert.for-outage-tolerance`: the longest outage after which restored alerts
    /// keep their `for` progress.
    pub outage_tolerance: Duration,
    /// `--silences.max-silences`: most silences, expired ones included; 0: no limit.
    pub max_silences: usize,
    /// `--silences.max-silence-size-bytes`: largest silence as stored; 0: no limit.
    pub max_silence_size_bytes: usize,
    /// `--data.retention`: how long expired silences are kept before they are purged.
    pub data_retention: Duration,
    /// `--web.max-connections`: most HTTP connections open at once.
    pub max_connections: u32,
    /// `--web.read-timeout`: longest time to read a request's headers, then its body; idle
    /// keep-alive connections are closed after it too; zero turns it off.
    pub read_timeout: Duration,
    /// `--shard=I/N`: keep only this shard's targets in every scrape job, with Prometheus'
    /// hashmod recipe on `__address__` ([`super::Shard`]); `None`: every target.
    pub shard: Option<super::Shard>,
    /// Flags of the embedding program to show in `/api/v1/status/flags` next to these
    /// (`watchfire run` adds `log.level` and `log.format`).
    pub extra_flags: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config_file: PathBuf::from("examples/watchfire.yml"),
            listen: SocketAddr::from(([127, 0, 0, 1], 9711)),
            external_url: None,
            web_config_file: None,
            alertmanager_config_file: None,
            enable_remote_write_receiver: false,
            admin_token_file: None,
            query_timeout: Duration::from_secs(120),
            query_max_samples: 50_000_000,
            storage_path: PathBuf::from("data"),
            history_retention: Duration::from_secs(7 * 24 * 3600),
            remote_write_max_bytes: ByteSize(crate::remote::write::DEFAULT_MAX_BACKLOG_BYTES),
            outage_tolerance: Duration::from_secs(3600),
            query_max_bytes: ByteSize(512 << 20),
            query_max_concurrency: 20,
            max_silences: SilenceLimits::DEFAULT_MAX_SILENCES,
            max_silence_size_bytes: SilenceLimits::DEFAULT_MAX_SILENCE_SIZE_BYTES,
            data_retention: Duration::from_secs(120 * 3600),
            max_connections: ServeOptions::DEFAULT_MAX_CONNECTIONS,
            read_timeout: Duration::from_secs(300),
            shard: None,
            extra_flags: BTreeMap::new(),
        }
    }
}

impl Settings {
    /// The settings as `/api/v1/status/flags` shows them: flag name → value.
    pub fn flags(&self) -> BTreeMap<String, String> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let duration = |d: Duration| PromDuration::from(d).to_string();
        let mut flags: BTreeMap<String, String> = [
            ("config", self.config_file.display().to_string()),
            ("listen", self.listen.to_string()),
            (
                "alertmanager.config.file",
                path(&self.alertmanager_config_file).unwrap_or_default(),
            ),
            (
                "web.external-url",
                self.external_url.clone().unwrap_or_default(),
            ),
            (
                "web.config.file",
                path(&self.web_config_file).unwrap_or_default(),
            ),
            (
                "web.admin-token-file",
                path(&self.admin_token_file).unwrap_or_default(),
            ),
            (
                "web.enable-remote-write-receiver",
                self.enable_remote_write_receiver.to_string(),
            ),
            ("query.timeout", duration(self.query_timeout)),
            ("query.max-samples", self.query_max_samples.to_string()),
            ("query.max-bytes", self.query_max_bytes.to_string()),
            (
                "query.max-concurrency",
                self.query_max_concurrency.to_string(),
            ),
            ("storage.path", self.storage_path.display().to_string()),
            (
                "storage.remote-write.max-bytes",
                self.remote_write_max_bytes.to_string(),
            ),
            (
                "storage.history-retention",
                duration(self.history_retention),
            ),
            (
                "rules.alert.for-outage-tolerance",
                duration(self.outage_tolerance),
            ),
            ("silences.max-silences", self.max_silences.to_string()),
            (
                "silences.max-silence-size-bytes",
                self.max_silence_size_bytes.to_string(),
            ),
            ("data.retention", duration(self.data_retention)),
            ("web.max-connections", self.max_connections.to_string()),
            ("web.read-timeout", duration(self.read_timeout)),
            (
                "shard",
                self.shard.map(|s| s.to_string()).unwrap_or_default(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        flags.extend(self.extra_flags.clone());
        flags
    }
}
