//! Forwarding to real Alertmanagers, as Prometheus' notifier does.
//!
//! Every alert event goes to every target of every `alerting.alertmanagers` set as
//! `POST <scheme>://<target><path_prefix>/api/v2/alerts` with a JSON array of
//! `{labels, annotations, startsAt, endsAt, generatorURL}`, after `alert_relabel_configs` (an
//! alert a rule drops is not sent). The Alertmanagers of a set are found as Prometheus'
//! notifier finds them: its `static_configs`, `file_sd_configs`, `http_sd_configs` and
//! `dns_sd_configs` run through the scrape targets' discovery providers
//! ([`crate::scrape::discovery::start`]); each discovered target gets `__scheme__` and
//! `__alerts_path__`, then `relabel_configs` (a dropped one is listed as dropped); the URL is
//! `__scheme__://__address__` + `__alerts_path__`, duplicates sent to once. A group with an
//! address containing `/` after relabeling is refused whole and logged. Like Prometheus, firing
//! alerts are
//! re-sent every `resend_delay` (1m) with `endsAt = now + 4 × max(evaluation interval,
//! resend delay)` so Alertmanager times them out if watchfire disappears; resolved alerts are
//! sent at once with their resolve time and re-sent for 15 minutes. A failed post is logged
//! and counted; the next resend repairs it (no other retry, as in Prometheus).

use super::with_auth;
use crate::config::{AlertmanagerConfig, HttpClientConfig};
use crate::gostd::json as gojson;
use crate::model::relabel::{self, RelabelConfig};
use crate::model::{Labels, LabelsBuilder};
use crate::notify::alert::NotifyAlert;
use crate::notify::metrics::{FailureLabels, IntegrationLabels, NotifyMetrics};
use crate::scrape::discovery::{self, SdMetrics, TargetGroup};
use crate::scrape::HttpSd;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How long resolved alerts keep being sent (Prometheus' `resolvedRetention`).
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Most alerts per request (Prometheus' `maxBatchSize`).
pub const MAX_BATCH: usize = 256;

/// Forwarding timing.
#[derive(Clone, Copy, Debug)]
pub struct ForwardOptions {
    /// Resend firing alerts this often (Prometheus' `--rules.alert.resend-delay`, 1m).
    pub resend_delay: Duration,
    /// The rule evaluation interval (for the provisional `endsAt`).
    pub evaluation_interval: Duration,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        ForwardOptions {
            resend_delay: Duration::from_secs(60),
            evaluation_interval: Duration::from_secs(60),
        }
    }
}

/// The JSON body for `alerts` as of `now`.
pub fn body(alerts: &[&NotifyAlert], now: DateTime<Utc>, valid_for: Duration) -> String {
    let mut out = String::from("[");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let ends = match a.ends_at {
            Some(end) if a.resolved_at(now) => end,
            _ => now + chrono::Duration::from_std(valid_for).unwrap_or(chrono::Duration::zero()),
        };
        out.push('{');
        gojson::key(&mut out, "labels");
        gojson::map(&mut out, a.labels.iter().map(|l| (&*l.name, &*l.value)));
        out.push(',');
        gojson::key(&mut out, "annotations");
        gojson::btree(&mut out, &a.annotations);
        out.push(',');
        gojson::key(&mut out, "startsAt");
        gojson::string(&mut out, &millis(a.starts_at));
        out.push(',');
        gojson::key(&mut out, "endsAt");
        gojson::string(&mut out, &millis(ends));
        out.push(',');
        gojson::key(&mut out, "generatorURL");
        gojson::string(&mut out, &a.generator_url);
        out.push('}');
    }
    out.push(']');
    out
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct Tracked {
    alert: NotifyAlert,
    /// When the alert resolved (wall clock), for the retention window.
    resolved_seen: Option<DateTime<Utc>>,
}

/// The Alertmanagers currently sent to and those relabeling dropped, as URLs (Prometheus'
/// `/api/v1/alertmanagers`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertmanagersView {
    /// Where alerts are posted.
    pub active: Vec<String>,
    /// Discovered but dropped by `relabel_configs` (URLs from the labels before relabeling).
    pub dropped: Vec<String>,
}

