//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`.

use super::extract::Form;
use super::response::{ApiError, ApiOk, ApiResult, ErrorType};
use super::value_json::value_json;
use super::AppState;
use crate::promql::{self, EvalError, QueryResult};
use axum::extract::State;
use serde_json::json;

/// Most points a range query may return per series, as Prometheus.
const MAX_POINTS: i64 = 11_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn eval_error(e: EvalError) -> ApiError {
    let kind = match e {
        EvalError::BadData(_) => ErrorType::BadData,
        EvalError::Execution(_) | EvalError::TooManySamples(_) => ErrorType::Execution,
        EvalError::Timeout(_) => ErrorType::Timeout,
    };
    ApiError::new(kind, e.to_string())
}

fn parse_query(text: &str) -> Result<promql_parser::parser::Expr, ApiError> {
    promql::parse(text).map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
}

/// Engine limits for this request: a `timeout` parameter can only shorten the configured one.
fn engine_for(s: &AppState, p: &super::params::Params) -> Result<promql::Engine, ApiError> {
    let mut opts = s.engine.options().clone();
    if let Some(ms) = p.duration_ms("timeout")? {
        let asked = std::time::Duration::from_millis(ms.max(0) as u64);
        opts.timeout = opts.timeout.min(asked);
    }
    Ok(promql::Engine::new(opts))
}

/// Runs an evaluation on the blocking pool so a long query never stalls the server.
async fn run(
    f: impl FnOnce() -> Result<QueryResult, EvalError> + Send + 'static,
) -> Result<QueryResult, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ErrorType::Internal, format!("query task failed: {e}")))?
        .map_err(eval_error)
}

/// `GET|POST /api/v1/query`.
pub async fn instant(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let expr = parse_query(p.require("query")?)?;
    let t = p.time_ms("time", now_ms())?;
    let engine = engine_for(&s, &p)?;
    let store = s.store.clone();
    let r = run(move || engine.instant_query(&store, &expr, t)).await?;
    Ok(ApiOk::new(value_json(&r.value)).with_annotations(r.warnings, r.infos))
}

/// `GET|POST /api/v1/query_range`.
pub async fn range(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let query = p.require("query")?;
    let start = p.time_ms("start", i64::MIN)?;
    let end = p.time_ms("end", i64::MIN)?;
    if start == i64::MIN {
        return Err(ApiError::bad_data(
            "invalid parameter \"start\": parameter is missing",
        ));
    }
    if end == i64::MIN {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": parameter is missing",
        ));
    }
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = p
        .duration_ms("step")?
        .ok_or_else(|| ApiError::bad_data("invalid parameter \"step\": parameter is missing"))?;
    if step <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let expr = parse_query(query)?;
    let engine = engine_for(&s, &p)?;
    let store = s.store.clone();
    let r = run(move || engine.range_query(&store, &expr, start, end, step)).await?;
    Ok(ApiOk::new(value_json(&r.value)).with_annotations(r.warnings, r.infos))
}

/// `GET|POST /api/v1/format_query`: the query pretty-printed.
pub async fn format(Form(p): Form) -> ApiResult {
    let expr = parse_query(p.require("query")?)?;
    Ok(ApiOk::new(json!(promql::format_query(&expr))))
}
