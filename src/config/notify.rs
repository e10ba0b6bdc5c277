//! Notification sections, in Alertmanager's vocabulary: `route`, `receivers` (see
//! `receivers.rs`), `inhibit_rules`, `templates`, and Prometheus' `alerting.alertmanagers`.
//!
//! The route tree is kept as written (unset options stay `None`); `notify::route` applies
//! inheritance and defaults. Checks follow Alertmanager's `config.Load`: the root route needs a
//! receiver and no matchers, every receiver named must exist, `group_by: ['...']` stands alone,
//! intervals are not zero, time intervals named by routes exist (`time_intervals.rs`) and the
//! root names none.

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::{self, Authorization, BasicAuth, RawAuthorization, RawBasicAuth};
use super::receivers::{self, RawReceiver, ReceiverConfig};
use super::scrape::Scheme;
use super::time_intervals::{self, RawNamedInterval, TimeIntervalConfig};
use super::validate;
use crate::model::matcher_text::{compare, matcher_string, parse_matchers};
use crate::model::Matcher;
use serde::{Serialize, Serializer};
use std::collections::HashSet;
use std::fmt;

yaml_section! {
    /// A `route` node as written.
    pub(crate) struct RawRoute {
        receiver: String,
        matchers: Vec<At<String>>,
        match_ as "match": Entries<String>,
        match_re: Entries<String>,
        group_by: Vec<At<String>>,
        group_wait: PromDuration,
        group_interval: PromDuration,
        repeat_interval: PromDuration,
        continue_ as "continue": bool,
        routes: Vec<At<RawRoute>>,
        mute_time_intervals: Vec<At<String>>,
        active_time_intervals: Vec<At<String>>,
    }
}

yaml_section! {
    /// An `inhibit_rules` entry as written.
    pub(crate) struct RawInhibitRule {
        source_matchers: Vec<At<String>>,
        target_matchers: Vec<At<String>>,
        equal: Vec<At<String>>,
    }
}

yaml_section! {
    /// `alerting` as written (Prometheus).
    pub(crate) struct RawAlerting {
        alertmanagers: Vec<At<RawAlertmanager>>,
        alert_relabel_configs: Vec<At<super::relabel::RawRelabelConfig>>,
    }
}

yaml_section! {
    /// One `alerting.alertmanagers` entry as written.
    pub(crate) struct RawAlertmanager {
        static_configs: Vec<At<RawTargets>>,
        file_sd_configs: Vec<At<super::sd::RawFileSdConfig>>,
        http_sd_configs: Vec<At<super::sd::RawHttpSdConfig>>,
        dns_sd_configs: Vec<At<super::sd_dns::RawDnsSdConfig>>,
        relabel_configs: Vec<At<super::relabel::RawRelabelConfig>>,
        alert_relabel_configs: Vec<At<super::relabel::RawRelabelConfig>>,
        tls_config: super::http::RawTlsConfig,
        scheme: String,
        path_prefix: String,
        timeout: PromDuration,
        api_version: String,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
    }
}

yaml_section! {
    /// A `static_configs` entry of an Alertmanager set.
    pub(crate) struct RawTargets {
        targets: Vec<At<String>>,
        labels: Entries<String>,
    }
}

/// A list of label matchers (Alertmanager syntax), sorted as Alertmanager sorts them.
///
/// Compares and serializes by its text, so configs stay comparable and printable.
#[derive(Clone, Debug, Default)]
pub struct MatcherList(pub Vec<Matcher>);

impl MatcherList {
    /// Each matcher as Alertmanager prints it.
    pub fn strings(&self) -> Vec<String> {
        self.0.iter().map(matcher_string).collect()
    }

    /// True when there are no matchers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for MatcherList {
    fn eq(&self, other: &Self) -> bool {
        self.strings() == other.strings()
    }
}

impl Serialize for MatcherList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.strings().serialize(serializer)
    }
}

/// How a route groups alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// By these label names (empty: one group for everything).
    Labels(Vec<String>),
    /// `['...']`: by every label, so each alert is its own group.
    All,
}

impl Serialize for GroupBy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            GroupBy::Labels(names) => names.serialize(serializer),
            GroupBy::All => ["..."].serialize(serializer),
        }
    }
}

