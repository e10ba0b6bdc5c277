//! What a template executes against: the dot value plus the environment
//! (query callback, evaluation time, external URL), and builders for the two
//! data models watchfire uses — Prometheus' alert rule data and
//! Alertmanager's notification data.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::gotime::GoTime;
use super::value::{ListKind, MapKind, TValue};
use crate::model::Labels;

/// One sample returned by the `query` callback.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    /// The series labels (including `__name__` if present).
    pub labels: Labels,
    /// The sample value.
    pub value: f64,
}

/// The PromQL callback behind the `query` template function: runs an instant
/// query at the evaluation time and returns its vector, or an error message.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Vec<QuerySample>, String> + 'a;

/// The input of one template execution.
pub struct Data<'a> {
    pub(crate) dot: TValue,
    pub(crate) query: Option<&'a QueryFn<'a>>,
    pub(crate) now_ms: i64,
    pub(crate) external_url: Arc<str>,
}

impl<'a> Data<'a> {
    /// Data with `dot` as `.` and `$`, the current time, no external URL and
    /// no query callback.
    pub fn new(dot: TValue) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Data {
            dot,
            query: None,
            now_ms,
            external_url: Arc::from(""),
        }
    }

    /// Data for an alert rule's labels and annotations (see [`RuleData`]).
    pub fn rule(rule: &RuleData) -> Self {
        let mut d = Data::new(rule.to_value());
        d.external_url = Arc::from(rule.external_url.as_str());
        d
    }

    /// Data for a notification template (see [`NotificationData`]).
    pub fn notification(n: &NotificationData) -> Self {
        let mut d = Data::new(n.to_value());
        d.external_url = Arc::from(n.external_url.as_str());
        d
    }

    /// Sets the callback used by `query`.
    pub fn with_query(mut self, query: &'a QueryFn<'a>) -> Self {
        self.query = Some(query);
        self
    }

    /// Sets the time `now` returns (Prometheus: the rule evaluation time).
    pub fn with_time_ms(mut self, now_ms: i64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// Sets the URL `externalURL` and `pathPrefix` return.
    pub fn with_external_url(mut self, url: &str) -> Self {
        self.external_url = Arc::from(url);
        self
    }

    /// The dot value.
    pub fn dot(&self) -> &TValue {
        &self.dot
    }
}

/// The data of an alerting rule template: Prometheus' `.Labels`,
/// `.ExternalLabels`, `.ExternalURL`, `.Value`, plus watchfire's
/// `.Threshold` and `.Severity`. Rule templates also see them as `$labels`,
/// `$externalLabels`, `$externalURL`, `$value`, `$threshold`, `$severity`.
#[derive(Clone, Debug, Default)]
pub struct RuleData {
    /// The alert's labels.
    pub labels: Labels,
    /// The configured external labels.
    pub external_labels: Labels,
    /// The external URL of this server.
    pub external_url: String,
    /// The sample value that triggered the alert.
    pub value: f64,
    /// The threshold of the rule's severity level, when it has one (nil otherwise).
    pub threshold: Option<f64>,
    /// The severity level reached, when the rule has levels (nil otherwise).
    pub severity: Option<String>,
}

impl RuleData {
    /// The record templates see as `.`.
    pub fn to_value(&self) -> TValue {
        TValue::record(
            "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
            vec![
                ("Labels", TValue::labels(&self.labels, MapKind::Strings)),
                ("ExternalLabels", TValue::labels(&self.external_labels, MapKind::Strings)),
                ("ExternalURL", TValue::str(&self.external_url)),
                ("Value", TValue::Float(self.value)),
                ("Threshold", self.threshold.map_or(TValue::Null, TValue::Float)),
                ("Severity", self.severity.as_deref().map_or(TValue::Null, TValue::str)),
            ],
        )
    }
}

/// The variables rule templates get before their text, as Prometheus'
/// prelude `{{$labels := .Labels}}...` does: (variable, field of `.`).
pub(crate) const RULE_PRELUDE: [(&str, &str); 6] = [
    ("$labels", "Labels"),
    ("$externalLabels", "ExternalLabels"),
    ("$externalURL", "ExternalURL"),
    ("$value", "Value"),
    ("$threshold", "Threshold"),
    ("$severity", "Severity"),
];

/// Whether an alert is firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertStatus {
    /// Still active.
    Firing,
    /// No longer active.
    Resolved,
}

