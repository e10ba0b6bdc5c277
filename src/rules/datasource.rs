//! Rule groups on a remote datasource (a group's `datasource: <name>`, as vmalert's
//! `-datasource.url`): the group's expressions and its templates' `query` calls run as
//! instant queries on a Prometheus-API endpoint (Prometheus, VictoriaMetrics, Thanos,
//! Mimir): `POST <url>/api/v1/query` with the form `query=<expr as written>&time=<seconds>`,
//! at the group's evaluation time minus the group's `query_offset` minus the datasource's
//! `query_offset`. The answer feeds the same alert state machine as a local evaluation.
//!
//! A failed query (connection, timeout, non-2xx, `"status":"error"` JSON, malformed JSON,
//! an answer over [`MAX_RESPONSE_BYTES`]) fails the rule with the error as its `lastError`,
//! keeps every alert as it was (the group never sees an empty result), counts
//! `watchfire_rule_datasource_query_failures_total{datasource}` and logs.
//!
//! **Invariant:** [`RemoteQuerier::query`] blocks its thread until the answer (at most the
//! timeout plus 5 s); the manager only calls it from evaluation threads (`spawn_blocking`),
//! never from an async worker. The request itself runs on the runtime.

use super::file::GroupSpec;
use super::file::RuleFileError;
use super::group::RuleQuerier;
use crate::config::DatasourceConfig;
use crate::model::Labels;
use crate::promql::{EvalError, InstantSample, Value};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use promql_parser::parser::Expr;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The largest answer read from a datasource; a longer one fails the query.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

type L = Vec<(String, String)>;

/// The configured datasources by name, with their HTTP clients.
pub type Datasources = HashMap<String, Arc<RemoteQuerier>>;

/// Builds a querier per configured datasource; `Err` names the datasource whose client
/// cannot be built (unreadable certificate files).
pub fn build(
    configs: &[DatasourceConfig],
    failures: &Family<L, Counter>,
) -> Result<Datasources, String> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| "datasources need a tokio runtime".to_string())?;
    let mut out = HashMap::new();
    for c in configs {
        let client =
            crate::scrape::build_client(&format!("datasource {:?}", c.name), &c.tls_config)
                .map_err(|e| format!("datasource {:?}: {e}", c.name))?;
        let endpoint = format!("{}/api/v1/query", c.url.trim_end_matches('/'));
        let counter = failures
            .get_or_create(&vec![("datasource".to_string(), c.name.clone())])
            .clone();
        out.insert(
            c.name.clone(),
            Arc::new(RemoteQuerier {
                name: c.name.clone(),
                endpoint,
                config: c.clone(),
                client,
                handle: handle.clone(),
                failures: counter,
            }),
        );
    }
    Ok(out)
}

/// Every group whose `datasource:` names no configured datasource, as an error at its line.
pub fn check_names(groups: &[GroupSpec], names: &[&str]) -> Vec<RuleFileError> {
    groups
        .iter()
        .filter_map(|g| {
            let (name, pos) = g.datasource.as_ref()?;
            if names.contains(&name.as_str()) {
                return None;
            }
            Some(RuleFileError {
                file: g.file.clone(),
                pos: Some(*pos),
                group: Some(g.name.clone()),
                rule: None,
                message: format!("unknown datasource {name:?} (not in the datasources section)"),
            })
        })
        .collect()
}

/// For `watchfire check config`: every group of the loadable rule `files` whose
/// `datasource:` is not in `config`'s `datasources` (files that fail to load are
/// `check rules`' business).
pub fn check_rule_files(
    config: &crate::config::Config,
    files: &[std::path::PathBuf],
) -> Vec<RuleFileError> {
    let names: Vec<&str> = config.datasources.iter().map(|d| d.name.as_str()).collect();
    files
        .iter()
        .filter_map(|f| super::file::load_rule_file(f, Default::default()).ok())
        .flat_map(|rf| check_names(&rf.groups, &names))
        .collect()
}

/// The querier of a group whose datasource is gone (between a reload's settings and its
/// groups): every query fails, so no alert resolves on an empty answer.
#[derive(Debug)]
pub(crate) struct Unknown(pub(crate) String);

impl RuleQuerier for Unknown {
    fn query(&self, _: &Expr, _: i64) -> Result<Value, EvalError> {
        Err(EvalError::Execution(format!(
            "unknown datasource {:?}",
            self.0
        )))
    }
}

