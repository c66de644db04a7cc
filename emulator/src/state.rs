//! Shared state: the metadata database, the blob folder, the clock and the fault rules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

use crate::digest::InOrder;
use crate::faults::FaultRule;
use crate::recycle::Recycled;
use crate::spare::SpareFiles;
use crate::{db, Config, StartError};

/// The furthest `/_emulator/clock` moves the clock from wall time: dates keep the four-digit
/// years of RFC 3339 with any expiry added on top.
const MAX_CLOCK_OFFSET_MS: i64 = 7_000 * 365 * 86_400 * 1000;

pub(crate) struct AppState {
    pub cfg: Config,
    /// The origin that URLs are minted for when a request carries no `Host`.
    pub url: String,
    db: Mutex<Connection>,
    pub blobs: PathBuf,
    /// Empty files for new single PUTs, made ahead of time.
    pub spare_files: Arc<SpareFiles>,
    /// Files of dropped objects, for large uploads to write over.
    pub recycled: Arc<Recycled>,
    /// Signs presigned storage URLs; kept in the database so URLs survive a restart.
    pub signing_key: [u8; 32],
    clock_offset_ms: AtomicI64,
    pub faults: Mutex<Vec<FaultRule>>,
    /// Running SHA-256 state of multipart uploads, fed in part order as parts arrive.
    pub in_order: Mutex<HashMap<String, Arc<Mutex<InOrder>>>>,
    /// Storage PUTs per upload, under way and ended: complete goes ahead only when none is
    /// under way and none ended while it checked (see `PutUnderWay`).
    pub puts: Mutex<HashMap<String, PutActivity>>,
    /// One PUT of a part at a time: a second waits for the first to end (see `put_part`).
    pub part_turns: Mutex<HashMap<(String, u32), PartTurn>>,
    /// Completes under way per upload, and the turn they take (see `CompleteUnderWay`).
    completes: Mutex<HashMap<String, (usize, Arc<tokio::sync::Mutex<()>>)>>,
}

/// Held by the PUT of a part whose turn it is.
pub(crate) type PartTurn = Arc<tokio::sync::Mutex<()>>;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PutActivity {
    pub under_way: usize,
    pub ended: u64,
}

/// Counts a storage PUT of an upload for as long as it runs, and as ended after. Complete
/// refuses while one runs, or when one ended while it checked: its bytes could change what
/// complete checked, or land in the stored file. Its writer thread holds it too, so a PUT whose
/// request was dropped (the client went away) counts until its last byte is written.
pub(crate) struct PutUnderWay {
    state: Arc<AppState>,
    file_id: String,
}

impl PutUnderWay {
    pub fn start(state: &Arc<AppState>, file_id: &str) -> Self {
        state.puts().entry(file_id.to_string()).or_default().under_way += 1;
        PutUnderWay { state: state.clone(), file_id: file_id.to_string() }
    }
}

impl Drop for PutUnderWay {
    fn drop(&mut self) {
        if let Some(activity) = self.state.puts().get_mut(&self.file_id) {
            // A reset may have cleared the count since this PUT began.
            activity.under_way = activity.under_way.saturating_sub(1);
            activity.ended += 1;
        }
    }
}

/// Counts a complete of an upload for as long as it runs. The sweep of expired uploads leaves
/// such an upload alone: a complete that found its upload young ends with it, however long
/// its checks take, instead of finding its parts gone half way.
pub(crate) struct CompleteUnderWay<'a> {
    state: &'a AppState,
    file_id: String,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> CompleteUnderWay<'a> {
    pub fn start(state: &'a AppState, file_id: &str) -> Self {
        let mut completes = state.completes();
        let (count, turn) = completes.entry(file_id.to_string()).or_default();
        *count += 1;
        CompleteUnderWay { state, file_id: file_id.to_string(), turn: turn.clone() }
    }

    /// Waits for the other completes of this upload to end. Two at once both found it open,
    /// and the one that lost the race then found its parts moved into place (answering 400 or
    /// 500); one after the other, the second is a repeat of a call that succeeded.
    pub async fn alone(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn.clone().lock_owned().await
    }
}

impl Drop for CompleteUnderWay<'_> {
    fn drop(&mut self) {
        let mut completes = self.state.completes();
        if let Some((count, _)) = completes.get_mut(&self.file_id) {
            *count -= 1;
            if *count == 0 {
                completes.remove(&self.file_id);
            }
        }
    }
}

