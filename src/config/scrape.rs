//! `scrape_configs`: what to scrape, how often, and with which credentials.

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::global::GlobalConfig;
use super::secret::{load_secret, resolve_path, serialize_secret, SecretFields, SecretSource};
use super::size::ByteSize;
use super::validate;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

yaml_section! {
    /// One `scrape_configs` entry as written.
    pub(crate) struct RawScrapeConfig {
        job_name: String,
        scrape_interval: PromDuration,
        scrape_timeout: PromDuration,
        metrics_path: String,
        scheme: String,
        params: Entries<Vec<String>>,
        static_configs: Vec<At<RawStaticConfig>>,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        tls_config: RawTlsConfig,
        honor_labels: bool,
        honor_timestamps: bool,
        sample_limit: u64,
        body_size_limit: ByteSize,
        label_limit: u64,
        label_name_length_limit: u64,
        label_value_length_limit: u64,
    }
}

yaml_section! {
    /// One `static_configs` entry as written.
    pub(crate) struct RawStaticConfig {
        targets: Vec<At<String>>,
        labels: Entries<String>,
    }
}

yaml_section! {
    /// `basic_auth` as written.
    pub(crate) struct RawBasicAuth {
        username: String,
        password: String,
        password_file: String,
    }
}

yaml_section! {
    /// `authorization` as written.
    pub(crate) struct RawAuthorization {
        kind as "type": String,
        credentials: String,
        credentials_file: String,
    }
}

yaml_section! {
    /// `tls_config` as written.
    pub(crate) struct RawTlsConfig {
        ca_file: String,
        cert_file: String,
        key_file: String,
        server_name: String,
        insecure_skip_verify: bool,
    }
}

/// The URL scheme used to scrape a job's targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (the default).
    #[default]
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scheme {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A scrape job, with every default applied (Prometheus' `scrape_config`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrapeConfig {
    /// The `job` label of every target; unique in the file.
    pub job_name: String,
    /// How often to scrape (default: `global.scrape_interval`).
    pub scrape_interval: PromDuration,
    /// Per-scrape timeout, never above the interval (default: `global.scrape_timeout`, capped
    /// at the interval).
    pub scrape_timeout: PromDuration,
    /// The HTTP path (default `/metrics`).
    pub metrics_path: String,
    /// `http` (default) or `https`.
    pub scheme: Scheme,
    /// URL query parameters, each with one or more values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Targets and their extra labels.
    pub static_configs: Vec<StaticConfig>,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings for `https`.
    pub tls_config: TlsConfig,
    /// Keep the scraped labels when they clash with target labels (default false).
    pub honor_labels: bool,
    /// Use the timestamps in the scraped data (default true).
    pub honor_timestamps: bool,
    /// Most samples a scrape may return; 0 means no limit.
    pub sample_limit: u64,
    /// Largest uncompressed response body; 0 means no limit.
    pub body_size_limit: ByteSize,
    /// Most labels a sample may have; 0 means no limit.
    pub label_limit: u64,
    /// Longest label name; 0 means no limit.
    pub label_name_length_limit: u64,
    /// Longest label value; 0 means no limit.
    pub label_value_length_limit: u64,
}

impl ScrapeConfig {
    /// The URL to scrape `address` (a `host:port` from `static_configs`) at: scheme, address,
    /// `metrics_path` and `params`, as Prometheus builds it.
    pub fn target_url(&self, address: &str) -> Result<url::Url, url::ParseError> {
        let path = if self.metrics_path.starts_with('/') {
            self.metrics_path.clone()
        } else {
            format!("/{}", self.metrics_path)
        };
        let mut url = url::Url::parse(&format!("{}://{address}{path}", self.scheme))?;
        if !self.params.is_empty() {
            let mut query = url.query_pairs_mut();
            for (name, values) in &self.params {
                for value in values {
                    query.append_pair(name, value);
                }
            }
        }
        Ok(url)
    }

    /// Every target of the job with its static labels, in file order.
    pub fn targets(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, String>)> {
        self.static_configs
            .iter()
            .flat_map(|sc| sc.targets.iter().map(move |t| (t.as_str(), &sc.labels)))
    }
}

/// A `static_configs` entry: `host:port` targets sharing extra labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StaticConfig {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels added to every target.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// HTTP basic authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password, inline or read from `password_file` at load time.
    pub password: Option<SecretSource>,
}

