//! Email over SMTP with lettre: a `multipart/alternative` message with a plain-text and an HTML
//! part (the HTML header coloured by severity).
//!
//! Transport follows Alertmanager's email notifier: port 465 is implicit TLS; on other ports
//! `require_tls: true` (the default) demands STARTTLS and `require_tls: false` sends in plain
//! text. `auth_username`/`auth_password` log in (PLAIN or LOGIN, as the server offers).
//! Headers `To`, `From` and `Subject` come from the config's `headers` when set there; other
//! configured headers are added as they are. The `Message-ID` is derived from the idempotency
//! key, so a retried email can be recognised as the same message.

use crate::config::EmailConfig;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::templates::{render_or, TemplateLibrary, Text};
use crate::notify::text;
use crate::notify::FailureReason;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The configured email texts (bodies and header values), compiled.
#[derive(Clone, Debug, Default)]
pub struct EmailTexts {
    html: Option<Text>,
    text: Option<Text>,
    headers: Vec<(String, Text)>,
}

impl EmailTexts {
    /// Compiles the templated fields of `config`; `html` escapes as `html/template`.
    pub fn compile(config: &EmailConfig, lib: &TemplateLibrary) -> Result<EmailTexts, String> {
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| Ok((name.clone(), lib.compile(name, value, false)?)))
            .collect::<Result<_, String>>()?;
        Ok(EmailTexts {
            html: lib.compile_opt("email.html", config.html.as_deref(), true)?,
            text: lib.compile_opt("email.text", config.text.as_deref(), false)?,
            headers,
        })
    }
}

/// A configured email integration.
pub struct Email {
    config: EmailConfig,
    texts: EmailTexts,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Email {
    /// Builds the SMTP transport; fails on unusable TLS settings (e.g. a bad `ca_file`).
    /// Call it inside a Tokio runtime (the connection pool needs one).
    pub fn new(config: EmailConfig, lib: &TemplateLibrary) -> Result<Email, String> {
        let texts = EmailTexts::compile(&config, lib)?;
        let host = config.smarthost_host.clone();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(config.smarthost_port)
            .hello_name(ClientId::Domain(config.hello.clone()))
            .timeout(Some(config.delivery.timeout.as_duration()));
        let implicit = config.smarthost_port == 465;
        if implicit || config.require_tls {
            let server_name = config.tls_config.server_name.clone().unwrap_or(host);
            let mut tls = TlsParameters::builder(server_name)
                .dangerous_accept_invalid_certs(config.tls_config.insecure_skip_verify);
            if let Some(ca) = &config.tls_config.ca_file {
                let pem =
                    std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("bad ca_file {}: {e}", ca.display()))?;
                tls = tls.add_root_certificate(cert);
            }
            let params = tls
                .build_rustls()
                .map_err(|e| format!("tls settings: {e}"))?;
            builder = builder.tls(if implicit {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        } else {
            builder = builder.tls(Tls::None);
        }
        if let Some(user) = &config.auth_username {
            let password = config
                .auth_password
                .as_ref()
                .map(|p| p.secret().expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Email {
            transport: builder.build(),
            texts,
            config,
        })
    }

    /// The message for `n` (also used by `watchfire render`).
    pub fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        build_message(&self.config, &self.texts, n)
    }
}

/// Builds the email for `n` under `config`, with `texts` compiled from it.
pub fn build_message(
    config: &EmailConfig,
    texts: &EmailTexts,
    n: &Notification,
) -> Result<Message, NotifyError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        NotifyError::permanent(FailureReason::Config, format!("{what}: {e}"))
    };
    let mut headers: Vec<(String, String)> = Vec::with_capacity(texts.headers.len());
    for (name, value) in &texts.headers {
        headers.push((name.clone(), value.render(n)?));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let from = header("From").unwrap_or_else(|| config.from.clone());
    let to = header("To").unwrap_or_else(|| config.to.clone());
    let subject = header("Subject").unwrap_or_else(|| text::email_subject(n));
    let mut builder = Message::builder()
        .from(
            from.parse::<Mailbox>()
                .map_err(|e| bad("from address", &e))?,
        )
        .subject(subject)
        .message_id(Some(format!(
            "<{}.{}@watchfire>",
            n.idempotency_key,
            n.alerts.len()
        )));
    for addr in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        builder = builder.to(addr.parse::<Mailbox>().map_err(|e| bad("to address", &e))?);
    }
    for (name, value) in &headers {
        if ["from", "to", "subject"].contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let name = HeaderName::new_from_ascii(name.clone()).map_err(|e| bad("header name", &e))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let plain = render_or(texts.text.as_ref(), n, text::email_text)?;
    let html = render_or(texts.html.as_ref(), n, text::email_html)?;
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(plain),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html),
        );
    builder.multipart(body).map_err(|e| bad("message", &e))
}

