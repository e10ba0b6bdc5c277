//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`. Parsing, evaluation
//! and formatting run on the query executor (`exec.rs`), cancelled when the client goes away.

use super::exec::QueryTicket;
use super::extract::Form;
use super::params::Params;
use super::response::{ApiError, ApiOk, ErrorType};
use super::value_json::query_answer_bytes;
use super::AppState;
use crate::promql::{self, EvalError, QueryResult};
use crate::store::Store;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Most points a range query may return per series, as Prometheus.
const MAX_POINTS: i64 = 11_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn eval_error(e: EvalError) -> ApiError {
    let kind = match e {
        EvalError::BadData(_) => ErrorType::BadData,
        EvalError::Execution(_) | EvalError::TooManySamples(_) | EvalError::TooManyBytes { .. } => {
            ErrorType::Execution
        }
        EvalError::Timeout(_) => ErrorType::Timeout,
        EvalError::Canceled(_) => ErrorType::Canceled,
    };
    ApiError::new(kind, e.to_string())
}

fn parse_query(text: &str) -> Result<promql_parser::parser::Expr, ApiError> {
    promql::parse(text).map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))
}

/// The request's timeout: a `timeout` parameter can only shorten the configured one.
fn timeout_for(s: &AppState, p: &Params) -> Result<std::time::Duration, ApiError> {
    let configured = s.queries.timeout();
    Ok(match p.duration_ms("timeout")? {
        Some(ms) => configured.min(std::time::Duration::from_millis(ms.max(0) as u64)),
        None => configured,
    })
}

/// The engine for one job: the configured limits, the job's deadline and cancel flag.
fn engine_for(s: &AppState, t: &QueryTicket) -> promql::Engine {
    s.engine
        .clone()
        .with_deadline(t.deadline)
        .with_cancel(t.cancel.clone())
}

/// Parses, evaluates and writes the answer's JSON on the query executor.
async fn run(
    s: &AppState,
    p: &Params,
    query: String,
    eval: impl FnOnce(&promql::Engine, &Store, &promql::Expr) -> Result<QueryResult, EvalError>
        + Send
        + 'static,
) -> Result<Response, ApiError> {
    let timeout = timeout_for(s, p)?;
    let state = s.clone();
    s.queries
        .run(timeout, move |t| {
            let expr = parse_query(&query)?;
            t.check("query parsing")?;
            let r = eval(&engine_for(&state, t), &state.store, &expr).map_err(eval_error)?;
            t.check("result encoding")?;
            let body = query_answer_bytes(&r.value, &r.warnings, &r.infos);
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        })
        .await
}

/// `GET|POST /api/v1/query`.
pub async fn instant(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    let query = p.require("query")?.to_string();
    let t = p.time_ms("time", now_ms())?;
    run(&s, &p, query, move |engine, store, expr| {
        engine.instant_query(store, expr, t)
    })
    .await
}

/// `GET|POST /api/v1/query_range`.
pub async fn range(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    let query = p.require("query")?.to_string();
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
    run(&s, &p, query, move |engine, store, expr| {
        engine.range_query(store, expr, start, end, step)
    })
    .await
}

/// `GET|POST /api/v1/format_query`: the query pretty-printed.
pub async fn format(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    let query = p.require("query")?.to_string();
    let timeout = timeout_for(&s, &p)?;
    s.queries
        .run(timeout, move |t| {
            let expr = parse_query(&query)?;
            t.check("query parsing")?;
            Ok(ApiOk::new(json!(promql::format_query(&expr))).into_response())
        })
        .await
}
