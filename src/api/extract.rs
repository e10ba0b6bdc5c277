//! An axum extractor that collects [`Params`] from the query string and a
//! form-encoded body, as Prometheus' API accepts both for GET and POST.

use super::params::Params;
use super::response::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

/// Request parameters from the URL and, for form posts, the body.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().map(str::to_string);
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = if is_form {
            Some(
                Bytes::from_request(req, state)
                    .await
                    .map_err(|e| ApiError::bad_data(format!("error reading request body: {e}")))?,
            )
        } else {
            None
        };
        Ok(Form(Params::parse(query.as_deref(), body.as_deref())))
    }
}
