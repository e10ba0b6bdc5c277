//! Chat receivers in Alertmanager 0.33's vocabulary: `msteams_configs` (the legacy Office 365
//! connector), `msteamsv2_configs` (Adaptive Cards through Power Automate workflows),
//! `telegram_configs` and `discord_configs`, plus the `global` Telegram keys
//! (`telegram_api_url`, `telegram_bot_token`, `telegram_bot_token_file`).
//!
//! Defaults and error texts are Alertmanager's (`config/notifiers.go`, `notify/discord`,
//! `notify/msteams`, `config.Load`): every one of them sends resolved alerts by default;
//! webhooks need exactly one of `webhook_url` or `webhook_url_file`; Telegram needs a bot
//! token (here or in `global`), a chat id, and a `parse_mode` of `Markdown`, `MarkdownV2`,
//! `HTML` (the default) or empty. Text fields are templates; unset ones use the built-in
//! defaults of `notify::integrations::chat_text`. `*_file` settings are checked readable at
//! load and read again at each send, as Alertmanager does.

use super::decode::{yaml_section, At, Cx};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::global::GlobalConfig;
use super::node::Pos;
use super::notify::problem;
use super::receiver_types::{DeliveryConfig, HttpClientConfig, ReceiverConfig};
use super::receivers::{delivery, http_config, RawDelivery, RawHttpConfig};
use super::secret::{resolve_path, Secret};
use serde::Serialize;
use std::path::PathBuf;

/// Telegram's Bot API, Alertmanager's default `telegram_api_url`.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

