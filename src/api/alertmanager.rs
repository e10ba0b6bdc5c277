//! Alertmanager API v2 alerts, alert groups, receivers and status, in Alertmanager 0.33's wire
//! shapes (`api/v2/openapi.yaml`), so Prometheus, vmalert, Grafana, amtool and scripts can use
//! watchfire as their Alertmanager:
//!
//! - `POST /api/v2/alerts`: Alertmanager's defaults and validation; every valid alert is
//!   taken even when others in the batch are not (400 with the errors, one per line). A body
//!   that is not a JSON array of alerts answers go-swagger's `{"code":400,"message":…}`, an
//!   alert without `labels` 422 `{"code":602,…}`, as Alertmanager does.
//! - `GET /api/v2/alerts` (`filter`, `active`, `silenced`, `inhibited`, `unprocessed`,
//!   `receiver`, `receiver_matchers`) lists watchfire's firing rule alerts and posted alerts.
//!   A rule alert keeps its fingerprint across escalations; its labels show the current
//!   severity. The status is computed at query time, so `unprocessed` never appears;
//!   `mutedBy` is empty here, as in Alertmanager 0.33.
//! - `GET /api/v2/alerts/groups` (the same filters and `muted`): the aggregation groups the
//!   routing tree forms from those alerts. An alert of a group that time intervals muted at
//!   its last flush shows their names in `mutedBy` and the state `suppressed`;
//!   `muted=false` leaves such groups out.
//! - `GET /api/v2/receivers`, `GET /api/v2/status` (`cluster`: `disabled`, or for an HA pair
//!   on etcd its `name` (this replica), `status` (`ready` once a leader is known, else
//!   `settling`) and `peers` (this replica and the leader, without addresses);
//!   `config.original` is the Alertmanager part of the configuration as YAML, secrets as
//!   `<secret>`).

use super::status::StatusInfo;
use crate::config::{Config, InhibitRule, PromDuration, RouteConfig, TimeIntervalConfig};
use crate::model::matcher_text::{matches_all, parse_matchers};
use crate::model::{Labels, Matcher};
use crate::notify::api_alerts::{ListedAlert, PostedAlert};
use crate::notify::{AlertState, NotifierHandle, PostError};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the Alertmanager handlers read.
#[derive(Clone)]
struct AmState {
    notifier: Arc<NotifierHandle>,
    status: Arc<StatusInfo>,
}

/// The Alertmanager alert, group, receiver and status routes, to merge into the main router.
pub fn alertmanager_router(notifier: Arc<NotifierHandle>, status: Arc<StatusInfo>) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(list_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(list_groups))
        .route("/api/v2/receivers", get(receivers))
        .route("/api/v2/status", get(am_status))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .with_state(AmState { notifier, status })
}

/// `GET /api/v1/alertmanagers` (Prometheus): the Alertmanagers alerts are forwarded to and
/// those `relabel_configs` dropped, over every `alerting.alertmanagers` set.
async fn alertmanagers(State(s): State<AmState>) -> super::response::ApiResult {
    use super::response::{ApiError, ApiOk, ErrorType};
    let Some(view) = s.notifier.with_current(|n| n.alertmanagers()).await else {
        return Err(ApiError::new(ErrorType::Internal, "no notifier running"));
    };
    let urls = |list: Vec<String>| -> Vec<Value> {
        list.into_iter().map(|url| json!({ "url": url })).collect()
    };
    Ok(ApiOk::new(json!({
        "activeAlertmanagers": urls(view.active),
        "droppedAlertmanagers": urls(view.dropped),
    })))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(Value::String(message.into()))).into_response()
}

/// go-swagger's error object (body parsing and schema validation).
fn swagger_error(status: StatusCode, code: u16, message: String) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a posted body was refused before validation.
#[derive(Debug, PartialEq)]
enum BodyError {
    /// Not JSON or not the right types (400).
    Parse(String),
    /// A required field is missing (422).
    Required(String),
}

/// One alert as posted, before defaults.
#[derive(Debug, Default, PartialEq)]
struct RawAlert {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    generator_url: String,
}

