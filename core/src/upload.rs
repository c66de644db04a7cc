//! `files.upload`: initiate → PUT(s) straight to storage → complete (PROTOCOL §6).
//!
//! Bytes stream from their source: a path is read part by part at its offsets (a retried part
//! is read again, not kept), in-memory bytes are sliced, a reader keeps at most `concurrency`
//! parts in memory. SHA-256 runs in one sequential pass on a blocking thread while the parts
//! go up, so hashing never delays the first byte and never runs on the runtime's workers;
//! only in-memory bytes of up to 64 KiB are hashed where they are (tens of µs).

use std::fmt;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::blocking::Lane;
use crate::client::{require, Files};
use crate::hashing::{SequentialHasher, HASH_IN_PLACE_MAX};
use crate::error::{Detail, Error, ErrorKind, Result};
use crate::http::{cancellable, Http, Retry};
use crate::models::File;
use crate::transport::{HeaderMap, HeaderValue, HttpRequest, Method, RequestBody, TransportError, TransportErrorKind, Url};

const CALL: &str = "files.upload";
/// Reads of a path and of a reader go in pieces of this size.
const CHUNK: usize = 512 * 1024;
/// In-memory bytes up to this size are, for a blocking caller, uploaded on the caller's own
/// thread: handing them to other threads and back costs more than hashing them in place and
/// sending them.
const SMALL_BYTES: usize = HASH_IN_PLACE_MAX;

/// Called with (bytes confirmed by storage, total): monotonic, ends exactly at the total.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Where an upload's bytes come from.
pub enum UploadSource {
    Path(PathBuf),
    Bytes(Bytes),
    /// A blocking reader that yields exactly `size` bytes.
    Reader { reader: Box<dyn Read + Send>, size: u64 },
    /// An async reader that yields exactly `size` bytes.
    AsyncReader { reader: Box<dyn AsyncRead + Send + Unpin>, size: u64 },
}

impl UploadSource {
    pub fn path(path: impl Into<PathBuf>) -> Self {
        UploadSource::Path(path.into())
    }
    pub fn bytes(data: impl Into<Bytes>) -> Self {
        UploadSource::Bytes(data.into())
    }
    pub fn reader(reader: impl Read + Send + 'static, size: u64) -> Self {
        UploadSource::Reader { reader: Box::new(reader), size }
    }
    pub fn async_reader(reader: impl AsyncRead + Send + Unpin + 'static, size: u64) -> Self {
        UploadSource::AsyncReader { reader: Box::new(reader), size }
    }
}

/// Where a blocking caller should run an upload: small in-memory bytes on the caller's own
/// thread, unless a progress callback comes along. A callback may make calls of its own, and
/// those must not wait for the thread that is running it.
pub(crate) fn upload_lane(source: &UploadSource, options: &UploadOptions) -> Lane {
    match source {
        UploadSource::Bytes(b) if b.len() <= SMALL_BYTES && options.progress.is_none() => Lane::Call,
        _ => Lane::Transfer,
    }
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            UploadSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            UploadSource::Reader { size, .. } => write!(f, "Reader({size} bytes)"),
            UploadSource::AsyncReader { size, .. } => write!(f, "AsyncReader({size} bytes)"),
        }
    }
}

#[derive(Clone, Default)]
pub struct UploadOptions {
    pub space_id: String,
    pub folder_id: Option<String>,
    /// The stored name; default: the path's file name, else `upload.bin`.
    pub name: Option<String>,
    /// Default: guessed from the name, else `application/octet-stream`.
    pub content_type: Option<String>,
    /// Also mint the permanent public link and set `File::public_url`.
    pub public: bool,
    pub app: Option<String>,
    pub client_key: Option<String>,
    pub progress: Option<Progress>,
    pub cancel: Option<CancellationToken>,
}

