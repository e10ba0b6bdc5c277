//! The unit-test file, read strictly (an unknown key is an error), as
//! `promtool test rules` reads it.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A test file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestFile {
    pub rule_files: Option<Vec<String>>,
    pub evaluation_interval: Option<String>,
    pub group_eval_order: Option<Vec<String>>,
    pub tests: Option<Vec<TestGroup>>,
    pub fuzzy_compare: Option<bool>,
}

/// A test group.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestGroup {
    pub interval: Option<String>,
    pub input_series: Option<Vec<InputSeries>>,
    pub alert_rule_test: Option<Vec<AlertTest>>,
    pub promql_expr_test: Option<Vec<PromqlTest>>,
    pub external_labels: Option<BTreeMap<String, Option<String>>>,
    pub external_url: Option<String>,
    pub name: Option<String>,
    pub start_timestamp: Option<StartTimestamp>,
}

/// One input series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputSeries {
    pub series: Option<String>,
    pub values: Option<String>,
}

/// An alert check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertTest {
    pub eval_time: Option<String>,
    pub alertname: Option<String>,
    pub exp_alerts: Option<Vec<ExpAlert>>,
}

/// One expected alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpAlert {
    pub exp_labels: Option<BTreeMap<String, Option<String>>>,
    pub exp_annotations: Option<BTreeMap<String, Option<String>>>,
}

/// A PromQL check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PromqlTest {
    pub expr: Option<String>,
    pub eval_time: Option<String>,
    pub exp_samples: Option<Vec<ExpSample>>,
}

/// One expected sample.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpSample {
    pub labels: Option<String>,
    pub value: Option<f64>,
    pub histogram: Option<String>,
}

/// `start_timestamp`: Unix seconds or an RFC 3339 string, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartTimestamp(pub i64);

fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.trim().parse::<f64>() {
        if f.is_finite() && f.abs() < 9.2e15 {
            return Ok((f * 1000.0).round() as i64);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("cannot parse {s:?} to a valid timestamp"))
}

impl<'de> Deserialize<'de> for StartTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StartTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Unix seconds or an RFC 3339 time")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StartTimestamp, E> {
                Ok(StartTimestamp(v.saturating_mul(1000)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StartTimestamp, E> {
                Ok(StartTimestamp((v as i64).saturating_mul(1000)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<StartTimestamp, E> {
                parse_time(&v.to_string())
                    .map(StartTimestamp)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StartTimestamp, E> {
                parse_time(v).map(StartTimestamp).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a test file.
pub(crate) fn parse_test_file(content: &str) -> Result<TestFile, String> {
    let opts = crate::config::yaml_options();
    crate::config::with_yaml_stack(|| serde_saphyr::from_str_with_options(content, opts))
        .map_err(|e| e.without_snippet().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_format_strictly() {
        let f = parse_test_file(
            "rule_files: [a.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  start_timestamp: '2024-01-01T00:00:00Z'\n  input_series:\n  - series: up\n    values: 1\n  alert_rule_test:\n  - eval_time: 0\n    alertname: A\n    exp_alerts:\n    - {}\n  promql_expr_test:\n  - expr: up\n    eval_time: 1m\n    exp_samples:\n    - labels: up\n      value: 50\n",
        )
        .unwrap();
        let g = &f.tests.unwrap()[0];
        assert_eq!(g.start_timestamp.unwrap().0, 1_704_067_200_000);
        assert_eq!(
            g.input_series.as_ref().unwrap()[0].values.as_deref(),
            Some("1")
        );
        assert_eq!(
            g.promql_expr_test.as_ref().unwrap()[0]
                .exp_samples
                .as_ref()
                .unwrap()[0]
                .value,
            Some(50.0)
        );
        assert!(parse_test_file("tests:\n- bogus: 1\n").is_err());
        let t = parse_test_file("tests:\n- start_timestamp: 1.5\n").unwrap();
        assert_eq!(t.tests.unwrap()[0].start_timestamp.unwrap().0, 1500);
    }
}
