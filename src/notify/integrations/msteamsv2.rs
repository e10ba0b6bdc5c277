//! Microsoft Teams through a Power Automate workflow (`msteamsv2_configs`), as Alertmanager
//! 0.33's `notify/msteamsv2`: a `message` with one Adaptive Card (version 1.2, full width)
//! holding a heading (`title`, coloured `Attention` firing, `Good` resolved) and a text block,
//! encoded as Go's `encoding/json` writes it.
//!
//! Defaults: the subject line for the title, the alerts as a Markdown list for the text
//! (`chat_text`). Responses are handled as for `msteams`: 5xx and 429 are retried.

use super::chat_text::{alert_sections, Style};
use crate::config::MsTeamsV2Config;
use crate::gostd::json as gojson;
use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::text::subject;

fn default_text(n: &Notification) -> String {
    alert_sections(n, Style::Markdown)
}

/// A configured Teams workflow.
pub struct MsTeamsV2 {
    config: MsTeamsV2Config,
    title: Option<Text>,
    text: Option<Text>,
    client: reqwest::Client,
}

impl MsTeamsV2 {
    /// A Teams workflow integration sending with `client`; fails when a configured text does
    /// not parse.
    pub fn new(
        config: MsTeamsV2Config,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<MsTeamsV2, String> {
        Ok(MsTeamsV2 {
            title: lib.compile_opt("msteamsv2.title", config.title.as_deref(), false)?,
            text: lib.compile_opt("msteamsv2.text", config.text.as_deref(), false)?,
            config,
            client,
        })
    }

    /// The request body for `n`.
    pub fn payload(&self, n: &Notification) -> Result<String, NotifyError> {
        let title = render_or(self.title.as_ref(), n, subject)?;
        let text = render_or(self.text.as_ref(), n, default_text)?;
        let color = match n.status() {
            AlertStatus::Firing => "Attention",
            AlertStatus::Resolved => "Good",
        };
        let mut out = String::with_capacity(512 + title.len() + text.len());
        out.push_str(concat!(
            r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","#,
            r#""contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","#,
            r#""type":"AdaptiveCard","version":"1.2","body":[{"type":"TextBlock","#
        ));
        gojson::key(&mut out, "text");
        gojson::string(&mut out, &title);
        out.push_str(r#","weight":"Bolder","size":"Medium","wrap":true,"style":"heading","#);
        gojson::key(&mut out, "color");
        gojson::string(&mut out, color);
        out.push_str(r#"},{"type":"TextBlock","#);
        gojson::key(&mut out, "text");
        gojson::string(&mut out, &text);
        out.push_str(r#","wrap":true}],"msteams":{"width":"full"}}}]}"#);
        out.push('\n');
        Ok(out)
    }
}

#[async_trait]
impl Integration for MsTeamsV2 {
    fn name(&self) -> &str {
        "msteamsv2"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload(n)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = self.payload(n)?;
        super::SecretWebhook {
            name: "msteamsv2",
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

    fn card(extra: &str) -> MsTeamsV2 {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    msteamsv2_configs:\n      \
             - webhook_url: http://127.0.0.1:1/x\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].msteamsv2_configs[0].clone();
        MsTeamsV2::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap()
    }

    fn note() -> Notification {
        let labels = Labels::from_pairs([("alertname", "A")]);
        let a = NotifyAlert::firing(labels.clone(), Utc::now());
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
    fn adaptive_card_as_alertmanager_encodes_it() {
        let body = card("        text: 'T'\n").payload(&note()).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","#,
                r#""contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","#,
                r#""type":"AdaptiveCard","version":"1.2","body":[{"type":"TextBlock","text":"[FIRING:1] A ","#,
                r#""weight":"Bolder","size":"Medium","wrap":true,"style":"heading","color":"Attention"},"#,
                r#"{"type":"TextBlock","text":"T","wrap":true}],"msteams":{"width":"full"}}}]}"#,
                "\n"
            )
        );
        let bad = "route: {receiver: r}\nreceivers:\n  - name: r\n    msteamsv2_configs:\n      \
                   - {webhook_url: 'http://x', title: '{{ .Status '}\n";
        let c = crate::config::parse_with_env(bad, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].msteamsv2_configs[0].clone();
        assert!(MsTeamsV2::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).is_err());
    }
}