yaml_section! {
    /// An `msteams_configs` entry as written.
    pub(crate) struct RawMsTeams {
        send_resolved: bool,
        http_config: RawHttpConfig,
        webhook_url: String,
        webhook_url_file: String,
        title: String,
        summary: String,
        text: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// An `msteamsv2_configs` entry as written.
    pub(crate) struct RawMsTeamsV2 {
        send_resolved: bool,
        http_config: RawHttpConfig,
        webhook_url: String,
        webhook_url_file: String,
        title: String,
        text: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `telegram_configs` entry as written.
    pub(crate) struct RawTelegram {
        send_resolved: bool,
        http_config: RawHttpConfig,
        api_url: String,
        bot_token: String,
        bot_token_file: String,
        chat_id: i64,
        chat_id_file: String,
        message_thread_id: i64,
        message: String,
        disable_notifications: bool,
        parse_mode: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

yaml_section! {
    /// A `discord_configs` entry as written.
    pub(crate) struct RawDiscord {
        send_resolved: bool,
        http_config: RawHttpConfig,
        webhook_url: String,
        webhook_url_file: String,
        content: String,
        title: String,
        message: String,
        username: String,
        avatar_url: String,
        timeout: PromDuration,
        max_attempts: u64,
        max_age: PromDuration,
        min_backoff: PromDuration,
        max_backoff: PromDuration,
    }
}

/// A Microsoft Teams incoming webhook of the legacy Office 365 connector (a MessageCard).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MsTeamsConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// The webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// A file holding the URL, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url_file: Option<PathBuf>,
    /// Card title (template; default: the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Card summary (template; default: the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Card text (template; default: the alerts as a Markdown list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// A Microsoft Teams workflow (Power Automate) webhook receiving an Adaptive Card.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MsTeamsV2Config {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// The workflow URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// A file holding the URL, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url_file: Option<PathBuf>,
    /// Card heading (template; default: the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Card text (template; default: the alerts as a Markdown list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

/// A Telegram bot posting to one chat.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TelegramConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// The Bot API base URL (default `global.telegram_api_url`, `https://api.telegram.org`),
    /// as written.
    pub api_url: String,
    /// The bot token (or `global.telegram_bot_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<Secret>,
    /// A file holding the token, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_token_file: Option<PathBuf>,
    /// The chat (0 when `chat_id_file` is used).
    #[serde(skip_serializing_if = "is_zero")]
    pub chat_id: i64,
    /// A file holding the chat id, read at each send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id_file: Option<PathBuf>,
    /// The forum topic to post in (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub message_thread_id: i64,
    /// The message (template; default: the firing and resolved alerts as lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Send silently.
    pub disable_notifications: bool,
    /// `HTML` (default; the message template escapes as `html/template`), `Markdown`,
    /// `MarkdownV2` or empty (plain text).
    pub parse_mode: String,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
    /// Where the entry is in the file.
    #[serde(skip)]
    pub pos: Pos,
}

/// A Discord channel webhook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiscordConfig {
    /// Notify about resolved alerts too (default true).
    pub send_resolved: bool,
    /// Credentials.
    pub http_config: HttpClientConfig,
    /// The webhook URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<Secret>,
    /// A file holding the URL, read at each send (trimmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url_file: Option<PathBuf>,
    /// Message content above the embed (template; default empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Embed title (template; default: the subject line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Embed description (template; default: the firing and resolved alerts as lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Overrides the webhook's user name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Overrides the webhook's avatar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Retry settings.
    #[serde(flatten)]
    pub delivery: DeliveryConfig,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The `global` Telegram settings, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelegramGlobals {
    /// `telegram_api_url`.
    pub api_url: String,
    /// `telegram_bot_token`.
    pub bot_token: Option<Secret>,
    /// `telegram_bot_token_file`, resolved against the config directory.
    pub bot_token_file: Option<PathBuf>,
}

impl Default for TelegramGlobals {
    fn default() -> Self {
        TelegramGlobals {
            api_url: DEFAULT_TELEGRAM_API_URL.to_owned(),
            bot_token: None,
            bot_token_file: None,
        }
    }
}

/// Resolves the `global` Telegram keys.
pub(crate) fn telegram_globals(
    api_url: Option<At<String>>,
    bot_token: Option<At<String>>,
    bot_token_file: Option<At<String>>,
    cx: &mut Cx<'_>,
) -> TelegramGlobals {
    let mut out = TelegramGlobals::default();
    if let Some(u) = api_url {
        if let Err(e) = check_url(&u.value) {
            problem(cx, u.pos, format!("global.telegram_api_url: {e}"));
        }
        out.api_url = u.value;
    }
    if let (Some(_), Some(f)) = (&bot_token, &bot_token_file) {
        problem(
            cx,
            f.pos,
            "global: at most one of telegram_bot_token & telegram_bot_token_file must be \
             configured",
        );
        return out;
    }
    out.bot_token = bot_token.map(|t| Secret::new(t.value));
    out.bot_token_file = bot_token_file.map(|f| readable_file(f, "telegram_bot_token_file", cx));
    out
}

/// Alertmanager's URL check (`config/common.ParseURL`): http or https, with a host.
fn check_url(text: &str) -> Result<(), String> {
    let u = url::Url::parse(text).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("unsupported scheme {:?} for URL", u.scheme()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("missing host for URL".to_owned());
    }
    Ok(())
}

/// A `*_file` path, resolved against the config directory and checked readable now.
fn readable_file(f: At<String>, field: &'static str, cx: &mut Cx<'_>) -> PathBuf {
    let path = resolve_path(cx.dir, &f.value);
    if let Err(source) = std::fs::File::open(&path) {
        cx.error(
            f.pos,
            ErrorKind::File {
                field,
                path: path.clone(),
                source,
            },
        );
    }
    path
}

/// `webhook_url` or `webhook_url_file`, exactly one, with Alertmanager's messages.
fn webhook_pair(
    url: Option<At<String>>,
    file: Option<At<String>>,
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
                    "{scope}: at most one of webhook_url & webhook_url_file must be configured"
                ),
            );
            (None, None)
        }
        (Some(u), None) => {
            if let Err(e) = check_url(&u.value) {
                problem(cx, u.pos, format!("{scope}: webhook_url: {e}"));
            }
            (Some(Secret::new(u.value)), None)
        }
        (None, Some(f)) => (None, Some(readable_file(f, "webhook_url_file", cx))),
        (None, None) => {
            problem(
                cx,
                pos,
                format!("{scope}: one of webhook_url or webhook_url_file must be configured"),
            );
            (None, None)
        }
    }
}

fn text(f: Option<At<String>>) -> Option<String> {
    f.map(|f| f.value)
}

macro_rules! raw_delivery {
    ($raw:expr) => {
        RawDelivery {
            timeout: $raw.timeout,
            max_attempts: $raw.max_attempts,
            max_age: $raw.max_age,
            min_backoff: $raw.min_backoff,
            max_backoff: $raw.max_backoff,
        }
    };
}

/// Resolves an `msteams_configs` entry.
pub(crate) fn msteams(raw: At<RawMsTeams>, scope: &Scope, cx: &mut Cx<'_>) -> MsTeamsConfig {
    let (pos, raw) = (raw.pos, raw.value);
    let (webhook_url, webhook_url_file) =
        webhook_pair(raw.webhook_url, raw.webhook_url_file, pos, scope, cx);
    MsTeamsConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        webhook_url,
        webhook_url_file,
        title: text(raw.title),
        summary: text(raw.summary),
        text: text(raw.text),
        delivery: delivery(raw_delivery!(raw), scope, cx),
    }
}

/// Resolves an `msteamsv2_configs` entry.
pub(crate) fn msteamsv2(raw: At<RawMsTeamsV2>, scope: &Scope, cx: &mut Cx<'_>) -> MsTeamsV2Config {
    let (pos, raw) = (raw.pos, raw.value);
    let (webhook_url, webhook_url_file) =
        webhook_pair(raw.webhook_url, raw.webhook_url_file, pos, scope, cx);
    MsTeamsV2Config {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        webhook_url,
        webhook_url_file,
        title: text(raw.title),
        text: text(raw.text),
        delivery: delivery(raw_delivery!(raw), scope, cx),
    }
}

