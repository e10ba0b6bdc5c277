//! `/api/v1/targets` in Prometheus' shape.

use super::extract::Form;
use super::response::{ApiOk, ApiResult};
use super::value_json::labels_json;
use super::AppState;
use crate::model::LabelsBuilder;
use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

/// Go's zero time, which Prometheus shows for targets never scraped.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn prom_duration(d: std::time::Duration) -> String {
    crate::config::PromDuration(d).to_string()
}

/// `GET /api/v1/targets` (`state=active|dropped|any`, `scrapePool=<job>`).
pub async fn targets(State(s): State<AppState>, Form(p): Form) -> ApiResult {
    let state = p.get("state").unwrap_or("any");
    let pool = p.get("scrapePool").filter(|v| !v.is_empty());
    let mut active = Vec::new();
    if state != "dropped" {
        for t in s.scrape.targets() {
            if pool.is_some_and(|p| p != t.spec.job) {
                continue;
            }
            let mut discovered = LabelsBuilder::new(&t.spec.labels);
            discovered.del("instance");
            let url = url::Url::parse(&t.spec.url).ok();
            discovered.set("__address__", t.spec.instance());
            if let Some(u) = &url {
                discovered.set("__scheme__", u.scheme());
                discovered.set("__metrics_path__", u.path());
            }
            discovered.set("__scrape_interval__", &prom_duration(t.spec.interval));
            discovered.set("__scrape_timeout__", &prom_duration(t.spec.timeout));
            let last_scrape = t
                .status
                .last_scrape
                .map(|ts| DateTime::<Utc>::from(ts).to_rfc3339_opts(SecondsFormat::Nanos, true))
                .unwrap_or_else(|| ZERO_TIME.to_string());
            active.push(json!({
                "discoveredLabels": labels_json(&discovered.labels()),
                "labels": labels_json(&t.spec.labels),
                "scrapePool": t.spec.job,
                "scrapeUrl": t.spec.url,
                "globalUrl": t.spec.url,
                "lastError": t.status.last_error,
                "lastScrape": last_scrape,
                "lastScrapeDuration": t.status.last_duration.as_secs_f64(),
                "health": t.status.health.as_str(),
                "scrapeInterval": prom_duration(t.spec.interval),
                "scrapeTimeout": prom_duration(t.spec.timeout),
            }));
        }
    }
    let mut data = json!({ "activeTargets": active, "droppedTargets": [] });
    if state == "dropped" {
        data = json!({ "droppedTargets": [] });
    } else if state == "active" {
        data = json!({ "activeTargets": data["activeTargets"].take() });
    }
    data["droppedTargetCounts"] = json!({});
    Ok(ApiOk::new(data))
}
