//! PagerDuty, as Alertmanager's `notify/pagerduty`: Events API v2 with a `routing_key`
//! (`trigger`/`resolve` with the group key's SHA-256 as `dedup_key`, summary cut to 1024
//! characters, images and links without a `src`/`href` dropped, `custom_details`), or the v1
//! API with a `service_key` (`incident_key`, `description`, `details`). Bodies are Go JSON
//! (struct key order, `omitempty`, HTML escaping, trailing newline); an event over 512,000
//! bytes has its details replaced by an error note. Details are templates whose results are
//! read as YAML (`"3"` becomes a number), as Alertmanager 0.33 does; the default details are
//! `firing`, `resolved` (the alerts as JSON values), `num_firing` and `num_resolved`.
//!
//! Retries: 5xx and 429 (v2) or 403 (v1), as Alertmanager; watchfire also retries 429 on v1
//! and honours `Retry-After`. A 400 reports PagerDuty's `message` and `errors`.

use super::incident_text::{
    alert_value, check, deep_copy_with_template, exchange, go_json, key_hash, pagerduty_client,
    read_key_file, subject, truncate_runes, Texts,
};
use super::with_auth;
use crate::config::PagerdutyConfig;
use crate::gostd::json as gojson;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::TemplateLibrary;
use crate::notify::text;
use crate::notify::FailureReason;

/// PagerDuty's fixed Events API v1 endpoint, used when `url` is not set on a v1 entry.
pub const V1_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";
/// The largest event PagerDuty accepts, in bytes.
const MAX_EVENT_SIZE: usize = 512_000;
/// The longest v1 description / v2 summary, in characters.
const MAX_SUMMARY_CHARS: usize = 1024;

/// A configured PagerDuty integration.
pub struct Pagerduty {
    config: PagerdutyConfig,
    texts: Texts,
    client: reqwest::Client,
}