impl UploadOptions {
    pub fn new(space_id: impl Into<String>) -> Self {
        UploadOptions { space_id: space_id.into(), ..Default::default() }
    }
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("space_id", &self.space_id)
            .field("folder_id", &self.folder_id)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("public", &self.public)
            .field("app", &self.app)
            .field("client_key", &self.client_key)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

#[derive(Deserialize)]
struct PartUrl {
    part_number: u32,
    url: String,
}

#[derive(Deserialize)]
struct Ticket {
    mode: String,
    file_id: String,
    key: String,
    upload_url: Option<String>,
    upload_id: Option<String>,
    part_size: Option<u64>,
    #[serde(default)]
    part_urls: Vec<PartUrl>,
}

/// The source once opened: its size, and how to read it.
enum Opened {
    Path { file: Arc<std::fs::File>, path: PathBuf, stamp: FileStamp },
    Bytes(Bytes),
    Reader(SequentialReader),
}

/// The name and type an upload is stored under, as the official client derives them.
fn name_and_type(source: &UploadSource, options: &UploadOptions) -> Result<(String, String)> {
    let name = match (&options.name, source) {
        (Some(n), _) => n.clone(),
        (None, UploadSource::Path(p)) => {
            let file_name = p
                .file_name()
                .ok_or_else(|| Error::invalid(CALL, format!("{} has no file name; pass name", p.display())))?;
            file_name
                .to_str()
                .ok_or_else(|| Error::invalid(CALL, format!("the file name of {} is not UTF-8; pass name", p.display())))?
                .to_string()
        }
        (None, _) => "upload.bin".to_string(),
    };
    if name.is_empty() {
        return Err(Error::invalid(CALL, "name must not be empty"));
    }
    let content_type = match &options.content_type {
        Some(t) if t.is_empty() => return Err(Error::invalid(CALL, "content_type must not be empty")),
        Some(t) => t.clone(),
        None => mime_guess::from_path(&name).first_raw().unwrap_or("application/octet-stream").to_string(),
    };
    // Checked before initiate, which would leave an upload that no PUT can be sent to.
    if HeaderValue::from_str(&content_type).is_err() {
        return Err(Error::invalid(CALL, format!("content_type {content_type:?} cannot be sent as an HTTP header (control characters or non-ASCII)")));
    }
    Ok((name, content_type))
}

/// Fails unless `meta` is a regular file's.
fn regular(meta: &std::fs::Metadata) -> std::io::Result<()> {
    if meta.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"));
    }
    if !meta.is_file() {
        // Its size is not known before it ends, and it cannot be read twice.
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is not a regular file (a pipe or a device): pass a reader and its size",
        ));
    }
    Ok(())
}

/// Opens a regular file for reading and returns it with its stamp. `O_NONBLOCK` keeps the
/// open from waiting if the path became a FIFO since it was checked; it changes nothing
/// for the regular file that the opened file is then checked to be.
fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, FileStamp)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    regular(&meta)?;
    Ok((file, FileStamp::of(&meta)))
}

/// What shows that a file was written to: its length, and its modification and change times
/// (the kernel moves the change time on every write; nobody can set it back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileStamp { len: meta.len(), modified: (meta.mtime(), meta.mtime_nsec()), changed: (meta.ctime(), meta.ctime_nsec()) }
    }
}

async fn open(source: UploadSource) -> Result<(Opened, u64)> {
    match source {
        UploadSource::Path(path) => {
            let p = path.clone();
            let opened = tokio::task::spawn_blocking(move || {
                // Checked before opening: opening a FIFO waits for a writer, maybe forever.
                // `metadata` follows symlinks, so a link to a regular file is fine.
                regular(&std::fs::metadata(&p)?)?;
                open_regular(&p)
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Io, CALL, e.to_string()))?;
            let (file, stamp) = opened.map_err(|e| Error::io(CALL, format!("cannot read {}", path.display()), e))?;
            Ok((Opened::Path { file: Arc::new(file), path, stamp }, stamp.len))
        }
        UploadSource::Bytes(b) => {
            let size = b.len() as u64;
            Ok((Opened::Bytes(b), size))
        }
        UploadSource::Reader { reader, size } => Ok((Opened::Reader(SequentialReader::Blocking(Some(reader))), size)),
        UploadSource::AsyncReader { reader, size } => Ok((Opened::Reader(SequentialReader::Async(reader)), size)),
    }
}

impl Files<'_> {
    /// Uploads `source` and returns the stored file (with `public_url` when `public`).
    pub async fn upload(self, source: UploadSource, options: UploadOptions) -> Result<File> {
        require(CALL, "space_id", &options.space_id)?;
        let (name, content_type) = name_and_type(&source, &options)?;
        // Stops the hashing thread however this call ends: error, cancellation or drop.
        let stop = options.cancel.as_ref().map(CancellationToken::child_token).unwrap_or_default();
        let _stop_on_exit = stop.clone().drop_guard();
        let user_cancel = options.cancel.clone().unwrap_or_default();
        let work = async {
            let (opened, size) = open(source).await?;
            let body = upload_opened(self, opened, size, &name, &content_type, &options, &stop).await?;
            Ok::<_, Error>((body, size))
        };
        let (complete, size) = cancellable(Some(&user_cancel), CALL, work).await??;
        // Once sent, complete may be carried out whatever happens here: its answer is the only
        // way to know, so a cancellation from now on comes too late and is not waited out
        // half-way (that left stored files behind calls that reported failure).
        let mut file: File = self.c.http().call(CALL, Method::POST, "/uploads/complete", &[], Some(complete)).await?;
        if let Some(p) = &options.progress {
            // The total means stored, and is reported once.
            p(size, size);
        }
        if options.public {
            let wait = self.c.options().public_link_wait;
            let minted = cancellable(Some(&user_cancel), CALL, mint_public(self, &file.id, wait, &stop)).await;
            file.public_url = Some(minted.and_then(|m| m).map_err(|e| stored_without_link(&file.id, e))?);
        }
        Ok(file)
    }
}

