//! What the PagerDuty, Opsgenie and Webex integrations share: Alertmanager's default texts for
//! them (written here in Rust; the output equals `template/default.tmpl`'s), configured texts
//! compiled once, the group-key hash, rune and byte truncation as `notify.TruncateIn*`, and a
//! Go `encoding/json` writer for free-form values.

use crate::gostd::json as gojson;
use crate::notify::alert::{alert_fingerprint, AlertStatus, NotifyAlert};
use crate::notify::integration::NotifyError;
use crate::notify::notification::Notification;
use crate::notify::templates::{TemplateLibrary, Text};
use crate::notify::text;
use crate::notify::FailureReason;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Alertmanager's `__text_alert_list`: per alert its sorted labels, annotations and source.
pub fn alert_list<'a>(alerts: impl IntoIterator<Item = &'a NotifyAlert>) -> String {
    alert_list_with(alerts, |s| s.to_owned())
}

fn common_annotation_values(n: &Notification) -> String {
    n.common_annotations()
        .into_values()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The default Opsgenie description: common annotation values, then the firing and the
/// resolved alerts, each list under its heading.
pub fn opsgenie_description(n: &Notification) -> String {
    let mut out = common_annotation_values(n);
    out.push('\n');
    let firing: Vec<&NotifyAlert> = n.firing().collect();
    if !firing.is_empty() {
        out.push_str("Alerts Firing:\n");
        out.push_str(&alert_list(firing));
    }
    out.push('\n');
    let resolved: Vec<&NotifyAlert> = n.resolved().collect();
    if !resolved.is_empty() {
        out.push_str("Alerts Resolved:\n");
        out.push_str(&alert_list(resolved));
    }
    out
}

/// The default Webex (and Pushover) message: common annotation values, then blank-line
/// separated sections for the firing and the resolved alerts.
pub fn webex_message(n: &Notification) -> String {
    message_with(n, |s| s.to_owned())
}

/// The default Pushover message with `html` set: the same text with every value escaped as
/// Go's `html/template` escapes it.
pub fn webex_message_html(n: &Notification) -> String {
    message_with(n, html_escape)
}

/// `html/template`'s escaping of text.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '+' => out.push_str("&#43;"),
            c => out.push(c),
        }
    }
    out
}

fn alert_list_with<'a>(
    alerts: impl IntoIterator<Item = &'a NotifyAlert>,
    esc: fn(&str) -> String,
) -> String {
    let mut out = String::new();
    for a in alerts {
        out.push_str("Labels:\n");
        for l in a.labels.iter() {
            let _ = writeln!(out, " - {} = {}", esc(&l.name), esc(&l.value));
        }
        out.push_str("Annotations:\n");
        for (k, v) in &a.annotations {
            let _ = writeln!(out, " - {} = {}", esc(k), esc(v));
        }
        let _ = writeln!(out, "Source: {}", esc(&a.generator_url));
    }
    out
}

