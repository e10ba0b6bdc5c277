//! Microsoft Teams through the legacy Office 365 connector (`msteams_configs`), as
//! Alertmanager 0.33's `notify/msteams`: a MessageCard with `title`, `summary`, `text` and a
//! theme colour (`8C1A1A` firing, `2DC72D` resolved), encoded as Go's `encoding/json` writes it
//! (HTML characters escaped, a trailing newline).
//!
//! Defaults: the subject line for title and summary, the alerts as a Markdown list for the
//! text (`chat_text`). A non-2xx answer fails with its status and body; 5xx is retried as in
//! Alertmanager, and so is 429 (after its `Retry-After`), which Alertmanager does not retry.

use super::chat_text::{alert_sections, Style};
use crate::config::MsTeamsConfig;
use crate::gostd::json as gojson;
use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::text::subject;

/// Theme colour of a card with firing alerts.
const COLOR_FIRING: &str = "8C1A1A";
/// Theme colour of a card whose alerts all resolved.
const COLOR_RESOLVED: &str = "2DC72D";

fn default_text(n: &Notification) -> String {
    alert_sections(n, Style::Markdown)
}

/// A configured Teams connector.
pub struct MsTeams {
    config: MsTeamsConfig,
    title: Option<Text>,
    summary: Option<Text>,
    text: Option<Text>,
    client: reqwest::Client,
}

impl MsTeams {
    /// A Teams integration sending with `client`; fails when a configured text does not parse.
    pub fn new(
        config: MsTeamsConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<MsTeams, String> {
        Ok(MsTeams {
            title: lib.compile_opt("msteams.title", config.title.as_deref(), false)?,
            summary: lib.compile_opt("msteams.summary", config.summary.as_deref(), false)?,
            text: lib.compile_opt("msteams.text", config.text.as_deref(), false)?,
            config,
            client,
        })
    }

    /// The request body for `n`.
    pub fn payload(&self, n: &Notification) -> Result<String, NotifyError> {
        let title = render_or(self.title.as_ref(), n, subject)?;
        let text = render_or(self.text.as_ref(), n, default_text)?;
        let summary = render_or(self.summary.as_ref(), n, subject)?;
        let color = match n.status() {
            AlertStatus::Firing => COLOR_FIRING,
            AlertStatus::Resolved => COLOR_RESOLVED,
        };
        let mut out = String::with_capacity(256 + title.len() + summary.len() + text.len());
        out.push_str(r#"{"@context":"http://schema.org/extensions","type":"MessageCard","#);
        for (key, value) in [("title", &title), ("summary", &summary), ("text", &text)] {
            gojson::key(&mut out, key);
            gojson::string(&mut out, value);
            out.push(',');
        }
        gojson::key(&mut out, "themeColor");
        gojson::string(&mut out, color);
        out.push_str("}\n");
        Ok(out)
    }
}

#[async_trait]
impl Integration for MsTeams {
    fn name(&self) -> &str {
        "msteams"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload(n)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = self.payload(n)?;
        super::SecretWebhook {
            name: "msteams",
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

    fn teams(extra: &str) -> MsTeams {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    msteams_configs:\n      \
             - webhook_url: http://127.0.0.1:1/x\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        let cfg = c.receivers[0].msteams_configs[0].clone();
        MsTeams::new(cfg, reqwest::Client::new(), &TemplateLibrary::default()).unwrap()
    }

    fn note() -> Notification {
        let labels = Labels::from_pairs([("alertname", "DiskFull"), ("severity", "critical")]);
        let mut a = NotifyAlert::firing(labels.clone(), Utc::now());
        a.annotations.insert("summary".into(), "disk <full>".into());
        a.generator_url = "http://p/g".into();
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
    fn default_card() {
        let body = teams("").payload(&note()).unwrap();
        assert_eq!(
            body,
            concat!(
                r#"{"@context":"http://schema.org/extensions","type":"MessageCard","#,
                r#""title":"[FIRING:1] DiskFull (critical)","summary":"[FIRING:1] DiskFull (critical)","#,
                r#""text":"\n\n# Alerts Firing:\n\nLabels:\n  - alertname = DiskFull\n  - severity = critical\n"#,
                r#"\nAnnotations:\n  - summary = disk \u003cfull\u003e\n\nSource: http://p/g\n\n\n\n\n","#,
                r#""themeColor":"8C1A1A"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn configured_texts_and_resolved_colour() {
        let t = teams("        title: '{{ .Status }}'\n        text: 'x & y'\n");
        let mut n = note();
        n.alerts[0].status = AlertStatus::Resolved;
        n.alerts[0].ends_at = Some(Utc::now() - chrono::Duration::seconds(1));
        let v: serde_json::Value = serde_json::from_str(&t.payload(&n).unwrap()).unwrap();
        assert_eq!(v["title"], "resolved");
        assert_eq!(v["text"], "x & y");
        assert_eq!(v["summary"], "[RESOLVED] DiskFull (critical)");
        assert_eq!(v["themeColor"], "2DC72D");
    }
}
