//! `scrape_protocols` and `fallback_scrape_protocol`: the exposition formats a job asks its
//! targets for, with Prometheus' names, defaults and validation messages (`config/config.go`).
//!
//! watchfire parses the text formats only, so `PrometheusProto` is refused by name at load.

use super::decode::{At, Cx, Decode};
use super::node::Node;
use serde::{Serialize, Serializer};
use std::fmt;

/// One exposition format a target may be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusText0.0.4`: `text/plain;version=0.0.4`.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`: `text/plain;version=1.0.0` (UTF-8 names, with `escaping`).
    PrometheusText1_0_0,
    /// `OpenMetricsText0.0.1`: `application/openmetrics-text;version=0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`: `application/openmetrics-text;version=1.0.0` (with `escaping`).
    OpenMetricsText1_0_0,
}

/// Every protocol name Prometheus knows, sorted as its error message lists them.
const KNOWN: [&str; 5] = [
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

impl ScrapeProtocol {
    /// Prometheus' default order: OpenMetrics first, then the Prometheus text format.
    pub const DEFAULTS: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The media type with its version, as Prometheus puts it in the `Accept` header.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// Whether the media type takes the `escaping` parameter (the formats that allow UTF-8
    /// names).
    pub fn takes_escaping(self) -> bool {
        matches!(
            self,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        )
    }

    /// Whether this is an OpenMetrics format (else the Prometheus text format).
    pub fn is_openmetrics(self) -> bool {
        matches!(
            self,
            ScrapeProtocol::OpenMetricsText0_0_1 | ScrapeProtocol::OpenMetricsText1_0_0
        )
    }

    /// The protocol named `name`, or why it is refused.
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "PrometheusText0.0.4" => ScrapeProtocol::PrometheusText0_0_4,
            "PrometheusText1.0.0" => ScrapeProtocol::PrometheusText1_0_0,
            "OpenMetricsText0.0.1" => ScrapeProtocol::OpenMetricsText0_0_1,
            "OpenMetricsText1.0.0" => ScrapeProtocol::OpenMetricsText1_0_0,
            "PrometheusProto" => {
                return Err(
                    "PrometheusProto is not supported (watchfire parses the text \
                            formats only: PrometheusText0.0.4, PrometheusText1.0.0, \
                            OpenMetricsText0.0.1, OpenMetricsText1.0.0)"
                        .to_owned(),
                )
            }
            _ => {
                return Err(format!(
                    "unknown scrape protocol {name}, supported: [{}]",
                    KNOWN.join(" ")
                ))
            }
        })
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ScrapeProtocol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Decode for ScrapeProtocol {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let name = cx.string(node, "a scrape protocol name such as PrometheusText0.0.4")?;
        ScrapeProtocol::parse(&name)
            .map_err(|e| cx.invalid(node.pos, e))
            .ok()
    }
}