/// Resolves a `discord_configs` entry.
pub(crate) fn discord(raw: At<RawDiscord>, scope: &Scope, cx: &mut Cx<'_>) -> DiscordConfig {
    let (pos, raw) = (raw.pos, raw.value);
    let (webhook_url, webhook_url_file) =
        webhook_pair(raw.webhook_url, raw.webhook_url_file, pos, scope, cx);
    DiscordConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        webhook_url,
        webhook_url_file,
        content: text(raw.content),
        title: text(raw.title),
        message: text(raw.message),
        username: text(raw.username).filter(|u| !u.is_empty()),
        avatar_url: text(raw.avatar_url).filter(|u| !u.is_empty()),
        delivery: delivery(raw_delivery!(raw), scope, cx),
    }
}

/// Resolves a `telegram_configs` entry; the `global` token and URL are applied afterwards by
/// [`apply_globals`].
pub(crate) fn telegram(raw: At<RawTelegram>, scope: &Scope, cx: &mut Cx<'_>) -> TelegramConfig {
    let (pos, raw) = (raw.pos, raw.value);
    let (bot_token, bot_token_file) = match (raw.bot_token, raw.bot_token_file) {
        (Some(t), Some(f)) => {
            problem(
                cx,
                f.pos,
                format!("{scope}: at most one of bot_token & bot_token_file must be configured"),
            );
            (Some(Secret::new(t.value)), None)
        }
        (token, file) => (
            token.map(|t| Secret::new(t.value)),
            file.map(|f| readable_file(f, "bot_token_file", cx)),
        ),
    };
    let chat_id = raw.chat_id.as_ref().map_or(0, |c| c.value);
    let chat_id_file = match (chat_id, raw.chat_id_file) {
        (0, None) => {
            problem(
                cx,
                raw.chat_id.map_or(pos, |c| c.pos),
                format!("{scope}: missing chat_id or chat_id_file on telegram_config"),
            );
            None
        }
        (0, Some(f)) => Some(readable_file(f, "chat_id_file", cx)),
        (_, Some(f)) => {
            problem(
                cx,
                f.pos,
                format!("{scope}: at most one of chat_id & chat_id_file must be configured"),
            );
            None
        }
        (_, None) => None,
    };
    let parse_mode = match raw.parse_mode {
        None => "HTML".to_owned(),
        Some(p) => {
            if !matches!(p.value.as_str(), "" | "Markdown" | "MarkdownV2" | "HTML") {
                problem(
                    cx,
                    p.pos,
                    format!(
                        "{scope}: unknown parse_mode on telegram_config, must be Markdown, \
                         MarkdownV2, HTML or empty string"
                    ),
                );
            }
            p.value
        }
    };
    let api_url = match raw.api_url {
        Some(u) => {
            if let Err(e) = check_url(&u.value) {
                problem(cx, u.pos, format!("{scope}: api_url: {e}"));
            }
            u.value
        }
        None => String::new(),
    };
    TelegramConfig {
        send_resolved: raw.send_resolved.is_none_or(|s| s.value),
        http_config: http_config(raw.http_config, scope, cx),
        api_url,
        bot_token,
        bot_token_file,
        chat_id,
        chat_id_file,
        message_thread_id: raw.message_thread_id.map_or(0, |m| m.value),
        message: text(raw.message),
        disable_notifications: raw.disable_notifications.is_some_and(|d| d.value),
        parse_mode,
        delivery: delivery(raw_delivery!(raw), scope, cx),
        pos,
    }
}

