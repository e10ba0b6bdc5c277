//! `receivers`: named sets of integrations (webhook, Slack, email, log; PagerDuty, Opsgenie,
//! Pushover and Webex in `receiver_incident.rs`), Alertmanager's
//! vocabulary plus watchfire's delivery settings (`max_attempts`, `max_age`, backoff,
//! `fallback_receiver`).
//!
//! Text fields such as Slack's `title` or email's `html` and `headers` are templates
//! (Alertmanager's data model, compiled when the notifier starts); unset ones use the built-in
//! defaults of `notify::text`.

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::{self, Authorization, RawAuthorization, RawBasicAuth};
use super::node::Pos;
use super::notify::problem;
use super::receiver_chat;
pub use super::receiver_types::*;
use super::secret::{load_secret, resolve_path, Secret, SecretFields};
use super::validate;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

yaml_section! {
    /// A `receivers` entry as written.
    pub(crate) struct RawReceiver {
        name: String,
        fallback_receiver: String,
        webhook_configs: Vec<At<RawWebhook>>,
        slack_configs: Vec<At<RawSlack>>,
        email_configs: Vec<At<RawEmail>>,
        log_configs: Vec<At<RawLog>>,
        msteams_configs: Vec<At<receiver_chat::RawMsTeams>>,
        msteamsv2_configs: Vec<At<receiver_chat::RawMsTeamsV2>>,
        telegram_configs: Vec<At<receiver_chat::RawTelegram>>,
        discord_configs: Vec<At<receiver_chat::RawDiscord>>,
        pagerduty_configs: Vec<At<super::receiver_incident::RawPagerduty>>,
        opsgenie_configs: Vec<At<super::receiver_incident::RawOpsgenie>>,
        pushover_configs: Vec<At<super::receiver_incident::RawPushover>>,
        webex_configs: Vec<At<super::receiver_incident::RawWebex>>,
    }
}

yaml_section! {
    /// `http_config` of an integration.
    pub(crate) struct RawHttpConfig {
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        bearer_token: String,
        bearer_token_file: String,
    }
}

