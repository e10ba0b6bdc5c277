//! `remote_write:` — Prometheus' section, in the Prometheus-side file: where watchfire sends
//! every sample it appends (scraped, recording rules, `ALERTS`, `ALERTS_FOR_STATE`).
//!
//! ```yaml
//! remote_write:
//! - url: http://tsdb:9090/api/v1/write   # required, http(s)
//!   name: central                        # unique; default: a hash of the url
//!   remote_timeout: 30s
//!   headers: {X-Scope-OrgID: team-a}     # not the protocol's own headers
//!   basic_auth: {username: u, password_file: pw}   # or authorization: {credentials: ..}
//!   tls_config: {ca_file: ca.pem}
//!   write_relabel_configs: [...]         # after external_labels are added
//!   protobuf_message: prometheus.WriteRequest      # or io.prometheus.write.v2.Request
//!   send_exemplars: false                # accepted; the buffer holds no exemplars
//!   send_native_histograms: false        # accepted; the buffer holds no native histograms
//!   queue_config:   # capacity 10000, max_shards 50, min_shards 1, max_samples_per_send 2000,
//!                   # batch_send_deadline 5s, min_backoff 30ms, max_backoff 5s,
//!                   # retry_on_http_429 true, sample_age_limit 0s (only 0s)
//!   metadata_config: {send: true, send_interval: 1m, max_samples_per_send: 2000}  # accepted
//! ```
//!
//! `oauth2`, `sigv4`, `azuread`, `google_iam`, proxies, `follow_redirects`, `enable_http2`
//! and `round_robin_dns` are refused by name (`decode::UNSUPPORTED_KEYS`).

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::{
    self, resolve_headers, serialize_redacted_headers, Authorization, BasicAuth, RawAuthorization,
    RawBasicAuth, RawTlsConfig, TlsConfig,
};
use super::node::Pos;
use super::relabel::{self, RawRelabelConfig};
use crate::model::relabel::RelabelConfig;
use serde::ser::Serializer;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

yaml_section! {
    /// One `remote_write` entry as written.
    pub(crate) struct RawRemoteWrite {
        url: String,
        name: String,
        remote_timeout: PromDuration,
        headers: Entries<String>,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        tls_config: RawTlsConfig,
        write_relabel_configs: Vec<At<RawRelabelConfig>>,
        send_exemplars: bool,
        send_native_histograms: bool,
        protobuf_message: String,
        queue_config: RawQueueConfig,
        metadata_config: RawMetadataConfig,
    }
}

yaml_section! {
    /// `queue_config` as written.
    pub(crate) struct RawQueueConfig {
        capacity: u64,
        max_shards: u64,
        min_shards: u64,
        max_samples_per_send: u64,
        batch_send_deadline: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
        retry_on_http_429: bool,
        sample_age_limit: PromDuration,
    }
}

yaml_section! {
    /// `metadata_config` as written.
    pub(crate) struct RawMetadataConfig {
        send: bool,
        send_interval: PromDuration,
        max_samples_per_send: u64,
    }
}

/// Which message a queue sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProtobufMessage {
    /// `prometheus.WriteRequest`: Remote Write 1.0.
    #[default]
    V1,
    /// `io.prometheus.write.v2.Request`: Remote Write 2.0.
    V2,
}

impl ProtobufMessage {
    /// The name as written in the configuration (and in RW 2.0's content type).
    pub fn as_str(self) -> &'static str {
        match self {
            ProtobufMessage::V1 => "prometheus.WriteRequest",
            ProtobufMessage::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

impl Serialize for ProtobufMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `queue_config`, with Prometheus' defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueueConfig {
    /// Samples buffered per shard before reading more (Prometheus: 10000).
    pub capacity: u64,
    /// Most shards (50).
    pub max_shards: u64,
    /// Fewest shards (1).
    pub min_shards: u64,
    /// Samples per request (2000).
    pub max_samples_per_send: u64,
    /// Longest a sample waits in a shard for its batch to fill (5s).
    pub batch_send_deadline: PromDuration,
    /// First retry delay (30ms), doubled up to `max_backoff`.
    pub min_backoff: PromDuration,
    /// Longest retry delay (5s).
    pub max_backoff: PromDuration,
    /// Retry answers 429 (true).
    pub retry_on_http_429: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: PromDuration::from_secs(5),
            min_backoff: PromDuration::from_millis(30),
            max_backoff: PromDuration::from_secs(5),
            retry_on_http_429: true,
        }
    }
}

