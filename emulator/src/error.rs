//! API errors: every non-2xx API answer is `{"detail": …}` (PROTOCOL §3).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub detail: Value,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<Value>) -> Self {
        ApiError { status, detail: detail.into() }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail.into())
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail.into())
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid or missing credential")
    }

    pub fn forbidden(detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn insufficient_scope(scopes: &[&str]) -> Self {
        Self::forbidden(json!({ "error": "insufficient_scope", "required": scopes }))
    }

    pub fn quota_exceeded() -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "quota_exceeded")
    }

    /// FastAPI's shape: a list of `{"loc", "msg", "type"}`.
    pub fn unprocessable(errors: Vec<Value>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, Value::Array(errors))
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {what}"))
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(format!("storage: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

/// An answer of the storage endpoints, which speak S3-like XML rather than the API's JSON.
pub(crate) fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>\n", xml_escape(message));
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/xml"));
    resp
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
