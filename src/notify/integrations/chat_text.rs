//! The default texts of the chat integrations (Telegram, Discord, Microsoft Teams), written in
//! Rust to give the same output as Alertmanager 0.33's default templates: the alerts as a list
//! of their labels, annotations and source, under "Alerts Firing:" and "Alerts Resolved:",
//! either plain (Telegram, Discord) or as Markdown (Teams), with every blank line where
//! Alertmanager's template leaves one.
//!
//! Labels and annotations print in Alertmanager's `SortedPairs` order: `alertname` first, the
//! rest by name. With `html` set, every value is escaped as Go's `html/template` escapes text
//! (Telegram's default `parse_mode: HTML`), the static text is not.

use crate::model::Labels;
use crate::notify::alert::NotifyAlert;
use crate::notify::notification::Notification;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Label pairs in Alertmanager's `SortedPairs` order: `alertname` first, then by name.
pub fn sorted_labels(labels: &Labels) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = labels.iter().map(|l| (&*l.name, &*l.value)).collect();
    pairs.sort_by_key(|(name, _)| (*name != "alertname", *name));
    pairs
}

/// Annotation pairs in `SortedPairs` order.
pub fn sorted_annotations(annotations: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_by_key(|(name, _)| (*name != "alertname", *name));
    pairs
}

/// Go's `html/template` escaping of text: `<`, `>`, `&`, `'`, `"`, `+` and NUL.
pub fn html_text(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '\'', '"', '+', '\0']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '+' => out.push_str("&#43;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// How a list is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Plain text, as Telegram and Discord get it.
    Plain,
    /// Plain text with values escaped for HTML (Telegram's `parse_mode: HTML`).
    PlainHtml,
    /// Markdown, as Teams gets it.
    Markdown,
}

fn value(style: Style, s: &str) -> Cow<'_, str> {
    match style {
        Style::PlainHtml => html_text(s),
        Style::Plain | Style::Markdown => Cow::Borrowed(s),
    }
}

/// One list of alerts (Alertmanager's `__text_alert_list` or `__text_alert_list_markdown`).
fn alert_list<'a>(out: &mut String, alerts: impl Iterator<Item = &'a NotifyAlert>, style: Style) {
    let markdown = style == Style::Markdown;
    let (blank, bullet) = if markdown {
        ("\n", "  - ")
    } else {
        ("", " - ")
    };
    for a in alerts {
        out.push_str(blank);
        out.push_str("Labels:\n");
        for (k, v) in sorted_labels(&a.labels) {
            out.push_str(bullet);
            out.push_str(&value(style, k));
            out.push_str(" = ");
            out.push_str(&value(style, v));
            out.push('\n');
        }
        out.push_str(blank);
        out.push_str("Annotations:\n");
        for (k, v) in sorted_annotations(&a.annotations) {
            out.push_str(bullet);
            out.push_str(&value(style, k));
            out.push_str(" = ");
            out.push_str(&value(style, v));
            out.push('\n');
        }
        out.push_str(blank);
        out.push_str("Source: ");
        out.push_str(&value(style, &a.generator_url));
        out.push('\n');
    }
    if markdown {
        out.push('\n');
    }
}

/// The firing and the resolved alerts, each list under its heading (`# ` before it in
/// Markdown): the default Telegram and Discord message and Teams text.
pub fn alert_sections(n: &Notification, style: Style) -> String {
    let heading = if style == Style::Markdown { "# " } else { "" };
    let mut out = String::with_capacity(256 + 256 * n.alerts.len());
    out.push('\n');
    if n.firing().next().is_some() {
        out.push('\n');
        out.push_str(heading);
        out.push_str("Alerts Firing:\n");
        alert_list(&mut out, n.firing(), style);
        out.push('\n');
    }
    out.push('\n');
    if n.resolved().next().is_some() {
        out.push('\n');
        out.push_str(heading);
        out.push_str("Alerts Resolved:\n");
        alert_list(&mut out, n.resolved(), style);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Alertmanager's `TruncateInRunes`: at most `n` characters, the last one `…` when cut.
pub fn truncate_runes(s: String, n: usize) -> (String, bool) {
    if s.chars().nth(n).is_none() {
        return (s, false);
    }
    let keep = if n <= 3 { n } else { n - 1 };
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let mut out = s[..end].to_owned();
    if n > 3 {
        out.push('…');
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::AlertStatus;
    use crate::notify::notification::NotificationReason;
    use chrono::Utc;

    fn note() -> Notification {
        let mut a = NotifyAlert::firing(
            Labels::from_pairs([("alertname", "Disk"), ("Zone", "a<b"), ("job", "x")]),
            Utc::now(),
        );
        a.annotations.insert("summary".into(), "s & t".into());
        a.generator_url = "http://p/graph?g0.expr=up+1".into();
        let mut b = a.clone();
        b.labels = Labels::from_pairs([("alertname", "Disk"), ("job", "y")]);
        b.annotations.clear();
        b.status = AlertStatus::Resolved;
        b.ends_at = Some(Utc::now() - chrono::Duration::seconds(5));
        Notification::new(
            "r",
            "k",
            Labels::from_pairs([("alertname", "Disk")]),
            NotificationReason::FirstNotification,
            vec![a, b],
            "http://am",
            Utc::now(),
        )
    }

    #[test]
    fn plain_sections_as_alertmanagers_template() {
        let want = "\n\nAlerts Firing:\nLabels:\n - alertname = Disk\n - Zone = a<b\n - job = x\n\
                    Annotations:\n - summary = s & t\nSource: http://p/graph?g0.expr=up+1\n\n\n\
                    \nAlerts Resolved:\nLabels:\n - alertname = Disk\n - job = y\nAnnotations:\n\
                    Source: http://p/graph?g0.expr=up+1\n\n\n";
        assert_eq!(alert_sections(&note(), Style::Plain), want);
        let html = alert_sections(&note(), Style::PlainHtml);
        assert!(html.contains(" - Zone = a&lt;b\n"), "{html}");
        assert!(html.contains(" - summary = s &amp; t\n"), "{html}");
        assert!(
            html.contains("Source: http://p/graph?g0.expr=up&#43;1\n"),
            "{html}"
        );
    }

    #[test]
    fn markdown_sections_as_alertmanagers_template() {
        let mut n = note();
        n.alerts.truncate(1);
        let want = "\n\n# Alerts Firing:\n\nLabels:\n  - alertname = Disk\n  - Zone = a<b\n  \
                    - job = x\n\nAnnotations:\n  - summary = s & t\n\nSource: \
                    http://p/graph?g0.expr=up+1\n\n\n\n\n";
        assert_eq!(alert_sections(&n, Style::Markdown), want);
    }

    #[test]
    fn truncation_in_runes() {
        assert_eq!(truncate_runes("héllo".into(), 5), ("héllo".into(), false));
        assert_eq!(truncate_runes("héllo!".into(), 5), ("héll…".into(), true));
        assert_eq!(truncate_runes("héllo".into(), 2), ("hé".into(), true));
    }
}