/// The file is stored, but its public link could not be made. The error keeps the kind,
/// status and request id of the cause (bindings map them), and its message and detail name
/// the stored file, so that the caller can retry the link rather than upload another copy.
fn stored_without_link(file_id: &str, e: Error) -> Error {
    let message = format!("the file was stored as {file_id}, but its public link could not be made: {}", e.message());
    match e.http_status() {
        // A status error's message is its detail's summary: the detail carries the message.
        Some(status) => {
            let (request_id, retry_after) = (e.request_id().map(str::to_string), e.retry_after());
            Error::status(CALL, status, Detail::Json(Value::String(message)), request_id, retry_after).with_source(e)
        }
        None => Error::new(e.kind(), CALL, message).with_source(e),
    }
}

async fn upload_opened(
    files: Files<'_>,
    opened: Opened,
    size: u64,
    name: &str,
    content_type: &str,
    options: &UploadOptions,
    stop: &CancellationToken,
) -> Result<Value> {
    let http = files.c.http();
    let ticket: Ticket = http
        .call(
            CALL,
            Method::POST,
            "/uploads/initiate",
            &[],
            Some(json!({
                "original_name": name, "content_type": content_type, "size": size,
                "space_id": options.space_id, "folder_id": options.folder_id, "app": options.app,
            })),
        )
        .await?;
    let progress = options.progress.clone();
    if let Some(p) = &progress {
        p(0, size);
    }
    let concurrency = files.c.options().concurrency;
    let (sha256, parts) = match ticket.mode.as_str() {
        "single" => {
            let url = ticket.upload_url.as_deref().ok_or_else(|| bad_ticket("upload_url"))?;
            let sent = SentBytes { progress: progress.clone(), size, reported: Arc::default() };
            let sha = put_single(http, url, content_type, opened, size, stop, &sent).await?;
            (sha, Value::Null)
        }
        "multipart" => {
            let part_size = ticket.part_size.filter(|s| *s > 0).ok_or_else(|| bad_ticket("part_size"))?;
            check_part_urls(&ticket.part_urls, size, part_size)?;
            let plan = Plan { urls: &ticket.part_urls, part_size, size, concurrency, progress: progress.clone() };
            let (sha, etags) = put_parts(http, opened, plan, stop).await?;
            let parts: Vec<Value> = etags.iter().map(|(n, etag)| json!({ "PartNumber": n, "ETag": etag })).collect();
            (sha, Value::Array(parts))
        }
        other => return Err(Error::new(ErrorKind::Api, CALL, format!("unknown upload mode '{other}'"))),
    };
    Ok(json!({
        "file_id": ticket.file_id, "key": ticket.key, "upload_id": ticket.upload_id, "parts": parts,
        "original_name": name, "mime": content_type, "size": size, "sha256": sha256,
        "space_id": options.space_id, "folder_id": options.folder_id, "app": options.app,
        "client_key": options.client_key,
    }))
}

fn bad_ticket(field: &str) -> Error {
    Error::new(ErrorKind::Api, CALL, format!("the upload ticket has no usable {field}"))
}

fn check_part_urls(urls: &[PartUrl], size: u64, part_size: u64) -> Result<()> {
    let expected = size.div_ceil(part_size).max(1);
    let numbered = urls.iter().enumerate().all(|(i, p)| p.part_number as usize == i + 1);
    if urls.len() as u64 != expected || !numbered {
        return Err(Error::new(
            ErrorKind::Api,
            CALL,
            format!("the ticket lists {} part URLs; {expected} were expected, numbered from 1", urls.len()),
        ));
    }
    Ok(())
}

/// PUTs a body built by `body` (again for each attempt) to a presigned URL: no credential, an
/// exact length; returns the ETag.
/// A PUT of what `body` makes, retried as `retry` allows. With `reads`, the body comes from a
/// file: a failed read of it ends the PUT at once as that file's error (sending again would not
/// help, and the network was not at fault).
async fn put(http: &Http, url: &str, content_type: Option<&str>, stop: &CancellationToken, retry: Retry, reads: Option<&ReadFailure>, mut body: impl FnMut() -> RequestBody) -> Result<String> {
    let mut headers = HeaderMap::new();
    if let Some(t) = content_type {
        let value = HeaderValue::from_str(t).map_err(|_| Error::invalid(CALL, format!("content_type '{t}' cannot be sent")))?;
        headers.insert("content-type", value);
    }
    let url = Url::parse(url).map_err(|e| Error::new(ErrorKind::Api, CALL, format!("the server sent an invalid upload URL: {e}")))?;
    let resp = http
        .retrying(CALL, retry, Some(stop), || {
            let request = HttpRequest { method: Method::PUT, url: url.clone(), headers: headers.clone(), body: body() };
            let sent = http.transport.send(request);
            async move {
                let answer = sent.await;
                if reads.is_some_and(|r| r.get().is_some()) {
                    return Err(TransportError::new(TransportErrorKind::Other, "reading the file failed"));
                }
                answer
            }
        })
        .await
        .map_err(|e| match reads.and_then(ReadFailure::get) {
            Some(failed) => Error::io(CALL, "cannot read the file being uploaded", failed),
            None => e.marked_as_storage(),
        })?;
    let etag = resp.header("etag").unwrap_or_default().to_string();
    // Drain the (empty) body so the connection goes back to the pool.
    let _ = resp.bytes(4096).await;
    Ok(etag)
}