#[async_trait]
impl Integration for Email {
    fn name(&self) -> &str {
        "email"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        let raw = self.message(n)?.formatted();
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let message = self.message(n)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(NotifyError::permanent(
                FailureReason::SmtpPermanent,
                e.to_string(),
            )),
            Err(e) if e.is_timeout() => Err(NotifyError::retryable(
                FailureReason::Timeout,
                e.to_string(),
            )),
            Err(e) => {
                let mut message = e.to_string();
                if let Some(source) = std::error::Error::source(&e) {
                    message.push_str(": ");
                    message.push_str(&source.to_string());
                }
                Err(NotifyError::retryable(FailureReason::Smtp, message))
            }
        }
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

    fn config(extra: &str) -> EmailConfig {
        let text = format!(
            "route: {{receiver: r}}\nreceivers:\n  - name: r\n    email_configs:\n      \
             - to: 'a@example.org, b@example.org'\n        from: wf@example.org\n        \
             smarthost: 127.0.0.1:2525\n        require_tls: false\n{extra}"
        );
        let c = crate::config::parse_with_env(&text, Path::new("t.yml"), &|_| None).unwrap();
        c.receivers[0].email_configs[0].clone()
    }

    fn build(cfg: &EmailConfig) -> Result<Message, NotifyError> {
        let texts = EmailTexts::compile(cfg, &TemplateLibrary::default()).unwrap();
        build_message(cfg, &texts, &note())
    }

    fn note() -> Notification {
        let labels = Labels::from_pairs([("alertname", "DiskFull"), ("severity", "critical")]);
        Notification::new(
            "r",
            "k",
            labels.keep(&["alertname"]),
            NotificationReason::FirstNotification,
            vec![NotifyAlert::firing(labels, Utc::now())],
            "http://wf",
            Utc::now(),
        )
    }

    #[test]
    fn builds_a_multipart_message() {
        let cfg = config(
            "        headers: {Subject: 'custom {{ .CommonLabels.alertname }}', X-Team: ops}\n",
        );
        let raw = String::from_utf8(build(&cfg).unwrap().formatted()).unwrap();
        assert!(raw.contains("Subject: custom DiskFull"), "{raw}");
        assert!(raw.contains("X-Team: ops"), "{raw}");
        assert!(raw.contains("To: a@example.org, b@example.org"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain"), "{raw}");
        assert!(raw.contains("Content-Type: text/html"), "{raw}");
        assert!(raw.contains("#d00000"), "{raw}");
        let cfg = config("");
        let raw = String::from_utf8(build(&cfg).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Subject: [FIRING:1] DiskFull (critical)"),
            "{raw}"
        );
    }

    #[tokio::test]
    async fn bad_addresses_are_permanent_errors() {
        let mut cfg = config("");
        cfg.from = "not an address".into();
        let e = build(&cfg).unwrap_err();
        assert!(!e.is_retryable());
        assert!(Email::new(config(""), &TemplateLibrary::default()).is_ok());
        let bad = config("        html: '{{ .Status '\n");
        assert!(Email::new(bad, &TemplateLibrary::default()).is_err());
    }
}