impl AlertStatus {
    fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert of a notification, as Alertmanager's `template.Alert`.
#[derive(Clone, Debug)]
pub struct AlertData {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The alert's labels.
    pub labels: Labels,
    /// The alert's annotations.
    pub annotations: Labels,
    /// When the alert started firing (Unix ms).
    pub starts_at_ms: i64,
    /// When it ended; `None` prints as Go's zero time.
    pub ends_at_ms: Option<i64>,
    /// Link back to the rule's expression.
    pub generator_url: String,
    /// The alert's fingerprint as 16 hex digits.
    pub fingerprint: String,
}

impl AlertData {
    fn to_value(&self) -> TValue {
        TValue::record(
            "template.Alert",
            vec![
                ("Status", TValue::str(self.status.as_str())),
                ("Labels", TValue::labels(&self.labels, MapKind::Kv)),
                (
                    "Annotations",
                    TValue::labels(&self.annotations, MapKind::Kv),
                ),
                (
                    "StartsAt",
                    TValue::Time(GoTime::from_unix_millis(self.starts_at_ms)),
                ),
                (
                    "EndsAt",
                    TValue::Time(
                        self.ends_at_ms
                            .map_or(GoTime::ZERO, GoTime::from_unix_millis),
                    ),
                ),
                ("GeneratorURL", TValue::str(&self.generator_url)),
                ("Fingerprint", TValue::str(&self.fingerprint)),
            ],
        )
    }
}

/// A notification's data, as Alertmanager's `template.Data`.
#[derive(Clone, Debug, Default)]
pub struct NotificationData {
    /// The receiver's name.
    pub receiver: String,
    /// The labels the alerts were grouped by.
    pub group_labels: Labels,
    /// The alerts.
    pub alerts: Vec<AlertData>,
    /// The external URL of this server.
    pub external_url: String,
}

impl NotificationData {
    /// `firing` if any alert fires, else `resolved`.
    pub fn status(&self) -> AlertStatus {
        if self.alerts.iter().any(|a| a.status == AlertStatus::Firing) {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    /// The record templates see as `.`. `.Receiver` is regex-quoted as
    /// Alertmanager does; common labels/annotations are those equal in all
    /// alerts.
    pub fn to_value(&self) -> TValue {
        let common = |get: fn(&AlertData) -> &Labels| -> Labels {
            let Some(first) = self.alerts.first() else {
                return Labels::empty();
            };
            let pairs = get(first).iter().filter(|l| {
                self.alerts
                    .iter()
                    .all(|a| get(a).get(&l.name) == Some(&*l.value))
            });
            Labels::from_pairs(pairs.map(|l| (l.name.clone(), l.value.clone())))
        };
        let alerts = self.alerts.iter().map(AlertData::to_value).collect();
        TValue::record(
            "template.Data",
            vec![
                ("Receiver", TValue::str(quote_meta(&self.receiver))),
                ("Status", TValue::str(self.status().as_str())),
                ("Alerts", TValue::list(ListKind::Alerts, alerts)),
                (
                    "GroupLabels",
                    TValue::labels(&self.group_labels, MapKind::Kv),
                ),
                (
                    "CommonLabels",
                    TValue::labels(&common(|a| &a.labels), MapKind::Kv),
                ),
                (
                    "CommonAnnotations",
                    TValue::labels(&common(|a| &a.annotations), MapKind::Kv),
                ),
                ("ExternalURL", TValue::str(&self.external_url)),
            ],
        )
    }
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to `.Receiver`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A query result as Prometheus' templates see it: a list of
/// `*sample{Labels, Value}`.
pub(crate) fn query_result(samples: Vec<QuerySample>) -> TValue {
    let items = samples
        .into_iter()
        .map(|s| {
            TValue::record(
                "*template.sample",
                vec![
                    ("Labels", TValue::labels(&s.labels, MapKind::Strings)),
                    ("Value", TValue::Float(s.value)),
                ],
            )
        })
        .collect();
    TValue::list(ListKind::QueryResult, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: AlertStatus, instance: &str) -> AlertData {
        AlertData {
            status,
            labels: Labels::from_pairs([("alertname", "Down"), ("instance", instance)]),
            annotations: Labels::from_pairs([("summary", "down")]),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: String::new(),
            fingerprint: "0000000000000001".into(),
        }
    }

    #[test]
    fn notification_data_computes_common_labels_and_status() {
        let n = NotificationData {
            receiver: "team.a".into(),
            group_labels: Labels::from_pairs([("alertname", "Down")]),
            alerts: vec![
                alert(AlertStatus::Resolved, "a"),
                alert(AlertStatus::Firing, "b"),
            ],
            external_url: "http://x".into(),
        };
        let TValue::Record(r) = n.to_value() else {
            panic!("not a record")
        };
        assert_eq!(r.get("Status").unwrap().to_go_string(), "firing");
        assert_eq!(r.get("Receiver").unwrap().to_go_string(), "team\\.a");
        assert_eq!(quote_meta("db-team (eu)"), "db-team \\(eu\\)");
        assert_eq!(
            r.get("CommonLabels").unwrap().to_go_string(),
            "alertname=Down"
        );
        assert_eq!(
            r.get("CommonAnnotations").unwrap().to_go_string(),
            "summary=down"
        );
    }
}
