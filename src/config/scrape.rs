//! `scrape_configs`: what to scrape, how often, and with which credentials.

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::global::GlobalConfig;
use super::http::{
    self, Authorization, BasicAuth, RawAuthorization, RawBasicAuth, RawTlsConfig, TlsConfig,
};
use super::relabel::{self, RawRelabelConfig};
use super::scrape_protocol::{self, ScrapeProtocol};
use super::sd::{self, FileSdConfig, HttpSdConfig, RawFileSdConfig, RawHttpSdConfig};
use super::sd_dns::{self, DnsSdConfig, RawDnsSdConfig};
use super::sd_kubernetes::{self, KubernetesSdConfig, RawKubernetesSdConfig};
use super::size::ByteSize;
use super::validate;
use crate::model::relabel::RelabelConfig;
use serde::ser::Serializer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

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
        file_sd_configs: Vec<At<RawFileSdConfig>>,
        http_sd_configs: Vec<At<RawHttpSdConfig>>,
        kubernetes_sd_configs: Vec<At<RawKubernetesSdConfig>>,
        dns_sd_configs: Vec<At<RawDnsSdConfig>>,
        keep_dropped_targets: u64,
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
        series_limit: u64,
        target_limit: u64,
        scrape_protocols: Vec<At<String>>,
        fallback_scrape_protocol: ScrapeProtocol,
        enable_compression: bool,
        track_timestamps_staleness: bool,
        always_scrape_classic_histograms: bool,
        scrape_classic_histograms: bool,
        scrape_native_histograms: bool,
        follow_redirects: bool,
        enable_http2: bool,
        relabel_configs: Vec<At<RawRelabelConfig>>,
        metric_relabel_configs: Vec<At<RawRelabelConfig>>,
    }
}

yaml_section! {
    /// One `static_configs` entry as written.
    pub(crate) struct RawStaticConfig {
        targets: Vec<At<String>>,
        labels: Entries<String>,
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
    /// Target groups read from files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Target groups fetched over HTTP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Targets listed and watched from the Kubernetes API.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    /// Targets from DNS records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// Most dropped targets kept for `/api/v1/targets`; 0 means no limit.
    pub keep_dropped_targets: u64,
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
    /// Most series of one target the buffer holds at once (VictoriaMetrics' `series_limit`);
    /// new series beyond it are dropped and counted, the rest of the scrape is kept. 0 means no
    /// limit (the default).
    pub series_limit: u64,
    /// Most targets the job may have after relabeling; above it no target of the job is
    /// scraped and each reports the error, as in Prometheus. 0 means no limit.
    pub target_limit: u64,
    /// The formats asked for, in order of preference (the `Accept` header); default
    /// `global.scrape_protocols`.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// The format used when a target's `Content-Type` is missing, unparseable or unknown;
    /// without it such a scrape fails, as in Prometheus 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Ask for gzip (`Accept-Encoding: gzip`, the default) or for `identity`.
    pub enable_compression: bool,
    /// Write staleness markers for series that carried their own timestamps when they
    /// disappear (default false).
    pub track_timestamps_staleness: bool,
    /// Accepted for Prometheus compatibility: watchfire scrapes the text formats, whose
    /// histograms are always classic, so this changes nothing.
    pub always_scrape_classic_histograms: bool,
    /// Follow HTTP redirects (up to 10; default true).
    pub follow_redirects: bool,
    /// Offer HTTP/2 (negotiated over TLS; default true); false speaks HTTP/1.1 only.
    pub enable_http2: bool,
    /// Target relabeling (`relabel_configs`), applied to discovered target labels.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "relabel::serialize_rules"
    )]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Metric relabeling (`metric_relabel_configs`), applied to each scraped series before it
    /// is stored; the outcome is cached per series.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "relabel::serialize_rules"
    )]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

