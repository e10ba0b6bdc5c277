//! An axum extractor that collects [`Params`] from the query string and a
//! form-encoded body, as Prometheus' API accepts both for GET and POST.

use super::params::Params;
use super::response::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Request parameters from the URL and, for form posts, the body.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    /// `bad_data`, with status 413 when the body exceeds the limit.
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_string);
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = if is_form {
            Some(Bytes::from_request(req, state).await.map_err(|e| {
                let too_large = e.status() == StatusCode::PAYLOAD_TOO_LARGE;
                let error = ApiError::bad_data(format!("error reading request body: {e}"));
                let mut response = error.into_response();
                if too_large {
                    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                }
                response
            })?)
        } else {
            None
        };
        Ok(Form(Params::parse(query.as_deref(), body.as_deref())))
    }
}