/// `put` of part `number`, whose ETag complete needs: an answer without one fails here,
/// naming the part, rather than at complete after every byte went up.
async fn put_part(http: &Http, url: &str, number: u32, stop: &CancellationToken, reads: Option<&ReadFailure>, body: impl FnMut() -> RequestBody) -> Result<String> {
    let etag = put(http, url, None, stop, Retry::Idempotent, reads, body).await?;
    if etag.is_empty() {
        return Err(Error::new(ErrorKind::Api, CALL, format!("storage accepted part {number} without an ETag, which complete needs")).marked_as_storage());
    }
    Ok(etag)
}

/// A zeroed heap buffer whose bytes start on a page boundary, for reading files into. The
/// kernel copies into memory that is not 64-byte aligned ~4× slower on AMD processors such
/// as the one this project was first measured on (1.5 against 6.5 GB/s from the page cache),
/// and a plain `Vec` of this size starts 16 bytes past a page.
#[derive(Default)]
struct AlignedBuf {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    const ALIGN: usize = 4096;

    fn zeroed(len: usize) -> Self {
        let storage = vec![0u8; len + Self::ALIGN - 1];
        // `align_offset` may decline to answer (usize::MAX): then the buffer is merely slower.
        let start = storage.as_ptr().align_offset(Self::ALIGN);
        let start = if start < Self::ALIGN { start } else { 0 };
        AlignedBuf { storage, start, len }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// Chunk buffers that return to their pool once storage has taken their bytes. A fresh buffer
/// per chunk cost a zeroing pass and page faults on every chunk: a tenth of a local upload's
/// CPU, and copies into cold memory on top.
#[derive(Clone, Default)]
struct ChunkPool(Arc<Mutex<Vec<AlignedBuf>>>);

impl ChunkPool {
    /// Enough for every part in flight to have a few chunks queued; more are freed.
    const KEEP: usize = 64;

    fn take(&self) -> AlignedBuf {
        let reused = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        reused.unwrap_or_else(|| AlignedBuf::zeroed(CHUNK))
    }

    fn give_back(&self, buf: AlignedBuf) {
        let mut free = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < Self::KEEP {
            free.push(buf);
        }
    }
}

/// The first `len` bytes of a pooled buffer.
struct PooledChunk {
    buf: AlignedBuf,
    len: usize,
    pool: ChunkPool,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

/// The first read of a file that failed while its bytes went up (see `put`).
#[derive(Clone, Default)]
struct ReadFailure(Arc<Mutex<Option<(std::io::ErrorKind, String)>>>);

impl ReadFailure {
    fn record(&self, e: &std::io::Error) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| (e.kind(), e.to_string()));
    }

    fn get(&self) -> Option<std::io::Error> {
        let failed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        failed.as_ref().map(|(kind, message)| std::io::Error::new(*kind, message.clone()))
    }
}

/// A region of a file as a stream of chunks, read on the blocking pool into `pool`'s buffers;
/// a failed read is also recorded in `failure`.
fn file_range(file: Arc<std::fs::File>, offset: u64, len: u64, pool: ChunkPool, failure: ReadFailure) -> BoxStream<'static, std::io::Result<Bytes>> {
    let read = stream::try_unfold((file, offset, len, pool), |(file, pos, left, pool)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = left.min(CHUNK as u64) as usize;
        let (f, chunk_pool) = (file.clone(), pool.clone());
        let chunk = tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
            let mut buf = chunk_pool.take();
            let mut filled = 0;
            while filled < want {
                let n = f.read_at(&mut buf[filled..want], pos + filled as u64)?;
                if n == 0 {
                    chunk_pool.give_back(buf);
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file got shorter while it was uploaded"));
                }
                filled += n;
            }
            Ok(Bytes::from_owner(PooledChunk { buf, len: want, pool: chunk_pool }))
        })
        .await
        .map_err(std::io::Error::other)??;
        let n = chunk.len() as u64;
        Ok(Some((chunk, (file, pos + n, left - n, pool))))
    });
    read.inspect_err(move |e| failure.record(e)).boxed()
}

