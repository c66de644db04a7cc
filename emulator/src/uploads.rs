//! Upload flow (PROTOCOL §6): initiate hands out presigned storage URLs; complete checks
//! what storage received and turns it into a file.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use crate::db::Cached;
use crate::api::{app_problem, authorize, bytes_used, ok_json, origin, require_space, AppStateRef, Caller};
use crate::error::{ApiError, ApiResult};
use crate::files;
use crate::folders;
use crate::state::{iso, new_id, random_token, AppState, CompleteUnderWay, PutActivity};
use crate::storage::{multipart_digest, part_count, presign};
use crate::validate::{mime_problem, Input, Need};

const UPLOAD_URL_TTL_SECS: i64 = 3600;
const UPLOAD_LIFETIME_HOURS: i64 = 24;
const MAX_PARTS: u64 = 10_000;
const MAX_OBJECT_SIZE: u64 = 5 << 40;

fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && !ext.is_empty() && ext.len() <= 16 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            ext.to_ascii_lowercase()
        }
        _ => "bin".to_string(),
    }
}

/// Drops the uploads that expired without being completed (PROTOCOL §7: after 24 h): their
/// rows, parts and bytes. Runs at start and at each initiate, so that an emulator left running
/// does not keep abandoned uploads' bytes for ever. One with a PUT under way is left for a
/// later sweep (its URLs expired long before, so no new PUT can begin), and so is one that a
/// complete is checking (it found the upload young).
pub(crate) fn sweep_expired(state: &AppState) -> rusqlite::Result<()> {
    let cutoff = iso(state.now() - chrono::Duration::hours(UPLOAD_LIFETIME_HOURS));
    let conn = state.db();
    let expired: Vec<String> = conn
        .prepare_cached("SELECT file_id FROM uploads WHERE completed_body IS NULL AND created_at < ?1")?
        .query_map([&cutoff], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for file_id in expired {
        if state.put_activity(&file_id).under_way > 0 || state.completing(&file_id) {
            continue;
        }
        match std::fs::remove_file(state.upload_path(&file_id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // The row stays, so that a later sweep tries again.
            Err(_) => continue,
        }
        conn.execute("DELETE FROM parts WHERE file_id = ?1", [&file_id])?;
        conn.execute("DELETE FROM uploads WHERE file_id = ?1", [&file_id])?;
        state.forget_upload(&file_id);
    }
    Ok(())
}

/// Puts back the bytes of a complete that was stopped (SIGKILL, power loss) after it had
/// moved them to their file's place but before its transaction committed: the upload is still
/// pending, so the same complete can then succeed. Runs at start, before any request.
pub(crate) fn repair_interrupted_completes(state: &AppState) -> rusqlite::Result<()> {
    let conn = state.db();
    let pending: Vec<String> = conn
        .prepare("SELECT u.file_id FROM uploads u WHERE u.completed_body IS NULL AND NOT EXISTS (SELECT 1 FROM files f WHERE f.id = u.file_id)")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for file_id in pending {
        let (blob, upload) = (state.blob_path(&file_id), state.upload_path(&file_id));
        if blob.exists() && !upload.exists() {
            // Left as it is if this fails: complete then says nothing was PUT, as before.
            let _ = std::fs::rename(&blob, &upload);
        }
    }
    Ok(())
}

pub(crate) async fn initiate(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let mut input = Input::body(&body)?;
    let name = input.name("original_name", Need::Required);
    let content_type = input.string("content_type", Need::Required);
    let size = input.int("size", Need::Required);
    let space_id = input.id("space_id", Need::Required);
    let folder_id = input.id("folder_id", Need::Nullable);
    let app = input.string("app", Need::Nullable);
    if let Some(problem) = content_type.as_deref().and_then(mime_problem) {
        input.fail("content_type", &format!("content_type {problem}"));
    }
    if size.is_some_and(|s| s < 0 || s as u64 > MAX_OBJECT_SIZE) {
        input.fail("size", "size must be between 0 and 5 TiB");
    }
    if let Some(problem) = app.as_deref().and_then(app_problem) {
        input.fail("app", problem);
    }
    input.finish()?;
    let (Some(name), Some(content_type), Some(size), Some(space_id)) = (name, content_type, size, space_id) else {
        return Err(ApiError::internal("validated input"));
    };
    let size = size as u64;
    let app = caller.app_namespace(app)?;
    require_space(&state, &caller.tenant, &space_id)?;
    sweep_expired(&state)?;
    let now = state.now();
    // The database lock is let go before the await below.
    let (file_id, key, multipart, part_size, upload_id) = {
        let conn = state.db();
        if let Some(folder) = &folder_id {
            folders::require_live_in_space(&conn, &caller.tenant, folder, &space_id)?;
        }
        let limit: i64 = conn.qrow("SELECT bytes_limit FROM tenants WHERE id = ?1", [&caller.tenant], |r| r.get(0))?;
        if bytes_used(&conn, &caller.tenant)? + size as i64 > limit {
            return Err(ApiError::quota_exceeded());
        }
        let file_id = new_id();
        let key = match &app {
            Some(app) => format!("{}/{app}/{space_id}/incoming/{file_id}.{}", caller.tenant, extension(&name)),
            None => format!("{}/{space_id}/incoming/{file_id}.{}", caller.tenant, extension(&name)),
        };
        let multipart = size >= state.cfg.multipart_threshold;
        let part_size = state.cfg.part_size.max(size.div_ceil(MAX_PARTS)).max(1);
        let upload_id = multipart.then(|| random_token(16));
        conn.exec(
            "INSERT INTO uploads (file_id, tenant_id, space_id, folder_id, app, key, mode, upload_id, part_size, size,
                content_type, original_name, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                file_id, caller.tenant, space_id, folder_id, app, key,
                if multipart { "multipart" } else { "single" }, upload_id,
                multipart.then_some(part_size as i64), size as i64, content_type, name, caller.user_id, iso(now),
            ],
        )?;
        (file_id, key, multipart, part_size, upload_id)
    };
    if multipart {
        // Its parts then write over a kept file (see `Recycled`); without one, the first
        // part to arrive creates the file.
        let (recycled, path) = (state.recycled.clone(), state.upload_path(&file_id));
        let placed = tokio::task::spawn_blocking(move || recycled.take_sized(&path, size)).await.unwrap_or(false);
        // A reset since the insert dropped the upload, and nothing else would delete its file.
        let still_open = || state.db().qrow("SELECT 1 FROM uploads WHERE file_id = ?1", [&file_id], |r| r.get::<_, i64>(0)).optional();
        if placed && matches!(still_open(), Ok(None)) {
            let (recycled, path) = (state.recycled.clone(), state.upload_path(&file_id));
            let _ = tokio::task::spawn_blocking(move || recycled.drop_objects([path])).await;
        }
    }
    let origin = origin(&state, &headers);
    let expires = (now + chrono::Duration::seconds(UPLOAD_URL_TTL_SECS)).timestamp();
    let path = format!("/_storage/uploads/{file_id}");
    let ticket = match upload_id {
        None => json!({
            "mode": "single", "file_id": file_id, "key": key,
            "upload_url": presign(&state, &origin, "PUT", &path, &[("content_type", &content_type)], expires),
        }),
        Some(upload_id) => {
            let part_urls: Vec<Value> = (1..=part_count(size, part_size))
                .map(|n| {
                    let url = presign(&state, &origin, "PUT", &format!("{path}/parts/{n}"), &[("upload_id", &upload_id)], expires);
                    json!({ "part_number": n, "url": url })
                })
                .collect();
            json!({
                "mode": "multipart", "file_id": file_id, "key": key, "upload_id": upload_id,
                "part_size": part_size, "part_urls": part_urls,
            })
        }
    };
    Ok(ok_json(StatusCode::OK, ticket))
}

struct Upload {
    space_id: String,
    folder_id: Option<String>,
    app: Option<String>,
    mode: String,
    upload_id: Option<String>,
    part_size: u64,
    size: u64,
    created_by: Option<String>,
    created_at: String,
    put_size: Option<i64>,
    put_sha256: Option<String>,
    put_infected: Option<bool>,
    completed_body: Option<String>,
}

pub(crate) async fn complete(State(state): AppStateRef, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let caller = authorize(&state, &headers, &["files:write"])?;
    let mut input = Input::body(&body)?;
    let file_id = input.id("file_id", Need::Required);
    let key = input.string("key", Need::Required);
    let upload_id = input.string("upload_id", Need::Nullable);
    let has_parts = input.has("parts");
    let name = input.name("original_name", Need::Required);
    let mime = input.string("mime", Need::Required);
    let size = input.int("size", Need::Required);
    let sha256 = input.string("sha256", Need::Required);
    let space_id = input.id("space_id", Need::Required);
    let folder_id = input.id("folder_id", Need::Nullable);
    let app = input.string("app", Need::Nullable);
    let client_key = input.string("client_key", Need::Nullable);
    let parts = read_parts(&mut input, has_parts);
    if sha256.as_deref().is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
        input.fail("sha256", "sha256 must be 64 hexadecimal digits");
    }
    if let Some(problem) = mime.as_deref().and_then(mime_problem) {
        input.fail("mime", &format!("mime {problem}"));
    }
    if client_key.as_deref().is_some_and(|k| k.is_empty() || k.len() > 1024) {
        input.fail("client_key", "client_key must be 1-1024 characters");
    }
    let body_json = Value::Object(input.raw().clone());
    input.finish()?;
    let (Some(file_id), Some(key), Some(name), Some(mime), Some(size), Some(sha256), Some(space_id)) =
        (file_id, key, name, mime, size, sha256, space_id)
    else {
        return Err(ApiError::internal("validated input"));
    };
    let app = caller.app_namespace(app)?;
    // Before the upload is looked up: from here on no sweep drops it.
    let completing = CompleteUnderWay::start(&state, &file_id);
    let _alone = completing.alone().await;
    let now = state.now();
    let puts_seen = state.put_activity(&file_id);
    let up = find_upload(&state, &caller.tenant, &file_id, &key)?;
    if let Some(done) = &up.completed_body {
        // A repeat of the call that succeeded (its answer may have been lost) gets the file,
        // as that call answered it.
        let same = serde_json::from_str::<Value>(done).is_ok_and(|v| v == body_json);
        if !same {
            return Err(ApiError::conflict("this upload was already completed with another request"));
        }
        let conn = state.db();
        return Ok(ok_json(StatusCode::OK, files::json_of(&conn, &file_id, &iso(now), true)?));
    }
    if puts_seen.under_way > 0 {
        return Err(ApiError::conflict("a storage PUT to this upload is still under way; complete once it has ended"));
    }
    if up.created_at < iso(now - chrono::Duration::hours(UPLOAD_LIFETIME_HOURS)) {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "upload expired"));
    }
    if up.space_id != space_id {
        return Err(ApiError::bad_request("space_id differs from the initiated upload's"));
    }
    if up.folder_id != folder_id {
        return Err(ApiError::bad_request("folder_id differs from the initiated upload's"));
    }
    if up.app != app {
        return Err(ApiError::bad_request("app differs from the initiated upload's"));
    }
    if size < 0 || size as u64 != up.size {
        return Err(ApiError::bad_request(format!("size mismatch: the upload was initiated with {} bytes, complete says {size}", up.size)));
    }
    let (actual_sha, infected) = if up.mode == "single" {
        if upload_id.is_some() || parts.is_some() {
            return Err(ApiError::bad_request("upload_id and parts must be null for a single upload"));
        }
        let (Some(put_size), Some(sha), Some(infected)) = (up.put_size, up.put_sha256.clone(), up.put_infected) else {
            return Err(ApiError::bad_request("missing object: nothing was PUT to the upload URL"));
        };
        if put_size as u64 != up.size {
            return Err(ApiError::bad_request(format!("size mismatch: the stored object has {put_size} bytes, not {}", up.size)));
        }
        (sha, infected)
    } else {
        if upload_id != up.upload_id {
            return Err(ApiError::bad_request("upload_id does not match this upload"));
        }
        let Some(parts) = parts else {
            return Err(ApiError::bad_request("parts is required for a multipart upload"));
        };
        let count = part_count(up.size, up.part_size);
        check_parts(&state, &file_id, &parts, count)?;
        multipart_digest(&state, &file_id, count, up.size).await?
    };
    if !actual_sha.eq_ignore_ascii_case(&sha256) {
        return Err(ApiError::bad_request(format!("sha256 mismatch: the stored object's sha256 is {actual_sha}")));
    }
    finish(&state, &caller, &file_id, &up, Finished { puts_seen, name, mime, sha256: actual_sha, infected, client_key, body: body_json })
}

