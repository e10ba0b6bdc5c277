//! Telegram bots (`telegram_configs`), as Alertmanager 0.33 sends through telebot v3:
//! `POST <api_url>/bot<token>/sendMessage` with a JSON object of strings in key order
//! (`chat_id`, `disable_notification` when set, `disable_web_page_preview: "true"`,
//! `message_thread_id` when set, `parse_mode` when not empty, `text`), encoded as Go's
//! `encoding/json` writes it.
//!
//! The message: with `parse_mode: HTML` (the default) it is rendered with `html/template`
//! escaping and, when longer than 4,096 characters, replaced by Alertmanager's notice that it
//! could not be sent; otherwise it is cut to 4,096 characters ending in `…`. The default
//! message lists the firing and the resolved alerts (`chat_text`).
//!
//! The answer is judged by its body, as telebot does: `"ok": true` is delivered (Alertmanager
//! 0.33 crashes when `result` is missing; watchfire does not), anything else fails with
//! Telegram's `description` and `error_code`. As in Alertmanager every failure is retried,
//! including 4xx answers; a 429's `parameters.retry_after` (or `Retry-After`) sets the wait.
//! `bot_token_file` and `chat_id_file` are read at each send.

use super::chat_text::{alert_sections, truncate_runes, Style};
use super::{bounded_body, with_auth};
use crate::config::TelegramConfig;
use crate::gostd::json as gojson;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::FailureReason;
use std::time::Duration;

/// Telegram's limit on a message, in characters.
pub const MAX_MESSAGE_RUNES: usize = 4096;

/// What Alertmanager sends instead of an HTML message over the limit (its text, with the
/// line break and indentation of its source).
pub const TOO_LONG_NOTICE: &str = "Alertmanager notification could not be sent: message length \
exceeds Telegram limits.\n\t\t\tPlease check the template used for producing the message content.";

fn default_plain(n: &Notification) -> String {
    alert_sections(n, Style::Plain)
}

fn default_html(n: &Notification) -> String {
    alert_sections(n, Style::PlainHtml)
}

/// A configured Telegram bot.
pub struct Telegram {
    config: TelegramConfig,
    message: Option<Text>,
    client: reqwest::Client,
}

impl Telegram {
    /// A Telegram integration sending with `client`; fails when the configured message does
    /// not parse.
    pub fn new(
        config: TelegramConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Telegram, String> {
        let html = config.parse_mode == "HTML";
        Ok(Telegram {
            message: lib.compile_opt("telegram.message", config.message.as_deref(), html)?,
            config,
            client,
        })
    }

    /// The message text for `n`.
    pub fn message(&self, n: &Notification) -> Result<String, NotifyError> {
        if self.config.parse_mode == "HTML" {
            let text = render_or(self.message.as_ref(), n, default_html)?;
            if text.chars().nth(MAX_MESSAGE_RUNES).is_some() {
                return Ok(TOO_LONG_NOTICE.to_owned());
            }
            return Ok(text);
        }
        let text = render_or(self.message.as_ref(), n, default_plain)?;
        Ok(truncate_runes(text, MAX_MESSAGE_RUNES).0)
    }

    /// The `sendMessage` body for `n` to `chat_id`.
    pub fn payload(&self, n: &Notification, chat_id: i64) -> Result<String, NotifyError> {
        let text = self.message(n)?;
        let mut out = String::with_capacity(128 + text.len());
        out.push('{');
        gojson::key(&mut out, "chat_id");
        gojson::string(&mut out, &chat_id.to_string());
        if self.config.disable_notifications {
            out.push_str(r#","disable_notification":"true""#);
        }
        out.push_str(r#","disable_web_page_preview":"true""#);
        if self.config.message_thread_id != 0 {
            out.push(',');
            gojson::key(&mut out, "message_thread_id");
            gojson::string(&mut out, &self.config.message_thread_id.to_string());
        }
        if !self.config.parse_mode.is_empty() {
            out.push(',');
            gojson::key(&mut out, "parse_mode");
            gojson::string(&mut out, &self.config.parse_mode);
        }
        out.push(',');
        gojson::key(&mut out, "text");
        gojson::string(&mut out, &text);
        out.push_str("}\n");
        Ok(out)
    }

    fn token(&self) -> Result<String, NotifyError> {
        if let Some(file) = &self.config.bot_token_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                NotifyError::retryable(
                    FailureReason::Config,
                    format!("could not read {}: {e}", file.display()),
                )
            })?;
            return Ok(text.trim().to_owned());
        }
        Ok(self
            .config
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default())
    }

    fn chat_id(&self) -> Result<i64, NotifyError> {
        let Some(file) = &self.config.chat_id_file else {
            return Ok(self.config.chat_id);
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            NotifyError::retryable(
                FailureReason::Config,
                format!("could not read {}: {e}", file.display()),
            )
        })?;
        text.trim().parse().map_err(|e| {
            NotifyError::retryable(
                FailureReason::Config,
                format!("could not parse chat_id from {}: {e}", file.display()),
            )
        })
    }
}

