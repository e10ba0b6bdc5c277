//! Service discovery: providers turn a job's (or an Alertmanager set's) `static_configs`,
//! `file_sd_configs`, `http_sd_configs` and `dns_sd_configs` into target groups ([`start`]); the
//! scrape manager re-syncs a job's targets, and the Alertmanager forwarder its set's
//! Alertmanagers, whenever one of their providers reports a change.
//!
//! A provider's state is its last good groups and its last error: a refresh that fails keeps the
//! groups (Prometheus keeps a file's last good groups, and an HTTP endpoint's), logs why, counts
//! it in `prometheus_sd_file_read_errors_total`, `prometheus_sd_http_failures_total` (and
//! `prometheus_sd_refresh_failures_total{mechanism="http"}`) or
//! `prometheus_sd_dns_lookup_failures_total` (Prometheus' own metric names, so its dashboards
//! work) and shows it in `/api/v1/targets` as `discoveryErrors`. Each provider runs in its own
//! task: a slow endpoint delays no other job.
//! `file.rs` reads JSON and YAML files (globs; changes seen by polling modification times every
//! second, plus a full re-read every `refresh_interval`); `http.rs` fetches an endpoint every
//! `refresh_interval` with the job's credentials and refuses an answer above
//! [`http::MAX_RESPONSE_BYTES`]; `dns.rs` looks names up every `refresh_interval` through the
//! servers and search list of `/etc/resolv.conf`, a failing name keeping its last good group;
//! `kubernetes/` lists and watches the Kubernetes API.

pub mod dns;
pub mod file;
pub mod http;
pub mod kubernetes;

use crate::config::is_valid_label_name;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

/// The `mechanism` label of `prometheus_sd_refresh_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MechanismLabels {
    /// `http` (Prometheus' name of the SD mechanism).
    pub mechanism: String,
}

