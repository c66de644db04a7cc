//! Share links (PROTOCOL §7): minting, listing, revoking, and serving them.

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::db::Cached;
use crate::api::{authorize, links_used, ok_json, origin, AppStateRef};
use crate::db::{row_json, share_json, SHARE_COLS};
use crate::error::{ApiError, ApiResult};
use crate::files;
use crate::state::{iso, new_id, random_token};
use crate::storage::{self, Serve};
use crate::validate::{Input, Need, PathId, Segment};

fn link_json(origin: &str, id: &str, token: &str, permission: &str, expires_at: Option<&str>) -> Value {
    json!({ "url": format!("{origin}/s/{token}"), "id": id, "permission": permission, "expires_at": expires_at })
}

pub(crate) async fn create(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["shares:write"])?;
    let mut input = Input::body(&body)?;
    let file_id = input.id("file_id", Need::Required);
    let days = input.int("expires_in_days", Need::Nullable);
    let permission = input.string("permission", Need::Optional).unwrap_or_else(|| "view".into());
    if days.is_some_and(|d| !(1..=365).contains(&d)) {
        input.fail("expires_in_days", "expires_in_days must be between 1 and 365, or null for a permanent link");
    }
    if permission != "view" && permission != "download" {
        input.fail("permission", "permission must be 'view' or 'download'");
    }
    input.finish()?;
    let file_id = file_id.unwrap_or_default();
    let now = state.now();
    let now_iso = iso(now);
    let origin = origin(&state, &headers);
    let conn = state.db();
    let file = files::find(&conn, &caller, &file_id)?;
    if file.deleted {
        return Err(ApiError::not_found());
    }
    let scan: String = files::json_of(&conn, &file_id, &now_iso, false)?["scan_status"]
        .as_str()
        .unwrap_or("pending")
        .to_string();
    if scan != "clean" {
        return Err(ApiError::conflict(format!("the file's scan_status is '{scan}'; only clean files can be shared")));
    }
    if days.is_none() {
        // A permanent link is stable: minting it again returns the same one.
        let existing: Option<(String, String)> = conn
            .qrow(
                "SELECT id, token FROM shares WHERE file_id = ?1 AND permission = ?2 AND expires_at IS NULL AND revoked = 0
                 ORDER BY created_at LIMIT 1",
                params![file_id, permission],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, token)) = existing {
            return Ok(ok_json(StatusCode::CREATED, link_json(&origin, &id, &token, &permission, None)));
        }
    }
    let limit: i64 = conn.qrow("SELECT links_limit FROM tenants WHERE id = ?1", [&caller.tenant], |r| r.get(0))?;
    if links_used(&conn, &caller.tenant, &now_iso)? >= limit {
        return Err(ApiError::quota_exceeded());
    }
    let expires_at = days.map(|d| iso(now + chrono::Duration::days(d)));
    let (id, token) = (new_id(), random_token(24));
    conn.exec(
        "INSERT INTO shares (id, tenant_id, file_id, token, permission, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![id, caller.tenant, file_id, token, permission, expires_at, now_iso],
    )?;
    Ok(ok_json(StatusCode::CREATED, link_json(&origin, &id, &token, &permission, expires_at.as_deref())))
}

pub(crate) async fn list(State(state): AppStateRef, headers: HeaderMap, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["shares:read"])?;
    let mut input = Input::query(q.as_deref());
    let file_id = input.id("file_id", Need::Optional);
    let include_inactive = input.boolean("include_inactive", false);
    input.finish()?;
    let now = state.now_iso();
    let conn = state.db();
    if let Some(f) = &file_id {
        files::find(&conn, &caller, f)?;
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SHARE_COLS} FROM shares WHERE tenant_id = ?1 AND (?2 IS NULL OR file_id = ?2)
         AND (?3 OR (revoked = 0 AND (expires_at IS NULL OR expires_at > ?4)))
         AND (?5 IS NULL OR file_id IN (SELECT id FROM files WHERE source_app = ?5)) ORDER BY created_at, rowid"
    ))?;
    let rows = stmt
        .query_map(params![caller.tenant, file_id, include_inactive, now, caller.app], row_json)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok_json(StatusCode::OK, Value::Array(rows.into_iter().map(share_json).collect())))
}

pub(crate) async fn revoke(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["shares:write"])?;
    let now = state.now_iso();
    let changed = state.db().exec(
        "UPDATE shares SET revoked = 1, updated_at = CASE WHEN revoked = 1 THEN updated_at ELSE ?1 END
         WHERE id = ?2 AND tenant_id = ?3 AND (?4 IS NULL OR file_id IN (SELECT id FROM files WHERE source_app = ?4))",
        params![now, id, caller.tenant, caller.app],
    )?;
    if changed == 0 {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET`/`HEAD /s/{token}`: no credential; revoked, expired, trashed or unknown → 404.
pub(crate) async fn serve(State(state): AppStateRef, Segment(token): Segment, req: Request) -> Response {
    let now = state.now_iso();
    let found = state
        .db()
        .qrow(
            "SELECT s.id, s.permission, s.expires_at IS NULL, f.id, f.size, f.mime, f.sha256, f.original_name
             FROM shares s JOIN files f ON f.id = s.file_id
             WHERE s.token = ?1 AND s.revoked = 0 AND (s.expires_at IS NULL OR s.expires_at > ?2)
               AND f.deleted_at IS NULL",
            params![token, now],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional();
    let (share_id, permission, permanent, file_id, size, mime, sha256, file_name) = match found {
        Ok(Some(row)) => row,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let s = Serve {
        path: state.blob_path(&file_id),
        size: size as u64,
        mime,
        sha256,
        file_name,
        attachment: permission == "download",
        cache_control: if permanent { "public, max-age=31536000, immutable" } else { "private, no-cache" },
        as_storage: false,
    };
    let (parts, _) = req.into_parts();
    let (resp, served) = storage::serve(&state, &parts.method, &parts.headers, s).await;
    if served {
        let _ = state
            .db()
            .exec("UPDATE shares SET download_count = download_count + 1 WHERE id = ?1", [&share_id]);
    }
    resp
}
