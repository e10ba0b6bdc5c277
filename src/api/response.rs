//! Prometheus' API envelope: `{"status":"success","data":…}` and
//! `{"status":"error","errorType":…,"error":…}` with the matching HTTP codes; and
//! [`json_errors`], which gives the same shape to failures that do not come from a handler.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};

/// Prometheus' API error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A malformed request (400).
    BadData,
    /// The query failed to evaluate (422).
    Execution,
    /// The query timed out (503).
    Timeout,
    /// The query was cancelled (499 in Prometheus; we answer 503).
    Canceled,
    /// Something broke on our side (500).
    Internal,
    /// The resource does not exist (404).
    NotFound,
    /// The server is not ready yet (503).
    Unavailable,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    pub(super) fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An API error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Kind of error.
    pub kind: ErrorType,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// An error of any type.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "errorType": self.kind.as_str(),
            "error": self.message,
        });
        (self.kind.status(), axum::Json(body)).into_response()
    }
}

/// A success answer with optional annotations.
#[derive(Debug, Clone)]
pub struct ApiOk {
    data: Json,
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl ApiOk {
    /// Success with `data`.
    pub fn new(data: Json) -> Self {
        Self {
            data,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    /// Adds Prometheus' `warnings` and `infos` annotations.
    pub fn with_annotations(mut self, warnings: Vec<String>, infos: Vec<String>) -> Self {
        self.warnings = warnings;
        self.infos = infos;
        self
    }
}

impl IntoResponse for ApiOk {
    fn into_response(self) -> Response {
        let mut body = json!({ "status": "success", "data": self.data });
        if !self.warnings.is_empty() {
            body["warnings"] = json!(self.warnings);
        }
        if !self.infos.is_empty() {
            body["infos"] = json!(self.infos);
        }
        axum::Json(body).into_response()
    }
}

/// What every API handler returns.
pub type ApiResult = Result<ApiOk, ApiError>;

/// Longest error text taken over from a plain-text error response.
const MAX_ERROR_TEXT: usize = 4096;

/// Middleware: an error answer under `/api/` that is not JSON already (an extractor's
/// rejection such as an undecodable path parameter, 404 and 405 from the router, 413 from the
/// body limit, 415 from the decoder, 408 for a slow body) gets the API's JSON shape with the
/// same status: Prometheus' envelope under `/api/v1/`, Alertmanager's JSON string under
/// `/api/v2/`. The `errorType` follows the status: `not_found` (404), `timeout` (408),
/// `unavailable` (503), `internal` (other 5xx), `bad_data` (other 4xx).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let alertmanager = path.starts_with("/api/v2/");
    if !alertmanager && !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let response = next.run(req).await;
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_json = content_type.starts_with("application/json");
    // The remote-write receiver answers plain text, as Prometheus' does.
    let remote_write_text = path == "/api/v1/write" && content_type.starts_with("text/plain");
    if !(status.is_client_error() || status.is_server_error()) || is_json || remote_write_text {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => format!("no API endpoint {path}"),
        (true, StatusCode::METHOD_NOT_ALLOWED) => format!("method not allowed for {path}"),
        (true, StatusCode::UNSUPPORTED_MEDIA_TYPE) => {
            "unsupported Content-Encoding (only gzip and identity are accepted)".to_owned()
        }
        (true, _) => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let body = if alertmanager {
        Json::String(message)
    } else {
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorType::NotFound,
            StatusCode::REQUEST_TIMEOUT => ErrorType::Timeout,
            StatusCode::SERVICE_UNAVAILABLE => ErrorType::Unavailable,
            s if s.is_server_error() => ErrorType::Internal,
            _ => ErrorType::BadData,
        };
        json!({"status": "error", "errorType": kind.as_str(), "error": message})
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower_service::Service;

    async fn call(app: &mut Router, method: &str, uri: &str) -> (StatusCode, Json) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = app.call(req).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
        (status, body)
    }

    #[tokio::test]
    async fn every_api_failure_is_json() {
        let mut app = Router::new()
            .route(
                "/api/v1/label/{name}/values",
                get(|axum::extract::Path(n): axum::extract::Path<String>| async move { n }),
            )
            .route(
                "/api/v1/ok",
                get(|| async { ApiError::bad_data("already json") }),
            )
            .route("/api/v2/silences", get(|| async { "[]" }))
            .route(
                "/plain",
                get(|| async { (StatusCode::BAD_REQUEST, "plain") }),
            )
            .layer(axum::middleware::from_fn(json_errors));

        let (status, body) = call(&mut app, "GET", "/api/v1/label/%ff/values").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["status"], "error");
        assert_eq!(body["errorType"], "bad_data");
        assert!(
            body["error"].as_str().unwrap().contains("Invalid URL"),
            "{body}"
        );

        let (status, body) = call(&mut app, "GET", "/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["errorType"], "not_found");
        assert_eq!(body["error"], "no API endpoint /api/v1/nope");

        let (status, body) = call(&mut app, "DELETE", "/api/v1/ok").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["errorType"], "bad_data");

        let (status, body) = call(&mut app, "GET", "/api/v1/ok").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "already json");

        let (status, body) = call(&mut app, "POST", "/api/v2/silences").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            body,
            Json::String("method not allowed for /api/v2/silences".into())
        );

        // Outside the API nothing changes.
        let (status, body) = call(&mut app, "GET", "/plain").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, Json::Null);
    }
}