fn find_upload(state: &AppState, tenant: &str, file_id: &str, key: &str) -> ApiResult<Upload> {
    state
        .db()
        .qrow(
            "SELECT space_id, folder_id, app, mode, upload_id, part_size, size, created_by, created_at,
                    put_size, put_sha256, put_infected, completed_body
             FROM uploads WHERE file_id = ?1 AND tenant_id = ?2 AND key = ?3",
            params![file_id, tenant, key],
            |r| {
                Ok(Upload {
                    space_id: r.get(0)?,
                    folder_id: r.get(1)?,
                    app: r.get(2)?,
                    mode: r.get(3)?,
                    upload_id: r.get(4)?,
                    part_size: r.get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
                    size: r.get::<_, i64>(6)? as u64,
                    created_by: r.get(7)?,
                    created_at: r.get(8)?,
                    put_size: r.get(9)?,
                    put_sha256: r.get(10)?,
                    put_infected: r.get(11)?,
                    completed_body: r.get(12)?,
                })
            },
        )
        .optional()?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no upload with this file_id and key"))
}

/// `parts`: null, or a list of `{"PartNumber": int, "ETag": str}`.
fn read_parts(input: &mut Input, present: bool) -> Option<Vec<(i64, String)>> {
    if !present {
        input.string("parts", Need::Nullable); // records "Field required"
        return None;
    }
    let raw = input.raw().get("parts").cloned().unwrap_or(Value::Null);
    let list = match raw {
        Value::Null => return None,
        Value::Array(list) => list,
        _ => {
            input.fail("parts", "parts must be a list of {\"PartNumber\", \"ETag\"} or null");
            return None;
        }
    };
    let mut parts = Vec::with_capacity(list.len());
    for item in list {
        match (item.get("PartNumber").and_then(Value::as_i64), item.get("ETag").and_then(Value::as_str)) {
            (Some(n), Some(etag)) => parts.push((n, etag.to_string())),
            _ => {
                input.fail("parts", "each part must be {\"PartNumber\": int, \"ETag\": str}");
                return None;
            }
        }
    }
    Some(parts)
}