/// Runs a group's queries on one datasource.
pub struct RemoteQuerier {
    name: String,
    endpoint: String,
    config: DatasourceConfig,
    client: reqwest::Client,
    handle: tokio::runtime::Handle,
    failures: Counter,
}

impl std::fmt::Debug for RemoteQuerier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteQuerier")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl RemoteQuerier {
    /// The datasource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout.as_millis_i64().max(1) as u64)
    }

    /// The `POST /api/v1/query` request for `text` at `t_ms`, with the datasource's
    /// credentials and headers.
    fn request(&self, text: &str, t_ms: i64) -> reqwest::RequestBuilder {
        let time = format!("{}.{:03}", t_ms.div_euclid(1000), t_ms.rem_euclid(1000));
        let mut req = self
            .client
            .post(&self.endpoint)
            .timeout(self.timeout())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("query", text), ("time", time.as_str())]);
        for (k, v) in &self.config.headers {
            req = req.header(k, v);
        }
        req = crate::config::authorize(
            req,
            self.config.basic_auth.as_ref(),
            self.config.authorization.as_ref(),
        );
        req
    }

    /// Runs `text` at `t_ms` (the datasource's `query_offset` not yet applied): the request
    /// runs on the runtime, this thread waits for its answer (bounded by the timeout plus a
    /// margin, so even a caller on a runtime thread cannot hang or panic here).
    fn run(&self, text: &str, t_ms: i64) -> Result<Value, String> {
        let t = t_ms - self.config.query_offset.as_millis_i64();
        let req = self.request(text, t);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fetch(req).await);
        });
        let wait = self.timeout() + Duration::from_secs(5);
        let (status, body) = rx
            .recv_timeout(wait)
            .map_err(|_| format!("no answer within {}", humantime::format_duration(wait)))??;
        decode(status, &body, t)
    }
}

/// Sends `req` and reads the answer, up to [`MAX_RESPONSE_BYTES`].
async fn fetch(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
    let mut resp = req.send().await.map_err(|e| error_chain(&e))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "response larger than {} MiB",
                MAX_RESPONSE_BYTES >> 20
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

impl RuleQuerier for RemoteQuerier {
    fn query(&self, expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.query_text(&expr.to_string(), expr, t_ms)
    }

    fn query_text(&self, text: &str, _expr: &Expr, t_ms: i64) -> Result<Value, EvalError> {
        self.run(text, t_ms).map_err(|e| {
            self.failures.inc();
            tracing::warn!(datasource = %self.name, url = %self.endpoint, query = %text, err = %e, "datasource query failed");
            EvalError::Execution(format!(
                "datasource {:?} ({}): {e}",
                self.name, self.endpoint
            ))
        })
    }
}

/// An error with its causes, as `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[derive(Deserialize)]
struct Answer {
    status: Option<String>,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Elem>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Elem {
    /// A scalar's time: the query's time is used instead.
    Number(#[allow(dead_code)] f64),
    Text(String),
    Series(Series),
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: HashMap<String, String>,
    value: Option<(f64, String)>,
    histogram: Option<IgnoredAny>,
}

/// Decodes a `/api/v1/query` answer (HTTP `status`, `body`) into a value at `t_ms`: a vector
/// or scalar as such; a matrix or a string as values the evaluation refuses as a local one
/// would; every other answer as an error text (the datasource's `errorType: error` when given).
pub fn decode(status: u16, body: &[u8], t_ms: i64) -> Result<Value, String> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) if (200..300).contains(&status) => return Err(format!("malformed answer: {e}")),
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
            return Err(format!("unexpected status {status}: {}", text.trim()));
        }
    };
    if answer.status.as_deref() != Some("success") {
        return Err(match (answer.error_type, answer.error) {
            (Some(t), Some(e)) => format!("{t}: {e}"),
            (None, Some(e)) => e,
            _ => format!(
                "unexpected status {status} ({:?})",
                answer.status.unwrap_or_default()
            ),
        });
    }
    if !(200..300).contains(&status) {
        return Err(format!("unexpected status {status}"));
    }
    let data = answer.data.ok_or("malformed answer: no data")?;
    match data.result_type.as_str() {
        "vector" => {
            let mut out = Vec::with_capacity(data.result.len());
            for e in data.result {
                let Elem::Series(s) = e else {
                    return Err("malformed answer: vector element is not a sample".into());
                };
                if s.histogram.is_some() {
                    return Err("native histogram samples are not supported".into());
                }
                let (_, v) = s.value.ok_or("malformed answer: sample without a value")?;
                out.push(InstantSample {
                    labels: Labels::from_pairs(s.metric),
                    t: t_ms,
                    v: parse_value(&v)?,
                });
            }
            Ok(Value::Vector(out))
        }
        "scalar" => match data.result.as_slice() {
            [Elem::Number(_), Elem::Text(v)] => Ok(Value::Scalar {
                t: t_ms,
                v: parse_value(v)?,
            }),
            _ => Err("malformed answer: scalar is not [time, \"value\"]".into()),
        },
        "matrix" => Ok(Value::Matrix(Vec::new())),
        "string" => Ok(Value::String {
            t: t_ms,
            v: String::new(),
        }),
        other => Err(format!("malformed answer: unknown resultType {other:?}")),
    }
}

