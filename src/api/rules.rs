//! `/api/v1/rules`, `/api/v1/alerts` and `/api/v1/alerts/history`.

use super::extract::Form;
use super::response::{ApiError, ApiOk, ApiResult};
use super::rules_json::{self as api_json, ParamError, RulesFilter};
use super::AppState;
use axum::extract::State;

fn bad(e: ParamError) -> ApiError {
    ApiError::bad_data(e.to_string())
}

/// `GET /api/v1/rules` with `type`, `rule_name[]`, `rule_group[]`, `file[]`, `match[]`.
pub async fn rules(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let filter = RulesFilter::from_params(p.pairs()).map_err(bad)?;
    let data = api_json::rules_json(&s.rules.groups(), &filter).map_err(bad)?;
    Ok(ApiOk::new(data))
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub async fn alerts(State(s): State<AppState>) -> ApiResult {
    Ok(ApiOk::new(api_json::alerts_json(&s.rules.groups())))
}

/// `GET /api/v1/alerts/history` with `alertname`, `match[]`, `start`, `end`, `limit`.
pub async fn history(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let q = api_json::history_query_from_params(p.pairs()).map_err(bad)?;
    Ok(ApiOk::new(api_json::history_json(&s.rules.history(&q))))
}
