//! Slack incoming webhooks, with Alertmanager's request shape (`notify/slack`): one attachment,
//! Go JSON encoding, `omitempty` rules, title cut to 1024 characters, and the same response
//! check (a JSON body must say `"ok": true`, any other 2xx body must be `ok`).
//!
//! watchfire's defaults differ in two ways: the colour follows the highest firing severity
//! (`danger` critical, `warning` warning, `good` resolved), and without configured `fields`
//! each alert gets a field saying what happened to it (fired, escalated, resolved). HTTP 429
//! is retried after its `Retry-After`.

use super::{read_url_file, send, with_auth};
use crate::config::SlackConfig;
use crate::gostd::json as gojson;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::text;
use crate::notify::FailureReason;

/// The longest attachment title Slack accepts, in characters.
const MAX_TITLE_CHARS: usize = 1024;

/// The configured Slack texts, compiled.
#[derive(Clone, Debug, Default)]
pub struct SlackTexts {
    title: Option<Text>,
    title_link: Option<Text>,
    pretext: Option<Text>,
    text: Option<Text>,
    fields: Vec<(Text, Text, Option<bool>)>,
}

impl SlackTexts {
    /// Compiles the templated fields of `config`.
    pub fn compile(config: &SlackConfig, lib: &TemplateLibrary) -> Result<SlackTexts, String> {
        let fields = config
            .fields
            .iter()
            .map(|f| {
                Ok((
                    lib.compile("slack.field.title", &f.title, false)?,
                    lib.compile("slack.field.value", &f.value, false)?,
                    f.short,
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(SlackTexts {
            title: lib.compile_opt("slack.title", config.title.as_deref(), false)?,
            title_link: lib.compile_opt("slack.title_link", config.title_link.as_deref(), false)?,
            pretext: lib.compile_opt("slack.pretext", config.pretext.as_deref(), false)?,
            text: lib.compile_opt("slack.text", config.text.as_deref(), false)?,
            fields,
        })
    }
}

/// The request body for `n` under `config`, with `texts` compiled from it.
pub fn payload(
    config: &SlackConfig,
    texts: &SlackTexts,
    n: &Notification,
) -> Result<String, NotifyError> {
    let mut out = String::with_capacity(1024);
    out.push('{');
    let mut first = true;
    let mut field = |out: &mut String, key: &str, value: Option<&str>| {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return;
        };
        if !first {
            out.push(',');
        }
        first = false;
        gojson::key(out, key);
        gojson::string(out, value);
    };
    field(&mut out, "channel", config.channel.as_deref());
    let username = config
        .username
        .clone()
        .unwrap_or_else(|| "watchfire".to_owned());
    field(&mut out, "username", Some(&username));
    field(&mut out, "icon_emoji", config.icon_emoji.as_deref());
    field(&mut out, "icon_url", config.icon_url.as_deref());
    if config.link_names {
        out.push_str(",\"link_names\":true");
    }
    out.push_str(",\"attachments\":[{");
    let title: String = render_or(texts.title.as_ref(), n, text::slack_title)?
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect();
    let title_link = render_or(texts.title_link.as_ref(), n, text::alerts_link)?;
    let pretext = render_or(texts.pretext.as_ref(), n, |_| String::new())?;
    let body_text = render_or(texts.text.as_ref(), n, text::slack_text)?;
    let mut parts: Vec<String> = Vec::new();
    let mut push = |key: &str, value: &str, always: bool| {
        if always || !value.is_empty() {
            let mut s = String::new();
            gojson::key(&mut s, key);
            gojson::string(&mut s, value);
            parts.push(s);
        }
    };
    push("title", &title, false);
    push("title_link", &title_link, false);
    push("pretext", &pretext, false);
    push("text", &body_text, true);
    push("fallback", &format!("{title} | {title_link}"), true);
    push("callback_id", "", true);
    out.push_str(&parts.join(","));
    fields(&mut out, config, texts, n)?;
    out.push(',');
    gojson::key(&mut out, "footer");
    gojson::string(&mut out, config.footer.as_deref().unwrap_or(""));
    out.push(',');
    gojson::key(&mut out, "color");
    let color = config.color.clone().unwrap_or_else(|| text::slack_color(n));
    gojson::string(&mut out, &color);
    out.push_str(r#","mrkdwn_in":["fallback","pretext","text"]}]}"#);
    out.push('\n');
    Ok(out)
}

fn fields(
    out: &mut String,
    config: &SlackConfig,
    texts: &SlackTexts,
    n: &Notification,
) -> Result<(), NotifyError> {
    let list: Vec<(String, String, bool)> = if texts.fields.is_empty() {
        text::slack_fields(n)
            .into_iter()
            .map(|(t, v)| (t, v, config.short_fields))
            .collect()
    } else {
        let mut list = Vec::with_capacity(texts.fields.len());
        for (title, value, short) in &texts.fields {
            let short = short.unwrap_or(config.short_fields);
            list.push((title.render(n)?, value.render(n)?, short));
        }
        list
    };
    if list.is_empty() {
        return Ok(());
    }
    out.push_str(",\"fields\":[");
    for (i, (title, value, short)) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        gojson::key(out, "title");
        gojson::string(out, title);
        out.push(',');
        gojson::key(out, "value");
        gojson::string(out, value);
        out.push_str(if *short {
            ",\"short\":true}"
        } else {
            ",\"short\":false}"
        });
    }
    out.push(']');
    Ok(())
}

/// A configured Slack webhook.
pub struct Slack {
    config: SlackConfig,
    texts: SlackTexts,
    client: reqwest::Client,
}

impl Slack {
    /// A Slack integration sending with `client`; fails when a configured text does not
    /// parse.
    pub fn new(
        config: SlackConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Slack, String> {
        let texts = SlackTexts::compile(&config, lib)?;
        Ok(Slack {
            config,
            texts,
            client,
        })
    }
}

#[async_trait]
impl Integration for Slack {
    fn name(&self) -> &str {
        "slack"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        payload(&self.config, &self.texts, n)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let url = match (&self.config.api_url, &self.config.api_url_file) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(file)) => read_url_file(file)?,
            (None, None) => {
                return Err(NotifyError::permanent(
                    FailureReason::Config,
                    "slack has no api_url",
                ))
            }
        };
        let req = self
            .client
            .post(&url)
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &n.idempotency_key)
            .body(payload(&self.config, &self.texts, n)?);
        let resp = send(with_auth(req, &self.config.http_config)).await?;
        let is_json = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = resp.text().await.unwrap_or_default();
        check_response(is_json, &body)
    }
}

/// Alertmanager's check of a 2xx Slack response.
fn check_response(is_json: bool, body: &str) -> Result<(), NotifyError> {
    if is_json {
        let v: serde_json::Value = serde_json::from_str(body).map_err(|e| {
            NotifyError::permanent(
                FailureReason::InvalidResponse,
                format!("could not unmarshal JSON response {body:?}: {e}"),
            )
        })?;
        if v["ok"] != serde_json::Value::Bool(true) {
            let error = v["error"].as_str().unwrap_or("");
            return Err(NotifyError::permanent(
                FailureReason::InvalidResponse,
                format!("error response from Slack: {error}"),
            ));
        }
        return Ok(());
    }
    if body.trim() != "ok" {
        return Err(NotifyError::permanent(
            FailureReason::InvalidResponse,
            format!("unexpected response body {body:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::{AlertStatus, NotifyAlert};
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;
    use std::path::Path;

    fn config(extra: &str) -> SlackConfig {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    slack_configs:\n      \
             - api_url: http://127.0.0.1:1/x\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        c.receivers[0].slack_configs[0].clone()
    }

    fn compiled(cfg: &SlackConfig) -> SlackTexts {
        SlackTexts::compile(cfg, &TemplateLibrary::default()).unwrap()
    }

    fn note(severity: &str) -> Notification {
        let labels = Labels::from_pairs([("alertname", "DiskFull"), ("severity", severity)]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.annotations.insert("summary".into(), "disk <full>".into());
        Notification::new(
            "db-team",
            "k",
            labels.keep(&["alertname"]),
            NotificationReason::FirstNotification,
            vec![a],
            "http://alertmanager.example:9093",
            Utc::now(),
        )
    }

    #[test]
    fn default_payload() {
        let cfg = config("");
        let body = payload(&cfg, &compiled(&cfg), &note("critical")).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"username":"watchfire","attachments":[{"title":"[FIRING:1] DiskFull (critical)","#,
                r#""title_link":"http://alertmanager.example:9093/#/alerts?receiver=db-team","text":"","#,
                r#""fallback":"[FIRING:1] DiskFull (critical) | http://alertmanager.example:9093/#/alerts?receiver=db-team","#,
                r#""callback_id":"","fields":[{"title":"DiskFull firing [critical]","value":"disk \u003cfull\u003e","short":false}],"#,
                r#""footer":"","color":"danger","mrkdwn_in":["fallback","pretext","text"]}]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn configured_fields_and_colours() {
        let cfg = config(
            "        channel: '#ops'\n        icon_emoji: ':fire:'\n        link_names: true\n        \
             title: custom\n        fields: [{title: T, value: V}]\n        short_fields: true\n",
        );
        let texts = compiled(&cfg);
        let body = payload(&cfg, &texts, &note("warning")).unwrap();
        assert!(body.starts_with(r##"{"channel":"#ops","username":"watchfire","icon_emoji":":fire:","link_names":true,"attachments":[{"title":"custom","##), "{body}");
        assert!(body.contains(r#""fields":[{"title":"T","value":"V","short":true}]"#));
        assert!(body.contains(r#""color":"warning""#));
        let mut resolved = note("critical");
        resolved.alerts[0].status = AlertStatus::Resolved;
        assert!(payload(&cfg, &texts, &resolved)
            .unwrap()
            .contains(r#""color":"good""#));
    }

    #[test]
    fn configured_texts_are_templates() {
        let cfg = config(
            "        title: '{{ .CommonLabels.alertname }} on {{ .Receiver }}'\n        \
             fields: [{title: '{{ len .Alerts }} alerts', value: '{{ .Status }}'}]\n",
        );
        let body = payload(&cfg, &compiled(&cfg), &note("critical")).unwrap();
        assert!(body.contains(r#""title":"DiskFull on db-team""#), "{body}");
        assert!(
            body.contains(r#""fields":[{"title":"1 alerts","value":"firing","short":false}]"#),
            "{body}"
        );
        let bad = config("        title: '{{ .Status '\n");
        assert!(SlackTexts::compile(&bad, &TemplateLibrary::default()).is_err());
    }

    #[test]
    fn titles_are_cut() {
        let long = "x".repeat(2000);
        let cfg = config(&format!("        title: {long}\n"));
        let body = payload(&cfg, &compiled(&cfg), &note("critical")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["attachments"][0]["title"].as_str().unwrap().len(), 1024);
    }

    #[test]
    fn response_checks() {
        assert!(check_response(false, "ok").is_ok());
        assert!(check_response(false, "nope").is_err());
        assert!(check_response(true, r#"{"ok":true}"#).is_ok());
        let e = check_response(true, r#"{"ok":false,"error":"channel_not_found"}"#).unwrap_err();
        assert!(!e.is_retryable() && e.message.contains("channel_not_found"));
    }
}
