//! `GET /federate`, as Prometheus serves it: the newest sample (within the 5 m lookback) of
//! every series matching any `match[]` selector, `external_labels` added where the series has
//! no such label (the series' own labels win, as `honor_labels: true` expects), families
//! sorted by metric name, each `untyped`, with the sample's timestamp. `instance=""` is added
//! when neither the series nor `external_labels` has an `instance`, as Prometheus does, so a
//! scraping server cannot put its own target's `instance` on federated series.
//!
//! Formats: the text format 0.0.4 by default; length-delimited protobuf `MetricFamily`
//! messages when `Accept` asks for
//! `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`.
//! An `escaping=` parameter in `Accept` (`allow-utf-8`, `underscores`, `dots`, `values`) is
//! honoured for metric and label names and echoed in `Content-Type`; the default is
//! `underscores`. Staleness markers are skipped. A selector that does not parse is a
//! `400` with the parser's message as plain text; no `match[]` is an empty `200`.
//!
//! Limits: the walk runs on the query executor under the query timeout (`exec.rs`);
//! the answer is at most one sample per series of the buffer, which `storage.max_series` bounds.

use super::extract::Form;
use super::AppState;
use crate::model::{is_stale_nan, Labels, Matcher};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};

/// Prometheus' default `--query.lookback-delta`.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The protobuf exposition media type as Prometheus negotiates it.
const PROTO_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The text exposition media type, version 0.0.4.
const TEXT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How names that are not valid legacy Prometheus names are written (`model.EscapingScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// `allow-utf-8`: names as they are (quoted in the text format when needed).
    AllowUtf8,
    /// `underscores`: each invalid character becomes `_`.
    Underscores,
    /// `dots`: `_` → `__`, `.` → `_dot_`, other invalid characters → `__`.
    Dots,
    /// `values`: `U__` and each invalid character as `_<hex code point>_`.
    Values,
}

impl Escaping {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "allow-utf-8" => Escaping::AllowUtf8,
            "underscores" => Escaping::Underscores,
            "dots" => Escaping::Dots,
            "values" => Escaping::Values,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Escaping::AllowUtf8 => "allow-utf-8",
            Escaping::Underscores => "underscores",
            Escaping::Dots => "dots",
            Escaping::Values => "values",
        }
    }
}

/// The negotiated answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Length-delimited protobuf instead of text.
    pub protobuf: bool,
    /// Name escaping.
    pub escaping: Escaping,
}

impl Format {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> String {
        let base = if self.protobuf { PROTO_TYPE } else { TEXT_TYPE };
        format!("{base}; escaping={}", self.escaping.as_str())
    }
}

/// Chooses the format from an `Accept` header as Prometheus' `expfmt.Negotiate` does: the
/// entries by falling `q`; the first delimited-protobuf or `text/plain` (version 0.0.4 or
/// none) entry wins, text otherwise. An `escaping` parameter on an entry looked at before
/// the choice sets the escaping.
pub fn negotiate(accept: Option<&str>) -> Format {
    let mut entries: Vec<(f32, String, BTreeMap<String, String>)> = Vec::new();
    for part in accept.unwrap_or("").split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        if media.is_empty() {
            continue;
        }
        let mut q = 1.0f32;
        let mut params = BTreeMap::new();
        for p in pieces {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'));
            if k == "q" {
                q = v.parse().unwrap_or(0.0);
            } else {
                params.insert(k, v.to_string());
            }
        }
        entries.push((q, media, params));
    }
    // Stable: equal weights keep the client's order.
    entries.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut escaping = Escaping::Underscores;
    for (_, media, params) in &entries {
        if let Some(e) = params.get("escaping").and_then(|e| Escaping::parse(e)) {
            escaping = e;
        }
        let version = params.get("version").map(String::as_str).unwrap_or("");
        if media == "application/vnd.google.protobuf"
            && params.get("proto").map(String::as_str) == Some("io.prometheus.client.MetricFamily")
            && params.get("encoding").map(String::as_str) == Some("delimited")
        {
            return Format {
                protobuf: true,
                escaping,
            };
        }
        if media == "text/plain" && (version.is_empty() || version == "0.0.4") {
            break;
        }
    }
    Format {
        protobuf: false,
        escaping,
    }
}

/// One series' newest sample, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct FederatedSample {
    /// The series' labels (with `__name__`).
    pub labels: Labels,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// `GET /federate`.
pub async fn federate(State(s): State<AppState>, headers: HeaderMap, Form(p): Form) -> Response {
    let selectors: Vec<String> = p.all("match[]").into_iter().map(str::to_string).collect();
    let format = negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let external = s.status.external_labels();
    let timeout = s.queries.timeout();
    let now = chrono::Utc::now().timestamp_millis();
    let answer = s
        .queries
        .run(timeout, move |t| {
            // Selectors are parsed here: a deeply nested one recurses in the parser and in
            // its tree's drop, which need the query thread's stack budget.
            let mut sets: Vec<Vec<Matcher>> = Vec::new();
            for text in &selectors {
                match crate::promql::limits::deep(|| selector(text)) {
                    Ok(m) => sets.extend(m),
                    Err(msg) => return Ok(Err(msg)),
                }
            }
            let mut found: BTreeMap<u64, FederatedSample> = BTreeMap::new();
            for set in &sets {
                t.check("federation")?;
                for (i, series) in s.store.select(set).into_iter().enumerate() {
                    if i % 256 == 255 {
                        t.check("federation")?;
                    }
                    if found.contains_key(&series.id()) {
                        continue;
                    }
                    let mut last = None;
                    series.for_each_sample_in(now - LOOKBACK_MS, now, |t, v| last = Some((t, v)));
                    if let Some((t, v)) = last.filter(|(_, v)| !is_stale_nan(*v)) {
                        let labels = series.labels().clone();
                        found.insert(series.id(), FederatedSample { labels, t, v });
                    }
                }
            }
            let mut samples: Vec<FederatedSample> = found.into_values().collect();
            t.check("federation")?;
            Ok(Ok(encode(&mut samples, &external, format)))
        })
        .await;
    match answer {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Ok(Err(msg)) => plain_error(StatusCode::BAD_REQUEST, &msg),
        Err(e) => plain_error(e.kind.status(), &e.message),
    }
}

/// Prometheus' `http.Error`: the message and a newline, as plain text.
fn plain_error(code: StatusCode, msg: &str) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{msg}\n"),
    )
        .into_response()
}

/// A matcher added to a selector of only empty-matching matchers (see [`selector`]).
const PLACEHOLDER: &str = "__watchfire_federate_any__";

/// The matcher sets of one `match[]` selector, or the parser's message. Prometheus parses
/// these with its metric-selector grammar: no `offset` or `@`, and no rule that a matcher must
/// not match the empty string, so `{job=~".*"}` federates every series; `{}` selects none.
fn selector(text: &str) -> Result<Vec<Vec<Matcher>>, String> {
    let expr = match crate::promql::parse(text) {
        Ok(e) => e,
        Err(e) if e.message.contains("at least one non-empty matcher") => {
            let trimmed = text.trim_start();
            let Some(inside) = trimmed.strip_prefix('{') else {
                return Err(e.message);
            };
            crate::promql::parse(&format!("{{{PLACEHOLDER}=\"1\",{inside}"))
                .map_err(|_| e.message)?
        }
        Err(e) => return Err(e.message),
    };
    let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "1:1: parse error: expected a metric selector, got {text:?}"
        ));
    };
    let unexpected = |what: &str, token: &str| {
        let at = text.rfind(token).unwrap_or(0);
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{line}:{col}: parse error: unexpected {what}")
    };
    if vs.offset.is_some() {
        return Err(unexpected("<offset>", "offset"));
    }
    if vs.at.is_some() {
        return Err(unexpected("<@>", "@"));
    }
    let mut sets = crate::promql::matchers::selector_matchers(&vs).map_err(|e| e.to_string())?;
    for set in &mut sets {
        set.retain(|m| m.name != PLACEHOLDER);
    }
    sets.retain(|set| !set.is_empty());
    Ok(sets)
}

/// Sorts `samples` by metric name (then labels) and writes them in `format`, each family
/// once, nameless series skipped.
pub fn encode(
    samples: &mut [FederatedSample],
    external: &BTreeMap<String, String>,
    format: Format,
) -> Vec<u8> {
    samples.sort_by(|a, b| {
        let (x, y) = (a.labels.metric_name(), b.labels.metric_name());
        x.cmp(&y).then_with(|| a.labels.cmp(&b.labels))
    });
    let mut external = external.clone();
    external.entry("instance".to_string()).or_default();
    // One family is built at a time and written out when the next starts, so the answer is
    // held once (as bytes), not also as messages.
    let mut out = Vec::new();
    let flush = |out: &mut Vec<u8>, f: &proto::MetricFamily| {
        if format.protobuf {
            // Writing into a Vec cannot fail.
            let _ = f.encode_length_delimited(out);
        } else {
            write_text(out, f, format.escaping);
        }
    };
    let mut family: Option<proto::MetricFamily> = None;
    for s in samples.iter() {
        let Some(name) = s.labels.metric_name().filter(|n| !n.is_empty()) else {
            continue;
        };
        let name = escape_name(name, format.escaping);
        if family.as_ref().and_then(|f| f.name.as_deref()) != Some(name.as_str()) {
            let next = proto::MetricFamily {
                name: Some(name),
                help: None,
                r#type: Some(proto::UNTYPED),
                metric: Vec::new(),
            };
            if let Some(done) = family.replace(next) {
                flush(&mut out, &done);
            }
        }
        let mut used = BTreeSet::new();
        let mut label = Vec::new();
        for l in s.labels.iter() {
            if l.value.is_empty() || &*l.name == "__name__" {
                continue;
            }
            if external.contains_key(&*l.name) {
                used.insert(&*l.name);
            }
            label.push(proto::LabelPair {
                name: Some(escape_name(&l.name, format.escaping)),
                value: Some(l.value.to_string()),
            });
        }
        for (k, v) in &external {
            if !used.contains(k.as_str()) {
                label.push(proto::LabelPair {
                    name: Some(escape_name(k, format.escaping)),
                    value: Some(v.clone()),
                });
            }
        }
        if let Some(f) = family.as_mut() {
            f.metric.push(proto::Metric {
                label,
                untyped: Some(proto::Untyped { value: Some(s.v) }),
                timestamp_ms: Some(s.t),
            });
        }
    }
    if let Some(done) = family {
        flush(&mut out, &done);
    }
    out
}

/// Whether `name` is a legacy metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn is_legacy_name(name: &str) -> bool {
    !name.is_empty() && name.char_indices().all(|(i, c)| legacy_char(c, i))
}

fn legacy_char(c: char, i: usize) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (c.is_ascii_digit() && i > 0)
}

/// `model.EscapeName`.
pub fn escape_name(name: &str, escaping: Escaping) -> String {
    match escaping {
        Escaping::AllowUtf8 => name.to_string(),
        Escaping::Underscores => {
            if is_legacy_name(name) {
                return name.to_string();
            }
            name.char_indices()
                .map(|(i, c)| if legacy_char(c, i) { c } else { '_' })
                .collect()
        }
        Escaping::Dots => {
            let mut out = String::with_capacity(name.len());
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    '.' => out.push_str("_dot_"),
                    c if legacy_char(c, i) => out.push(c),
                    _ => out.push_str("__"),
                }
            }
            out
        }
        Escaping::Values => {
            if is_legacy_name(name) {
                return name.to_string();
            }
            let mut out = String::from("U__");
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    c if legacy_char(c, i) => out.push(c),
                    c => out.push_str(&format!("_{:x}_", c as u32)),
                }
            }
            out
        }
    }
}

/// One family in the text format 0.0.4 (`# TYPE` line, then one line per metric).
fn write_text(out: &mut Vec<u8>, f: &proto::MetricFamily, escaping: Escaping) {
    let name = f.name.as_deref().unwrap_or("");
    let quoted = escaping == Escaping::AllowUtf8 && !is_legacy_name(name);
    let mut s = String::from("# TYPE ");
    write_name(&mut s, name);
    s.push_str(" untyped\n");
    for m in &f.metric {
        if !quoted {
            s.push_str(name);
        }
        if quoted || !m.label.is_empty() {
            s.push('{');
            if quoted {
                write_name(&mut s, name);
            }
            for (i, l) in m.label.iter().enumerate() {
                if i > 0 || quoted {
                    s.push(',');
                }
                write_name(&mut s, l.name.as_deref().unwrap_or(""));
                s.push_str("=\"");
                escape_value(&mut s, l.value.as_deref().unwrap_or(""));
                s.push('"');
            }
            s.push('}');
        }
        s.push(' ');
        s.push_str(&text_float(
            m.untyped.as_ref().and_then(|u| u.value).unwrap_or(0.0),
        ));
        if let Some(t) = m.timestamp_ms {
            s.push(' ');
            s.push_str(&t.to_string());
        }
        s.push('\n');
    }
    out.extend_from_slice(s.as_bytes());
}

/// A name as is when it is a legacy name, else double-quoted.
fn write_name(s: &mut String, name: &str) {
    if is_legacy_name(name) {
        s.push_str(name);
    } else {
        s.push('"');
        escape_value(s, name);
        s.push('"');
    }
}

/// The text format's label-value escapes: `\\`, `\"`, `\n`.
fn escape_value(s: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
}

/// A value as the text format writes it: `NaN`, `+Inf`, `-Inf`, else Go's `%g` shortest.
fn text_float(v: f64) -> String {
    crate::gostd::float::format_g(v, None, false)
}

/// The `io.prometheus.client` messages federation writes, from the published
/// `metrics.proto` (proto2) field numbers; optional fields keep their presence.
pub mod proto {
    /// `MetricType.UNTYPED`.
    pub const UNTYPED: i32 = 3;

    /// `io.prometheus.client.LabelPair`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        /// Label name.
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        /// Label value.
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    /// `io.prometheus.client.Untyped`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        /// The value.
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// `io.prometheus.client.Metric` (the untyped part only).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        /// Labels other than the name.
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        /// An untyped value.
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        /// Milliseconds since the epoch.
        #[prost(int64, optional, tag = "6")]
        pub timestamp_ms: Option<i64>,
    }

    /// `io.prometheus.client.MetricFamily`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        /// Metric name.
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        /// Help text.
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        /// `MetricType` as its number.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        /// The family's metrics.
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, &str)], t: i64, v: f64) -> FederatedSample {
        FederatedSample {
            labels: Labels::from_pairs(pairs.iter().copied()),
            t,
            v,
        }
    }

    fn text(samples: &mut [FederatedSample], ext: &[(&str, &str)]) -> String {
        let ext = ext
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let format = Format {
            protobuf: false,
            escaping: Escaping::Underscores,
        };
        String::from_utf8(encode(samples, &ext, format)).unwrap()
    }

    #[test]
    fn text_sorts_by_name_and_adds_external_labels_after_the_series_own() {
        let mut s = vec![
            sample(
                &[("__name__", "up"), ("job", "b"), ("instance", "x:1")],
                5,
                1.0,
            ),
            sample(
                &[("__name__", "ALERTS"), ("alertname", "A"), ("zone", "own")],
                7,
                1.0,
            ),
            sample(
                &[("__name__", "up"), ("job", "a"), ("instance", "x:1")],
                5,
                0.0,
            ),
            sample(&[("__name__", "job:x:sum"), ("job", "a")], 9, 0.25),
        ];
        let got = text(&mut s, &[("zone", "z"), ("replica", "r1")]);
        let want = "# TYPE ALERTS untyped\n\
            ALERTS{alertname=\"A\",zone=\"own\",instance=\"\",replica=\"r1\"} 1 7\n\
            # TYPE job:x:sum untyped\n\
            job:x:sum{job=\"a\",instance=\"\",replica=\"r1\",zone=\"z\"} 0.25 9\n\
            # TYPE up untyped\n\
            up{instance=\"x:1\",job=\"a\",replica=\"r1\",zone=\"z\"} 0 5\n\
            up{instance=\"x:1\",job=\"b\",replica=\"r1\",zone=\"z\"} 1 5\n";
        assert_eq!(got, want);
    }

    #[test]
    fn text_values_and_escapes_follow_the_exposition_format() {
        let mut s = vec![
            sample(&[("__name__", "a"), ("l", "q\"\\\nx")], 1, f64::INFINITY),
            sample(&[("__name__", "b")], 2, f64::NEG_INFINITY),
            sample(&[("__name__", "c")], 3, f64::NAN),
            sample(&[("__name__", "d")], 4, 1.5e-7),
            sample(&[("__name__", "e")], 5, 12345678901.0),
            sample(&[("job", "nameless")], 6, 1.0),
        ];
        let got = text(&mut s, &[("instance", "me")]);
        let want = "# TYPE a untyped\na{l=\"q\\\"\\\\\\nx\",instance=\"me\"} +Inf 1\n\
            # TYPE b untyped\nb{instance=\"me\"} -Inf 2\n\
            # TYPE c untyped\nc{instance=\"me\"} NaN 3\n\
            # TYPE d untyped\nd{instance=\"me\"} 1.5e-07 4\n\
            # TYPE e untyped\ne{instance=\"me\"} 1.2345678901e+10 5\n";
        assert_eq!(got, want);
    }

    #[test]
    fn names_are_escaped_as_negotiated() {
        assert_eq!(escape_name("a.b-c", Escaping::Underscores), "a_b_c");
        assert_eq!(escape_name("1a", Escaping::Underscores), "_a");
        assert_eq!(escape_name("go_info", Escaping::Underscores), "go_info");
        assert_eq!(escape_name("go_info", Escaping::Dots), "go__info");
        assert_eq!(escape_name("a.b-c", Escaping::Dots), "a_dot_b__c");
        assert_eq!(escape_name("a.b", Escaping::Values), "U__a_2e_b");
        assert_eq!(escape_name("a_b", Escaping::Values), "a_b");
        assert_eq!(escape_name("a.b", Escaping::AllowUtf8), "a.b");
        let mut s = vec![sample(&[("__name__", "a.b"), ("c.d", "v")], 1, 2.0)];
        let ext = BTreeMap::from([("instance".to_string(), "i".to_string())]);
        let utf8 = Format {
            protobuf: false,
            escaping: Escaping::AllowUtf8,
        };
        let got = String::from_utf8(encode(&mut s, &ext, utf8)).unwrap();
        assert_eq!(
            got,
            "# TYPE \"a.b\" untyped\n{\"a.b\",\"c.d\"=\"v\",instance=\"i\"} 2 1\n"
        );
    }

    #[test]
    fn selectors_follow_the_metric_selector_grammar() {
        let any = selector(r#"{job=~".*"}"#).unwrap();
        assert_eq!(any.len(), 1);
        assert_eq!(any[0].len(), 1);
        assert_eq!(any[0][0].name, "job");
        assert!(selector("{}").unwrap().is_empty());
        assert_eq!(selector(r#"{__name__=~".*"}"#).unwrap()[0].len(), 1);
        assert_eq!(selector(r#"up{job="a"}"#).unwrap()[0].len(), 2);
        assert_eq!(
            selector("up offset 5m").unwrap_err(),
            "1:4: parse error: unexpected <offset>"
        );
        assert!(selector("up @ 100").is_err());
        assert!(selector("rate(up[1m])").is_err());
        assert!(selector("up{").unwrap_err().starts_with("1:4: parse error"));
    }

    #[test]
    fn negotiation_follows_expfmt() {
        let proto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                     encoding=delimited";
        assert_eq!(
            negotiate(Some(proto)),
            Format {
                protobuf: true,
                escaping: Escaping::Underscores
            }
        );
        assert_eq!(
            negotiate(Some(&format!("{proto};escaping=allow-utf-8"))).content_type(),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
             encoding=delimited; escaping=allow-utf-8"
        );
        let text_first = format!("{proto};q=0.5,text/plain;version=0.0.4;q=0.9");
        assert!(!negotiate(Some(&text_first)).protobuf);
        assert_eq!(
            negotiate(None).content_type(),
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
        );
        // An entry passed over still sets the escaping, as Prometheus 3.5 answers.
        assert_eq!(
            negotiate(Some("text/plain;version=1.0.0;escaping=allow-utf-8")).content_type(),
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
        assert!(!negotiate(Some("application/openmetrics-text;version=1.0.0")).protobuf);
        assert!(!negotiate(Some("text/html, */*;q=0.1")).protobuf);
        assert!(!negotiate(Some(";;,,=;q=x")).protobuf);
    }

    #[test]
    fn protobuf_is_length_delimited_metric_families() {
        let mut s = vec![
            sample(&[("__name__", "up"), ("job", "a")], 5, 1.0),
            sample(&[("__name__", "x")], 6, 0.0),
        ];
        let format = Format {
            protobuf: true,
            escaping: Escaping::Underscores,
        };
        let body = encode(&mut s, &BTreeMap::new(), format);
        let mut buf = body.as_slice();
        let first = proto::MetricFamily::decode_length_delimited(&mut buf).unwrap();
        let second = proto::MetricFamily::decode_length_delimited(&mut buf).unwrap();
        assert!(buf.is_empty());
        assert_eq!(first.name.as_deref(), Some("up"));
        assert_eq!(first.r#type, Some(proto::UNTYPED));
        let m = &first.metric[0];
        let labels: Vec<_> = m
            .label
            .iter()
            .map(|l| (l.name.clone().unwrap(), l.value.clone().unwrap()))
            .collect();
        assert_eq!(
            labels,
            [
                ("job".into(), "a".into()),
                ("instance".into(), String::new())
            ]
        );
        assert_eq!(m.timestamp_ms, Some(5));
        assert_eq!(m.untyped.as_ref().unwrap().value, Some(1.0));
        // A zero value is still written (proto2 presence).
        assert_eq!(second.metric[0].untyped.as_ref().unwrap().value, Some(0.0));
        // The wire bytes of the first message: field 1 "up", field 3 = 3.
        assert_eq!(&body[1..5], b"\x0a\x02up");
    }
}
