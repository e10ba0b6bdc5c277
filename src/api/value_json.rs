//! PromQL values in the API's JSON, as Prometheus writes them: values as
//! strings (`"NaN"`, `"+Inf"`, Go's 'f' or 'e' form by magnitude),
//! timestamps as float seconds.

use serde_json::{json, Map, Value as Json};

use crate::gostd::float::format_api_value as format_float;
use crate::model::Labels;
use crate::promql::Value;

/// A timestamp in ms as seconds: an integer for whole seconds (as
/// Prometheus writes it), a float otherwise.
pub fn ts_json(t: i64) -> Json {
    if t % 1000 == 0 {
        return Json::Number((t / 1000).into());
    }
    let secs = t as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Json::Null, Json::Number)
}

/// A label set as a JSON object.
pub fn labels_json(l: &Labels) -> Json {
    let mut m = Map::new();
    for lb in l.iter() {
        m.insert(lb.name.to_string(), Json::String(lb.value.to_string()));
    }
    Json::Object(m)
}

/// The API `data` object for a query result:
/// `{"resultType": "...", "result": ...}`.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::Scalar { t, v } => json!({
            "resultType": "scalar",
            "result": [ts_json(*t), format_float(*v)],
        }),
        Value::String { t, v } => json!({
            "resultType": "string",
            "result": [ts_json(*t), v],
        }),
        Value::Vector(samples) => json!({
            "resultType": "vector",
            "result": samples.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "value": [ts_json(s.t), format_float(s.v)],
            })).collect::<Vec<_>>(),
        }),
        Value::Matrix(series) => json!({
            "resultType": "matrix",
            "result": series.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "values": s.samples.iter().map(|p| json!([ts_json(p.t), format_float(p.v)])).collect::<Vec<_>>(),
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
        assert_eq!(format_float(1e-5), "0.00001");
        assert_eq!(format_float(1e-7), "1e-07");
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
            value_json(&v),
            json!({"resultType": "vector", "result": [{"metric": {"__name__": "up", "job": "a"}, "value": [1.5, "1"]}]})
        );
        let m = Value::Matrix(vec![RangeSeries {
            labels: l,
            samples: vec![Sample::new(0, f64::NAN), Sample::new(15_000, 2.0)],
        }]);
        assert_eq!(
            value_json(&m)["result"][0]["values"],
            json!([[0, "NaN"], [15, "2"]])
        );
        assert_eq!(
            value_json(&Value::Scalar { t: 2000, v: 3.5 }),
            json!({"resultType": "scalar", "result": [2, "3.5"]})
        );
    }
}
