//! The storage endpoint behind presigned URLs: PUTs that stream to disk while hashing, and
//! ranged GETs. It speaks like an object store: no credential, an HMAC-signed URL instead,
//! XML errors, and a per-connection bandwidth cap when configured.

// The checks here fail with the refusal itself (a `Response`), which the handler returns as
// is; boxing it would only add an allocation to the error path.
#![allow(clippy::result_large_err)]

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use bytes::BytesMut;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rusqlite::{params, OptionalExtension};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::Instant;

use crate::db::Cached;
use crate::api::AppStateRef;
use crate::digest::{feed_from_file, Digest, InOrder};
use crate::priority::Raised;
use crate::error::storage_error;
use crate::server::{Conn, UNSEEN_BODY_MAX};
use crate::recycle::Recycled;
use crate::spare::SpareFiles;
use crate::state::{random_token, AppState, PutUnderWay};

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A URL for `method path` valid until `expires` (unix seconds), signed over method, path and
/// query.
pub(crate) fn presign(
    state: &AppState,
    origin: &str,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    expires: i64,
) -> String {
    let mut query: Vec<String> =
        params.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE))).collect();
    query.push(format!("expires={expires}"));
    let query = query.join("&");
    let signature = sign(state, method, path, &query);
    format!("{origin}{path}?{query}&signature={signature}")
}

fn signature_mac(state: &AppState, method: &str, path: &str, query: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; only fixed-key MACs can refuse one.
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.signing_key).expect("HMAC accepts any key length");
    mac.update(format!("{method}\n{path}\n{query}").as_bytes());
    mac
}

fn sign(state: &AppState, method: &str, path: &str, query: &str) -> String {
    hex::encode(signature_mac(state, method, path, query).finalize().into_bytes())
}

/// The signed query parameters, or the 403 an object store gives for a bad or old URL.
fn verify(state: &AppState, method: &str, path: &str, raw_query: Option<&str>) -> Result<Vec<(String, String)>, Response> {
    let denied = |msg: &str| storage_error(StatusCode::FORBIDDEN, "AccessDenied", msg);
    let raw = raw_query.unwrap_or("");
    let (signed, signature) =
        raw.rsplit_once("&signature=").ok_or_else(|| denied("the URL carries no signature"))?;
    let mac = signature_mac(state, method, path, signed);
    let given = hex::decode(signature).map_err(|_| denied("signature does not match"))?;
    mac.verify_slice(&given).map_err(|_| denied("signature does not match"))?;
    let params: Vec<(String, String)> = signed
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned()))
        .collect();
    let expires: i64 = param(&params, "expires").and_then(|e| e.parse().ok()).ok_or_else(|| denied("no expiry"))?;
    if expires < state.now().timestamp() {
        return Err(denied("Request has expired"));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn new_etag() -> String {
    format!("\"{}\"", random_token(16))
}

/// Storage refuses bodies of unknown length, as S3 does.
fn declared_length(headers: &HeaderMap) -> Result<u64, Response> {
    let chunked = headers.get(header::TRANSFER_ENCODING).is_some();
    match headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()) {
        Some(n) if !chunked => Ok(n),
        _ => Err(storage_error(StatusCode::LENGTH_REQUIRED, "MissingContentLength", "send a Content-Length header")),
    }
}

struct PendingUpload {
    mode: String,
    upload_id: Option<String>,
    part_size: u64,
    size: u64,
}

fn pending_upload(state: &AppState, file_id: &str) -> Result<PendingUpload, Response> {
    let no_upload = || storage_error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload, or it was completed");
    let row = state
        .db()
        .qrow(
            "SELECT mode, upload_id, part_size, size FROM uploads WHERE file_id = ?1 AND completed_body IS NULL",
            [file_id],
            |r| Ok(PendingUpload { mode: r.get(0)?, upload_id: r.get(1)?, part_size: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64, size: r.get::<_, i64>(3)? as u64 }),
        )
        .optional();
    match row {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(no_upload()),
        Err(e) => Err(storage_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string())),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    storage_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string())
}

async fn storage_latency(state: &AppState) {
    if state.cfg.storage_latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.cfg.storage_latency_ms)).await;
    }
}

