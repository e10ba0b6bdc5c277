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

/// Checks a `scrape_protocols` list as Prometheus does: not empty, no name twice (ignoring
/// case). Elements that failed to decode were reported already.
pub(crate) fn validate_list(
    raw: At<Vec<At<ScrapeProtocol>>>,
    path: &str,
    cx: &mut Cx<'_>,
) -> Option<Vec<ScrapeProtocol>> {
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
