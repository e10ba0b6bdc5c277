//! PromQL values in the API's JSON: values as strings (`"NaN"`, `"+Inf"`),
//! timestamps as float seconds.

use crate::model::Labels;
use crate::promql::Value;
use serde_json::{json, Map, Value as Json};

/// A float as Prometheus writes it in JSON.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Shortest round-trip digits without exponent, like Go's FormatFloat(v, 'f', -1, 64).
        format!("{v}")
    }
}

/// A timestamp in ms as JSON float seconds (exact to the millisecond).
pub fn ts_json(t_ms: i64) -> Json {
    if t_ms % 1000 == 0 {
        json!(t_ms / 1000)
    } else {
        json!(t_ms as f64 / 1000.0)
    }
}

/// A label set as a JSON object.
pub fn labels_json(labels: &Labels) -> Json {
    let mut m = Map::new();
    for l in labels {
        m.insert(l.name.to_string(), Json::String(l.value.to_string()));
    }
    Json::Object(m)
}

fn point(t_ms: i64, v: f64) -> Json {
    json!([ts_json(t_ms), format_float(v)])
}

/// The `data` object of a query answer.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::Scalar { t, v } => json!({"resultType": "scalar", "result": point(*t, *v)}),
        Value::String { t, v } => json!({"resultType": "string", "result": [ts_json(*t), v]}),
        Value::Vector(samples) => json!({
            "resultType": "vector",
            "result": samples.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "value": point(s.t, s.v),
            })).collect::<Vec<_>>(),
        }),
        Value::Matrix(series) => json!({
            "resultType": "matrix",
            "result": series.iter().map(|s| json!({
                "metric": labels_json(&s.labels),
                "values": s.samples.iter().map(|p| point(p.t, p.v)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::InstantSample;

    #[test]
    fn floats_and_times_as_prometheus() {
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(ts_json(1_500), json!(1.5));
        assert_eq!(ts_json(2_000), json!(2));
    }

    #[test]
    fn vector_shape() {
        let v = Value::Vector(vec![InstantSample {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "x")]),
            t: 1000,
            v: 1.0,
        }]);
        assert_eq!(
            value_json(&v),
            json!({"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1,"1"]}]})
        );
    }
}