fn message_with(n: &Notification, esc: fn(&str) -> String) -> String {
    let mut out = esc(&common_annotation_values(n));
    out.push('\n');
    let firing: Vec<&NotifyAlert> = n.firing().collect();
    if !firing.is_empty() {
        out.push_str("\nAlerts Firing:\n");
        out.push_str(&alert_list_with(firing, esc));
        out.push('\n');
    }
    out.push('\n');
    let resolved: Vec<&NotifyAlert> = n.resolved().collect();
    if !resolved.is_empty() {
        out.push_str("\nAlerts Resolved:\n");
        out.push_str(&alert_list_with(resolved, esc));
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The default PagerDuty client name.
pub fn pagerduty_client(_: &Notification) -> String {
    "Alertmanager".to_owned()
}

/// Configured texts of one integration, compiled when it is built; strings met only at send
/// time (free-form details, keys read from files) are compiled then.
#[derive(Clone, Debug, Default)]
pub struct Texts {
    lib: TemplateLibrary,
    compiled: HashMap<String, Text>,
}

impl Texts {
    /// Compiles every string of `sources` that holds a template action.
    pub fn compile<'a>(
        lib: &TemplateLibrary,
        kind: &str,
        sources: impl IntoIterator<Item = &'a str>,
    ) -> Result<Texts, String> {
        let mut compiled = HashMap::new();
        for s in sources {
            if s.contains("{{") && !compiled.contains_key(s) {
                compiled.insert(s.to_owned(), lib.compile(kind, s, false)?);
            }
        }
        Ok(Texts {
            lib: lib.clone(),
            compiled,
        })
    }

    /// Executes `source` for `n` (text without actions is itself).
    pub fn render(&self, source: &str, n: &Notification) -> Result<String, NotifyError> {
        if !source.contains("{{") {
            return Ok(source.to_owned());
        }
        match self.compiled.get(source) {
            Some(t) => t.render(n),
            None => self
                .lib
                .compile("text", source, false)
                .map_err(|e| NotifyError::permanent(FailureReason::Template, e))?
                .render(n),
        }
    }

    /// The configured text, or the default.
    pub fn render_or(
        &self,
        source: Option<&str>,
        n: &Notification,
        default: fn(&Notification) -> String,
    ) -> Result<String, NotifyError> {
        match source {
            Some(s) => self.render(s, n),
            None => Ok(default(n)),
        }
    }
}

/// Alertmanager's `notify.Key.Hash`: the hex SHA-256 of the group key.
pub fn key_hash(group_key: &str) -> String {
    let digest = Sha256::digest(group_key.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `notify.TruncateInRunes`: at most `n` characters, the last one `…` when cut.
pub fn truncate_runes(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    if n <= 3 {
        return s.chars().take(n).collect();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// `notify.TruncateInBytes`: at most `n` bytes, ending in `…` when cut, never inside a
/// character.
pub fn truncate_bytes(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    if n <= 3 {
        return if n == 3 {
            "…".to_owned()
        } else {
            ".".repeat(n)
        };
    }
    let mut end = n - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    out.push('…');
    out
}

/// Reads a key from a `*_file` at send time; a missing file is a permanent error.
pub fn read_key_file(path: &std::path::Path, what: &str) -> Result<String, NotifyError> {
    std::fs::read_to_string(path).map_err(|e| {
        NotifyError::permanent(
            FailureReason::Config,
            format!("failed to read {what} from file: {e}"),
        )
    })
}

/// Appends `v` as Go's `encoding/json` writes an `any`: object keys sorted, HTML characters
/// escaped, floats in Go's shortest form.
pub fn go_json(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(num) => {
            if num.is_i64() || num.is_u64() {
                out.push_str(&num.to_string());
            } else {
                out.push_str(&go_float(num.as_f64().unwrap_or(0.0)));
            }
        }
        J::String(s) => gojson::string(out, s),
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(out, item);
            }
            out.push(']');
        }
        J::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gojson::key(out, k);
                go_json(out, &m[k]);
            }
            out.push('}');
        }
    }
}

/// A float64 as Go's `encoding/json` writes it.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    format!("{f}")
}

/// Alertmanager's `template.Alert` as its JSON becomes a value (`toJson`): status, labels,
/// annotations, times, source and fingerprint.
pub fn alert_value(n: &Notification, a: &NotifyAlert) -> serde_json::Value {
    let status = n.alert_status(a);
    let ends = match (status, a.ends_at) {
        (AlertStatus::Resolved, Some(end)) => gojson::time_text(end),
        (AlertStatus::Resolved, None) => gojson::time_text(n.created_at),
        (AlertStatus::Firing, _) => gojson::ZERO_TIME.to_owned(),
    };
    let labels: serde_json::Map<String, serde_json::Value> = a
        .labels
        .iter()
        .map(|l| (l.name.to_string(), serde_json::Value::from(&*l.value)))
        .collect();
    let annotations: serde_json::Map<String, serde_json::Value> = a
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    serde_json::json!({
        "status": status.as_str(),
        "labels": labels,
        "annotations": annotations,
        "startsAt": gojson::time_text(a.starts_at),
        "endsAt": ends,
        "generatorURL": a.generator_url,
        "fingerprint": format!("{:016x}", alert_fingerprint(&a.labels)),
    })
}