/// The SHA-256 of a whole file in one sequential pass on a blocking thread; fails when the file
/// does not hold exactly `size` bytes (it changed while being uploaded).
fn hash_file(file: Arc<std::fs::File>, size: u64, stop: CancellationToken) -> Hashing {
    Hashing::Running(tokio::task::spawn_blocking(move || {
        let mut sha = Sha256::new();
        let mut buf = AlignedBuf::zeroed(1 << 20);
        let mut pos = 0u64;
        loop {
            if stop.is_cancelled() {
                return Err(Error::cancelled(CALL));
            }
            let n = file.read_at(&mut buf, pos).map_err(|e| Error::io(CALL, "cannot read the file", e))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            pos += n as u64;
            if pos > size {
                break;
            }
        }
        let now = file.metadata().map(|m| m.len()).unwrap_or(pos);
        if pos != size || now != size {
            return Err(Error::integrity(CALL, format!("the file changed size while it was uploaded ({size} bytes at the start, {} now)", now.max(pos))));
        }
        Ok(hex::encode(sha.finalize()))
    }))
}

/// A SHA-256 computed already, or still running on a blocking thread.
enum Hashing {
    Done(String),
    Running(tokio::task::JoinHandle<Result<String>>),
}

fn hash_bytes(data: Bytes) -> Hashing {
    if data.len() <= HASH_IN_PLACE_MAX {
        return Hashing::Done(hex::encode(Sha256::digest(&data)));
    }
    Hashing::Running(tokio::task::spawn_blocking(move || Ok(hex::encode(Sha256::digest(&data)))))
}

async fn join_hash(hashing: Hashing) -> Result<String> {
    match hashing {
        Hashing::Done(sha) => Ok(sha),
        Hashing::Running(task) => task.await.map_err(|e| Error::new(ErrorKind::Io, CALL, format!("hashing failed: {e}")))?,
    }
}

/// Reports a single PUT's bytes as the transport takes them, never lower than already
/// reported (a retried PUT starts over unseen) and never the total: that means stored.
struct SentBytes {
    progress: Option<Progress>,
    size: u64,
    reported: Arc<AtomicU64>,
}

impl SentBytes {
    fn track(&self, body: BoxStream<'static, std::io::Result<Bytes>>) -> BoxStream<'static, std::io::Result<Bytes>> {
        let Some(progress) = self.progress.clone() else { return body };
        let (size, reported) = (self.size, self.reported.clone());
        let mut sent = 0u64;
        body.inspect_ok(move |piece| {
            sent += piece.len() as u64;
            if sent < size && sent > reported.fetch_max(sent, Ordering::SeqCst) {
                progress(sent, size);
            }
        })
        .boxed()
    }

    /// In-memory bytes as a body: in pieces when someone watches, so that progress shows.
    fn bytes_body(&self, data: &Bytes) -> RequestBody {
        if self.progress.is_none() {
            return RequestBody::Bytes(data.clone());
        }
        let (data, piece) = (data.clone(), CHUNK);
        let count = data.len().div_ceil(piece);
        let pieces = stream::iter((0..count).map(move |i| Ok(data.slice(i * piece..((i + 1) * piece).min(data.len())))));
        RequestBody::Stream { len: self.size, stream: self.track(pieces.boxed()) }
    }
}

/// A reader of at most this many bytes going up in one PUT is read into memory first, so that
/// a failed PUT can be sent again, as bytes are; a longer one streams through once.
const REPLAYABLE_READER: u64 = 8 << 20;

async fn put_single(http: &Http, url: &str, content_type: &str, opened: Opened, size: u64, stop: &CancellationToken, sent: &SentBytes) -> Result<String> {
    let opened = match opened {
        Opened::Reader(mut reader) if size <= REPLAYABLE_READER => {
            let data = reader.read_exact(size as usize, size).await?;
            reader.expect_end(size).await?;
            Opened::Bytes(data)
        }
        other => other,
    };
    match opened {
        Opened::Path { file, path, stamp } => {
            let upload = PathUpload::start(file, path, stamp, stop);
            let etag = put(http, url, Some(content_type), stop, Retry::Idempotent, Some(&upload.reads), || RequestBody::Stream {
                len: size,
                stream: sent.track(upload.range(0, size)),
            })
            .await;
            Ok(upload.finish(etag).await?.1)
        }
        Opened::Bytes(data) => {
            let hashing = hash_bytes(data.clone());
            put(http, url, Some(content_type), stop, Retry::Idempotent, None, || sent.bytes_body(&data)).await?;
            join_hash(hashing).await
        }
        Opened::Reader(reader) => {
            // A long reader passes by once: its body streams through, hashed on the way, and
            // a failed PUT cannot be sent again.
            let hasher = SequentialHasher::start();
            let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(2);
            let body = RequestBody::Stream { len: size, stream: sent.track(tokio_stream_from(rx)) };
            let mut body = Some(body);
            {
                let pump = pump_reader(reader, size, tx, &hasher);
                let sending = put(http, url, Some(content_type), stop, Retry::Never, None, || body.take().unwrap_or(RequestBody::Empty));
                tokio::pin!(sending, pump);
                // A PUT that failed stops the reading: the reader may never deliver another byte.
                let (sent, pumped) = tokio::select! {
                    sent = &mut sending => match sent {
                        Ok(etag) => (Ok(etag), pump.await),
                        Err(e) => return Err(e),
                    },
                    pumped = &mut pump => (sending.await, pumped),
                };
                pumped?;
                sent?;
            }
            hasher.finish(CALL).await
        }
    }
}

/// A path going up: its bytes read range by range for the PUTs, beside one sequential pass
/// that hashes it.
struct PathUpload {
    file: Arc<std::fs::File>,
    path: PathBuf,
    stamp: FileStamp,
    hashing: Hashing,
    hash_stop: CancellationToken,
    pool: ChunkPool,
    reads: ReadFailure,
}

impl PathUpload {
    fn start(file: Arc<std::fs::File>, path: PathBuf, stamp: FileStamp, stop: &CancellationToken) -> Self {
        let hash_stop = stop.child_token();
        let hashing = hash_file(file.clone(), stamp.len, hash_stop.clone());
        PathUpload { file, path, stamp, hashing, hash_stop, pool: ChunkPool::default(), reads: ReadFailure::default() }
    }

