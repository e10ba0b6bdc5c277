//! Page rendering from synthetic data, for `benches/ui.rs`: `/alerts` from held rule alerts
//! (conversion, routing, grouping, rendering) and `/targets` from target views with `up`
//! samples (pools, sparklines, rendering). Everything but reading the shared state, which
//! the handlers do by cloning snapshots.

use super::alerts::{active_alerts, group_alerts, render as render_alerts};
use super::format::Unit;
use super::targets::{pools, render as render_targets, UpSamples};
use crate::model::Labels;
use crate::notify::route::Route;
use crate::notify::AlertState as Routing;
use crate::rules::{Alert, AlertState, HeldAlert, Severity};
use crate::scrape::{Health, TargetSpec, TargetStatus, TargetView};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// `n` firing rule alerts over 50 rules and 100 instances.
pub fn held_alerts(n: usize, now_ms: i64) -> Vec<HeldAlert> {
    let group: Arc<str> = Arc::from("bench.yml;latency");
    (0..n)
        .map(|i| {
            let rule = format!("HighLatency{}", i % 50);
            let labels = Labels::from_pairs([
                ("alertname", rule.as_str()),
                ("instance", &format!("host-{}:9100", i % 100)),
                ("job", "api"),
                ("path", &format!("/v1/items/{i}")),
            ]);
            HeldAlert {
                group: group.clone(),
                rule: Arc::from(rule.as_str()),
                alert: Alert {
                    labels,
                    annotations: vec![("summary".into(), "slow".into())],
                    state: if i % 7 == 0 {
                        AlertState::Pending
                    } else {
                        AlertState::Firing
                    },
                    value: 0.5 + (i % 13) as f64 / 10.0,
                    active_at: now_ms - 600_000,
                    fired_at: Some(now_ms - 540_000),
                    resolved_at: None,
                    keep_firing_since: None,
                    severity: Some(if i % 3 == 0 {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    }),
                    threshold: Some(0.5),
                    data_missing_since: None,
                    resolve_reason: None,
                },
            }
        })
        .collect()
}

/// Renders `/alerts` for `held`; returns the page's size in bytes.
pub fn alerts_page(held: &[HeldAlert], now_ms: i64) -> usize {
    let units: HashMap<(Arc<str>, String), Unit> = held
        .iter()
        .map(|h| ((h.group.clone(), h.rule.to_string()), Unit::Seconds))
        .collect();
    let active = active_alerts(held, &[], &units, &Labels::empty());
    let route = Route::from_config(None);
    let routing = |_: &Labels| Routing {
        receivers: vec!["log".into()],
        silenced_by: Vec::new(),
        inhibited_by: Vec::new(),
    };
    let groups = group_alerts(&active, &route, &routing, &[], now_ms);
    render_alerts(groups, String::new(), String::new())
        .map(|s| s.len())
        .unwrap_or(0)
}

/// `n` targets in 10 pools, a tenth of them down, each with 60 `up` samples.
pub fn targets(n: usize, now_ms: i64) -> (Vec<TargetView>, UpSamples) {
    let mut views = Vec::with_capacity(n);
    let mut up = HashMap::with_capacity(n);
    for i in 0..n {
        let job = format!("job-{}", i % 10);
        let instance = format!("10.0.{}.{}:9100", i / 250, i % 250);
        let labels = Labels::from_pairs([("job", job.as_str()), ("instance", &instance)]);
        let down = i % 10 == 0;
        views.push(TargetView {
            spec: TargetSpec {
                job: job.clone(),
                url: format!("http://{instance}/metrics"),
                labels: labels.clone(),
                interval: Duration::from_secs(15),
                timeout: Duration::from_secs(10),
                honor_labels: false,
                honor_timestamps: true,
                track_timestamps_staleness: false,
                negotiation: Default::default(),
                forced_error: None,
                limits: Default::default(),
                authorization: None,
                metric_relabel: Arc::from([]),
            },
            discovered: Labels::from_pairs([("__address__", instance.as_str())]),
            interval_text: ("15s".into(), "10s".into()),
            status: TargetStatus {
                health: if down { Health::Down } else { Health::Up },
                last_error: if down {
                    "connection refused".into()
                } else {
                    String::new()
                },
                last_scrape: Some(SystemTime::now() - Duration::from_secs(3)),
                last_duration: Duration::from_millis(12),
                last_samples: 500,
            },
        });
        let points = (0..60)
            .map(|k| {
                (
                    now_ms - (60 - k) * 60_000,
                    if down && k > 40 { 0.0 } else { 1.0 },
                )
            })
            .collect();
        up.insert((job, instance), points);
    }
    (views, up)
}

/// Renders `/targets` for `views` and their `up` samples; returns the page's size in bytes.
pub fn targets_page(views: &[TargetView], up: &UpSamples, now_ms: i64) -> usize {
    let view = pools(
        views,
        &BTreeMap::new(),
        &BTreeMap::new(),
        up,
        (now_ms - 3_600_000, now_ms),
        SystemTime::now(),
        None,
    );
    render_targets(view, String::new(), false, "1h 0m".into(), String::new())
        .map(|s| s.len())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_pages_render() {
        let now = 1_700_000_000_000;
        let held = held_alerts(20, now);
        assert!(alerts_page(&held, now) > 10_000);
        let (views, up) = targets(20, now);
        assert!(targets_page(&views, &up, now) > 10_000);
    }
}
