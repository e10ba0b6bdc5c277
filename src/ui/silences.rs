//! `/silences` (active, pending and expired silences, each with Expire and Edit) and
//! `/silences/new`: a form whose fields are named as the API's (`matchers` in Alertmanager's
//! matcher syntax, `startsAt`, `endsAt` as RFC 3339 times — `endsAt` may also be a duration
//! such as `2h` after `startsAt` —, `createdBy`, `comment`), prefilled from `?matchers=`, from
//! the alert it came from (`?alert=<fingerprint>`) or from the silence edited (`?id=`), and
//! previewing the active alerts it would match. `POST /silences/new` creates (or, with `id`,
//! updates) the silence through the same `Silences::upsert` as `POST /api/v2/silences`;
//! `POST /silences/{id}/expire` expires one. Both need the CSRF token and, when set, the admin
//! token (see the module `ui`).

use super::alerts::{active_alerts, rule_units};
use super::format;
use super::{
    check_write, csrf_cookie, error_page, html, nav, param, query_pairs, NavItem, UiState,
    WriteRefused,
};
use crate::api::AdminCheck;
use crate::model::matcher_text::{matcher_string, matches_all, parse_matchers};
use crate::notify::{Silence, SilenceError, SilenceState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, SecondsFormat, Utc};

/// One silence in the list.
#[derive(Debug, Clone)]
pub struct SilenceRow {
    /// Its id.
    pub id: String,
    /// `active`, `pending`, `expired`.
    pub state: &'static str,
    /// Its matchers, as text.
    pub matchers: Vec<String>,
    /// Start.
    pub starts: String,
    /// End.
    pub ends: String,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
    /// Active alerts it mutes now.
    pub muting: usize,
}

#[derive(Template)]
#[template(path = "silences.html")]
struct ListPage {
    nav: Vec<NavItem>,
    rows: Vec<SilenceRow>,
    created: String,
    csrf: String,
    admin_required: bool,
}

