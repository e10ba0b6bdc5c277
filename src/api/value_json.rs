//! PromQL values in the API's JSON, as Prometheus writes them: values as
//! strings (`"NaN"`, `"+Inf"`, Go's 'f' or 'e' form by magnitude),
//! timestamps as float seconds. A query's answer is written straight to bytes
//! ([`query_answer_bytes`]): a `serde_json::Value` tree of a large matrix takes about five
//! times the size of its JSON text.

use serde_json::{Map, Value as Json};

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
/// `{"resultType": "...", "result": ...}` (the reference for [`query_answer_bytes`]).
#[cfg(test)]
pub fn value_json(value: &Value) -> Json {
    use serde_json::json;
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

/// Writes `v` as a JSON value; writing into a `Vec` cannot fail.
fn put<T: serde::Serialize + ?Sized>(w: &mut Vec<u8>, v: &T) {
    // An error could only come from the writer or a failing `Serialize`: neither exists here.
    let _ = serde_json::to_writer(&mut *w, v);
}

/// `[<seconds>, "<value>"]`.
fn put_point(w: &mut Vec<u8>, t: i64, v: &str) {
    w.push(b'[');
    put(w, &ts_json(t));
    w.push(b',');
    put(w, v);
    w.push(b']');
}

fn put_labels(w: &mut Vec<u8>, l: &Labels) {
    w.push(b'{');
    for (i, lb) in l.iter().enumerate() {
        if i > 0 {
            w.push(b',');
        }
        put(w, &*lb.name);
        w.push(b':');
        put(w, &*lb.value);
    }
    w.push(b'}');
}

/// The whole success answer of a query, byte for byte what
/// `ApiOk::new(value_json(value)).with_annotations(warnings, infos)` sends (keys in
/// serde_json's sorted order), written without the intermediate tree.
pub fn query_answer_bytes(value: &Value, warnings: &[String], infos: &[String]) -> Vec<u8> {
    let points = match value {
        Value::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
        Value::Vector(v) => v.len(),
        _ => 1,
    };
    let mut w = Vec::with_capacity(64 + points.saturating_mul(24));
    w.extend_from_slice(b"{\"data\":{\"result\":");
    let kind = match value {
        Value::Scalar { t, v } => {
            put_point(&mut w, *t, &format_float(*v));
            "scalar"
        }
        Value::String { t, v } => {
            put_point(&mut w, *t, v);
            "string"
        }
        Value::Vector(samples) => {
            w.push(b'[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    w.push(b',');
                }
                w.extend_from_slice(b"{\"metric\":");
                put_labels(&mut w, &s.labels);
                w.extend_from_slice(b",\"value\":");
                put_point(&mut w, s.t, &format_float(s.v));
                w.push(b'}');
            }
            w.push(b']');
            "vector"
        }
        Value::Matrix(series) => {
            w.push(b'[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    w.push(b',');
                }
                w.extend_from_slice(b"{\"metric\":");
                put_labels(&mut w, &s.labels);
                w.extend_from_slice(b",\"values\":[");
                for (j, p) in s.samples.iter().enumerate() {
                    if j > 0 {
                        w.push(b',');
                    }
                    put_point(&mut w, p.t, &format_float(p.v));
                }
                w.extend_from_slice(b"]}");
            }
            w.push(b']');
            "matrix"
        }
    };
    w.extend_from_slice(b",\"resultType\":");
    put(&mut w, kind);
    w.push(b'}');
    if !infos.is_empty() {
        w.extend_from_slice(b",\"infos\":");
        put(&mut w, infos);
    }
    w.extend_from_slice(b",\"status\":\"success\"");
    if !warnings.is_empty() {
        w.extend_from_slice(b",\"warnings\":");
        put(&mut w, warnings);
    }
    w.push(b'}');
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;
    use crate::promql::{InstantSample, RangeSeries};
    use serde_json::json;

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

    #[test]
    fn answer_bytes_are_what_the_tree_would_send() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a\"b\\c\u{1}é")]);
        let values = [
            Value::Scalar { t: 2000, v: 3.5 },
            Value::Scalar { t: 1, v: f64::NAN },
            Value::String {
                t: 1234,
                v: "x\n\"y\"".into(),
            },
            Value::Vector(Vec::new()),
            Value::Vector(vec![
                InstantSample {
                    labels: l.clone(),
                    t: 1500,
                    v: 1e-7,
                },
                InstantSample {
                    labels: Labels::empty(),
                    t: -1,
                    v: f64::NEG_INFINITY,
                },
            ]),
            Value::Matrix(Vec::new()),
            Value::Matrix(vec![
                RangeSeries {
                    labels: l,
                    samples: vec![Sample::new(0, f64::NAN), Sample::new(15_001, 2.0)],
                },
                RangeSeries {
                    labels: Labels::from_pairs([("a", "1")]),
                    samples: Vec::new(),
                },
            ]),
        ];
        let annotations = [
            (Vec::new(), Vec::new()),
            (vec!["PromQL warning: w".to_string()], Vec::new()),
            (Vec::new(), vec!["PromQL info: i".to_string()]),
            (
                vec!["w1".to_string(), "w2".to_string()],
                vec!["i".to_string()],
            ),
        ];
        for v in &values {
            for (warnings, infos) in &annotations {
                let mut tree = json!({"status": "success", "data": value_json(v)});
                if !warnings.is_empty() {
                    tree["warnings"] = json!(warnings);
                }
                if !infos.is_empty() {
                    tree["infos"] = json!(infos);
                }
                let want = serde_json::to_string(&tree).unwrap();
                let got = String::from_utf8(query_answer_bytes(v, warnings, infos)).unwrap();
                assert_eq!(got, want);
            }
        }
    }
}
