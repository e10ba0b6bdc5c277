//! Chart data for the pages: series aligned on one time axis as uPlot draws them (the JSON is
//! embedded in the page, `watchfire.js` draws it), and small server-side SVG sparklines that
//! need no script. Queries run on the API's query executor with its timeout.

use crate::api::AppState;
use crate::model::Labels;
use crate::promql::{self, RangeSeries, Value};
use std::collections::BTreeSet;

/// Most series drawn in one chart.
pub const MAX_CHART_SERIES: usize = 20;

/// Most points along a chart's time axis.
pub const MAX_POINTS: i64 = 480;

/// A horizontal line across a chart (a threshold level).
#[derive(Debug, Clone)]
pub struct Line {
    /// Its name (`warning`, `critical`, `clear`).
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// Its colour.
    pub color: &'static str,
}

/// Why a query for a page failed.
#[derive(Debug, Clone)]
pub enum QueryFailure {
    /// The expression does not parse; the byte offset when known.
    Parse {
        /// The parser's message.
        message: String,
        /// Where in the expression.
        position: Option<usize>,
    },
    /// Evaluation failed (timeout, limits, bad data).
    Eval(String),
}

impl std::fmt::Display for QueryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryFailure::Parse { message, .. } => write!(f, "parse error: {message}"),
            QueryFailure::Eval(m) => f.write_str(m),
        }
    }
}

/// A step giving at most [`MAX_POINTS`] points over `[start, end]`, at least `min_step`.
pub fn step_for(start: i64, end: i64, min_step: i64) -> i64 {
    ((end - start) / MAX_POINTS).max(min_step).max(1000)
}

/// Evaluates `expr` at each step of `[start, end]` on the query executor.
pub async fn range_query(
    app: &AppState,
    expr: String,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Vec<RangeSeries>, QueryFailure> {
    let value = run(app, expr, move |engine, store, e| {
        engine.range_query(store, e, start, end, step)
    })
    .await?;
    Ok(match value {
        Value::Matrix(m) => m,
        Value::Vector(v) => v
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                samples: vec![crate::model::Sample::new(s.t, s.v)],
            })
            .collect(),
        Value::Scalar { .. } | Value::String { .. } => Vec::new(),
    })
}

/// Evaluates `expr` at `t` on the query executor.
pub async fn instant_query(app: &AppState, expr: String, t: i64) -> Result<Value, QueryFailure> {
    run(app, expr, move |engine, store, e| {
        engine.instant_query(store, e, t)
    })
    .await
}

async fn run(
    app: &AppState,
    expr: String,
    eval: impl FnOnce(
            &promql::Engine,
            &crate::store::Store,
            &promql::Expr,
        ) -> Result<promql::QueryResult, promql::EvalError>
        + Send
        + 'static,
) -> Result<Value, QueryFailure> {
    let parsed = promql::parse(&expr).map_err(|e| QueryFailure::Parse {
        message: e.message.clone(),
        position: e.position,
    })?;
    let state = app.clone();
    let timeout = app.queries.timeout();
    app.queries
        .run(timeout, move |t| {
            let engine = state
                .engine
                .clone()
                .with_deadline(t.deadline)
                .with_cancel(t.cancel.clone());
            eval(&engine, &state.store, &parsed)
                .map(|r| r.value)
                .map_err(|e| {
                    crate::api::ApiError::new(crate::api::ErrorType::Execution, e.to_string())
                })
        })
        .await
        .map_err(|e| QueryFailure::Eval(e.message))
}

