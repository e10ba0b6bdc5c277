//! `/targets`: scrape pools with their targets (health, last scrape, its duration, the last
//! error, labels; discovered labels on demand with `?discovered=1`), an `up` sparkline per
//! target over the buffer's window (server-side SVG), dropped targets per pool, and the errors
//! of failing discovery providers. `?pool=<job>` shows one pool.

use super::chart::{range_query, sparkline_points, step_for};
use super::format;
use super::{html, nav, param, query_pairs, window_ms, NavItem, UiState};
use crate::model::Labels;
use crate::scrape::{DroppedView, TargetView};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};

/// One target row.
#[derive(Debug, Clone)]
pub struct TargetRow {
    /// Scrape URL.
    pub url: String,
    /// `up`, `down`, `unknown`.
    pub health: &'static str,
    /// Last scrape, as "12s ago".
    pub last_scrape: String,
    /// Its duration.
    pub duration: String,
    /// Last error.
    pub error: String,
    /// Target labels.
    pub labels: Vec<(String, String)>,
    /// Labels before relabeling.
    pub discovered: Vec<(String, String)>,
    /// SVG polyline points of `up`; empty when no samples.
    pub spark: String,
}

/// One pool.
#[derive(Debug, Clone)]
pub struct PoolView {
    /// The job name.
    pub name: String,
    /// Its targets.
    pub targets: Vec<TargetRow>,
    /// Targets up.
    pub up: usize,
    /// Targets dropped by relabeling, in all.
    pub dropped_count: usize,
    /// Discovered labels of the dropped targets kept.
    pub dropped: Vec<String>,
    /// Discovery errors.
    pub errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "targets.html")]
struct TargetsPage {
    nav: Vec<NavItem>,
    pools: Vec<PoolView>,
    pool: String,
    discovered: bool,
    window: String,
    spark_note: String,
}

/// `up` samples (time ms, value) by (job, instance).
pub type UpSamples = HashMap<(String, String), Vec<(i64, f64)>>;

/// Pools from targets, dropped views, discovery errors and `up` samples by (job, instance).
pub fn pools(
    targets: &[TargetView],
    dropped: &BTreeMap<String, DroppedView>,
    errors: &BTreeMap<String, Vec<String>>,
    up: &UpSamples,
    window: (i64, i64),
    now: std::time::SystemTime,
    only: Option<&str>,
) -> Vec<PoolView> {
    let mut out: BTreeMap<String, PoolView> = BTreeMap::new();
    let pool = |name: &str| -> bool { only.is_none_or(|o| o == name) };
    for t in targets {
        if !pool(&t.spec.job) {
            continue;
        }
        let p = out.entry(t.spec.job.clone()).or_insert_with(|| PoolView {
            name: t.spec.job.clone(),
            targets: Vec::new(),
            up: 0,
            dropped_count: 0,
            dropped: Vec::new(),
            errors: Vec::new(),
        });
        let health = t.status.health.as_str();
        if health == "up" {
            p.up += 1;
        }
        let key = (
            t.spec.labels.get("job").unwrap_or("").to_owned(),
            t.spec.labels.get("instance").unwrap_or("").to_owned(),
        );
        let spark = up
            .get(&key)
            .map(|pts| sparkline_points(pts, window.0, window.1, 120.0, 18.0))
            .unwrap_or_default();
        p.targets.push(TargetRow {
            url: t.spec.url.clone(),
            health,
            last_scrape: t
                .status
                .last_scrape
                .map(|ts| {
                    let ago = now.duration_since(ts).unwrap_or_default();
                    format!("{} ago", format::span_ms(ago.as_millis() as i64))
                })
                .unwrap_or_else(|| "never".to_owned()),
            duration: format::seconds(t.status.last_duration),
            error: t.status.last_error.clone(),
            labels: format::pairs(&t.spec.labels),
            discovered: format::pairs(&t.discovered),
            spark,
        });
    }
    for (name, d) in dropped {
        if !pool(name) || d.count == 0 {
            continue;
        }
        let p = out.entry(name.clone()).or_insert_with(|| PoolView {
            name: name.clone(),
            targets: Vec::new(),
            up: 0,
            dropped_count: 0,
            dropped: Vec::new(),
            errors: Vec::new(),
        });
        p.dropped_count = d.count;
        p.dropped = d.kept.iter().take(100).map(Labels::to_string).collect();
    }
    for (name, errs) in errors {
        if let Some(p) = out.get_mut(name) {
            p.errors = errs.clone();
        }
    }
    for p in out.values_mut() {
        p.targets.sort_by(|a, b| a.url.cmp(&b.url));
    }
    out.into_values().collect()
}

