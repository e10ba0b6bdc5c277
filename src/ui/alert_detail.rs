//! `/alerts/{fingerprint}`: why an alert fired. The rule's expression, `for` and
//! `keep_firing_for`; for threshold rules the direction, the levels that apply to this label
//! set (the first matching override, else the rule's) and the `clear` band; a chart of the
//! expression's value for this series over the buffer's window with the levels drawn; the
//! alert's state timeline from the rule history; annotations (links clickable); the routes and
//! receivers it matches; the silences and inhibitions touching it; every recent attempt to
//! deliver a notification carrying it (sent, retrying, given up: the notifier's delivery
//! journal, newest first); and the given-up notifications kept in the dead-letter list.

use super::chart::{self, Line};
use super::format::{self, Unit};
use super::{error_page, html, nav, urlenc, window_ms, NavItem, UiState};
use crate::model::Labels;
use crate::notify::journal::Outcome;
use crate::rules::{AlertState, HistoryQuery, Thresholds};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// A threshold row: which levels apply.
#[derive(Debug, Clone, Default)]
pub struct LevelsView {
    /// `above` or `below`.
    pub direction: String,
    /// Where the levels come from: `rule` or the override's matchers.
    pub source: String,
    /// Warning level, formatted (empty: unset).
    pub warning: String,
    /// Critical level, formatted.
    pub critical: String,
    /// Clear level, formatted.
    pub clear: String,
}

/// One entry of the state timeline.
#[derive(Debug, Clone)]
pub struct Step {
    /// When.
    pub at: String,
    /// `pending`, `firing`, `escalated`, ...
    pub to: String,
    /// The state after.
    pub state: String,
    /// Severity after.
    pub severity: String,
    /// Value, formatted.
    pub value: String,
}

/// A segment of the timeline bar, as percentages of the window.
#[derive(Debug, Clone)]
pub struct Segment {
    /// CSS class (`pending`, `warning`, `critical`, `firing`).
    pub class: String,
    /// Left edge, % of the window.
    pub left: String,
    /// Width, % of the window.
    pub width: String,
    /// Tooltip.
    pub title: String,
}

/// One attempt to deliver a notification carrying this alert (the delivery journal).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When the attempt ended.
    pub at: String,
    /// Receiver.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// Which attempt at that notification (1 for the first).
    pub attempt: u32,
    /// The alert's status in it (`firing`, `resolved`).
    pub status: String,
    /// `sent`, `retrying`, `given up`.
    pub outcome: String,
    /// Badge class for the outcome.
    pub class: &'static str,
    /// The error, when it failed.
    pub error: String,
}

/// A dead-lettered notification about this alert.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Receiver.
    pub receiver: String,
    /// Integration kind.
    pub integration: String,
    /// Attempts made.
    pub attempts: u32,
    /// Outcome.
    pub outcome: String,
    /// Last error.
    pub error: String,
    /// When it was given up.
    pub at: String,
}

/// A route the alert matches.
#[derive(Debug, Clone)]
pub struct RouteView {
    /// Its receiver.
    pub receiver: String,
    /// Its key (`{}/{team="db"}`).
    pub key: String,
    /// The group labels it puts the alert under.
    pub group: String,
}

#[derive(Template)]
#[template(path = "alert_detail.html")]
struct DetailPage {
    nav: Vec<NavItem>,
    fp: String,
    name: String,
    state: String,
    severity: String,
    value: String,
    labels: Vec<(String, String)>,
    rule: String,
    group: String,
    expr: String,
    for_text: String,
    keep_firing_for: String,
    active_since: String,
    fired_at: String,
    levels: Option<LevelsView>,
    chart: String,
    chart_error: String,
    window: String,
    steps: Vec<Step>,
    segments: Vec<Segment>,
    annotations: Vec<(String, String, bool)>,
    routes: Vec<RouteView>,
    silences: Vec<String>,
    inhibitors: Vec<String>,
    deliveries: Vec<Delivery>,
    attempts: Vec<Attempt>,
    silence_href: String,
}

/// The levels that apply to `labels`, formatted in `unit`.
pub fn levels_view(t: &Thresholds, labels: &Labels, unit: Unit) -> LevelsView {
    let levels = t.levels_for(labels);
    let source = t
        .overrides
        .iter()
        .find(|o| std::ptr::eq(&o.levels, levels))
        .map(|o| format!("override {}", o.matcher_texts.join(", ")))
        .unwrap_or_else(|| "rule".to_owned());
    let f = |v: Option<f64>| v.map(|v| unit.format(v)).unwrap_or_default();
    LevelsView {
        direction: t.direction.as_str().to_owned(),
        source,
        warning: f(levels.warning),
        critical: f(levels.critical),
        clear: f(levels.clear),
    }
}

