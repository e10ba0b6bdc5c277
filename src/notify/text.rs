//! Built-in notification texts, one function per integration and field.
//!
//! These are the defaults Alertmanager's `default.tmpl` gives (subject line, Slack title and
//! link) plus watchfire's own for what Alertmanager leaves empty (Slack fields, email bodies).
//! Configured texts (`title:`, `html:`, ...) are templates run by `templates`; these functions
//! are used when a field is not configured.

use super::alert::{NotifyAlert, ResolveReason, Transition};
use super::notification::{severity_rank, Notification};
use crate::gostd::json::time_text;
use std::fmt::Write as _;

/// Alertmanager's `__subject`: `[FIRING:2] DiskFull eu1 (page)`.
pub fn subject(n: &Notification) -> String {
    let mut out = String::from("[");
    out.push_str(&n.status().as_str().to_uppercase());
    if n.status() == super::alert::AlertStatus::Firing {
        let _ = write!(out, ":{}", n.firing().count());
    }
    out.push_str("] ");
    let group = sorted(n.group_labels.iter().collect());
    out.push_str(&group.join(" "));
    out.push(' ');
    let common = n.common_labels();
    if common.len() > n.group_labels.len() {
        let rest = sorted(
            common
                .iter()
                .filter(|l| !n.group_labels.contains(&l.name))
                .collect(),
        );
        let _ = write!(out, "({})", rest.join(" "));
    }
    out
}

/// Label values in Alertmanager's `SortedPairs` order: `alertname` first, then by name.
fn sorted(mut labels: Vec<&crate::model::Label>) -> Vec<&str> {
    labels.sort_by_key(|l| (&*l.name != "alertname", l.name.clone()));
    labels.into_iter().map(|l| &*l.value).collect()
}

/// Link to the receiver's alerts: `<external URL>/#/alerts?receiver=<name>`.
pub fn alerts_link(n: &Notification) -> String {
    let receiver: String = url::form_urlencoded::byte_serialize(n.receiver.as_bytes()).collect();
    format!(
        "{}/#/alerts?receiver={receiver}",
        n.external_url.trim_end_matches('/')
    )
}

/// What happened to an alert, in words: `firing`, `resolved`, `resolved: data missing`,
/// `escalated from warning to critical`.
pub fn transition_text(a: &NotifyAlert) -> String {
    match &a.transition {
        Transition::Firing => "firing".to_owned(),
        Transition::Resolved {
            reason: ResolveReason::ValueRecovered,
        } => "resolved".to_owned(),
        Transition::Resolved {
            reason: ResolveReason::DataMissing,
        } => "resolved: data missing".to_owned(),
        Transition::Escalated { from, to } => format!("escalated from {from} to {to}"),
        Transition::DeEscalated { from, to } => format!("de-escalated from {from} to {to}"),
    }
}

/// The best one-line description of an alert: its `summary`, else `description`, else its
/// labels.
pub fn alert_summary(a: &NotifyAlert) -> String {
    a.annotations
        .get("summary")
        .or_else(|| a.annotations.get("description"))
        .cloned()
        .unwrap_or_else(|| a.labels.to_string())
}

/// The Slack colour: `good` when resolved, `danger` for critical and unknown severities,
/// `warning` for warnings.
pub fn slack_color(n: &Notification) -> String {
    if n.status() == super::alert::AlertStatus::Resolved {
        return "good".to_owned();
    }
    match n.top_severity().map(severity_rank) {
        Some(3) => "warning",
        Some(2) | Some(0) => "#439FE0",
        _ => "danger",
    }
    .to_owned()
}

/// The colour of the email header: red (critical), orange (warning), green (resolved).
pub fn email_color(n: &Notification) -> &'static str {
    if n.status() == super::alert::AlertStatus::Resolved {
        return "#2eb886";
    }
    match n.top_severity().map(severity_rank) {
        Some(3) => "#ff9900",
        Some(2) | Some(0) => "#439fe0",
        _ => "#d00000",
    }
}

/// Default Slack attachment title: the subject.
pub fn slack_title(n: &Notification) -> String {
    subject(n)
}

/// Default Slack attachment text: empty, as Alertmanager (the fields carry the alerts).
pub fn slack_text(_: &Notification) -> String {
    String::new()
}

/// Default Slack fields: one per alert, titled by name, status and severity.
pub fn slack_fields(n: &Notification) -> Vec<(String, String)> {
    n.alerts
        .iter()
        .map(|a| {
            let mut title = format!("{} {}", a.name(), transition_text(a));
            if let Some(sev) = &a.severity {
                let _ = write!(title, " [{sev}]");
            }
            (title, alert_summary(a))
        })
        .collect()
}

/// Default email subject: the subject line.
pub fn email_subject(n: &Notification) -> String {
    subject(n)
}