/// Checks a `scrape_protocols` list as Prometheus does: not empty, every name known, no name
/// twice. Every problem is reported; `None` when there was one.
pub(crate) fn validate_list(
    raw: At<Vec<At<String>>>,
    path: &str,
    cx: &mut Cx<'_>,
) -> Option<Vec<ScrapeProtocol>> {
    let mut parsed = Vec::with_capacity(raw.value.len());
    let mut bad = false;
    for (i, name) in raw.value.iter().enumerate() {
        match ScrapeProtocol::parse(&name.value) {
            Ok(p) => parsed.push(At {
                value: p,
                pos: name.pos,
            }),
            Err(message) => {
                bad = true;
                let path = format!("{path}[{i}]");
                cx.error(name.pos, super::ErrorKind::InvalidValue { path, message });
            }
        }
    }
    if bad {
        return None;
    }
    let raw = At {
        value: parsed,
        pos: raw.pos,
    };
    if raw.value.is_empty() {
        cx.error(
            raw.pos,
            super::ErrorKind::InvalidValue {
                path: path.to_owned(),
                message: "scrape_protocols cannot be empty".to_owned(),
            },
        );
        return None;
    }
    let list: Vec<ScrapeProtocol> = raw.value.iter().map(|p| p.value).collect();
    for (i, p) in raw.value.iter().enumerate() {
        if list[..i].contains(&p.value) {
            let names: Vec<&str> = list.iter().map(|p| p.as_str()).collect();
            cx.error(
                p.pos,
                super::ErrorKind::InvalidValue {
                    path: path.to_owned(),
                    message: format!(
                        "duplicated protocol in scrape_protocols, got [{}]",
                        names.join(" ")
                    ),
                },
            );
            return None;
        }
    }
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_with_env, ByteSize, Config};

    fn env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Config {
        parse_with_env(text, "c.yml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(text: &str) -> Vec<String> {
        parse_with_env(text, "c.yml", &env)
            .map(|_| ())
            .unwrap_err()
            .lines()
    }

    #[test]
    fn scrape_options_default_and_inherit_as_prometheus() {
        let config = load(
            "global:\n  scrape_protocols: [PrometheusText0.0.4]\n  body_size_limit: 1MB\n  \
             sample_limit: 10\n  target_limit: 3\n  label_limit: 4\n  label_name_length_limit: 5\n  \
             label_value_length_limit: 6\n  keep_dropped_targets: 7\n  \
             always_scrape_classic_histograms: true\n\
             scrape_configs:\n- job_name: a\n- job_name: b\n  sample_limit: 0\n  label_limit: 40\n  \
             scrape_protocols: [OpenMetricsText1.0.0, PrometheusText1.0.0]\n  \
             fallback_scrape_protocol: OpenMetricsText0.0.1\n  enable_compression: false\n  \
             track_timestamps_staleness: true\n  scrape_classic_histograms: false\n  \
             scrape_native_histograms: false\n  follow_redirects: false\n  enable_http2: false\n",
        );
        let (a, b) = (&config.scrape_configs[0], &config.scrape_configs[1]);
        assert_eq!(a.scrape_protocols, [ScrapeProtocol::PrometheusText0_0_4]);
        assert_eq!(
            (
                a.body_size_limit,
                a.sample_limit,
                a.target_limit,
                a.label_limit
            ),
            (ByteSize(1 << 20), 10, 3, 4)
        );
        assert_eq!(
            (
                a.label_name_length_limit,
                a.label_value_length_limit,
                a.keep_dropped_targets
            ),
            (5, 6, 7)
        );
        assert!(a.enable_compression && !a.track_timestamps_staleness);
        assert!(a.always_scrape_classic_histograms);
        assert_eq!(a.fallback_scrape_protocol, None);
        // A job's 0 takes the global value, as Prometheus' `Validate` does.
        assert_eq!((b.sample_limit, b.label_limit), (10, 40));
        assert_eq!(
            b.scrape_protocols,
            [
                ScrapeProtocol::OpenMetricsText1_0_0,
                ScrapeProtocol::PrometheusText1_0_0
            ]
        );
        assert_eq!(
            b.fallback_scrape_protocol,
            Some(ScrapeProtocol::OpenMetricsText0_0_1)
        );
        assert!(!b.enable_compression && b.track_timestamps_staleness);
        assert!(!b.always_scrape_classic_histograms);
        assert!(a.follow_redirects && a.enable_http2);
        assert!(!b.follow_redirects && !b.enable_http2);
        let defaults = load("scrape_configs:\n- job_name: a\n");
        let job = &defaults.scrape_configs[0];
        assert_eq!(job.scrape_protocols, ScrapeProtocol::DEFAULTS);
        assert!(job.enable_compression);
        assert_eq!((job.target_limit, job.keep_dropped_targets), (0, 0));
    }

    #[test]
    fn bad_protocols_and_unsupported_keys_are_refused_by_name() {
        let text = "global:\n  scrape_protocols: []\n  query_log_file: q.log\n\
                    scrape_configs:\n- job_name: a\n  \
                    scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n  \
                    fallback_scrape_protocol: PrometheusProto\n  scrape_native_histograms: true\n  \
                    consul_sd_configs: [{server: x}]\n  oauth2: {client_id: x}\n  \
                    tls_config: {min_version: TLS10, max_version: TLS11}\n\
                    - job_name: b\n  scrape_protocols: [Nope]\n  tls_config: {max_version: TLS99}\n\
                    alerting:\n  alertmanagers:\n  - ec2_sd_configs: []\n\
                    storage: {exemplars: {}}\nruntime: {gogc: 1}\n";
        assert_eq!(
            errors(text),
            [
                "c.yml:2:21: global.scrape_protocols: scrape_protocols cannot be empty",
                "c.yml:3:3: global.query_log_file: the query log is not supported",
                "c.yml:6:43: scrape_configs[0].scrape_protocols: duplicated protocol in \
                 scrape_protocols, got [PrometheusText0.0.4 PrometheusText0.0.4]",
                "c.yml:7:29: scrape_configs[0].fallback_scrape_protocol: PrometheusProto is not \
                 supported (watchfire parses the text formats only: PrometheusText0.0.4, \
                 PrometheusText1.0.0, OpenMetricsText0.0.1, OpenMetricsText1.0.0)",
                "c.yml:8:29: scrape_configs[0].scrape_native_histograms: native histograms are \
                 not supported (watchfire scrapes the text formats, whose histograms are \
                 classic); remove the key or set it to false",
                "c.yml:9:3: scrape_configs[0].consul_sd_configs: consul service discovery is not \
                 supported",
                "c.yml:10:3: scrape_configs[0].oauth2: OAuth 2.0 is not supported (use \
                 authorization or basic_auth)",
                r#"c.yml:11:49: tls_config.max_version of job "a": TLS11 is not supported (watchfire speaks TLS 1.2 and 1.3)"#,
                "c.yml:13:22: scrape_configs[1].scrape_protocols[0]: unknown scrape protocol \
                 Nope, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto \
                 PrometheusText0.0.4 PrometheusText1.0.0]",
                r#"c.yml:14:29: tls_config.max_version of job "b": unknown TLS version: TLS99"#,
                "c.yml:17:5: alerting.alertmanagers[0].ec2_sd_configs: ec2 service discovery is \
                 not supported",
                "c.yml:18:11: storage.exemplars: not supported (watchfire keeps an in-memory \
                 window: see storage.retention and storage.max_series)",
                r#"c.yml:19:1: "runtime" is not supported yet"#,
            ]
        );
    }

    #[test]
    fn names_round_trip_and_proto_is_refused_by_name() {
        for p in ScrapeProtocol::DEFAULTS {
            assert_eq!(ScrapeProtocol::parse(p.as_str()), Ok(p));
        }
        let e = ScrapeProtocol::parse("PrometheusProto").unwrap_err();
        assert!(e.starts_with("PrometheusProto is not supported"), "{e}");
        assert_eq!(
            ScrapeProtocol::parse("prometheustext0.0.4").unwrap_err(),
            "unknown scrape protocol prometheustext0.0.4, supported: [OpenMetricsText0.0.1 \
             OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"
        );
        assert!(ScrapeProtocol::OpenMetricsText1_0_0.takes_escaping());
        assert!(!ScrapeProtocol::OpenMetricsText0_0_1.takes_escaping());
        assert!(ScrapeProtocol::OpenMetricsText0_0_1.is_openmetrics());
        assert!(!ScrapeProtocol::PrometheusText1_0_0.is_openmetrics());
    }
}
