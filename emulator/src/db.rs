//! The metadata database: schema, the default tenant, and row → JSON.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::state::{iso, new_id, random_token};
use crate::Config;

pub(crate) const ALL_SCOPES: &[&str] = &[
    "spaces:read",
    "spaces:write",
    "files:read",
    "files:write",
    "shares:read",
    "shares:write",
    "quota:read",
    "service:delegate",
    "service:jobtoken",
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, bytes_limit INTEGER NOT NULL, links_limit INTEGER NOT NULL,
    user_id TEXT UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, scopes TEXT NOT NULL, app TEXT,
    user_id TEXT, expires_at TEXT, is_default INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS spaces (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, space_id TEXT NOT NULL, parent_id TEXT,
    name TEXT NOT NULL, deleted_at TEXT, trash_batch TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS folders_parent ON folders (space_id, parent_id);
CREATE TABLE IF NOT EXISTS uploads (
    file_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, space_id TEXT NOT NULL, folder_id TEXT,
    app TEXT, key TEXT NOT NULL, mode TEXT NOT NULL, upload_id TEXT, part_size INTEGER,
    size INTEGER NOT NULL, content_type TEXT NOT NULL, original_name TEXT NOT NULL,
    created_by TEXT, created_at TEXT NOT NULL,
    put_size INTEGER, put_etag TEXT, put_sha256 TEXT, put_infected INTEGER,
    completed_body TEXT);
CREATE INDEX IF NOT EXISTS uploads_open ON uploads (created_at) WHERE completed_body IS NULL;
CREATE TABLE IF NOT EXISTS parts (
    file_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, PRIMARY KEY (file_id, part_number));
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, space_id TEXT NOT NULL, folder_id TEXT,
    original_name TEXT NOT NULL, name TEXT, mime TEXT NOT NULL, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, scan_result TEXT NOT NULL, scan_done_at TEXT NOT NULL,
    created_by TEXT, source_app TEXT, client_key TEXT, deleted_at TEXT, trash_batch TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_folder ON files (space_id, folder_id);
CREATE INDEX IF NOT EXISTS files_client_key ON files (tenant_id, client_key);
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, file_id TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
    permission TEXT NOT NULL, expires_at TEXT, download_count INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS shares_file ON shares (file_id);
";

/// Statements through SQLite's statement cache: parsing SQL costs more than running it.
pub(crate) trait Cached {
    fn qrow<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>;
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn qrow<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

pub(crate) fn open(path: &Path, cfg: &Config) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    // One emulator per data folder: holding the lock for good also spares every transaction
    // its file-lock system calls (a twentieth of an API request's CPU).
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)?;
    conn.set_prepared_statement_cache_capacity(128);
    ensure_default_tenant(&conn, cfg)?;
    Ok(conn)
}

/// The default tenant, its key (the configured value, every scope) and its limits, as the
/// configuration says now: a restart with another `--api-key` replaces the old default key.
pub(crate) fn ensure_default_tenant(conn: &Connection, cfg: &Config) -> rusqlite::Result<()> {
    let now = iso(chrono::Utc::now());
    let tenant: Option<String> =
        conn.query_row("SELECT v FROM meta WHERE k = 'default_tenant'", [], |r| r.get(0)).optional()?;
    let tenant = match tenant {
        Some(t) => t,
        None => {
            let t = create_tenant(conn, cfg.bytes_limit, cfg.links_limit, None, &now)?;
            conn.execute("INSERT INTO meta (k, v) VALUES ('default_tenant', ?1)", [&t])?;
            t
        }
    };
    conn.execute(
        "UPDATE tenants SET bytes_limit = ?1, links_limit = ?2 WHERE id = ?3",
        params![cfg.bytes_limit as i64, cfg.links_limit as i64, tenant],
    )?;
    conn.execute("DELETE FROM keys WHERE is_default = 1", [])?;
    conn.execute("DELETE FROM keys WHERE key = ?1", [&cfg.api_key])?;
    conn.execute(
        "INSERT INTO keys (key, tenant_id, scopes, is_default) VALUES (?1, ?2, ?3, 1)",
        params![cfg.api_key, tenant, ALL_SCOPES.join(" ")],
    )?;
    Ok(())
}

/// A tenant starts with one space, `Default`.
pub(crate) fn create_tenant(
    conn: &Connection,
    bytes_limit: u64,
    links_limit: u64,
    user_id: Option<&str>,
    now: &str,
) -> rusqlite::Result<String> {
    let id = new_id();
    conn.execute(
        "INSERT INTO tenants (id, bytes_limit, links_limit, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, bytes_limit as i64, links_limit as i64, user_id, now],
    )?;
    conn.execute(
        "INSERT INTO spaces (id, tenant_id, name, created_at, updated_at) VALUES (?1, ?2, 'Default', ?3, ?3)",
        params![new_id(), id, now],
    )?;
    Ok(id)
}

/// The key that signs storage URLs, made once per data folder.
pub(crate) fn signing_key(conn: &Connection) -> rusqlite::Result<[u8; 32]> {
    let existing: Option<String> =
        conn.query_row("SELECT v FROM meta WHERE k = 'signing_key'", [], |r| r.get(0)).optional()?;
    let key = match existing {
        Some(k) => k,
        None => {
            let k = random_token(32);
            conn.execute("INSERT INTO meta (k, v) VALUES ('signing_key', ?1)", [&k])?;
            k
        }
    };
    use sha2::Digest;
    Ok(sha2::Sha256::digest(key.as_bytes()).into())
}

/// How far `/_emulator/clock` has moved the clock, in milliseconds.
pub(crate) fn clock_offset_ms(conn: &Connection) -> rusqlite::Result<i64> {
    let stored: Option<String> = conn.query_row("SELECT v FROM meta WHERE k = 'clock_offset_ms'", [], |r| r.get(0)).optional()?;
    Ok(stored.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(crate) fn set_clock_offset_ms(conn: &Connection, offset: i64) -> rusqlite::Result<()> {
    conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('clock_offset_ms', ?1)", [offset.to_string()])?;
    Ok(())
}

/// Everything but the signing key goes; the default tenant is made anew.
pub(crate) fn reset(conn: &Connection, cfg: &Config) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM tenants; DELETE FROM keys; DELETE FROM spaces; DELETE FROM folders;
         DELETE FROM uploads; DELETE FROM parts; DELETE FROM files; DELETE FROM shares;
         DELETE FROM meta WHERE k = 'default_tenant';",
    )?;
    ensure_default_tenant(conn, cfg)
}

pub(crate) const SPACE_COLS: &str = "id, name, tenant_id, created_at, updated_at";
pub(crate) const FOLDER_COLS: &str = "id, name, space_id, parent_id, tenant_id, deleted_at, created_at, updated_at";
pub(crate) const FILE_COLS: &str = "id, original_name, name, space_id, folder_id, tenant_id, mime, size, sha256, \
     scan_result, scan_done_at, created_by, source_app, client_key, deleted_at, created_at, updated_at";
pub(crate) const SHARE_COLS: &str = "id, file_id, permission, expires_at, download_count, revoked, created_at, updated_at";

/// A row as a JSON object keyed by column name.
pub(crate) fn row_json(row: &Row<'_>) -> rusqlite::Result<Map<String, Value>> {
    let stmt = row.as_ref();
    let mut obj = Map::new();
    for i in 0..stmt.column_count() {
        let value = match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::from(n),
            ValueRef::Real(f) => Value::from(f),
            ValueRef::Text(t) => Value::String(match std::str::from_utf8(t) {
                Ok(text) => text.to_owned(),
                // SQLite does not check what it is given; the lossy path is the slow one.
                Err(_) => String::from_utf8_lossy(t).into_owned(),
            }),
            ValueRef::Blob(b) => Value::String(hex::encode(b)),
        };
        obj.insert(stmt.column_name(i)?.to_string(), value);
    }
    Ok(obj)
}