/// A sample value as Prometheus writes it (Go's `strconv.FormatFloat`: `NaN`, `+Inf`, ...).
fn parse_value(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .map_err(|_| format!("malformed answer: sample value {v:?} is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Value {
        decode(200, body.as_bytes(), 5_000).unwrap()
    }

    fn err(status: u16, body: &str) -> String {
        decode(status, body.as_bytes(), 5_000).unwrap_err()
    }

    #[test]
    fn vector_and_scalar_answers_decode() {
        let v = ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a"},"value":[1.5,"1"]},
            {"metric":{},"value":[1.5,"+Inf"]},{"metric":{"x":"y"},"value":[1.5,"NaN"]}]}}"#,
        );
        let Value::Vector(s) = v else { panic!() };
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0].labels,
            Labels::from_pairs([("__name__", "up"), ("job", "a")])
        );
        assert_eq!((s[0].t, s[0].v), (5_000, 1.0));
        assert_eq!(s[1].v, f64::INFINITY);
        assert!(s[2].v.is_nan());
        // resultType after result, extra keys (warnings, stats) ignored.
        let v = ok(r#"{"data":{"result":[1.5,"-2.5e3"],"resultType":"scalar"},
            "status":"success","warnings":["w"],"isPartial":false}"#);
        assert_eq!(
            v,
            Value::Scalar {
                t: 5_000,
                v: -2500.0
            }
        );
        let v = ok(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);
        assert_eq!(v, Value::Vector(Vec::new()));
    }

    #[test]
    fn matrix_and_string_give_the_local_refusal() {
        let m = ok(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"1"]]}]}}"#,
        );
        assert!(matches!(m, Value::Matrix(_)));
        let s = ok(r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#);
        assert!(matches!(s, Value::String { .. }));
    }

    #[test]
    fn error_answers_give_the_datasource_words() {
        assert_eq!(
            err(
                400,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""}"#
            ),
            r#"bad_data: invalid parameter "query""#
        );
        assert_eq!(err(422, r#"{"status":"error","error":"boom"}"#), "boom");
        assert_eq!(
            err(503, "<html>Service Unavailable</html>"),
            "unexpected status 503: <html>Service Unavailable</html>"
        );
        assert_eq!(
            err(
                500,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#
            ),
            "unexpected status 500"
        );
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for body in [
            "",
            "null",
            "{",
            &deep,
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[1,"2"]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"one"]}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}}"#,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1]}}"#,
            r#"{"status":"success","data":{"resultType":"tensor","result":[]}}"#,
            r#"{"status":"weird"}"#,
        ] {
            let e = err(200, body);
            assert!(!e.is_empty(), "{body:.60}");
        }
    }

    #[test]
    fn unknown_datasource_names_are_errors_at_their_line() {
        let f = crate::rules::file::parse_rule_file(
            "r.yml",
            "groups:\n- name: g\n  datasource: central\n  rules: []\n\
             - name: h\n  datasource: nope\n  rules: []\n- name: local\n  rules: []\n",
            Default::default(),
        )
        .unwrap();
        let errs: Vec<String> = check_names(&f.groups, &["central"])
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                r#"r.yml:6:15: group "h", unknown datasource "nope" (not in the datasources section)"#
            ]
        );
        let e = crate::rules::file::parse_rule_file(
            "r.yml",
            "groups:\n- name: g\n  evaluation: on_scrape\n  datasource: central\n  rules: []\n",
            Default::default(),
        )
        .unwrap_err();
        assert!(
            e[0].to_string()
                .starts_with(r#"r.yml:4:15: group "g", 'evaluation: on_scrape'"#),
            "{e:?}"
        );
    }
}
