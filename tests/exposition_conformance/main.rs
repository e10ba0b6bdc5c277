//! The exposition parser against the shared fixtures and conformance files
//! (`../shared/fixtures/exposition`, `../shared/conformance/exposition`,
//! described in `../shared/conformance/exposition-cases.md`), and — when
//! `promtool` is on PATH — against Prometheus' own OpenMetrics parser.
//!
//! Set `WATCHFIRE_SHARED` to read the shared folder from another place (for a
//! checkout that does not sit next to it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use watchfire::scrape::exposition::{Entry, Format, Parser};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("WATCHFIRE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    );
    if dir.join("conformance/exposition").is_dir() && dir.join("fixtures/exposition").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: shared exposition data not found under {}",
            dir.display()
        );
        None
    }
}

/// Every fixture that must parse, with its format.
const FIXTURES: &[(&str, Format)] = &[
    (
        "fixtures/exposition/node_exporter.prom",
        Format::PrometheusText,
    ),
    (
        "fixtures/exposition/prometheus.prom",
        Format::PrometheusText,
    ),
    ("fixtures/exposition/vmagent.prom", Format::PrometheusText),
    (
        "conformance/exposition/prometheus-textparse/alltypes.237mfs.prom.txt",
        Format::PrometheusText,
    ),
    (
        "conformance/exposition/prometheus-textparse/alltypes.237mfs.nometa.prom.txt",
        Format::PrometheusText,
    ),
    (
        "conformance/exposition/prometheus-textparse/alltypes.5mfs.om.txt",
        Format::OpenMetrics,
    ),
    (
        "conformance/exposition/prometheus-textparse/1histogram.om.txt",
        Format::OpenMetrics,
    ),
    (
        "conformance/exposition/prometheus-promtool/metrics-test.prom",
        Format::PrometheusText,
    ),
    (
        "conformance/exposition/prometheus-promtool/dump-openmetrics-test.prom",
        Format::OpenMetrics,
    ),
    (
        "conformance/exposition/prometheus-promtool/dump-openmetrics-roundtrip-test.prom",
        Format::OpenMetrics,
    ),
    (
        "conformance/exposition/common-expfmt/testdata/text",
        Format::PrometheusText,
    ),
];

/// A decoded sample: sorted labels (with `__name__`), value, timestamp.
#[derive(Debug, Clone, PartialEq)]
struct Decoded {
    labels: BTreeMap<String, String>,
    value: f64,
    timestamp: Option<i64>,
    line: usize,
}

/// All samples of a payload, plus the family (last TYPE name) of each.
fn parse_all(bytes: &[u8], format: Format) -> Result<Vec<(Decoded, String)>, String> {
    let mut out = Vec::new();
    let mut family = String::new();
    for entry in Parser::new(bytes, format) {
        match entry.map_err(|e| e.to_string())? {
            Entry::Sample(s) => {
                let set = s.to_labels();
                let labels = set
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect();
                let d = Decoded {
                    labels,
                    value: s.value,
                    timestamp: s.timestamp,
                    line: s.line,
                };
                out.push((d, family.clone()));
            }
            Entry::Type { name, .. } => family = name.into_owned(),
            _ => {}
        }
    }
    Ok(out)
}

