//! The native half of the `fluidcloud` npm package: the Node face of the Rust core. It only
//! converts types; every behaviour lives in the core, and the JavaScript layer (`index.js`)
//! turns results into camelCase objects and error payloads into error classes.
//!
//! One entry point, `NativeClient.call(op, argsJson, …)`, mirrors the Python binding: it parses
//! the arguments into an [`Op`], runs [`execute`] on the tokio runtime (never on the JavaScript
//! thread) and resolves with an envelope in JSON text: `{"ok": value}` or `{"error": payload}`,
//! where the payload carries the core's kind code. The promise itself never rejects.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fluidcloud::ops::{self, execute, Answer, Args as _, Op};
use fluidcloud::{CancellationToken, ClientOptions, ErrorKind, UploadSource};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

const USER_AGENT: &str = concat!("fluidcloud-node/", env!("CARGO_PKG_VERSION"));
/// Chunks of a Node stream waiting for the upload to take them.
const STREAM_QUEUE: usize = 4;

type ProgressFn = ThreadsafeFunction<FnArgs<(f64, f64)>, (), FnArgs<(f64, f64)>, Status, false>;
type Chunk = std::io::Result<Bytes>;

// ---------------------------------------------------------------------------------------------
// Results and errors: the envelope the JavaScript layer reads
// ---------------------------------------------------------------------------------------------

/// `json` is the call's answer, already JSON text.
fn ok_envelope(json: &str) -> String {
    format!("{{\"ok\":{json}}}")
}

/// A usage error found while converting the arguments (the core's `invalid_input` kind).
fn invalid(op: &str, message: impl std::fmt::Display) -> String {
    json!({ "error": { "kind": ErrorKind::InvalidInput.code(), "call": op, "message": format!("{op}: {message}") } }).to_string()
}

/// The `code` of a local file error, as Node names them.
fn io_code(e: &fluidcloud::Error) -> Option<&'static str> {
    let io = std::error::Error::source(e).and_then(|s| s.downcast_ref::<std::io::Error>())?;
    use std::io::ErrorKind as K;
    Some(match io.kind() {
        K::NotFound => "ENOENT",
        K::PermissionDenied => "EACCES",
        K::AlreadyExists => "EEXIST",
        K::IsADirectory => "EISDIR",
        K::NotADirectory => "ENOTDIR",
        K::InvalidInput => "EINVAL",
        K::StorageFull => "ENOSPC",
        K::UnexpectedEof => "EOF",
        _ => "EIO",
    })
}

fn error_envelope(e: &fluidcloud::Error) -> String {
    let mut payload = Map::new();
    payload.insert("kind".into(), json!(e.kind().code()));
    payload.insert("call".into(), json!(e.call()));
    payload.insert("message".into(), json!(e.to_string()));
    if let Some(status) = e.http_status() {
        payload.insert("status".into(), json!(status));
        payload.insert("detail".into(), e.detail().map(fluidcloud::Detail::to_json).unwrap_or(Value::Null));
        payload.insert("requestId".into(), json!(e.request_id()));
    }
    if let Some(after) = e.retry_after() {
        payload.insert("retryAfter".into(), json!(after.as_secs_f64()));
    }
    if e.kind() == ErrorKind::Io {
        payload.insert("code".into(), json!(io_code(e)));
    }
    json!({ "error": payload }).to_string()
}

fn envelope(result: fluidcloud::Result<Answer>) -> String {
    match result {
        Ok(answer) => ok_envelope(&answer.to_json()),
        Err(e) => error_envelope(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments (JSON text written by index.js, snake_case keys as in the Python binding)
// ---------------------------------------------------------------------------------------------

struct Args<'a> {
    op: &'a str,
    map: Map<String, Value>,
}

impl Args<'_> {
    fn item(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
}

impl ops::Args for Args<'_> {
    type Error = String;

    fn opt_str(&self, key: &str) -> std::result::Result<Option<String>, String> {
        match self.item(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(self.op, format!("{key} must be a string"))),
        }
    }

    fn str(&self, key: &str) -> std::result::Result<String, String> {
        self.opt_str(key)?.ok_or_else(|| invalid(self.op, format!("{key} is required")))
    }

    fn flag(&self, key: &str) -> std::result::Result<bool, String> {
        match self.item(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(self.op, format!("{key} must be a boolean"))),
        }
    }

    fn opt_u64(&self, key: &str) -> std::result::Result<Option<u64>, String> {
        match self.item(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| invalid(self.op, format!("{key} must be a non-negative integer"))),
        }
    }

    fn invalid(&self, message: String) -> String {
        invalid(self.op, message)
    }
}

/// What travels beside the JSON arguments: bytes, a stream, progress, cancellation.
struct Extras {
    data: Option<Bytes>,
    stream: Option<mpsc::Receiver<Chunk>>,
    progress: Option<Arc<ProgressFn>>,
    cancel: CancellationToken,
}