/// A matching alert in the preview.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Fingerprint.
    pub fp: String,
    /// Its labels as text.
    pub labels: String,
    /// Pending or firing.
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "silence_form.html")]
struct FormPage {
    nav: Vec<NavItem>,
    id: String,
    matchers: String,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
    error: String,
    preview: Vec<Preview>,
    previewed: bool,
    csrf: String,
    admin_required: bool,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Rows for `silences` at `now`, active first, then pending, then expired (newest first).
pub fn rows(
    silences: &[Silence],
    now: DateTime<Utc>,
    alerts: &[crate::model::Labels],
) -> Vec<SilenceRow> {
    let mut list: Vec<&Silence> = silences.iter().collect();
    list.sort_by(|a, b| {
        (a.state(now), std::cmp::Reverse(a.ends_at))
            .cmp(&(b.state(now), std::cmp::Reverse(b.ends_at)))
    });
    list.into_iter()
        .map(|s| SilenceRow {
            id: s.id.clone(),
            state: s.state(now).as_str(),
            matchers: s.matchers.iter().map(matcher_string).collect(),
            starts: format::time(s.starts_at),
            ends: format::time(s.ends_at),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
            muting: if s.state(now) == SilenceState::Active {
                alerts
                    .iter()
                    .filter(|l| matches_all(&s.matchers, l))
                    .count()
            } else {
                0
            },
        })
        .collect()
}

/// The labels of every active alert (rule and posted), as routed.
fn alert_labels(s: &UiState, now: DateTime<Utc>) -> Vec<(u64, crate::model::Labels, &'static str)> {
    let held = s.app.rules.alerts_snapshot();
    let posted = s.notifier.alerts().list(now);
    let units = rule_units(&s.app.rules);
    let external = s.app.rules.settings().external_labels;
    active_alerts(&held, &posted, &units, &external)
        .into_iter()
        .map(|a| (a.fp, a.labels, a.state))
        .collect()
}

/// `GET /silences[?created=<id>]`.
pub async fn list(
    State(s): State<UiState>,
    admin: Option<Extension<AdminCheck>>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = query_pairs(q.as_deref());
    let now = Utc::now();
    let labels: Vec<_> = alert_labels(&s, now).into_iter().map(|a| a.1).collect();
    let page = ListPage {
        nav: nav("/silences"),
        rows: rows(&s.notifier.silences().list(now), now, &labels),
        created: param(&pairs, "created").unwrap_or("").to_owned(),
        csrf: s.csrf.to_string(),
        admin_required: admin.is_some_and(|a| a.0.required()),
    };
    with_cookie(&s, html(StatusCode::OK, page.render()))
}

fn with_cookie(s: &UiState, mut r: Response) -> Response {
    let (name, value) = csrf_cookie(&s.csrf);
    if let Ok(v) = value.parse() {
        r.headers_mut().append(name, v);
    }
    r
}

/// The form's fields.
#[derive(Debug, Default, Clone)]
struct Fields {
    id: String,
    matchers: String,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

impl Fields {
    fn from_pairs(pairs: &[(String, String)]) -> Fields {
        let get = |k: &str| param(pairs, k).unwrap_or("").to_owned();
        Fields {
            id: get("id"),
            matchers: get("matchers"),
            starts_at: get("startsAt"),
            ends_at: get("endsAt"),
            created_by: get("createdBy"),
            comment: get("comment"),
        }
    }
}

/// Reads the form into a silence (before `Silences::upsert`'s own validation).
fn parse_fields(f: &Fields, now: DateTime<Utc>) -> Result<Silence, String> {
    let matchers = parse_matchers(&f.matchers).map_err(|e| format!("matchers: {e}"))?;
    if matchers.is_empty() {
        return Err("matchers: at least one matcher is required".into());
    }
    let starts_at = if f.starts_at.trim().is_empty() {
        now
    } else {
        DateTime::parse_from_rfc3339(f.starts_at.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("startsAt: not an RFC 3339 time ({e})"))?
    };
    let end_text = f.ends_at.trim();
    let ends_at = match DateTime::parse_from_rfc3339(end_text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => match crate::rules::parse_duration(end_text) {
            Ok(ms) if ms > 0 => starts_at + chrono::Duration::milliseconds(ms),
            _ => {
                return Err(format!(
                    "endsAt: neither an RFC 3339 time ({e}) nor a duration such as 2h"
                ))
            }
        },
    };
    if f.created_by.trim().is_empty() {
        return Err("createdBy: required".into());
    }
    if f.comment.trim().is_empty() {
        return Err("comment: required".into());
    }
    Ok(Silence {
        id: f.id.trim().to_owned(),
        matchers,
        starts_at,
        ends_at,
        updated_at: now,
        created_by: f.created_by.trim().to_owned(),
        comment: f.comment.clone(),
    })
}

fn form_page(
    s: &UiState,
    fields: Fields,
    error: String,
    admin_required: bool,
    now: DateTime<Utc>,
) -> FormPage {
    let previewed = !fields.matchers.trim().is_empty();
    let preview = match parse_matchers(&fields.matchers) {
        Ok(ms) if previewed && !ms.is_empty() => alert_labels(s, now)
            .into_iter()
            .filter(|(_, l, _)| matches_all(&ms, l))
            .take(200)
            .map(|(fp, l, state)| Preview {
                fp: format!("{fp:016x}"),
                labels: l.to_string(),
                state,
            })
            .collect(),
        _ => Vec::new(),
    };
    FormPage {
        nav: nav("/silences"),
        id: fields.id,
        matchers: fields.matchers,
        starts_at: fields.starts_at,
        ends_at: fields.ends_at,
        created_by: fields.created_by,
        comment: fields.comment,
        error,
        preview,
        previewed,
        csrf: s.csrf.to_string(),
        admin_required,
    }
}

/// `GET /silences/new[?matchers=…|?alert=<fp>&matchers=…|?id=<silence>]`.
pub async fn form(
    State(s): State<UiState>,
    admin: Option<Extension<AdminCheck>>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = query_pairs(q.as_deref());
    let now = Utc::now();
    let mut fields = Fields::from_pairs(&pairs);
    if let Some(id) = param(&pairs, "id").filter(|i| !i.is_empty()) {
        if let Some(sil) = s.notifier.silences().get(id) {
            if fields.matchers.is_empty() {
                fields.matchers = format!(
                    "{{{}}}",
                    sil.matchers
                        .iter()
                        .map(matcher_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                fields.starts_at = rfc3339(sil.starts_at);
                fields.ends_at = rfc3339(sil.ends_at);
                fields.created_by = sil.created_by.clone();
                fields.comment = sil.comment.clone();
            }
        } else {
            return error_page(
                StatusCode::NOT_FOUND,
                "/silences",
                &format!("silence {id} not found"),
            );
        }
    }
    // From an alert: its labels as equality matchers, unless matchers were given.
    if let Some(fp) = param(&pairs, "alert").and_then(|f| u64::from_str_radix(f, 16).ok()) {
        if fields.matchers.trim().is_empty() {
            if let Some((_, labels, _)) = alert_labels(&s, now).into_iter().find(|a| a.0 == fp) {
                fields.matchers = format::silence_matchers(&labels);
            }
        }
    }
    if fields.starts_at.is_empty() {
        fields.starts_at = rfc3339(now);
    }
    if fields.ends_at.is_empty() {
        fields.ends_at = rfc3339(now + chrono::Duration::hours(2));
    }
    let required = admin.is_some_and(|a| a.0.required());
    let page = form_page(&s, fields, String::new(), required, now);
    with_cookie(&s, html(StatusCode::OK, page.render()))
}

/// `POST /silences/new`: creates or updates, then shows the list. With `?preview=1` (the
/// Preview button: a POST so the admin token never lands in a URL) it only shows the form
/// again with the alerts the matchers select.
pub async fn create(
    State(s): State<UiState>,
    admin: Option<Extension<AdminCheck>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = query_pairs(std::str::from_utf8(&body).ok());
    let admin = admin.map(|a| a.0);
    let required = admin.as_ref().is_some_and(|a| a.required());
    if param(&query_pairs(q.as_deref()), "preview").is_some() {
        let page = form_page(
            &s,
            Fields::from_pairs(&pairs),
            String::new(),
            required,
            Utc::now(),
        );
        return with_cookie(&s, html(StatusCode::OK, page.render()));
    }
    if let Err(refused) = check_write(
        &headers,
        admin.as_ref(),
        &s.csrf,
        param(&pairs, "csrf"),
        param(&pairs, "adminToken"),
    ) {
        return refused_page(refused);
    }
    let now = Utc::now();
    let fields = Fields::from_pairs(&pairs);
    let outcome = parse_fields(&fields, now).and_then(|sil| {
        s.notifier
            .silences()
            .upsert(sil, now)
            .map_err(|e| e.to_string())
    });
    match outcome {
        Ok(id) => Redirect::to(&format!("/silences?created={id}#{id}")).into_response(),
        Err(e) => {
            let page = form_page(&s, fields, e, required, now);
            with_cookie(&s, html(StatusCode::BAD_REQUEST, page.render()))
        }
    }
}

/// `POST /silences/{id}/expire`.
pub async fn expire(
    State(s): State<UiState>,
    admin: Option<Extension<AdminCheck>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = query_pairs(std::str::from_utf8(&body).ok());
    let admin = admin.map(|a| a.0);
    if let Err(refused) = check_write(
        &headers,
        admin.as_ref(),
        &s.csrf,
        param(&pairs, "csrf"),
        param(&pairs, "adminToken"),
    ) {
        return refused_page(refused);
    }
    match s.notifier.silences().expire(&id, Utc::now()) {
        Ok(()) => Redirect::to(&format!("/silences#{id}")).into_response(),
        Err(e @ SilenceError::NotFound(_)) => {
            error_page(StatusCode::NOT_FOUND, "/silences", &e.to_string())
        }
        Err(e) => error_page(StatusCode::BAD_REQUEST, "/silences", &e.to_string()),
    }
}

fn refused_page(r: WriteRefused) -> Response {
    match r {
        WriteRefused::Forbidden(why) => error_page(StatusCode::FORBIDDEN, "/silences", why),
        WriteRefused::Unauthorized => error_page(
            StatusCode::UNAUTHORIZED,
            "/silences",
            "the admin token is missing or wrong (--web.admin-token-file)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    #[test]
    fn form_fields_become_a_silence() {
        let now = Utc::now();
        let f = Fields {
            matchers: "{alertname=\"HighLatency\", job=~\"api|web\"}".into(),
            starts_at: String::new(),
            ends_at: "2h".into(),
            created_by: "me".into(),
            comment: "deploy".into(),
            ..Fields::default()
        };
        let s = parse_fields(&f, now).unwrap();
        assert_eq!(s.matchers.len(), 2);
        assert_eq!(s.ends_at - s.starts_at, chrono::Duration::hours(2));
        let bad = Fields {
            matchers: "job=\"x".into(),
            ..f.clone()
        };
        assert!(parse_fields(&bad, now)
            .unwrap_err()
            .starts_with("matchers:"));
        let no_author = Fields {
            created_by: " ".into(),
            ..f.clone()
        };
        assert_eq!(
            parse_fields(&no_author, now).unwrap_err(),
            "createdBy: required"
        );
        let bad_end = Fields {
            ends_at: "tomorrow".into(),
            ..f
        };
        assert!(parse_fields(&bad_end, now)
            .unwrap_err()
            .starts_with("endsAt:"));
    }

    #[test]
    fn list_orders_by_state_and_counts_muted_alerts() {
        let now = Utc::now();
        let mk = |id: &str, start: i64, end: i64| Silence {
            id: id.into(),
            matchers: vec![crate::model::Matcher::equal("job", "api")],
            starts_at: now + chrono::Duration::minutes(start),
            ends_at: now + chrono::Duration::minutes(end),
            updated_at: now,
            created_by: "me".into(),
            comment: "<i>c</i>".into(),
        };
        let list = [mk("old", -60, -30), mk("later", 30, 60), mk("now", -5, 60)];
        let alerts = [
            Labels::from_pairs([("job", "api")]),
            Labels::from_pairs([("job", "db")]),
        ];
        let r = rows(&list, now, &alerts);
        let order: Vec<_> = r.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["now", "later", "old"]);
        assert_eq!(r[0].muting, 1);
        let page = ListPage {
            nav: nav("/silences"),
            rows: r,
            created: "now".into(),
            csrf: "tok".into(),
            admin_required: true,
        };
        let html = page.render().unwrap();
        assert!(html.contains("id=\"now\""));
        assert!(html.contains("name=\"csrf\" value=\"tok\""));
        assert!(html.contains("name=\"adminToken\""));
        assert!(html.contains("action=\"/silences/now/expire\""));
        assert!(!html.contains("<i>c</i>"));
    }
}