/// How Go's `encoding/json` names a JSON value's kind in its errors.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_body(body: &[u8]) -> Result<Vec<RawAlert>, BodyError> {
    let parse = |why: String| {
        BodyError::Parse(format!(
            "parsing alerts body from \"\" failed, because {why}"
        ))
    };
    let v: Value = serde_json::from_slice(body).map_err(|e| parse(e.to_string()))?;
    let Value::Array(items) = v else {
        return Err(parse(format!(
            "json: cannot unmarshal {} into Go value of type models.PostableAlerts",
            go_kind(&v)
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(parse(format!("alert {i} is not an object")));
        };
        let set = |key: &str| -> Result<Option<Vec<(String, String)>>, BodyError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k.clone(), s.clone())),
                        other => Err(parse(format!(
                            "json: cannot unmarshal {} into Go struct field Alert.{key}.{k} of type string",
                            go_kind(other)
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(parse(format!("{i}.{key} must be an object"))),
            }
        };
        let when = |key: &str| -> Result<Option<DateTime<Utc>>, BodyError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| parse(format!("parsing time {s:?}: {e}"))),
                Some(_) => Err(parse(format!("{i}.{key} must be of type date-time"))),
            }
        };
        let Some(labels) = set("labels")? else {
            return Err(BodyError::Required(format!(
                "{i}.labels in body is required"
            )));
        };
        let generator_url = match obj.get("generatorURL") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(parse(format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    go_kind(other)
                )))
            }
        };
        out.push(RawAlert {
            labels,
            annotations: set("annotations")?.unwrap_or_default(),
            starts_at: when("startsAt")?,
            ends_at: when("endsAt")?,
            generator_url,
        });
    }
    Ok(out)
}

/// Alertmanager's `postAlertsHandler` defaults and `Alert.Validate`: the valid alerts, and the
/// errors of the others.
fn validate(
    raw: Vec<RawAlert>,
    now: DateTime<Utc>,
    resolve_timeout: chrono::Duration,
) -> (Vec<PostedAlert>, Vec<String>) {
    let mut valid = Vec::with_capacity(raw.len());
    let mut errors = Vec::new();
    for a in raw {
        let starts_at = a.starts_at.unwrap_or(a.ends_at.unwrap_or(now));
        let timeout = a.ends_at.is_none();
        let ends_at = a
            .ends_at
            .unwrap_or_else(|| now.checked_add_signed(resolve_timeout).unwrap_or(now));
        let labels: Vec<(String, String)> = a
            .labels
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let invalid_name = |set: &[(String, String)]| {
            set.iter()
                .find(|(k, _)| k.is_empty())
                .map(|(k, _)| format!("invalid name {}", crate::gostd::text::quote(k)))
        };
        let problem = if ends_at < starts_at {
            Some("start time must be before end time".to_owned())
        } else if labels.is_empty() {
            Some("at least one label pair required".to_owned())
        } else if let Some(e) = invalid_name(&labels) {
            Some(format!("invalid label set: {e}"))
        } else {
            invalid_name(&a.annotations).map(|e| format!("invalid annotations: {e}"))
        };
        if let Some(p) = problem {
            errors.push(p);
            continue;
        }
        valid.push(PostedAlert {
            labels: Labels::from_pairs(labels),
            annotations: a.annotations.into_iter().collect(),
            starts_at,
            ends_at,
            timeout,
            generator_url: a.generator_url,
        });
    }
    (valid, errors)
}

async fn post_alerts(State(s): State<AmState>, body: Bytes) -> Response {
    let raw = match parse_body(&body) {
        Ok(raw) => raw,
        Err(BodyError::Parse(m)) => return swagger_error(StatusCode::BAD_REQUEST, 400, m),
        Err(BodyError::Required(m)) => {
            return swagger_error(StatusCode::UNPROCESSABLE_ENTITY, 602, m)
        }
    };
    let now = Utc::now();
    let resolve_timeout = s.notifier.alerts().resolve_timeout();
    let (valid, errors) = validate(raw, now, resolve_timeout);
    // Alertmanager answers 500 when its store refuses alerts.
    if let Err(e @ PostError::Full { .. }) = s.notifier.post(valid).await {
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    if !errors.is_empty() {
        return error(StatusCode::BAD_REQUEST, errors.join("\n"));
    }
    StatusCode::OK.into_response()
}

/// The query parameters of `GET /api/v2/alerts` and `/alerts/groups`.
#[derive(Debug)]
struct Filters {
    matchers: Vec<Matcher>,
    receiver: Option<regex::Regex>,
    receiver_matchers: Vec<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
    /// Groups only: include groups muted by time intervals.
    muted: bool,
}

/// go-openapi's `swag.ConvertBool`: these spellings are true, anything else false.
fn convert_bool(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "ok" | "y" | "on" | "selected" | "checked" | "t" | "enabled"
    )
}