fn stored(etag: &str) -> Response {
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

const THROTTLE_SLACK: Duration = Duration::from_millis(20);

/// Sleeps as needed to keep a transfer under the configured bytes per second.
struct Throttle {
    rate: u64,
    start: Instant,
    bytes: u64,
}

impl Throttle {
    fn new(rate: u64) -> Self {
        Throttle { rate, start: Instant::now(), bytes: 0 }
    }

    async fn pass(&mut self, n: usize) {
        if self.rate == 0 {
            return;
        }
        self.bytes += n as u64;
        let due = self.start + Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        // Pausing only once ahead by a little lets data gather into large reads: a pause per
        // small chunk would cost more CPU than the transfer itself.
        if due > Instant::now() + THROTTLE_SLACK {
            tokio::time::sleep_until(due).await;
        }
    }
}

/// Keeps the socket's low-water mark up while the bulk of a body is still to come, so that the
/// sender's bytes arrive in large reads (fewer wake-ups on both ends of the connection, the
/// largest cost after hashing and the page-cache copy at 1 GB/s).
struct LowWater {
    conn: Option<Conn>,
    length: u64,
}

impl LowWater {
    const MARK: usize = 1 << 20;

    fn new(conn: Option<Conn>, length: u64) -> Self {
        let mut low_water = LowWater { conn, length };
        low_water.received(0);
        low_water
    }

    fn received(&mut self, total: u64) {
        // Some bytes sit unseen in the connection's buffers: the mark only holds while more
        // than it is sure to still come through the socket.
        let sure_to_come = self.length.saturating_sub(total).saturating_sub(UNSEEN_BODY_MAX);
        if sure_to_come <= Self::MARK as u64 {
            self.release();
        } else if let Some(conn) = &self.conn {
            conn.set_receive_low_water(Self::MARK);
        }
    }

    /// Whether bytes that arrive may go unseen until a MiB has come in.
    fn raised(&self) -> bool {
        self.conn.is_some()
    }

    /// Wakes the reader for every byte until the next `received` raises the mark again: for a
    /// sender too slow to fill the mark within the idle timeout.
    fn lower_for_now(&self) {
        if let Some(conn) = &self.conn {
            conn.set_receive_low_water(1);
        }
    }

    /// Back to waking the reader for every byte, for good.
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.set_receive_low_water(1);
        }
    }
}

impl Drop for LowWater {
    fn drop(&mut self) {
        self.release();
    }
}

enum ReceiveError {
    /// The client went away or sent a broken body.
    Body,
    TooLong,
    /// The client sent nothing for the idle timeout.
    Idle(Duration),
    Io(std::io::Error),
}

/// The body's next chunk; `None` at its end.
async fn next_chunk(
    stream: &mut (impl futures_util::Stream<Item = Result<Bytes, axum::Error>> + Unpin),
    idle_timeout: Option<Duration>,
    low_water: Option<&LowWater>,
) -> Result<Option<Bytes>, ReceiveError> {
    let frame = match (idle_timeout, low_water) {
        (None, _) => stream.next().await,
        // While the mark is up, bytes below it do not wake us, and a slow sender that never
        // pauses would look idle (a MiB at 8 KiB/s takes longer than the default timeout):
        // half way through, the mark comes down, so that any byte sent in the whole period
        // is seen within it.
        (Some(idle), Some(low_water)) if low_water.raised() => match tokio::time::timeout(idle / 2, stream.next()).await {
            Ok(frame) => frame,
            Err(_) => {
                low_water.lower_for_now();
                let rest = idle - idle / 2;
                tokio::time::timeout(rest, stream.next()).await.map_err(|_| ReceiveError::Idle(idle))?
            }
        },
        (Some(idle), _) => tokio::time::timeout(idle, stream.next()).await.map_err(|_| ReceiveError::Idle(idle))?,
    };
    frame.transpose().map_err(|_| ReceiveError::Body)
}

/// Chunks a receiver may queue for its writer and for its hasher: enough to overlap the
/// three; more only spreads the bytes over more memory (4 instead of 16 took ~4 % off a 1 GiB
/// PUT in alternating runs).
const QUEUED_CHUNKS: usize = 4;