yaml_section! {
    /// A `webhook_configs` entry as written.
    pub(crate) struct RawWebhook {
        send_resolved: bool,
        url: String,
        url_file: String,
        headers: Entries<String>,
        http_config: RawHttpConfig,
        max_alerts: u64,
        signing_secret_file: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `slack_configs` `fields` entry.
    pub(crate) struct RawSlackField {
        title: String,
        value: String,
        short: bool,
    }
}

yaml_section! {
    /// A `slack_configs` entry as written.
    pub(crate) struct RawSlack {
        send_resolved: bool,
        api_url: String,
        api_url_file: String,
        channel: String,
        username: String,
        icon_emoji: String,
        icon_url: String,
        title: String,
        title_link: String,
        pretext: String,
        text: String,
        color: String,
        footer: String,
        fields: Vec<At<RawSlackField>>,
        short_fields: bool,
        link_names: bool,
        http_config: RawHttpConfig,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// An `email_configs` entry as written.
    pub(crate) struct RawEmail {
        send_resolved: bool,
        to: String,
        from: String,
        smarthost: String,
        hello: String,
        auth_username: String,
        auth_password: String,
        auth_password_file: String,
        require_tls: bool,
        tls_config: http::RawTlsConfig,
        headers: Entries<String>,
        html: String,
        text: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `log_configs` entry as written.
    pub(crate) struct RawLog {
        send_resolved: bool,
    }
}

/// Resolves one receiver.
pub(crate) fn resolve(raw: At<RawReceiver>, index: usize, cx: &mut Cx<'_>) -> ReceiverConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let name = raw.name.map(|n| n.value).unwrap_or_default();
    if name.is_empty() {
        let kind = ErrorKind::Missing {
            path: format!("receivers[{index}].name"),
        };
        cx.error(pos, kind);
    }
    let scope = Scope::Section(format!("receiver {name:?}"));
    let webhook_configs = list(raw.webhook_configs)
        .into_iter()
        .map(|w| webhook(w, &scope, cx))
        .collect();
    let slack_configs = list(raw.slack_configs)
        .into_iter()
        .map(|s| slack(s, &scope, cx))
        .collect();
    let email_configs = list(raw.email_configs)
        .into_iter()
        .map(|e| email(e, &scope, cx))
        .collect();
    let log_configs = list(raw.log_configs)
        .into_iter()
        .map(|l| LogConfig {
            send_resolved: l.value.send_resolved.is_none_or(|s| s.value),
        })
        .collect();
    let msteams_configs = list(raw.msteams_configs)
        .into_iter()
        .map(|c| receiver_chat::msteams(c, &scope, cx))
        .collect();
    let msteamsv2_configs = list(raw.msteamsv2_configs)
        .into_iter()
        .map(|c| receiver_chat::msteamsv2(c, &scope, cx))
        .collect();
    let telegram_configs = list(raw.telegram_configs)
        .into_iter()
        .map(|c| receiver_chat::telegram(c, &scope, cx))
        .collect();
    let discord_configs = list(raw.discord_configs)
        .into_iter()
        .map(|c| receiver_chat::discord(c, &scope, cx))
        .collect();
    let pagerduty_configs = list(raw.pagerduty_configs)
        .into_iter()
        .map(|p| super::receiver_incident::pagerduty(p, &scope, cx))
        .collect();
    let opsgenie_configs = list(raw.opsgenie_configs)
        .into_iter()
        .map(|o| super::receiver_incident::opsgenie(o, &scope, cx))
        .collect();
    let pushover_configs = list(raw.pushover_configs)
        .into_iter()
        .map(|p| super::receiver_incident::pushover(p, &scope, cx))
        .collect();
    let webex_configs = list(raw.webex_configs)
        .into_iter()
        .map(|w| super::receiver_incident::webex(w, &scope, cx))
        .collect();
    let fallback_pos = raw
        .fallback_receiver
        .as_ref()
        .map(|f| f.pos)
        .unwrap_or_default();
    ReceiverConfig {
        name,
        fallback_receiver: raw.fallback_receiver.map(|f| f.value),
        webhook_configs,
        slack_configs,
        email_configs,
        log_configs,
        msteams_configs,
        msteamsv2_configs,
        telegram_configs,
        discord_configs,
        pagerduty_configs,
        opsgenie_configs,
        pushover_configs,
        webex_configs,
        pos,
        fallback_pos,
    }
}

fn list<T>(v: Option<At<Vec<At<T>>>>) -> Vec<At<T>> {
    v.map(|v| v.value).unwrap_or_default()
}

/// Reports repeated receiver names; returns the set of names.
pub(crate) fn check_names(receivers: &[ReceiverConfig], cx: &mut Cx<'_>) -> HashSet<String> {
    let mut names = HashSet::new();
    for r in receivers {
        if !r.name.is_empty() && !names.insert(r.name.clone()) {
            problem(
                cx,
                r.pos,
                format!("receivers: receiver name {:?} is not unique", r.name),
            );
        }
    }
    names
}

/// Reports fallback receivers that do not exist or point at themselves.
pub(crate) fn check_fallbacks(
    receivers: &[ReceiverConfig],
    names: &HashSet<String>,
    cx: &mut Cx<'_>,
) {
    for r in receivers {
        let Some(fallback) = &r.fallback_receiver else {
            continue;
        };
        if !names.contains(fallback) {
            problem(
                cx,
                r.fallback_pos,
                format!(
                    "receiver {:?}: undefined fallback_receiver {fallback:?}",
                    r.name
                ),
            );
        } else if fallback == &r.name {
            problem(
                cx,
                r.fallback_pos,
                format!("receiver {:?}: cannot be its own fallback_receiver", r.name),
            );
        }
    }
}

pub(super) struct RawDelivery {
    pub timeout: Option<At<PromDuration>>,
    pub max_attempts: Option<At<u64>>,
    pub max_age: Option<At<PromDuration>>,
    pub min_backoff: Option<At<PromDuration>>,
    pub max_backoff: Option<At<PromDuration>>,
}

pub(super) fn delivery(raw: RawDelivery, scope: &Scope, cx: &mut Cx<'_>) -> DeliveryConfig {
    let d = DeliveryConfig::default();
    let positive =
        |v: Option<At<PromDuration>>, name: &str, default: PromDuration, cx: &mut Cx<'_>| match v {
            Some(v) if v.value.is_zero() => {
                problem(
                    cx,
                    v.pos,
                    format!("{scope}: {name} must be greater than 0s"),
                );
                default
            }
            Some(v) => v.value,
            None => default,
        };
    let out = DeliveryConfig {
        timeout: positive(raw.timeout, "timeout", d.timeout, cx),
        max_attempts: raw.max_attempts.map_or(d.max_attempts, |m| m.value),
        max_age: positive(raw.max_age, "max_age", d.max_age, cx),
        min_backoff: positive(raw.min_backoff.clone(), "min_backoff", d.min_backoff, cx),
        max_backoff: positive(raw.max_backoff, "max_backoff", d.max_backoff, cx),
    };
    if out.min_backoff > out.max_backoff {
        let pos = raw.min_backoff.map(|m| m.pos).unwrap_or_default();
        problem(
            cx,
            pos,
            format!("{scope}: min_backoff is greater than max_backoff"),
        );
    }
    out
}

pub(super) fn http_config(
    raw: Option<At<RawHttpConfig>>,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> HttpClientConfig {
    let Some(raw) = raw.map(|r| r.value) else {
        return HttpClientConfig::default();
    };
    const BEARER: SecretFields = SecretFields {
        inline: "http_config.bearer_token",
        file: "http_config.bearer_token_file",
    };
    let basic_auth = raw.basic_auth.map(|b| http::basic_auth(b.value, scope, cx));
    let mut authorization = raw.authorization.map(|a| http::authorization(a, scope, cx));
    let bearer_pos = raw
        .bearer_token
        .as_ref()
        .or(raw.bearer_token_file.as_ref())
        .map(|b| b.pos);
    if let Some(token) = load_secret(raw.bearer_token, raw.bearer_token_file, &BEARER, scope, cx) {
        if let Some(auth) = &authorization {
            let kind = ErrorKind::Conflict {
                first: "authorization",
                second: "bearer_token",
                scope: scope.clone(),
            };
            cx.error(auth.pos, kind);
        }
        authorization = Some(At {
            value: Authorization {
                kind: "Bearer".to_owned(),
                credentials: Some(token),
            },
            pos: bearer_pos.unwrap_or_default(),
        });
    }
    if let (Some(_), Some(auth)) = (&basic_auth, &authorization) {
        let kind = ErrorKind::Conflict {
            first: "basic_auth",
            second: "authorization",
            scope: scope.clone(),
        };
        cx.error(auth.pos, kind);
    }
    HttpClientConfig {
        basic_auth,
        authorization: authorization.map(|a| a.value),
    }
}

/// An inline URL or a `*_file` holding one (checked readable now, read at each send).
pub(super) fn url_pair(
    url: Option<At<String>>,
    file: Option<At<String>>,
    names: (&str, &str),
    pos: Pos,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> (Option<Secret>, Option<PathBuf>) {
    match (url, file) {
        (Some(_), Some(f)) => {
            problem(
                cx,
                f.pos,
                format!(
                    "{scope}: at most one of {} and {} must be configured",
                    names.0, names.1
                ),
            );
            (None, None)
        }
        (Some(u), None) => {
            if let Err(e) = url::Url::parse(&u.value)
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    matches!(u.scheme(), "http" | "https")
                        .then_some(())
                        .ok_or_else(|| "unsupported scheme".to_owned())
                })
            {
                problem(cx, u.pos, format!("{scope}: invalid {} URL: {e}", names.0));
            }
            (Some(Secret::new(u.value)), None)
        }
        (None, Some(f)) => {
            let path = resolve_path(cx.dir, &f.value);
            if let Err(source) = std::fs::metadata(&path) {
                cx.error(
                    f.pos,
                    ErrorKind::File {
                        field: "url_file",
                        path: path.clone(),
                        source,
                    },
                );
            }
            (None, Some(path))
        }
        (None, None) => {
            problem(
                cx,
                pos,
                format!(
                    "{scope}: one of {} or {} must be configured",
                    names.0, names.1
                ),
            );
            (None, None)
        }
    }
}

fn webhook(raw: At<RawWebhook>, scope: &Scope, cx: &mut Cx<'_>) -> WebhookConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let (url, url_file) = url_pair(raw.url, raw.url_file, ("url", "url_file"), pos, scope, cx);
    const SIGNING: SecretFields = SecretFields {
        inline: "signing_secret",
        file: "signing_secret_file",
    };
    WebhookConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        url,
        url_file,
        headers: headers(raw.headers, scope, cx),
        http_config: http_config(raw.http_config, scope, cx),
        max_alerts: raw.max_alerts.map_or(0, |m| m.value),
        signing_secret: load_secret(None, raw.signing_secret_file, &SIGNING, scope, cx),
        delivery: delivery(
            RawDelivery {
                timeout: raw.timeout,
                max_attempts: raw.max_attempts,
                max_age: raw.max_age,
                min_backoff: raw.min_backoff,
                max_backoff: raw.max_backoff,
            },
            scope,
            cx,
        ),
    }
}

fn headers(
    raw: Option<At<Entries<String>>>,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in raw.map(|h| h.value.0).unwrap_or_default() {
        let valid = !name.value.is_empty()
            && name
                .value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':');
        if !valid {
            problem(
                cx,
                name.pos,
                format!("{scope}: invalid header name {:?}", name.value),
            );
        } else if value.value.contains(['\r', '\n']) {
            problem(
                cx,
                value.pos,
                format!(
                    "{scope}: header {:?} must not contain line breaks",
                    name.value
                ),
            );
        } else {
            out.insert(name.value, value.value);
        }
    }
    out
}

