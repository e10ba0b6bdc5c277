//! `/rules`: rule groups and their rules with health, last error, last evaluation and its
//! duration; for threshold rules the levels, the overrides, and the levels in force for each
//! active alert's label set. `/rules/preview` runs an edited expression and thresholds
//! (`expr`, `direction`, `warning`, `critical`, `clear`, `for`; prefilled from `group` and
//! `rule`) over the buffer's window at the group's interval and shows which series would have
//! been pending, warning or critical, and when, on a timeline.
//!
//! The preview replays Prometheus' `for` and our threshold classification (hysteresis with
//! `clear` included) step by step over the range query's points; it does not replay
//! `keep_firing_for`, the `no_data` policy or the alert `limit`, and it only sees what the
//! buffer still holds.

use super::alert_detail::{levels_view, segments, LevelsView, Segment};
use super::chart::{self, QueryFailure};
use super::format::{self, Unit};
use super::{html, nav, param, query_pairs, window_ms, NavItem, UiState};
use crate::model::Labels;
use crate::promql::RangeSeries;
use crate::rules::{Direction, Levels, RuleKind, Thresholds};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

/// Most label sets listed per rule in the levels table.
const MAX_LEVEL_ROWS: usize = 50;

/// An override row.
#[derive(Debug, Clone)]
pub struct OverrideRow {
    /// Its matchers as written.
    pub matchers: String,
    /// Warning.
    pub warning: String,
    /// Critical.
    pub critical: String,
    /// Clear.
    pub clear: String,
}

/// A rule row.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// `alert` or `record`.
    pub kind: &'static str,
    /// Name.
    pub name: String,
    /// `ok`, `err`, `unknown`.
    pub health: &'static str,
    /// Last error.
    pub error: String,
    /// Last evaluation, "5s ago".
    pub last_eval: String,
    /// Its duration.
    pub duration: String,
    /// Expression.
    pub expr: String,
    /// `for`.
    pub for_text: String,
    /// Firing alerts.
    pub firing: usize,
    /// Pending alerts.
    pub pending: usize,
    /// Rule levels (threshold rules).
    pub levels: Option<LevelsView>,
    /// Overrides.
    pub overrides: Vec<OverrideRow>,
    /// (label set, levels in force) for active alerts.
    pub per_series: Vec<(String, LevelsView)>,
    /// `/rules/preview?...` for this rule.
    pub preview_href: String,
}

/// A group.
#[derive(Debug, Clone)]
pub struct GroupRow {
    /// Name.
    pub name: String,
    /// File.
    pub file: String,
    /// Interval.
    pub interval: String,
    /// Last evaluation.
    pub last_eval: String,
    /// Its duration.
    pub duration: String,
    /// Rules.
    pub rules: Vec<RuleRow>,
}

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    nav: Vec<NavItem>,
    groups: Vec<GroupRow>,
}

/// One series of the preview.
#[derive(Debug, Clone)]
pub struct PreviewSeries {
    /// Its labels.
    pub labels: String,
    /// The worst state reached: `pending`, `firing`, `warning`, `critical`.
    pub worst: String,
    /// Its rank (critical highest), for sorting.
    pub rank: u8,
    /// Spans as text ("critical 20:01:00 – 20:05:00").
    pub spans: Vec<String>,
    /// The spans on the timeline.
    pub segments: Vec<Segment>,
}

#[derive(Template)]
#[template(path = "rule_preview.html")]
struct PreviewPage {
    nav: Vec<NavItem>,
    group: String,
    rule: String,
    expr: String,
    direction: String,
    warning: String,
    critical: String,
    clear: String,
    for_text: String,
    overrides_kept: usize,
    error: String,
    caret: String,
    ran: bool,
    from: String,
    until: String,
    window: String,
    step: String,
    series: Vec<PreviewSeries>,
    quiet: usize,
}

