//! Helpers for the notifier's end-to-end tests: a recording HTTP receiver that can fail on
//! purpose, config files in a temporary directory, alert builders.
#![allow(dead_code)]

pub mod receiver_diff;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watchfire::model::Labels;
use watchfire::notify::{NotifyAlert, Transition};

/// What the receiver does with one request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Answer 429 with `Retry-After: <secs>`.
    TooMany(u64),
    /// Never answer (sleep this long).
    Hang(Duration),
    /// Answer with this status and an `application/json` body (e.g. what Telegram, Opsgenie or
    /// PagerDuty answer; some Alertmanager integrations parse it).
    Json(u16, &'static str),
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The query string, without `?` (empty when there is none).
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    scripts: HashMap<String, VecDeque<Behaviour>>,
    always: HashMap<String, Behaviour>,
}

/// A recording HTTP server on 127.0.0.1; answers `200 ok` unless scripted otherwise.
#[derive(Clone)]
pub struct Recorder {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    /// Starts the server on a random port.
    pub async fn start() -> Recorder {
        Self::start_on(0).await
    }

    /// Starts the server on `port` of 127.0.0.1 (0: a random one), e.g. to bring a receiver
    /// that was down back up at the address watchfire knows.
    pub async fn start_on(port: u16) -> Recorder {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { addr, inner }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests to `path` get these answers, in order.
    pub fn script(&self, path: &str, behaviours: Vec<Behaviour>) {
        self.inner
            .lock()
            .scripts
            .insert(path.to_owned(), behaviours.into());
    }

    /// Every request to `path` gets this answer.
    pub fn always(&self, path: &str, behaviour: Behaviour) {
        self.inner.lock().always.insert(path.to_owned(), behaviour);
    }

    /// Requests received at `path` so far.
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        self.inner
            .lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has received `n` requests, or panics after `timeout`.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} of {n} requests after {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let behaviour = {
        let mut inner = inner.lock();
        inner.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().unwrap_or("").to_owned(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let scripted = inner.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        scripted
            .or_else(|| inner.always.get(&path).cloned())
            .unwrap_or(Behaviour::Status(200, "ok"))
    };
    match behaviour {
        Behaviour::Status(code, body) => {
            (StatusCode::from_u16(code).unwrap(), body).into_response()
        }
        Behaviour::TooMany(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", secs.to_string())],
            "slow down",
        )
            .into_response(),
        Behaviour::Json(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [("Content-Type", "application/json")],
            body,
        )
            .into_response(),
        Behaviour::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}

/// Loads config text written to `dir/watchfire.yml`.
pub fn load_config(dir: &std::path::Path, text: &str) -> watchfire::config::Config {
    let path = dir.join("watchfire.yml");
    std::fs::write(&path, text).unwrap();
    watchfire::config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A firing alert with `labels`, seq 1.
pub fn firing(pairs: &[(&str, &str)]) -> NotifyAlert {
    let mut a = NotifyAlert::firing(Labels::from_pairs(pairs.iter().copied()), Utc::now());
    a.annotations
        .insert("summary".into(), format!("{} is bad", a.name()));
    a.generator_url = "http://wf.example:9711/graph?g0.expr=up+%3D%3D+0&g0.tab=1".into();
    a
}

/// The same alert escalated or de-escalated to `to` (label `severity` updated).
pub fn change_severity(a: &NotifyAlert, to: &str) -> NotifyAlert {
    let from = a.severity.clone().unwrap_or_default();
    let mut b = a.clone();
    let mut builder = watchfire::model::LabelsBuilder::new(&a.labels);
    builder.set("severity", to);
    b.labels = builder.labels();
    b.severity = Some(to.to_owned());
    b.seq += 1;
    b.transition = if to == "critical" {
        Transition::Escalated {
            from,
            to: to.into(),
        }
    } else {
        Transition::DeEscalated {
            from,
            to: to.into(),
        }
    };
    b
}

/// The same alert resolved now.
pub fn resolved(a: &NotifyAlert) -> NotifyAlert {
    let mut b = a.clone();
    b.status = watchfire::notify::AlertStatus::Resolved;
    b.ends_at = Some(Utc::now());
    b.seq += 1;
    b.transition = Transition::Resolved {
        reason: watchfire::notify::ResolveReason::ValueRecovered,
    };
    b
}
