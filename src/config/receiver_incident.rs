//! `pagerduty_configs`, `opsgenie_configs`, `pushover_configs` and `webex_configs`: Alertmanager's keys, defaults
//! and checks (`config/notifiers.go`), plus watchfire's delivery keys (`max_attempts`, ...).
//!
//! The `global` defaults `pagerduty_url`, `opsgenie_api_url`, `opsgenie_api_key(_file)` and
//! `webex_api_url` are applied after the receivers are read ([`apply_globals`]), as
//! Alertmanager's `Config.UnmarshalYAML` does. Keys and text fields are templates; unset texts
//! use the defaults of `notify::integrations::incident_text`.

use super::decode::{yaml_section, At, Cx, Decode, Entries};
use super::duration::PromDuration;
use super::error::Scope;
use super::node::{Node, Pos, Value};
use super::notify::problem;
use super::receiver_types::{DeliveryConfig, HttpClientConfig, ReceiverConfig};
use super::receivers::{delivery, http_config, url_pair, RawDelivery, RawHttpConfig};
use super::secret::{resolve_path, Secret};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Alertmanager's default `global.pagerduty_url`.
pub const DEFAULT_PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Alertmanager's default `global.opsgenie_api_url`.
pub const DEFAULT_OPSGENIE_API_URL: &str = "https://api.opsgenie.com/";
/// Alertmanager's default `global.webex_api_url`.
pub const DEFAULT_WEBEX_API_URL: &str = "https://webexapis.com/v1/messages";

/// The `global` keys of these integrations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncidentGlobals {
    /// `pagerduty_url` (Events API v2 endpoint).
    pub pagerduty_url: Option<String>,
    /// `opsgenie_api_url`.
    pub opsgenie_api_url: Option<String>,
    /// `opsgenie_api_key`.
    pub opsgenie_api_key: Option<Secret>,
    /// `opsgenie_api_key_file`.
    pub opsgenie_api_key_file: Option<PathBuf>,
    /// `webex_api_url`.
    pub webex_api_url: Option<String>,
}

/// A free-form YAML value (PagerDuty `details`), as JSON.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct AnyValue(pub serde_json::Value);

impl Decode for AnyValue {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        fn convert(node: &Node, cx: &mut Cx<'_>) -> Option<serde_json::Value> {
            use serde_json::Value as J;
            Some(match &node.value {
                Value::Null => J::Null,
                Value::Bool(b) => J::Bool(*b),
                Value::Int(i) => match i64::try_from(*i) {
                    Ok(i) => J::from(i),
                    Err(_) => J::from(*i as f64),
                },
                Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
                Value::Str(_) => J::String(cx.string(node, "a string")?),
                Value::Seq(items) => {
                    J::Array(items.iter().filter_map(|i| convert(i, cx)).collect())
                }
                Value::Map(entries) => {
                    let mut m = serde_json::Map::new();
                    for (k, v) in entries {
                        // Alertmanager (yaml.v2) reads keys such as `no`, `on` or `1` as
                        // booleans and numbers, and then leaves them out of the details.
                        if !matches!(&k.value, Value::Str(s) if crate::gostd::yaml::plain_scalar(s).is_string())
                        {
                            continue;
                        }
                        let key = cx.key(k)?;
                        if let Some(v) = convert(v, cx) {
                            m.insert(key, v);
                        }
                    }
                    J::Object(m)
                }
            })
        }
        convert(node, cx).map(AnyValue)
    }
}

yaml_section! {
    /// A PagerDuty `links` entry.
    pub(crate) struct RawPagerdutyLink {
        href: String,
        text: String,
    }
}

yaml_section! {
    /// A PagerDuty `images` entry.
    pub(crate) struct RawPagerdutyImage {
        src: String,
        alt: String,
        href: String,
    }
}