fn urlenc(s: &str) -> String {
    super::urlenc(s)
}

/// `GET /rules`.
pub async fn page(State(s): State<UiState>) -> Response {
    let now = super::now_ms();
    let mut groups = Vec::new();
    for g in s.app.rules.groups() {
        let row = g.with_state(|st| GroupRow {
            name: g.name().to_owned(),
            file: g.file().to_owned(),
            interval: format::prom_duration_ms(g.interval_ms()),
            last_eval: st
                .last_eval_ms
                .map(|t| format!("{} ago", format::ago(t, now)))
                .unwrap_or_else(|| "never".into()),
            duration: format::seconds(st.eval_duration),
            rules: st
                .rules
                .iter()
                .map(|r| {
                    let spec = &r.spec;
                    let unit = Unit::guess(&spec.expr_text);
                    let f = |v: Option<f64>| v.map(|v| unit.format(v)).unwrap_or_default();
                    let active: Vec<_> = r
                        .alerts
                        .iter()
                        .filter(|a| a.state != crate::rules::AlertState::Inactive)
                        .collect();
                    let firing = active
                        .iter()
                        .filter(|a| a.state == crate::rules::AlertState::Firing)
                        .count();
                    let (levels, overrides, per_series) = match &spec.thresholds {
                        None => (None, Vec::new(), Vec::new()),
                        Some(t) => {
                            let mut per: Vec<(String, LevelsView)> = active
                                .iter()
                                .take(MAX_LEVEL_ROWS)
                                .map(|a| (a.labels.to_string(), levels_view(t, &a.labels, unit)))
                                .collect();
                            per.sort_by(|a, b| a.0.cmp(&b.0));
                            (
                                Some(levels_view(t, &Labels::empty(), unit)).map(|mut l| {
                                    l.source = "rule".into();
                                    l.warning = f(t.levels.warning);
                                    l.critical = f(t.levels.critical);
                                    l.clear = f(t.levels.clear);
                                    l
                                }),
                                t.overrides
                                    .iter()
                                    .map(|o| OverrideRow {
                                        matchers: o.matcher_texts.join(", "),
                                        warning: f(o.levels.warning),
                                        critical: f(o.levels.critical),
                                        clear: f(o.levels.clear),
                                    })
                                    .collect(),
                                per,
                            )
                        }
                    };
                    RuleRow {
                        kind: match spec.kind {
                            RuleKind::Alerting => "alert",
                            RuleKind::Recording => "record",
                        },
                        name: spec.name.clone(),
                        health: r.health.as_str(),
                        error: r.last_error.clone().unwrap_or_default(),
                        last_eval: r
                            .last_eval_ms
                            .map(|t| format!("{} ago", format::ago(t, now)))
                            .unwrap_or_else(|| "never".into()),
                        duration: format::seconds(r.eval_duration),
                        expr: spec.expr_text.clone(),
                        for_text: format::prom_duration_ms(spec.for_ms),
                        pending: active.len() - firing,
                        firing,
                        levels,
                        overrides,
                        per_series,
                        preview_href: format!(
                            "/rules/preview?group={}&rule={}",
                            urlenc(g.name()),
                            urlenc(&spec.name)
                        ),
                    }
                })
                .collect(),
        });
        groups.push(row);
    }
    html(
        StatusCode::OK,
        RulesPage {
            nav: nav("/rules"),
            groups,
        }
        .render(),
    )
}

/// The state of one step of the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Not alerting (or no value).
    Inactive,
    /// Alerting for less than `for`.
    Pending,
    /// Firing without a severity (plain alerting rules).
    Firing,
    /// Firing at warning.
    Warning,
    /// Firing at critical.
    Critical,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Inactive => "inactive",
            Step::Pending => "pending",
            Step::Firing => "firing",
            Step::Warning => "warning",
            Step::Critical => "critical",
        }
    }
}

