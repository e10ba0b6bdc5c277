//! The generic webhook: Alertmanager's payload version 4, byte for byte, plus watchfire's
//! delivery extensions.
//!
//! The body is what Alertmanager's `webhook.Message` encodes (key order, HTML escaping, the
//! trailing newline, `QuoteMeta`d receiver, zero `endsAt` for firing alerts, `max_alerts`
//! truncation before the common labels are computed), followed by two extra top-level keys:
//! `idempotencyKey` (also sent as the `Idempotency-Key` header; identical on every retry) and
//! `transitions` (per alert: its label fingerprint as in `alerts`, `alertId` (the identity
//! fingerprint, stable across severity changes), transition sequence, what happened,
//! severities, and for resolves `resolveReason`: `recovered` or `data_missing`). The standard `fingerprint` is Alertmanager's, computed from the labels.
//! With `signing_secret_file`, `X-Watchfire-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! lets the receiver verify the sender.

use super::{read_url_file, send, with_auth};
use crate::config::WebhookConfig;
use crate::gostd::json::{self as gojson, quote_meta, time_text, ZERO_TIME};
use crate::notify::alert::AlertStatus;
use crate::notify::alert::{alert_fingerprint, Transition};
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::FailureReason;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the body signature.
pub const SIGNATURE_HEADER: &str = "X-Watchfire-Signature";

/// The webhook payload for `n`, keeping the first `max_alerts` alerts (0: all).
pub fn payload(n: &Notification, max_alerts: u64) -> String {
    let limit = usize::try_from(max_alerts).unwrap_or(usize::MAX);
    let (shown, truncated) = if max_alerts > 0 && n.alerts.len() > limit {
        let mut shown = n.clone();
        shown.alerts.truncate(limit);
        (shown, n.alerts.len() - limit)
    } else {
        (n.clone(), 0)
    };
    let n = &shown;
    let mut out = String::with_capacity(512 + 512 * n.alerts.len());
    out.push('{');
    gojson::key(&mut out, "receiver");
    gojson::string(&mut out, &quote_meta(&n.receiver));
    out.push(',');
    gojson::key(&mut out, "status");
    gojson::string(&mut out, n.status().as_str());
    out.push(',');
    gojson::key(&mut out, "alerts");
    out.push('[');
    for (i, a) in n.alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let status = n.alert_status(a);
        out.push('{');
        gojson::key(&mut out, "status");
        gojson::string(&mut out, status.as_str());
        out.push(',');
        gojson::key(&mut out, "labels");
        gojson::map(&mut out, a.labels.iter().map(|l| (&*l.name, &*l.value)));
        out.push(',');
        gojson::key(&mut out, "annotations");
        gojson::btree(&mut out, &a.annotations);
        out.push(',');
        gojson::key(&mut out, "startsAt");
        gojson::string(&mut out, &time_text(a.starts_at));
        out.push(',');
        gojson::key(&mut out, "endsAt");
        let ends = match (status, a.ends_at) {
            (AlertStatus::Resolved, Some(end)) => time_text(end),
            (AlertStatus::Resolved, None) => time_text(n.created_at),
            (AlertStatus::Firing, _) => ZERO_TIME.to_owned(),
        };
        gojson::string(&mut out, &ends);
        out.push(',');
        gojson::key(&mut out, "generatorURL");
        gojson::string(&mut out, &a.generator_url);
        out.push(',');
        gojson::key(&mut out, "fingerprint");
        gojson::string(&mut out, &format!("{:016x}", alert_fingerprint(&a.labels)));
        out.push('}');
    }
    out.push_str("],");
    gojson::key(&mut out, "notification_reason");
    gojson::string(&mut out, n.reason.as_str());
    out.push(',');
    gojson::key(&mut out, "groupLabels");
    gojson::map(
        &mut out,
        n.group_labels.iter().map(|l| (&*l.name, &*l.value)),
    );
    out.push(',');
    gojson::key(&mut out, "commonLabels");
    let common = n.common_labels();
    gojson::map(&mut out, common.iter().map(|l| (&*l.name, &*l.value)));
    out.push(',');
    gojson::key(&mut out, "commonAnnotations");
    gojson::btree(&mut out, &n.common_annotations());
    out.push(',');
    gojson::key(&mut out, "routeLabels");
    out.push_str("{},");
    gojson::key(&mut out, "externalURL");
    gojson::string(&mut out, &n.external_url);
    out.push(',');
    gojson::key(&mut out, "version");
    gojson::string(&mut out, "4");
    out.push(',');
    gojson::key(&mut out, "groupKey");
    gojson::string(&mut out, &n.group_key);
    out.push(',');
    gojson::key(&mut out, "truncatedAlerts");
    out.push_str(&truncated.to_string());
    out.push(',');
    gojson::key(&mut out, "idempotencyKey");
    gojson::string(&mut out, &n.idempotency_key);
    out.push(',');
    gojson::key(&mut out, "transitions");
    transitions(&mut out, n);
    out.push_str("}\n");
    out
}

fn transitions(out: &mut String, n: &Notification) {
    out.push('[');
    for (i, a) in n.alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        gojson::key(out, "fingerprint");
        gojson::string(out, &format!("{:016x}", alert_fingerprint(&a.labels)));
        out.push(',');
        gojson::key(out, "alertId");
        gojson::string(out, &a.fingerprint_hex());
        out.push(',');
        gojson::key(out, "seq");
        out.push_str(&a.seq.to_string());
        out.push(',');
        gojson::key(out, "transition");
        gojson::string(out, a.transition.kind());
        if let Some(sev) = &a.severity {
            out.push(',');
            gojson::key(out, "severity");
            gojson::string(out, sev);
        }
        match &a.transition {
            Transition::Escalated { from, to } | Transition::DeEscalated { from, to } => {
                out.push(',');
                gojson::key(out, "from");
                gojson::string(out, from);
                out.push(',');
                gojson::key(out, "to");
                gojson::string(out, to);
            }
            Transition::Resolved { reason } => {
                out.push(',');
                gojson::key(out, "resolveReason");
                gojson::string(out, reason.as_str());
            }
            Transition::Firing => {}
        }
        out.push('}');
    }
    out.push(']');
}

/// `sha256=<hex>` HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never returns early.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A configured webhook.
pub struct Webhook {
    config: WebhookConfig,
    client: reqwest::Client,
}

impl Webhook {
    /// A webhook sending with `client`.
    pub fn new(config: WebhookConfig, client: reqwest::Client) -> Webhook {
        Webhook { config, client }
    }

    fn url(&self) -> Result<String, NotifyError> {
        match (&self.config.url, &self.config.url_file) {
            (Some(url), _) => Ok(url.expose().to_owned()),
            (None, Some(file)) => read_url_file(file),
            (None, None) => Err(NotifyError::permanent(
                FailureReason::Config,
                "webhook has no url",
            )),
        }
    }
}

#[async_trait]
impl Integration for Webhook {
    fn name(&self) -> &str {
        "webhook"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        Ok(payload(n, self.config.max_alerts))
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let url = self.url()?;
        let body = payload(n, self.config.max_alerts);
        let mut req = self
            .client
            .post(&url)
            .timeout(self.config.delivery.timeout.as_duration())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &n.idempotency_key);
        for (name, value) in &self.config.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        req = with_auth(req, &self.config.http_config);
        if let Some(secret) = &self.config.signing_secret {
            let sig = signature(secret.secret().expose().as_bytes(), body.as_bytes());
            req = req.header(SIGNATURE_HEADER, sig);
        }
        send(req.body(body)).await.map(drop)
    }
}

#[cfg(test)]
mod tests;