/// Sample lines counted the naive way, independently of the parser.
fn naive_sample_lines(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

#[test]
fn every_fixture_parses_with_the_expected_counts() {
    let Some(root) = shared() else { return };
    for (rel, format) in FIXTURES {
        let bytes = std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let samples = parse_all(&bytes, *format).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(
            samples.len(),
            naive_sample_lines(&bytes),
            "{rel}: sample count"
        );
        assert!(!samples.is_empty(), "{rel}: no samples");
    }
}

#[test]
fn metrics_test_prom_has_27_series_by_family() {
    let Some(root) = shared() else { return };
    let path = root.join("conformance/exposition/prometheus-promtool/metrics-test.prom");
    let bytes = std::fs::read(&path).expect("metrics-test.prom");
    let samples = parse_all(&bytes, Format::PrometheusText).expect("parses");
    let mut by_family: BTreeMap<String, usize> = BTreeMap::new();
    for (_, family) in &samples {
        *by_family.entry(family.clone()).or_default() += 1;
    }
    assert_eq!(samples.len(), 27);
    let want = [
        ("go_gc_duration_seconds", 7),
        ("go_info", 1),
        ("net_conntrack_dialer_conn_attempted_total", 4),
        ("prometheus_tsdb_compaction_chunk_size_bytes", 15),
    ];
    let want: BTreeMap<String, usize> = want.iter().map(|(f, n)| (f.to_string(), *n)).collect();
    assert_eq!(by_family, want);
}

/// The client library's fuzz corpus, judged as the Prometheus *server*
/// parser judges it: `Some(n)` accepted with `n` samples, `None` refused.
/// Recorded by scraping each file with a Prometheus 2.42 server (whose text
/// lexer matches 3.x for these inputs) and reading `up` and
/// `scrape_samples_scraped`; `from_test_parse_error_4` fails at append time on the duplicate
/// `__name__`, which this parser reports itself.
const CORPUS: &[(&str, Option<usize>)] = &[
    ("from_test_parse_0", Some(0)),
    ("from_test_parse_1", Some(3)),
    ("from_test_parse_2", Some(4)),
    ("from_test_parse_3", None), // `decoy -1 -2`: a timestamp has no sign
    ("from_test_parse_4", Some(7)),
    ("from_test_parse_error_0", Some(1)),
    ("from_test_parse_error_1", Some(1)),
    ("from_test_parse_error_2", Some(1)),
    ("from_test_parse_error_3", None),
    ("from_test_parse_error_4", None),
    ("from_test_parse_error_5", None),
    ("from_test_parse_error_6", None),
    ("from_test_parse_error_7", Some(1)),
    ("from_test_parse_error_8", None),
    ("from_test_parse_error_9", None),
    ("from_test_parse_error_10", None),
    ("from_test_parse_error_11", None),
    ("from_test_parse_error_12", Some(0)),
    ("from_test_parse_error_13", Some(0)),
    ("from_test_parse_error_14", Some(1)),
    ("from_test_parse_error_15", None),
    ("from_test_parse_error_16", None),
    ("from_test_parse_error_17", None),
    ("from_test_parse_error_18", None),
    ("from_test_parse_error_19", Some(1)),
    ("minimal", Some(1)),
];

#[test]
fn expfmt_fuzz_corpus_is_judged_like_the_server_parser() {
    let Some(root) = shared() else { return };
    let dir = root.join("conformance/exposition/common-expfmt/fuzz-corpus");
    for (file, want) in CORPUS {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = parse_all(&bytes, Format::PrometheusText);
        match (want, &got) {
            (Some(n), Ok(samples)) => assert_eq!(samples.len(), *n, "{file}"),
            (None, Err(_)) => {}
            _ => panic!("{file}: want {want:?}, got {got:?}"),
        }
    }
    // Values the server keeps as written.
    let value = |file: &str, label: &str| -> String {
        let bytes = std::fs::read(dir.join(file)).expect("corpus file");
        let samples = parse_all(&bytes, Format::PrometheusText).expect("accepted");
        samples[0].0.labels[label].clone()
    };
    assert_eq!(value("from_test_parse_error_1", "label"), "\\t");
    assert_eq!(value("from_test_parse_error_2", "label"), "new\nline");
    assert_eq!(value("from_test_parse_error_7", "quantile"), "bla");
    assert_eq!(value("from_test_parse_error_19", "le"), "bla");
    let two = std::fs::read(dir.join("from_test_parse_2")).expect("corpus file");
    let two = parse_all(&two, Format::PrometheusText).expect("accepted");
    assert_eq!(two[1].0.labels["basename"], "base\"v\\al\nue");
    assert_eq!(two[1].0.timestamp, Some(1234567890));
    assert_eq!(two[3].0.value, f64::NEG_INFINITY);
}

mod promtool;
