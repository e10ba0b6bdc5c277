//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values` and `/api/v1/metadata`.
//! Each walk runs on the query executor (`exec.rs`) under the query timeout, and stops when
//! the client goes away.

use super::exec::QueryTicket;
use super::extract::Form;
use super::params::{Params, MAX_TIME_MS, MIN_TIME_MS};
use super::response::{ApiError, ApiOk, ApiResult};
use super::value_json::labels_json;
use super::AppState;
use crate::model::Matcher;
use crate::store::SeriesRef;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use promql_parser::parser::Expr;
use serde_json::json;
use std::collections::BTreeMap;

/// The matcher sets of one `match[]` selector (several when it uses `or`).
pub(super) fn selector_matchers(text: &str) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let bad = |msg: String| ApiError::bad_data(format!("invalid parameter \"match[]\": {msg}"));
    let expr = crate::promql::parse(text).map_err(|e| bad(e.to_string()))?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(bad(format!("expected vector selector, got {text:?}")));
    };
    crate::promql::matchers::selector_matchers(&vs).map_err(|e| bad(e.to_string()))
}

/// Series matching any `match[]` selector (all series when none is given and
/// `required` is false) with a sample in `[start, end]`.
fn matching_series(
    s: &AppState,
    p: &Params,
    required: bool,
    t: &QueryTicket,
) -> Result<Vec<SeriesRef>, ApiError> {
    let selectors = p.all("match[]");
    if selectors.is_empty() && required {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time_ms("start", MIN_TIME_MS)?;
    let end = p.time_ms("end", MAX_TIME_MS)?;
    let mut sets = Vec::new();
    for sel in &selectors {
        sets.extend(selector_matchers(sel)?);
    }
    if sets.is_empty() {
        sets.push(Vec::new());
    }
    let mut found: BTreeMap<u64, SeriesRef> = BTreeMap::new();
    let mut buf = Vec::new();
    for set in &sets {
        t.check("series selection")?;
        for (i, series) in s.store.select(set).into_iter().enumerate() {
            if i % 256 == 255 {
                t.check("series selection")?;
            }
            buf.clear();
            series.samples_in(start, end, &mut buf);
            if !buf.is_empty() {
                found.insert(series.id(), series);
            }
        }
    }
    let mut out: Vec<SeriesRef> = found.into_values().collect();
    out.sort_by(|a, b| a.labels().cmp(b.labels()));
    Ok(out)
}

/// Applies Prometheus' optional `limit` parameter, with a warning when it cut.
fn limited<T>(mut items: Vec<T>, p: &Params) -> Result<(Vec<T>, Vec<String>), ApiError> {
    let Some(l) = p.get("limit").filter(|v| !v.is_empty()) else {
        return Ok((items, Vec::new()));
    };
    let limit: usize = l.parse().map_err(|_| {
        ApiError::bad_data(format!("invalid parameter \"limit\": cannot parse \"{l}\""))
    })?;
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        return Ok((items, vec!["results truncated due to limit".to_string()]));
    }
    Ok((items, Vec::new()))
}

/// Runs a walk on the query executor under the request's timeout.
async fn walk(
    s: AppState,
    p: Params,
    job: impl FnOnce(&AppState, &Params, &QueryTicket) -> ApiResult + Send + 'static,
) -> Result<Response, ApiError> {
    let configured = s.queries.timeout();
    let timeout = match p.duration_ms("timeout")? {
        Some(ms) => configured.min(std::time::Duration::from_millis(ms.max(0) as u64)),
        None => configured,
    };
    let ex = s.queries.clone();
    // The answer is serialized on the query thread too: a list of many series is large.
    ex.run(timeout, move |t| {
        job(&s, &p, t).map(IntoResponse::into_response)
    })
    .await
}

/// `GET|POST /api/v1/series`.
pub async fn series(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    walk(s, p, |s, p, t| {
        let found = matching_series(s, p, true, t)?;
        let (found, warnings) = limited(found, p)?;
        let data: Vec<_> = found.iter().map(|x| labels_json(x.labels())).collect();
        Ok(ApiOk::new(json!(data)).with_annotations(warnings, Vec::new()))
    })
    .await
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    walk(s, p, |s, p, t| {
        let mut names: Vec<String> = matching_series(s, p, false, t)?
            .iter()
            .flat_map(|x| {
                x.labels()
                    .iter()
                    .map(|l| l.name.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        let (names, warnings) = limited(names, p)?;
        Ok(ApiOk::new(json!(names)).with_annotations(warnings, Vec::new()))
    })
    .await
}

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Form(p): Form,
) -> Result<Response, ApiError> {
    walk(s, p, move |s, p, t| {
        let mut values: Vec<String> = matching_series(s, p, false, t)?
            .iter()
            .filter_map(|x| x.labels().get(&name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        let (values, warnings) = limited(values, p)?;
        Ok(ApiOk::new(json!(values)).with_annotations(warnings, Vec::new()))
    })
    .await
}

/// `GET /api/v1/metadata`: metric types and help as scraped.
pub async fn metadata(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    walk(s, p, |s, p, t| {
        let metric = p.get("metric").filter(|m| !m.is_empty());
        let mut out = serde_json::Map::new();
        for (i, (name, entries)) in s.scrape.metadata().into_iter().enumerate() {
            if i % 256 == 255 {
                t.check("metadata listing")?;
            }
            if metric.is_some_and(|m| m != name) {
                continue;
            }
            let list: Vec<_> = entries
                .iter()
                .map(|e| json!({"type": e.kind, "help": e.help, "unit": e.unit}))
                .collect();
            out.insert(name, json!(list));
        }
        Ok(ApiOk::new(serde_json::Value::Object(out)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_matcher_sets() {
        let sets = selector_matchers(r#"up{job=~"a|b"}"#).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].len(), 2);
        assert!(sets[0][1].matches("a"));
        assert!(selector_matchers("rate(up[5m])").is_err());
        assert!(selector_matchers("up{").is_err());
    }
}
