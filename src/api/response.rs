//! Prometheus' API envelope: `{"status":"success","data":…}` and
//! `{"status":"error","errorType":…,"error":…}` with the matching HTTP codes.

use axum::http::StatusCode;
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

    fn status(self) -> StatusCode {
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
