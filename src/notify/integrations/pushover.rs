//! Pushover, as Alertmanager's `notify/pushover`: a `POST` without body (`Content-Type:
//! text/plain`) whose query string carries the message parameters, sorted and escaped as Go's
//! `url.Values.Encode`: token, user, title (cut to 250 characters), message (cut to 1,024,
//! trimmed, `(no details)` when empty; with `html` its template escapes as `html/template`),
//! url (cut to 512), url_title, priority, retry and expire in seconds, device, sound, and ttl
//! when set. Keys read from `*_file` are used as read (not trimmed), as Alertmanager does.
//! Errors never show the URL (it holds the token). 5xx is retried as in Alertmanager, and 429
//! with its `Retry-After`.
//!
//! Alertmanager has no setting for the endpoint; watchfire's `api_url` (default Pushover's)
//! exists for tests and proxies and is left out of `/api/v2/status`.

use super::incident_text::{
    check, exchange_redacted, read_key_file, subject, truncate_runes, Texts,
};
use super::with_auth;
use crate::config::PushoverConfig;
use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{TemplateLibrary, Text};
use crate::notify::text;
use crate::notify::FailureReason;

const MAX_TITLE_CHARS: usize = 250;
const MAX_MESSAGE_CHARS: usize = 1024;
const MAX_URL_CHARS: usize = 512;

/// A configured Pushover integration.
pub struct Pushover {
    config: PushoverConfig,
    texts: Texts,
    html_message: Option<Text>,
    client: reqwest::Client,
}

impl Pushover {
    /// Builds the integration; fails when a configured text does not parse.
    pub fn new(
        config: PushoverConfig,
        client: reqwest::Client,
        lib: &TemplateLibrary,
    ) -> Result<Pushover, String> {
        let c = &config;
        let sources = [
            &c.title,
            &c.message,
            &c.url,
            &c.url_title,
            &c.device,
            &c.sound,
            &c.priority,
        ];
        let texts = Texts::compile(
            lib,
            "pushover",
            sources.into_iter().flatten().map(String::as_str),
        )?;
        let html_message = match (&c.message, c.html) {
            (Some(m), true) => Some(lib.compile("pushover.message", m, true)?),
            _ => None,
        };
        Ok(Pushover {
            config,
            texts,
            html_message,
            client,
        })
    }

    fn text(
        &self,
        source: Option<&String>,
        n: &Notification,
        default: fn(&Notification) -> String,
    ) -> Result<String, NotifyError> {
        self.texts.render_or(source.map(String::as_str), n, default)
    }

    fn secret(
        &self,
        inline: Option<&crate::config::Secret>,
        file: Option<&std::path::PathBuf>,
        what: &str,
    ) -> Result<String, NotifyError> {
        match (inline, file) {
            (Some(s), _) => Ok(s.expose().to_owned()),
            (None, Some(path)) => read_key_file(path, what),
            (None, None) => Err(NotifyError::permanent(
                FailureReason::Config,
                format!("pushover has no {what}"),
            )),
        }
    }

    /// The query string for `n`.
    pub fn query(&self, n: &Notification) -> Result<String, NotifyError> {
        let c = &self.config;
        let token = self.secret(c.token.as_ref(), c.token_file.as_ref(), "token")?;
        let user = self.secret(c.user_key.as_ref(), c.user_key_file.as_ref(), "user key")?;
        let empty = |_: &Notification| String::new();
        let mut params: Vec<(&str, String)> = vec![
            ("token", self.texts.render(&token, n)?),
            ("user", self.texts.render(&user, n)?),
            (
                "title",
                truncate_runes(&self.text(c.title.as_ref(), n, subject)?, MAX_TITLE_CHARS),
            ),
        ];
        let message = if c.html {
            params.push(("html", "1".to_owned()));
            match &self.html_message {
                Some(t) => t.render(n)?,
                None => super::incident_text::webex_message_html(n),
            }
        } else {
            self.text(c.message.as_ref(), n, super::incident_text::webex_message)?
        };
        if c.monospace {
            params.push(("monospace", "1".to_owned()));
        }
        let message = truncate_runes(&message, MAX_MESSAGE_CHARS);
        let message = match message.trim() {
            "" => "(no details)".to_owned(),
            m => m.to_owned(),
        };
        params.push(("message", message));
        params.push((
            "url",
            truncate_runes(
                &self.text(c.url.as_ref(), n, text::alerts_link)?,
                MAX_URL_CHARS,
            ),
        ));
        params.push(("url_title", self.text(c.url_title.as_ref(), n, empty)?));
        let priority = |n: &Notification| {
            if n.status() == AlertStatus::Firing {
                "2".to_owned()
            } else {
                "0".to_owned()
            }
        };
        params.push(("priority", self.text(c.priority.as_ref(), n, priority)?));
        params.push(("retry", c.retry.as_duration().as_secs().to_string()));
        params.push(("expire", c.expire.as_duration().as_secs().to_string()));
        params.push(("device", self.text(c.device.as_ref(), n, empty)?));
        params.push(("sound", self.text(c.sound.as_ref(), n, empty)?));
        let ttl = c.ttl.as_duration().as_secs();
        if ttl > 0 {
            params.push(("ttl", ttl.to_string()));
        }
        params.sort_by(|a, b| a.0.cmp(b.0));
        Ok(params
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect::<Vec<_>>()
            .join("&"))
    }