/// Streams `body` into `target`, feeding `digest` as chunks arrive (bodies of at most
/// `SMALL_BODY` go to `receive_small` instead). Reading the socket (here), hashing and
/// writing each have a thread, so the three overlap: at 1 GB/s
/// SHA-256 alone takes most of a core. (Hashing here made this task the PUT's critical path,
/// ~1 s of CPU per GiB; its own thread took a 1 GiB PUT from 1.22 to 1.13 s, median of
/// alternating runs.)
/// `held` lives until the PUT is done with its file, even when the request is dropped midway
/// (blocking threads go on with what they were handed): the PUT's `PutUnderWay`, a part's turn,
/// a single PUT's own file.
async fn receive(
    state: &AppState,
    body: Body,
    conn: Option<Conn>,
    target: Target,
    limit: u64,
    digest: Option<Digest>,
    held: impl Send + 'static,
) -> (Result<u64, ReceiveError>, Option<Digest>) {
    if limit <= SMALL_BODY {
        return receive_small(state, body, target, limit, digest).await;
    }
    let offset = target.offset;
    // Reserving a GiB takes milliseconds, too long for a runtime worker.
    let (file, recycled, held) = match tokio::task::spawn_blocking(move || (target.open_reserved(), held)).await {
        Ok((Ok((file, recycled)), held)) => (file, recycled, held),
        Ok((Err(e), _)) => return (Err(ReceiveError::Io(e)), digest),
        Err(e) => return (Err(ReceiveError::Io(std::io::Error::other(e.to_string()))), digest),
    };
    let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUED_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || {
        let _held = held;
        // Small network reads (a throttled or slow sender) are gathered into large writes:
        // many small writes into the page cache cost far more than one more copy. Chunks of
        // a quarter MiB or more are written as they are: copying them cost more than it saved.
        const WRITE_SIZE: usize = 1 << 20;
        const WRITE_AS_IS: usize = 256 << 10;
        let mut staged = BytesMut::with_capacity(WRITE_SIZE);
        let mut pos = offset;
        while let Some(chunk) = write_rx.blocking_recv() {
            if chunk.len() >= WRITE_AS_IS {
                if !staged.is_empty() {
                    file.write_all_at(&staged, pos)?;
                    pos += staged.len() as u64;
                    staged.clear();
                }
                file.write_all_at(&chunk, pos)?;
                pos += chunk.len() as u64;
                continue;
            }
            staged.extend_from_slice(&chunk);
            if staged.len() >= WRITE_SIZE {
                file.write_all_at(&staged, pos)?;
                pos += staged.len() as u64;
                staged.clear();
            }
        }
        file.write_all_at(&staged, pos)?;
        let end = pos + staged.len() as u64;
        if recycled {
            file.set_len(end)?;
        }
        Ok::<u64, std::io::Error>(end - offset)
    });
    let hasher = digest.map(Hasher::spawn);
    let mut low_water = LowWater::new(conn, limit);
    let mut throttle = Throttle::new(state.cfg.storage_bytes_per_sec);
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let mut failure = None;
    loop {
        let chunk = match next_chunk(&mut stream, state.cfg.storage_idle_timeout, Some(&low_water)).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        total += chunk.len() as u64;
        if total > limit {
            failure = Some(ReceiveError::TooLong);
            break;
        }
        low_water.received(total);
        let n = chunk.len();
        if let Some(hasher) = &hasher {
            hasher.feed(chunk.clone()).await;
        }
        if write_tx.send(chunk).await.is_err() {
            break; // the writer failed; its error is reported below
        }
        throttle.pass(n).await;
    }
    drop(low_water);
    drop(write_tx);
    let digest = match hasher {
        Some(hasher) => hasher.finish().await,
        None => None,
    };
    let written = match writer.await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e.to_string())),
    };
    match (failure, written) {
        (Some(f), _) => (Err(f), digest),
        (None, Err(e)) => (Err(ReceiveError::Io(e)), digest),
        (None, Ok(n)) => (Ok(n), digest),
    }
}

/// A digest fed on a blocking thread of its own, at most `QUEUED_CHUNKS` chunks behind.
struct Hasher {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    thread: tokio::task::JoinHandle<Digest>,
}