/// The Alertmanagers of one discovered target group under a set's settings: the URLs of those
/// kept and of those dropped by relabeling (Prometheus' `AlertmanagerFromGroup`). An address
/// with a `/` refuses the whole group.
pub fn from_group(
    group: &TargetGroup,
    set: &AlertmanagerConfig,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let path = set.alerts_path();
    for target in &group.targets {
        let mut b = LabelsBuilder::new(&Labels::empty());
        for (name, value) in target {
            b.set(name, value);
        }
        b.set("__scheme__", set.scheme.as_str());
        b.set("__alerts_path__", &path);
        for (name, value) in &group.labels {
            if !target.contains_key(name) {
                b.set(name, value);
            }
        }
        let before = b.labels();
        let Some(after) = relabel::process(before.clone(), &set.relabel_configs) else {
            dropped.push(url_of(&before));
            continue;
        };
        let address = after.get("__address__").unwrap_or("");
        if address.contains('/') {
            return Err(format!("{address:?} is not a valid hostname"));
        }
        active.push(url_of(&after));
    }
    Ok((active, dropped))
}

/// `__scheme__://__address__/__alerts_path__` as Go's `url.URL` writes it.
fn url_of(labels: &Labels) -> String {
    let scheme = labels.get("__scheme__").unwrap_or("");
    let host = labels.get("__address__").unwrap_or("");
    let path = labels.get("__alerts_path__").unwrap_or("");
    let slash = if !path.is_empty() && !path.starts_with('/') {
        "/"
    } else {
        ""
    };
    format!("{scheme}://{host}{slash}{path}")
}

/// `alert` after `rules`; `None` when a rule drops it (or leaves no label), as Prometheus'
/// notifier does.
fn relabel_alert(mut alert: NotifyAlert, rules: &[RelabelConfig]) -> Option<NotifyAlert> {
    if rules.is_empty() {
        return Some(alert);
    }
    let labels = relabel::process(alert.labels.clone(), rules)?;
    if labels.is_empty() {
        return None;
    }
    alert.labels = labels;
    Some(alert)
}

/// One Alertmanager set while the forwarder runs.
struct Set {
    config: AlertmanagerConfig,
    http: HttpClientConfig,
    /// Its own client when it has `tls_config`.
    client: Option<reqwest::Client>,
    providers: discovery::Started,
}

/// Sends alert events to Alertmanagers; runs as one task.
pub struct Forwarder {
    sets: Vec<AlertmanagerConfig>,
    /// Each set's `http_sd_configs` with their clients (same order as `sets`).
    http_sd: Vec<Vec<HttpSd>>,
    /// Each set's own client, when it has `tls_config` (same order as `sets`).
    set_clients: Vec<Option<reqwest::Client>>,
    sd_metrics: SdMetrics,
    view: Arc<RwLock<Vec<AlertmanagersView>>>,
    running: Vec<Set>,
    client: reqwest::Client,
    options: ForwardOptions,
    metrics: NotifyMetrics,
    alerts: HashMap<u64, Tracked>,
    /// `alerting.alert_relabel_configs`.
    relabel: Vec<RelabelConfig>,
}

impl Forwarder {
    /// A forwarder to `sets`.
    pub fn new(
        sets: Vec<AlertmanagerConfig>,
        client: reqwest::Client,
        options: ForwardOptions,
        metrics: NotifyMetrics,
    ) -> Forwarder {
        Forwarder {
            sets,
            http_sd: Vec::new(),
            set_clients: Vec::new(),
            sd_metrics: SdMetrics::default(),
            view: Arc::default(),
            running: Vec::new(),
            client,
            options,
            metrics,
            alerts: HashMap::new(),
            relabel: Vec::new(),
        }
    }