fn progress_of(tsfn: &Option<Arc<ProgressFn>>) -> Option<fluidcloud::Progress> {
    tsfn.clone().map(|f| -> fluidcloud::Progress {
        Arc::new(move |done, total| {
            // Never blocks the runtime; the JavaScript thread runs the calls in order.
            f.call(FnArgs { data: (done as f64, total as f64) }, ThreadsafeFunctionCallMode::NonBlocking);
        })
    })
}

fn parse_op(op: &str, args: &str, extras: &mut Extras) -> std::result::Result<Op, String> {
    let map = match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(invalid(op, "the arguments must be a JSON object")),
        Err(e) => return Err(invalid(op, format!("the arguments are not valid JSON: {e}"))),
    };
    let a = Args { op, map };
    if let Some(parsed) = Op::parse(op, &a)? {
        return Ok(parsed);
    }
    Ok(match op {
        "files.upload" => {
            let source = match a.str("kind")?.as_str() {
                "path" => UploadSource::Path(PathBuf::from(a.str("source")?)),
                "bytes" => {
                    let data = extras.data.take().ok_or_else(|| invalid(op, "the bytes to upload are missing"))?;
                    UploadSource::Bytes(data)
                }
                "stream" => {
                    let size = a.opt_u64("size")?.ok_or_else(|| invalid(op, "size is required for a stream"))?;
                    let mut rx = extras.stream.take().ok_or_else(|| invalid(op, "the stream handle is missing or already used"))?;
                    let chunks = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
                    UploadSource::async_reader(tokio_util::io::StreamReader::new(chunks), size)
                }
                other => return Err(invalid(op, format!("unknown source kind '{other}'"))),
            };
            Op::upload(&a, source, progress_of(&extras.progress), extras.cancel.clone())?
        }
        "files.download" => Op::download(&a, PathBuf::from(a.str("dest")?), progress_of(&extras.progress), extras.cancel.clone())?,
        other => return Err(invalid(other, "unknown operation")),
    })
}

// ---------------------------------------------------------------------------------------------
// The call handle: cancellation, and the bytes of a Node stream
// ---------------------------------------------------------------------------------------------

/// Belongs to one call: `cancel()` stops it (an `AbortSignal` calls it); a stream upload's
/// chunks go in with `write()` and the stream's end with `end()`.
#[napi]
pub struct CallHandle {
    cancel: CancellationToken,
    tx: Mutex<Option<mpsc::Sender<Chunk>>>,
    rx: Mutex<Option<mpsc::Receiver<Chunk>>>,
}

#[napi]
impl CallHandle {
    #[napi(constructor)]
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        CallHandle { cancel: CancellationToken::new(), tx: Mutex::new(Some(tx)), rx: Mutex::new(Some(rx)) }
    }

    /// Cancels the call; it rejects promptly with the `cancelled` kind.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Queues one chunk of the stream (copied); resolves `true` once there is room for the
    /// next, `false` when the upload no longer takes bytes (it ended, failed or was cancelled).
    #[napi]
    pub fn write<'env>(&self, env: &'env Env, chunk: &[u8]) -> Result<PromiseRaw<'env, bool>> {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let chunk = Bytes::copy_from_slice(chunk);
        env.spawn_future(async move {
            Ok(match tx {
                Some(tx) => tx.send(Ok(chunk)).await.is_ok(),
                None => false,
            })
        })
    }

    /// The stream ended: the upload sees the end of its source.
    #[napi]
    pub fn end(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// The stream failed: the upload fails reading its source (and stores nothing).
    #[napi]
    pub fn fail(&self, message: String) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            // Room or not, the receiver sees the end: an error when it fits, else the end
            // (the upload then finds too few bytes). Either way nothing is stored.
            let _ = tx.try_send(Err(std::io::Error::other(message)));
        }
    }
}

impl Default for CallHandle {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// Client options as the JavaScript layer passes them (already validated there).
#[napi(object)]
pub struct ClientConfig {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub api_version: Option<String>,
    /// The longest wait for progress, in milliseconds.
    pub timeout_ms: Option<f64>,
    pub max_retries: Option<u32>,
    pub concurrency: Option<u32>,
    pub allow_insecure_http: Option<bool>,
}

/// Holds a core client until `close()` drops it, and with it (once no call in flight and no
/// client from `asUser` shares them) its pooled connections.
#[napi]
pub struct NativeClient {
    inner: Mutex<Option<fluidcloud::Client>>,
    base_url: String,
}

impl NativeClient {
    fn new(inner: fluidcloud::Client) -> Self {
        NativeClient { base_url: inner.base_url().to_string(), inner: Mutex::new(Some(inner)) }
    }