/// The JSON `watchfire.js` draws: `{"x":[s...],"ys":[[v|null...]...],"names":[...],"lines":[...]}`,
/// every series on the union of the time stamps, at most [`MAX_CHART_SERIES`]; safe inside a
/// `<script type="application/json">` element (`<` is escaped).
pub fn chart_json(series: &[RangeSeries], names: &[String], lines: &[Line]) -> String {
    let series = &series[..series.len().min(MAX_CHART_SERIES)];
    let times: BTreeSet<i64> = series
        .iter()
        .flat_map(|s| s.samples.iter().map(|p| p.t))
        .collect();
    let xs: Vec<i64> = times.into_iter().collect();
    let ys: Vec<Vec<Option<f64>>> = series
        .iter()
        .map(|s| {
            let mut out = vec![None; xs.len()];
            for p in &s.samples {
                if let Ok(i) = xs.binary_search(&p.t) {
                    out[i] = Some(p.v).filter(|v| v.is_finite());
                }
            }
            out
        })
        .collect();
    let value = serde_json::json!({
        "x": xs.iter().map(|t| *t as f64 / 1000.0).collect::<Vec<_>>(),
        "ys": ys,
        "names": names.iter().take(series.len()).collect::<Vec<_>>(),
        "lines": lines.iter().filter(|l| l.value.is_finite()).map(|l| serde_json::json!({
            "name": l.name, "value": l.value, "color": l.color,
        })).collect::<Vec<_>>(),
    });
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A series' name in a legend: its labels as PromQL writes them.
pub fn series_name(labels: &Labels) -> String {
    labels.to_string()
}

/// An SVG polyline's `points` (whole pixels) for the values drawn in a `w`×`h` box over
/// `[start, end]`, scaled to their range; NaN values are skipped, flat runs drawn by their ends.
pub fn sparkline_points(points: &[(i64, f64)], start: i64, end: i64, w: f64, h: f64) -> String {
    if points.is_empty() || end <= start {
        return String::new();
    }
    let (lo, hi) = points
        .iter()
        .filter(|p| p.1.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0), lo.max(1.0))
    };
    let xy: Vec<(i64, i64)> = points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|(t, v)| {
            let x = (t - start) as f64 / (end - start) as f64 * w;
            let y = h - (v - lo) / (hi - lo) * (h - 2.0) - 1.0;
            (x.round() as i64, y.round() as i64)
        })
        .collect();
    let mut xy = xy;
    if let [(x, y)] = xy[..] {
        // One point: a short dash, so it shows.
        xy.insert(0, ((x - 3).max(0), y));
    }
    let mut out = String::new();
    for (i, (x, y)) in xy.iter().enumerate() {
        // The middle of a flat run adds nothing to the line.
        let flat = i > 0 && i + 1 < xy.len() && xy[i - 1].1 == *y && xy[i + 1].1 == *y;
        if flat {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{x},{y}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    #[test]
    fn aligns_series_and_escapes_markup() {
        let a = RangeSeries {
            labels: Labels::from_pairs([("job", "</script><b>")]),
            samples: vec![Sample::new(1000, 1.0), Sample::new(3000, f64::NAN)],
        };
        let b = RangeSeries {
            labels: Labels::empty(),
            samples: vec![Sample::new(2000, 2.0)],
        };
        let j = chart_json(
            &[a.clone(), b],
            &[series_name(&a.labels), "b".into()],
            &[Line {
                name: "warning",
                value: 1.5,
                color: "#e0a63a",
            }],
        );
        assert!(!j.contains("</script>"), "{j}");
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["x"], serde_json::json!([1.0, 2.0, 3.0]));
        assert_eq!(v["ys"][0], serde_json::json!([1.0, null, null]));
        assert_eq!(v["ys"][1], serde_json::json!([null, 2.0, null]));
        assert_eq!(v["lines"][0]["value"], 1.5);
        assert_eq!(v["names"][0], "{job=\"</script><b>\"}");
    }

    #[test]
    fn sparkline_fits_its_box() {
        let p = sparkline_points(
            &[(0, 0.0), (50, 1.0), (75, 1.0), (100, 1.0)],
            0,
            100,
            100.0,
            20.0,
        );
        assert_eq!(p, "0,19 50,1 100,1");
        assert_eq!(
            sparkline_points(&[(100, 1.0)], 0, 100, 100.0, 20.0),
            "97,1 100,1"
        );
        assert_eq!(step_for(0, 3_600_000, 15_000), 15_000);
        assert_eq!(step_for(0, 48 * 3_600_000, 15_000), 360_000);
    }
}
