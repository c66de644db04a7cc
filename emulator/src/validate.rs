//! Request validation with FastAPI-style 422 answers, so clients see exactly which field of
//! which part of the request is wrong.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};

/// A path segment, percent-decoded. One whose bytes are no UTF-8 names nothing: 404 with the
/// API's JSON body, where axum's own rejection is a plain-text 400.
pub(crate) struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found())?;
        Ok(Segment(raw))
    }
}

/// A resource ID from the path. One that is no UUID cannot name anything: 404, never another
/// endpoint.
pub(crate) struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Segment(raw) = Segment::from_request_parts(parts, state).await?;
        parse_uuid(&raw).map(PathId).ok_or_else(ApiError::not_found)
    }
}

/// Whether a key must be present, and whether `null` is allowed.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Need {
    /// Present and not null.
    Required,
    /// Present; `null` allowed (the upload calls send every key).
    Nullable,
    /// May be absent or null.
    Optional,
    /// May be absent, but not null (a field that a PATCH may change).
    NotNull,
}

/// Reads typed fields out of a JSON object (a body, or a query string turned into one),
/// collecting every problem before answering.
pub(crate) struct Input {
    place: &'static str,
    obj: Map<String, Value>,
    errors: Vec<Value>,
}

impl Input {
    /// A JSON request body that must be an object.
    pub fn body(bytes: &[u8]) -> ApiResult<Input> {
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                return Err(ApiError::unprocessable(vec![json!({
                    "type": "json_invalid",
                    "loc": ["body", e.column()],
                    "msg": format!("JSON decode error: {e}"),
                })]))
            }
        };
        match value {
            Value::Object(obj) => Ok(Input { place: "body", obj, errors: Vec::new() }),
            other => Err(ApiError::unprocessable(vec![json!({
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": other,
            })])),
        }
    }

    /// The query string; every value is a string until a field reads it as a type.
    pub fn query(raw: Option<&str>) -> Input {
        let mut obj = Map::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            obj.insert(decode(k), Value::String(decode(v)));
        }
        Input { place: "query", obj, errors: Vec::new() }
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.obj
    }

    fn error(&mut self, key: &str, kind: &str, msg: &str, input: Option<&Value>) {
        let mut e = json!({ "type": kind, "loc": [self.place, key], "msg": msg });
        if let Some(input) = input {
            e["input"] = input.clone();
        }
        self.errors.push(e);
    }

    pub fn fail(&mut self, key: &str, msg: &str) {
        let input = self.obj.get(key).cloned();
        self.error(key, "value_error", &format!("Value error, {msg}"), input.as_ref());
    }

    /// The raw value after the presence rules; `None` when absent, null, or already wrong.
    fn present(&mut self, key: &str, need: Need) -> Option<Value> {
        match (self.obj.get(key).cloned(), need) {
            (None, Need::Required | Need::Nullable) => {
                self.error(key, "missing", "Field required", None);
                None
            }
            (Some(Value::Null), Need::Required | Need::NotNull) => {
                self.error(key, "missing", "Field required (null is not allowed)", Some(&Value::Null));
                None
            }
            (None | Some(Value::Null), _) => None,
            (Some(v), _) => Some(v),
        }
    }

    pub fn string(&mut self, key: &str, need: Need) -> Option<String> {
        match self.present(key, need)? {
            Value::String(s) => Some(s),
            other => {
                self.error(key, "string_type", "Input should be a valid string", Some(&other));
                None
            }
        }
    }

    /// A lowercase UUID string.
    pub fn id(&mut self, key: &str, need: Need) -> Option<String> {
        let v = self.present(key, need)?;
        match v.as_str().and_then(parse_uuid) {
            Some(id) => Some(id),
            None => {
                self.error(key, "uuid_parsing", "Input should be a valid UUID", Some(&v));
                None
            }
        }
    }

    pub fn int(&mut self, key: &str, need: Need) -> Option<i64> {
        let v = self.present(key, need)?;
        let parsed = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) if self.place == "query" => s.parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.error(key, "int_type", "Input should be a valid integer", Some(&v));
        }
        parsed
    }

    pub fn boolean(&mut self, key: &str, default: bool) -> bool {
        let Some(v) = self.present(key, Need::Optional) else { return default };
        let parsed = match &v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if self.place == "query" => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match parsed {
            Some(b) => b,
            None => {
                self.error(key, "bool_parsing", "Input should be a valid boolean", Some(&v));
                default
            }
        }
    }

    /// A file or folder name: 1–255 characters, no `/` or NUL, not `.` or `..`.
    pub fn name(&mut self, key: &str, need: Need) -> Option<String> {
        let name = self.string(key, need)?;
        match name_problem(&name) {
            None => Some(name),
            Some(problem) => {
                self.fail(key, problem);
                None
            }
        }
    }

    /// 422 if anything was wrong.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unprocessable(self.errors))
        }
    }
}

pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    let chars = name.chars().count();
    if chars == 0 {
        Some("name must not be empty")
    } else if chars > 255 {
        Some("name must be at most 255 characters")
    } else if name.contains('/') {
        Some("name must not contain '/'")
    } else if name.contains('\0') {
        Some("name must not contain NUL")
    } else if name == "." || name == ".." {
        Some("name must not be '.' or '..'")
    } else {
        None
    }
}

/// A media type that can travel as a `Content-Type` header: `type/subtype`, optionally with
/// parameters, in printable ASCII (no CR or LF that would split the header), ≤ 255 bytes.
pub(crate) fn mime_problem(mime: &str) -> Option<&'static str> {
    let essence = mime.split(';').next().unwrap_or_default();
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    let well_formed = essence.split_once('/').is_some_and(|(kind, sub)| token(kind) && token(sub));
    let printable = mime.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t');
    (!well_formed || !printable || mime.len() > 255)
        .then_some("must be a MIME type such as 'image/png' (printable ASCII, at most 255 characters)")
}

/// Canonical lowercase hyphenated form, or `None` when `s` is no UUID.
pub(crate) fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::try_parse(s).ok().map(|u| u.hyphenated().to_string())
}

fn decode(s: &str) -> String {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space).decode_utf8_lossy().into_owned()
}