    /// `len` bytes from `offset`, for a PUT's body.
    fn range(&self, offset: u64, len: u64) -> BoxStream<'static, std::io::Result<Bytes>> {
        file_range(self.file.clone(), offset, len, self.pool.clone(), self.reads.clone())
    }

    /// What the PUTs gave, and the file's SHA-256. A file written to meanwhile explains any
    /// failure of the PUTs and is reported first; a failed PUT stops the hash at once rather
    /// than once the whole file was read for nothing.
    async fn finish<T>(self, sent: Result<T>) -> Result<(T, String)> {
        if sent.is_err() {
            self.hash_stop.cancel();
        }
        let hashed = join_hash(self.hashing).await;
        still_unchanged(&self.file, &self.path, self.stamp).await?;
        let sent = sent?;
        Ok((sent, hashed?))
    }
}

/// After the last byte went up: a file written to meanwhile may not be what was hashed, or
/// not what was sent (the hash reads it ahead of the upload).
async fn still_unchanged(file: &Arc<std::fs::File>, path: &Path, at_start: FileStamp) -> Result<()> {
    let f = file.clone();
    let now = tokio::task::spawn_blocking(move || f.metadata().map(|m| FileStamp::of(&m)))
        .await
        .map_err(|e| Error::new(ErrorKind::Io, CALL, e.to_string()))?
        .map_err(|e| Error::io(CALL, format!("cannot stat {}", path.display()), e))?;
    if now.len != at_start.len {
        let (was, is) = (at_start.len, now.len);
        return Err(Error::integrity(CALL, format!("{} changed size while it was uploaded ({was} bytes at the start, {is} now)", path.display())));
    }
    if now != at_start {
        return Err(Error::integrity(CALL, format!("{} was written to while it was uploaded; upload it once it is complete", path.display())));
    }
    Ok(())
}

fn tokio_stream_from(mut rx: mpsc::Receiver<std::io::Result<Bytes>>) -> BoxStream<'static, std::io::Result<Bytes>> {
    stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Reads exactly `size` bytes from `reader` into `tx`, feeding the hasher; a reader that ends
/// early or runs long is an integrity error.
async fn pump_reader(mut reader: SequentialReader, size: u64, tx: mpsc::Sender<std::io::Result<Bytes>>, hasher: &SequentialHasher) -> Result<()> {
    let mut left = size;
    while left > 0 {
        let chunk = reader.read(left.min(CHUNK as u64) as usize).await?;
        if chunk.is_empty() {
            let e = Error::integrity(CALL, format!("the reader ended after {} of {size} bytes", size - left));
            let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.message().to_string()))).await;
            return Err(e);
        }
        left -= chunk.len() as u64;
        hasher.feed(chunk.clone()).await;
        if tx.send(Ok(chunk)).await.is_err() {
            return Ok(()); // the PUT gave up; its error tells why
        }
    }
    reader.expect_end(size).await
}

struct Plan<'a> {
    urls: &'a [PartUrl],
    part_size: u64,
    size: u64,
    concurrency: usize,
    progress: Option<Progress>,
}

