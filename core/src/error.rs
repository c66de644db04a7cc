//! The one error type of the SDK. Bindings map [`ErrorKind`] to their own classes in one place.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// What went wrong, coarsely: one kind per class a binding exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401: the credential is missing, unknown, expired or revoked.
    Auth,
    /// 402: storage or link quota exceeded.
    QuotaExceeded,
    /// 403: the credential lacks a scope, or access is denied.
    Permission,
    /// 404: no such resource (or another tenant's).
    NotFound,
    /// 409: a conflict, e.g. sharing a file whose scan is not `clean`.
    Conflict,
    /// Any other non-2xx answer (400, 422, 429, 5xx, a refused storage PUT, …).
    Api,
    /// The connection could not be made, or broke.
    Connect,
    /// The server made no progress for the configured timeout.
    Timeout,
    /// The caller cancelled the operation.
    Cancelled,
    /// The caller passed something unusable (empty ID, bad option, missing key, …).
    InvalidInput,
    /// Reading or writing a local file failed.
    Io,
    /// Bytes did not match: a size or SHA-256 mismatch, or a file that changed while read.
    Integrity,
    /// A bug in the SDK (a panic while a call ran); please report it.
    Internal,
}

impl ErrorKind {
    /// A stable lowercase code, for bindings and logs.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Api => "api",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Io => "io",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind of an HTTP status, per PROTOCOL §3.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Auth,
            402 => ErrorKind::QuotaExceeded,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            _ => ErrorKind::Api,
        }
    }
}

/// The parsed `detail` of an error body: a string, an object or list, or the raw text when the
/// body was not JSON. More shapes may come: a `match` needs a wildcard arm.
///
/// ```compile_fail,E0004
/// fn shown(detail: &fluidcloud::Detail) -> String {
///     match detail {
///         fluidcloud::Detail::Json(v) => v.to_string(),
///         fluidcloud::Detail::Text(t) => t.clone(),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Detail {
    Json(Value),
    Text(String),
}

impl Detail {
    /// Parses an error body: `{"detail": …}` gives its value, other JSON the whole value,
    /// anything else the text.
    pub fn parse(body: &[u8]) -> Detail {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut obj)) if obj.contains_key("detail") => {
                Detail::Json(obj.remove("detail").unwrap_or(Value::Null))
            }
            Ok(v) => Detail::Json(v),
            Err(_) => Detail::Text(String::from_utf8_lossy(body).into_owned()),
        }
    }

    /// The detail as JSON (text becomes a JSON string).
    pub fn to_json(&self) -> Value {
        match self {
            Detail::Json(v) => v.clone(),
            Detail::Text(t) => Value::String(t.clone()),
        }
    }

    fn summary(&self) -> String {
        let text = match self {
            Detail::Json(Value::String(s)) => s.clone(),
            Detail::Json(v) => v.to_string(),
            Detail::Text(t) => t.trim().to_string(),
        };
        let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 300 {
            format!("{}…", one_line.chars().take(300).collect::<String>())
        } else {
            one_line
        }
    }
}

/// Every failure of the SDK. Messages are one line, name the call, and never contain the
/// credential. Boxed, so that `Result`s stay small on the happy path.
#[derive(Debug)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    call: String,
    message: String,
    status: Option<u16>,
    detail: Option<Detail>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    from_storage: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, call: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                call: call.into(),
                message: message.into(),
                status: None,
                detail: None,
                request_id: None,
                retry_after: None,
                source: None,
                from_storage: false,
            }),
        }
    }

    /// A non-2xx answer.
    pub(crate) fn status(
        call: impl Into<String>,
        status: u16,
        detail: Detail,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let mut e = Error::new(ErrorKind::from_status(status), call, detail.summary());
        e.inner.status = Some(status);
        e.inner.detail = Some(detail);
        e.inner.request_id = request_id;
        e.inner.retry_after = retry_after;
        e
    }

    pub(crate) fn invalid(call: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, call, message)
    }

    pub(crate) fn cancelled(call: impl Into<String>) -> Self {
        Error::new(ErrorKind::Cancelled, call, "cancelled")
    }

    pub(crate) fn io(call: impl Into<String>, what: impl fmt::Display, e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, call, format!("{what}: {e}")).with_source(e)
    }

    pub(crate) fn integrity(call: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Integrity, call, message)
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.inner.request_id = request_id;
        self
    }

    pub(crate) fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Marks an answer of storage (a presigned URL), not of the API. A refused PUT is an
    /// `Api` error whatever its status (PROTOCOL §3): storage's 403 or 404 says nothing about
    /// the caller's credential or resources.
    pub(crate) fn marked_as_storage(mut self) -> Self {
        self.inner.from_storage = true;
        if self.inner.status.is_some() {
            self.inner.kind = ErrorKind::Api;
        }
        self
    }

    /// Whether the failure came from storage (a presigned upload URL) rather than the API:
    /// its `detail` is then storage's short text or XML.
    pub fn is_from_storage(&self) -> bool {
        self.inner.from_storage
    }

    pub(crate) fn with_call(mut self, call: impl Into<String>) -> Self {
        self.inner.call = call.into();
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The call that failed, e.g. `files.get`.
    pub fn call(&self) -> &str {
        &self.inner.call
    }

    /// The message without the call's name.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The HTTP status, for answers that had one.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The parsed `detail` of the error body.
    pub fn detail(&self) -> Option<&Detail> {
        self.inner.detail.as_ref()
    }

    /// The server's `X-Request-Id`, to quote to support.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether trying again may succeed (per PROTOCOL: connection errors, timeouts, 408, 429,
    /// 500, 502, 503, 504).
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Connect | ErrorKind::Timeout => true,
            _ => matches!(self.inner.status, Some(408 | 429 | 500 | 502 | 503 | 504)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.inner.call)?;
        if let Some(status) = self.inner.status {
            write!(f, "HTTP {status}: ")?;
        }
        write!(f, "{}", self.inner.message)?;
        if let Some(id) = &self.inner.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_parse_by_shape() {
        assert_eq!(Detail::parse(br#"{"detail":"quota_exceeded"}"#), Detail::Json(Value::from("quota_exceeded")));
        assert_eq!(Detail::parse(b"<Error/>"), Detail::Text("<Error/>".into()));
        let list = Detail::parse(br#"{"detail":[{"loc":["body","name"],"msg":"m","type":"t"}]}"#);
        assert!(matches!(list, Detail::Json(Value::Array(_))));
    }

    #[test]
    fn display_is_one_line_with_call_status_and_request_id() {
        let e = Error::status("files.get", 404, Detail::Text("Not\nFound".into()), Some("req_1".into()), None);
        assert_eq!(e.to_string(), "files.get: HTTP 404: Not Found (request id req_1)");
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}
