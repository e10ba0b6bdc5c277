//! Alertmanager API v2 silences (`GET/POST /api/v2/silences`, `GET/DELETE
//! /api/v2/silence/{id}`) in Alertmanager's wire shapes, so `amtool silence ...` works against
//! watchfire; and `GET /api/v1/notifications/failed`, the dead-letter list.
//!
//! Errors answer as Alertmanager's do: a JSON string body with 400, 404 or 500.

use crate::model::Matcher;
use crate::notify::{DeadLetters, Silence, SilenceError, Silences};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::sync::Arc;

/// The silence routes, to merge into the main router.
pub fn silences_router(silences: Arc<Silences>) -> Router {
    Router::new()
        .route("/api/v2/silences", get(list).post(create))
        .route("/api/v2/silence/{id}", get(get_one).delete(expire))
        .with_state(silences)
}

/// `GET /api/v1/notifications/failed`, to merge into the main router.
pub fn failed_notifications_router(dead: Arc<DeadLetters>) -> Router {
    Router::new()
        .route(
            "/api/v1/notifications/failed",
            get(|State(dead): State<Arc<DeadLetters>>| async move {
                Json(json!({"status": "success", "data": dead.to_json()}))
            }),
        )
        .with_state(dead)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(Value::String(message.into()))).into_response()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A silence as Alertmanager's `gettableSilence`.
pub fn silence_json(s: &Silence, now: DateTime<Utc>) -> Value {
    let matchers: Vec<Value> = s
        .matchers
        .iter()
        .map(|m| {
            let (is_equal, is_regex) = match m.op_str() {
                "=" => (true, false),
                "!=" => (false, false),
                "=~" => (true, true),
                _ => (false, true),
            };
            json!({"isEqual": is_equal, "isRegex": is_regex, "name": m.name, "value": m.value()})
        })
        .collect();
    json!({
        "id": s.id,
        "status": {"state": s.state(now).as_str()},
        "updatedAt": time(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": time(s.ends_at),
        "matchers": matchers,
        "startsAt": time(s.starts_at),
    })
}

/// Reads a `postableSilence`.
pub fn parse_silence(body: &[u8], now: DateTime<Utc>) -> Result<Silence, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = |key: &str| -> Result<String, String> {
        match &v[key] {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Err(format!("{key} in body is required")),
            _ => Err(format!("{key} in body must be of type string")),
        }
    };
    let when = |key: &str| -> Result<DateTime<Utc>, String> {
        let t = text(key)?;
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{key} in body must be of type date-time: {e}"))
    };
    let Some(raw_matchers) = v["matchers"].as_array() else {
        return Err("matchers in body is required".to_owned());
    };
    let mut matchers = Vec::with_capacity(raw_matchers.len());
    for m in raw_matchers {
        let name = m["name"].as_str().ok_or("matcher name is required")?;
        let value = m["value"].as_str().ok_or("matcher value is required")?;
        let is_regex = m["isRegex"]
            .as_bool()
            .ok_or("matcher isRegex is required")?;
        let is_equal = m["isEqual"].as_bool().unwrap_or(true);
        let matcher = match (is_equal, is_regex) {
            (true, false) => Ok(Matcher::equal(name, value)),
            (false, false) => Ok(Matcher::not_equal(name, value)),
            (true, true) => Matcher::regex(name, value),
            (false, true) => Matcher::not_regex(name, value),
        };
        matchers.push(matcher.map_err(|e| e.to_string())?);
    }
    Ok(Silence {
        id: v["id"].as_str().unwrap_or("").to_owned(),
        matchers,
        starts_at: when("startsAt")?,
        ends_at: when("endsAt")?,
        updated_at: now,
        created_by: text("createdBy")?,
        comment: text("comment")?,
    })
}

async fn create(State(silences): State<Arc<Silences>>, body: Bytes) -> Response {
    let now = Utc::now();
    let silence = match parse_silence(&body, now) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match silences.upsert(silence, now) {
        Ok(id) => Json(json!({"silenceID": id})).into_response(),
        Err(e @ SilenceError::NotFound(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn list(State(silences): State<Arc<Silences>>, RawQuery(query): RawQuery) -> Response {
    let mut filters: Vec<Matcher> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if key != "filter" {
            continue;
        }
        match crate::model::matcher_text::parse_matchers(&value) {
            Ok(ms) => filters.extend(ms),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let now = Utc::now();
    let out: Vec<Value> = silences
        .list(now)
        .iter()
        .filter(|s| {
            let labels = crate::model::Labels::from_pairs(
                s.matchers.iter().map(|m| (m.name.as_str(), m.value())),
            );
            crate::model::matcher_text::matches_all(&filters, &labels)
        })
        .map(|s| silence_json(s, now))
        .collect();
    Json(Value::Array(out)).into_response()
}

async fn get_one(State(silences): State<Arc<Silences>>, Path(id): Path<String>) -> Response {
    match silences.get(&id) {
        Some(s) => Json(silence_json(&s, Utc::now())).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("silence {id} not found")),
    }
}

async fn expire(State(silences): State<Arc<Silences>>, Path(id): Path<String>) -> Response {
    match silences.expire(&id, Utc::now()) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e @ SilenceError::NotFound(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_alertmanager_shapes() {
        let now = Utc::now();
        let body = br#"{"matchers":[{"name":"alertname","value":"Disk.*","isRegex":true},
            {"name":"env","value":"dev","isRegex":false,"isEqual":false}],
            "startsAt":"2020-01-01T00:00:00.000Z","endsAt":"2099-01-01T00:00:00Z",
            "createdBy":"me","comment":"maintenance"}"#;
        let s = parse_silence(body, now).unwrap();
        assert_eq!(s.matchers.len(), 2);
        let store = Silences::new();
        let id = store.upsert(s, now).unwrap();
        let v = silence_json(&store.get(&id).unwrap(), now);
        assert_eq!(v["status"]["state"], "active");
        assert_eq!(v["matchers"][0]["isRegex"], true);
        assert_eq!(v["matchers"][1]["isEqual"], false);
        assert_eq!(v["endsAt"], "2099-01-01T00:00:00.000Z");
        assert_eq!(v["createdBy"], "me");
    }

    #[test]
    fn reports_missing_fields() {
        let now = Utc::now();
        assert!(parse_silence(b"{}", now).unwrap_err().contains("matchers"));
        let e = parse_silence(br#"{"matchers":[],"startsAt":"x"}"#, now).unwrap_err();
        assert!(e.contains("startsAt"), "{e}");
        assert!(parse_silence(b"nope", now)
            .unwrap_err()
            .starts_with("invalid JSON"));
    }
}
