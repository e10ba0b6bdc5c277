//! The notifier's own metrics.
//!
//! - `watchfire_notifications_total{receiver,integration}`: notifications handed to an
//!   integration (each once, however many attempts it takes).
//! - `watchfire_notifications_failed_total{receiver,integration,reason}`: notifications given
//!   up on (after retries, or at once for permanent errors), by the last error's reason.
//! - `watchfire_notification_retries_total{receiver,integration}`: attempts after the first.
//! - `watchfire_notification_latency_seconds{receiver,integration}`: duration of each attempt.
//! - `watchfire_notification_queue_length{receiver,integration}`: notifications waiting.
//! - `watchfire_notifications_suppressed_total{reason}`: alerts held back at a group's flush,
//!   as Alertmanager's `alertmanager_notifications_suppressed_total`: `inhibition`,
//!   `mute_time_interval`, `active_time_interval`, `silence`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `receiver` and `integration` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntegrationLabels {
    /// Receiver name.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
}

/// Labels of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// Receiver name.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// Why it failed (see `NotifyError::reason`).
    pub reason: String,
}

/// Labels of the suppression counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SuppressedLabels {
    /// `inhibition`, `mute_time_interval`, `active_time_interval` or `silence`.
    pub reason: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

/// The metric families; cheap to clone (shared inside).
#[derive(Clone)]
pub struct NotifyMetrics {
    /// `watchfire_notifications_total`.
    pub notifications: Family<IntegrationLabels, Counter>,
    /// `watchfire_notifications_failed_total`.
    pub failed: Family<FailureLabels, Counter>,
    /// `watchfire_notification_retries_total`.
    pub retries: Family<IntegrationLabels, Counter>,
    /// `watchfire_notification_latency_seconds`.
    pub latency: Family<IntegrationLabels, Histogram, fn() -> Histogram>,
    /// `watchfire_notification_queue_length`.
    pub queue_length: Family<IntegrationLabels, Gauge>,
    /// `watchfire_notifications_suppressed_total`.
    pub suppressed: Family<SuppressedLabels, Counter>,
}

impl Default for NotifyMetrics {
    fn default() -> Self {
        NotifyMetrics {
            notifications: Family::default(),
            failed: Family::default(),
            retries: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            queue_length: Family::default(),
            suppressed: Family::default(),
        }
    }
}

impl std::fmt::Debug for NotifyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifyMetrics")
    }
}

impl NotifyMetrics {
    /// Registers every family (names without the `_total` suffix, which the encoder adds).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "watchfire_notifications",
            "Notifications handed to an integration",
            self.notifications.clone(),
        );
        registry.register(
            "watchfire_notifications_failed",
            "Notifications given up on after retries or a permanent error",
            self.failed.clone(),
        );
        registry.register(
            "watchfire_notification_retries",
            "Delivery attempts after the first",
            self.retries.clone(),
        );
        registry.register(
            "watchfire_notification_latency_seconds",
            "Duration of each delivery attempt",
            self.latency.clone(),
        );
        registry.register(
            "watchfire_notification_queue_length",
            "Notifications waiting for delivery",
            self.queue_length.clone(),
        );
        registry.register(
            "watchfire_notifications_suppressed",
            "Alerts not notified at a group's flush for being inhibited, silenced, within a \
             mute time interval or outside the active time intervals",
            self.suppressed.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_families() {
        let m = NotifyMetrics::default();
        let labels = IntegrationLabels {
            receiver: "ops".into(),
            integration: "webhook".into(),
        };
        m.notifications.get_or_create(&labels).inc();
        m.latency.get_or_create(&labels).observe(0.2);
        m.retries.get_or_create(&labels).inc();
        m.queue_length.get_or_create(&labels).set(3);
        m.suppressed
            .get_or_create(&SuppressedLabels {
                reason: "mute_time_interval".into(),
            })
            .inc_by(2);
        m.failed
            .get_or_create(&FailureLabels {
                receiver: "ops".into(),
                integration: "webhook".into(),
                reason: "http_5xx".into(),
            })
            .inc();
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        for want in [
            r#"watchfire_notifications_total{receiver="ops",integration="webhook"} 1"#,
            r#"watchfire_notifications_failed_total{receiver="ops",integration="webhook",reason="http_5xx"} 1"#,
            r#"watchfire_notification_retries_total{receiver="ops",integration="webhook"} 1"#,
            r#"watchfire_notification_latency_seconds_count{receiver="ops",integration="webhook"} 1"#,
            r#"watchfire_notification_queue_length{receiver="ops",integration="webhook"} 3"#,
            r#"watchfire_notifications_suppressed_total{reason="mute_time_interval"} 2"#,
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }
}