/// Timeline segments from transitions `(at, state, severity)` over `[start, end]`.
pub fn segments(steps: &[(i64, &str, &str)], start: i64, end: i64) -> Vec<Segment> {
    let span = (end - start).max(1) as f64;
    let mut out = Vec::new();
    for (i, (at, state, severity)) in steps.iter().enumerate() {
        if *state == "inactive" {
            continue;
        }
        let until = steps.get(i + 1).map_or(end, |n| n.0);
        let (from, until) = ((*at).max(start), until.min(end));
        if until <= from {
            continue;
        }
        let class = if *state == "firing" && !severity.is_empty() {
            severity.to_string()
        } else {
            state.to_string()
        };
        out.push(Segment {
            title: format!("{class} from {}", format::time_ms(from)),
            class,
            left: format!("{:.2}", (from - start) as f64 / span * 100.0),
            width: format!("{:.2}", (until - from) as f64 / span * 100.0),
        });
    }
    out
}

/// `GET /alerts/{fingerprint}`.
pub async fn page(State(s): State<UiState>, Path(fp_text): Path<String>) -> Response {
    let Ok(fp) = u64::from_str_radix(&fp_text, 16) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "/alerts",
            &format!("{fp_text:?} is not an alert fingerprint (16 hex digits)"),
        );
    };
    let now = chrono::Utc::now();
    let now_ms = now.timestamp_millis();
    let window = window_ms(&s.app);
    let start = now_ms - window;
    let external = s.app.rules.settings().external_labels;
    // The rule alert, with its rule.
    let mut found = None;
    for g in s.app.rules.groups() {
        g.with_state(|st| {
            for r in &st.rules {
                if let Some(a) = r.alerts.get(fp) {
                    found = Some((g.clone(), r.spec.clone(), a.clone()));
                }
            }
        });
        if found.is_some() {
            break;
        }
    }
    let posted = s
        .notifier
        .alerts()
        .list(now)
        .into_iter()
        .find(|a| a.alert.fingerprint == fp);
    let (labels, mut page) = match (&found, &posted) {
        (Some((g, spec, a)), _) => {
            let unit = Unit::guess(&spec.expr_text);
            let labels = super::alerts::routed_labels(&a.public_labels(), &external);
            let page = DetailPage {
                nav: nav("/alerts"),
                fp: format!("{fp:016x}"),
                name: spec.name.clone(),
                state: a.state.as_str().to_owned(),
                severity: a.severity.map(|s| s.as_str().to_owned()).unwrap_or_else(|| {
                    labels.get("severity").unwrap_or("").to_owned()
                }),
                value: unit.format(a.value),
                labels: format::pairs(&labels),
                rule: spec.name.clone(),
                group: g.name().to_owned(),
                expr: spec.expr_text.clone(),
                for_text: format::prom_duration_ms(spec.for_ms),
                keep_firing_for: format::prom_duration_ms(spec.keep_firing_for_ms),
                active_since: if a.state == AlertState::Inactive {
                    String::new()
                } else {
                    format!(
                        "{} ({} ago)",
                        format::time_ms(a.active_at),
                        format::ago(a.active_at, now_ms)
                    )
                },
                fired_at: a.fired_at.map(format::time_ms).unwrap_or_default(),
                levels: spec
                    .thresholds
                    .as_ref()
                    .map(|t| levels_view(t, &a.labels, unit)),
                chart: String::new(),
                chart_error: String::new(),
                window: format::span_ms(window),
                steps: Vec::new(),
                segments: Vec::new(),
                annotations: a
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), format::is_link(v)))
                    .collect(),
                routes: Vec::new(),
                silences: Vec::new(),
                inhibitors: Vec::new(),
                deliveries: Vec::new(),
                attempts: Vec::new(),
                silence_href: String::new(),
            };
            (labels, page)
        }
        (None, Some(p)) => {
            let labels = p.alert.labels.clone();
            let page = DetailPage {
                nav: nav("/alerts"),
                fp: format!("{fp:016x}"),
                name: labels.get("alertname").unwrap_or("").to_owned(),
                state: "firing".into(),
                severity: labels.get("severity").unwrap_or("").to_owned(),
                value: String::new(),
                labels: format::pairs(&labels),
                rule: String::new(),
                group: String::new(),
                expr: String::new(),
                for_text: String::new(),
                keep_firing_for: String::new(),
                active_since: format::time(p.alert.starts_at),
                fired_at: format::time(p.alert.starts_at),
                levels: None,
                chart: String::new(),
                chart_error: "posted through /api/v2/alerts: no rule, no values here".into(),
                window: format::span_ms(window),
                steps: Vec::new(),
                segments: Vec::new(),
                annotations: p
                    .alert
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), format::is_link(v)))
                    .collect(),
                routes: Vec::new(),
                silences: Vec::new(),
                inhibitors: Vec::new(),
                deliveries: Vec::new(),
                attempts: Vec::new(),
                silence_href: String::new(),
            };
            (labels, page)
        }
        (None, None) => {
            return error_page(
                StatusCode::NOT_FOUND,
                "/alerts",
                &format!("no alert with fingerprint {fp_text} is held (it may have resolved more than 15 minutes ago)"),
            )
        }
    };
    page.silence_href = format!(
        "/silences/new?alert={fp:016x}&matchers={}",
        urlenc(&format::silence_matchers(&labels))
    );
    if let Some((g, spec, a)) = &found {
        // The value of this series over the window.
        let step = chart::step_for(start, now_ms, g.interval_ms());
        match chart::range_query(&s.app, spec.expr_text.clone(), start, now_ms, step).await {
            Ok(series) => {
                let mine: Vec<_> = series
                    .into_iter()
                    .filter(|sr| {
                        sr.labels
                            .iter()
                            .filter(|l| &*l.name != crate::model::METRIC_NAME)
                            .all(|l| a.labels.get(&l.name) == Some(&*l.value))
                    })
                    .take(1)
                    .collect();
                let mut lines = Vec::new();
                if let Some(t) = &spec.thresholds {
                    let lv = t.levels_for(&a.labels);
                    for (name, v, color) in [
                        ("warning", lv.warning, "#b7791f"),
                        ("critical", lv.critical, "#b3261e"),
                        ("clear", lv.clear, "#1e6b34"),
                    ] {
                        if let Some(value) = v {
                            lines.push(Line { name, value, color });
                        }
                    }
                }
                if mine.is_empty() {
                    page.chart_error =
                        "the expression has no value for this series in the buffer's window".into();
                } else {
                    page.chart = chart::chart_json(&mine, std::slice::from_ref(&spec.name), &lines);
                }
            }
            Err(e) => page.chart_error = e.to_string(),
        }
        // The timeline from history.
        let matchers: Vec<crate::model::Matcher> = a
            .labels
            .iter()
            .map(|l| crate::model::Matcher::equal(&*l.name, &*l.value))
            .collect();
        let history = s.app.rules.history(&HistoryQuery {
            alertname: None,
            matcher_sets: vec![matchers],
            start_ms: Some(start),
            end_ms: None,
            limit: Some(500),
        });
        let unit = Unit::guess(&spec.expr_text);
        let history: Vec<_> = history
            .into_iter()
            .filter(|t| t.fingerprint == fp)
            .collect();
        page.steps = history
            .iter()
            .rev()
            .map(|t| Step {
                at: format::time_ms(t.at),
                to: format!("{:?}", t.to).to_lowercase(),
                state: t.state.as_str().to_owned(),
                severity: t
                    .severity
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                value: unit.format(t.value),
            })
            .collect();
        let raw: Vec<(i64, &str, &str)> = history
            .iter()
            .map(|t| {
                (
                    t.at,
                    t.state.as_str(),
                    t.severity.map(|s| s.as_str()).unwrap_or(""),
                )
            })
            .collect();
        page.segments = segments(&raw, start, now_ms);
    }
    // Routing, silences, inhibitions.
    let routing = s
        .notifier
        .with_current(|n| {
            let routes: Vec<RouteView> = n
                .route()
                .match_labels(&labels)
                .into_iter()
                .map(|r| RouteView {
                    receiver: r.receiver.clone(),
                    key: r.key.clone(),
                    group: r.group_labels(&labels).to_string(),
                })
                .collect();
            (routes, n.alert_state(&labels, now))
        })
        .await;
    if let Some((routes, st)) = routing {
        page.routes = routes;
        page.silences = st.silenced_by;
        page.inhibitors = st
            .inhibited_by
            .iter()
            .map(|f| format!("{f:016x}"))
            .collect();
    }
    page.deliveries = s
        .notifier
        .dead_letters()
        .journal()
        .for_alert(fp)
        .into_iter()
        .rev()
        .map(|d| Delivery {
            at: format::time(d.at),
            receiver: d.receiver.to_string(),
            integration: d.integration.to_string(),
            attempt: d.attempt,
            status: d.status.as_str().to_owned(),
            outcome: d.outcome.as_str().to_owned(),
            class: match d.outcome {
                Outcome::Sent => "ok",
                Outcome::Retrying => "warning",
                Outcome::GivenUp => "err",
            },
            error: d.error,
        })
        .collect();
    page.attempts = s
        .notifier
        .dead_letters()
        .list()
        .into_iter()
        .filter(|d| d.notification.alerts.iter().any(|a| a.fingerprint == fp))
        .map(|d| Attempt {
            receiver: d.receiver,
            integration: d.integration,
            attempts: d.attempts,
            outcome: match d.fallback {
                Some(f) => format!("dead-lettered ({}), handed to {f}", d.reason),
                None => format!("dead-lettered ({})", d.reason),
            },
            error: d.error,
            at: format::time(d.failed_at),
        })
        .collect();
    html(StatusCode::OK, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::threshold::Override;
    use crate::rules::{Direction, Levels};

    #[test]
    fn applied_levels_name_their_override() {
        let t = Thresholds {
            direction: Direction::Above,
            levels: Levels {
                warning: Some(0.5),
                critical: Some(1.0),
                clear: Some(0.4),
            },
            overrides: vec![Override {
                matchers: vec![crate::model::Matcher::equal("job", "batch")],
                matcher_texts: vec!["job=\"batch\"".into()],
                levels: Levels {
                    warning: Some(5.0),
                    critical: None,
                    clear: None,
                },
            }],
        };
        let batch = levels_view(&t, &Labels::from_pairs([("job", "batch")]), Unit::Seconds);
        assert_eq!(batch.source, "override job=\"batch\"");
        assert_eq!(batch.warning, "5s");
        assert_eq!(batch.critical, "");
        let api = levels_view(&t, &Labels::from_pairs([("job", "api")]), Unit::Seconds);
        assert_eq!(api.source, "rule");
        assert_eq!(api.clear, "400ms");
    }

    #[test]
    fn timeline_segments_cover_active_spans() {
        let s = segments(
            &[
                (100, "pending", ""),
                (200, "firing", "critical"),
                (300, "inactive", ""),
            ],
            0,
            1000,
        );
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].left.as_str(), s[0].width.as_str()),
            ("10.00", "10.00")
        );
        assert_eq!(s[1].class, "critical");
    }

    #[test]
    fn renders_the_why_page() {
        let page = DetailPage {
            nav: nav("/alerts"),
            fp: "00000000000000ff".into(),
            name: "HighLatency".into(),
            state: "firing".into(),
            severity: "critical".into(),
            value: "1.2s".into(),
            labels: vec![("job".into(), "api".into())],
            rule: "HighLatency".into(),
            group: "api".into(),
            expr: "latency_seconds > 0.5".into(),
            for_text: "1m".into(),
            keep_firing_for: "0s".into(),
            active_since: "x".into(),
            fired_at: "y".into(),
            levels: Some(LevelsView {
                direction: "above".into(),
                source: "rule".into(),
                warning: "500ms".into(),
                critical: "1s".into(),
                clear: String::new(),
            }),
            chart: "{\"x\":[]}".into(),
            chart_error: String::new(),
            window: "1h 0m".into(),
            steps: vec![],
            segments: vec![],
            annotations: vec![
                (
                    "runbook_url".into(),
                    "https://runbooks.example/lat".into(),
                    true,
                ),
                ("summary".into(), "<b>slow</b>".into(), false),
            ],
            routes: vec![RouteView {
                receiver: "team".into(),
                key: "{}".into(),
                group: "{alertname=\"HighLatency\"}".into(),
            }],
            silences: vec!["s1".into()],
            inhibitors: vec![],
            deliveries: vec![Delivery {
                at: "t".into(),
                receiver: "team".into(),
                integration: "webhook".into(),
                attempt: 2,
                status: "firing".into(),
                outcome: "retrying".into(),
                class: "warning",
                error: "500 Internal Server Error".into(),
            }],
            attempts: vec![Attempt {
                receiver: "team".into(),
                integration: "webhook".into(),
                attempts: 3,
                outcome: "dead-lettered (http_5xx)".into(),
                error: "500".into(),
                at: "z".into(),
            }],
            silence_href: "/silences/new?alert=ff".into(),
        };
        let html = page.render().unwrap();
        assert!(html.contains("<a href=\"https://runbooks.example/lat\""));
        assert!(html.contains("&lt;b&gt;slow") || html.contains("&#60;b&#62;slow"));
        assert!(
            html.contains("latency_seconds &gt; 0.5") || html.contains("latency_seconds &#62; 0.5")
        );
        assert!(html.contains("dead-lettered (http_5xx)"));
        assert!(html.contains("<span class=\"badge warning\">retrying</span>"));
        assert!(html.contains("href=\"/silences#s1\""));
        assert!(html.contains("data-chart="));
    }
}