/// Default plain-text email body.
pub fn email_text(n: &Notification) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", subject(n));
    let _ = writeln!(out, "Reason: {}", n.reason);
    for a in &n.alerts {
        let _ = writeln!(out);
        let _ = writeln!(out, "{} ({})", a.name(), transition_text(a));
        let _ = writeln!(out, "Labels: {}", a.labels);
        for (k, v) in &a.annotations {
            let _ = writeln!(out, "{k}: {v}");
        }
        let _ = writeln!(out, "Started: {}", time_text(a.starts_at));
        if let Some(end) = a.ends_at.filter(|_| a.resolved_at(n.created_at)) {
            let _ = writeln!(out, "Ended: {}", time_text(end));
        }
        if !a.generator_url.is_empty() {
            let _ = writeln!(out, "Source: {}", a.generator_url);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Sent by watchfire: {}", alerts_link(n));
    out
}

/// Default HTML email body: a coloured header and one block per alert.
pub fn email_html(n: &Notification) -> String {
    let color = email_color(n);
    let mut out = String::from("<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n");
    let _ = writeln!(
        out,
        "<div style=\"background:{color};color:#ffffff;padding:10px\"><b>{}</b></div>",
        escape_html(&subject(n))
    );
    let _ = writeln!(out, "<p>Reason: {}</p>", escape_html(n.reason.as_str()));
    for a in &n.alerts {
        let _ = writeln!(
            out,
            "<div style=\"border-left:4px solid {color};padding:4px 10px;margin:8px 0\">"
        );
        let _ = writeln!(
            out,
            "<b>{}</b> ({})<br>",
            escape_html(a.name()),
            escape_html(&transition_text(a))
        );
        let _ = writeln!(out, "<p>{}</p>", escape_html(&alert_summary(a)));
        let _ = writeln!(
            out,
            "<small>Labels: {}</small><br>",
            escape_html(&a.labels.to_string())
        );
        if !a.generator_url.is_empty() {
            let _ = writeln!(
                out,
                "<a href=\"{}\">Source</a>",
                escape_html(&a.generator_url)
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Escapes text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::AlertStatus;
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;

    fn note(alerts: &[&[(&str, &str)]], group: &[(&str, &str)]) -> Notification {
        let alerts = alerts
            .iter()
            .map(|p| NotifyAlert::firing(Labels::from_pairs(p.iter().copied()), Utc::now()))
            .collect();
        Notification::new(
            "db team",
            "k",
            Labels::from_pairs(group.iter().copied()),
            NotificationReason::FirstNotification,
            alerts,
            "http://wf:9711/",
            Utc::now(),
        )
    }

    #[test]
    fn subject_as_alertmanager() {
        let a: &[(&str, &str)] = &[
            ("alertname", "DiskFull"),
            ("cluster", "eu1"),
            ("severity", "page"),
            ("i", "1"),
        ];
        let b: &[(&str, &str)] = &[
            ("alertname", "DiskFull"),
            ("cluster", "eu1"),
            ("severity", "page"),
            ("i", "2"),
        ];
        let group: &[(&str, &str)] = &[("alertname", "DiskFull"), ("cluster", "eu1")];
        let n = note(&[a, b], group);
        assert_eq!(subject(&n), "[FIRING:2] DiskFull eu1 (page)");
        let n = note(
            &[&[("alertname", "DiskFull")]],
            &[("alertname", "DiskFull")],
        );
        assert_eq!(subject(&n), "[FIRING:1] DiskFull ");
        let mut n = note(&[a], group);
        n.alerts[0].status = AlertStatus::Resolved;
        assert_eq!(subject(&n), "[RESOLVED] DiskFull eu1 (1 page)");
        assert_eq!(alerts_link(&n), "http://wf:9711/#/alerts?receiver=db+team");
        // `SortedPairs` puts `alertname` first, before names that sort lower.
        let a: &[(&str, &str)] = &[("alertname", "X"), ("Zone", "z"), ("a", "1")];
        let n = note(&[a], &[("alertname", "X"), ("Zone", "z")]);
        assert_eq!(subject(&n), "[FIRING:1] X z (1)");
    }

    #[test]
    fn resolve_reasons_in_words() {
        let mut n = note(&[&[("alertname", "A")]], &[]);
        n.alerts[0].status = AlertStatus::Resolved;
        n.alerts[0].transition = Transition::Resolved {
            reason: ResolveReason::ValueRecovered,
        };
        assert_eq!(transition_text(&n.alerts[0]), "resolved");
        n.alerts[0].transition = Transition::Resolved {
            reason: ResolveReason::DataMissing,
        };
        assert_eq!(slack_fields(&n)[0].0, "A resolved: data missing");
        assert!(email_text(&n).contains("A (resolved: data missing)"));
    }

    #[test]
    fn colours_by_severity() {
        let crit = note(&[&[("alertname", "A"), ("severity", "critical")]], &[]);
        let warn = note(&[&[("alertname", "A"), ("severity", "warning")]], &[]);
        assert_eq!(slack_color(&crit), "danger");
        assert_eq!(slack_color(&warn), "warning");
        assert_eq!(email_color(&crit), "#d00000");
        let html = email_html(&crit);
        assert!(html.contains("background:#d00000"), "{html}");
        assert!(email_text(&warn).contains("A (firing)"));
        assert_eq!(escape_html("<a&\"'>"), "&lt;a&amp;&quot;&#39;&gt;");
    }
}