fn slack(raw: At<RawSlack>, scope: &Scope, cx: &mut Cx<'_>) -> SlackConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let (api_url, api_url_file) = url_pair(
        raw.api_url,
        raw.api_url_file,
        ("api_url", "api_url_file"),
        pos,
        scope,
        cx,
    );
    let text = |f: Option<At<String>>| f.map(|f| f.value);
    let fields = raw
        .fields
        .map(|f| f.value)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| {
            let (fpos, f) = (f.pos, f.value);
            match (f.title, f.value) {
                (Some(title), Some(value))
                    if !title.value.is_empty() && !value.value.is_empty() =>
                {
                    Some(SlackField {
                        title: title.value,
                        value: value.value,
                        short: f.short.map(|s| s.value),
                    })
                }
                _ => {
                    problem(
                        cx,
                        fpos,
                        format!("{scope}: slack field must have a title and a value"),
                    );
                    None
                }
            }
        })
        .collect();
    SlackConfig {
        send_resolved: raw.send_resolved.is_some_and(|s| s.value),
        api_url,
        api_url_file,
        channel: text(raw.channel),
        username: text(raw.username),
        icon_emoji: text(raw.icon_emoji),
        icon_url: text(raw.icon_url),
        title: text(raw.title),
        title_link: text(raw.title_link),
        pretext: text(raw.pretext),
        text: text(raw.text),
        color: text(raw.color),
        footer: text(raw.footer),
        fields,
        short_fields: raw.short_fields.is_some_and(|s| s.value),
        link_names: raw.link_names.is_some_and(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        delivery: delivery(
            RawDelivery {
                timeout: raw.timeout,
                max_attempts: raw.max_attempts,
                max_age: raw.max_age,
                min_backoff: raw.min_backoff,
                max_backoff: raw.max_backoff,
            },
            scope,
            cx,
        ),
    }
}