/// The part list must name parts 1..=count in ascending order, each with the ETag storage gave.
fn check_parts(state: &AppState, file_id: &str, claimed: &[(i64, String)], count: u32) -> ApiResult<()> {
    if claimed.windows(2).any(|w| w[1].0 <= w[0].0) {
        return Err(ApiError::bad_request("parts are not in ascending PartNumber order"));
    }
    if let Some((n, _)) = claimed.iter().find(|(n, _)| *n < 1 || *n > count as i64) {
        return Err(ApiError::bad_request(format!("part {n} does not exist: this upload has parts 1 to {count}")));
    }
    for (i, expected) in (1..=count as i64).enumerate() {
        if claimed.get(i).map(|(n, _)| *n) != Some(expected) {
            return Err(ApiError::bad_request(format!("missing part {expected} in the part list")));
        }
    }
    let conn = state.db();
    let mut stmt = conn.prepare_cached("SELECT etag FROM parts WHERE file_id = ?1 AND part_number = ?2")?;
    for (n, etag) in claimed {
        let stored: Option<String> = stmt.query_row(params![file_id, n], |r| r.get(0)).optional()?;
        match stored {
            None => return Err(ApiError::bad_request(format!("missing part {n}: it was never uploaded"))),
            Some(s) if s != *etag => return Err(ApiError::bad_request(format!("ETag mismatch for part {n}"))),
            Some(_) => {}
        }
    }
    Ok(())
}

