//! The router, authentication, and the small endpoints: spaces, quota, service tokens.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::db::Cached;
use crate::db::{self, row_json, SPACE_COLS};
use crate::error::{ApiError, ApiResult};
use crate::state::{iso, random_token, AppState};
use crate::validate::{Input, Need};
use crate::{admin, faults, files, folders, shares, storage, uploads};

pub(crate) type AppStateRef = State<Arc<AppState>>;

pub(crate) fn app(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/spaces", get(list_spaces).post(create_space))
        .route("/folders", get(folders::list).post(folders::create))
        .route("/folders/{id}", axum::routing::patch(folders::update).delete(folders::trash))
        .route("/folders/{id}/restore", post(folders::restore))
        .route("/uploads/initiate", post(uploads::initiate))
        .route("/uploads/complete", post(uploads::complete))
        .route("/files", get(files::list))
        .route("/files/resolve", get(files::resolve))
        .route("/files/{id}", get(files::get).patch(files::update).delete(files::trash))
        .route("/files/{id}/restore", post(files::restore))
        .route("/files/{id}/download", get(files::download))
        .route("/shares", get(shares::list).post(shares::create))
        .route("/shares/{id}", delete(shares::revoke))
        .route("/quota", get(quota))
        .route("/auth/service-token", post(service_token))
        .layer(middleware::from_fn(json_errors));
    Router::new()
        .nest("/api/v1", api)
        .route("/_storage/uploads/{file_id}", put(storage::put_single))
        .route("/_storage/uploads/{file_id}/parts/{part}", put(storage::put_part))
        .route("/_storage/objects/{file_id}", get(storage::get_object).head(storage::get_object))
        .route("/s/{token}", get(shares::serve).head(shares::serve))
        .nest("/_emulator", admin::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed") })
        .layer(middleware::from_fn_with_state(state.clone(), faults::apply))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Every API error answers `{"detail": …}` (PROTOCOL §3), also those that axum's extractors
/// make before a handler runs (a body over the size limit, say), which come as plain text.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 64 << 10).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let detail = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    ApiError::new(status, detail).into_response()
}

async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let id = format!("req_{}", random_token(12));
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Who is calling, once the credential checked out.
pub(crate) struct Caller {
    pub tenant: String,
    /// Set for `fcd_` tokens: they act only within this app's namespace.
    pub app: Option<String>,
    pub user_id: Option<String>,
}

impl Caller {
    /// The app namespace a call works in: a delegated token's own (naming another is 403);
    /// for other credentials, the one asked for.
    pub fn app_namespace(&self, requested: Option<String>) -> ApiResult<Option<String>> {
        match (&self.app, requested) {
            (Some(own), Some(asked)) if *own != asked => {
                Err(ApiError::forbidden(format!("this token is confined to app '{own}'")))
            }
            (Some(own), _) => Ok(Some(own.clone())),
            (None, asked) => Ok(asked),
        }
    }
}

/// The credential and how it came: PROTOCOL §2 sends `fck_` keys as `X-API-Key` and every
/// other credential as a Bearer token. The other way round is refused, so that a client
/// which mixes them up fails here rather than against the service.
fn credential(headers: &HeaderMap) -> ApiResult<String> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().map_err(|_| ApiError::unauthorized())?;
        if !key.starts_with("fck_") {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "X-API-Key takes fck_ keys; send other credentials as Authorization: Bearer"));
        }
        return Ok(key.to_string());
    }
    let auth = headers.get("authorization").ok_or_else(ApiError::unauthorized)?;
    let (scheme, token) = auth.to_str().ok().and_then(|a| a.split_once(' ')).ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized());
    }
    let token = token.trim();
    if token.starts_with("fck_") {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "fck_ keys go in the X-API-Key header, not Authorization"));
    }
    Ok(token.to_string())
}