/// Most targets one `/targets` page lists.
pub const MAX_TARGET_ROWS: usize = 20_000;

/// Most targets whose `up` is charted (the rest show no sparkline).
const MAX_SPARKLINES: usize = 2000;

/// `GET /targets[?pool=<job>]`.
pub async fn page(State(s): State<UiState>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let only = param(&pairs, "pool").filter(|p| !p.is_empty());
    let discovered = param(&pairs, "discovered").is_some_and(|v| v == "1");
    let mut targets = s.app.scrape.targets();
    targets.retain(|t| only.is_none_or(|o| o == t.spec.job));
    // Bounded page: at most MAX_TARGET_ROWS targets, down ones first; the rest counted.
    let hidden = targets.len().saturating_sub(MAX_TARGET_ROWS);
    if hidden > 0 {
        targets.sort_by_key(|t| t.status.health.as_str() == "up");
        targets.truncate(MAX_TARGET_ROWS);
    }
    let now_ms = super::now_ms();
    let window = window_ms(&s.app);
    let start = now_ms - window;
    let mut up = HashMap::new();
    let mut spark_note = String::new();
    if targets.len() <= MAX_SPARKLINES {
        let step = step_for(start, now_ms, 15_000).max(window / 60);
        match range_query(&s.app, "up".to_owned(), start, now_ms, step).await {
            Ok(series) => {
                for sr in series {
                    let key = (
                        sr.labels.get("job").unwrap_or("").to_owned(),
                        sr.labels.get("instance").unwrap_or("").to_owned(),
                    );
                    up.insert(key, sr.samples.iter().map(|p| (p.t, p.v)).collect());
                }
            }
            Err(e) => spark_note = format!("up sparklines unavailable: {e}"),
        }
    } else {
        spark_note = format!("more than {MAX_SPARKLINES} targets: no up sparklines");
    }
    let mut view = pools(
        &targets,
        &s.app.scrape.dropped(),
        &s.app.scrape.discovery_errors(),
        &up,
        (start, now_ms),
        std::time::SystemTime::now(),
        only,
    );
    if hidden > 0 {
        spark_note = format!(
            "{hidden} more targets are not shown (at most {MAX_TARGET_ROWS} per page, down ones first): pick a pool. {spark_note}"
        );
    }
    if !discovered {
        for p in &mut view {
            for t in &mut p.targets {
                t.discovered.clear();
            }
        }
    }
    html(
        StatusCode::OK,
        render(
            view,
            only.unwrap_or("").to_owned(),
            discovered,
            format::span_ms(window),
            spark_note,
        ),
    )
}

/// The page for `pools`.
pub fn render(
    pools: Vec<PoolView>,
    pool: String,
    discovered: bool,
    window: String,
    spark_note: String,
) -> askama::Result<String> {
    TargetsPage {
        nav: nav("/targets"),
        pools,
        pool,
        discovered,
        window,
        spark_note,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_pools_with_health_and_escaped_errors() {
        let pools = vec![PoolView {
            name: "node".into(),
            targets: vec![TargetRow {
                url: "http://127.0.0.1:1/metrics".into(),
                health: "down",
                last_scrape: "3s ago".into(),
                duration: "2ms".into(),
                error: "connection refused <x>".into(),
                labels: vec![("instance".into(), "127.0.0.1:1".into())],
                discovered: vec![("__address__".into(), "127.0.0.1:1".into())],
                spark: "0.0,17.0 120.0,1.0".into(),
            }],
            up: 0,
            dropped_count: 2,
            dropped: vec!["{__address__=\"x\"}".into()],
            errors: vec![],
        }];
        let html = render(pools, String::new(), true, "1h 0m".into(), String::new()).unwrap();
        assert!(html.contains("badge down"));
        assert!(
            html.contains("connection refused &lt;x&gt;")
                || html.contains("connection refused &#60;x&#62;")
        );
        assert!(html.contains("__address__"), "discovered labels on demand");
        assert!(html.contains("<polyline"));
        assert!(html.contains("2 dropped"));
    }
}
