//! `/_emulator/…`: what tests need to arrange the world (keys, faults, time, a clean slate).

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::db::Cached;
use crate::api::ok_json;
use crate::db::{self, ALL_SCOPES};
use crate::error::{ApiError, ApiResult};
use crate::faults::FaultRule;
use crate::state::{random_token, AppState};
use crate::validate::{Input, Need};

type S = State<Arc<AppState>>;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/keys", post(create_key))
        .route("/faults", post(add_faults).get(list_faults).delete(clear_faults))
        .route("/reset", post(reset))
        .route("/clock", post(clock))
}

async fn create_key(State(state): S, body: Bytes) -> ApiResult<Response> {
    let mut input = Input::body(&body)?;
    let scopes = match input.raw().get("scopes") {
        Some(Value::Array(list)) => list.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>(),
        _ => None,
    };
    match &scopes {
        None => input.fail("scopes", "scopes must be a list of scope names"),
        Some(list) => {
            if let Some(unknown) = list.iter().find(|s| !ALL_SCOPES.contains(&s.as_str())) {
                input.fail("scopes", &format!("unknown scope '{unknown}'; known: {}", ALL_SCOPES.join(", ")));
            }
        }
    }
    let tenant_id = input.id("tenant_id", Need::Optional);
    let bytes_limit = input.int("bytes_limit", Need::Optional);
    let links_limit = input.int("links_limit", Need::Optional);
    if bytes_limit.is_some_and(|n| n < 0) {
        input.fail("bytes_limit", "bytes_limit must not be negative");
    }
    if links_limit.is_some_and(|n| n < 0) {
        input.fail("links_limit", "links_limit must not be negative");
    }
    input.finish()?;
    let scopes = scopes.unwrap_or_default().join(" ");
    let now = state.now_iso();
    let conn = state.db();
    let tenant = match tenant_id {
        Some(t) => {
            let known: Option<i64> = conn.qrow("SELECT 1 FROM tenants WHERE id = ?1", [&t], |r| r.get(0)).optional()?;
            known.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such tenant"))?;
            if let Some(limit) = bytes_limit {
                conn.exec("UPDATE tenants SET bytes_limit = ?1 WHERE id = ?2", params![limit, t])?;
            }
            if let Some(limit) = links_limit {
                conn.exec("UPDATE tenants SET links_limit = ?1 WHERE id = ?2", params![limit, t])?;
            }
            t
        }
        None => db::create_tenant(
            &conn,
            bytes_limit.map_or(state.cfg.bytes_limit, |n| n as u64),
            links_limit.map_or(state.cfg.links_limit, |n| n as u64),
            None,
            &now,
        )?,
    };
    let key = format!("fck_test_{}", random_token(16));
    conn.exec("INSERT INTO keys (key, tenant_id, scopes) VALUES (?1, ?2, ?3)", params![key, tenant, scopes])?;
    Ok(ok_json(StatusCode::OK, json!({ "key": key, "tenant_id": tenant })))
}

async fn add_faults(State(state): S, body: Bytes) -> ApiResult<Response> {
    let input = Input::body(&body)?;
    let rules = input.raw().get("rules").cloned().unwrap_or(Value::Null);
    let mut parsed: Vec<FaultRule> = serde_json::from_value(rules).map_err(|e| invalid_rules(&e.to_string()))?;
    for rule in &mut parsed {
        if let Some(problem) = rule.problem() {
            return Err(invalid_rules(&problem));
        }
        rule.rng = rule.seed.unwrap_or(0);
    }
    let mut faults = state.faults.lock().unwrap_or_else(|p| p.into_inner());
    faults.extend(parsed);
    Ok(ok_json(StatusCode::OK, json!({ "rules": *faults })))
}

fn invalid_rules(msg: &str) -> ApiError {
    ApiError::unprocessable(vec![json!({ "type": "value_error", "loc": ["body", "rules"], "msg": msg })])
}

async fn list_faults(State(state): S) -> Response {
    let faults = state.faults.lock().unwrap_or_else(|p| p.into_inner());
    ok_json(StatusCode::OK, json!({ "rules": *faults }))
}

async fn clear_faults(State(state): S) -> Response {
    state.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    ok_json(StatusCode::OK, json!({ "rules": [] }))
}

async fn reset(State(state): S) -> ApiResult<Response> {
    let (objects, others) = {
        // Listed under the database lock, which complete holds to make an object: every
        // object listed is one this reset dropped.
        let conn = state.db();
        db::reset(&conn, &state.cfg)?;
        // Completed objects (named by their id alone) are written no more, so their files
        // may be kept for new uploads; an upload's file may still have a PUT writing to it.
        let listed: Vec<PathBuf> = std::fs::read_dir(&state.blobs)?.flatten().map(|entry| entry.path()).collect();
        listed.into_iter().partition::<Vec<_>, _>(|path| path.file_name().is_some_and(|name| !name.to_string_lossy().contains('.')))
    };
    state.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    state.in_order.lock().unwrap_or_else(|p| p.into_inner()).clear();
    state.part_turns.lock().unwrap_or_else(|p| p.into_inner()).clear();
    state.puts().clear();
    state.reset_clock()?;
    // Deleting a cached GiB takes a quarter of a second: not on a runtime worker.
    let recycled = state.recycled.clone();
    let dropped = tokio::task::spawn_blocking(move || {
        for path in others {
            let _ = std::fs::remove_file(path);
        }
        recycled.drop_objects(objects);
    });
    dropped.await.map_err(|e| ApiError::internal(format!("dropping files failed: {e}")))?;
    Ok(ok_json(StatusCode::OK, json!({ "reset": true })))
}

/// Far enough for any expiry a test may want to pass.
const MAX_ADVANCE_SECONDS: i64 = 100 * 365 * 86_400;

async fn clock(State(state): S, body: Bytes) -> ApiResult<Response> {
    let mut input = Input::body(&body)?;
    let seconds = input.int("advance_seconds", Need::Required);
    if seconds.is_some_and(|s| s < 0) {
        input.fail("advance_seconds", "the clock only moves forward");
    }
    if seconds.is_some_and(|s| s > MAX_ADVANCE_SECONDS) {
        input.fail("advance_seconds", &format!("the clock moves at most {MAX_ADVANCE_SECONDS} seconds (100 years) at a time"));
    }
    input.finish()?;
    state.advance_clock(seconds.unwrap_or(0))?;
    Ok(ok_json(StatusCode::OK, json!({ "now": state.now_iso() })))
}