/// Fills Telegram entries from `global` as Alertmanager's `config.Load`: the API URL when
/// unset, the bot token when neither `bot_token` nor `bot_token_file` is set (then one of the
/// global ones is required).
pub(crate) fn apply_globals(
    receivers: &mut [ReceiverConfig],
    global: &GlobalConfig,
    cx: &mut Cx<'_>,
) {
    let g = &global.telegram;
    for r in receivers {
        for t in &mut r.telegram_configs {
            if t.api_url.is_empty() {
                t.api_url.clone_from(&g.api_url);
            }
            if t.bot_token.is_none() && t.bot_token_file.is_none() {
                if g.bot_token.is_none() && g.bot_token_file.is_none() {
                    problem(
                        cx,
                        t.pos,
                        format!(
                            "receiver {:?}: missing bot_token or bot_token_file on \
                             telegram_config",
                            r.name
                        ),
                    );
                }
                t.bot_token.clone_from(&g.bot_token);
                t.bot_token_file.clone_from(&g.bot_token_file);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_with_env;
    use std::path::Path;

    fn receivers(body: &str) -> Result<crate::config::Config, Vec<String>> {
        let text = format!("route: {{receiver: r}}\nreceivers:\n  - name: r\n{body}");
        parse_with_env(&text, Path::new("c.yml"), &|_| None)
            .map_err(|e| e.errors().iter().map(ToString::to_string).collect())
    }

    fn errors(body: &str) -> Vec<String> {
        receivers(body).expect_err("config should be refused")
    }

    #[test]
    fn defaults_are_alertmanagers() {
        let c = receivers(
            "    msteams_configs: [{webhook_url: 'http://t/1'}]\n    \
             msteamsv2_configs: [{webhook_url: 'http://t/2'}]\n    \
             discord_configs: [{webhook_url: 'http://d/3'}]\n    \
             telegram_configs: [{bot_token: tok, chat_id: -100123}]\n",
        )
        .unwrap();
        let r = &c.receivers[0];
        assert!(r.msteams_configs[0].send_resolved && r.msteams_configs[0].title.is_none());
        assert!(r.msteamsv2_configs[0].send_resolved);
        assert!(r.discord_configs[0].send_resolved && r.discord_configs[0].username.is_none());
        let t = &r.telegram_configs[0];
        assert!(t.send_resolved && !t.disable_notifications);
        assert_eq!(t.parse_mode, "HTML");
        assert_eq!(t.api_url, "https://api.telegram.org");
        assert_eq!(t.chat_id, -100123);
        assert_eq!(t.bot_token.as_ref().unwrap().expose(), "tok");
    }

    #[test]
    fn telegram_takes_the_global_token_and_url() {
        let text = "global:\n  telegram_api_url: 'http://tg.example'\n  \
                    telegram_bot_token: gtok\nroute: {receiver: r}\nreceivers:\n  - name: r\n    \
                    telegram_configs: [{chat_id: 1, parse_mode: ''}, \
                    {chat_id: 2, bot_token: own, api_url: 'http://own'}]\n";
        let c = parse_with_env(text, Path::new("c.yml"), &|_| None).unwrap();
        let t = &c.receivers[0].telegram_configs;
        assert_eq!(t[0].api_url, "http://tg.example");
        assert_eq!(t[0].bot_token.as_ref().unwrap().expose(), "gtok");
        assert_eq!(t[0].parse_mode, "");
        assert_eq!(t[1].api_url, "http://own");
        assert_eq!(t[1].bot_token.as_ref().unwrap().expose(), "own");
    }

    #[test]
    fn validation_errors_are_alertmanagers_with_positions() {
        let got = errors(
            "    msteams_configs:\n      - title: x\n      \
             - {webhook_url: 'http://a', webhook_url_file: f}\n    \
             discord_configs: [{webhook_url: 'ftp://x'}]\n    \
             telegram_configs:\n      - {bot_token: a, bot_token_file: b, chat_id: 1}\n      \
             - {bot_token: a}\n      - {bot_token: a, chat_id: 1, chat_id_file: c}\n      \
             - {bot_token: a, chat_id: 1, parse_mode: markdown}\n      - {chat_id: 7}\n",
        );
        let want = [
            "c.yml:5:9: receiver \"r\": one of webhook_url or webhook_url_file must be configured",
            "c.yml:6:53: receiver \"r\": at most one of webhook_url & webhook_url_file must be configured",
            "c.yml:7:37: receiver \"r\": webhook_url: unsupported scheme \"ftp\" for URL",
            "c.yml:9:40: receiver \"r\": at most one of bot_token & bot_token_file must be configured",
            "c.yml:10:9: receiver \"r\": missing chat_id or chat_id_file on telegram_config",
            "c.yml:11:50: receiver \"r\": at most one of chat_id & chat_id_file must be configured",
            "c.yml:12:48: receiver \"r\": unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
            "c.yml:13:9: receiver \"r\": missing bot_token or bot_token_file on telegram_config",
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "got {g:?}, want {w:?}");
        }
    }

    #[test]
    fn files_are_checked_and_globals_conflict() {
        let got = errors(
            "    telegram_configs: [{bot_token_file: /nonexistent/tok, chat_id_file: /nonexistent/c}]\n    \
             discord_configs: [{webhook_url_file: /nonexistent/u}]\n",
        );
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].contains("bot_token_file") && got[0].contains("/nonexistent/tok"));
        let text = "global:\n  telegram_bot_token: a\n  telegram_bot_token_file: b\n";
        let got = parse_with_env(text, Path::new("c.yml"), &|_| None).unwrap_err();
        assert!(
            got.to_string().contains(
                "c.yml:3:28: global: at most one of telegram_bot_token & telegram_bot_token_file"
            ),
            "{got}"
        );
    }
}