/// Alertmanager's `template.DeepCopyWithTemplate`: every string is executed as a template
/// and the result read as YAML (1.1, as `gopkg.in/yaml.v2`); a result that is not a string
/// is copied again, so `"3"` becomes the number 3 and `"[a, b]"` a list.
pub fn deep_copy_with_template(
    v: &serde_json::Value,
    texts: &Texts,
    n: &Notification,
    depth: usize,
) -> Result<serde_json::Value, NotifyError> {
    use serde_json::Value as J;
    if depth > 64 {
        return Ok(v.clone());
    }
    Ok(match v {
        J::String(s) => {
            let rendered = texts.render(s, n)?;
            // Text that YAML reads as a string stays as rendered.
            match yaml_value(&rendered) {
                None | Some(J::String(_)) => J::String(rendered),
                Some(other) => deep_copy_with_template(&other, texts, n, depth + 1)?,
            }
        }
        J::Array(items) => J::Array(
            items
                .iter()
                .map(|i| deep_copy_with_template(i, texts, n, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = texts.render(k, n)?;
                out.insert(key, deep_copy_with_template(v, texts, n, depth + 1)?);
            }
            J::Object(out)
        }
        other => other.clone(),
    })
}

/// `s` read as a YAML document the way `yaml.v2` reads it into an `interface{}`; `None` when it
/// does not parse (the text stays a string).
fn yaml_value(s: &str) -> Option<serde_json::Value> {
    let t = s.trim();
    if !t.contains('\n')
        && !t.starts_with(['[', '{', '-', '?', '|', '>', '!', '&', '*', '#'])
        && !t.contains(": ")
        && !t.ends_with(':')
        && !t.contains(" #")
        && !t.starts_with(['"', '\''])
    {
        return Some(crate::gostd::yaml::plain_scalar(t));
    }
    let parsed: serde_json::Value =
        serde_saphyr::from_str_with_options(s, crate::config::yaml_options()).ok()?;
    Some(match parsed {
        serde_json::Value::String(p) if !t.starts_with(['"', '\'']) => {
            crate::gostd::yaml::plain_scalar(&p)
        }
        other => other,
    })
}

/// The most of a response body kept for error messages.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// An HTTP answer: status, requested retry delay, and the start of the body.
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// `Retry-After`, when sent.
    pub retry_after: Option<std::time::Duration>,
    /// The body, cut at 64 KiB.
    pub body: String,
}

/// Sends `req` and reads at most 64 KiB of the answer; transport errors are retryable.
pub async fn exchange(req: reqwest::RequestBuilder) -> Result<Answer, NotifyError> {
    let resp = req
        .send()
        .await
        .map_err(|e| NotifyError::from_reqwest(&e))?;
    read_answer(resp).await
}

/// [`exchange`] for a URL that holds a secret: errors do not show the URL.
pub async fn exchange_redacted(req: reqwest::RequestBuilder) -> Result<Answer, NotifyError> {
    let resp = req
        .send()
        .await
        .map_err(|e| NotifyError::from_reqwest(&e.without_url()))?;
    read_answer(resp).await
}

