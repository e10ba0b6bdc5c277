//! Discord channel webhooks (`discord_configs`), as Alertmanager 0.33's `notify/discord`: the
//! `content` (cut to 2,000 characters), one embed with `title` (256) and `description`
//! (4,096; cut texts end in `…`) coloured `0x992D22` firing or `0x2ECC71` resolved, and the
//! optional `username` and `avatar_url`, encoded as Go's `encoding/json` writes it.
//!
//! Defaults: no content, the subject line as title, the firing and resolved alerts as lists
//! for the description (`chat_text`). A non-2xx answer fails with its status and body; 5xx is
//! retried as in Alertmanager, and so is 429 (Discord's rate limit, after its `Retry-After`),
//! which Alertmanager 0.33 does not retry.

use super::chat_text::{alert_sections, truncate_runes, Style};
use crate::config::DiscordConfig;
use crate::gostd::json as gojson;
use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::text::subject;

/// Discord's limit on an embed title, in characters.
pub const MAX_TITLE_RUNES: usize = 256;
/// Discord's limit on an embed description, in characters.
pub const MAX_DESCRIPTION_RUNES: usize = 4096;
/// Discord's limit on message content, in characters.
pub const MAX_CONTENT_RUNES: usize = 2000;

/// Embed colour with firing alerts.
const COLOR_FIRING: u32 = 0x99_2D22;
/// Embed colour when every alert resolved.
const COLOR_RESOLVED: u32 = 0x2E_CC71;

fn default_message(n: &Notification) -> String {
    alert_sections(n, Style::Plain)
}

/// Whether Go's `url.Parse` accepts `s`: no control characters and only complete `%XX`
/// escapes (Alertmanager leaves out an avatar URL it cannot parse).
fn go_url_parses(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.iter().any(|b| *b < 0x20 || *b == 0x7f) || s.starts_with(':') {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// A configured Discord webhook.
pub struct Discord {
    config: DiscordConfig,
    title: Option<Text>,
    message: Option<Text>,
    content: Option<Text>,
    client: reqwest::Client,
}

impl Discord {
    /// A Discord integration sending with `client`; fails when a configured text does not
    /// parse.
    pub fn new(
        config: DiscordConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Discord, String> {
        Ok(Discord {
            title: lib.compile_opt("discord.title", config.title.as_deref(), false)?,
            message: lib.compile_opt("discord.message", config.message.as_deref(), false)?,
            content: lib.compile_opt("discord.content", config.content.as_deref(), false)?,
            config,
            client,
        })
    }

    /// The request body for `n`.
    pub fn payload(&self, n: &Notification) -> Result<String, NotifyError> {
        let (title, _) =
            truncate_runes(render_or(self.title.as_ref(), n, subject)?, MAX_TITLE_RUNES);
        let (description, _) = truncate_runes(
            render_or(self.message.as_ref(), n, default_message)?,
            MAX_DESCRIPTION_RUNES,
        );
        let (content, _) = truncate_runes(
            render_or(self.content.as_ref(), n, |_| String::new())?,
            MAX_CONTENT_RUNES,
        );
        let color = match n.status() {
            AlertStatus::Firing => COLOR_FIRING,
            AlertStatus::Resolved => COLOR_RESOLVED,
        };
        let mut out = String::with_capacity(256 + title.len() + description.len() + content.len());
        out.push('{');
        gojson::key(&mut out, "content");
        gojson::string(&mut out, &content);
        out.push_str(r#","embeds":[{"#);
        gojson::key(&mut out, "title");
        gojson::string(&mut out, &title);
        out.push(',');
        gojson::key(&mut out, "description");
        gojson::string(&mut out, &description);
        out.push_str(&format!(r#","color":{color}}}]"#));
        if let Some(username) = &self.config.username {
            out.push(',');
            gojson::key(&mut out, "username");
            gojson::string(&mut out, username);
        }
        if let Some(avatar) = self
            .config
            .avatar_url
            .as_deref()
            .filter(|a| go_url_parses(a))
        {
            out.push(',');
            gojson::key(&mut out, "avatar_url");
            gojson::string(&mut out, avatar);
        }
        out.push_str("}\n");
        Ok(out)
    }
}

#[async_trait]
impl Integration for Discord {
    fn name(&self) -> &str {
        "discord"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload(n)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = self.payload(n)?;
        super::SecretWebhook {
            name: "discord",
            url: self.config.webhook_url.as_ref(),
            url_file: self.config.webhook_url_file.as_deref(),
            http: &self.config.http_config,
            timeout: self.config.delivery.timeout.as_duration(),
        }
        .post_json(&self.client, &n.idempotency_key, body)
        .await
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

    fn discord(extra: &str) -> Discord {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    discord_configs:\n      \
             - webhook_url: http://127.0.0.1:1/x\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].discord_configs[0].clone();
        Discord::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap()
    }

    fn note() -> Notification {
        let labels = Labels::from_pairs([("alertname", "A"), ("job", "j")]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.generator_url = "http://p/g?a=1&b=2".into();
        Notification::new(
            "r",
            "k",
            labels.keep(&["alertname"]),
            NotificationReason::FirstNotification,
            vec![a],
            "http://am",
            Utc::now(),
        )
    }

    #[test]
    fn default_body() {
        assert_eq!(
            discord("").payload(&note()).unwrap(),
            concat!(
                r#"{"content":"","embeds":[{"title":"[FIRING:1] A (j)","description":"\n\nAlerts Firing:\n"#,
                r#"Labels:\n - alertname = A\n - job = j\nAnnotations:\nSource: http://p/g?a=1\u0026b=2\n\n\n\n","#,
                r#""color":10038562}]}"#,
                "\n"
            )
        );
    }

    #[tokio::test]
    async fn errors_do_not_show_the_webhook_token() {
        let text = "route: {receiver: r}\nreceivers:\n  - name: r\n    discord_configs:\n      \
                    - webhook_url: http://127.0.0.1:1/api/webhooks/1/SECRET\n";
        let c = crate::config::parse_with_env(text, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].discord_configs[0].clone();
        let d = Discord::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap();
        let e = d.notify(&note()).await.unwrap_err();
        assert!(e.is_retryable() && e.reason == "connect", "{e:?}");
        assert!(!e.message.contains("SECRET"), "{}", e.message);
    }

    #[test]
    fn limits_user_and_avatar() {
        let d = discord(&format!(
            "        title: '{}'\n        content: '{{{{ .Status }}}}'\n        \
             username: bot\n        avatar_url: 'http://a/x.png'\n",
            "é".repeat(300)
        ));
        let v: serde_json::Value = serde_json::from_str(&d.payload(&note()).unwrap()).unwrap();
        let title = v["embeds"][0]["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), 256);
        assert!(title.ends_with('…'));
        assert_eq!(v["content"], "firing");
        assert_eq!(v["username"], "bot");
        assert_eq!(v["avatar_url"], "http://a/x.png");
        let bad = discord("        avatar_url: 'http://a/%zz'\n");
        assert!(!bad.payload(&note()).unwrap().contains("avatar_url"));
    }
}