    /// Discovers the sets' Alertmanagers with these HTTP SD clients (one list per set, in
    /// order) and counts SD failures in `metrics`; the Alertmanagers found are published in
    /// `view`, one entry per set.
    pub fn with_discovery(
        mut self,
        http_sd: Vec<Vec<HttpSd>>,
        metrics: SdMetrics,
        view: Arc<RwLock<Vec<AlertmanagersView>>>,
    ) -> Forwarder {
        self.http_sd = http_sd;
        self.sd_metrics = metrics;
        self.view = view;
        self
    }

    /// Posts to each set with its own client where one is given (a set with `tls_config`; one
    /// entry per set, in order).
    pub fn with_set_clients(mut self, clients: Vec<Option<reqwest::Client>>) -> Forwarder {
        self.set_clients = clients;
        self
    }

    /// Starts every set's discovery providers; `changed` is notified on each change.
    async fn start_discovery(
        &mut self,
        cancel: &CancellationToken,
        tasks: &mut Vec<tokio::task::JoinHandle<()>>,
        changed: &Arc<Notify>,
    ) {
        let mut http_sd = std::mem::take(&mut self.http_sd).into_iter();
        let mut clients = std::mem::take(&mut self.set_clients).into_iter();
        for config in self.sets.clone() {
            let sources = discovery::Sources {
                static_groups: discovery::static_groups(&config.static_configs),
                file: config.file_sd_configs.clone(),
                http: http_sd.next().unwrap_or_default(),
                dns: config.dns_sd_configs.clone(),
                kubernetes: Vec::new(),
            };
            let notify = changed.clone();
            let providers = discovery::start(
                sources,
                &mut Default::default(),
                &self.sd_metrics,
                cancel,
                tasks,
                Arc::new(move || notify.notify_one()),
            )
            .await;
            let http = HttpClientConfig {
                basic_auth: config.basic_auth.clone(),
                authorization: config.authorization.clone(),
            };
            self.running.push(Set {
                config,
                http,
                client: clients.next().flatten(),
                providers,
            });
        }
        self.sync();
    }

    /// Recomputes each set's Alertmanagers from its providers' groups.
    fn sync(&self) {
        let mut views = Vec::with_capacity(self.running.len());
        for set in &self.running {
            let mut view = AlertmanagersView::default();
            for state in &set.providers.states {
                for group in &state.lock().groups {
                    match from_group(group, &set.config) {
                        Ok((active, dropped)) => {
                            for url in active {
                                if !view.active.contains(&url) {
                                    view.active.push(url);
                                }
                            }
                            view.dropped.extend(dropped);
                        }
                        Err(e) => {
                            tracing::error!(err = %e, "Creating discovered Alertmanagers failed");
                        }
                    }
                }
            }
            views.push(view);
        }
        *self.view.write() = views;
    }

    /// Applies `alerting.alert_relabel_configs` to every alert before it is sent.
    pub fn with_relabel(mut self, rules: Vec<RelabelConfig>) -> Forwarder {
        self.relabel = rules;
        self
    }

    /// The alert as sent after `alert_relabel_configs`; `None` when a rule drops it (or leaves
    /// no label), as Prometheus' notifier does.
    fn relabeled(&self, alert: NotifyAlert) -> Option<NotifyAlert> {
        relabel_alert(alert, &self.relabel)
    }

    /// How long a firing alert stays valid in Alertmanager without a resend.
    fn valid_for(&self) -> Duration {
        4 * self
            .options
            .resend_delay
            .max(self.options.evaluation_interval)
    }

