//! The web UI: server-rendered pages (askama templates in `templates/`, compiled and checked
//! with the crate, HTML-escaped by default) over the same state the API reads, enhanced by
//! small embedded scripts (htmx, uPlot; `assets.rs`). Every page works without JavaScript.
//!
//! Pages (the URLs are a contract): `/alerts` (`/` redirects there), `/alerts/{fingerprint}`
//! (why an alert fired; the fingerprint as in `/api/v2/alerts`), `/silences`, `/silences/new`,
//! `/rules` and `/rules/preview`, `/targets`, `/query`, `/status`; assets under `/assets/`.
//!
//! Access: the pages sit behind the same layers as the API (`api::harden`: basic auth of
//! `--web.config.file`, headers). The write forms (`POST /silences/new`,
//! `POST /silences/{id}/expire`) carry the admin token, when one is set, in a password field
//! (a browser form cannot send `Authorization: Bearer`), checked with the API's
//! [`AdminCheck`]; and they are protected from cross-site requests by a per-process random
//! token in a hidden field, a `SameSite=Strict` cookie holding the same token, and a check
//! that `Origin` (or `Referer`), when sent, is this server.
//!
//! **Invariant:** handlers only read shared state and run queries on the API's query executor;
//! the only writes are silences, through the same `Silences` the API uses.

mod alert_detail;
mod alerts;
mod assets;
pub mod bench;
mod chart;
mod format;
mod query;
mod rules;
mod silences;
mod status;
mod targets;

use crate::api::{AdminCheck, AppState};
use crate::notify::NotifierHandle;
use askama::Template;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// What the pages read.
#[derive(Clone)]
pub struct UiState {
    /// The API's state: store, engine, query executor, scrape, rules, status.
    pub app: AppState,
    /// The notifier: routes, silences, inhibitions, delivery.
    pub notifier: Arc<NotifierHandle>,
    /// This process' CSRF token.
    csrf: Arc<str>,
}

impl UiState {
    /// The UI's state over the API's and the notifier; draws a fresh CSRF token.
    pub fn new(app: AppState, notifier: Arc<NotifierHandle>) -> Self {
        let bytes: [u8; 24] = rand::random();
        let csrf: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        UiState {
            app,
            notifier,
            csrf: csrf.into(),
        }
    }
}

/// The UI's routes, to merge into the main router (before `api::harden`).
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/alerts") }))
        .route("/alerts", get(alerts::page))
        .route("/alerts/{fingerprint}", get(alert_detail::page))
        .route("/silences", get(silences::list))
        .route("/silences/new", get(silences::form).post(silences::create))
        .route("/silences/{id}/expire", post(silences::expire))
        .route("/rules", get(rules::page))
        .route("/rules/preview", get(rules::preview))
        .route("/targets", get(targets::page))
        .route("/query", get(query::page))
        .route("/status", get(status::page))
        .route("/assets/{name}", get(assets::serve))
        .with_state(state)
}

/// The pages of the navigation bar: (path, title).
const NAV: &[(&str, &str)] = &[
    ("/alerts", "Alerts"),
    ("/silences", "Silences"),
    ("/rules", "Rules"),
    ("/targets", "Targets"),
    ("/query", "Query"),
    ("/status", "Status"),
];

/// The navigation bar with the current page marked.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Its path.
    pub href: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Whether this is the page shown.
    pub current: bool,
}