async fn read_answer(mut resp: reqwest::Response) -> Result<Answer, NotifyError> {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            crate::notify::integration::parse_retry_after(v, std::time::SystemTime::now())
        });
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    Ok(Answer {
        status,
        retry_after,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Alertmanager's `Retrier.Check`: 2xx is success; 5xx, 429 and `retry_codes` are retried;
/// the message is `unexpected status code N` and `details`, when not empty.
pub fn check(answer: &Answer, retry_codes: &[u16], details: &str) -> Result<(), NotifyError> {
    let status = answer.status;
    if status / 100 == 2 {
        return Ok(());
    }
    let mut message = format!("unexpected status code {status}");
    if !details.is_empty() {
        message.push_str(": ");
        message.push_str(details);
    }
    let reason = match status {
        429 => FailureReason::Http429,
        500..=599 => FailureReason::Http5xx,
        400..=499 => FailureReason::Http4xx,
        _ => FailureReason::InvalidResponse,
    };
    if status / 100 == 5 || status == 429 || retry_codes.contains(&status) {
        Err(NotifyError::retryable(reason, message).with_retry_after(answer.retry_after))
    } else {
        Err(NotifyError::permanent(reason, message))
    }
}

/// The default PagerDuty summary and the Opsgenie message: Alertmanager's subject.
pub fn subject(n: &Notification) -> String {
    text::subject(n)
}

/// Helpers for the unit tests of the integrations that use this module.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Answer;
    use crate::model::Labels;
    use crate::notify::alert::NotifyAlert;
    use crate::notify::notification::{Notification, NotificationReason};
    use chrono::Utc;

    /// A config with receiver `team` made of `body` (indented under the receiver).
    pub fn config_of(body: &str) -> crate::config::Config {
        let text = format!("route: {{receiver: team}}\nreceivers:\n  - name: team\n{body}");
        crate::config::parse_with_env(&text, std::path::Path::new("t.yml"), &|_| None)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// One firing DiskFull alert on db1 (critical), grouped by alertname.
    pub fn note() -> Notification {
        let labels = Labels::from_pairs([
            ("alertname", "DiskFull"),
            ("instance", "db1"),
            ("severity", "critical"),
        ]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.annotations.insert("summary".into(), "disk <full>".into());
        a.generator_url = "http://prom.example/graph".into();
        Notification::new(
            "team",
            "{}:{alertname=\"DiskFull\"}",
            labels.keep(&["alertname"]),
            NotificationReason::FirstNotification,
            vec![a],
            "http://am.example",
            Utc::now(),
        )
    }

    /// An answer with `status` and `body`.
    pub fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_shows_each_integration() {
        let c = super::test_support::config_of(
            "    pagerduty_configs: [{routing_key: k}]\n    opsgenie_configs: [{api_key: k}]\n    \
             webex_configs: [{room_id: r, http_config: {bearer_token: t}}]\n",
        );
        let n = super::test_support::note();
        let out = crate::notify::preview::render(&c, &n.alerts, "http://am.example").unwrap();
        let names: Vec<&str> = out.iter().map(|r| r.integration.as_str()).collect();
        assert_eq!(names, ["pagerduty", "opsgenie", "webex"]);
        for r in &out {
            let body = r.output.as_ref().unwrap();
            assert!(body.contains("DiskFull"), "{body}");
        }
    }

    #[test]
    fn truncation_as_alertmanager() {
        assert_eq!(truncate_runes("abcdef", 4), "abc…");
        assert_eq!(truncate_runes("abc", 3), "abc");
        assert_eq!(truncate_runes("abcd", 2), "ab");
        assert_eq!(truncate_bytes("abcdef", 5), "ab…");
        assert_eq!(truncate_bytes("ééé", 5), "é…");
        assert_eq!(truncate_bytes("ééé", 4), "…");
        assert_eq!(truncate_bytes("abcdef", 2), "..");
    }

    #[test]
    fn yaml_scalars_as_yaml_v2() {
        assert_eq!(yaml_value("3"), Some(json!(3)));
        assert_eq!(yaml_value("0x10"), Some(json!(16)));
        assert_eq!(yaml_value("1.5"), Some(json!(1.5)));
        assert_eq!(yaml_value("yes"), Some(json!(true)));
        assert_eq!(yaml_value(""), Some(json!(null)));
        assert_eq!(yaml_value("db1:9100"), Some(json!("db1:9100")));
        assert_eq!(
            yaml_value("2026-01-01T00:00:00Z"),
            Some(json!("2026-01-01T00:00:00Z"))
        );
        assert_eq!(yaml_value("[1, \"a\"]"), Some(json!([1, "a"])));
        assert_eq!(yaml_value("a: b"), Some(json!({"a": "b"})));
        assert_eq!(yaml_value("*x"), None);
    }

    #[test]
    fn go_json_writes_as_go() {
        let mut out = String::new();
        go_json(
            &mut out,
            &json!({"b": [1, 1.5, 1e21, 0.0000001, "<&>"], "a": null}),
        );
        assert_eq!(
            out,
            r#"{"a":null,"b":[1,1.5,1e+21,1e-7,"\u003c\u0026\u003e"]}"#
        );
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