    /// Runs until `events` closes or `cancel` fires.
    pub async fn run(mut self, mut events: mpsc::Receiver<NotifyAlert>, cancel: CancellationToken) {
        let discovery_cancel = cancel.child_token();
        let _stop_discovery = discovery_cancel.clone().drop_guard();
        let changed = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        self.start_discovery(&discovery_cancel, &mut tasks, &changed)
            .await;
        let mut tick = tokio::time::interval(self.options.resend_delay);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = changed.notified() => self.sync(),
                event = events.recv() => {
                    let Some(first) = event else { return };
                    let mut batch = vec![first];
                    while let Ok(more) = events.try_recv() {
                        batch.push(more);
                    }
                    let now = Utc::now();
                    let mut fresh = Vec::new();
                    for alert in batch {
                        let fp = alert.fingerprint;
                        let Some(alert) = self.relabeled(alert) else {
                            self.alerts.remove(&fp);
                            continue;
                        };
                        if self.alerts.get(&fp).is_some_and(|t| t.alert.seq > alert.seq) {
                            continue;
                        }
                        let resolved_seen = alert.resolved_at(now).then_some(now);
                        self.alerts.insert(fp, Tracked { alert, resolved_seen });
                        fresh.push(fp);
                    }
                    self.send(&fresh, now).await;
                }
                _ = tick.tick() => {
                    let now = Utc::now();
                    let retention = chrono::Duration::from_std(RESOLVED_RETENTION).unwrap_or(chrono::Duration::zero());
                    self.alerts.retain(|_, t| t.resolved_seen.is_none_or(|r| r + retention > now));
                    let all: Vec<u64> = self.alerts.keys().copied().collect();
                    self.send(&all, now).await;
                }
                _ = cancel.cancelled() => return,
            }
        }
    }

    async fn send(&self, fingerprints: &[u64], now: DateTime<Utc>) {
        let alerts: Vec<&NotifyAlert> = fingerprints
            .iter()
            .filter_map(|fp| self.alerts.get(fp).map(|t| &t.alert))
            .collect();
        if alerts.is_empty() {
            return;
        }
        for chunk in alerts.chunks(MAX_BATCH) {
            let payload = body(chunk, now, self.valid_for());
            let mut posts = Vec::new();
            let views = self.view.read().clone();
            for (set, view) in self.running.iter().zip(views) {
                // A set's own `alert_relabel_configs` (Prometheus 3) apply after the global
                // ones, for this set only; a set they leave no alert for gets no post.
                let payload = if set.config.alert_relabel_configs.is_empty() {
                    payload.clone()
                } else {
                    let kept: Vec<NotifyAlert> = chunk
                        .iter()
                        .filter_map(|a| {
                            relabel_alert((*a).clone(), &set.config.alert_relabel_configs)
                        })
                        .collect();
                    if kept.is_empty() {
                        continue;
                    }
                    body(&kept.iter().collect::<Vec<_>>(), now, self.valid_for())
                };
                let client = set.client.as_ref().unwrap_or(&self.client);
                for url in view.active {
                    let req = client
                        .post(&url)
                        .timeout(set.config.timeout.as_duration())
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(payload.clone());
                    let req = with_auth(req, &set.http);
                    posts.push(async move { (url, super::send(req).await) });
                }
            }
            for (url, result) in futures_util::future::join_all(posts).await {
                let labels = IntegrationLabels {
                    receiver: url.clone(),
                    integration: "alertmanager".to_owned(),
                };
                self.metrics.notifications.get_or_create(&labels).inc();
                if let Err(e) = result {
                    tracing::warn!(alertmanager = %url, error = %e, count = chunk.len(), "error sending alerts");
                    let failure = FailureLabels {
                        receiver: url,
                        integration: "alertmanager".to_owned(),
                        reason: e.reason.as_str().to_owned(),
                    };
                    self.metrics.failed.get_or_create(&failure).inc();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::AlertStatus;
    use chrono::TimeZone;

    #[test]
    fn alert_relabel_configs_rewrite_and_drop() {
        let text =
            "alerting:\n  alert_relabel_configs:\n  - {regex: replica, action: labeldrop}\n  \
                    - {source_labels: [severity], regex: debug, action: drop}\n";
        let config = crate::config::parse_with_env(text, "c.yml", &|_| None).unwrap();
        let rules = config.alerting.alert_relabel_configs.clone();
        assert_eq!(rules.len(), 2);
        let forwarder = Forwarder::new(
            Vec::new(),
            reqwest::Client::new(),
            ForwardOptions::default(),
            NotifyMetrics::default(),
        )
        .with_relabel(rules);
        let t = Utc.with_ymd_and_hms(2026, 8, 21, 14, 30, 0).unwrap();
        let alert = |pairs: &[(&str, &str)]| {
            NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), t)
        };
        let kept = forwarder
            .relabeled(alert(&[("alertname", "A"), ("replica", "1")]))
            .unwrap();
        assert_eq!(kept.labels, Labels::from_pairs([("alertname", "A")]));
        assert!(forwarder
            .relabeled(alert(&[("alertname", "A"), ("severity", "debug")]))
            .is_none());
    }

    fn set(text: &str) -> AlertmanagerConfig {
        let text = format!("alerting:\n  alertmanagers:\n  - {text}\n");
        let config = crate::config::parse_with_env(&text, "/d/c.yml", &|_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        config.alerting.alertmanagers[0].clone()
    }

    fn group(targets: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "s".into(),
            targets: targets
                .iter()
                .map(|t| std::collections::BTreeMap::from([("__address__".into(), (*t).into())]))
                .collect(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    #[test]
    fn alertmanagers_from_groups_as_prometheus() {
        let plain = set("{scheme: https, path_prefix: /am/}");
        assert_eq!(plain.alerts_path(), "/am/api/v2/alerts");
        let (active, dropped) = from_group(&group(&["a:1", "b:2"], &[]), &plain).unwrap();
        assert_eq!(
            active,
            [
                "https://a:1/am/api/v2/alerts",
                "https://b:2/am/api/v2/alerts"
            ]
        );
        assert!(dropped.is_empty());
        // path.Join cleans the prefix.
        assert_eq!(
            set("{path_prefix: 'x//y/../z'}").alerts_path(),
            "/x/z/api/v2/alerts"
        );
        assert_eq!(set("{}").alerts_path(), "/api/v2/alerts");

        // Group labels, a scheme and path from relabeling, a dropped target.
        let relabeled = set(
            "{relabel_configs: [{source_labels: [__address__], regex: 'skip:.*', action: drop}, \
             {source_labels: [tls], regex: 'yes', target_label: __scheme__, replacement: https}, \
             {source_labels: [p], regex: '(.+)', target_label: __alerts_path__, replacement: 'p/$1'}]}",
        );
        let g = group(&["a:1", "skip:2"], &[("tls", "yes"), ("p", "in")]);
        let (active, dropped) = from_group(&g, &relabeled).unwrap();
        assert_eq!(active, ["https://a:1/p/in"]);
        assert_eq!(dropped, ["http://skip:2/api/v2/alerts"]);
        // An address with a slash refuses the whole group.
        let bad = from_group(&group(&["a:1", "http://b:2"], &[]), &plain).unwrap_err();
        assert_eq!(bad, "\"http://b:2\" is not a valid hostname");
    }

    #[tokio::test]
    async fn static_and_file_alertmanagers_are_discovered_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("am.yml");
        std::fs::write(&file, "- targets: ['f:1', 's:1']\n").unwrap();
        let text = format!(
            "alerting:\n  alertmanagers:\n  - static_configs: [{{targets: ['s:1'], labels: {{x: y}}}}]\n    \
             file_sd_configs: [{{files: ['{}']}}]\n  - static_configs: [{{targets: ['t:1']}}]\n",
            file.display()
        );
        let config = crate::config::parse_with_env(&text, "/d/c.yml", &|_| None).unwrap();
        let view: Arc<RwLock<Vec<AlertmanagersView>>> = Arc::default();
        let metrics = SdMetrics::default();
        let mut forwarder = Forwarder::new(
            config.alerting.alertmanagers.clone(),
            reqwest::Client::new(),
            ForwardOptions::default(),
            NotifyMetrics::default(),
        )
        .with_discovery(vec![Vec::new(), Vec::new()], metrics, view.clone());
        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        forwarder
            .start_discovery(&cancel, &mut tasks, &Arc::new(Notify::new()))
            .await;
        let got = view.read().clone();
        assert_eq!(
            got[0].active,
            ["http://s:1/api/v2/alerts", "http://f:1/api/v2/alerts"]
        );
        assert_eq!(got[1].active, ["http://t:1/api/v2/alerts"]);
        cancel.cancel();
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_sets_own_alert_relabel_configs_apply_to_it_only() {
        type Seen = Arc<parking_lot::Mutex<Vec<(String, String)>>>;
        let seen: Seen = Arc::default();
        let record = |axum::extract::State(seen): axum::extract::State<Seen>,
                      uri: axum::http::Uri,
                      body: String| async move {
            seen.lock().push((uri.path().to_owned(), body));
            ""
        };
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::post(record))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let text = format!(
            "alerting:\n  alertmanagers:\n  - {{path_prefix: /a, static_configs: [{{targets: ['{addr}']}}]}}\n  \
             - path_prefix: /b\n    static_configs: [{{targets: ['{addr}']}}]\n    \
             alert_relabel_configs: [{{source_labels: [alertname], regex: Quiet, action: drop}}, \
             {{target_label: set, replacement: b}}]\n"
        );
        let config = crate::config::parse_with_env(&text, "/d/c.yml", &|_| None).unwrap();
        let forwarder = Forwarder::new(
            config.alerting.alertmanagers.clone(),
            reqwest::Client::new(),
            ForwardOptions::default(),
            NotifyMetrics::default(),
        );
        let (tx, rx) = mpsc::channel(8);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(forwarder.run(rx, cancel.clone()));
        let t = Utc::now();
        tx.send(NotifyAlert::firing(
            Labels::from_pairs([("alertname", "Quiet")]),
            t,
        ))
        .await
        .unwrap();
        for _ in 0..200 {
            if !seen.lock().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tx.send(NotifyAlert::firing(
            Labels::from_pairs([("alertname", "Loud")]),
            t,
        ))
        .await
        .unwrap();
        for _ in 0..200 {
            if seen.lock().len() >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        task.await.unwrap();
        server.abort();
        let mut got = seen.lock().clone();
        got.sort();
        let got: Vec<(String, bool, bool)> = got
            .into_iter()
            .map(|(p, b)| (p, b.contains("Quiet"), b.contains(r#""set":"b""#)))
            .collect();
        assert_eq!(
            got,
            [
                ("/a/api/v2/alerts".to_owned(), false, false),
                ("/a/api/v2/alerts".to_owned(), true, false),
                ("/b/api/v2/alerts".to_owned(), false, true),
            ]
        );
    }

    #[test]
    fn body_as_prometheus_sends_it() {
        let t = Utc.with_ymd_and_hms(2026, 8, 21, 14, 30, 0).unwrap();
        let mut a = NotifyAlert::firing(Labels::from_pairs([("alertname", "A"), ("x", "<y>")]), t);
        a.annotations.insert("summary".into(), "s".into());
        a.generator_url = "http://wf/graph?g0.expr=up&g0.tab=1".into();
        let now = t + chrono::Duration::seconds(30);
        let firing = body(&[&a], now, Duration::from_secs(240));
        assert_eq!(
            firing,
            concat!(
                r#"[{"labels":{"alertname":"A","x":"\u003cy\u003e"},"annotations":{"summary":"s"},"#,
                r#""startsAt":"2026-08-21T14:30:00.000Z","endsAt":"2026-08-21T14:34:30.000Z","#,
                r#""generatorURL":"http://wf/graph?g0.expr=up\u0026g0.tab=1"}]"#
            )
        );
        a.status = AlertStatus::Resolved;
        a.ends_at = Some(t + chrono::Duration::seconds(10));
        let resolved = body(&[&a], now, Duration::from_secs(240));
        assert!(
            resolved.contains(r#""endsAt":"2026-08-21T14:30:10.000Z""#),
            "{resolved}"
        );
    }
}