fn nav(current: &str) -> Vec<NavItem> {
    NAV.iter()
        .map(|(href, title)| NavItem {
            href,
            title,
            current: *href == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Vec<NavItem>,
    title: String,
    message: String,
}

/// A page's answer: the rendered HTML, or an error page with its status.
fn html(status: StatusCode, page: askama::Result<String>) -> Response {
    match page {
        Ok(body) => (status, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response(),
        Err(e) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            &format!("rendering the page failed: {e}"),
        ),
    }
}

/// An error page under `current`'s navigation.
fn error_page(status: StatusCode, current: &str, message: &str) -> Response {
    let page = ErrorPage {
        nav: nav(current),
        title: status.canonical_reason().unwrap_or("error").to_owned(),
        message: message.to_owned(),
    };
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => (status, format!("{message} (and rendering failed: {e})\n")).into_response(),
    }
}

/// The cookie holding the CSRF token (`SameSite=Strict`: never sent from another site).
const CSRF_COOKIE: &str = "watchfire_csrf";

/// `Set-Cookie` for the CSRF token, sent with every form page.
fn csrf_cookie(token: &str) -> (header::HeaderName, String) {
    (
        header::SET_COOKIE,
        format!("{CSRF_COOKIE}={token}; Path=/; SameSite=Strict; HttpOnly"),
    )
}

/// Why a write form was refused.
#[derive(Debug, PartialEq, Eq)]
enum WriteRefused {
    /// The CSRF checks failed (403).
    Forbidden(&'static str),
    /// The admin token is missing or wrong (401).
    Unauthorized,
}

/// The checks of every write form: same origin, the CSRF token in the form and in the cookie,
/// the admin token where one is set.
fn check_write(
    headers: &HeaderMap,
    admin: Option<&AdminCheck>,
    expected_csrf: &str,
    form_csrf: Option<&str>,
    form_token: Option<&str>,
) -> Result<(), WriteRefused> {
    if !same_origin(headers) {
        return Err(WriteRefused::Forbidden(
            "the request came from another site (Origin/Referer)",
        ));
    }
    if !tokens_equal(form_csrf.unwrap_or(""), expected_csrf) {
        return Err(WriteRefused::Forbidden(
            "the form's CSRF token is missing or stale: reload the page",
        ));
    }
    let cookie = cookie_value(headers, CSRF_COOKIE).unwrap_or_default();
    if !tokens_equal(&cookie, expected_csrf) {
        return Err(WriteRefused::Forbidden(
            "the CSRF cookie is missing or stale: reload the page",
        ));
    }
    match admin {
        Some(check) if !check.allows(form_token.unwrap_or("")) => Err(WriteRefused::Unauthorized),
        _ => Ok(()),
    }
}

fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `Origin` (else `Referer`), when present, names the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return true;
    };
    match url::Url::parse(source) {
        Ok(u) => {
            let authority = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return false,
            };
            authority.eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// The query string's pairs.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `key` in `pairs`.
fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `s` for a URL query value.
fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The buffer's window in ms (`--storage.retention`; one hour when unbounded).
fn window_ms(app: &AppState) -> i64 {
    app.store
        .options()
        .retention_ms
        .unwrap_or(3_600_000)
        .max(60_000)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn write_forms_need_same_origin_csrf_and_admin_token() {
        let good = headers(&[
            ("host", "127.0.0.1:9093"),
            ("origin", "http://127.0.0.1:9093"),
            ("cookie", "a=b; watchfire_csrf=tok"),
        ]);
        assert_eq!(check_write(&good, None, "tok", Some("tok"), None), Ok(()));
        // Another site.
        let evil = headers(&[
            ("host", "127.0.0.1:9093"),
            ("origin", "http://evil.example"),
            ("cookie", "watchfire_csrf=tok"),
        ]);
        assert!(matches!(
            check_write(&evil, None, "tok", Some("tok"), None),
            Err(WriteRefused::Forbidden(_))
        ));
        // No token in the form, or a stale one, or no cookie.
        assert!(check_write(&good, None, "tok", None, None).is_err());
        assert!(check_write(&good, None, "tok", Some("old"), None).is_err());
        let no_cookie = headers(&[("host", "h:1"), ("referer", "http://h:1/silences")]);
        assert!(check_write(&no_cookie, None, "tok", Some("tok"), None).is_err());
        // The admin token where one is set.
        let admin = AdminCheck::new(Some(crate::config::Secret::new("s3cret")));
        assert_eq!(
            check_write(&good, Some(&admin), "tok", Some("tok"), Some("nope")),
            Err(WriteRefused::Unauthorized)
        );
        assert_eq!(
            check_write(&good, Some(&admin), "tok", Some("tok"), Some("s3cret")),
            Ok(())
        );
        let open = AdminCheck::new(None);
        assert_eq!(
            check_write(&good, Some(&open), "tok", Some("tok"), None),
            Ok(())
        );
    }

    #[test]
    fn navigation_marks_the_current_page() {
        let n = nav("/rules");
        assert_eq!(n.iter().filter(|i| i.current).count(), 1);
        assert!(n.iter().any(|i| i.current && i.href == "/rules"));
    }
}