impl Plan<'_> {
    /// (part number, URL) pairs owned by the stream that uploads them: closures over borrowed
    /// items would keep the whole upload future from being `Send`.
    fn owned_urls(&self) -> Vec<(u32, String)> {
        self.urls.iter().map(|p| (p.part_number, p.url.clone())).collect()
    }

    fn range(&self, part: u32) -> (u64, u64) {
        let offset = (part as u64 - 1) * self.part_size;
        (offset, self.part_size.min(self.size - offset))
    }

    fn confirm(&self, done: &AtomicU64, len: u64) {
        let now = done.fetch_add(len, Ordering::SeqCst) + len;
        // The total is reported once, after the hash is in as well.
        if let (Some(p), true) = (&self.progress, now < self.size) {
            p(now, self.size);
        }
    }
}

/// Uploads every part, `concurrency` at a time, each retried on its own; returns the SHA-256
/// and the ETags in part order.
async fn put_parts(http: &Http, opened: Opened, plan: Plan<'_>, stop: &CancellationToken) -> Result<(String, Vec<(u32, String)>)> {
    let done = AtomicU64::new(0);
    match opened {
        Opened::Path { file, path, stamp } => {
            let upload = PathUpload::start(file, path, stamp, stop);
            let sent = stream::iter(plan.owned_urls())
                .map(|(number, url)| {
                    let (offset, len) = plan.range(number);
                    let (done, plan, upload) = (&done, &plan, &upload);
                    async move {
                        let etag = put_part(http, &url, number, stop, Some(&upload.reads), || RequestBody::Stream {
                            len,
                            stream: upload.range(offset, len),
                        })
                        .await?;
                        plan.confirm(done, len);
                        Ok::<_, Error>((number, etag))
                    }
                })
                .buffer_unordered(plan.concurrency)
                .try_collect::<Vec<_>>()
                .await;
            let (mut etags, sha) = upload.finish(sent).await?;
            etags.sort_unstable_by_key(|(n, _)| *n);
            Ok((sha, etags))
        }
        Opened::Bytes(data) => {
            let hashing = hash_bytes(data.clone());
            let mut etags = stream::iter(plan.owned_urls())
                .map(|(number, url)| {
                    let (offset, len) = plan.range(number);
                    let part = data.slice(offset as usize..(offset + len) as usize);
                    let done = &done;
                    let plan = &plan;
                    async move {
                        let etag = put_part(http, &url, number, stop, None, || RequestBody::Bytes(part.clone())).await?;
                        plan.confirm(done, len);
                        Ok::<_, Error>((number, etag))
                    }
                })
                .buffer_unordered(plan.concurrency)
                .try_collect::<Vec<_>>()
                .await?;
            let sha = join_hash(hashing).await?;
            etags.sort_unstable_by_key(|(n, _)| *n);
            Ok((sha, etags))
        }
        Opened::Reader(reader) => {
            // Parts are read in order, hashed in order, and sent concurrently; at most
            // `concurrency` of them are held in memory (each until storage took it).
            let hasher = SequentialHasher::start();
            let size = plan.size;
            let plan_ref = &plan;
            let part_size = plan.part_size;
            // Owned state only: a closure over borrowed state would keep the future from
            // being `Send`.
            let feed = hasher.sender();
            let reads = stream::try_unfold((reader, plan.owned_urls().into_iter()), move |(mut reader, mut urls)| {
                let feed = feed.clone();
                async move {
                    let Some((number, url)) = urls.next() else {
                        reader.expect_end(size).await?;
                        return Ok(None);
                    };
                    let len = part_size.min(size - (number as u64 - 1) * part_size);
                    let part = reader.read_exact(len as usize, size).await?;
                    // The receiver only goes away with the hashing task, which `finish` reports.
                    let _ = feed.send(part.clone()).await;
                    Ok::<_, Error>(Some(((number, url, part), (reader, urls))))
                }
            });
            let mut etags = reads
                .map_ok(|(number, url, part)| {
                    let done = &done;
                    async move {
                        let len = part.len() as u64;
                        let etag = put_part(http, &url, number, stop, None, || RequestBody::Bytes(part.clone())).await?;
                        plan_ref.confirm(done, len);
                        Ok::<_, Error>((number, etag))
                    }
                })
                .try_buffer_unordered(plan.concurrency)
                .try_collect::<Vec<_>>()
                .await?;
            let sha = hasher.finish(CALL).await?;
            etags.sort_unstable_by_key(|(n, _)| *n);
            Ok((sha, etags))
        }
    }
}

/// A blocking or async reader, read in order.
enum SequentialReader {
    /// `None` only while a read runs on the blocking pool.
    Blocking(Option<Box<dyn Read + Send>>),
    Async(Box<dyn AsyncRead + Send + Unpin>),
}

