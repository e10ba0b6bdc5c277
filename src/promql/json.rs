//! Prometheus' HTTP API shapes for query results: the `data` object of
//! `/api/v1/query` and `/api/v1/query_range`.

use serde_json::{json, Map, Value as Json};

use super::Value;
use crate::model::Labels;

/// Formats a sample value as Prometheus does: shortest round-trip decimal,
/// `NaN`, `+Inf`, `-Inf`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        let a = v.abs();
        if a != 0.0 && !(1e-4..1e21).contains(&a) {
            // Go's strconv 'g'-like exponent form (e.g. 1e+21, 1e-05).
            let s = format!("{v:e}");
            if let Some((m, e)) = s.split_once('e') {
                let (sign, digits) = match e.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', e),
                };
                return format!("{m}e{sign}{digits:0>2}");
            }
            s
        } else {
            format!("{v}")
        }
    }
}

/// A timestamp in ms as float seconds.
fn seconds(t: i64) -> Json {
    let secs = t as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Json::Null, Json::Number)
}

fn metric(l: &Labels) -> Json {
    let mut m = Map::new();
    for lb in l.iter() {
        m.insert(lb.name.to_string(), Json::String(lb.value.to_string()));
    }
    Json::Object(m)
}

/// The API `data` object for a query result:
/// `{"resultType": "...", "result": ...}`.
pub fn result_data(value: &Value) -> Json {
    match value {
        Value::Scalar { t, v } => json!({
            "resultType": "scalar",
            "result": [seconds(*t), format_float(*v)],
        }),
        Value::String { t, v } => json!({
            "resultType": "string",
            "result": [seconds(*t), v],
        }),
        Value::Vector(samples) => json!({
            "resultType": "vector",
            "result": samples.iter().map(|s| json!({
                "metric": metric(&s.labels),
                "value": [seconds(s.t), format_float(s.v)],
            })).collect::<Vec<_>>(),
        }),
        Value::Matrix(series) => json!({
            "resultType": "matrix",
            "result": series.iter().map(|s| json!({
                "metric": metric(&s.labels),
                "values": s.samples.iter().map(|p| json!([seconds(p.t), format_float(p.v)])).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;
    use crate::promql::{InstantSample, RangeSeries};

    #[test]
    fn floats_as_prometheus() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1e-5), "1e-05");
        assert_eq!(format_float(123456.5), "123456.5");
    }

    #[test]
    fn vector_and_matrix_shapes() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let v = Value::Vector(vec![InstantSample {
            labels: l.clone(),
            t: 1500,
            v: 1.0,
        }]);
        assert_eq!(
            result_data(&v),
            json!({"resultType": "vector", "result": [{"metric": {"__name__": "up", "job": "a"}, "value": [1.5, "1"]}]})
        );
        let m = Value::Matrix(vec![RangeSeries {
            labels: l,
            samples: vec![Sample::new(0, f64::NAN), Sample::new(15_000, 2.0)],
        }]);
        assert_eq!(
            result_data(&m)["result"][0]["values"],
            json!([[0.0, "NaN"], [15.0, "2"]])
        );
        assert_eq!(
            result_data(&Value::Scalar { t: 2000, v: 3.5 }),
            json!({"resultType": "scalar", "result": [2.0, "3.5"]})
        );
    }
}