fn parse_filters(query: Option<String>) -> Result<Filters, String> {
    let mut f = Filters {
        matchers: Vec::new(),
        receiver: None,
        receiver_matchers: Vec::new(),
        active: true,
        silenced: true,
        inhibited: true,
        muted: true,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "filter" => f
                .matchers
                .extend(parse_matchers(&value).map_err(|e| e.to_string())?),
            "receiver_matchers" => f.receiver_matchers.extend(
                parse_matchers(&value)
                    .map_err(|e| format!("failed to parse receiver_matchers param: {e}"))?,
            ),
            "receiver" => {
                let re = regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("failed to parse receiver param: {e}"))?;
                f.receiver = Some(re);
            }
            "active" => f.active = convert_bool(&value),
            "silenced" => f.silenced = convert_bool(&value),
            "inhibited" => f.inhibited = convert_bool(&value),
            "muted" => f.muted = convert_bool(&value),
            // Status is computed at query time, so no alert is ever unprocessed.
            _ => {}
        }
    }
    Ok(f)
}

/// Alertmanager gives each receiver its name as a label.
fn receiver_labels(name: &str) -> Labels {
    Labels::from_pairs([("name", name)])
}

impl Filters {
    fn receiver_ok(&self, receiver: &str) -> bool {
        self.receiver
            .as_ref()
            .is_none_or(|re| re.is_match(receiver))
            && (self.receiver_matchers.is_empty()
                || matches_all(&self.receiver_matchers, &receiver_labels(receiver)))
    }

    /// Alertmanager's `alertFilter` (the end time is checked by the caller's listing).
    fn alert_ok(&self, a: &ListedAlert, state: &AlertState) -> bool {
        if !matches_all(&self.matchers, &a.alert.labels) {
            return false;
        }
        let suppressed = !state.silenced_by.is_empty() || !state.inhibited_by.is_empty();
        if !self.active && !suppressed {
            return false;
        }
        if !self.silenced && !state.silenced_by.is_empty() {
            return false;
        }
        !(!self.inhibited && !state.inhibited_by.is_empty())
    }
}

fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|l| (l.name.to_string(), Value::String(l.value.to_string())))
            .collect::<Map<_, _>>(),
    )
}

/// A `gettableAlert`; `muted_by` names the time intervals muting its group (groups only).
fn alert_json(a: &ListedAlert, state: &AlertState, muted_by: &[String]) -> Value {
    let suppressed =
        !state.silenced_by.is_empty() || !state.inhibited_by.is_empty() || !muted_by.is_empty();
    let receivers: Vec<Value> = state
        .receivers
        .iter()
        .map(|r| json!({ "name": r }))
        .collect();
    let inhibited_by: Vec<String> = state
        .inhibited_by
        .iter()
        .map(|f| format!("{f:016x}"))
        .collect();
    let mut out = json!({
        "annotations": a.alert.annotations,
        // Alertmanager shows a firing rule alert's Prometheus-given end; watchfire's own
        // alerts have none, which Go writes as its zero time.
        "endsAt": a.ends_at.map_or_else(|| "0001-01-01T00:00:00.000Z".to_owned(), time),
        "fingerprint": a.alert.fingerprint_hex(),
        "receivers": receivers,
        "startsAt": time(a.alert.starts_at),
        "status": {
            "inhibitedBy": inhibited_by,
            "mutedBy": muted_by,
            "silencedBy": state.silenced_by,
            "state": if suppressed { "suppressed" } else { "active" },
        },
        "updatedAt": time(a.updated_at),
        "labels": labels_json(&a.alert.labels),
    });
    if !a.alert.generator_url.is_empty() {
        out["generatorURL"] = Value::String(a.alert.generator_url.clone());
    }
    out
}

async fn list_alerts(State(s): State<AmState>, RawQuery(query): RawQuery) -> Response {
    let f = match parse_filters(query) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = Utc::now();
    let listed = s.notifier.alerts().list(now);
    let out = s
        .notifier
        .with_current(|n| {
            let mut out: Vec<(String, Value)> = Vec::new();
            for a in &listed {
                let state = n.alert_state(&a.alert.labels, now);
                if !state.receivers.iter().any(|r| f.receiver_ok(r)) {
                    continue;
                }
                if !f.alert_ok(a, &state) {
                    continue;
                }
                // Alertmanager 0.33 reports `mutedBy` on groups only.
                out.push((a.alert.fingerprint_hex(), alert_json(a, &state, &[])));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out.into_iter().map(|(_, v)| v).collect::<Vec<_>>()
        })
        .await;
    match out {
        Some(v) => Json(Value::Array(v)).into_response(),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "no notifier running"),
    }
}