/// A node of the routing tree, as written: unset options inherit from the parent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RouteConfig {
    /// The receiver for alerts this route takes (required at the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Matchers an alert must satisfy (`matchers`, plus the older `match`/`match_re`).
    #[serde(skip_serializing_if = "MatcherList::is_empty")]
    pub matchers: MatcherList,
    /// Labels to group by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    /// How long to wait before the first notification of a new group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<PromDuration>,
    /// How long to wait before notifying about changes in a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<PromDuration>,
    /// How long to wait before repeating an unchanged notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<PromDuration>,
    /// Keep matching later siblings after this route matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Child routes, tried in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Time intervals during which this route sends nothing (not inherited).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside which this route sends nothing (not inherited).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
}

/// Alertmanager's default `group_wait`.
pub const DEFAULT_GROUP_WAIT: PromDuration = PromDuration::from_secs(30);
/// Alertmanager's default `group_interval`.
pub const DEFAULT_GROUP_INTERVAL: PromDuration = PromDuration::from_secs(5 * 60);
/// Alertmanager's default `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL: PromDuration = PromDuration::from_secs(4 * 60 * 60);

/// Mutes target alerts while a source alert fires.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InhibitRule {
    /// Matchers for the alerts that mute.
    pub source_matchers: MatcherList,
    /// Matchers for the alerts that get muted.
    pub target_matchers: MatcherList,
    /// Labels whose values must be equal in source and target.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

/// Prometheus' `alerting` section: where to forward alerts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertingConfig {
    /// Alertmanager sets; each alert goes to every target of every set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Relabeling applied to every alert before it is forwarded; an alert a rule drops is not
    /// sent.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "super::relabel::serialize_rules"
    )]
    pub alert_relabel_configs: Vec<crate::model::relabel::RelabelConfig>,
}

/// One set of Alertmanagers sharing connection settings, found as Prometheus' notifier finds
/// them: each discovered target's labels, plus `__scheme__` (`scheme`) and `__alerts_path__`
/// (`path_prefix` + `/api/v2/alerts`), go through `relabel_configs`; the result's `__scheme__`,
/// `__address__` and `__alerts_path__` make the URL alerts are posted to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// `host:port` of each statically listed Alertmanager (every `static_configs` entry).
    pub targets: Vec<String>,
    /// The `static_configs` entries with their labels.
    #[serde(skip)]
    pub static_configs: Vec<super::scrape::StaticConfig>,
    /// Alertmanagers read from files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<super::sd::FileSdConfig>,
    /// Alertmanagers fetched over HTTP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<super::sd::HttpSdConfig>,
    /// Alertmanagers from DNS records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<super::sd_dns::DnsSdConfig>,
    /// Relabeling of each discovered Alertmanager's labels (a dropped one is not sent to).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "super::relabel::serialize_rules"
    )]
    pub relabel_configs: Vec<crate::model::relabel::RelabelConfig>,
    /// Relabeling of the alerts sent to this set only, after `alerting.alert_relabel_configs`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "super::relabel::serialize_rules"
    )]
    pub alert_relabel_configs: Vec<crate::model::relabel::RelabelConfig>,
    /// TLS settings for `https` Alertmanagers.
    pub tls_config: super::http::TlsConfig,
    /// `http` (default) or `https`.
    pub scheme: Scheme,
    /// Prefix before `/api/v2/alerts` (default empty).
    pub path_prefix: String,
    /// Per-request timeout (10s).
    pub timeout: PromDuration,
    /// Always `v2` (v1 was removed from Alertmanager).
    pub api_version: String,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
}

impl AlertmanagerConfig {
    /// The default per-request timeout.
    pub const DEFAULT_TIMEOUT: PromDuration = PromDuration::from_secs(10);

    /// The `POST` URL for alerts at `target`, before relabeling.
    pub fn alerts_url(&self, target: &str) -> String {
        format!("{}://{target}{}", self.scheme, self.alerts_path())
    }

    /// `__alerts_path__` before relabeling: Go's `path.Join("/", path_prefix,
    /// "/api/v2/alerts")`.
    pub fn alerts_path(&self) -> String {
        let mut out = String::new();
        for segment in format!("{}/api/{}/alerts", self.path_prefix, self.api_version).split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    if let Some(i) = out.rfind('/') {
                        out.truncate(i);
                    }
                }
                s => {
                    out.push('/');
                    out.push_str(s);
                }
            }
        }
        out
    }
}

/// The notification sections of a config, with every reference checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct NotifySections {
    pub route: Option<RouteConfig>,
    pub receivers: Vec<ReceiverConfig>,
    pub inhibit_rules: Vec<InhibitRule>,
    pub templates: Vec<String>,
    pub alerting: AlertingConfig,
    pub mute_time_intervals: Vec<TimeIntervalConfig>,
    pub time_intervals: Vec<TimeIntervalConfig>,
}