yaml_section! {
    /// A `pagerduty_configs` entry as written.
    pub(crate) struct RawPagerduty {
        send_resolved: bool,
        http_config: RawHttpConfig,
        service_key: String,
        service_key_file: String,
        routing_key: String,
        routing_key_file: String,
        url: String,
        client: String,
        client_url: String,
        description: String,
        details: Entries<AnyValue>,
        images: Vec<At<RawPagerdutyImage>>,
        links: Vec<At<RawPagerdutyLink>>,
        source: String,
        severity: String,
        class: String,
        component: String,
        group: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// An Opsgenie `responders` entry.
    pub(crate) struct RawOpsgenieResponder {
        id: String,
        name: String,
        username: String,
        type_ as "type": String,
    }
}

yaml_section! {
    /// An `opsgenie_configs` entry as written.
    pub(crate) struct RawOpsgenie {
        send_resolved: bool,
        http_config: RawHttpConfig,
        api_key: String,
        api_key_file: String,
        api_url: String,
        message: String,
        description: String,
        source: String,
        details: Entries<String>,
        entity: String,
        responders: Vec<At<RawOpsgenieResponder>>,
        actions: String,
        tags: String,
        note: String,
        priority: String,
        update_alerts: bool,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `webex_configs` entry as written.
    pub(crate) struct RawWebex {
        send_resolved: bool,
        http_config: RawHttpConfig,
        api_url: String,
        message: String,
        room_id: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `pushover_configs` entry as written.
    pub(crate) struct RawPushover {
        send_resolved: bool,
        http_config: RawHttpConfig,
        user_key: String,
        user_key_file: String,
        token: String,
        token_file: String,
        title: String,
        message: String,
        url: String,
        url_title: String,
        device: String,
        sound: String,
        priority: String,
        retry: PromDuration,
        expire: PromDuration,
        ttl: PromDuration,
        html: bool,
        monospace: bool,
        api_url: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

/// A PagerDuty link (templates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PagerdutyLink {
    /// Link target.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub href: String,
    /// Link text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// A PagerDuty image (templates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PagerdutyImage {
    /// Image URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    /// Alternative text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alt: String,
    /// Link target.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub href: String,
}

/// A PagerDuty integration: Events API v2 (`routing_key`) or v1 (`service_key`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PagerdutyConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// Events API v1 integration key (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_key: Option<Secret>,
    /// A file holding the v1 key, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_key_file: Option<PathBuf>,
    /// Events API v2 routing key (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<Secret>,
    /// A file holding the v2 key, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_key_file: Option<PathBuf>,
    /// The v2 endpoint (`global.pagerduty_url` when unset). Alertmanager sends v1 events to
    /// PagerDuty's fixed v1 endpoint; watchfire does too unless `url` is set here.
    pub url: String,
    /// Whether `url` was written in this entry.
    #[serde(skip)]
    pub url_set: bool,
    /// Client name (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Client link (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_url: Option<String>,
    /// Summary / description (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Custom details; string values are templates. `firing`, `resolved`, `num_firing` and
    /// `num_resolved` are added when not configured.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    /// Images.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PagerdutyImage>,
    /// Links.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<PagerdutyLink>,
    /// Source (template; default: the client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Severity (template; default `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Class (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Component (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Group (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// An Opsgenie responder (templates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpsgenieResponder {
    /// Responder id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Responder name (`teams`: a comma-separated list of team names).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// User name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// `team`, `teams`, `user`, `escalation` or `schedule`.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// An Opsgenie integration (Alert API v2: create, close, and with `update_alerts` update).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpsgenieConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// API key (template; `global.opsgenie_api_key` when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// A file holding the key, read at each send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// API base URL, ending in `/` (`global.opsgenie_api_url` when unset).
    pub api_url: String,
    /// Alert message (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Description (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Source (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Extra details (templates), on top of the common labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// Entity (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Responders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<OpsgenieResponder>,
    /// Comma-separated actions (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<String>,
    /// Comma-separated tags (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// Note (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Priority, P1 to P5 (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Also update the message and description of an existing alert.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub update_alerts: bool,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
    #[serde(skip)]
    pub(crate) pos: Pos,
}

/// A Webex message to a room.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebexConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials: `authorization` (or `bearer_token`) is required.
    pub http_config: HttpClientConfig,
    /// The messages endpoint (`global.webex_api_url` when unset).
    pub api_url: String,
    /// Markdown message (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Room id (template).
    pub room_id: String,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// A Pushover message (`POST` with the parameters in the query string).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushoverConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// The recipient's user key (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_key: Option<Secret>,
    /// A file holding the user key, read at each send (not trimmed, as Alertmanager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_key_file: Option<PathBuf>,
    /// The application token (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// A file holding the token, read at each send (not trimmed, as Alertmanager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Title (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Supplementary URL (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its title (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_title: Option<String>,
    /// Device (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Sound (template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// Priority (template; default 2 when firing, 0 when resolved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// How often an emergency notification is repeated (1m).
    pub retry: PromDuration,
    /// When emergency repeats stop (1h).
    pub expire: PromDuration,
    /// Message lifetime (0: unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub ttl: PromDuration,
    /// The message is HTML (its template escapes as `html/template`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub html: bool,
    /// Monospace message.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub monospace: bool,
    /// watchfire's own: the messages endpoint (default Pushover's; Alertmanager has no key).
    pub api_url: String,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

fn is_zero(d: &PromDuration) -> bool {
    d.is_zero()
}

/// Pushover's messages endpoint, as Alertmanager uses it.
pub const DEFAULT_PUSHOVER_API_URL: &str = "https://api.pushover.net/1/messages.json";

fn text(f: Option<At<String>>) -> Option<String> {
    f.map(|f| f.value)
}

fn raw_delivery(
    timeout: Option<At<PromDuration>>,
    max_attempts: Option<At<u64>>,
    max_age: Option<At<PromDuration>>,
    min_backoff: Option<At<PromDuration>>,
    max_backoff: Option<At<PromDuration>>,
) -> RawDelivery {
    RawDelivery {
        timeout,
        max_attempts,
        max_age,
        min_backoff,
        max_backoff,
    }
}

/// An inline value and a `*_file` naming one: the file must exist now; it is read at each send.
fn key_pair(
    inline: Option<At<String>>,
    file: Option<At<String>>,
    names: (&str, &str),
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> (Option<Secret>, Option<PathBuf>) {
    let inline = inline.filter(|i| !i.value.is_empty());
    let file = file.filter(|f| !f.value.is_empty());
    if let (Some(_), Some(f)) = (&inline, &file) {
        problem(
            cx,
            f.pos,
            format!(
                "{scope}: at most one of {} & {} must be configured",
                names.0, names.1
            ),
        );
        return (None, None);
    }
    let path = file.map(|f| {
        let path = resolve_path(cx.dir, &f.value);
        if let Err(e) = std::fs::metadata(&path) {
            problem(
                cx,
                f.pos,
                format!("{scope}: {} {}: {e}", names.1, path.display()),
            );
        }
        path
    });
    (inline.map(|i| Secret::new(i.value)), path)
}

fn optional_url(
    raw: Option<At<String>>,
    name: &str,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> Option<String> {
    let raw = raw?;
    let (url, _) = url_pair(Some(raw), None, (name, ""), Pos::default(), scope, cx);
    url.map(|u| u.expose().to_owned())
}

/// Resolves a `pagerduty_configs` entry.
pub(crate) fn pagerduty(raw: At<RawPagerduty>, scope: &Scope, cx: &mut Cx<'_>) -> PagerdutyConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let any_key = [
        &raw.routing_key,
        &raw.service_key,
        &raw.routing_key_file,
        &raw.service_key_file,
    ]
    .iter()
    .any(|k| k.as_ref().is_some_and(|k| !k.value.is_empty()));
    if !any_key {
        problem(
            cx,
            pos,
            format!("{scope}: missing service or routing key in PagerDuty config"),
        );
    }
    let (routing_key, routing_key_file) = key_pair(
        raw.routing_key,
        raw.routing_key_file,
        ("routing_key", "routing_key_file"),
        scope,
        cx,
    );
    let (service_key, service_key_file) = key_pair(
        raw.service_key,
        raw.service_key_file,
        ("service_key", "service_key_file"),
        scope,
        cx,
    );
    let url_set = raw.url.is_some();
    let url = optional_url(raw.url, "url", scope, cx).unwrap_or_default();
    let details = raw
        .details
        .map(|d| d.value.0)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.value, v.value.0))
        .collect();
    let images = raw
        .images
        .map(|i| i.value)
        .unwrap_or_default()
        .into_iter()
        .map(|i| PagerdutyImage {
            src: i.value.src.map(|v| v.value).unwrap_or_default(),
            alt: i.value.alt.map(|v| v.value).unwrap_or_default(),
            href: i.value.href.map(|v| v.value).unwrap_or_default(),
        })
        .collect();
    let links = raw
        .links
        .map(|l| l.value)
        .unwrap_or_default()
        .into_iter()
        .map(|l| PagerdutyLink {
            href: l.value.href.map(|v| v.value).unwrap_or_default(),
            text: l.value.text.map(|v| v.value).unwrap_or_default(),
        })
        .collect();
    let client = text(raw.client);
    let source = text(raw.source)
        .filter(|s| !s.is_empty())
        .or_else(|| client.clone());
    PagerdutyConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        service_key,
        service_key_file,
        routing_key,
        routing_key_file,
        url,
        url_set,
        client,
        client_url: text(raw.client_url),
        description: text(raw.description),
        details,
        images,
        links,
        source,
        severity: text(raw.severity).filter(|s| !s.is_empty()),
        class: text(raw.class),
        component: text(raw.component),
        group: text(raw.group),
        delivery: delivery(
            raw_delivery(
                raw.timeout,
                raw.max_attempts,
                raw.max_age,
                raw.min_backoff,
                raw.max_backoff,
            ),
            scope,
            cx,
        ),
    }
}

/// True when `s` holds a template action.
fn is_templated(s: &str) -> bool {
    s.contains("{{")
}

/// Resolves an `opsgenie_configs` entry.
pub(crate) fn opsgenie(raw: At<RawOpsgenie>, scope: &Scope, cx: &mut Cx<'_>) -> OpsgenieConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let (api_key, api_key_file) = key_pair(
        raw.api_key,
        raw.api_key_file,
        ("api_key", "api_key_file"),
        scope,
        cx,
    );
    let api_url = optional_url(raw.api_url, "api_url", scope, cx).unwrap_or_default();
    let mut responders = Vec::new();
    for r in raw.responders.map(|r| r.value).unwrap_or_default() {
        let rpos = r.pos;
        let r = r.value;
        let value = |f: Option<At<String>>| f.map(|f| f.value).unwrap_or_default();
        let responder = OpsgenieResponder {
            id: value(r.id),
            name: value(r.name),
            username: value(r.username),
            kind: value(r.type_),
        };
        if responder.id.is_empty() && responder.name.is_empty() && responder.username.is_empty() {
            problem(
                cx,
                rpos,
                format!(
                    "{scope}: opsGenieConfig responder has to have at least one of id, username or name specified"
                ),
            );
            continue;
        }
        let kind = responder.kind.to_lowercase();
        if !is_templated(&responder.kind)
            && !matches!(
                kind.as_str(),
                "team" | "teams" | "user" | "escalation" | "schedule"
            )
        {
            problem(
                cx,
                rpos,
                format!(
                    "{scope}: opsGenieConfig responder type {:?} does not match valid options ^(team|teams|user|escalation|schedule)$",
                    responder.kind
                ),
            );
            continue;
        }
        responders.push(responder);
    }
    OpsgenieConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        api_key,
        api_key_file,
        api_url,
        message: text(raw.message),
        description: text(raw.description),
        source: text(raw.source),
        details: raw
            .details
            .map(|d| d.value.0)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.value, v.value))
            .collect(),
        entity: text(raw.entity),
        responders,
        actions: text(raw.actions),
        tags: text(raw.tags),
        note: text(raw.note),
        priority: text(raw.priority),
        update_alerts: raw.update_alerts.is_some_and(|u| u.value),
        delivery: delivery(
            raw_delivery(
                raw.timeout,
                raw.max_attempts,
                raw.max_age,
                raw.min_backoff,
                raw.max_backoff,
            ),
            scope,
            cx,
        ),
        pos,
    }
}