impl Hasher {
    fn spawn(mut digest: Digest) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUED_CHUNKS);
        let thread = tokio::task::spawn_blocking(move || {
            let _raised = Raised::here();
            while let Some(chunk) = rx.blocking_recv() {
                digest.update(&chunk);
            }
            digest
        });
        Hasher { tx, thread }
    }

    async fn feed(&self, chunk: Bytes) {
        // The thread only stops when `tx` is dropped, or if it panicked; then `finish` says so.
        let _ = self.tx.send(chunk).await;
    }

    /// The digest of everything fed; `None` if the thread died.
    async fn finish(self) -> Option<Digest> {
        drop(self.tx);
        self.thread.await.ok()
    }
}

fn receive_failure(e: ReceiveError, expected: u64) -> Response {
    match e {
        ReceiveError::Body => storage_error(StatusCode::BAD_REQUEST, "IncompleteBody", "the request body broke off"),
        ReceiveError::TooLong => storage_error(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            &format!("the body is longer than its Content-Length ({expected})"),
        ),
        ReceiveError::Idle(idle) => {
            let message = format!("the body sent nothing for {} s; the connection is closed", idle.as_secs_f64());
            let mut resp = storage_error(StatusCode::BAD_REQUEST, "RequestTimeout", &message);
            // The rest of the body will not be read, so the connection cannot carry another request.
            resp.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            resp
        }
        ReceiveError::Io(e) => internal(e),
    }
}

/// Bodies up to this size are gathered in memory, then written and hashed in one go right
/// here, as SQLite statements are: that takes tens of µs, and handing it to blocking threads
/// and back cost more (a writer and a hasher thread took 14 thread switches per small upload,
/// one blocking job 9, none 6; a 16 KiB upload went from 1.66 to 1.53 ms, medians of five
/// alternating runs).
const SMALL_BODY: u64 = 64 * 1024;

/// Where a body's bytes go: into `path` from `offset`, with `reserve` bytes of disk reserved
/// ahead of them.
struct Target {
    path: PathBuf,
    /// Set when `path` is a new file of this PUT's own, which can be one made ahead of time
    /// or a kept one to write over; otherwise the file is shared (a multipart upload's) and
    /// only created if missing.
    own: Option<NewFiles>,
    offset: u64,
    reserve: u64,
}

struct NewFiles {
    spare: Arc<SpareFiles>,
    recycled: Arc<Recycled>,
}

impl NewFiles {
    fn of(state: &AppState) -> Self {
        NewFiles { spare: state.spare_files.clone(), recycled: state.recycled.clone() }
    }
}

impl Target {
    /// The file, and whether it is a kept one (see `Recycled`): then it holds old bytes past
    /// the ones written, and must be cut to their length.
    fn open(&self) -> std::io::Result<(std::fs::File, bool)> {
        let recycled = match &self.own {
            Some(own) => {
                let recycled = own.recycled.take(&self.path, self.reserve);
                if !recycled {
                    own.spare.take(&self.path);
                }
                recycled
            }
            None => false,
        };
        let truncate = self.own.is_some() && !recycled;
        let file = std::fs::OpenOptions::new().create(true).write(true).truncate(truncate).open(&self.path)?;
        Ok((file, recycled))
    }

    fn open_reserved(&self) -> std::io::Result<(std::fs::File, bool)> {
        let (file, recycled) = self.open()?;
        preallocate(&file, self.offset, self.reserve);
        Ok((file, recycled))
    }
}

/// `receive` for a body of at most `SMALL_BODY` bytes.
async fn receive_small(
    state: &AppState,
    body: Body,
    target: Target,
    limit: u64,
    mut digest: Option<Digest>,
) -> (Result<u64, ReceiveError>, Option<Digest>) {
    let mut throttle = Throttle::new(state.cfg.storage_bytes_per_sec);
    let mut stream = body.into_data_stream();
    let mut gathered = BytesMut::with_capacity(limit as usize);
    loop {
        let chunk = match next_chunk(&mut stream, state.cfg.storage_idle_timeout, None).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return (Err(e), digest),
        };
        if (gathered.len() + chunk.len()) as u64 > limit {
            return (Err(ReceiveError::TooLong), digest);
        }
        gathered.extend_from_slice(&chunk);
        throttle.pass(chunk.len()).await;
    }
    let written = target.open().and_then(|(file, recycled)| {
        file.write_all_at(&gathered, target.offset)?;
        if recycled {
            file.set_len(target.offset + gathered.len() as u64)?;
        }
        Ok(())
    });
    if let (Ok(()), Some(digest)) = (&written, &mut digest) {
        digest.update(&gathered);
    }
    (written.map(|()| gathered.len() as u64).map_err(ReceiveError::Io), digest)
}