impl Serialize for BasicAuth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("username", &self.username)?;
        serialize_secret(
            &mut map,
            ("password", "password_file"),
            self.password.as_ref(),
        )?;
        map.end()
    }
}

/// Credentials sent as `Authorization: <type> <credentials>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The scheme word, `Bearer` by default.
    pub kind: String,
    /// The credentials, inline or read from `credentials_file` at load time.
    pub credentials: Option<SecretSource>,
}

impl Serialize for Authorization {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.kind)?;
        serialize_secret(
            &mut map,
            ("credentials", "credentials_file"),
            self.credentials.as_ref(),
        )?;
        map.end()
    }
}

/// TLS settings. Files are resolved against the config directory and checked to be readable at
/// load time; the scrape client reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsConfig {
    /// CA certificates to verify the server with (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM); set together with `key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM); set together with `cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Server name to verify, instead of the target's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Do not verify the server certificate.
    pub insecure_skip_verify: bool,
}

/// Builds a job from its raw form, reporting every problem; defaults come from `global`.
pub(crate) fn resolve(
    raw: At<RawScrapeConfig>,
    index: usize,
    global: &GlobalConfig,
    cx: &mut Cx<'_>,
) -> ScrapeConfig {
    let raw_pos = raw.pos;
    let raw = raw.value;
    let job_name = raw.job_name.map(|n| n.value).unwrap_or_default();
    if job_name.is_empty() {
        let kind = ErrorKind::Missing {
            path: format!("scrape_configs[{index}].job_name"),
        };
        cx.error(raw_pos, kind);
    }
    let scope = Scope::Job(job_name.clone());
    let (scrape_interval, scrape_timeout) = validate::interval_and_timeout(
        raw.scrape_interval,
        raw.scrape_timeout,
        (global.scrape_interval, global.scrape_timeout),
        &scope,
        cx,
    );
    let scheme = match raw.scheme {
        None => Scheme::Http,
        Some(At { value, .. }) if value == "http" => Scheme::Http,
        Some(At { value, .. }) if value == "https" => Scheme::Https,
        Some(At { value, pos }) => {
            cx.error(
                pos,
                ErrorKind::UnknownScheme {
                    scheme: value,
                    scope: scope.clone(),
                },
            );
            Scheme::Http
        }
    };
    let static_configs = raw
        .static_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .map(|sc| static_config(sc.value, &scope, cx))
        .collect();
    let basic_auth = raw.basic_auth.map(|b| basic_auth(b.value, &scope, cx));
    let authorization = raw.authorization.map(|a| authorization(a, &scope, cx));
    if let (Some(_), Some(auth)) = (&basic_auth, &authorization) {
        let pos = auth.pos;
        let kind = ErrorKind::Conflict {
            first: "basic_auth",
            second: "authorization",
            scope: scope.clone(),
        };
        cx.error(pos, kind);
    }
    let tls_config = raw
        .tls_config
        .map(|t| tls_config(t.value, &scope, cx))
        .unwrap_or_default();
    let value_or = |field: Option<At<u64>>| field.map_or(0, |f| f.value);
    ScrapeConfig {
        job_name,
        scrape_interval,
        scrape_timeout,
        metrics_path: raw
            .metrics_path
            .map_or_else(|| "/metrics".to_owned(), |p| p.value),
        scheme,
        params: raw
            .params
            .map(|p| {
                p.value
                    .0
                    .into_iter()
                    .map(|(k, v)| (k.value, v.value))
                    .collect()
            })
            .unwrap_or_default(),
        static_configs,
        basic_auth,
        authorization: authorization.map(|a| a.value),
        tls_config,
        honor_labels: raw.honor_labels.is_some_and(|h| h.value),
        honor_timestamps: raw.honor_timestamps.is_none_or(|h| h.value),
        sample_limit: value_or(raw.sample_limit),
        body_size_limit: raw.body_size_limit.map_or(ByteSize(0), |b| b.value),
        label_limit: value_or(raw.label_limit),
        label_name_length_limit: value_or(raw.label_name_length_limit),
        label_value_length_limit: value_or(raw.label_value_length_limit),
    }
}