    fn url(&self, n: &Notification) -> Result<String, NotifyError> {
        let mut base = self.config.api_url.clone();
        if let Some(i) = base.find('?') {
            base.truncate(i);
        }
        Ok(format!("{base}?{}", self.query(n)?))
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[async_trait]
impl Integration for Pushover {
    fn name(&self) -> &str {
        "pushover"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        // The parameters without the credentials.
        let q = self.query(n)?;
        Ok(q.split('&')
            .filter(|p| !p.starts_with("token=") && !p.starts_with("user="))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let req = self
            .client
            .post(self.url(n)?)
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "text/plain");
        // The URL carries the token: errors are reported without it.
        let answer = exchange_redacted(with_auth(req, &self.config.http_config)).await?;
        check(&answer, &[], answer.body.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::super::incident_text::test_support::{config_of, note};
    use super::*;

    fn pushover(extra: &str) -> Pushover {
        let c = config_of(&format!(
            "    pushover_configs:\n      - {{user_key: u, token: 't k'{extra}}}\n"
        ));
        Pushover::new(
            c.receivers[0].pushover_configs[0].clone(),
            reqwest::Client::new(),
            &TemplateLibrary::default(),
        )
        .unwrap()
    }

    #[test]
    fn default_parameters() {
        let q = pushover("").query(&note()).unwrap();
        assert_eq!(
            q,
            "device=&expire=3600&message=disk+%3Cfull%3E%0A%0AAlerts+Firing%3A%0ALabels%3A%0A+-+alertname+%3D+DiskFull%0A+-+instance+%3D+db1%0A+-+severity+%3D+critical%0AAnnotations%3A%0A+-+summary+%3D+disk+%3Cfull%3E%0ASource%3A+http%3A%2F%2Fprom.example%2Fgraph\
             &priority=2&retry=60&sound=&title=%5BFIRING%3A1%5D+DiskFull+%28db1+critical%29&token=t+k\
             &url=http%3A%2F%2Fam.example%2F%23%2Falerts%3Freceiver%3Dteam&url_title=&user=u"
        );
    }

    #[test]
    fn configured_html_ttl_and_cuts() {
        let p = pushover(&format!(
            ", html: true, message: '<b>{{{{ .CommonAnnotations.summary }}}}</b>', ttl: 2m, title: {}, priority: '{{{{ if eq .Status \"firing\" }}}}1{{{{ end }}}}'",
            "t".repeat(300)
        ));
        let q = p.query(&note()).unwrap();
        assert!(
            q.contains("html=1&message=%3Cb%3Edisk+%26lt%3Bfull%26gt%3B%3C%2Fb%3E"),
            "{q}"
        );
        assert!(q.contains("&ttl=120&"), "{q}");
        assert!(q.contains("&priority=1&"), "{q}");
        let title = q.split("title=").nth(1).unwrap().split('&').next().unwrap();
        assert_eq!(title.len(), 249 + "%E2%80%A6".len());
        let p = pushover(", message: '  '");
        assert!(p
            .query(&note())
            .unwrap()
            .contains("message=%28no+details%29"));
        assert_eq!(query_escape("a*b~ c"), "a%2Ab~+c");
    }
}