/// Replays `for` and the thresholds over a series' points (at the range query's steps): the
/// state at each point. A missing step (no value) makes the series inactive.
pub fn replay(
    series: &RangeSeries,
    thresholds: Option<&Thresholds>,
    for_ms: i64,
    step_ms: i64,
) -> Vec<(i64, Step)> {
    let levels = thresholds.map(|t| *t.levels_for(&series.labels));
    let mut out = Vec::with_capacity(series.samples.len());
    let mut since: Option<i64> = None;
    let mut last_t: Option<i64> = None;
    for p in &series.samples {
        if let (Some(prev), Some(_)) = (last_t, since) {
            if p.t - prev > step_ms {
                // A gap: the series had no value in between.
                out.push((prev + step_ms, Step::Inactive));
                since = None;
            }
        }
        last_t = Some(p.t);
        let crossing = match (thresholds, &levels) {
            (Some(t), Some(l)) => t
                .classify(l, p.v, since.is_some())
                .map(|c| Some(c.severity)),
            _ => Some(None),
        };
        let state = match crossing {
            None => {
                since = None;
                Step::Inactive
            }
            Some(severity) => {
                let start = *since.get_or_insert(p.t);
                if p.t - start < for_ms {
                    Step::Pending
                } else {
                    match severity {
                        Some(crate::rules::Severity::Critical) => Step::Critical,
                        Some(crate::rules::Severity::Warning) => Step::Warning,
                        None => Step::Firing,
                    }
                }
            }
        };
        out.push((p.t, state));
    }
    out
}

/// The preview's rows: series that were ever pending or firing, worst first; and how many never
/// were.
pub fn preview_rows(
    series: &[RangeSeries],
    thresholds: Option<&Thresholds>,
    for_ms: i64,
    step_ms: i64,
    window: (i64, i64),
) -> (Vec<PreviewSeries>, usize) {
    let mut rows = Vec::new();
    let mut quiet = 0;
    for sr in series {
        let steps = replay(sr, thresholds, for_ms, step_ms);
        let worst = steps
            .iter()
            .map(|s| s.1)
            .max_by_key(|s| *s as u8)
            .unwrap_or(Step::Inactive);
        if worst == Step::Inactive {
            quiet += 1;
            continue;
        }
        // Runs of one state.
        let mut runs: Vec<(i64, i64, Step)> = Vec::new();
        for (t, st) in &steps {
            match runs.last_mut() {
                Some(last) if last.2 == *st => last.1 = *t,
                _ => runs.push((*t, *t, *st)),
            }
        }
        // A run lasts until the next one starts.
        for i in 0..runs.len() {
            let next = runs.get(i + 1).map(|r| r.0);
            runs[i].1 = next.unwrap_or(runs[i].1 + step_ms);
        }
        let spans = runs
            .iter()
            .filter(|r| r.2 != Step::Inactive)
            .map(|r| {
                format!(
                    "{} {} – {}",
                    r.2.as_str(),
                    format::time_ms(r.0),
                    format::time_ms(r.1)
                )
            })
            .collect();
        let raw: Vec<(i64, &str, &str)> = runs
            .iter()
            .map(|r| match r.2 {
                Step::Inactive => (r.0, "inactive", ""),
                Step::Pending => (r.0, "pending", ""),
                Step::Firing => (r.0, "firing", ""),
                Step::Warning => (r.0, "firing", "warning"),
                Step::Critical => (r.0, "firing", "critical"),
            })
            .chain(runs.last().map(|r| (r.1, "inactive", "")))
            .collect();
        rows.push(PreviewSeries {
            labels: sr.labels.to_string(),
            worst: worst.as_str().to_owned(),
            rank: worst as u8,
            spans,
            segments: segments(&raw, window.0, window.1),
        });
    }
    rows.sort_by(|a, b| b.rank.cmp(&a.rank).then(a.labels.cmp(&b.labels)));
    (rows, quiet)
}