async fn list_groups(State(s): State<AmState>, RawQuery(query): RawQuery) -> Response {
    let f = match parse_filters(query) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = Utc::now();
    let listed = s.notifier.alerts().list(now);
    let out = s
        .notifier
        .with_current(|n| {
            // (route index, group labels) → the group
            struct Group {
                labels: Labels,
                receiver: String,
                muted_by: Vec<String>,
                alerts: BTreeMap<String, Value>,
            }
            let mut groups: BTreeMap<(usize, String), Group> = BTreeMap::new();
            for a in &listed {
                let state = n.alert_state(&a.alert.labels, now);
                if !f.alert_ok(a, &state) {
                    continue;
                }
                for route in n.route().match_labels(&a.alert.labels) {
                    if !f.receiver_ok(&route.receiver) {
                        continue;
                    }
                    let group_labels = route.group_labels(&a.alert.labels);
                    let group = groups
                        .entry((route.index, group_labels.to_string()))
                        .or_insert_with(|| Group {
                            muted_by: n.muted_by(route.index, &group_labels),
                            labels: group_labels,
                            receiver: route.receiver.clone(),
                            alerts: BTreeMap::new(),
                        });
                    let json = alert_json(a, &state, &group.muted_by);
                    group.alerts.insert(a.alert.fingerprint_hex(), json);
                }
            }
            groups
                .into_values()
                .filter(|g| f.muted || g.muted_by.is_empty())
                .map(|g| {
                    json!({
                        "alerts": g.alerts.into_values().collect::<Vec<_>>(),
                        "labels": labels_json(&g.labels),
                        "receiver": {"name": g.receiver},
                    })
                })
                .collect::<Vec<_>>()
        })
        .await;
    match out {
        Some(v) => Json(Value::Array(v)).into_response(),
        None => error(StatusCode::INTERNAL_SERVER_ERROR, "no notifier running"),
    }
}

async fn receivers(State(s): State<AmState>, RawQuery(query): RawQuery) -> Response {
    let mut matchers = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key == "receiver_matchers" {
            match parse_matchers(&value) {
                Ok(ms) => matchers.extend(ms),
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("failed to parse receiver_matchers param: {e}"),
                    )
                }
            }
        }
    }
    let out: Vec<Value> = s
        .status
        .alertmanager()
        .receivers
        .iter()
        .filter(|r| matches_all(&matchers, &receiver_labels(r)))
        .map(|r| json!({"labels": {"name": r}, "name": r}))
        .collect();
    Json(Value::Array(out)).into_response()
}

async fn am_status(State(s): State<AmState>) -> Response {
    let am = s.status.alertmanager();
    let cluster = match s.status.ha() {
        None => json!({"peers": [], "status": "disabled"}),
        Some(ha) => {
            let leader = ha.leader();
            let mut peers = vec![json!({"name": ha.replica(), "address": ""})];
            if let Some(l) = leader.as_deref().filter(|l| *l != ha.replica()) {
                peers.push(json!({"name": l, "address": ""}));
            }
            let ready = leader.is_some() && ha.role() != crate::notify::ha::Role::FailOpen;
            json!({
                "name": ha.replica(),
                "peers": peers,
                "status": if ready { "ready" } else { "settling" },
            })
        }
    };
    Json(json!({
        "cluster": cluster,
        "config": {"original": am.original},
        "uptime": time(s.status.started()),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": concat!("watchfire ", env!("CARGO_PKG_VERSION")),
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
    }))
    .into_response()
}

/// The Alertmanager part of a configuration, as `/api/v2/status` and `/api/v2/receivers`
/// show it.
#[derive(Clone, Debug, Default)]
pub struct AlertmanagerView {
    /// `config.original`: Alertmanager YAML, secrets as `<secret>`.
    pub original: String,
    /// Receiver names, in file order.
    pub receivers: Vec<String>,
}

#[derive(Serialize)]
struct AmGlobal {
    resolve_timeout: PromDuration,
}

#[derive(Serialize)]
struct AmDefaultRoute<'a> {
    receiver: &'a str,
    group_by: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(untagged)]
enum AmRoute<'a> {
    Configured(&'a RouteConfig),
    Default(AmDefaultRoute<'a>),
}

#[derive(Serialize)]
struct AmConfig<'a> {
    global: AmGlobal,
    route: AmRoute<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    inhibit_rules: &'a [InhibitRule],
    receivers: Vec<Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    templates: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mute_time_intervals: &'a [TimeIntervalConfig],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    time_intervals: &'a [TimeIntervalConfig],
}