/// Judges a Bot API answer by its body, as telebot does; every failure is retryable, as in
/// Alertmanager. `status` and `retry_after` (the `Retry-After` header) classify the failure
/// when the body does not.
pub fn check_response(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
) -> Result<(), NotifyError> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        let excerpt: String = body.chars().take(512).collect();
        let reason = reason_for(status).unwrap_or(FailureReason::InvalidResponse);
        return Err(NotifyError::retryable(
            reason,
            format!(
                "telegram: unexpected response (status {status}): {}",
                excerpt.trim()
            ),
        )
        .with_retry_after(retry_after));
    };
    if v["ok"] == serde_json::Value::Bool(true) {
        return Ok(());
    }
    let code = v["error_code"].as_u64().unwrap_or(0);
    let description = v["description"].as_str().unwrap_or("");
    let reason = u16::try_from(code)
        .ok()
        .and_then(reason_for)
        .or_else(|| reason_for(status))
        .unwrap_or(FailureReason::InvalidResponse);
    let asked = v["parameters"]["retry_after"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
        .or(retry_after);
    let description: String = description.chars().take(512).collect();
    Err(
        NotifyError::retryable(reason, format!("telegram: {description} ({code})"))
            .with_retry_after(asked),
    )
}

fn reason_for(code: u16) -> Option<FailureReason> {
    match code {
        429 => Some(FailureReason::Http429),
        400..=499 => Some(FailureReason::Http4xx),
        500..=599 => Some(FailureReason::Http5xx),
        _ => None,
    }
}

#[async_trait]
impl Integration for Telegram {
    fn name(&self) -> &str {
        "telegram"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload(n, self.config.chat_id)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let token = self.token()?;
        let chat_id = self.chat_id()?;
        let body = self.payload(n, chat_id)?;
        let url = format!("{}/bot{token}/sendMessage", self.config.api_url);
        let req = self
            .client
            .post(&url)
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &n.idempotency_key)
            .body(body);
        // The token is part of the URL: errors must not show it.
        let resp = with_auth(req, &self.config.http_config)
            .send()
            .await
            .map_err(|e| NotifyError::from_reqwest(&e.without_url()))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                crate::notify::integration::parse_retry_after(v, std::time::SystemTime::now())
            });
        let body = bounded_body(resp).await?;
        check_response(status, &body, retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::NotifyAlert;
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;
    use std::path::Path;

    fn bot(extra: &str) -> Telegram {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    telegram_configs:\n      \
             - bot_token: t\n        chat_id: -42\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].telegram_configs[0].clone();
        Telegram::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap()
    }

    fn note(summary: &str) -> Notification {
        let labels = Labels::from_pairs([("alertname", "A")]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.annotations.insert("summary".into(), summary.into());
        a.generator_url = "http://p/g?x=a+b".into();
        Notification::new(
            "r",
            "k",
            labels,
            NotificationReason::FirstNotification,
            vec![a],
            "http://am",
            Utc::now(),
        )
    }

    #[test]
    fn default_html_body() {
        let body = bot("").payload(&note("<b>"), -42).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"chat_id":"-42","disable_web_page_preview":"true","parse_mode":"HTML","#,
                r#""text":"\n\nAlerts Firing:\nLabels:\n - alertname = A\nAnnotations:\n"#,
                r#" - summary = \u0026lt;b\u0026gt;\nSource: http://p/g?x=a\u0026#43;b\n\n\n\n"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn options_and_plain_text() {
        let t = bot(
            "        parse_mode: ''\n        disable_notifications: true\n        \
             message_thread_id: 7\n        message: '{{ (index .Alerts 0).Annotations.summary }}'\n",
        );
        let body = t.payload(&note("<b>"), 5).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"chat_id":"5","disable_notification":"true","disable_web_page_preview":"true","#,
                r#""message_thread_id":"7","text":"\u003cb\u003e"}"#,
                "\n"
            )
        );
        let long = "x".repeat(5000);
        let text = t.message(&note(&long)).unwrap();
        assert_eq!(text.chars().count(), 4096);
        assert!(text.ends_with('…'));
        let html = bot("        message: '{{ (index .Alerts 0).Annotations.summary }}'\n");
        assert_eq!(html.message(&note(&long)).unwrap(), TOO_LONG_NOTICE);
        assert_eq!(html.message(&note("a&b")).unwrap(), "a&amp;b");
    }

    #[test]
    fn responses_are_judged_by_their_body_and_all_failures_retry() {
        let ok =
            r#"{"ok":true,"result":{"message_id":1,"chat":{"id":-42,"type":"group"},"date":1}}"#;
        assert!(check_response(200, ok, None).is_ok());
        assert!(check_response(200, r#"{"ok":true}"#, None).is_ok());
        let e = check_response(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            None,
        )
        .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(e.reason, "http_4xx");
        assert_eq!(e.message, "telegram: Bad Request: chat not found (400)");
        let e = check_response(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(e.reason, "http_429");
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        let e = check_response(
            502,
            "<html>bad gateway</html>",
            Some(Duration::from_secs(1)),
        )
        .unwrap_err();
        assert!(e.is_retryable() && e.reason == "http_5xx");
        assert_eq!(e.retry_after, Some(Duration::from_secs(1)));
        let e = check_response(200, "not json", None).unwrap_err();
        assert!(e.is_retryable() && e.reason == "invalid_response");
    }

    #[test]
    fn token_and_chat_files_are_read_at_send() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), "abc\n").unwrap();
        std::fs::write(dir.path().join("chat"), " -77\n").unwrap();
        let text = "route: {receiver: r}\nreceivers:\n  - name: r\n    telegram_configs:\n      \
                    - {bot_token_file: tok, chat_id_file: chat}\n";
        let c = crate::config::parse_with_env(text, dir.path().join("c.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].telegram_configs[0].clone();
        let t = Telegram::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap();
        assert_eq!(t.token().unwrap(), "abc");
        assert_eq!(t.chat_id().unwrap(), -77);
        std::fs::write(dir.path().join("chat"), "x").unwrap();
        let e = t.chat_id().unwrap_err();
        assert!(e.is_retryable() && e.message.contains("could not parse chat_id"));
    }
}