/// Reserves disk blocks for `len` bytes at `offset` before they arrive: ext4 otherwise does
/// its delayed-allocation bookkeeping page by page while the body streams in (~5 % of the
/// emulator's CPU in a 1 GiB PUT). Only a hint: where it fails, the writes allocate as usual.
/// The file's size is left alone, so a body that breaks off reads as short as it was.
fn preallocate(file: &std::fs::File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else { return };
        if len > 0 {
            // SAFETY: an open file descriptor; fallocate reads nothing from our memory.
            unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset, len) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// The declared length of a single PUT that may go ahead, and the size its upload was
/// initiated with.
fn check_single(state: &AppState, file_id: &str, params: &[(String, String)], parts: &axum::http::request::Parts) -> Result<(u64, u64), Response> {
    let length = declared_length(&parts.headers)?;
    let sent_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let signed_type = param(params, "content_type").unwrap_or("");
    if sent_type != signed_type {
        return Err(storage_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            &format!("this URL is signed for Content-Type '{signed_type}', the request sent '{sent_type}'"),
        ));
    }
    // A wrong length is judged at complete, as the object's size.
    match pending_upload(state, file_id)? {
        u if u.mode == "single" => Ok((length, u.size)),
        _ => Err(storage_error(StatusCode::BAD_REQUEST, "InvalidRequest", "this upload is multipart")),
    }
}

/// `PUT` of a single-mode upload: the whole object, typed as signed.
pub(crate) async fn put_single(State(state): AppStateRef, Path(file_id): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let params = match verify(&state, "PUT", parts.uri.path(), parts.uri.query()) {
        Ok(params) => params,
        Err(refusal) => return refusal,
    };
    // Counted before the upload is found open: a complete that commits in between is seen.
    let under_way = PutUnderWay::start(&state, &file_id);
    let (length, initiated_size) = match check_single(&state, &file_id, &params, &parts) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    // A new PUT goes to a file of its own, so one that breaks off leaves the last good one.
    let temp = state.blobs.join(format!("{file_id}.put-{}", random_token(6)));
    let held = Arc::new((under_way, OwnFile(temp.clone())));
    // Reserves no more than initiate declared (and the quota allowed), whatever
    // Content-Length says.
    let target = Target { path: temp.clone(), own: Some(NewFiles::of(&state)), offset: 0, reserve: length.min(initiated_size) };
    let conn = parts.extensions.get::<Conn>().cloned();
    let (result, digest) = receive(&state, body, conn, target, length, Some(Digest::default()), held.clone()).await;
    let written = match result {
        Ok(n) if n == length => n,
        Ok(_) => return storage_error(StatusCode::BAD_REQUEST, "IncompleteBody", "fewer bytes than Content-Length"),
        Err(e) => return receive_failure(e, length),
    };
    let Some((sha256, infected)) = digest.map(Digest::finish) else { return internal("digest lost") };
    let etag = new_etag();
    if let Err(refusal) = record_single_put(&state, &file_id, &temp, written, &etag, &sha256, infected) {
        return refusal;
    }
    storage_latency(&state).await;
    stored(&etag)
}

/// A single PUT's own file, deleted once the PUT is over unless it was moved into place:
/// however the PUT ended, even with its request dropped, and only once its writer let go.
struct OwnFile(PathBuf);

