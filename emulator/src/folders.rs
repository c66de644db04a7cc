//! Folders: a tree per space, with a trash that remembers what each delete took.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::db::Cached;
use crate::api::{authorize, ok_json, require_space, AppStateRef};
use crate::db::{row_json, FOLDER_COLS};
use crate::error::{ApiError, ApiResult};
use crate::state::new_id;
use crate::validate::{Input, Need, PathId};

pub(crate) struct FolderRow {
    pub space_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub deleted: bool,
    pub trash_batch: Option<String>,
}

pub(crate) fn find(conn: &Connection, tenant: &str, id: &str) -> ApiResult<FolderRow> {
    conn.qrow(
        "SELECT space_id, parent_id, name, deleted_at IS NOT NULL, trash_batch FROM folders WHERE id = ?1 AND tenant_id = ?2",
        params![id, tenant],
        |r| Ok(FolderRow { space_id: r.get(0)?, parent_id: r.get(1)?, name: r.get(2)?, deleted: r.get(3)?, trash_batch: r.get(4)? }),
    )
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// A folder that new content may go into: the caller's, live, in `space_id`.
pub(crate) fn require_live_in_space(conn: &Connection, tenant: &str, id: &str, space_id: &str) -> ApiResult<()> {
    let folder = find(conn, tenant, id)?;
    if folder.space_id != space_id {
        return Err(ApiError::bad_request("folder belongs to another space"));
    }
    if folder.deleted {
        return Err(ApiError::conflict("folder is in the trash"));
    }
    Ok(())
}

pub(crate) fn json_of(conn: &Connection, id: &str) -> ApiResult<Value> {
    Ok(Value::Object(conn.qrow(&format!("SELECT {FOLDER_COLS} FROM folders WHERE id = ?1"), [id], row_json)?))
}

fn name_taken(conn: &Connection, space_id: &str, parent: Option<&str>, name: &str, except: &str) -> ApiResult<bool> {
    Ok(conn
        .qrow(
            "SELECT 1 FROM folders WHERE space_id = ?1 AND parent_id IS ?2 AND name = ?3 AND deleted_at IS NULL AND id != ?4",
            params![space_id, parent, name, except],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .is_some())
}

fn collision(name: &str) -> ApiError {
    ApiError::conflict(format!("a folder named '{name}' already exists here"))
}

pub(crate) async fn list(State(state): AppStateRef, headers: HeaderMap, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:read"])?;
    let mut input = Input::query(q.as_deref());
    let space_id = input.id("space_id", Need::Required);
    let parent_id = input.id("parent_id", Need::Optional);
    let trash = input.boolean("trash", false);
    input.finish()?;
    let space_id = space_id.unwrap_or_default();
    require_space(&state, &caller.tenant, &space_id)?;
    let conn = state.db();
    if let Some(parent) = &parent_id {
        if find(&conn, &caller.tenant, parent)?.space_id != space_id {
            return Err(ApiError::not_found());
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FOLDER_COLS} FROM folders WHERE space_id = ?1 AND parent_id IS ?2 AND (deleted_at IS NOT NULL) = ?3
         ORDER BY name, created_at, rowid"
    ))?;
    let rows = stmt.query_map(params![space_id, parent_id, trash], row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(ok_json(StatusCode::OK, json!(rows)))
}

pub(crate) async fn create(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let mut input = Input::body(&body)?;
    let name = input.name("name", Need::Required);
    let space_id = input.id("space_id", Need::Required);
    let parent_id = input.id("parent_id", Need::Optional);
    input.finish()?;
    let (name, space_id) = (name.unwrap_or_default(), space_id.unwrap_or_default());
    require_space(&state, &caller.tenant, &space_id)?;
    let now = state.now_iso();
    let conn = state.db();
    if let Some(parent) = &parent_id {
        require_live_in_space(&conn, &caller.tenant, parent, &space_id)?;
    }
    if name_taken(&conn, &space_id, parent_id.as_deref(), &name, "")? {
        return Err(collision(&name));
    }
    let id = new_id();
    conn.exec(
        "INSERT INTO folders (id, tenant_id, space_id, parent_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, caller.tenant, space_id, parent_id, name, now],
    )?;
    Ok(ok_json(StatusCode::CREATED, json_of(&conn, &id)?))
}

/// Rename (`name`) and/or move (`parent_id`, explicit null = the space root).
pub(crate) async fn update(
    State(state): AppStateRef,
    headers: HeaderMap,
    PathId(id): PathId,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let mut input = Input::body(&body)?;
    let new_name = input.name("name", Need::NotNull);
    let moving = input.has("parent_id");
    let new_parent = input.id("parent_id", Need::Optional);
    if !input.has("name") && !moving {
        input.fail("body", "give 'name' to rename or 'parent_id' (null for the space root) to move");
    }
    input.finish()?;
    let now = state.now_iso();
    let conn = state.db();
    let folder = find(&conn, &caller.tenant, &id)?;
    if folder.deleted {
        return Err(ApiError::conflict("folder is in the trash; restore it first"));
    }
    let parent = if moving { new_parent } else { folder.parent_id.clone() };
    if moving {
        if let Some(p) = &parent {
            require_live_in_space(&conn, &caller.tenant, p, &folder.space_id)?;
            if subtree(&conn, &id)?.contains(p) {
                return Err(ApiError::bad_request("cannot move a folder into itself or its own subtree"));
            }
        }
    }
    let name = new_name.unwrap_or(folder.name);
    if name_taken(&conn, &folder.space_id, parent.as_deref(), &name, &id)? {
        return Err(collision(&name));
    }
    conn.exec(
        "UPDATE folders SET name = ?1, parent_id = ?2, updated_at = ?3 WHERE id = ?4",
        params![name, parent, now, id],
    )?;
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id)?))
}