/// The raw notification sections, as `RawConfig` holds them.
pub(crate) struct RawNotify {
    pub route: Option<At<RawRoute>>,
    pub receivers: Option<At<Vec<At<RawReceiver>>>>,
    pub inhibit_rules: Option<At<Vec<At<RawInhibitRule>>>>,
    pub templates: Option<At<Vec<At<String>>>>,
    pub alerting: Option<At<RawAlerting>>,
    pub mute_time_intervals: Option<At<Vec<At<RawNamedInterval>>>>,
    pub time_intervals: Option<At<Vec<At<RawNamedInterval>>>>,
}

/// Resolves and cross-checks the notification sections.
pub(crate) fn resolve(raw: RawNotify, cx: &mut Cx<'_>) -> NotifySections {
    let raw_receivers = raw.receivers.map(|r| r.value).unwrap_or_default();
    let receivers: Vec<ReceiverConfig> = raw_receivers
        .into_iter()
        .enumerate()
        .map(|(i, r)| receivers::resolve(r, i, cx))
        .collect();
    let names = receivers::check_names(&receivers, cx);
    receivers::check_fallbacks(&receivers, &names, cx);
    let (mute_time_intervals, time_intervals, interval_names) =
        time_intervals::resolve(raw.mute_time_intervals, raw.time_intervals, cx);
    let known = Known {
        receivers: &names,
        time_intervals: &interval_names,
    };

    let route = match raw.route {
        Some(root) => {
            let pos = root.pos;
            let route = resolve_route(root, "route", true, &known, cx);
            if route.receiver.is_none() {
                let kind = ErrorKind::Missing {
                    path: "route.receiver".to_owned(),
                };
                cx.error(pos, kind);
            }
            Some(route)
        }
        None => {
            if let Some(first) = receivers.first() {
                let message = "receivers are defined but there is no route to send alerts to them";
                problem(cx, first.pos, format!("route: {message}"));
            }
            None
        }
    };
    NotifySections {
        route,
        receivers,
        inhibit_rules: raw
            .inhibit_rules
            .map(|r| r.value)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, r)| inhibit_rule(r.value, i, cx))
            .collect(),
        templates: raw
            .templates
            .map(|t| t.value.into_iter().map(|t| t.value).collect())
            .unwrap_or_default(),
        alerting: alerting(raw.alerting, cx),
        mute_time_intervals,
        time_intervals,
    }
}

/// The names a route may refer to.
struct Known<'a> {
    receivers: &'a HashSet<String>,
    time_intervals: &'a HashSet<String>,
}

