//! Files: metadata, moves, trash, and the owner's presigned download URL.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::db::Cached;
use crate::api::{authorize, ok_json, origin, require_space, AppStateRef, Caller};
use crate::db::{file_json, row_json, FILE_COLS};
use crate::error::{ApiError, ApiResult};
use crate::folders;
use crate::state::iso;
use crate::storage;
use crate::validate::{Input, Need, PathId};

/// Presigned download URLs are short-lived.
const DOWNLOAD_URL_TTL_SECS: i64 = 15 * 60;

pub(crate) struct FileRow {
    pub space_id: String,
    pub folder_id: Option<String>,
    pub deleted: bool,
    pub infected: bool,
}

/// The caller's file: in its tenant and, for a delegated token, in its app; else 404.
pub(crate) fn find(conn: &Connection, caller: &Caller, id: &str) -> ApiResult<FileRow> {
    conn.qrow(
        "SELECT space_id, folder_id, deleted_at IS NOT NULL, scan_result = 'infected' FROM files
         WHERE id = ?1 AND tenant_id = ?2 AND (?3 IS NULL OR source_app = ?3)",
        params![id, caller.tenant, caller.app],
        |r| Ok(FileRow { space_id: r.get(0)?, folder_id: r.get(1)?, deleted: r.get(2)?, infected: r.get(3)? }),
    )
    .optional()?
    .ok_or_else(ApiError::not_found)
}

pub(crate) fn json_of(conn: &Connection, id: &str, now: &str, just_completed: bool) -> ApiResult<Value> {
    let row = conn.qrow(&format!("SELECT {FILE_COLS} FROM files WHERE id = ?1"), [id], row_json)?;
    Ok(file_json(row, now, just_completed))
}

fn query_files(conn: &Connection, sql: &str, args: impl rusqlite::Params, now: &str) -> ApiResult<Vec<Value>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(args, row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().map(|r| file_json(r, now, false)).collect())
}

pub(crate) async fn list(State(state): AppStateRef, headers: HeaderMap, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:read"])?;
    let mut input = Input::query(q.as_deref());
    let space_id = input.id("space_id", Need::Required);
    let folder_id = input.id("folder_id", Need::Optional);
    let trash = input.boolean("trash", false);
    let app = input.string("app", Need::Optional);
    input.finish()?;
    let app = caller.app_namespace(app)?;
    let space_id = space_id.unwrap_or_default();
    require_space(&state, &caller.tenant, &space_id)?;
    let now = state.now_iso();
    let conn = state.db();
    if let Some(folder) = &folder_id {
        if folders::find(&conn, &caller.tenant, folder)?.space_id != space_id {
            return Err(ApiError::not_found());
        }
    }
    let sql = format!(
        "SELECT {FILE_COLS} FROM files WHERE space_id = ?1 AND folder_id IS ?2 AND (deleted_at IS NOT NULL) = ?3
         AND (?4 IS NULL OR source_app = ?4) ORDER BY original_name, created_at, rowid"
    );
    let rows = query_files(&conn, &sql, params![space_id, folder_id, trash, app], &now)?;
    Ok(ok_json(StatusCode::OK, json!(rows)))
}

pub(crate) async fn get(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:read"])?;
    let now = state.now_iso();
    let conn = state.db();
    // One query: the caller check and the row together (the most frequent call there is).
    let sql = format!("SELECT {FILE_COLS} FROM files WHERE id = ?1 AND tenant_id = ?2 AND (?3 IS NULL OR source_app = ?3)");
    let row = conn.qrow(&sql, params![id, caller.tenant, caller.app], row_json).optional()?.ok_or_else(ApiError::not_found)?;
    Ok(ok_json(StatusCode::OK, file_json(row, &now, false)))
}

/// The newest live file with this `client_key` in the `app` namespace (none = native; a
/// delegated token's own app when it names none).
pub(crate) async fn resolve(State(state): AppStateRef, headers: HeaderMap, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:read"])?;
    let mut input = Input::query(q.as_deref());
    let client_key = input.string("client_key", Need::Required);
    let app = input.string("app", Need::Optional);
    input.finish()?;
    let app = caller.app_namespace(app)?;
    let now = state.now_iso();
    let conn = state.db();
    let sql = format!(
        "SELECT {FILE_COLS} FROM files WHERE tenant_id = ?1 AND client_key = ?2 AND source_app IS ?3
         AND deleted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1"
    );
    let found = query_files(&conn, &sql, params![caller.tenant, client_key, app], &now)?;
    let file = found.into_iter().next().ok_or_else(ApiError::not_found)?;
    Ok(ok_json(StatusCode::OK, file))
}

/// Rename (`original_name`) and/or move (`folder_id`, explicit null = the space root).
pub(crate) async fn update(
    State(state): AppStateRef,
    headers: HeaderMap,
    PathId(id): PathId,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let mut input = Input::body(&body)?;
    let new_name = input.name("original_name", Need::NotNull);
    let moving = input.has("folder_id");
    let new_folder = input.id("folder_id", Need::Optional);
    if !input.has("original_name") && !moving {
        input.fail("body", "give 'original_name' to rename or 'folder_id' (null for the space root) to move");
    }
    input.finish()?;
    let now = state.now_iso();
    let conn = state.db();
    let file = find(&conn, &caller, &id)?;
    if file.deleted {
        return Err(ApiError::conflict("file is in the trash; restore it first"));
    }
    let folder = if moving { new_folder } else { file.folder_id };
    if let (true, Some(f)) = (moving, &folder) {
        folders::require_live_in_space(&conn, &caller.tenant, f, &file.space_id)?;
    }
    conn.exec(
        "UPDATE files SET original_name = COALESCE(?1, original_name), folder_id = ?2, updated_at = ?3 WHERE id = ?4",
        params![new_name, folder, now, id],
    )?;
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id, &now, false)?))
}

pub(crate) async fn trash(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let now = state.now_iso();
    let conn = state.db();
    find(&conn, &caller, &id)?;
    conn.exec(
        "UPDATE files SET deleted_at = ?1, trash_batch = ?2, updated_at = ?1 WHERE id = ?3 AND deleted_at IS NULL",
        params![now, crate::state::new_id(), id],
    )?;
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id, &now, false)?))
}

pub(crate) async fn restore(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let now = state.now_iso();
    let conn = state.db();
    let file = find(&conn, &caller, &id)?;
    if file.deleted {
        if let Some(folder) = &file.folder_id {
            if folders::find(&conn, &caller.tenant, folder)?.deleted {
                return Err(ApiError::conflict("the file's folder is in the trash; restore it first"));
            }
        }
        conn.exec(
            "UPDATE files SET deleted_at = NULL, trash_batch = NULL, updated_at = ?1 WHERE id = ?2",
            params![now, id],
        )?;
    }
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id, &now, false)?))
}

pub(crate) async fn download(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:read"])?;
    let file = find(&state.db(), &caller, &id)?;
    if file.infected {
        return Err(ApiError::conflict("file is infected"));
    }
    let expires = state.now() + chrono::Duration::seconds(DOWNLOAD_URL_TTL_SECS);
    let url = storage::presign(&state, &origin(&state, &headers), "GET", &format!("/_storage/objects/{id}"), &[], expires.timestamp());
    Ok(ok_json(StatusCode::OK, json!({ "url": url, "expires_at": iso(expires) })))
}