impl Drop for OwnFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Puts a whole single PUT's bytes in place with their record, under the database lock: the
/// record first, the rename before the commit. Two PUTs ending at once cannot leave one's
/// bytes under the other's hash, and a failed UPDATE or rename leaves the last good PUT's
/// bytes and record as they were. A failed commit leaves no bytes rather than the wrong ones
/// (complete then fails until the object is PUT again). A crash between the rename and the
/// commit can still pair the new bytes with the old record.
fn record_single_put(state: &AppState, file_id: &str, temp: &std::path::Path, written: u64, etag: &str, sha256: &str, infected: bool) -> Result<(), Response> {
    let mut conn = state.db();
    let tx = conn.transaction().map_err(internal)?;
    let updated = tx
        .exec(
            "UPDATE uploads SET put_size = ?1, put_etag = ?2, put_sha256 = ?3, put_infected = ?4 WHERE file_id = ?5",
            params![written as i64, etag, sha256, infected, file_id],
        )
        .map_err(internal)?;
    if updated == 0 {
        // A reset dropped the upload while its body came in.
        return Err(storage_error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such upload"));
    }
    let target = state.upload_path(file_id);
    std::fs::rename(temp, &target).map_err(internal)?;
    tx.commit().map_err(|e| {
        let _ = std::fs::remove_file(&target);
        internal(e)
    })
}

pub(crate) fn part_count(size: u64, part_size: u64) -> u32 {
    size.div_ceil(part_size).max(1) as u32
}

/// The running in-order digest of a multipart upload.
pub(crate) fn in_order(state: &AppState, file_id: &str, part_count: u32) -> Arc<Mutex<InOrder>> {
    let mut map = state.in_order.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(file_id.to_string()).or_insert_with(|| Arc::new(Mutex::new(InOrder::new(part_count)))).clone()
}

fn lock(order: &Mutex<InOrder>) -> std::sync::MutexGuard<'_, InOrder> {
    order.lock().unwrap_or_else(|p| p.into_inner())
}

/// The upload and where part `part` goes in it, when its PUT may go ahead.
fn check_part(
    state: &AppState,
    file_id: &str,
    part: u32,
    params: &[(String, String)],
    parts: &axum::http::request::Parts,
) -> Result<(PendingUpload, u64, u64), Response> {
    let length = declared_length(&parts.headers)?;
    let upload = match pending_upload(state, file_id)? {
        u if u.mode == "multipart" && u.upload_id.as_deref() == param(params, "upload_id") => u,
        _ => return Err(storage_error(StatusCode::NOT_FOUND, "NoSuchUpload", "no such multipart upload")),
    };
    let count = part_count(upload.size, upload.part_size);
    if part == 0 || part > count {
        return Err(storage_error(StatusCode::BAD_REQUEST, "InvalidPart", &format!("part numbers run from 1 to {count}")));
    }
    let offset = (part as u64 - 1) * upload.part_size;
    let expected = upload.part_size.min(upload.size - offset);
    if length != expected {
        return Err(storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidPartSize",
            &format!("part {part} must be exactly {expected} bytes, the request declares {length}"),
        ));
    }
    Ok((upload, offset, expected))
}

/// `PUT` of part `n` of a multipart upload, written at its offset in the upload's file.
pub(crate) async fn put_part(
    State(state): AppStateRef,
    Path((file_id, part)): Path<(String, u32)>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let params = match verify(&state, "PUT", parts.uri.path(), parts.uri.query()) {
        Ok(params) => params,
        Err(refusal) => return refusal,
    };
    // Counted before the upload is found open: a complete that commits in between is seen.
    let under_way = PutUnderWay::start(&state, &file_id);
    // PUTs of one part write the same bytes of the file: they take turns, so that the last
    // to end wins whole (two at once interleaved, and complete accepted the mix).
    let turn = state.part_turn(&file_id, part).lock_owned().await;
    let held = Arc::new((under_way, turn));
    // Found open here stays open: complete refuses while a PUT of its upload is under way.
    let (upload, offset, expected) = match check_part(&state, &file_id, part, &params, &parts) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let count = part_count(upload.size, upload.part_size);
    let order = in_order(&state, &file_id, count);
    let (gen, feeding) = lock(&order).start_part(part);
    // Starting a PUT forgets the part's last upload: one that breaks off leaves it missing.
    let forgot = state
        .db()
        .exec("DELETE FROM parts WHERE file_id = ?1 AND part_number = ?2", params![file_id, part]);
    if let Err(e) = forgot {
        lock(&order).end_part(part, gen, feeding, false);
        return internal(e);
    }
    let target = Target { path: state.upload_path(&file_id), own: None, offset, reserve: expected };
    let conn = parts.extensions.get::<Conn>().cloned();
    let (result, fed) = receive(&state, body, conn, target, expected, feeding, held.clone()).await;
    let complete = matches!(result, Ok(n) if n == expected);
    let etag = new_etag();
    if complete {
        let current = lock(&order).is_current(part, gen);
        if current {
            let recorded = state.db().exec(
                "INSERT OR REPLACE INTO parts (file_id, part_number, size, etag) VALUES (?1, ?2, ?3, ?4)",
                params![file_id, part, expected as i64, etag],
            );
            if let Err(e) = recorded {
                lock(&order).end_part(part, gen, fed, false);
                return internal(e);
            }
        }
    }
    lock(&order).end_part(part, gen, fed, complete);
    if !complete {
        return match result {
            Err(e) => receive_failure(e, expected),
            Ok(_) => storage_error(StatusCode::BAD_REQUEST, "IncompleteBody", "fewer bytes than Content-Length"),
        };
    }
    catch_up(&state, &order, &file_id, upload.part_size, upload.size).await;
    storage_latency(&state).await;
    stored(&etag)
}

