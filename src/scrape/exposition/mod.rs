//! Streaming, zero-copy parser for the Prometheus text exposition format
//! (`text/plain; version=0.0.4` and `1.0.0`) and OpenMetrics 1.0 text
//! (`application/openmetrics-text`).
//!
//! The grammar and its quirks follow the Prometheus *server* parsers
//! (`model/textparse/promparse.go` and `openmetricsparse.go`), which are
//! more lenient than the client library's `expfmt` in the text format and
//! stricter in OpenMetrics. [`Parser`] yields [`Entry`] values that borrow
//! from the payload: a [`Sample`] exposes the raw `name{labels}` text as
//! [`Sample::series`] so a scrape loop can look a series up in its cache by
//! those bytes, and only decode the labels ([`Sample::labels`]) on a miss.
//!
//! ```
//! use watchfire::scrape::exposition::{Entry, Format, Parser};
//!
//! let payload = "# TYPE http_requests_total counter\n\
//!                http_requests_total{code=\"200\"} 1027 1395066363000\n";
//! let mut samples = 0;
//! for entry in Parser::new(payload.as_bytes(), Format::PrometheusText) {
//!     if let Entry::Sample(s) = entry.expect("valid payload") {
//!         assert_eq!(s.series, "http_requests_total{code=\"200\"}");
//!         assert_eq!(s.timestamp, Some(1395066363000));
//!         let labels: Vec<_> = s.labels.iter().map(|l| (l.name(), l.value())).collect();
//!         assert_eq!(labels, [("code".into(), "200".into())]);
//!         samples += 1;
//!     }
//! }
//! assert_eq!(samples, 1);
//! ```
//!
//! **Invariants:** no I/O; no panic on any input (a malformed payload is a
//! [`ParseError`] with its line and column); no allocation per sample on the
//! path that does not decode labels, once the parser's scratch vector has
//! grown to the widest label list.

mod content_type;
mod error;
mod labels;
mod lex;
mod openmetrics;
mod parser;
mod text;

#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod text_cases;

use std::borrow::Cow;

pub use content_type::ContentTypeError;
pub use error::{ParseError, ParseErrorKind};
pub use labels::{Label, LabelIter, LabelSet, RawStr};
pub use parser::Parser;

use crate::model::{Labels, METRIC_NAME};

/// The bit pattern Prometheus stores for every scraped NaN (`value.NormalNaN`),
/// so that a scraped NaN is never mistaken for the staleness marker.
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Which grammar a payload uses, chosen from the response's Content-Type
/// ([`Format::from_content_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format, versions 0.0.4 and 1.0.0 (`text/plain`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

/// A metric family's type, from a `# TYPE` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram` (classic buckets).
    Histogram,
    /// `gaugehistogram` (OpenMetrics only).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics only).
    Info,
    /// `stateset` (OpenMetrics only).
    StateSet,
    /// `unknown` in OpenMetrics, `untyped` in the text format, or no TYPE line.
    #[default]
    Unknown,
}

impl MetricType {
    /// The name Prometheus uses for this type in its metadata API.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The type named by a text-format `# TYPE` line.
    fn from_text_keyword(word: &[u8]) -> Option<Self> {
        Some(match word {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"summary" => MetricType::Summary,
            b"untyped" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The type named by an OpenMetrics `# TYPE` line.
    fn from_openmetrics_keyword(word: &[u8]) -> Option<Self> {
        Some(match word {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"gaugehistogram" => MetricType::GaugeHistogram,
            b"summary" => MetricType::Summary,
            b"info" => MetricType::Info,
            b"stateset" => MetricType::StateSet,
            b"unknown" => MetricType::Unknown,
            _ => return None,
        })
    }
}

/// One entry of a payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Sample(Sample<'a>),
    /// `# HELP <name> <text>`; `help` is decoded.
    Help {
        /// The metric family name (decoded if quoted).
        name: Cow<'a, str>,
        /// The help text, escapes decoded.
        help: Cow<'a, str>,
        /// 1-based line number.
        line: usize,
    },
    /// `# TYPE <name> <type>`.
    Type {
        /// The metric family name (decoded if quoted).
        name: Cow<'a, str>,
        /// The type.
        metric_type: MetricType,
        /// 1-based line number.
        line: usize,
    },
    /// OpenMetrics `# UNIT <name> <unit>`.
    Unit {
        /// The metric family name (decoded if quoted).
        name: Cow<'a, str>,
        /// The unit (may be empty).
        unit: &'a str,
        /// 1-based line number.
        line: usize,
    },
    /// Any other comment line (text format only); `text` follows the `#`.
    Comment {
        /// The bytes after `#`, up to the end of the line (not checked for UTF-8).
        text: &'a [u8],
        /// 1-based line number.
        line: usize,
    },
}

/// One sample, borrowing from the payload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The series exactly as written: `name{labels}`, `{"name",labels}` or
    /// `name`. Identical text means an identical label set within one
    /// payload, so this is the key for a per-target series cache.
    pub series: &'a str,
    /// The metric name as written (between its quotes when quoted).
    pub name: RawStr<'a>,
    /// The labels, without the metric name.
    pub labels: LabelSet<'a>,
    /// The value; every NaN has the bits [`NORMAL_NAN_BITS`].
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one (OpenMetrics'
    /// float seconds are converted, truncating toward zero as upstream).
    pub timestamp: Option<i64>,
    /// 1-based line number.
    pub line: usize,
    /// The type of the most recent `# TYPE` line, which upstream applies to
    /// every following sample whatever its family.
    pub metric_type: MetricType,
}

impl<'a> Sample<'a> {
    /// The decoded metric name.
    pub fn metric_name(&self) -> Cow<'a, str> {
        self.name.decode()
    }

    /// The full label set as Prometheus stores it: `__name__` plus the
    /// decoded labels, sorted, with empty values dropped. Allocates; call it
    /// on a cache miss.
    pub fn to_labels(&self) -> Labels {
        let name = std::iter::once((Cow::Borrowed(METRIC_NAME), self.metric_name()));
        let labels = self.labels.iter().map(|l| (l.name(), l.value()));
        // Drop empty values first: `{a="1",a=""}` is `{a="1"}` in Prometheus.
        Labels::from_pairs(name.chain(labels).filter(|(_, v)| !v.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_builds_prometheus_label_set() {
        let input = "# TYPE h histogram\nh_bucket{le=\"1\",a=\"\",b=\"x\\\"y\"} 3\n";
        let mut p = Parser::new(input.as_bytes(), Format::PrometheusText);
        let entries: Vec<Entry<'_>> = p.by_ref().map(|e| e.expect("valid")).collect();
        let Entry::Sample(s) = &entries[1] else {
            panic!("not a sample: {:?}", entries[1])
        };
        assert_eq!(s.to_labels().to_string(), r#"h_bucket{b="x\"y", le="1.0"}"#);
        assert_eq!(s.metric_type, MetricType::Histogram);
        assert_eq!(p.metric_type(), MetricType::Histogram);
    }

    #[test]
    fn metric_type_names() {
        assert_eq!(MetricType::GaugeHistogram.as_str(), "gaugehistogram");
        assert_eq!(
            MetricType::from_text_keyword(b"untyped"),
            Some(MetricType::Unknown)
        );
        assert_eq!(MetricType::from_text_keyword(b"unknown"), None);
        assert_eq!(MetricType::from_openmetrics_keyword(b"untyped"), None);
        assert_eq!(
            MetricType::from_openmetrics_keyword(b"stateset"),
            Some(MetricType::StateSet)
        );
    }
}
