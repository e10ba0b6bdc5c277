//! The log integration: one structured log line per notification (target `watchfire::notify`,
//! level INFO for resolved, WARN for firing), the default when no route is configured.

use crate::notify::alert::AlertStatus;
use crate::notify::integration::{async_trait, Integration, NotifyError};
use crate::notify::notification::Notification;
use crate::notify::text;

/// Logs notifications through `tracing`.
#[derive(Clone, Debug, Default)]
pub struct Log;

/// The fields of the log line: `(status, reason, receiver, group_key, idempotency_key, alerts)`
/// where `alerts` reads `name[severity] transition fingerprint; ...`.
pub fn fields(n: &Notification) -> [(&'static str, String); 6] {
    let alerts: Vec<String> = n
        .alerts
        .iter()
        .map(|a| {
            let severity = a
                .severity
                .as_deref()
                .map(|s| format!("[{s}]"))
                .unwrap_or_default();
            format!(
                "{}{severity} {} {}",
                a.name(),
                text::transition_text(a),
                a.fingerprint_hex()
            )
        })
        .collect();
    [
        ("status", n.status().as_str().to_owned()),
        ("reason", n.reason.as_str().to_owned()),
        ("receiver", n.receiver.clone()),
        ("group_key", n.group_key.clone()),
        ("idempotency_key", n.idempotency_key.clone()),
        ("alerts", alerts.join("; ")),
    ]
}

#[async_trait]
impl Integration for Log {
    fn name(&self) -> &str {
        "log"
    }

    fn render(&self, n: &Notification) -> Result<String, NotifyError> {
        let pairs: Vec<String> = fields(n)
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        Ok(format!("{} {}", text::subject(n), pairs.join(" ")))
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let [status, reason, receiver, group, key, alerts] = fields(n).map(|(_, v)| v);
        let subject = text::subject(n);
        if n.status() == AlertStatus::Firing {
            tracing::warn!(target: "watchfire::notify", %status, %reason, %receiver,
                group_key = %group, idempotency_key = %key, %alerts, "{subject}");
        } else {
            tracing::info!(target: "watchfire::notify", %status, %reason, %receiver,
                group_key = %group, idempotency_key = %key, %alerts, "{subject}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::NotifyAlert;
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;

    #[tokio::test]
    async fn logs_and_describes() {
        let labels = Labels::from_pairs([("alertname", "A"), ("severity", "warning")]);
        let n = Notification::new(
            "log",
            "{}:{}",
            Labels::empty(),
            NotificationReason::FirstNotification,
            vec![NotifyAlert::firing(labels, Utc::now())],
            "",
            Utc::now(),
        );
        let f = fields(&n);
        assert_eq!(f[0].1, "firing");
        assert!(f[5].1.starts_with("A[warning] firing "), "{}", f[5].1);
        assert!(Log.notify(&n).await.is_ok());
    }
}
