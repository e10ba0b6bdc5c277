//! Webex messages, as Alertmanager's `notify/webex`: `POST` of `{"markdown":…,"roomId":…}` to
//! the messages endpoint with the `http_config` authorization (a bot token), the message cut
//! to 7,439 bytes. 5xx is retried as in Alertmanager, and 429 with its `Retry-After`.

use super::incident_text::{check, exchange, truncate_bytes, webex_message, Texts};
use super::with_auth;
use crate::config::WebexConfig;
use crate::gostd::json as gojson;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::TemplateLibrary;

/// The longest message Webex accepts, in bytes.
const MAX_MESSAGE_BYTES: usize = 7439;

/// A configured Webex integration.
pub struct Webex {
    config: WebexConfig,
    texts: Texts,
    client: reqwest::Client,
}

impl Webex {
    /// Builds the integration; fails when a configured text does not parse.
    pub fn new(
        config: WebexConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Webex, String> {
        let sources = [config.message.as_deref(), Some(config.room_id.as_str())];
        let texts = Texts::compile(lib, "webex", sources.into_iter().flatten())?;
        Ok(Webex {
            config,
            texts,
            client,
        })
    }

    /// The request body for `n`.
    pub fn payload(&self, n: &Notification) -> Result<String, NotifyError> {
        let message = self
            .texts
            .render_or(self.config.message.as_deref(), n, webex_message)?;
        let message = truncate_bytes(&message, MAX_MESSAGE_BYTES);
        let room = self.texts.render(&self.config.room_id, n)?;
        let mut out = String::with_capacity(message.len() + 64);
        out.push('{');
        gojson::key(&mut out, "markdown");
        gojson::string(&mut out, &message);
        if !room.is_empty() {
            out.push(',');
            gojson::key(&mut out, "roomId");
            gojson::string(&mut out, &room);
        }
        out.push_str("}\n");
        Ok(out)
    }
}

#[async_trait]
impl Integration for Webex {
    fn name(&self) -> &str {
        "webex"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        self.payload(n)
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let req = self
            .client
            .post(&self.config.api_url)
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.payload(n)?);
        let answer = exchange(with_auth(req, &self.config.http_config)).await?;
        check(&answer, &[], answer.body.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::super::incident_text::test_support::{answer, config_of, note};
    use super::*;

    fn webex(extra: &str) -> Webex {
        let c = config_of(&format!(
            "    webex_configs:\n      - {{room_id: room1, http_config: {{bearer_token: t}}{extra}}}\n"
        ));
        Webex::new(
            c.receivers[0].webex_configs[0].clone(),
            reqwest::Client::new(),
            &TemplateLibrary::default(),
        )
        .unwrap()
    }

    #[test]
    fn default_message() {
        let body = webex("").payload(&note()).unwrap();
        assert_eq!(
            body,
            "{\"markdown\":\"disk \\u003cfull\\u003e\\n\\nAlerts Firing:\\nLabels:\\n - alertname = DiskFull\\n \
             - instance = db1\\n - severity = critical\\nAnnotations:\\n - summary = disk \\u003cfull\\u003e\\n\
             Source: http://prom.example/graph\\n\\n\\n\\n\",\"roomId\":\"room1\"}\n"
        );
    }

    #[test]
    fn configured_and_cut() {
        let w = webex(", message: '{{ .Status }} on {{ .Receiver }}'");
        assert_eq!(
            w.payload(&note()).unwrap(),
            "{\"markdown\":\"firing on team\",\"roomId\":\"room1\"}\n"
        );
        let w = webex(&format!(", message: {}", "é".repeat(5000)));
        let v: serde_json::Value = serde_json::from_str(&w.payload(&note()).unwrap()).unwrap();
        let m = v["markdown"].as_str().unwrap();
        assert!(m.len() <= MAX_MESSAGE_BYTES && m.ends_with('…'));
        assert!(check(&answer(500, ""), &[], "").unwrap_err().is_retryable());
        assert!(!check(&answer(401, "no"), &[], "no")
            .unwrap_err()
            .is_retryable());
    }
}