/// Resolves a `webex_configs` entry.
pub(crate) fn webex(raw: At<RawWebex>, scope: &Scope, cx: &mut Cx<'_>) -> WebexConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let room_id = text(raw.room_id).unwrap_or_default();
    if room_id.is_empty() {
        problem(cx, pos, format!("{scope}: missing room_id on webex_config"));
    }
    let http = http_config(raw.http_config, scope, cx);
    if http.authorization.is_none() {
        problem(
            cx,
            pos,
            format!("{scope}: missing webex_configs.http_config.authorization"),
        );
    }
    WebexConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http,
        api_url: optional_url(raw.api_url, "api_url", scope, cx).unwrap_or_default(),
        message: text(raw.message),
        room_id,
        delivery: delivery(
            raw_delivery(
                raw.timeout,
                raw.max_attempts,
                raw.max_age,
                raw.min_backoff,
                raw.max_backoff,
            ),
            scope,
            cx,
        ),
    }
}

/// Resolves a `pushover_configs` entry.
pub(crate) fn pushover(raw: At<RawPushover>, scope: &Scope, cx: &mut Cx<'_>) -> PushoverConfig {
    let pos = raw.pos;
    let raw = raw.value;
    for (inline, file, a, b) in [
        (
            &raw.user_key,
            &raw.user_key_file,
            "user_key",
            "user_key_file",
        ),
        (&raw.token, &raw.token_file, "token", "token_file"),
    ] {
        let set = |f: &Option<At<String>>| f.as_ref().is_some_and(|v| !v.value.is_empty());
        if !set(inline) && !set(file) {
            problem(
                cx,
                pos,
                format!("{scope}: one of {a} or {b} must be configured"),
            );
        }
    }
    let (user_key, user_key_file) = key_pair(
        raw.user_key,
        raw.user_key_file,
        ("user_key", "user_key_file"),
        scope,
        cx,
    );
    let (token, token_file) = key_pair(
        raw.token,
        raw.token_file,
        ("token", "token_file"),
        scope,
        cx,
    );
    let html = raw.html.is_some_and(|h| h.value);
    let monospace = raw.monospace.as_ref().is_some_and(|m| m.value);
    if html && monospace {
        let at = raw.monospace.map_or(pos, |m| m.pos);
        problem(
            cx,
            at,
            format!("{scope}: at most one of monospace & html must be configured"),
        );
    }
    PushoverConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        user_key,
        user_key_file,
        token,
        token_file,
        title: text(raw.title),
        message: text(raw.message),
        url: text(raw.url),
        url_title: text(raw.url_title),
        device: text(raw.device),
        sound: text(raw.sound),
        priority: text(raw.priority),
        retry: raw.retry.map_or(PromDuration::from_secs(60), |r| r.value),
        expire: raw
            .expire
            .map_or(PromDuration::from_secs(3600), |e| e.value),
        ttl: raw.ttl.map_or(PromDuration::from_secs(0), |t| t.value),
        html,
        monospace,
        api_url: optional_url(raw.api_url, "api_url", scope, cx)
            .unwrap_or_else(|| DEFAULT_PUSHOVER_API_URL.to_owned()),
        delivery: delivery(
            raw_delivery(
                raw.timeout,
                raw.max_attempts,
                raw.max_age,
                raw.min_backoff,
                raw.max_backoff,
            ),
            scope,
            cx,
        ),
    }
}

