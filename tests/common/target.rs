//! An HTTP target the test controls: it serves a given body, garbage, a
//! huge body, an error status, or hangs — switchable while running.
#![allow(dead_code)]

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the target answers on `/metrics`.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with this body (Prometheus text format).
    Text(String),
    /// 200 with this many bytes of valid-looking samples.
    Huge(usize),
    /// Never answers (sleeps this long first).
    Hang(Duration),
    /// Answers with this status.
    Status(u16),
}

/// A running target; the server stops when the test process ends.
pub struct TestTarget {
    pub addr: String,
    behaviour: Arc<Mutex<Behaviour>>,
}

async fn metrics(State(b): State<Arc<Mutex<Behaviour>>>) -> Response {
    let behaviour = b.lock().expect("behaviour lock").clone();
    match behaviour {
        Behaviour::Text(t) => t.into_response(),
        Behaviour::Huge(n) => {
            let line = "huge_metric_with_a_long_name{label=\"some value to make lines long\"} 1\n";
            let mut body = String::with_capacity(n + line.len());
            let mut i = 0u64;
            while body.len() < n {
                body.push_str(&line.replace("huge_metric", &format!("huge_metric_{i}")));
                i += 1;
            }
            body.into_response()
        }
        Behaviour::Hang(d) => {
            tokio::time::sleep(d).await;
            "late 1\n".into_response()
        }
        Behaviour::Status(s) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    }
}

impl TestTarget {
    /// Starts a target on a free port.
    pub fn start(initial: Behaviour) -> TestTarget {
        let behaviour = Arc::new(Mutex::new(initial));
        let state = behaviour.clone();
        let app = axum::Router::new()
            .route("/metrics", get(metrics))
            .with_state(state);
        let addr = serve_router(app);
        TestTarget { addr, behaviour }
    }

    /// Changes what the target answers from now on.
    pub fn set(&self, b: Behaviour) {
        *self.behaviour.lock().expect("behaviour lock") = b;
    }
}

/// Serves `app` on a free port of 127.0.0.1 from a thread of its own (for as long as the test
/// process lives) and returns its `127.0.0.1:port`.
pub fn serve_router(app: axum::Router) -> String {
    serve_router_at(|_| app)
}

/// [`serve_router`] for an app that needs its own address (an SD answer naming itself).
pub fn serve_router_at(app: impl FnOnce(&str) -> axum::Router + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = app(&addr);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    addr
}