    /// The core client for one call (a clone: a call in flight outlives `close()`), or the
    /// `closed` error envelope of `op`.
    fn client(&self, op: &str) -> std::result::Result<fluidcloud::Client, String> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or_else(|| invalid(op, "the client is closed"))
    }
}

/// Builds a client, or returns an error envelope (JSON text) saying why not.
#[napi]
pub fn open_client(config: ClientConfig) -> Either<NativeClient, String> {
    let mut options = ClientOptions { user_agent: Some(USER_AGENT.to_string()), ..ClientOptions::default() };
    options.api_key = config.api_key;
    options.base_url = config.base_url;
    if let Some(v) = config.api_version {
        options.api_version = v;
    }
    if let Some(ms) = config.timeout_ms {
        if !(ms.is_finite() && ms > 0.0) {
            return Either::B(invalid("client", "timeout must be a positive number of milliseconds"));
        }
        // Longer than a Duration holds is no limit.
        options.timeout = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX);
    }
    if let Some(n) = config.max_retries {
        options.max_retries = n;
    }
    if let Some(n) = config.concurrency {
        options.concurrency = n as usize;
    }
    options.allow_insecure_http = config.allow_insecure_http.unwrap_or(false);
    match fluidcloud::Client::new(options) {
        Ok(inner) => Either::A(NativeClient::new(inner)),
        Err(e) => Either::B(error_envelope(&e)),
    }
}

#[napi]
impl NativeClient {
    /// The API origin this client talks to.
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Drops the core client: its idle pooled connections close now (unless a client from
    /// `asUser` shares them); calls in flight finish, later ones resolve with the `closed`
    /// error envelope.
    #[napi]
    pub fn close(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Runs `op` with `args` (a JSON object) on the runtime; resolves with the envelope.
    /// `data` is the Buffer of a bytes upload (copied before `call` returns), `handle` cancels
    /// the call and carries a stream's bytes, `on_progress(done, total)` reports transfers (a
    /// final `(-1, -1)` call marks that every report was delivered, before the promise settles).
    #[napi(ts_args_type = "op: string, args: string, handle?: CallHandle | undefined | null, data?: Uint8Array | undefined | null, onProgress?: ((done: number, total: number) => void) | undefined | null")]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        op: String,
        args: String,
        handle: Option<&CallHandle>,
        data: Option<&[u8]>,
        on_progress: Option<Function<'env, FnArgs<(f64, f64)>, ()>>,
    ) -> Result<PromiseRaw<'env, String>> {
        let progress = match on_progress {
            Some(f) => Some(Arc::new(f.build_threadsafe_function::<FnArgs<(f64, f64)>>().build()?)),
            None => None,
        };
        let mut extras = Extras {
            // Copied now, on the JavaScript thread: JavaScript memory cannot be borrowed past
            // this call, since a transfer (postMessage, structuredClone) or a worker's exit
            // frees it whatever references the Buffer.
            data: data.map(Bytes::copy_from_slice),
            stream: handle.and_then(|h| h.rx.lock().unwrap_or_else(|p| p.into_inner()).take()),
            progress: progress.clone(),
            cancel: handle.map(|h| h.cancel.clone()).unwrap_or_default(),
        };
        let parsed = self.client(&op).and_then(|client| Ok((client, parse_op(&op, &args, &mut extras)?)));
        drop(extras);
        env.spawn_future(async move {
            let (client, op) = match parsed {
                Ok(parsed) => parsed,
                Err(envelope) => return Ok(envelope),
            };
            let result = execute(client, op).await;
            if let Some(p) = progress {
                // Progress reports queue in order: once this one ran, all of them did.
                let _ = p.call_async(FnArgs { data: (-1.0, -1.0) }).await;
            }
            Ok(envelope(result))
        })
    }

    /// A client acting as the end user: resolves with it, or with an error envelope.
    #[napi(ts_return_type = "Promise<NativeClient | string>")]
    pub fn as_user<'env>(
        &self,
        env: &'env Env,
        user_jwt: String,
        app: String,
        job_id: Option<String>,
        ttl_seconds: Option<f64>,
    ) -> Result<PromiseRaw<'env, Either<NativeClient, String>>> {
        let client = self.client("as_user");
        env.spawn_future(async move {
            let client = match client {
                Ok(client) => client,
                Err(envelope) => return Ok(Either::B(envelope)),
            };
            let ttl = match ttl_seconds {
                None => None,
                Some(t) if t.is_finite() && t >= 0.0 && t.fract() == 0.0 => Some(t as u64),
                Some(_) => return Ok(Either::B(invalid("as_user", "ttlSeconds must be a non-negative integer"))),
            };
            Ok(match client.as_user(&user_jwt, &app, job_id.as_deref(), ttl).await {
                Ok(inner) => Either::A(NativeClient::new(inner)),
                Err(e) => Either::B(error_envelope(&e)),
            })
        })
    }
}
