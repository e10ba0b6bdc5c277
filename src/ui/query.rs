//! `/query?expr=…`: a PromQL box (metric and label names completed from the API by
//! `watchfire.js` through a `<datalist>`), the instant result as a table and a chart of the
//! expression over the buffer's window; values also humanized in the unit the metric name
//! gives (`_seconds`, `_bytes`, `_ratio`). A parse error shows where in the expression it is.

use super::chart::{self, QueryFailure};
use super::format;
use super::{html, nav, param, query_pairs, window_ms, NavItem, UiState};
use crate::promql::Value;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

/// Most rows of the table.
const MAX_ROWS: usize = 1000;

/// One row of the instant result.
#[derive(Debug, Clone)]
pub struct Row {
    /// The series' labels.
    pub labels: String,
    /// The value, as Prometheus prints it.
    pub value: String,
    /// The value humanized.
    pub human: String,
}

#[derive(Template)]
#[template(path = "query.html")]
struct QueryPage {
    nav: Vec<NavItem>,
    expr: String,
    error: String,
    caret: String,
    rows: Vec<Row>,
    more: usize,
    chart: String,
    window: String,
    ran: bool,
}

/// The line under an expression pointing at byte `position` (`    ^`).
pub fn caret(expr: &str, position: usize) -> String {
    let mut at = position.min(expr.len());
    while !expr.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = expr[..at].rfind('\n').map_or(0, |i| i + 1);
    format!("{}^", " ".repeat(expr[line_start..at].chars().count()))
}

/// Rows of an instant value, humanized in `unit`.
pub fn rows(value: &Value, unit: format::Unit) -> Vec<Row> {
    let row = |labels: String, v: f64| Row {
        labels,
        value: crate::gostd::float::format_v(v),
        human: unit.format(v),
    };
    match value {
        Value::Vector(v) => v.iter().map(|s| row(s.labels.to_string(), s.v)).collect(),
        Value::Scalar { v, .. } => vec![row("scalar".into(), *v)],
        Value::String { v, .. } => vec![Row {
            labels: "string".into(),
            value: v.clone(),
            human: String::new(),
        }],
        Value::Matrix(m) => m
            .iter()
            .map(|s| {
                let last = s.samples.last().map_or(f64::NAN, |p| p.v);
                row(format!("{} ({} samples)", s.labels, s.samples.len()), last)
            })
            .collect(),
    }
}

/// `GET /query[?expr=…]`.
pub async fn page(State(s): State<UiState>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let expr = param(&pairs, "expr").unwrap_or("").to_owned();
    let window = window_ms(&s.app);
    let mut page = QueryPage {
        nav: nav("/query"),
        expr: expr.clone(),
        error: String::new(),
        caret: String::new(),
        rows: Vec::new(),
        more: 0,
        chart: String::new(),
        window: format::span_ms(window),
        ran: false,
    };
    if expr.trim().is_empty() {
        return html(StatusCode::OK, page.render());
    }
    page.ran = true;
    let now = super::now_ms();
    match chart::instant_query(&s.app, expr.clone(), now).await {
        Ok(v) => {
            let mut all = rows(&v, format::Unit::guess(&expr));
            all.sort_by(|a, b| a.labels.cmp(&b.labels));
            page.more = all.len().saturating_sub(MAX_ROWS);
            all.truncate(MAX_ROWS);
            page.rows = all;
            if matches!(v, Value::Vector(_) | Value::Scalar { .. }) {
                let start = now - window;
                let step = chart::step_for(start, now, 15_000);
                match chart::range_query(&s.app, expr, start, now, step).await {
                    Ok(series) => {
                        let names: Vec<String> = series
                            .iter()
                            .map(|s| chart::series_name(&s.labels))
                            .collect();
                        page.chart = chart::chart_json(&series, &names, &[]);
                    }
                    Err(e) => page.error = format!("chart: {e}"),
                }
            }
        }
        Err(QueryFailure::Parse { message, position }) => {
            page.error = format!("parse error: {message}");
            page.caret = position.map(|p| caret(&expr, p)).unwrap_or_default();
        }
        Err(e) => page.error = e.to_string(),
    }
    let status = if page.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    html(status, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::promql::InstantSample;

    #[test]
    fn caret_points_at_the_error() {
        assert_eq!(caret("sum(rate(x[5m])", 15), "               ^");
        assert_eq!(caret("a\nbé c", 6), "   ^");
        assert_eq!(caret("x", 99), " ^");
    }

    #[test]
    fn renders_rows_chart_and_error() {
        let v = Value::Vector(vec![InstantSample {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "node")]),
            t: 0,
            v: 1.0,
        }]);
        let mut page = QueryPage {
            nav: nav("/query"),
            expr: "up{job=\"<x>\"}".into(),
            error: String::new(),
            caret: String::new(),
            rows: rows(&v, format::Unit::Seconds),
            more: 0,
            chart: "{\"x\":[1]}".into(),
            window: "1h 0m".into(),
            ran: true,
        };
        let html = page.render().unwrap();
        assert!(
            html.contains("up{job=&quot;node&quot;}") || html.contains("up{job=&#34;node&#34;}"),
            "{html}"
        );
        assert!(html.contains("list=\"metric-names\""));
        assert!(html.contains("data-chart=\"chart-query\""));
        assert!(html.contains(">1s<"), "humanized in the unit");
        assert!(!html.contains("<x>"));
        page.error = "parse error: 1:3: unexpected".into();
        page.caret = "  ^".into();
        let html = page.render().unwrap();
        assert!(html.contains("class=\"errpos\""));
        assert!(html.contains("\n  ^</pre>"));
        assert!(!html.contains("<x>"));
    }
}