impl AlertmanagerView {
    /// The view of `config`. watchfire's own receiver keys (`fallback_receiver`, `log_configs`)
    /// are left out of `original`; without a `route`, the default log receiver is shown.
    pub fn of(config: &Config) -> AlertmanagerView {
        let default_receiver = crate::notify::route::DEFAULT_RECEIVER;
        let mut receivers: Vec<Value> = config
            .receivers
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.remove("fallback_receiver");
                    m.remove("log_configs");
                    for (kind, configs) in m.iter_mut() {
                        for c in configs.as_array_mut().into_iter().flatten() {
                            alertmanager_integration(kind, c);
                        }
                    }
                }
                v
            })
            .collect();
        let route = match &config.route {
            Some(r) => AmRoute::Configured(r),
            None => {
                receivers.push(json!({ "name": default_receiver }));
                AmRoute::Default(AmDefaultRoute {
                    receiver: default_receiver,
                    group_by: ["alertname"],
                })
            }
        };
        let names = receivers
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect();
        let doc = AmConfig {
            global: AmGlobal {
                resolve_timeout: config.global.resolve_timeout,
            },
            route,
            inhibit_rules: &config.inhibit_rules,
            receivers,
            templates: &config.templates,
            mute_time_intervals: &config.mute_time_intervals,
            time_intervals: &config.time_intervals,
        };
        AlertmanagerView {
            original: serde_saphyr::to_string(&doc)
                .unwrap_or_else(|e| format!("# cannot render config: {e}\n")),
            receivers: names,
        }
    }
}