/// Reports `text`, written as `path: message`, at `pos`.
pub(crate) fn problem(cx: &mut Cx<'_>, pos: super::node::Pos, text: impl AsRef<str>) {
    let text = text.as_ref();
    let (path, message) = text.split_once(": ").unwrap_or(("config", text));
    let kind = ErrorKind::InvalidValue {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    cx.error(pos, kind);
}

/// Parses a list of matcher strings, reporting each bad one at its position.
pub(crate) fn matcher_list(
    raw: Option<At<Vec<At<String>>>>,
    path: &str,
    cx: &mut Cx<'_>,
) -> MatcherList {
    let mut out = Vec::new();
    for item in raw.map(|r| r.value).unwrap_or_default() {
        match parse_matchers(&item.value) {
            Ok(ms) => out.extend(ms),
            Err(e) => problem(cx, item.pos, format!("{path}: {e}")),
        }
    }
    out.sort_by(compare);
    MatcherList(out)
}

fn resolve_route(
    raw: At<RawRoute>,
    path: &str,
    root: bool,
    known: &Known<'_>,
    cx: &mut Cx<'_>,
) -> RouteConfig {
    let raw = raw.value;
    let receiver = raw.receiver.and_then(|r| {
        if !known.receivers.contains(&r.value) {
            problem(
                cx,
                r.pos,
                format!(
                    "{path}.receiver: undefined receiver {:?} used in route",
                    r.value
                ),
            );
        }
        (!r.value.is_empty()).then_some(r.value)
    });
    let mut matchers = matcher_list(raw.matchers.clone(), &format!("{path}.matchers"), cx).0;
    for (field, regex) in [(raw.match_, false), (raw.match_re, true)] {
        for (name, value) in field.map(|f| f.value.0).unwrap_or_default() {
            if !validate::is_valid_label_name(&name.value) {
                problem(
                    cx,
                    name.pos,
                    format!("{path}: invalid label name {:?}", name.value),
                );
                continue;
            }
            let m = if regex {
                Matcher::regex(name.value, &value.value)
            } else {
                Ok(Matcher::equal(name.value, value.value))
            };
            match m {
                Ok(m) => matchers.push(m),
                Err(e) => problem(cx, value.pos, format!("{path}.match_re: {e}")),
            }
        }
    }
    matchers.sort_by(compare);
    if root && !matchers.is_empty() {
        let pos = raw.matchers.as_ref().map(|m| m.pos).unwrap_or_default();
        problem(
            cx,
            pos,
            "route.matchers: root route must not have any matchers",
        );
    }
    if root {
        if let Some(c) = raw.continue_.as_ref().filter(|c| c.value) {
            problem(
                cx,
                c.pos,
                "route.continue: cannot have continue in root route",
            );
        }
    }
    let group_by = raw.group_by.map(|g| group_by(g, path, cx));
    for (field, value) in [
        ("group_interval", &raw.group_interval),
        ("repeat_interval", &raw.repeat_interval),
    ] {
        if let Some(v) = value.as_ref().filter(|v| v.value.is_zero()) {
            problem(cx, v.pos, format!("{path}.{field}: cannot be zero"));
        }
    }
    let routes = raw
        .routes
        .map(|r| r.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| resolve_route(r, &format!("{path}.routes[{i}]"), false, known, cx))
        .collect();
    let mut intervals = [Vec::new(), Vec::new()];
    for (slot, (field, kind, list)) in [
        ("mute_time_intervals", "mute", raw.mute_time_intervals),
        ("active_time_intervals", "active", raw.active_time_intervals),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(list) = list else { continue };
        if root && !list.value.is_empty() {
            let message = format!("root route must not have any {kind} time intervals");
            problem(cx, list.pos, format!("{path}.{field}: {message}"));
        }
        for name in list.value {
            if !known.time_intervals.contains(&name.value) {
                let message = format!("undefined time interval {:?} used in route", name.value);
                problem(cx, name.pos, format!("{path}.{field}: {message}"));
            }
            intervals[slot].push(name.value);
        }
    }
    let [mute_time_intervals, active_time_intervals] = intervals;
    RouteConfig {
        receiver,
        matchers: MatcherList(matchers),
        group_by,
        group_wait: raw.group_wait.map(|g| g.value),
        group_interval: raw.group_interval.map(|g| g.value),
        repeat_interval: raw.repeat_interval.map(|g| g.value),
        continue_matching: raw.continue_.is_some_and(|c| c.value),
        routes,
        mute_time_intervals,
        active_time_intervals,
    }
}

fn group_by(raw: At<Vec<At<String>>>, path: &str, cx: &mut Cx<'_>) -> GroupBy {
    let mut names: Vec<String> = Vec::new();
    let mut all = false;
    for name in &raw.value {
        if name.value == "..." {
            all = true;
        } else if !validate::is_valid_label_name(&name.value) {
            problem(
                cx,
                name.pos,
                format!("{path}.group_by: invalid label name {:?}", name.value),
            );
        } else if names.contains(&name.value) {
            problem(
                cx,
                name.pos,
                format!("{path}.group_by: duplicated label {:?}", name.value),
            );
        } else {
            names.push(name.value.clone());
        }
    }
    if all && raw.value.len() > 1 {
        let message = "cannot have wildcard group_by ('...') and other labels at the same time";
        problem(cx, raw.pos, format!("{path}.group_by: {message}"));
    }
    if all {
        GroupBy::All
    } else {
        names.sort();
        GroupBy::Labels(names)
    }
}

fn inhibit_rule(raw: RawInhibitRule, index: usize, cx: &mut Cx<'_>) -> InhibitRule {
    let path = format!("inhibit_rules[{index}]");
    let mut equal = Vec::new();
    for name in raw.equal.map(|e| e.value).unwrap_or_default() {
        if validate::is_valid_label_name(&name.value) {
            equal.push(name.value);
        } else {
            problem(
                cx,
                name.pos,
                format!("{path}.equal: invalid label name {:?}", name.value),
            );
        }
    }
    InhibitRule {
        source_matchers: matcher_list(raw.source_matchers, &format!("{path}.source_matchers"), cx),
        target_matchers: matcher_list(raw.target_matchers, &format!("{path}.target_matchers"), cx),
        equal,
    }
}

fn alerting(raw: Option<At<RawAlerting>>, cx: &mut Cx<'_>) -> AlertingConfig {
    let raw = raw.map(|r| r.value).unwrap_or_default();
    let sets = raw.alertmanagers.map(|a| a.value).unwrap_or_default();
    let alertmanagers = sets
        .into_iter()
        .enumerate()
        .map(|(i, set)| alertmanager(set.value, i, cx))
        .collect();
    let alert_relabel_configs = super::relabel::relabel_configs(
        raw.alert_relabel_configs,
        "alerting.alert_relabel_configs",
        cx,
    );
    AlertingConfig {
        alertmanagers,
        alert_relabel_configs,
    }
}

fn alertmanager(raw: RawAlertmanager, index: usize, cx: &mut Cx<'_>) -> AlertmanagerConfig {
    let scope = Scope::Section(format!("alerting.alertmanagers[{index}]"));
    let relabel_configs = super::relabel::relabel_configs(
        raw.relabel_configs,
        &format!("{scope}.relabel_configs"),
        cx,
    );
    let alert_relabel_configs = super::relabel::relabel_configs(
        raw.alert_relabel_configs,
        &format!("{scope}.alert_relabel_configs"),
        cx,
    );
    let tls_config = raw
        .tls_config
        .map(|t| http::tls_config(t.value, &scope, cx))
        .unwrap_or_default();
    let mut targets = Vec::new();
    let mut static_configs = Vec::new();
    for sc in raw.static_configs.map(|s| s.value).unwrap_or_default() {
        let list = sc.value.targets.map(|t| t.value).unwrap_or_default();
        // As Prometheus: the addresses are checked only when no relabeling may rewrite them.
        let list = if relabel_configs.is_empty() {
            validate::targets(list, &scope, cx)
        } else {
            list.into_iter().map(|t| t.value).collect()
        };
        let place = format!("labels of {scope}");
        let labels = sc.value.labels.map(|l| l.value).unwrap_or_default();
        let labels = validate::labels(labels, &place, cx);
        targets.extend(list.iter().cloned());
        static_configs.push(super::scrape::StaticConfig {
            targets: list,
            labels,
        });
    }
    let file_sd_configs = raw
        .file_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, f)| super::sd::file_sd(f, &format!("{scope}.file_sd_configs[{i}]"), cx))
        .collect();
    let http_sd_configs = raw
        .http_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, h)| super::sd::http_sd(h, &format!("{scope}.http_sd_configs[{i}]"), &scope, cx))
        .collect();
    let dns_sd_configs = raw
        .dns_sd_configs
        .map(|s| s.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, d)| super::sd_dns::dns_sd(d, &format!("{scope}.dns_sd_configs[{i}]"), cx))
        .collect();
    let scheme = match raw.scheme {
        None => Scheme::Http,
        Some(s) if s.value == "http" => Scheme::Http,
        Some(s) if s.value == "https" => Scheme::Https,
        Some(s) => {
            let kind = ErrorKind::UnknownScheme {
                scheme: s.value,
                scope: scope.clone(),
            };
            cx.error(s.pos, kind);
            Scheme::Http
        }
    };
    let api_version = match raw.api_version {
        None => "v2".to_owned(),
        Some(v) if v.value == "v2" => v.value,
        Some(v) => {
            problem(
                cx,
                v.pos,
                format!(
                    "{scope}.api_version: {:?} is not supported (only v2)",
                    v.value
                ),
            );
            "v2".to_owned()
        }
    };
    let basic_auth = raw
        .basic_auth
        .map(|b| http::basic_auth(b.value, &scope, cx));
    let authorization = raw
        .authorization
        .map(|a| http::authorization(a, &scope, cx));
    if let (Some(_), Some(auth)) = (&basic_auth, &authorization) {
        let kind = ErrorKind::Conflict {
            first: "basic_auth",
            second: "authorization",
            scope,
        };
        cx.error(auth.pos, kind);
    }
    AlertmanagerConfig {
        targets,
        static_configs,
        file_sd_configs,
        http_sd_configs,
        dns_sd_configs,
        relabel_configs,
        alert_relabel_configs,
        tls_config,
        scheme,
        path_prefix: raw.path_prefix.map(|p| p.value).unwrap_or_default(),
        timeout: raw
            .timeout
            .map(|t| t.value)
            .filter(|t| !t.is_zero())
            .unwrap_or(AlertmanagerConfig::DEFAULT_TIMEOUT),
        api_version,
        basic_auth,
        authorization: authorization.map(|a| a.value),
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::All => f.write_str("[...]"),
            GroupBy::Labels(names) => write!(f, "[{}]", names.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests;