/// Feeds parts that arrived ahead of their turn, now that the gap before them is closed.
async fn catch_up(state: &AppState, order: &Arc<Mutex<InOrder>>, file_id: &str, part_size: u64, size: u64) {
    loop {
        let Some((part, gen, mut digest)) = lock(order).take_next_waiting() else { return };
        let path = state.upload_path(file_id);
        let offset = (part as u64 - 1) * part_size;
        let len = part_size.min(size - offset);
        let fed = tokio::task::spawn_blocking(move || {
            let _raised = Raised::here();
            let ok = feed_from_file(&path, offset, len, &mut digest).is_ok();
            (ok, digest)
        })
        .await;
        match fed {
            Ok((ok, digest)) => lock(order).end_part(part, gen, Some(digest), ok),
            Err(_) => {
                let mut o = lock(order);
                o.valid = false;
                o.digest = Some(Digest::default());
                return;
            }
        }
    }
}

/// The object's (sha256, infected) for complete: from the running digest when every part
/// was fed in order, else from one read of the file.
pub(crate) async fn multipart_digest(state: &AppState, file_id: &str, part_count: u32, size: u64) -> std::io::Result<(String, bool)> {
    let ready = lock(&in_order(state, file_id, part_count)).result();
    if let Some(result) = ready {
        return Ok(result);
    }
    let path = state.upload_path(file_id);
    tokio::task::spawn_blocking(move || {
        let mut digest = Digest::default();
        feed_from_file(&path, 0, size, &mut digest)?;
        Ok(digest.finish())
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// What a GET of a stored object is served as.
pub(crate) struct Serve {
    pub path: PathBuf,
    pub size: u64,
    pub mime: String,
    pub sha256: String,
    pub file_name: String,
    pub attachment: bool,
    pub cache_control: &'static str,
    /// Storage GETs pay the configured latency and bandwidth cap; links do not.
    pub as_storage: bool,
}

/// Serves an object with `ETag`, `If-None-Match` and single `Range` support. The flag says
/// whether bytes were served (200/206 to a GET).
pub(crate) async fn serve(state: &AppState, method: &Method, headers: &HeaderMap, s: Serve) -> (Response, bool) {
    let etag = format!("\"{}\"", s.sha256);
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, s.cache_control)
        .header(header::ACCEPT_RANGES, "bytes");
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim() == format!("W/{etag}")));
    if not_modified {
        let resp = builder.status(StatusCode::NOT_MODIFIED).body(Body::empty());
        return (resp.unwrap_or_else(internal), false);
    }
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, s.size) {
            RangeSpec::Whole => None,
            RangeSpec::Part(start, end) => Some((start, end)),
            RangeSpec::Unsatisfiable => {
                let resp = builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{}", s.size))
                    .body(Body::empty());
                return (resp.unwrap_or_else(internal), false);
            }
        },
    };
    let (status, start, len) = match range {
        Some((start, end)) => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", s.size));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        None => (StatusCode::OK, 0, s.size),
    };
    builder = builder
        .status(status)
        .header(header::CONTENT_TYPE, &s.mime)
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_DISPOSITION, content_disposition(s.attachment, &s.file_name));
    if s.as_storage {
        storage_latency(state).await;
    }
    if method == Method::HEAD {
        return (builder.body(Body::empty()).unwrap_or_else(internal), false);
    }
    let reading = state.recycled.reading();
    let mut file = match tokio::fs::File::open(&s.path).await {
        Ok(f) => f,
        Err(e) => return (internal(e), false),
    };
    if let Err(e) = file.seek(std::io::SeekFrom::Start(start)).await {
        return (internal(e), false);
    }
    let rate = if s.as_storage { state.cfg.storage_bytes_per_sec } else { 0 };
    let reader = file.take(len);
    let stream = futures_util::stream::unfold((reader, Throttle::new(rate), reading), |(mut reader, mut throttle, reading)| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                throttle.pass(n).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), (reader, throttle, reading)))
            }
            Err(e) => Some((Err(e), (reader, throttle, reading))),
        }
    });
    (builder.body(Body::from_stream(stream)).unwrap_or_else(internal), true)
}

