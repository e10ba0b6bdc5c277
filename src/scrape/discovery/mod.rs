//! Service discovery: providers turn a job's `static_configs`, `file_sd_configs` and
//! `http_sd_configs` into target groups; the scrape manager re-syncs a job's targets whenever one
//! of its providers reports a change.
//!
//! A provider's state is its last good groups and its last error: a refresh that fails keeps the
//! groups (Prometheus keeps a file's last good groups, and an HTTP endpoint's), logs why, counts
//! it in `prometheus_sd_file_read_errors_total` or `prometheus_sd_http_failures_total` (Prometheus'
//! own metric names, so its dashboards work) and shows it in `/api/v1/targets` as
//! `discoveryErrors`. Each provider runs in its own task: a slow endpoint delays no other job.
//! `file.rs` reads JSON and YAML files (globs; changes seen by polling modification times every
//! second, plus a full re-read every `refresh_interval`); `http.rs` fetches an endpoint every
//! `refresh_interval` with the job's credentials and refuses an answer above
//! [`http::MAX_RESPONSE_BYTES`]; `kubernetes/` lists and watches the Kubernetes API.

pub mod file;
pub mod http;
pub mod kubernetes;

use crate::config::is_valid_label_name;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Targets sharing labels, from one source (Prometheus' `targetgroup.Group`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Where the group came from, e.g. `targets.json:0` or `http://sd/targets:1`.
    pub source: String,
    /// Each target's labels (at least `__address__`).
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels of every target in the group.
    pub labels: BTreeMap<String, String>,
}

/// A provider's last good groups and why its last refresh failed, if it did.
#[derive(Debug, Clone, Default)]
pub struct ProviderState {
    /// The groups of the last good refresh.
    pub groups: Vec<TargetGroup>,
    /// The last refresh's error, cleared by a good one.
    pub error: Option<String>,
}

/// Shared between a provider's task and the manager.
pub type SharedState = Arc<Mutex<ProviderState>>;

/// Counters of failed refreshes, by Prometheus' names.
#[derive(Debug, Clone, Default)]
pub struct SdMetrics {
    /// `prometheus_sd_file_read_errors_total`.
    pub file_read_errors: Counter,
    /// `prometheus_sd_http_failures_total`.
    pub http_failures: Counter,
    /// `prometheus_sd_kubernetes_failures_total`.
    pub kubernetes_failures: Counter,
}

impl SdMetrics {
    /// Creates the counters and registers them.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "prometheus_sd_file_read_errors",
            "The number of File-SD read errors.",
            m.file_read_errors.clone(),
        );
        registry.register(
            "prometheus_sd_http_failures",
            "Number of HTTP service discovery refresh failures.",
            m.http_failures.clone(),
        );
        registry.register(
            "prometheus_sd_kubernetes_failures",
            "The number of failed WATCH/LIST requests.",
            m.kubernetes_failures.clone(),
        );
        m
    }
}

/// One group as file and HTTP SD write it: `{"targets": [...], "labels": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Decoded groups before `source` and the `__meta_*` label are set.
type RawGroups = Vec<Option<RawGroup>>;

/// Turns decoded groups into target groups: `source` is `{origin}:{index}` and `meta` (e.g.
/// `__meta_filepath`) is set on each group. A `null` group or an invalid label name refuses the
/// whole answer, as Prometheus does.
fn groups(raw: RawGroups, origin: &str, meta: (&str, &str)) -> Result<Vec<TargetGroup>, String> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        let g = g.ok_or_else(|| "nil target group item found".to_owned())?;
        let mut labels = g.labels.unwrap_or_default();
        if let Some(bad) = labels.keys().find(|n| !is_valid_label_name(n)) {
            return Err(format!("{bad:?} is not a valid label name"));
        }
        labels.insert(meta.0.to_owned(), meta.1.to_owned());
        let targets = g
            .targets
            .into_iter()
            .map(|t| BTreeMap::from([("__address__".to_owned(), t)]))
            .collect();
        out.push(TargetGroup {
            source: format!("{origin}:{i}"),
            targets,
            labels,
        });
    }
    Ok(out)
}

/// The groups of a `static_configs` list, with Prometheus' sources (`0`, `1`, ...).
pub fn static_groups(job: &crate::config::ScrapeConfig) -> Vec<TargetGroup> {
    job.static_configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup {
            source: i.to_string(),
            targets: sc
                .targets
                .iter()
                .map(|t| BTreeMap::from([("__address__".to_owned(), t.clone())]))
                .collect(),
            labels: sc.labels.clone(),
        })
        .collect()
}

/// A refresh's outcome: new groups (`None` when the source could not be read at all) and why
/// it failed, if it did.
pub type Outcome = (Option<Vec<TargetGroup>>, Option<String>);

/// Records a refresh into a provider's state: new groups replace the old ones, `None` keeps
/// them. Returns whether anything the manager shows changed.
pub fn record(
    state: &SharedState,
    groups: Option<Vec<TargetGroup>>,
    error: Option<String>,
) -> bool {
    let mut s = state.lock();
    let mut changed = s.error != error;
    s.error = error;
    if let Some(groups) = groups {
        changed |= s.groups != groups;
        s.groups = groups;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_the_last_good_groups() {
        let state = SharedState::default();
        let g = vec![TargetGroup {
            source: "s:0".into(),
            ..Default::default()
        }];
        assert!(record(&state, Some(g.clone()), None));
        assert!(!record(&state, Some(g.clone()), None));
        assert!(record(&state, None, Some("boom".into())));
        assert!(!record(&state, None, Some("boom".into())));
        assert_eq!(state.lock().groups, g);
        assert!(record(&state, Some(g.clone()), None));
        assert_eq!(state.lock().error, None);
    }

    #[test]
    fn null_groups_and_bad_label_names_are_refused() {
        let raw: RawGroups = serde_json::from_str("[null]").unwrap();
        assert_eq!(
            groups(raw, "f", ("m", "v")).unwrap_err(),
            "nil target group item found"
        );
        let raw: RawGroups =
            serde_json::from_str(r#"[{"targets": ["a"], "labels": {"a-b": "x"}}]"#).unwrap();
        assert_eq!(
            groups(raw, "f", ("m", "v")).unwrap_err(),
            "\"a-b\" is not a valid label name"
        );
        assert!(serde_json::from_str::<RawGroups>(r#"[{"target": ["a"]}]"#).is_err());
    }
}