fn level(pairs: &[(String, String)], key: &str) -> Result<Option<f64>, String> {
    match param(pairs, key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("{key}: {v:?} is not a number")),
    }
}

/// `GET /rules/preview?group=&rule=&expr=&direction=&warning=&critical=&clear=&for=`.
pub async fn preview(State(s): State<UiState>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let group_name = param(&pairs, "group").unwrap_or("").to_owned();
    let rule_name = param(&pairs, "rule").unwrap_or("").to_owned();
    let mut spec = None;
    let mut interval = 15_000;
    for g in s.app.rules.groups() {
        if g.name() != group_name {
            continue;
        }
        interval = g.interval_ms();
        g.with_state(|st| {
            spec = st
                .rules
                .iter()
                .find(|r| r.spec.name == rule_name)
                .map(|r| Arc::clone(&r.spec));
        });
    }
    let given = param(&pairs, "expr").is_some();
    let text = |key: &str| param(&pairs, key).unwrap_or("").to_owned();
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let (expr, direction, warning, critical, clear, for_text) = match (&spec, given) {
        (Some(r), false) => {
            let t = r.thresholds.as_deref();
            (
                r.expr_text.clone(),
                t.map_or("above", |t| t.direction.as_str()).to_owned(),
                num(t.and_then(|t| t.levels.warning)),
                num(t.and_then(|t| t.levels.critical)),
                num(t.and_then(|t| t.levels.clear)),
                format::prom_duration_ms(r.for_ms),
            )
        }
        _ => (
            text("expr"),
            param(&pairs, "direction").unwrap_or("above").to_owned(),
            text("warning"),
            text("critical"),
            text("clear"),
            param(&pairs, "for").unwrap_or("0s").to_owned(),
        ),
    };
    let overrides = spec
        .as_ref()
        .and_then(|r| r.thresholds.as_ref())
        .map(|t| t.overrides.clone())
        .unwrap_or_default();
    let window = window_ms(&s.app);
    let now = super::now_ms();
    let start = now - window;
    let step = chart::step_for(start, now, interval);
    let mut page = PreviewPage {
        nav: nav("/rules"),
        group: group_name,
        rule: rule_name,
        expr: expr.clone(),
        direction: direction.clone(),
        warning,
        critical,
        clear,
        for_text: for_text.clone(),
        overrides_kept: overrides.len(),
        error: String::new(),
        caret: String::new(),
        ran: false,
        from: format::time_ms(start),
        until: format::time_ms(now),
        window: format::span_ms(window),
        step: format::prom_duration_ms(step),
        series: Vec::new(),
        quiet: 0,
    };
    if expr.trim().is_empty() {
        return html(StatusCode::OK, page.render());
    }
    let form = [
        ("warning".to_owned(), page.warning.clone()),
        ("critical".to_owned(), page.critical.clone()),
        ("clear".to_owned(), page.clear.clone()),
    ];
    let parsed = (|| -> Result<(Option<Thresholds>, i64), String> {
        let for_ms =
            crate::rules::parse_duration(for_text.trim()).map_err(|e| format!("for: {e}"))?;
        let levels = Levels {
            warning: level(&form, "warning")?,
            critical: level(&form, "critical")?,
            clear: level(&form, "clear")?,
        };
        let direction = match direction.as_str() {
            "above" => Direction::Above,
            "below" => Direction::Below,
            d => return Err(format!("direction: {d:?} is neither above nor below")),
        };
        if levels.warning.is_none() && levels.critical.is_none() {
            if levels.clear.is_some() {
                return Err("clear: needs a warning or critical level".into());
            }
            return Ok((None, for_ms));
        }
        Ok((
            Some(Thresholds {
                direction,
                levels,
                overrides,
            }),
            for_ms,
        ))
    })();
    let (thresholds, for_ms) = match parsed {
        Ok(p) => p,
        Err(e) => {
            page.error = e;
            return html(StatusCode::BAD_REQUEST, page.render());
        }
    };
    match chart::range_query(&s.app, expr.clone(), start, now, step).await {
        Ok(series) => {
            page.ran = true;
            let series: Vec<RangeSeries> = series
                .into_iter()
                .map(|mut s| {
                    s.labels = s.labels.without_metric_name();
                    s
                })
                .collect();
            let (rows, quiet) =
                preview_rows(&series, thresholds.as_ref(), for_ms, step, (start, now));
            page.series = rows;
            page.quiet = quiet;
            html(StatusCode::OK, page.render())
        }
        Err(e) => {
            if let QueryFailure::Parse {
                position: Some(p), ..
            } = &e
            {
                page.caret = super::query::caret(&expr, *p);
            }
            page.error = e.to_string();
            html(StatusCode::BAD_REQUEST, page.render())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    fn series(values: &[f64]) -> RangeSeries {
        RangeSeries {
            labels: Labels::from_pairs([("instance", "a")]),
            samples: values
                .iter()
                .enumerate()
                .map(|(i, v)| Sample::new(i as i64 * 1000, *v))
                .collect(),
        }
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            direction: Direction::Above,
            levels: Levels {
                warning: Some(1.0),
                critical: Some(2.0),
                clear: Some(0.5),
            },
            overrides: Vec::new(),
        }
    }

    #[test]
    fn replay_applies_for_levels_and_hysteresis() {
        let s = series(&[0.0, 1.5, 1.5, 2.5, 0.8, 0.2]);
        let steps: Vec<Step> = replay(&s, Some(&thresholds()), 1000, 1000)
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(
            steps,
            [
                Step::Inactive,
                Step::Pending,
                Step::Warning,
                Step::Critical,
                // 0.8 is below warning but above clear: stays at the lowest level.
                Step::Warning,
                Step::Inactive,
            ]
        );
    }

    #[test]
    fn plain_rules_fire_while_they_have_values_and_gaps_reset() {
        let mut s = series(&[1.0, 1.0, 1.0]);
        s.samples.push(Sample::new(10_000, 1.0));
        let steps: Vec<Step> = replay(&s, None, 2000, 1000)
            .into_iter()
            .map(|s| s.1)
            .collect();
        assert_eq!(
            steps,
            [
                Step::Pending,
                Step::Pending,
                Step::Firing,
                Step::Inactive,
                Step::Pending
            ]
        );
    }

    #[test]
    fn preview_lists_only_series_that_cross() {
        let hot = series(&[3.0, 3.0, 3.0]);
        let mut cold = series(&[0.1, 0.1, 0.1]);
        cold.labels = Labels::from_pairs([("instance", "b")]);
        let (rows, quiet) = preview_rows(&[hot, cold], Some(&thresholds()), 0, 1000, (0, 3000));
        assert_eq!(quiet, 1);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].worst, "critical");
        assert!(rows[0].spans[0].starts_with("critical 1970-01-01 00:00:00 UTC"));
        assert!(!rows[0].segments.is_empty());
        let page = PreviewPage {
            nav: nav("/rules"),
            group: "g".into(),
            rule: "r".into(),
            expr: "x > 1".into(),
            direction: "above".into(),
            warning: "1".into(),
            critical: "2".into(),
            clear: "0.5".into(),
            for_text: "0s".into(),
            overrides_kept: 0,
            error: String::new(),
            caret: String::new(),
            ran: true,
            from: "a".into(),
            until: "b".into(),
            window: "1h 0m".into(),
            step: "15s".into(),
            series: rows,
            quiet,
        };
        let html = page.render().unwrap();
        assert!(html.contains("buffer's window"));
        assert!(
            html.contains("{instance=&quot;a&quot;}") || html.contains("{instance=&#34;a&#34;}")
        );
        assert!(html.contains("1 series never crossed"));
    }
}