impl SequentialReader {
    /// Up to `max` bytes; empty at the end.
    async fn read(&mut self, max: usize) -> Result<Bytes> {
        match self {
            SequentialReader::Async(r) => {
                let mut buf = BytesMut::zeroed(max);
                let n = r.read(&mut buf).await.map_err(|e| Error::io(CALL, "cannot read the source", e))?;
                buf.truncate(n);
                Ok(buf.freeze())
            }
            SequentialReader::Blocking(slot) => {
                let mut reader = slot.take().ok_or_else(|| Error::new(ErrorKind::Io, CALL, "the reader was lost"))?;
                let (reader, result) = tokio::task::spawn_blocking(move || {
                    let mut buf = BytesMut::zeroed(max);
                    let result = loop {
                        match reader.read(&mut buf) {
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            other => break other,
                        }
                    };
                    let result = result.map(|n| {
                        buf.truncate(n);
                        buf.freeze()
                    });
                    (reader, result)
                })
                .await
                .map_err(|e| Error::new(ErrorKind::Io, CALL, format!("reading failed: {e}")))?;
                *slot = Some(reader);
                result.map_err(|e| Error::io(CALL, "cannot read the source", e))
            }
        }
    }

    /// Exactly `len` bytes, in one buffer.
    async fn read_exact(&mut self, len: usize, size: u64) -> Result<Bytes> {
        let mut part = BytesMut::with_capacity(len);
        while part.len() < len {
            let chunk = self.read((len - part.len()).min(CHUNK)).await?;
            if chunk.is_empty() {
                return Err(Error::integrity(CALL, format!("the reader ended before its declared size of {size} bytes")));
            }
            part.extend_from_slice(&chunk);
        }
        Ok(part.freeze())
    }

    /// A reader that still has bytes after `size` was given the wrong size.
    async fn expect_end(&mut self, size: u64) -> Result<()> {
        if self.read(1).await?.is_empty() {
            Ok(())
        } else {
            Err(Error::integrity(CALL, format!("the reader holds more than its declared size of {size} bytes")))
        }
    }
}

/// Mints the permanent link, waiting (bounded) while the file's scan is still pending.
async fn mint_public(files: Files<'_>, file_id: &str, wait: Duration, stop: &CancellationToken) -> Result<String> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match files.public_url(file_id).await {
            Ok(link) => return Ok(link.url),
            Err(e) if e.kind() == ErrorKind::Conflict => {
                let pending = files.get(file_id).await?.scan_status.as_deref() == Some("pending");
                if !pending || started.elapsed() + pause > wait {
                    return Err(e.with_call(CALL));
                }
                cancellable(Some(stop), CALL, tokio::time::sleep(pause)).await?;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{open_regular, upload_lane, AlignedBuf, UploadOptions, UploadSource, SMALL_BYTES};
    use crate::blocking::Lane;
    use std::sync::Arc;

    #[test]
    fn only_small_bytes_without_a_callback_upload_on_the_callers_thread() {
        let plain = UploadOptions::new("space");
        let mut watched = UploadOptions::new("space");
        watched.progress = Some(Arc::new(|_, _| {}));
        assert_eq!(upload_lane(&UploadSource::bytes(vec![0; SMALL_BYTES]), &plain), Lane::Call);
        assert_eq!(upload_lane(&UploadSource::bytes(Vec::new()), &plain), Lane::Call);
        assert_eq!(upload_lane(&UploadSource::bytes(vec![0; SMALL_BYTES + 1]), &plain), Lane::Transfer);
        assert_eq!(upload_lane(&UploadSource::bytes(vec![0; 10]), &watched), Lane::Transfer);
        assert_eq!(upload_lane(&UploadSource::path("/nonexistent"), &plain), Lane::Transfer);
        assert_eq!(upload_lane(&UploadSource::reader(std::io::empty(), 0), &plain), Lane::Transfer);
    }

    /// A path swapped for a FIFO after its type was checked: the open itself does not wait
    /// for a writer, and the opened file is refused.
    #[test]
    fn opening_a_fifo_does_not_wait_for_a_writer() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || tx.send(open_regular(&path).map(|(_, size)| size)));
        let opened = match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(opened) => opened,
            Err(_) => {
                // Be the writer the stuck open waits for, so that the test ends rather than hangs.
                let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo);
                panic!("opening a FIFO waited for a writer");
            }
        };
        let err = opened.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn aligned_buffers_start_on_a_page_and_keep_their_length() {
        for len in [0, 1, 4095, 512 * 1024] {
            let mut buf = AlignedBuf::zeroed(len);
            assert_eq!(buf.len(), len);
            assert_eq!(buf.as_ptr() as usize % AlignedBuf::ALIGN, 0, "len {len}");
            buf.iter_mut().for_each(|b| *b = 7);
            assert!(buf.iter().all(|&b| b == 7));
        }
    }
}