fn static_config(raw: RawStaticConfig, scope: &Scope, cx: &mut Cx<'_>) -> StaticConfig {
    let targets = validate::targets(raw.targets.map(|t| t.value).unwrap_or_default(), scope, cx);
    let place = format!("labels of {scope}");
    let labels = validate::labels(raw.labels.map(|l| l.value).unwrap_or_default(), &place, cx);
    StaticConfig { targets, labels }
}

pub(crate) fn basic_auth(raw: RawBasicAuth, scope: &Scope, cx: &mut Cx<'_>) -> BasicAuth {
    const FIELDS: SecretFields = SecretFields {
        inline: "basic_auth.password",
        file: "basic_auth.password_file",
    };
    let password = load_secret(raw.password, raw.password_file, &FIELDS, scope, cx);
    BasicAuth {
        username: raw.username.map(|u| u.value).unwrap_or_default(),
        password,
    }
}

pub(crate) fn authorization(raw: At<RawAuthorization>, scope: &Scope, cx: &mut Cx<'_>) -> At<Authorization> {
    const FIELDS: SecretFields = SecretFields {
        inline: "authorization.credentials",
        file: "authorization.credentials_file",
    };
    let pos = raw.pos;
    let raw = raw.value;
    let mut kind = "Bearer".to_owned();
    if let Some(At { value, pos }) = raw.kind {
        let trimmed = value.trim();
        if trimmed.eq_ignore_ascii_case("basic") {
            let error = ErrorKind::BasicAuthorizationType {
                kind: value.clone(),
                scope: scope.clone(),
            };
            cx.error(pos, error);
        } else if !trimmed.is_empty() {
            kind = trimmed.to_owned();
        }
    }
    let credentials = load_secret(raw.credentials, raw.credentials_file, &FIELDS, scope, cx);
    At {
        value: Authorization { kind, credentials },
        pos,
    }
}

pub(crate) fn tls_config(raw: RawTlsConfig, scope: &Scope, cx: &mut Cx<'_>) -> TlsConfig {
    let file = |field: Option<At<String>>, name: &'static str, cx: &mut Cx<'_>| {
        let field = field?;
        let path = resolve_path(cx.dir, &field.value);
        match std::fs::File::open(&path) {
            Ok(_) => Some(path),
            Err(source) => {
                cx.error(
                    field.pos,
                    ErrorKind::File {
                        field: name,
                        path,
                        source,
                    },
                );
                None
            }
        }
    };
    let cert_pos = raw.cert_file.as_ref().map(|c| c.pos);
    let key_pos = raw.key_file.as_ref().map(|k| k.pos);
    let config = TlsConfig {
        ca_file: file(raw.ca_file, "tls_config.ca_file", cx),
        cert_file: file(raw.cert_file, "tls_config.cert_file", cx),
        key_file: file(raw.key_file, "tls_config.key_file", cx),
        server_name: raw.server_name.map(|s| s.value),
        insecure_skip_verify: raw.insecure_skip_verify.is_some_and(|i| i.value),
    };
    match (cert_pos, key_pos) {
        (Some(pos), None) => {
            let kind = ErrorKind::Requires {
                present: "tls_config.cert_file",
                missing: "tls_config.key_file",
                scope: scope.clone(),
            };
            cx.error(pos, kind);
        }
        (None, Some(pos)) => {
            let kind = ErrorKind::Requires {
                present: "tls_config.key_file",
                missing: "tls_config.cert_file",
                scope: scope.clone(),
            };
            cx.error(pos, kind);
        }
        _ => {}
    }
    config
}