/// `metadata_config` (accepted; watchfire sends no metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetadataConfig {
    /// Send metadata (true).
    pub send: bool,
    /// How often (1m).
    pub send_interval: PromDuration,
    /// Per request (2000).
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: PromDuration::from_secs(60),
            max_samples_per_send: 2_000,
        }
    }
}

/// One remote-write endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoteWriteConfig {
    /// Where requests go.
    pub url: String,
    /// The queue's name (`remote_name` in metrics); a hash of the URL when not written.
    pub name: String,
    /// Per-request timeout (30s).
    pub remote_timeout: PromDuration,
    /// Extra request headers; values print as `<secret>`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "serialize_redacted_headers"
    )]
    pub headers: BTreeMap<String, String>,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Relabeling of each series after `external_labels` are added.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "relabel::serialize_rules"
    )]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// Accepted; the buffer holds no exemplars.
    pub send_exemplars: bool,
    /// Accepted; the buffer holds no native histograms.
    pub send_native_histograms: bool,
    /// Remote Write 1.0 or 2.0.
    pub protobuf_message: ProtobufMessage,
    /// Queue settings.
    pub queue_config: QueueConfig,
    /// Accepted; no metadata is sent.
    pub metadata_config: MetadataConfig,
}

impl RemoteWriteConfig {
    /// The name of a queue written without one: six hex digits of a hash of its URL (Prometheus
    /// uses a hash of the whole section).
    pub fn default_name(url: &str) -> String {
        // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in url.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{:06x}", h & 0xff_ffff)
    }
}

/// Headers the protocol sets itself (Prometheus' `reservedHeaders`).
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-prometheus-scrape-timeout-seconds",
];