enum RangeSpec {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// A byte position or length of a `Range`: digits only; more than a u64 holds is past any
/// object (RFC 9110 allows any number of digits).
fn range_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// One `bytes=` range (RFC 9110). Several ranges, or one we cannot read, get the whole body.
fn parse_range(spec: &str, size: u64) -> RangeSpec {
    let Some(ranges) = spec.trim().strip_prefix("bytes=") else { return RangeSpec::Whole };
    if ranges.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((first, last)) = ranges.trim().split_once('-') else { return RangeSpec::Whole };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match range_number(last) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(n) if size > 0 => RangeSpec::Part(size.saturating_sub(n), size - 1),
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Whole,
        };
    }
    let Some(start) = range_number(first) else { return RangeSpec::Whole };
    let end = if last.is_empty() {
        size.saturating_sub(1)
    } else {
        match range_number(last) {
            Some(e) if e >= start => e.min(size.saturating_sub(1)),
            _ => return RangeSpec::Whole,
        }
    };
    if start >= size {
        RangeSpec::Unsatisfiable
    } else {
        RangeSpec::Part(start, end)
    }
}

fn content_disposition(attachment: bool, name: &str) -> String {
    let kind = if attachment { "attachment" } else { "inline" };
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(name, QUERY_VALUE);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `GET`/`HEAD` of a presigned download URL.
pub(crate) async fn get_object(State(state): AppStateRef, Path(file_id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if let Err(resp) = verify(&state, "GET", parts.uri.path(), parts.uri.query()) {
        return resp;
    }
    let row = state
        .db()
        .qrow(
            "SELECT size, mime, sha256, original_name FROM files WHERE id = ?1",
            [&file_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
        )
        .optional();
    let (size, mime, sha256, file_name) = match row {
        Ok(Some(r)) => r,
        Ok(None) => return storage_error(StatusCode::NOT_FOUND, "NoSuchKey", "no such object"),
        Err(e) => return internal(e),
    };
    let s = Serve {
        path: state.blob_path(&file_id),
        size: size as u64,
        mime,
        sha256,
        file_name,
        attachment: true,
        cache_control: "private, no-cache",
        as_storage: true,
    };
    serve(&state, &parts.method, &parts.headers, s).await.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(matches!(parse_range("bytes=0-4", 10), RangeSpec::Part(0, 4)));
        assert!(matches!(parse_range("bytes=5-", 10), RangeSpec::Part(5, 9)));
        assert!(matches!(parse_range("bytes=-3", 10), RangeSpec::Part(7, 9)));
        assert!(matches!(parse_range("bytes=-30", 10), RangeSpec::Part(0, 9)));
        assert!(matches!(parse_range("bytes=8-100", 10), RangeSpec::Part(8, 9)));
        assert!(matches!(parse_range("bytes=10-", 10), RangeSpec::Unsatisfiable));
        assert!(matches!(parse_range("bytes=0-1,3-4", 10), RangeSpec::Whole));
        assert!(matches!(parse_range("items=0-1", 10), RangeSpec::Whole));
        assert!(matches!(parse_range("bytes=4-2", 10), RangeSpec::Whole));
        // More digits than a u64 holds: still a position, past the end.
        assert!(matches!(parse_range("bytes=0-99999999999999999999", 10), RangeSpec::Part(0, 9)));
        assert!(matches!(parse_range("bytes=-99999999999999999999", 10), RangeSpec::Part(0, 9)));
        assert!(matches!(parse_range("bytes=99999999999999999999-", 10), RangeSpec::Unsatisfiable));
        assert!(matches!(parse_range("bytes=+1-2", 10), RangeSpec::Whole));
    }
}
