//! `/api/v1/targets`, `/api/v1/targets/metadata` and `/api/v1/scrape_pools` in Prometheus 3's
//! shape (`web/api/v1/api.go`).
//!
//! `/api/v1/targets` adds one key Prometheus does not have, `discoveryErrors` (pool → the
//! current errors of its file and HTTP SD providers), and only when some provider is failing.

use super::extract::Form;
use super::response::{ApiError, ApiOk, ApiResult, ErrorType};
use super::value_json::labels_json;
use super::AppState;
use crate::model::matcher_text::matches_all;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Go's zero time, which Prometheus shows for targets never scraped.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `GET /api/v1/targets` (`state=active|dropped|any`, `scrapePool=<job>`).
pub async fn targets(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let state = p.get("state").unwrap_or("").to_ascii_lowercase();
    let pool = p.get("scrapePool").filter(|v| !v.is_empty());
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let mut active = Vec::new();
    if show_active {
        for t in s.scrape.targets() {
            if pool.is_some_and(|p| p != t.spec.job) {
                continue;
            }
            let last_scrape = t
                .status
                .last_scrape
                .map(|ts| crate::gostd::json::time_text(DateTime::<Utc>::from(ts)))
                .unwrap_or_else(|| ZERO_TIME.to_string());
            active.push(json!({
                "discoveredLabels": labels_json(&t.discovered),
                "labels": labels_json(&t.spec.labels),
                "scrapePool": t.spec.job,
                "scrapeUrl": t.spec.url,
                "globalUrl": t.spec.url,
                "lastError": t.status.last_error,
                "lastScrape": last_scrape,
                "lastScrapeDuration": t.status.last_duration.as_secs_f64(),
                "health": t.status.health.as_str(),
                "scrapeInterval": t.interval_text.0,
                "scrapeTimeout": t.interval_text.1,
            }));
        }
    }
    let mut dropped = Vec::new();
    let mut counts = Value::Null;
    if show_dropped {
        let all = s.scrape.dropped();
        counts = json!(all
            .iter()
            .map(|(k, v)| (k.clone(), v.count))
            .collect::<std::collections::BTreeMap<_, _>>());
        for (name, view) in &all {
            if pool.is_some_and(|p| p != name) {
                continue;
            }
            for labels in &view.kept {
                dropped.push(json!({
                    "discoveredLabels": labels_json(labels),
                    "scrapePool": name,
                }));
            }
        }
    }
    let mut data = json!({
        "activeTargets": active,
        "droppedTargets": dropped,
        "droppedTargetCounts": counts,
    });
    let mut errors = s.scrape.discovery_errors();
    errors.retain(|name, _| pool.is_none_or(|p| p == name));
    if !errors.is_empty() {
        data["discoveryErrors"] = json!(errors);
    }
    Ok(ApiOk::new(data))
}

/// `GET /api/v1/scrape_pools`.
pub async fn scrape_pools(State(s): State<AppState>) -> ApiResult {
    Ok(ApiOk::new(json!({ "scrapePools": s.scrape.pools() })))
}

/// `GET /api/v1/targets/metadata` (`match_target`, `metric`, `limit`).
pub async fn metadata(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let limit = match p.get("limit").filter(|l| !l.is_empty()) {
        None => -1,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_data("limit must be a number"))?,
    };
    let matchers = match p.get("match_target").filter(|m| !m.is_empty()) {
        None => None,
        Some(text) => Some(super::series::selector_matchers(text)?),
    };
    let metric = p.get("metric").unwrap_or("");
    let mut out = Vec::new();
    'targets: for (labels, metadata) in s.scrape.target_metadata() {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        if let Some(sets) = &matchers {
            if !sets.iter().any(|ms| matches_all(ms, &labels)) {
                continue;
            }
        }
        if metric.is_empty() {
            let mut names: Vec<_> = metadata.iter().collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            for (name, m) in names {
                if limit >= 0 && out.len() as i64 >= limit {
                    break 'targets;
                }
                out.push(json!({
                    "target": labels_json(&labels),
                    "metric": name,
                    "type": m.kind,
                    "help": m.help,
                    "unit": m.unit,
                }));
            }
        } else if let Some(m) = metadata.get(metric) {
            out.push(json!({
                "target": labels_json(&labels),
                "type": m.kind,
                "help": m.help,
                "unit": m.unit,
            }));
        }
    }
    if out.is_empty() {
        return Err(ApiError::new(
            ErrorType::NotFound,
            "specified metadata not found",
        ));
    }
    Ok(ApiOk::new(json!(out)))
}