impl ScrapeConfig {
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

/// Builds a job from its raw form, reporting every problem; defaults come from `global`.
pub(crate) fn resolve(
    raw: At<RawScrapeConfig>,
    index: usize,
    global: &GlobalConfig,
    cx: &mut Cx<'_>,
) -> ScrapeConfig {
    let raw_pos = raw.pos;
    let raw = raw.value;
    // A job_name that failed to decode was reported already.
    let failed = raw.job_name.is_none() && raw.has("job_name");
    let job_name = raw.job_name.map(|n| n.value).unwrap_or_default();
    if job_name.is_empty() && !failed {
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
    let file_sd_configs = raw
        .file_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            sd::file_sd(
                f,
                &format!("scrape_configs[{index}].file_sd_configs[{i}]"),
                cx,
            )
        })
        .collect();
    let http_sd_configs = raw
        .http_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let path = format!("scrape_configs[{index}].http_sd_configs[{i}]");
            sd::http_sd(h, &path, &scope, cx)
        })
        .collect();
    let kubernetes_sd_configs = raw
        .kubernetes_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let path = format!("scrape_configs[{index}].kubernetes_sd_configs[{i}]");
            sd_kubernetes::kubernetes_sd(k, &path, &scope, cx)
        })
        .collect();
    let dns_sd_configs = raw
        .dns_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            sd_dns::dns_sd(
                d,
                &format!("scrape_configs[{index}].dns_sd_configs[{i}]"),
                cx,
            )
        })
        .collect();
    let basic_auth = raw
        .basic_auth
        .map(|b| http::basic_auth(b.value, &scope, cx));
    let authorization = raw
        .authorization
        .map(|a| http::authorization(a, &scope, cx));
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
        .map(|t| http::tls_config(t.value, &scope, cx))
        .unwrap_or_default();
    // A job's limit of 0 (or none) takes the global one, as Prometheus' `Validate` does.
    let limit = |field: Option<At<u64>>, global: u64| match field.map_or(0, |f| f.value) {
        0 => global,
        n => n,
    };
    let value_or = |field: Option<At<u64>>| field.map_or(0, |f| f.value);
    let scrape_protocols = raw
        .scrape_protocols
        .and_then(|p| {
            let path = format!("scrape_configs[{index}].scrape_protocols");
            scrape_protocol::validate_list(p, &path, cx)
        })
        .unwrap_or_else(|| global.scrape_protocols.clone());
    if let Some(native) = raw.scrape_native_histograms.as_ref().filter(|n| n.value) {
        let kind = ErrorKind::NotSupported {
            path: format!("scrape_configs[{index}].scrape_native_histograms"),
            reason: "native histograms are not supported (watchfire scrapes the text formats, \
                     whose histograms are classic); remove the key or set it to false"
                .to_owned(),
        };
        cx.error(native.pos, kind);
    }
    let body_size_limit = match raw.body_size_limit.map_or(ByteSize(0), |b| b.value) {
        ByteSize(0) => global.body_size_limit,
        b => b,
    };
    let relabel_configs = relabel::relabel_configs(
        raw.relabel_configs,
        &format!("scrape_configs[{index}].relabel_configs"),
        cx,
    );
    let metric_relabel_configs = relabel::relabel_configs(
        raw.metric_relabel_configs,
        &format!("scrape_configs[{index}].metric_relabel_configs"),
        cx,
    );
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
        file_sd_configs,
        http_sd_configs,
        kubernetes_sd_configs,
        dns_sd_configs,
        keep_dropped_targets: limit(raw.keep_dropped_targets, global.keep_dropped_targets),
        basic_auth,
        authorization: authorization.map(|a| a.value),
        tls_config,
        honor_labels: raw.honor_labels.is_some_and(|h| h.value),
        honor_timestamps: raw.honor_timestamps.is_none_or(|h| h.value),
        sample_limit: limit(raw.sample_limit, global.sample_limit),
        body_size_limit,
        label_limit: limit(raw.label_limit, global.label_limit),
        label_name_length_limit: limit(raw.label_name_length_limit, global.label_name_length_limit),
        label_value_length_limit: limit(
            raw.label_value_length_limit,
            global.label_value_length_limit,
        ),
        series_limit: value_or(raw.series_limit),
        target_limit: limit(raw.target_limit, global.target_limit),
        scrape_protocols,
        fallback_scrape_protocol: raw.fallback_scrape_protocol.map(|f| f.value),
        enable_compression: raw.enable_compression.is_none_or(|e| e.value),
        track_timestamps_staleness: raw.track_timestamps_staleness.is_some_and(|t| t.value),
        always_scrape_classic_histograms: raw
            .always_scrape_classic_histograms
            .or(raw.scrape_classic_histograms)
            .map_or(global.always_scrape_classic_histograms, |a| a.value),
        follow_redirects: raw.follow_redirects.is_none_or(|f| f.value),
        enable_http2: raw.enable_http2.is_none_or(|e| e.value),
        relabel_configs,
        metric_relabel_configs,
    }
}