struct Finished {
    /// The upload's PUTs when complete began checking: none may run or end since.
    puts_seen: PutActivity,
    name: String,
    mime: String,
    sha256: String,
    infected: bool,
    client_key: Option<String>,
    body: Value,
}

fn finish(state: &AppState, caller: &Caller, file_id: &str, up: &Upload, f: Finished) -> ApiResult<Response> {
    let now = state.now();
    let now_iso = iso(now);
    let scan_done = iso(now + chrono::Duration::milliseconds(state.cfg.scan_delay_ms as i64));
    let mut conn = state.db();
    let tx = conn.transaction()?;
    // Gone since complete found it: `/_emulator/reset` dropped it (the sweep leaves uploads
    // alone while a complete runs, and completes of one upload run one at a time).
    let still_open: Option<i64> = tx.qrow("SELECT 1 FROM uploads WHERE file_id = ?1", [file_id], |r| r.get(0)).optional()?;
    if still_open.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "upload expired"));
    }
    // Checked under the database lock, which a PUT takes to find the upload still open.
    if state.put_activity(file_id) != f.puts_seen {
        return Err(ApiError::conflict("a storage PUT to this upload ran while complete checked it; complete again once it has ended"));
    }
    if let Some(folder) = &up.folder_id {
        // Trashed since initiate: a live file in it would escape the trash's rules.
        if folders::find(&tx, &caller.tenant, folder)?.deleted {
            return Err(ApiError::conflict("the upload's folder was moved to the trash; restore it first"));
        }
    }
    let limit: i64 = tx.qrow("SELECT bytes_limit FROM tenants WHERE id = ?1", [&caller.tenant], |r| r.get(0))?;
    if bytes_used(&tx, &caller.tenant)? + up.size as i64 > limit {
        return Err(ApiError::quota_exceeded());
    }
    let stored_name = format!("{file_id}.{}", extension(&f.name));
    tx.exec(
        "INSERT INTO files (id, tenant_id, space_id, folder_id, original_name, name, mime, size, sha256, scan_result,
            scan_done_at, created_by, source_app, client_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)",
        params![
            file_id, caller.tenant, up.space_id, up.folder_id, f.name, stored_name, f.mime, up.size as i64,
            f.sha256.to_ascii_lowercase(), if f.infected { "infected" } else { "clean" }, scan_done,
            up.created_by.clone().or(caller.user_id.clone()), up.app, f.client_key, now_iso,
        ],
    )?;
    tx.exec("UPDATE uploads SET completed_body = ?1 WHERE file_id = ?2", params![f.body.to_string(), file_id])?;
    tx.exec("DELETE FROM parts WHERE file_id = ?1", [file_id])?;
    let blob = state.blob_path(file_id);
    let pending = state.upload_path(file_id);
    if up.size == 0 && !pending.exists() {
        std::fs::File::create(&pending)?;
    }
    std::fs::rename(&pending, &blob)?;
    tx.commit()?;
    state.forget_upload(file_id);
    Ok(ok_json(StatusCode::OK, files::json_of(&conn, file_id, &now_iso, true)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload as initiate leaves it, created now.
    fn open_upload(state: &AppState, tenant: &str, file_id: &str, key: &str) {
        let inserted = state.db().exec(
            "INSERT INTO uploads (file_id, tenant_id, space_id, folder_id, app, key, mode, upload_id, part_size, size,
                content_type, original_name, created_by, created_at)
             VALUES (?1, ?2, 'space', NULL, NULL, ?3, 'single', NULL, NULL, 0, 'text/plain', 'a.txt', NULL, ?4)",
            params![file_id, tenant, key, state.now_iso()],
        );
        assert_eq!(inserted.ok(), Some(1));
    }

    fn finished() -> Finished {
        Finished {
            puts_seen: PutActivity::default(),
            name: "a.txt".into(),
            mime: "text/plain".into(),
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            infected: false,
            client_key: None,
            body: json!({}),
        }
    }

    /// A complete found its upload young; the upload expires while complete checks it, and
    /// a concurrent initiate sweeps. The sweep leaves the upload alone and the complete ends
    /// with it; once no complete is under way, the sweep drops what expired.
    #[test]
    fn the_sweep_leaves_an_upload_alone_while_a_complete_checks_it() {
        let dir = tempfile::TempDir::new().unwrap();
        let state = AppState::open(crate::Config::default(), dir.path(), "http://127.0.0.1:1".into()).unwrap();
        let tenant: String = state.db().qrow("SELECT v FROM meta WHERE k = 'default_tenant'", [], |r| r.get(0)).unwrap();
        let (checked, abandoned, key) = (new_id(), new_id(), "key".to_string());
        open_upload(&state, &tenant, &checked, &key);
        open_upload(&state, &tenant, &abandoned, &key);
        let caller = Caller { tenant: tenant.clone(), app: None, user_id: None };

        let completing = CompleteUnderWay::start(&state, &checked);
        let up = find_upload(&state, &tenant, &checked, &key).unwrap();
        state.advance_clock(UPLOAD_LIFETIME_HOURS * 3600 + 1).unwrap();
        sweep_expired(&state).unwrap();
        assert!(find_upload(&state, &tenant, &abandoned, &key).is_err());
        assert!(find_upload(&state, &tenant, &checked, &key).is_ok());
        let status = match finish(&state, &caller, &checked, &up, finished()) {
            Ok(resp) => resp.status(),
            Err(e) => e.status,
        };
        assert_eq!(status, StatusCode::OK);
        drop(completing);
        assert!(!state.completing(&checked));
    }

    /// An upload dropped between complete's checks and its commit (`/_emulator/reset`
    /// does that) answers 404, not a database error.
    #[test]
    fn a_complete_whose_upload_vanished_meanwhile_is_404() {
        let dir = tempfile::TempDir::new().unwrap();
        let state = AppState::open(crate::Config::default(), dir.path(), "http://127.0.0.1:1".into()).unwrap();
        let tenant: String = state.db().qrow("SELECT v FROM meta WHERE k = 'default_tenant'", [], |r| r.get(0)).unwrap();
        let (file_id, key) = (new_id(), "key".to_string());
        open_upload(&state, &tenant, &file_id, &key);
        let caller = Caller { tenant: tenant.clone(), app: None, user_id: None };
        let up = find_upload(&state, &tenant, &file_id, &key).unwrap();
        state.db().exec("DELETE FROM uploads WHERE file_id = ?1", [&file_id]).unwrap();
        let status = match finish(&state, &caller, &file_id, &up, finished()) {
            Ok(resp) => resp.status(),
            Err(e) => e.status,
        };
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