/// 401 for a missing, unknown or expired credential; 403 when it lacks a scope in `needed`.
/// A credential is a key (`fck_`), a delegated token (`fcd_`), or a user's own JWT, which
/// acts in the user's tenant with a user's scopes (PROTOCOL §2, §9).
pub(crate) fn authorize(state: &AppState, headers: &HeaderMap, needed: &[&str]) -> ApiResult<Caller> {
    let credential = credential(headers)?;
    let row = state
        .db()
        .qrow(
            "SELECT tenant_id, scopes, app, user_id, expires_at FROM keys WHERE key = ?1",
            [&credential],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()?;
    let (tenant, scopes, app, user_id) = match row {
        Some((tenant, scopes, app, user_id, expires_at)) => {
            if expires_at.is_some_and(|t| t <= state.now_iso()) {
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "credential expired"));
            }
            (tenant, scopes, app, user_id)
        }
        None => {
            let user_id = verify_user_jwt(&credential, state.cfg.jwt_secret.as_bytes(), state.now().timestamp())
                .ok_or_else(ApiError::unauthorized)?;
            let tenant = user_tenant(state, &state.db(), &user_id)?;
            (tenant, USER_SCOPES.to_string(), None, Some(user_id))
        }
    };
    let held: Vec<&str> = scopes.split(' ').collect();
    if !needed.iter().all(|s| held.contains(s)) {
        return Err(ApiError::insufficient_scope(needed));
    }
    Ok(Caller { tenant, app, user_id })
}

/// The tenant of the user a JWT names; each user gets one of their own on first sight.
fn user_tenant(state: &AppState, conn: &rusqlite::Connection, user_id: &str) -> ApiResult<String> {
    let tenant: Option<String> =
        conn.qrow("SELECT id FROM tenants WHERE user_id = ?1", [user_id], |r| r.get(0)).optional()?;
    match tenant {
        Some(t) => Ok(t),
        None => Ok(db::create_tenant(conn, state.cfg.bytes_limit, state.cfg.links_limit, Some(user_id), &state.now_iso())?),
    }
}

/// The origin the client reached us by, so minted URLs work behind any host name.
pub(crate) fn origin(state: &AppState, headers: &HeaderMap) -> String {
    match headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() => format!("http://{host}"),
        _ => state.url.clone(),
    }
}

pub(crate) fn ok_json(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

/// The id of a live space of the caller's tenant, else 404.
pub(crate) fn require_space(state: &AppState, tenant: &str, space_id: &str) -> ApiResult<()> {
    let found: Option<i64> = state
        .db()
        .qrow("SELECT 1 FROM spaces WHERE id = ?1 AND tenant_id = ?2", params![space_id, tenant], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or_else(ApiError::not_found)
}

async fn list_spaces(State(state): AppStateRef, headers: HeaderMap) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["spaces:read"])?;
    let conn = state.db();
    let mut stmt = conn.prepare_cached(&format!("SELECT {SPACE_COLS} FROM spaces WHERE tenant_id = ?1 ORDER BY created_at, rowid"))?;
    let rows = stmt.query_map([&caller.tenant], row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(ok_json(StatusCode::OK, json!(rows)))
}

async fn create_space(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["spaces:write"])?;
    let mut input = Input::body(&body)?;
    let name = input.name("name", Need::Required);
    input.finish()?;
    let name = name.unwrap_or_default();
    let (id, now) = (crate::state::new_id(), state.now_iso());
    let conn = state.db();
    conn.exec(
        "INSERT INTO spaces (id, tenant_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![id, caller.tenant, name, now],
    )?;
    let row = conn.qrow(&format!("SELECT {SPACE_COLS} FROM spaces WHERE id = ?1"), [&id], row_json)?;
    Ok(ok_json(StatusCode::CREATED, Value::Object(row)))
}

async fn quota(State(state): AppStateRef, headers: HeaderMap) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["quota:read"])?;
    let now = state.now_iso();
    let conn = state.db();
    let (bytes_limit, links_limit): (i64, i64) = conn.qrow(
        "SELECT bytes_limit, links_limit FROM tenants WHERE id = ?1",
        [&caller.tenant],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let bytes_used = bytes_used(&conn, &caller.tenant)?;
    let links_used = links_used(&conn, &caller.tenant, &now)?;
    let mut stmt = conn.prepare(
        "SELECT source_app AS app, SUM(size) AS bytes_used, COUNT(*) AS files FROM files
         WHERE tenant_id = ?1 GROUP BY source_app ORDER BY source_app",
    )?;
    let by_app = stmt.query_map([&caller.tenant], row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "bytes_used": bytes_used, "bytes_limit": bytes_limit,
            "links_used": links_used, "links_limit": links_limit, "by_app": by_app,
        }),
    ))
}