/// Resolves the `remote_write` list with Prometheus' defaults and checks.
pub(crate) fn resolve(
    raw: Option<At<Vec<At<RawRemoteWrite>>>>,
    cx: &mut Cx<'_>,
) -> Vec<RemoteWriteConfig> {
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut out = Vec::new();
    for (i, entry) in raw
        .map(|r| r.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let pos = entry.pos;
        let raw = entry.value;
        let path = format!("remote_write[{i}]");
        let invalid = |cx: &mut Cx<'_>, pos: Pos, field: &str, message: String| {
            let path = format!("{path}.{field}");
            cx.error(pos, ErrorKind::InvalidValue { path, message });
        };
        let url = match raw.url {
            None => {
                invalid(cx, pos, "url", "url for remote_write is empty".to_owned());
                String::new()
            }
            Some(At { value, pos }) => {
                if let Some(message) = http::http_url_problem(&value) {
                    invalid(cx, pos, "url", message);
                }
                value
            }
        };
        let (name, explicit) = match raw.name {
            Some(n) if !n.value.is_empty() => (n, true),
            _ => {
                let value = RemoteWriteConfig::default_name(&url);
                (At { value, pos }, false)
            }
        };
        if let Some(first) = seen.get(&name.value) {
            let message = if explicit {
                format!(
                    "found multiple remote write configs with job name {:?} (first at line {})",
                    name.value, first.line
                )
            } else {
                format!(
                    "duplicate remote write configs are not allowed, found duplicate for URL: {url}"
                )
            };
            invalid(cx, name.pos, "name", message);
        } else {
            seen.insert(name.value.clone(), name.pos);
        }
        let name = name.value;
        let scope = Scope::Section(format!("remote_write {name:?}"));
        let basic_auth = raw
            .basic_auth
            .map(|b| http::basic_auth(b.value, &scope, cx));
        let authorization = raw
            .authorization
            .map(|a| http::authorization(a, &scope, cx));
        if let (Some(_), Some(auth)) = (&basic_auth, &authorization) {
            let kind = ErrorKind::Conflict {
                first: "basic_auth",
                second: "authorization",
                scope: scope.clone(),
            };
            cx.error(auth.pos, kind);
        }
        let tls_config = raw
            .tls_config
            .map(|t| http::tls_config(t.value, &scope, cx))
            .unwrap_or_default();
        let headers = resolve_headers(raw.headers, &scope, RESERVED_HEADERS, cx);
        let remote_timeout = positive(
            raw.remote_timeout,
            PromDuration::from_secs(30),
            &format!("{path}.remote_timeout"),
            cx,
        );
        let write_relabel_configs = relabel::relabel_configs(
            raw.write_relabel_configs,
            &format!("{path}.write_relabel_configs"),
            cx,
        );
        let protobuf_message = match raw.protobuf_message {
            None => ProtobufMessage::V1,
            Some(At { value, pos }) => match value.as_str() {
                "prometheus.WriteRequest" => ProtobufMessage::V1,
                "io.prometheus.write.v2.Request" => ProtobufMessage::V2,
                other => {
                    let message = format!(
                        "unknown remote write protobuf message {other}, supported: \
                         prometheus.WriteRequest, io.prometheus.write.v2.Request"
                    );
                    invalid(cx, pos, "protobuf_message", message);
                    ProtobufMessage::V1
                }
            },
        };
        let queue_config = raw
            .queue_config
            .map(|q| queue_config(q.value, &format!("{path}.queue_config"), cx))
            .unwrap_or_default();
        let metadata_config = raw
            .metadata_config
            .map(|m| {
                let d = MetadataConfig::default();
                MetadataConfig {
                    send: m.value.send.map_or(d.send, |s| s.value),
                    send_interval: m.value.send_interval.map_or(d.send_interval, |s| s.value),
                    max_samples_per_send: m
                        .value
                        .max_samples_per_send
                        .map_or(d.max_samples_per_send, |s| s.value),
                }
            })
            .unwrap_or_default();
        out.push(RemoteWriteConfig {
            url,
            name,
            remote_timeout,
            headers,
            basic_auth,
            authorization: authorization.map(|a| a.value),
            tls_config,
            write_relabel_configs,
            send_exemplars: raw.send_exemplars.is_some_and(|f| f.value),
            send_native_histograms: raw.send_native_histograms.is_some_and(|f| f.value),
            protobuf_message,
            queue_config,
            metadata_config,
        });
    }
    out
}

/// A duration that must be above zero, or `default` when unset.
fn positive(
    raw: Option<At<PromDuration>>,
    default: PromDuration,
    path: &str,
    cx: &mut Cx<'_>,
) -> PromDuration {
    match raw {
        None => default,
        Some(At { value, pos }) if value == PromDuration::ZERO => {
            let kind = ErrorKind::InvalidValue {
                path: path.to_owned(),
                message: "must be greater than 0s".to_owned(),
            };
            cx.error(pos, kind);
            default
        }
        Some(d) => d.value,
    }
}