/// Counters of failed refreshes, by Prometheus' names.
#[derive(Debug, Clone, Default)]
pub struct SdMetrics {
    /// `prometheus_sd_refresh_failures_total{mechanism}`: failed refreshes of the periodically
    /// refreshed mechanisms (HTTP; a DNS refresh never fails as a whole in Prometheus, its
    /// lookups do). A series appears at its first failure, as in Prometheus.
    pub refresh_failures: Family<MechanismLabels, Counter>,
    /// `prometheus_sd_file_read_errors_total`.
    pub file_read_errors: Counter,
    /// `prometheus_sd_http_failures_total`.
    pub http_failures: Counter,
    /// `prometheus_sd_kubernetes_failures_total`.
    pub kubernetes_failures: Counter,
    /// `prometheus_sd_dns_lookups_total`.
    pub dns_lookups: Counter,
    /// `prometheus_sd_dns_lookup_failures_total`.
    pub dns_lookup_failures: Counter,
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
        registry.register(
            "prometheus_sd_refresh_failures",
            "Number of refresh failures for the given SD mechanism.",
            m.refresh_failures.clone(),
        );
        registry.register(
            "prometheus_sd_dns_lookups",
            "The number of DNS-SD lookups.",
            m.dns_lookups.clone(),
        );
        registry.register(
            "prometheus_sd_dns_lookup_failures",
            "The number of DNS-SD lookup failures.",
            m.dns_lookup_failures.clone(),
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
pub fn static_groups(configs: &[crate::config::StaticConfig]) -> Vec<TargetGroup> {
    configs
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

/// Where one scrape job's or one Alertmanager set's targets come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `static_configs`, as groups.
    pub static_groups: Vec<TargetGroup>,
    /// `file_sd_configs`.
    pub file: Vec<crate::config::FileSdConfig>,
    /// `http_sd_configs`, each with its client.
    pub http: Vec<crate::scrape::HttpSd>,
    /// `dns_sd_configs`.
    pub dns: Vec<crate::config::DnsSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes: Vec<crate::config::KubernetesSdConfig>,
}

/// The running providers of one [`Sources`]: their states, in order, and a key per provider
/// naming its configuration (so a reload can hand an unchanged provider its last groups).
#[derive(Debug, Default)]
pub struct Started {
    /// Each provider's state.
    pub states: Vec<SharedState>,
    /// Each provider's configuration key (same order).
    pub keys: Vec<String>,
}

impl Started {
    /// Each provider's current groups by key, for [`start`] after a reload.
    pub fn groups_by_key(&self) -> HashMap<String, Vec<TargetGroup>> {
        self.keys
            .iter()
            .zip(&self.states)
            .map(|(k, s)| (k.clone(), s.lock().groups.clone()))
            .collect()
    }

    /// Every provider's current error.
    pub fn errors(&self) -> Vec<String> {
        self.states
            .iter()
            .filter_map(|s| s.lock().error.clone())
            .collect()
    }
}

/// Starts the providers of `sources`, each as a task in `tasks` stopped by `cancel`: static
/// groups are recorded at once and file SD files read before this returns; HTTP and DNS
/// providers report in the background. A provider whose key is in `previous` starts from
/// those groups, so a source failing right after a reload keeps its targets. `changed` is
/// called whenever a provider's groups or error change.
pub async fn start(
    sources: Sources,
    previous: &mut HashMap<String, Vec<TargetGroup>>,
    metrics: &SdMetrics,
    cancel: &CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
    changed: Arc<dyn Fn() + Send + Sync>,
) -> Started {
    let mut out = Started::default();
    let static_state = SharedState::default();
    record(&static_state, Some(sources.static_groups), None);
    out.states.push(static_state);
    out.keys.push("static".to_owned());
    let notify = |c: &Arc<dyn Fn() + Send + Sync>| {
        let c = c.clone();
        move || c()
    };
    for f in sources.file {
        let key = format!("file {f:?}");
        let state = SharedState::default();
        let m = metrics.clone();
        let provider = file::FileProvider::new(f, previous.remove(&key).unwrap_or_default());
        let first = tokio::task::spawn_blocking(move || {
            let mut p = provider;
            let outcome = p.refresh(&m);
            (p, outcome)
        })
        .await;
        let Ok((provider, outcome)) = first else {
            continue;
        };
        if let Some((groups, error)) = outcome {
            record(&state, groups, error);
        }
        tasks.push(tokio::spawn(file::run(
            provider,
            state.clone(),
            metrics.clone(),
            cancel.clone(),
            notify(&changed),
        )));
        out.states.push(state);
        out.keys.push(key);
    }
    for h in sources.http {
        let key = format!("http {:?}", h.config);
        let state = SharedState::default();
        if let Some(last) = previous.remove(&key) {
            record(&state, Some(last), None);
        }
        tasks.push(tokio::spawn(http::run(
            h.config,
            h.client,
            h.authorization,
            state.clone(),
            metrics.clone(),
            cancel.clone(),
            notify(&changed),
        )));
        out.states.push(state);
        out.keys.push(key);
    }
    for d in sources.dns {
        let key = format!("dns {d:?}");
        let state = SharedState::default();
        let last = previous.remove(&key).unwrap_or_default();
        if !last.is_empty() {
            record(&state, Some(last.clone()), None);
        }
        tasks.push(tokio::spawn(dns::run(
            dns::DnsProvider::new(d, last),
            state.clone(),
            metrics.clone(),
            cancel.clone(),
            notify(&changed),
        )));
        out.states.push(state);
        out.keys.push(key);
    }
    for k in sources.kubernetes {
        let key = format!("kubernetes {k:?}");
        let state = SharedState::default();
        if let Some(last) = previous.remove(&key) {
            record(&state, Some(last), None);
        }
        tasks.push(tokio::spawn(kubernetes::run(
            k,
            state.clone(),
            metrics.clone(),
            cancel.clone(),
            notify(&changed),
        )));
        out.states.push(state);
        out.keys.push(key);
    }
    out
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