fn static_config(raw: RawStaticConfig, scope: &Scope, cx: &mut Cx<'_>) -> StaticConfig {
    let targets = validate::targets(raw.targets.map(|t| t.value).unwrap_or_default(), scope, cx);
    let place = format!("labels of {scope}");
    let labels = validate::labels(raw.labels.map(|l| l.value).unwrap_or_default(), &place, cx);
    StaticConfig { targets, labels }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_with_env, Config};
    use std::path::Path;

    fn env(name: &str) -> Option<String> {
        (name == "NODE_HOST").then(|| "db1".to_owned())
    }

    fn load(text: &str) -> Config {
        parse_with_env(text, "c.yml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors_in(text: &str, dir: &Path) -> Vec<String> {
        let path = dir.join("c.yml");
        match parse_with_env(text, &path, &env) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .lines()
                .into_iter()
                .map(|l| l.replace(&dir.display().to_string(), "DIR"))
                .collect(),
        }
    }

    fn errors(text: &str) -> Vec<String> {
        errors_in(text, Path::new("/nonexistent-config-dir"))
    }

    #[test]
    fn defaults_follow_prometheus() {
        let config =
            load("scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h:1']}]\n");
        let job = &config.scrape_configs[0];
        assert_eq!(job.job_name, "a");
        assert_eq!(job.scrape_interval, PromDuration::from_secs(60));
        assert_eq!(job.scrape_timeout, PromDuration::from_secs(10));
        assert_eq!(job.metrics_path, "/metrics");
        assert_eq!(job.scheme, Scheme::Http);
        assert!(job.honor_timestamps && !job.honor_labels);
        assert_eq!(
            (job.sample_limit, job.body_size_limit, job.label_limit),
            (0, ByteSize(0), 0)
        );
        assert!(job.basic_auth.is_none() && job.authorization.is_none());
        assert_eq!(job.tls_config, TlsConfig::default());
        assert_eq!(
            job.targets().collect::<Vec<_>>(),
            [("h:1", &BTreeMap::new())]
        );
    }

    #[test]
    fn short_global_interval_caps_the_timeout() {
        let config = load(
            "global: {scrape_interval: 5s}\nscrape_configs:\n- job_name: a\n- job_name: b\n  \
             scrape_interval: 1m\n- job_name: c\n  scrape_interval: 2s\n",
        );
        let got: Vec<_> = config
            .scrape_configs
            .iter()
            .map(|j| (j.scrape_interval.to_string(), j.scrape_timeout.to_string()))
            .collect();
        // Prometheus: the job timeout defaults to the global timeout (5s here), capped at the
        // job's interval.
        let want = [("5s", "5s"), ("1m", "5s"), ("2s", "2s")];
        assert_eq!(got, want.map(|(i, t)| (i.to_owned(), t.to_owned())));
    }

    #[test]
    fn every_field_is_read() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(dir.path().join(name), "pem").unwrap();
        }
        std::fs::write(dir.path().join("token"), "tok\n").unwrap();
        let text = "scrape_configs:\n- job_name: full\n  scrape_interval: 30s\n  scrape_timeout: 20s\n  \
            metrics_path: /probe\n  scheme: https\n  params: {module: [http_2xx, x], target: [a]}\n  \
            static_configs:\n  - targets: ['${NODE_HOST}:9100', '[::1]:9100']\n    labels: {env: prod}\n  \
            - targets: ['h:2']\n  authorization: {credentials_file: token}\n  \
            tls_config: {ca_file: ca.pem, cert_file: cert.pem, key_file: key.pem, server_name: s, \
            insecure_skip_verify: true}\n  honor_labels: true\n  honor_timestamps: false\n  \
            sample_limit: 1000\n  body_size_limit: 10MB\n  label_limit: 30\n  \
            label_name_length_limit: 200\n  label_value_length_limit: 500\n  series_limit: 5000\n";
        let config = parse_with_env(text, dir.path().join("c.yml"), &env).unwrap();
        let job = &config.scrape_configs[0];
        assert_eq!(job.scrape_interval, PromDuration::from_secs(30));
        assert_eq!(job.scrape_timeout, PromDuration::from_secs(20));
        assert_eq!(job.metrics_path, "/probe");
        assert_eq!(job.scheme, Scheme::Https);
        assert_eq!(job.params["module"], ["http_2xx", "x"]);
        assert_eq!(job.static_configs[0].targets, ["db1:9100", "[::1]:9100"]);
        assert_eq!(job.static_configs[0].labels["env"], "prod");
        assert_eq!(job.targets().count(), 3);
        let auth = job.authorization.as_ref().unwrap();
        assert_eq!(auth.kind, "Bearer");
        let credentials = auth.credentials.as_ref().unwrap();
        assert_eq!(credentials.secret().expose(), "tok");
        assert_eq!(credentials.file(), Some(dir.path().join("token").as_path()));
        assert_eq!(
            job.tls_config.ca_file.as_deref(),
            Some(dir.path().join("ca.pem").as_path())
        );
        assert_eq!(job.tls_config.server_name.as_deref(), Some("s"));
        assert!(job.tls_config.insecure_skip_verify);
        assert!(job.honor_labels && !job.honor_timestamps);
        assert_eq!(job.sample_limit, 1000);
        assert_eq!(job.series_limit, 5000);
        assert_eq!(job.body_size_limit, ByteSize(10 << 20));
        assert_eq!(
            (
                job.label_limit,
                job.label_name_length_limit,
                job.label_value_length_limit
            ),
            (30, 200, 500)
        );
    }

    #[test]
    fn missing_job_name_and_bad_types() {
        let text =
            "scrape_configs:\n- scrape_interval: 5s\n- job_name: x\n  honor_labels: maybe\n  \
                    static_configs: [{targets: 'h:1'}]\n  sample_limit: 1.5\n";
        assert_eq!(
            errors(text),
            [
                "DIR/c.yml:2:3: scrape_configs[0].job_name is required",
                "DIR/c.yml:4:17: scrape_configs[1].honor_labels: expected a boolean (true or false), found a string",
                "DIR/c.yml:5:30: scrape_configs[1].static_configs[0].targets: expected a list, found a string",
                "DIR/c.yml:6:17: scrape_configs[1].sample_limit: expected a non-negative integer, found a number",
            ]
        );
    }
}