/// `queue_config` with Prometheus' defaults; counts above zero, `min_shards` not above
/// `max_shards`, `min_backoff` not above `max_backoff`.
fn queue_config(raw: RawQueueConfig, path: &str, cx: &mut Cx<'_>) -> QueueConfig {
    let d = QueueConfig::default();
    let count = |v: Option<At<u64>>, default: u64, field: &str, cx: &mut Cx<'_>| match v {
        None => default,
        Some(At { value: 0, pos }) => {
            let kind = ErrorKind::InvalidValue {
                path: format!("{path}.{field}"),
                message: "must be greater than 0".to_owned(),
            };
            cx.error(pos, kind);
            default
        }
        Some(At { value, .. }) => value,
    };
    let capacity = count(raw.capacity, d.capacity, "capacity", cx);
    let max_shards = count(raw.max_shards, d.max_shards, "max_shards", cx);
    let min_shards_pos = raw.min_shards.as_ref().map(|m| m.pos);
    let min_shards = count(raw.min_shards, d.min_shards, "min_shards", cx);
    let max_samples_per_send = count(
        raw.max_samples_per_send,
        d.max_samples_per_send,
        "max_samples_per_send",
        cx,
    );
    if min_shards > max_shards {
        if let Some(pos) = min_shards_pos {
            let kind = ErrorKind::InvalidValue {
                path: format!("{path}.min_shards"),
                message: format!("must not be greater than max_shards ({max_shards})"),
            };
            cx.error(pos, kind);
        }
    }
    let batch_send_deadline = positive(
        raw.batch_send_deadline,
        d.batch_send_deadline,
        &format!("{path}.batch_send_deadline"),
        cx,
    );
    let min_backoff = raw.min_backoff.as_ref().map_or(d.min_backoff, |b| b.value);
    let max_backoff = raw.max_backoff.as_ref().map_or(d.max_backoff, |b| b.value);
    if min_backoff > max_backoff {
        let pos = raw.min_backoff.as_ref().or(raw.max_backoff.as_ref());
        if let Some(p) = pos {
            let kind = ErrorKind::InvalidValue {
                path: format!("{path}.min_backoff"),
                message: format!("{min_backoff} is greater than max_backoff {max_backoff}"),
            };
            cx.error(p.pos, kind);
        }
    }
    if let Some(limit) = raw
        .sample_age_limit
        .filter(|l| l.value != PromDuration::ZERO)
    {
        let kind = ErrorKind::InvalidValue {
            path: format!("{path}.sample_age_limit"),
            message: "only 0s is supported (watchfire keeps unsent batches on disk instead, \
                      bounded by --storage.remote-write.max-bytes)"
                .to_owned(),
        };
        cx.error(limit.pos, kind);
    }
    QueueConfig {
        capacity,
        max_shards,
        min_shards,
        max_samples_per_send,
        batch_send_deadline,
        min_backoff,
        max_backoff,
        retry_on_http_429: raw.retry_on_http_429.is_none_or(|r| r.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_with_env;

    fn env(_: &str) -> Option<String> {
        None
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_with_env(text, "c.yml", &env) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let c = parse_with_env(
            "remote_write:\n- url: http://127.0.0.1:9090/api/v1/write\n",
            "c.yml",
            &env,
        )
        .unwrap();
        let rw = &c.remote_write[0];
        assert_eq!(rw.remote_timeout, PromDuration::from_secs(30));
        assert_eq!(rw.protobuf_message, ProtobufMessage::V1);
        assert_eq!(rw.queue_config, QueueConfig::default());
        let q = &rw.queue_config;
        assert_eq!(
            (
                q.capacity,
                q.max_shards,
                q.min_shards,
                q.max_samples_per_send
            ),
            (10_000, 50, 1, 2_000)
        );
        assert_eq!(q.batch_send_deadline, PromDuration::from_secs(5));
        assert_eq!(q.min_backoff, PromDuration::from_millis(30));
        assert_eq!(q.max_backoff, PromDuration::from_secs(5));
        assert!(q.retry_on_http_429);
        assert_eq!(rw.metadata_config, MetadataConfig::default());
        assert_eq!(
            rw.name,
            RemoteWriteConfig::default_name("http://127.0.0.1:9090/api/v1/write")
        );
        assert_eq!(rw.name.len(), 6);
    }

    #[test]
    fn every_key_is_read() {
        let c = parse_with_env(
            "remote_write:\n- url: https://vm:8428/api/v1/write\n  name: vm\n  \
             remote_timeout: 5s\n  headers: {X-Scope-OrgID: tenant-xyz}\n  \
             authorization: {credentials: s3cret}\n  \
             write_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]\n  \
             protobuf_message: io.prometheus.write.v2.Request\n  send_exemplars: true\n  \
             queue_config: {capacity: 500, max_shards: 3, min_shards: 2, \
             max_samples_per_send: 100, batch_send_deadline: 1s, min_backoff: 10ms, \
             max_backoff: 1s, retry_on_http_429: false, sample_age_limit: 0s}\n  \
             metadata_config: {send: false}\n",
            "c.yml",
            &env,
        )
        .unwrap();
        let rw = &c.remote_write[0];
        assert_eq!(rw.name, "vm");
        assert_eq!(rw.remote_timeout, PromDuration::from_secs(5));
        assert_eq!(rw.headers["X-Scope-OrgID"], "tenant-xyz");
        assert_eq!(rw.protobuf_message, ProtobufMessage::V2);
        assert_eq!(rw.write_relabel_configs.len(), 1);
        assert!(rw.send_exemplars);
        assert_eq!(rw.queue_config.max_shards, 3);
        assert_eq!(rw.queue_config.max_samples_per_send, 100);
        assert_eq!(rw.queue_config.min_backoff, PromDuration::from_millis(10));
        assert!(!rw.queue_config.retry_on_http_429);
        assert!(!rw.metadata_config.send);
        let shown = c.redacted_yaml();
        assert!(
            !shown.contains("s3cret") && !shown.contains("tenant-xyz"),
            "{shown}"
        );
        assert!(
            shown.contains("protobuf_message: io.prometheus.write.v2.Request"),
            "{shown}"
        );
    }

    #[test]
    fn every_problem_has_its_position() {
        let text = "remote_write:\n- name: a\n- url: ftp://x\n  name: a\n  \
                    protobuf_message: v3\n  headers: {User-Agent: me}\n  \
                    queue_config: {max_shards: 0, min_backoff: 10s, sample_age_limit: 1h}\n  \
                    oauth2: {client_id: x}\n  remote_timeout: 0s\n  sigv4: {}\n";
        assert_eq!(
            errors(text),
            [
                "c.yml:2:3: remote_write[0].url: url for remote_write is empty",
                "c.yml:3:8: remote_write[1].url: URL scheme must be 'http' or 'https'",
                "c.yml:4:9: remote_write[1].name: found multiple remote write configs with job name \"a\" (first at line 2)",
                "c.yml:5:21: remote_write[1].protobuf_message: unknown remote write protobuf message v3, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request",
                "c.yml:6:13: remote_write \"a\": User-Agent is a reserved header. It must not be changed",
                "c.yml:7:30: remote_write[1].queue_config.max_shards: must be greater than 0",
                "c.yml:7:46: remote_write[1].queue_config.min_backoff: 10s is greater than max_backoff 5s",
                "c.yml:7:69: remote_write[1].queue_config.sample_age_limit: only 0s is supported (watchfire keeps unsent batches on disk instead, bounded by --storage.remote-write.max-bytes)",
                "c.yml:8:3: remote_write[1].oauth2: OAuth 2.0 is not supported (use authorization or basic_auth)",
                "c.yml:9:19: remote_write[1].remote_timeout: must be greater than 0s",
                "c.yml:10:3: remote_write[1].sigv4: not supported (use authorization, basic_auth or headers)",
            ]
        );
    }

    #[test]
    fn unnamed_queues_with_one_url_are_duplicates() {
        assert_eq!(
            errors("remote_write:\n- url: http://a/w\n- url: http://a/w\n- url: http://b/w\n"),
            ["c.yml:3:3: remote_write[1].name: duplicate remote write configs are not allowed, found duplicate for URL: http://a/w"]
        );
    }

    #[test]
    fn remote_write_belongs_in_the_prometheus_file() {
        let dir = tempfile::tempdir().unwrap();
        let prom = dir.path().join("prometheus.yml");
        let am = dir.path().join("alertmanager.yml");
        std::fs::write(&prom, "remote_write:\n- url: http://a/w\n").unwrap();
        std::fs::write(&am, "route: {receiver: r}\nreceivers:\n- name: r\n").unwrap();
        let c = crate::config::load_files(&prom, Some(&am)).unwrap();
        assert_eq!(c.remote_write[0].url, "http://a/w");
        std::fs::write(
            &am,
            "route: {receiver: r}\nreceivers:\n- name: r\nremote_write: []\n",
        )
        .unwrap();
        let e = crate::config::load_files(&prom, Some(&am))
            .unwrap_err()
            .lines();
        assert!(
            e.iter()
                .any(|l| l.contains(":4:15: remote_write: belongs in the Prometheus")),
            "{e:?}"
        );
    }
}