/// A share row as the API shows it (PROTOCOL §4 `Share`).
pub(crate) fn share_json(mut obj: Map<String, Value>) -> Value {
    let revoked = obj.get("revoked").and_then(Value::as_i64).unwrap_or(0) != 0;
    obj.insert("revoked".into(), Value::Bool(revoked));
    obj.insert("max_downloads".into(), Value::Null);
    obj.insert("has_password".into(), Value::Bool(false));
    Value::Object(obj)
}

/// A file row as the API shows it (PROTOCOL §4 `File`). The scan (and with it the file's
/// post-processing) is over once the clock passes `scan_done_at`; `just_completed` answers
/// as the complete call does, while post-processing still runs.
pub(crate) fn file_json(mut obj: Map<String, Value>, now: &str, just_completed: bool) -> Value {
    let done_at = obj.remove("scan_done_at");
    let result = obj.remove("scan_result").unwrap_or(Value::Null);
    let scanned = done_at.as_ref().and_then(Value::as_str).is_some_and(|t| t <= now);
    let scan_status = if scanned { result } else { Value::String("pending".into()) };
    let status = if scanned && !just_completed { "ready" } else { "pending" };
    obj.insert("scan_status".into(), scan_status);
    obj.insert("status".into(), Value::String(status.into()));
    Value::Object(obj)
}