fn email(raw: At<RawEmail>, scope: &Scope, cx: &mut Cx<'_>) -> EmailConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let required = |f: Option<At<String>>, name: &str, cx: &mut Cx<'_>| match f {
        Some(f) if !f.value.trim().is_empty() => f.value,
        _ => {
            problem(cx, pos, format!("{scope}: email_configs: missing {name}"));
            String::new()
        }
    };
    let to = required(raw.to, "to address", cx);
    let from = required(raw.from, "from address", cx);
    let smarthost_pos = raw.smarthost.as_ref().map(|s| s.pos).unwrap_or(pos);
    let smarthost = required(raw.smarthost, "smarthost", cx);
    let (mut smarthost_host, mut smarthost_port) = (String::new(), 25);
    if !smarthost.is_empty() {
        match validate::check_target(&smarthost) {
            Ok(()) => {
                let (host, port) = smarthost.rsplit_once(':').unwrap_or((&smarthost, "25"));
                smarthost_host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                smarthost_port = port.parse().unwrap_or(25);
            }
            Err(reason) => problem(
                cx,
                smarthost_pos,
                format!("{scope}: smarthost {smarthost:?} {reason}"),
            ),
        }
    }
    const PASSWORD: SecretFields = SecretFields {
        inline: "auth_password",
        file: "auth_password_file",
    };
    EmailConfig {
        send_resolved: raw.send_resolved.is_some_and(|s| s.value),
        to,
        from,
        smarthost_host,
        smarthost_port,
        hello: raw
            .hello
            .map_or_else(|| "localhost".to_owned(), |h| h.value),
        auth_username: raw.auth_username.map(|u| u.value),
        auth_password: load_secret(
            raw.auth_password,
            raw.auth_password_file,
            &PASSWORD,
            scope,
            cx,
        ),
        require_tls: raw.require_tls.is_none_or(|r| r.value),
        tls_config: raw
            .tls_config
            .map(|t| http::tls_config(t.value, scope, cx))
            .unwrap_or_default(),
        headers: headers(raw.headers, scope, cx),
        html: raw.html.map(|h| h.value),
        text: raw.text.map(|t| t.value),
        delivery: delivery(
            RawDelivery {
                timeout: raw.timeout,
                max_attempts: raw.max_attempts,
                max_age: raw.max_age,
                min_backoff: raw.min_backoff,
                max_backoff: raw.max_backoff,
            },
            scope,
            cx,
        ),
    }
}