/// The folder and every folder below it.
fn subtree(conn: &Connection, id: &str) -> ApiResult<Vec<String>> {
    let mut stmt = conn.prepare(
        "WITH RECURSIVE t(id) AS (SELECT ?1 UNION SELECT f.id FROM folders f JOIN t ON f.parent_id = t.id)
         SELECT id FROM t",
    )?;
    let ids = stmt.query_map([id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}

/// Trashes the folder and everything live below it, as one batch that restore brings back.
pub(crate) async fn trash(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let now = state.now_iso();
    let mut conn = state.db();
    let folder = find(&conn, &caller.tenant, &id)?;
    if !folder.deleted {
        let batch = new_id();
        let tx = conn.transaction()?;
        for folder_id in subtree(&tx, &id)? {
            tx.exec(
                "UPDATE folders SET deleted_at = ?1, trash_batch = ?2, updated_at = ?1 WHERE id = ?3 AND deleted_at IS NULL",
                params![now, batch, folder_id],
            )?;
            tx.exec(
                "UPDATE files SET deleted_at = ?1, trash_batch = ?2, updated_at = ?1 WHERE folder_id = ?3 AND deleted_at IS NULL",
                params![now, batch, folder_id],
            )?;
        }
        tx.commit()?;
    }
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id)?))
}

pub(crate) async fn restore(State(state): AppStateRef, headers: HeaderMap, PathId(id): PathId) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let now = state.now_iso();
    let mut conn = state.db();
    let folder = find(&conn, &caller.tenant, &id)?;
    if folder.deleted {
        if let Some(parent) = &folder.parent_id {
            if find(&conn, &caller.tenant, parent)?.deleted {
                return Err(ApiError::conflict("the parent folder is in the trash; restore it first"));
            }
        }
        if name_taken(&conn, &folder.space_id, folder.parent_id.as_deref(), &folder.name, &id)? {
            return Err(collision(&folder.name));
        }
        let tx = conn.transaction()?;
        tx.exec(
            "UPDATE folders SET deleted_at = NULL, trash_batch = NULL, updated_at = ?1 WHERE id = ?2",
            params![now, id],
        )?;
        if let Some(batch) = &folder.trash_batch {
            for table in ["folders", "files"] {
                tx.exec(
                    &format!("UPDATE {table} SET deleted_at = NULL, trash_batch = NULL, updated_at = ?1 WHERE trash_batch = ?2"),
                    params![now, batch],
                )?;
            }
        }
        tx.commit()?;
    }
    Ok(ok_json(StatusCode::OK, json_of(&conn, &id)?))
}