/// Every completed file counts, trashed ones included.
pub(crate) fn bytes_used(conn: &rusqlite::Connection, tenant: &str) -> rusqlite::Result<i64> {
    conn.qrow("SELECT COALESCE(SUM(size), 0) FROM files WHERE tenant_id = ?1", [tenant], |r| r.get(0))
}

/// Active links: not revoked, not expired.
pub(crate) fn links_used(conn: &rusqlite::Connection, tenant: &str, now: &str) -> rusqlite::Result<i64> {
    conn.qrow(
        "SELECT COUNT(*) FROM shares WHERE tenant_id = ?1 AND revoked = 0 AND (expires_at IS NULL OR expires_at > ?2)",
        params![tenant, now],
        |r| r.get(0),
    )
}

/// What a user may do in their own tenant: by their JWT, or through a token delegated to an app.
const USER_SCOPES: &str = "spaces:read spaces:write files:read files:write shares:read shares:write quota:read";
const DEFAULT_TOKEN_TTL: i64 = 3600;
const MAX_TOKEN_TTL: i64 = 86_400;
const MAX_JOB_TOKEN_TTL: i64 = 7 * 86_400;

async fn service_token(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let mut input = Input::body(&body)?;
    // `"job_id": null` is no job: it needs no job scope (and gets the shorter TTL below).
    let for_job = input.raw().get("job_id").is_some_and(|v| !v.is_null());
    let needed: &[&str] = if for_job { &["service:delegate", "service:jobtoken"] } else { &["service:delegate"] };
    authorize(&state, &headers, needed)?;
    let user_jwt = input.string("user_jwt", Need::Required);
    let app = input.string("app", Need::Required);
    let job_id = input.string("job_id", Need::Optional);
    let ttl = input.int("ttl_seconds", Need::Optional);
    if let Some(app) = &app {
        if let Some(problem) = app_problem(app) {
            input.fail("app", problem);
        }
    }
    let max_ttl = if job_id.is_some() { MAX_JOB_TOKEN_TTL } else { MAX_TOKEN_TTL };
    if ttl.is_some_and(|t| !(60..=max_ttl).contains(&t)) {
        input.fail("ttl_seconds", &format!("ttl_seconds must be between 60 and {max_ttl}"));
    }
    input.finish()?;
    let (Some(user_jwt), Some(app)) = (user_jwt, app) else { return Err(ApiError::internal("validated input")) };
    let user_id = verify_user_jwt(&user_jwt, state.cfg.jwt_secret.as_bytes(), state.now().timestamp())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid user_jwt"))?;
    let ttl = ttl.unwrap_or(DEFAULT_TOKEN_TTL);
    let now = state.now();
    let conn = state.db();
    let tenant = user_tenant(&state, &conn, &user_id)?;
    let token = format!("fcd_{}", random_token(24));
    conn.exec(
        "INSERT INTO keys (key, tenant_id, scopes, app, user_id, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![token, tenant, USER_SCOPES, app, user_id, iso(now + chrono::Duration::seconds(ttl))],
    )?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "token": token, "expires_in": ttl, "tenant_id": tenant, "user_id": user_id,
            "app": app, "token_type": "Bearer",
        }),
    ))
}

pub(crate) fn app_problem(app: &str) -> Option<&'static str> {
    let ok = !app.is_empty()
        && app.len() <= 64
        && app.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    (!ok).then_some("app must be 1-64 characters of letters, digits, '-', '_' or '.'")
}

/// The `sub` of an HS256 JWT signed with `secret` that has not expired, else `None`.
fn verify_user_jwt(jwt: &str, secret: &[u8], now: i64) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut pieces = jwt.split('.');
    let (header, payload, signature) = (pieces.next()?, pieces.next()?, pieces.next()?);
    if pieces.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(&jwt.as_bytes()[..jwt.len() - signature.len() - 1]);
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if let Some(exp) = claims.get("exp") {
        if exp.as_f64()? <= now as f64 {
            return None;
        }
    }
    let sub = claims.get("sub")?.as_str()?;
    (!sub.is_empty()).then(|| sub.to_string())
}