impl Pagerduty {
    /// Builds the integration; fails when a configured text does not parse.
    pub fn new(
        config: PagerdutyConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Pagerduty, String> {
        let c = &config;
        let mut sources: Vec<&str> = [
            &c.client,
            &c.client_url,
            &c.description,
            &c.source,
            &c.severity,
            &c.class,
            &c.component,
            &c.group,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        for l in &c.links {
            sources.extend([l.href.as_str(), l.text.as_str()]);
        }
        for i in &c.images {
            sources.extend([i.src.as_str(), i.alt.as_str(), i.href.as_str()]);
        }
        let mut detail_strings = Vec::new();
        for (k, v) in &c.details {
            detail_strings.push(k.clone());
            collect_strings(v, &mut detail_strings);
        }
        sources.extend(detail_strings.iter().map(String::as_str));
        let texts = Texts::compile(lib, "pagerduty", sources)?;
        Ok(Pagerduty {
            config,
            texts,
            client,
        })
    }

    fn is_v1(&self) -> bool {
        self.config.service_key.is_some() || self.config.service_key_file.is_some()
    }

    fn details(&self, n: &Notification) -> Result<serde_json::Value, NotifyError> {
        let mut out = serde_json::Map::new();
        for (k, v) in &self.config.details {
            let key = self.texts.render(k, n)?;
            out.insert(key, deep_copy_with_template(v, &self.texts, n, 0)?);
        }
        let firing: Vec<serde_json::Value> = n.firing().map(|a| alert_value(n, a)).collect();
        let resolved: Vec<serde_json::Value> = n.resolved().map(|a| alert_value(n, a)).collect();
        let defaults = [
            ("num_firing", serde_json::Value::from(firing.len())),
            ("num_resolved", serde_json::Value::from(resolved.len())),
            ("firing", serde_json::Value::Array(firing)),
            ("resolved", serde_json::Value::Array(resolved)),
        ];
        for (k, v) in defaults {
            if !self.config.details.contains_key(k) {
                // The defaults are JSON that Alertmanager reads back as YAML and copies again.
                out.insert(
                    k.to_owned(),
                    deep_copy_with_template(&v, &self.texts, n, 0)?,
                );
            }
        }
        Ok(serde_json::Value::Object(out))
    }

    fn key(&self, n: &Notification) -> Result<String, NotifyError> {
        let c = &self.config;
        let (inline, file, what) = if self.is_v1() {
            (&c.service_key, &c.service_key_file, "service key")
        } else {
            (&c.routing_key, &c.routing_key_file, "routing key")
        };
        let raw = match (inline, file) {
            (Some(k), _) => k.expose().to_owned(),
            (None, Some(path)) => read_key_file(path, what)?.trim().to_owned(),
            (None, None) => String::new(),
        };
        let key = self.texts.render(&raw, n)?;
        if key.is_empty() {
            return Err(NotifyError::permanent(
                FailureReason::Config,
                format!("{what} cannot be empty"),
            ));
        }
        Ok(key)
    }

    /// The request body for `n`.
    pub fn payload(&self, n: &Notification) -> Result<String, NotifyError> {
        let key = self.key(n)?;
        self.payload_with_key(n, &key)
    }

    fn payload_with_key(&self, n: &Notification, key: &str) -> Result<String, NotifyError> {
        let key = key.to_owned();
        let details = self.details(n)?;
        let out = if self.is_v1() {
            self.v1(n, &key, &details)?
        } else {
            self.v2(n, &key, &details)?
        };
        if out.len() <= MAX_EVENT_SIZE {
            return Ok(out);
        }
        let note = serde_json::json!({
            "error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"
        });
        if self.is_v1() {
            self.v1(n, &key, &note)
        } else {
            self.v2(n, &key, &note)
        }
    }

    fn text(
        &self,
        source: Option<&String>,
        n: &Notification,
        default: fn(&Notification) -> String,
    ) -> Result<String, NotifyError> {
        self.texts.render_or(source.map(String::as_str), n, default)
    }

    fn v1(
        &self,
        n: &Notification,
        key: &str,
        details: &serde_json::Value,
    ) -> Result<String, NotifyError> {
        let c = &self.config;
        let trigger = n.status() == crate::notify::alert::AlertStatus::Firing;
        let description = truncate_runes(
            &self.text(c.description.as_ref(), n, subject)?,
            MAX_SUMMARY_CHARS,
        );
        let mut out = String::with_capacity(1024);
        out.push('{');
        field(&mut out, "service_key", key);
        out.push(',');
        field(&mut out, "incident_key", &key_hash(&n.group_key));
        out.push(',');
        field(
            &mut out,
            "event_type",
            if trigger { "trigger" } else { "resolve" },
        );
        if !description.is_empty() {
            out.push(',');
            field(&mut out, "description", &description);
        }
        out.push_str(r#","event_action":"","payload":null"#);
        if trigger {
            let client = self.text(c.client.as_ref(), n, pagerduty_client)?;
            let client_url = self.text(c.client_url.as_ref(), n, text::alerts_link)?;
            optional(&mut out, "client", &client);
            optional(&mut out, "client_url", &client_url);
        }
        details_field(&mut out, "details", details);
        out.push_str("}\n");
        Ok(out)
    }

    fn v2(
        &self,
        n: &Notification,
        key: &str,
        details: &serde_json::Value,
    ) -> Result<String, NotifyError> {
        let c = &self.config;
        let trigger = n.status() == crate::notify::alert::AlertStatus::Firing;
        let summary = truncate_runes(
            &self.text(c.description.as_ref(), n, subject)?,
            MAX_SUMMARY_CHARS,
        );
        let client = self.text(c.client.as_ref(), n, pagerduty_client)?;
        let client_url = self.text(c.client_url.as_ref(), n, text::alerts_link)?;
        let source = self.text(c.source.as_ref(), n, pagerduty_client)?;
        let severity = self.text(c.severity.as_ref(), n, |_| "error".to_owned())?;
        let class = self.text(c.class.as_ref(), n, |_| String::new())?;
        let component = self.text(c.component.as_ref(), n, |_| String::new())?;
        let group = self.text(c.group.as_ref(), n, |_| String::new())?;
        let mut out = String::with_capacity(2048);
        out.push('{');
        field(&mut out, "routing_key", key);
        out.push(',');
        field(&mut out, "dedup_key", &key_hash(&n.group_key));
        out.push(',');
        field(
            &mut out,
            "event_action",
            if trigger { "trigger" } else { "resolve" },
        );
        out.push_str(",\"payload\":{");
        field(&mut out, "summary", &summary);
        out.push(',');
        field(&mut out, "source", &source);
        out.push(',');
        field(&mut out, "severity", &severity);
        optional(&mut out, "class", &class);
        optional(&mut out, "component", &component);
        optional(&mut out, "group", &group);
        details_field(&mut out, "custom_details", details);
        out.push('}');
        optional(&mut out, "client", &client);
        optional(&mut out, "client_url", &client_url);
        let mut images = Vec::new();
        for i in &c.images {
            let src = self.texts.render(&i.src, n)?;
            let alt = self.texts.render(&i.alt, n)?;
            let href = self.texts.render(&i.href, n)?;
            if !src.is_empty() {
                images.push([("src", src), ("alt", alt), ("href", href)]);
            }
        }
        let mut links = Vec::new();
        for l in &c.links {
            let href = self.texts.render(&l.href, n)?;
            let text = self.texts.render(&l.text, n)?;
            if !href.is_empty() {
                links.push([("href", href), ("text", text)]);
            }
        }
        objects(&mut out, "images", &images);
        objects(&mut out, "links", &links);
        out.push_str("}\n");
        Ok(out)
    }

    fn url(&self) -> &str {
        if self.is_v1() && !self.config.url_set {
            V1_URL
        } else {
            &self.config.url
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

fn field(out: &mut String, key: &str, value: &str) {
    gojson::key(out, key);
    gojson::string(out, value);
}

fn optional(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        out.push(',');
        field(out, key, value);
    }
}

fn details_field(out: &mut String, key: &str, details: &serde_json::Value) {
    if details.as_object().is_some_and(|m| !m.is_empty()) {
        out.push(',');
        gojson::key(out, key);
        go_json(out, details);
    }
}

fn objects<const N: usize>(out: &mut String, key: &str, items: &[[(&str, String); N]]) {
    if items.is_empty() {
        return;
    }
    out.push(',');
    gojson::key(out, key);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        for (j, (k, v)) in item.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            field(out, k, v);
        }
        out.push('}');
    }
    out.push(']');
}

/// PagerDuty's explanation of a 400: `message: error,error`.
fn error_details(status: u16, body: &str) -> String {
    if status != 400 {
        return String::new();
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(a) => format!("{}: {}", a.message, a.errors.join(",")),
        Err(_) => String::new(),
    }
}

#[async_trait]
impl Integration for Pagerduty {
    fn name(&self) -> &str {
        "pagerduty"
    }

    /// The body with the routing or service key shown as `<secret>`.
    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload_with_key(n, crate::config::REDACTED)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = self.payload(n)?;
        let req = self
            .client
            .post(self.url())
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let answer = exchange(with_auth(req, &self.config.http_config)).await?;
        let retry_codes: &[u16] = if self.is_v1() { &[403] } else { &[429] };
        check(
            &answer,
            retry_codes,
            &error_details(answer.status, &answer.body),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::incident_text::test_support::{answer, config_of, note};
    use super::*;
    use crate::notify::alert::AlertStatus;

    fn pd(extra: &str) -> Pagerduty {
        let c = config_of(&format!("    pagerduty_configs:\n      - {extra}\n"));
        Pagerduty::new(
            c.receivers[0].pagerduty_configs[0].clone(),
            reqwest::Client::new(),
            &TemplateLibrary::default(),
        )
        .unwrap()
    }

    #[test]
    fn v2_default_event() {
        let p = pd("routing_key: rk");
        let body = p.payload(&note()).unwrap();
        let hash = key_hash("{}:{alertname=\"DiskFull\"}");
        assert!(body.ends_with("}\n"));
        let expected_start = format!(
            "{{\"routing_key\":\"rk\",\"dedup_key\":\"{hash}\",\"event_action\":\"trigger\",\"payload\":{{\"summary\":\"[FIRING:1] DiskFull (db1 critical)\",\"source\":\"Alertmanager\",\"severity\":\"error\",\"custom_details\":{{\"firing\":[{{\"annotations\":{{\"summary\":\"disk \\u003cfull\\u003e\"}},"
        );
        assert!(body.starts_with(&expected_start), "{body}");
        assert!(body.contains(r#""num_firing":1,"num_resolved":0,"resolved":[]}},"client":"Alertmanager","client_url":"http://am.example/#/alerts?receiver=team"}"#), "{body}");
    }

    #[test]
    fn v2_configured_fields() {
        let p = pd("{routing_key: '{{ .CommonLabels.severity }}-key', severity: '{{ .CommonLabels.severity }}', \
             class: c, details: {n: '{{ len .Alerts }}', s: text, firing: x}, \
             links: [{href: 'http://l', text: L}, {text: dropped}], images: [{src: 'http://i', alt: A}]}");
        let body = p.payload(&note()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["routing_key"], "critical-key");
        assert_eq!(v["payload"]["severity"], "critical");
        assert_eq!(v["payload"]["class"], "c");
        assert_eq!(v["payload"]["custom_details"]["n"], 1);
        assert_eq!(v["payload"]["custom_details"]["s"], "text");
        assert_eq!(v["payload"]["custom_details"]["firing"], "x");
        assert_eq!(
            v["links"],
            serde_json::json!([{"href": "http://l", "text": "L"}])
        );
        assert_eq!(
            v["images"],
            serde_json::json!([{"src": "http://i", "alt": "A", "href": ""}])
        );
        let mut resolved = note();
        resolved.alerts[0].status = AlertStatus::Resolved;
        resolved.alerts[0].ends_at = Some(resolved.created_at);
        let v: serde_json::Value = serde_json::from_str(&p.payload(&resolved).unwrap()).unwrap();
        assert_eq!(v["event_action"], "resolve");
    }

    #[test]
    fn v1_event_and_url() {
        let p = pd("service_key: sk");
        assert_eq!(p.url(), V1_URL);
        let body = p.payload(&note()).unwrap();
        assert!(
            body.starts_with(r#"{"service_key":"sk","incident_key":""#),
            "{body}"
        );
        assert!(body.contains(r#""event_type":"trigger","description":"[FIRING:1] DiskFull (db1 critical)","event_action":"","payload":null,"client":"Alertmanager","#), "{body}");
        assert!(p
            .render(&note())
            .unwrap()
            .starts_with(r#"{"service_key":"\u003csecret\u003e","#));
        let p = pd("{service_key: sk, url: 'http://127.0.0.1:1/v1'}");
        assert_eq!(p.url(), "http://127.0.0.1:1/v1");
    }

    #[test]
    fn keys_from_files_are_read_at_send_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "first\n").unwrap();
        let p = pd(&format!("routing_key_file: {}", file.display()));
        assert!(p
            .payload(&note())
            .unwrap()
            .starts_with(r#"{"routing_key":"first","#));
        std::fs::write(&file, "second").unwrap();
        assert!(p
            .payload(&note())
            .unwrap()
            .starts_with(r#"{"routing_key":"second","#));
        std::fs::remove_file(&file).unwrap();
        let e = p.payload(&note()).unwrap_err();
        assert!(!e.is_retryable() && e.message.contains("failed to read routing key"));
    }

    #[test]
    fn long_summaries_and_huge_details_are_cut() {
        let p = pd(&format!(
            "{{routing_key: k, description: {}}}",
            "x".repeat(2000)
        ));
        let v: serde_json::Value = serde_json::from_str(&p.payload(&note()).unwrap()).unwrap();
        let summary = v["payload"]["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), 1024);
        assert!(summary.ends_with('…'));
        let mut n = note();
        n.alerts[0]
            .annotations
            .insert("big".into(), "y".repeat(600_000));
        let v: serde_json::Value =
            serde_json::from_str(&pd("routing_key: k").payload(&n).unwrap()).unwrap();
        assert_eq!(
            v["payload"]["custom_details"],
            serde_json::json!({"error": "Custom details have been removed because the original event exceeds the maximum size of 512KB"})
        );
    }

    #[test]
    fn retry_classification() {
        let e = check(&answer(429, ""), &[429], "").unwrap_err();
        assert!(e.is_retryable());
        let e = check(&answer(503, "x"), &[429], &error_details(503, "x")).unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.message, "unexpected status code 503");
        let body = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
        let e = check(&answer(400, body), &[429], &error_details(400, body)).unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(
            e.message,
            "unexpected status code 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
        );
        assert!(check(&answer(403, ""), &[403], "")
            .unwrap_err()
            .is_retryable());
        assert!(!check(&answer(403, ""), &[429], "")
            .unwrap_err()
            .is_retryable());
        assert!(check(&answer(202, ""), &[429], "").is_ok());
    }
}