/// Drops watchfire's own delivery keys (retries, signing) from an integration's settings
/// and writes the email smarthost as Alertmanager's `host:port`.
fn alertmanager_integration(kind: &str, config: &mut Value) {
    let Value::Object(m) = config else { return };
    for key in [
        "max_attempts",
        "max_age",
        "min_backoff",
        "max_backoff",
        "signing_secret",
    ] {
        m.remove(key);
    }
    if kind != "webhook_configs" {
        m.remove("timeout");
    }
    if kind == "pushover_configs" {
        // watchfire's own endpoint setting; Alertmanager has none.
        m.remove("api_url");
    }
    if m.get("headers")
        .is_some_and(|h| h.as_object().is_some_and(Map::is_empty))
    {
        m.remove("headers");
    }
    if kind == "email_configs" {
        let host = m.remove("smarthost_host");
        let port = m.remove("smarthost_port");
        if let (Some(Value::String(host)), Some(port)) = (host, port) {
            m.insert("smarthost".into(), Value::String(format!("{host}:{port}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_are_go_swaggers() {
        assert!(
            matches!(parse_body(b"nope"), Err(BodyError::Parse(m)) if m.starts_with("parsing alerts body from \"\" failed, because"))
        );
        assert!(matches!(parse_body(b"{}"), Err(BodyError::Parse(_))));
        assert_eq!(
            parse_body(b"[{}]"),
            Err(BodyError::Required("0.labels in body is required".into()))
        );
        assert!(matches!(
            parse_body(br#"[{"labels":{"a":"b"},"startsAt":"bad"}]"#),
            Err(BodyError::Parse(_))
        ));
        assert_eq!(
            parse_body(br#"[{"labels":{"a":1}}]"#),
            Err(BodyError::Parse(
                "parsing alerts body from \"\" failed, because json: cannot unmarshal number \
                 into Go struct field Alert.labels.a of type string"
                    .into()
            ))
        );
    }

    #[test]
    fn validation_is_alertmanagers() {
        let now = Utc::now();
        let raw = parse_body(
            br#"[{"labels":{"a":""}},
                 {"labels":{"a":"x"},"startsAt":"2030-01-01T00:00:00Z","endsAt":"2020-01-01T00:00:00Z"},
                 {"labels":{"":"x"}},
                 {"labels":{"a":"x"},"annotations":{"":"y"}},
                 {"labels":{"a b":"x","empty":""},"annotations":{"s":"v"}},
                 {"labels":{"a":"y"},"endsAt":"2020-01-01T00:00:00Z"}]"#,
        )
        .unwrap();
        let (valid, errors) = validate(raw, now, chrono::Duration::minutes(5));
        assert_eq!(
            errors,
            [
                "at least one label pair required",
                "start time must be before end time",
                "invalid label set: invalid name \"\"",
                "invalid annotations: invalid name \"\"",
            ]
        );
        assert_eq!(valid.len(), 2);
        // UTF-8 names are valid; empty values are dropped; the resolve timeout fills endsAt.
        assert_eq!(valid[0].labels, Labels::from_pairs([("a b", "x")]));
        assert!(valid[0].timeout);
        assert_eq!(valid[0].starts_at, now);
        assert_eq!(valid[0].ends_at, now + chrono::Duration::minutes(5));
        // A missing start takes the end.
        assert!(!valid[1].timeout);
        assert_eq!(valid[1].starts_at, valid[1].ends_at);
    }

    #[test]
    fn filters_follow_swagger_and_alertmanager() {
        let f = parse_filters(Some("active=maybe&silenced=false&receiver=we.*".into())).unwrap();
        assert!(!f.active && !f.silenced && f.inhibited);
        assert!(f.receiver_ok("web") && !f.receiver_ok("xweb"));
        let e = parse_filters(Some("receiver=(".into())).unwrap_err();
        assert!(e.starts_with("failed to parse receiver param: "), "{e}");
        assert!(parse_filters(Some("filter=a%3D~%28".into())).is_err());
        let f = parse_filters(Some("receiver_matchers=name%3Dweb".into())).unwrap();
        assert!(f.receiver_ok("web") && !f.receiver_ok("db"));
    }

    #[test]
    fn config_original_is_alertmanager_yaml() {
        let c = crate::config::parse_with_env(
            "global: {resolve_timeout: 1m}\nroute: {receiver: web, group_by: [alertname]}\n\
             receivers:\n- name: web\n  fallback_receiver: log2\n  webhook_configs: [{url: 'http://h/x'}]\n\
             - name: log2\n",
            std::path::Path::new("t.yml"),
            &|_| None,
        )
        .unwrap();
        let v = AlertmanagerView::of(&c);
        assert_eq!(v.receivers, ["web", "log2"]);
        assert!(v.original.contains("resolve_timeout: 1m"), "{}", v.original);
        assert!(!v.original.contains("fallback_receiver"), "{}", v.original);
        assert!(!v.original.contains("scrape"), "{}", v.original);
        {
            // `amtool check-config` accepts this output (checked by tests/am_api.rs).
            let rich = crate::config::parse_with_env(
                "route: {receiver: web}\nreceivers:\n- name: web\n  webhook_configs: [{url: 'http://h/x', \
                 http_config: {basic_auth: {username: u, password: p}}}]\n  slack_configs: [{api_url: 'http://s/x', \
                 channel: '#a'}]\n  email_configs: [{to: a@b.c, from: w@b.c, smarthost: 'mail:25', \
                 auth_password: pw}]\n",
                std::path::Path::new("t.yml"),
                &|_| None,
            )
            .unwrap();
            let yaml = AlertmanagerView::of(&rich).original;
            for gone in [
                "max_attempts",
                "max_backoff",
                "signing_secret",
                "smarthost_host",
                ": p\n",
            ] {
                assert!(!yaml.contains(gone), "{gone} in {yaml}");
            }
            assert!(yaml.contains("smarthost: mail:25"), "{yaml}");
            assert!(yaml.contains("password: <secret>"), "{yaml}");
        }
        {
            let text = "route:\n  receiver: web\n  routes:\n  - receiver: web\n    \
                        mute_time_intervals: [old]\n    active_time_intervals: [new]\n\
                        receivers: [{name: web}]\nmute_time_intervals: [{name: old}]\n\
                        time_intervals:\n- name: new\n  time_intervals:\n  - weekdays: ['monday:friday']\n    \
                        times: [{start_time: '09:00', end_time: '17:00'}]\n    location: Europe/Paris\n";
            let c = crate::config::parse_with_env(text, std::path::Path::new("t.yml"), &|_| None)
                .unwrap();
            let yaml = AlertmanagerView::of(&c).original;
            // The written configuration reads back to the same intervals and routes.
            let again =
                crate::config::parse_with_env(&yaml, std::path::Path::new("o.yml"), &|_| None)
                    .unwrap();
            assert_eq!(again.time_intervals, c.time_intervals, "{yaml}");
            assert_eq!(again.mute_time_intervals, c.mute_time_intervals, "{yaml}");
            assert_eq!(again.route, c.route, "{yaml}");
        }
        let none = AlertmanagerView::of(&Config::default());
        assert_eq!(none.receivers, ["log"]);
        assert!(none.original.contains("receiver: log"), "{}", none.original);
    }
}