impl AppState {
    pub fn open(cfg: Config, data_dir: &Path, url: String) -> Result<AppState, StartError> {
        let dir_err = |source| StartError::DataDir { path: data_dir.to_path_buf(), source };
        let blobs = data_dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(dir_err)?;
        // First, as it claims the folder: an emulator already running on it keeps its files.
        let conn = db::open(&data_dir.join("fluidcloud.sqlite3"), &cfg).map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StartError::DataDirInUse { path: data_dir.to_path_buf() }
            }
            _ => StartError::Database(e),
        })?;
        sweep_broken_puts(&blobs);
        let spare_files = SpareFiles::open(data_dir.join("spare")).map_err(dir_err)?;
        let recycled = Arc::new(Recycled::open(data_dir.join("recycled")).map_err(dir_err)?);
        let signing_key = db::signing_key(&conn)?;
        let clock_offset_ms = db::clock_offset_ms(&conn)?;
        Ok(AppState {
            cfg,
            url,
            db: Mutex::new(conn),
            blobs,
            spare_files,
            recycled,
            signing_key,
            clock_offset_ms: AtomicI64::new(clock_offset_ms),
            faults: Mutex::new(Vec::new()),
            in_order: Mutex::new(HashMap::new()),
            puts: Mutex::new(HashMap::new()),
            part_turns: Mutex::new(HashMap::new()),
            completes: Mutex::new(HashMap::new()),
        })
    }

    pub fn puts(&self) -> std::sync::MutexGuard<'_, HashMap<String, PutActivity>> {
        self.puts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn completes(&self) -> std::sync::MutexGuard<'_, HashMap<String, (usize, Arc<tokio::sync::Mutex<()>>)>> {
        self.completes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a complete of this upload is under way.
    pub fn completing(&self, file_id: &str) -> bool {
        self.completes().contains_key(file_id)
    }

    /// The PUTs of an upload so far.
    pub fn put_activity(&self, file_id: &str) -> PutActivity {
        self.puts().get(file_id).copied().unwrap_or_default()
    }

    /// The turn of part `part` of `file_id`: PUTs of one part take turns.
    pub fn part_turn(&self, file_id: &str, part: u32) -> PartTurn {
        let mut turns = self.part_turns.lock().unwrap_or_else(|p| p.into_inner());
        turns.entry((file_id.to_string(), part)).or_default().clone()
    }

    /// Forgets what an upload's PUTs left in memory, once it is completed or reset.
    pub fn forget_upload(&self, file_id: &str) {
        self.in_order.lock().unwrap_or_else(|p| p.into_inner()).remove(file_id);
        self.part_turns.lock().unwrap_or_else(|p| p.into_inner()).retain(|(id, _), _| id != file_id);
        self.puts().remove(file_id);
    }

    /// The metadata database. Statements are short; the lock is never held across an await.
    pub fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The emulator's clock: wall time plus whatever `/_emulator/clock` added.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.clock_offset_ms.load(Ordering::SeqCst))
    }

    pub fn now_iso(&self) -> String {
        iso(self.now())
    }

    /// Stops at `MAX_CLOCK_OFFSET_MS` however many steps ask for more. The offset is kept in
    /// the database: after a restart, what had expired stays expired.
    pub fn advance_clock(&self, seconds: i64) -> rusqlite::Result<()> {
        let conn = self.db();
        let step = seconds.saturating_mul(1000);
        let offset = self.clock_offset_ms.load(Ordering::SeqCst).saturating_add(step).min(MAX_CLOCK_OFFSET_MS);
        db::set_clock_offset_ms(&conn, offset)?;
        // Stored under the database lock, so concurrent steps neither interleave nor get lost.
        self.clock_offset_ms.store(offset, Ordering::SeqCst);
        Ok(())
    }

    pub fn reset_clock(&self) -> rusqlite::Result<()> {
        let conn = self.db();
        db::set_clock_offset_ms(&conn, 0)?;
        self.clock_offset_ms.store(0, Ordering::SeqCst);
        Ok(())
    }

    pub fn blob_path(&self, file_id: &str) -> PathBuf {
        self.blobs.join(file_id)
    }

    /// Where an upload's bytes gather until complete renames them to `blob_path`.
    pub fn upload_path(&self, file_id: &str) -> PathBuf {
        self.blobs.join(format!("{file_id}.upload"))
    }
}

/// Single PUTs write to `{id}.put-{random}` and rename it when whole: one found at start
/// was cut off by a stop (SIGTERM, SIGKILL) and would stay for ever.
fn sweep_broken_puts(blobs: &Path) {
    let Ok(entries) = std::fs::read_dir(blobs) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().contains(".put-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `2026-11-28T03:36:40.123456Z`: fixed width, so stored timestamps compare as strings.
/// (Not `format`: it parses its pattern on every call, and nearly every request asks.)
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

pub(crate) fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn iso_times_keep_six_fraction_digits_and_a_z() {
        let whole = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default();
        assert_eq!(iso(whole), "2026-01-02T03:04:05.000000Z");
        let fine = whole + Duration::nanoseconds(123_456_789);
        assert_eq!(iso(fine), "2026-01-02T03:04:05.123456Z");
    }
}