/// Reads the `global` keys of these integrations.
pub(crate) fn globals(
    pagerduty_url: Option<At<String>>,
    opsgenie_api_url: Option<At<String>>,
    opsgenie_api_key: Option<At<String>>,
    opsgenie_api_key_file: Option<At<String>>,
    webex_api_url: Option<At<String>>,
    cx: &mut Cx<'_>,
) -> IncidentGlobals {
    let scope = Scope::Global;
    let (opsgenie_api_key, opsgenie_api_key_file) = key_pair(
        opsgenie_api_key,
        opsgenie_api_key_file,
        ("opsgenie_api_key", "opsgenie_api_key_file"),
        &scope,
        cx,
    );
    IncidentGlobals {
        pagerduty_url: optional_url(pagerduty_url, "pagerduty_url", &scope, cx),
        opsgenie_api_url: optional_url(opsgenie_api_url, "opsgenie_api_url", &scope, cx),
        opsgenie_api_key,
        opsgenie_api_key_file,
        webex_api_url: optional_url(webex_api_url, "webex_api_url", &scope, cx),
    }
}

/// Fills unset URLs and Opsgenie keys from `global`, as Alertmanager does after reading the
/// receivers; an Opsgenie entry without any key is reported.
pub(crate) fn apply_globals(
    receivers: &mut [ReceiverConfig],
    g: &IncidentGlobals,
    cx: &mut Cx<'_>,
) {
    for r in receivers {
        for p in &mut r.pagerduty_configs {
            if p.url.is_empty() {
                p.url = g
                    .pagerduty_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PAGERDUTY_URL.to_owned());
            }
        }
        for o in &mut r.opsgenie_configs {
            if o.api_url.is_empty() {
                o.api_url = g
                    .opsgenie_api_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_OPSGENIE_API_URL.to_owned());
            }
            if let Ok(mut u) = url::Url::parse(&o.api_url) {
                if !u.path().ends_with('/') {
                    let path = format!("{}/", u.path());
                    u.set_path(&path);
                    o.api_url = u.to_string();
                }
            }
            if o.api_key.is_none() && o.api_key_file.is_none() {
                o.api_key = g.opsgenie_api_key.clone();
                o.api_key_file = g.opsgenie_api_key_file.clone();
            }
            if o.api_key.is_none() && o.api_key_file.is_none() {
                problem(
                    cx,
                    o.pos,
                    format!(
                        "receiver {:?}: no global OpsGenie API Key set either inline or in a file",
                        r.name
                    ),
                );
            }
        }
        for w in &mut r.webex_configs {
            if w.api_url.is_empty() {
                w.api_url = g
                    .webex_api_url
                    .clone()
                    .unwrap_or_else(|| DEFAULT_WEBEX_API_URL.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(text: &str) -> Result<crate::config::Config, String> {
        crate::config::parse_with_env(text, Path::new("t.yml"), &|_| None)
            .map_err(|e| e.to_string())
    }

    fn receiver(body: &str) -> String {
        format!("route: {{receiver: r}}\nreceivers:\n  - name: r\n{body}")
    }

    #[test]
    fn pagerduty_defaults_and_checks() {
        let c = parse(&receiver("    pagerduty_configs: [{routing_key: k}]\n")).unwrap();
        let p = &c.receivers[0].pagerduty_configs[0];
        assert!(p.send_resolved);
        assert_eq!(p.url, super::DEFAULT_PAGERDUTY_URL);
        assert!(p.details.is_empty() && p.severity.is_none());
        let c = parse(&format!(
            "global: {{pagerduty_url: 'http://pd.example/x'}}\n{}",
            receiver(
                "    pagerduty_configs: [{service_key: k, client: C, details: {a: 1, b: [x]}}]\n"
            )
        ))
        .unwrap();
        let p = &c.receivers[0].pagerduty_configs[0];
        assert_eq!(p.url, "http://pd.example/x");
        assert_eq!(p.source.as_deref(), Some("C"));
        assert_eq!(p.details["a"], serde_json::json!(1));
        assert_eq!(p.details["b"], serde_json::json!(["x"]));
        let e = parse(&receiver("    pagerduty_configs: [{client: x}]\n")).unwrap_err();
        assert!(
            e.contains("t.yml:4:")
                && e.contains("missing service or routing key in PagerDuty config"),
            "{e}"
        );
        let e = parse(&receiver(
            "    pagerduty_configs: [{routing_key: k, routing_key_file: /nonexistent}]\n",
        ))
        .unwrap_err();
        assert!(
            e.contains("at most one of routing_key & routing_key_file"),
            "{e}"
        );
        let e = parse(&receiver(
            "    pagerduty_configs: [{routing_key: k, url: 'ftp://x'}]\n",
        ))
        .unwrap_err();
        assert!(e.contains("invalid url URL"), "{e}");
    }

    #[test]
    fn opsgenie_defaults_globals_and_responders() {
        let e = parse(&receiver("    opsgenie_configs: [{message: m}]\n")).unwrap_err();
        assert!(e.contains("no global OpsGenie API Key set"), "{e}");
        let c = parse(&format!(
            "global: {{opsgenie_api_key: g, opsgenie_api_url: 'http://og.example/api'}}\n{}",
            receiver("    opsgenie_configs: [{responders: [{name: ops, type: Team}]}]\n")
        ))
        .unwrap();
        let o = &c.receivers[0].opsgenie_configs[0];
        assert!(o.send_resolved && !o.update_alerts);
        assert_eq!(o.api_url, "http://og.example/api/");
        assert_eq!(o.api_key.as_ref().unwrap().expose(), "g");
        assert_eq!(o.responders[0].kind, "Team");
        let e = parse(&receiver(
            "    opsgenie_configs: [{api_key: k, responders: [{type: team}]}]\n",
        ))
        .unwrap_err();
        assert!(e.contains("at least one of id, username or name"), "{e}");
        let e = parse(&receiver(
            "    opsgenie_configs: [{api_key: k, responders: [{name: a, type: group}]}]\n",
        ))
        .unwrap_err();
        assert!(e.contains("does not match valid options"), "{e}");
        parse(&receiver(
            "    opsgenie_configs: [{api_key: k, responders: [{name: a, type: '{{ .CommonLabels.t }}'}]}]\n",
        ))
        .unwrap();
        let c = parse(&receiver("    opsgenie_configs: [{api_key: k}]\n")).unwrap();
        assert_eq!(
            c.receivers[0].opsgenie_configs[0].api_url,
            super::DEFAULT_OPSGENIE_API_URL
        );
    }

    #[test]
    fn pushover_defaults_and_checks() {
        let c = parse(&receiver(
            "    pushover_configs: [{user_key: u, token: t}]\n",
        ))
        .unwrap();
        let p = &c.receivers[0].pushover_configs[0];
        assert!(p.send_resolved && !p.html);
        assert_eq!(p.retry.to_string(), "1m");
        assert_eq!(p.expire.to_string(), "1h");
        assert_eq!(p.api_url, super::DEFAULT_PUSHOVER_API_URL);
        let e = parse(&receiver("    pushover_configs: [{token: t}]\n")).unwrap_err();
        assert!(
            e.contains("one of user_key or user_key_file must be configured"),
            "{e}"
        );
        let e = parse(&receiver("    pushover_configs: [{user_key: u}]\n")).unwrap_err();
        assert!(
            e.contains("one of token or token_file must be configured"),
            "{e}"
        );
        let e = parse(&receiver(
            "    pushover_configs: [{user_key: u, token: t, html: true, monospace: true}]\n",
        ))
        .unwrap_err();
        assert!(e.contains("at most one of monospace & html"), "{e}");
    }

    #[test]
    fn webex_needs_room_and_authorization() {
        let e = parse(&receiver("    webex_configs: [{room_id: r}]\n")).unwrap_err();
        assert!(
            e.contains("missing webex_configs.http_config.authorization"),
            "{e}"
        );
        let e = parse(&receiver(
            "    webex_configs: [{http_config: {bearer_token: t}}]\n",
        ))
        .unwrap_err();
        assert!(e.contains("missing room_id on webex_config"), "{e}");
        let c = parse(&receiver(
            "    webex_configs: [{room_id: r, http_config: {authorization: {credentials: t}}}]\n",
        ))
        .unwrap();
        let w = &c.receivers[0].webex_configs[0];
        assert_eq!(w.api_url, super::DEFAULT_WEBEX_API_URL);
        assert!(w.send_resolved);
    }
}
