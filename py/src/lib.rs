//! `fluidcloud._core`: the Python face of the Rust core. It only converts types and maps the
//! core's errors to the classes of `fluidcloud.errors`; every behaviour lives in the core.
//!
//! One entry point per style: `Client.call(op, args)` blocks (with the GIL released and Ctrl-C
//! honoured), `Client.call_async(op, args)` returns an awaitable. Both run the same
//! [`execute`]; its typed answer becomes plain dicts and lists here, which the Python layer
//! turns into dataclasses.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fluidcloud::blocking::Pending;
use fluidcloud::ops::{self, execute, Answer, Args as _, Op};
use fluidcloud::transport::{
    HeaderMap, HeaderName, HeaderValue, HttpRequest, HttpResponse, RequestBody, Transport, TransportError,
    TransportErrorKind,
};
use fluidcloud::{CancellationToken, ClientOptions, ErrorKind, UploadSource};
use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyTypeError, PyUnicodeEncodeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

const USER_AGENT: &str = concat!("fluidcloud-python/", env!("CARGO_PKG_VERSION"));
/// How often a blocking call looks for Ctrl-C while it waits.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Once the interpreter finalizes, Python ends any other thread that takes the GIL, and
/// ending one mid-Rust aborts the process. So an `atexit` hook marks the exit: from then on
/// no thread of the SDK's (a file object's `read`, `on_progress`, an httpx send), nor a daemon
/// thread waiting in a call, goes back into Python. The hook waits for those inside Python to
/// leave. The thread that runs the hooks goes on as before: later hooks may make calls.
struct ExitState {
    exiting: bool,
    /// The thread running the `atexit` hooks.
    exit_thread: Option<std::thread::ThreadId>,
    /// SDK threads inside Python now.
    inside: usize,
}

static EXIT: Mutex<ExitState> = Mutex::new(ExitState { exiting: false, exit_thread: None, inside: 0 });
static LEFT_PYTHON: std::sync::Condvar = std::sync::Condvar::new();
/// How long the exit waits for SDK threads to leave Python (a `read` that never returns).
const EXIT_WAIT: Duration = Duration::from_secs(2);

fn exit_state() -> std::sync::MutexGuard<'static, ExitState> {
    EXIT.lock().unwrap_or_else(|p| p.into_inner())
}

/// A thread counted as inside Python (see `ExitState`) until this is dropped.
struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        exit_state().inside -= 1;
        LEFT_PYTHON.notify_all();
    }
}

/// Counts the calling thread in before it takes the GIL, so that the exit hook waits for it to
/// leave; `None` once the interpreter is exiting, except on the thread running the hooks.
/// Counting after the GIL was taken would leave a window: a thread that checked, then waited
/// for the GIL while the hook returned, would take it during finalization and be ended.
fn inside_python() -> Option<Inside> {
    let mut state = exit_state();
    if state.exiting && state.exit_thread != Some(std::thread::current().id()) {
        return None;
    }
    state.inside += 1;
    Some(Inside)
}

/// Runs `f` in Python on one of the SDK's threads, unless the interpreter is exiting.
fn enter_python<T>(f: impl FnOnce(Python<'_>) -> T) -> Option<T> {
    let _inside = inside_python()?;
    Some(Python::attach(f))
}

#[pyfunction]
fn _interpreter_exiting(py: Python<'_>) {
    {
        let mut state = exit_state();
        state.exiting = true;
        state.exit_thread = Some(std::thread::current().id());
    }
    py.detach(|| {
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        let mut state = exit_state();
        while state.inside > 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            state = LEFT_PYTHON.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    });
}

/// Parks the calling thread for good: the process is ending, and Python must not see it.
fn park_for_good() -> ! {
    loop {
        std::thread::park();
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

struct Args<'a, 'py> {
    op: &'a str,
    dict: &'a Bound<'py, PyDict>,
}

impl<'py> Args<'_, 'py> {
    fn item(&self, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.dict.get_item(key)?.filter(|v| !v.is_none()))
    }

    fn type_error(&self, key: &str, want: &str, got: &Bound<'py, PyAny>) -> PyErr {
        let type_name = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        PyTypeError::new_err(format!("{}: {key} must be {want}, not {type_name}", self.op))
    }

    /// A str that is not UTF-8 (it holds lone surrogates) fails as the official client's
    /// `json` step fails on it, with `UnicodeEncodeError`, here naming the argument.
    fn text_error(&self, key: &str, v: &Bound<'py, PyAny>, e: PyErr) -> PyErr {
        let py = v.py();
        if !(v.is_instance_of::<PyString>() && e.is_instance_of::<PyUnicodeEncodeError>(py)) {
            return self.type_error(key, "str", v);
        }
        let where_ = |field: &str| e.value(py).getattr(field).and_then(|n| n.extract::<usize>()).unwrap_or(0);
        let reason = format!("{}: {key} is not valid UTF-8 text (surrogates not allowed)", self.op);
        PyUnicodeEncodeError::new_err(("utf-8", v.clone().unbind(), where_("start"), where_("end"), reason))
    }

    fn path(&self, key: &str) -> PyResult<PathBuf> {
        let v = self.item(key)?.ok_or_else(|| PyTypeError::new_err(format!("{}: {key} is required", self.op)))?;
        // os.fspath() gives str, with lone surrogates for bytes that are not UTF-8 (pyo3
        // encodes it back as the file system does), or bytes.
        if v.is_instance_of::<PyString>() {
            return v.extract::<PathBuf>();
        }
        if let Ok(b) = v.cast::<PyBytes>() {
            use std::os::unix::ffi::OsStrExt;
            return Ok(PathBuf::from(std::ffi::OsStr::from_bytes(b.as_bytes())));
        }
        Err(self.type_error(key, "a path (str or os.PathLike)", &v))
    }
}

fn is_uuid(v: &Bound<'_, PyAny>) -> bool {
    !v.is_instance_of::<PyString>()
        && v.py().import("uuid").and_then(|uuid| uuid.getattr("UUID")).is_ok_and(|class| v.is_instance(&class).unwrap_or(false))
}

impl ops::Args for Args<'_, '_> {
    type Error = PyErr;

    fn opt_str(&self, key: &str) -> PyResult<Option<String>> {
        match self.item(key)? {
            None => Ok(None),
            // Ids as ORMs hand them back: the official client formats any id into its URLs.
            Some(v) if is_uuid(&v) => Ok(Some(v.str()?.to_string())),
            Some(v) => v.extract::<String>().map(Some).map_err(|e| self.text_error(key, &v, e)),
        }
    }

    fn str(&self, key: &str) -> PyResult<String> {
        self.opt_str(key)?.ok_or_else(|| PyTypeError::new_err(format!("{}: {key} is required", self.op)))
    }

    fn flag(&self, key: &str) -> PyResult<bool> {
        match self.item(key)? {
            None => Ok(false),
            // 0 and 1 as well, which the official client sends as they are and the service reads.
            Some(v) => v.extract::<bool>().or_else(|_| match v.extract::<i64>() {
                Ok(n @ (0 | 1)) => Ok(n == 1),
                _ => Err(self.type_error(key, "bool", &v)),
            }),
        }
    }

    fn opt_u64(&self, key: &str) -> PyResult<Option<u64>> {
        match self.item(key)? {
            None => Ok(None),
            Some(v) if v.is_instance_of::<pyo3::types::PyBool>() => Err(self.type_error(key, "int", &v)),
            Some(v) => match v.extract::<i64>() {
                Ok(n) if n >= 0 => Ok(Some(n as u64)),
                Ok(n) => Err(PyValueError::new_err(format!("{}: {key} must not be negative, got {n}", self.op))),
                Err(_) => Err(self.type_error(key, "int", &v)),
            },
        }
    }

    fn invalid(&self, message: String) -> PyErr {
        PyValueError::new_err(message)
    }
}

/// Reads a Python binary file object, holding the GIL only while `read` runs.
struct PyReader {
    file: Py<PyAny>,
    /// What `read` returned beyond the size asked for, and how much of it was handed out: a
    /// sloppy `read` (or one that takes no size, see `_ops`) loses no byte.
    surplus: Option<(PyBackedBytes, usize)>,
}

impl PyReader {
    fn new(file: Py<PyAny>) -> Self {
        PyReader { file, surplus: None }
    }

    fn hand_out(&mut self, buf: &mut [u8]) -> usize {
        let Some((data, at)) = &mut self.surplus else { return 0 };
        let n = (data.len() - *at).min(buf.len());
        buf[..n].copy_from_slice(&data[*at..*at + n]);
        *at += n;
        if *at == data.len() {
            self.surplus = None;
        }
        n
    }
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.surplus.is_some() || buf.is_empty() {
            return Ok(self.hand_out(buf));
        }
        let file = &self.file;
        let read = enter_python(|py| {
            // The exception itself travels inside the io::Error, to be raised again as it was.
            let chunk = file.call_method1(py, "read", (buf.len(),)).map_err(std::io::Error::other)?;
            let chunk = chunk.bind(py);
            chunk.extract::<PyBackedBytes>().map_err(|_| {
                let got = chunk.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
                // Raised as the official client's read of a text stream would fail.
                std::io::Error::other(PyTypeError::new_err(format!("the file object's read() returned {got}, not bytes: open it in binary mode ('rb')")))
            })
        });
        let data = read.unwrap_or_else(|| Err(std::io::Error::other("the Python interpreter is exiting")))?;
        self.surplus = Some((data, 0));
        Ok(self.hand_out(buf))
    }
}

/// The first exception a Python callback raised; the call is cancelled and it is re-raised.
type CallbackError = Arc<Mutex<Option<PyErr>>>;

fn progress_callback(callback: Py<PyAny>, failure: CallbackError, cancel: CancellationToken) -> fluidcloud::Progress {
    Arc::new(move |done, total| {
        let _ = enter_python(|py| report_progress(py, &callback, &failure, &cancel, done, total));
    })
}

/// Calls `on_progress`; the first exception it raises (or an awaitable it returns, which
/// would never be awaited) is kept to be raised by the call, which is cancelled.
fn report_progress(py: Python<'_>, callback: &Py<PyAny>, failure: &CallbackError, cancel: &CancellationToken, done: u64, total: u64) {
    // Not held across the call: callbacks of one upload come from several threads, and one
    // waiting here with the GIL would stall the other inside Python.
    if failure.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
        return;
    }
    let outcome = callback.call1(py, (done, total)).and_then(|returned| {
        let returned = returned.bind(py);
        if py.import("inspect")?.call_method1("isawaitable", (returned,))?.is_truthy()? {
            if returned.hasattr("close")? {
                returned.call_method0("close")?; // a coroutine that will never run, said so once
            }
            return Err(PyTypeError::new_err("on_progress must be a plain function; it returned an awaitable"));
        }
        Ok(())
    });
    if let Err(e) = outcome {
        failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
        cancel.cancel();
    }
}

/// Where progress callbacks run: on the SDK's threads with the GIL taken for each call
/// (blocking calls: the caller waits without the GIL), or on the event loop of an async call.
#[derive(Clone)]
enum CallbackHome {
    Thread,
    Loop(Arc<Mailbox>),
}

fn progress_for(home: &CallbackHome, callback: Bound<'_, PyAny>, failure: CallbackError, cancel: CancellationToken) -> fluidcloud::Progress {
    match home {
        CallbackHome::Thread => progress_callback(callback.unbind(), failure, cancel),
        CallbackHome::Loop(mailbox) => {
            mailbox.set_callback(callback.unbind(), cancel);
            let mailbox = mailbox.clone();
            Arc::new(move |done, total| mailbox.post_progress(done, total))
        }
    }
}

fn parse_op(op: &str, dict: &Bound<'_, PyDict>, failure: &CallbackError, home: &CallbackHome) -> PyResult<Op> {
    let a = Args { op, dict };
    if let Some(parsed) = Op::parse(op, &a)? {
        return Ok(parsed);
    }
    Ok(match op {
        "files.upload" => {
            let cancel = CancellationToken::new();
            let source = match a.str("kind")?.as_str() {
                "path" => UploadSource::Path(a.path("source")?),
                "bytes" => {
                    let v = a.item("source")?.ok_or_else(|| PyTypeError::new_err("files.upload: source is required"))?;
                    // bytes are shared with Python, not copied.
                    let data: PyBackedBytes = v.extract().map_err(|_| a.type_error("source", "bytes", &v))?;
                    UploadSource::Bytes(Bytes::from_owner(data))
                }
                "reader" => {
                    let file = a.item("source")?.ok_or_else(|| PyTypeError::new_err("files.upload: source is required"))?;
                    let size = a.opt_u64("size")?.ok_or_else(|| PyTypeError::new_err("files.upload: size is required"))?;
                    UploadSource::reader(PyReader::new(file.unbind()), size)
                }
                other => return Err(PyValueError::new_err(format!("files.upload: unknown source kind '{other}'"))),
            };
            let progress = a.item("on_progress")?.map(|cb| progress_for(home, cb, failure.clone(), cancel.clone()));
            Op::upload(&a, source, progress, cancel)?
        }
        "files.download" => {
            let cancel = CancellationToken::new();
            let progress = a.item("on_progress")?.map(|cb| progress_for(home, cb, failure.clone(), cancel.clone()));
            Op::download(&a, a.path("dest")?, progress, cancel)?
        }
        other => return Err(PyValueError::new_err(format!("unknown operation '{other}'"))),
    })
}

// ---------------------------------------------------------------------------------------------
// Errors: the one place where the core's kinds become Python classes
// ---------------------------------------------------------------------------------------------

fn to_py_err(py: Python<'_>, e: fluidcloud::Error) -> PyErr {
    match build_py_err(py, &e) {
        Ok(err) => err,
        Err(import_failure) => import_failure,
    }
}

/// An exception of the caller's own code that the core carried along as the cause: a file
/// object's `read`, or the transport of an `http_client`.
fn python_cause(e: &fluidcloud::Error) -> Option<&PyErr> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(raised) = err.downcast_ref::<PyErr>() {
            return Some(raised);
        }
        // io::Error::source() skips the error it wraps; look inside.
        if let Some(raised) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref::<PyErr>()) {
            return Some(raised);
        }
        next = err.source();
    }
    None
}

/// The operating system's error behind a transport failure, as Python's own `OSError`
/// subclass (`ConnectionRefusedError`, …), for `__cause__`.
fn os_cause(e: &fluidcloud::Error) -> Option<PyErr> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(errno) = err.downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error) {
            return Some(PyOSError::new_err((errno, std::io::Error::from_raw_os_error(errno).to_string())));
        }
        next = err.source();
    }
    None
}

/// Whether `raised` is one of httpx's own errors, which the SDK reports as its own classes
/// (with the httpx error as `__cause__`). httpx is never imported for this.
fn is_httpx_error(py: Python<'_>, raised: &PyErr, class: &str) -> bool {
    let Ok(modules) = py.import("sys").and_then(|sys| sys.getattr("modules")) else { return false };
    let Ok(httpx) = modules.get_item("httpx") else { return false };
    httpx.getattr(class).is_ok_and(|cls| raised.value(py).is_instance(&cls).unwrap_or(false))
}

fn build_py_err(py: Python<'_>, e: &fluidcloud::Error) -> PyResult<PyErr> {
    let cause = python_cause(e).map(|raised| raised.clone_ref(py));
    if let Some(raised) = &cause {
        if !is_httpx_error(py, raised, "HTTPError") {
            // The caller's own exception (an assertion in a mock transport, a KeyboardInterrupt
            // in read()), raised again as it was.
            return Ok(raised.clone_ref(py));
        }
    }
    let err = build_sdk_err(py, e)?;
    if let Some(cause) = cause.or_else(|| os_cause(e)) {
        err.set_cause(py, Some(cause));
    }
    Ok(err)
}

fn is_answer_kind(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Auth | ErrorKind::QuotaExceeded | ErrorKind::Permission | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Api)
}

fn build_sdk_err(py: Python<'_>, e: &fluidcloud::Error) -> PyResult<PyErr> {
    let message = e.to_string();
    let class = match e.kind() {
        ErrorKind::InvalidInput => return Ok(PyValueError::new_err(message)),
        ErrorKind::Io => {
            let io_kind = std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map(std::io::Error::kind);
            return Ok(match io_kind {
                Some(std::io::ErrorKind::NotFound) => PyFileNotFoundError::new_err(message),
                Some(std::io::ErrorKind::PermissionDenied) => PyPermissionError::new_err(message),
                Some(std::io::ErrorKind::IsADirectory) => PyIsADirectoryError::new_err(message),
                _ => PyOSError::new_err(message),
            });
        }
        // `ApiError` and its subclasses stand for a non-2xx answer and carry its status; an
        // answer that could not be understood (a 200 whose body breaks the protocol) is none.
        _ if e.http_status().is_none() && is_answer_kind(e.kind()) => "FluidCloudError",
        ErrorKind::Auth => "AuthError",
        ErrorKind::QuotaExceeded => "QuotaExceededError",
        ErrorKind::Permission => "PermissionError_",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::Api => "ApiError",
        ErrorKind::Connect => "APIConnectionError",
        ErrorKind::Timeout => "APITimeoutError",
        ErrorKind::Cancelled => "CancelledError",
        ErrorKind::Integrity => "IntegrityError",
        _ => "FluidCloudError",
    };
    let errors = py.import("fluidcloud.errors")?;
    let cls = errors.getattr(class)?;
    let err = match e.http_status() {
        Some(status) => {
            let detail = match e.detail() {
                Some(fluidcloud::Detail::Json(v)) => pythonize::pythonize(py, v)?.unbind(),
                Some(fluidcloud::Detail::Text(t)) => t.into_pyobject(py)?.into_any().unbind(),
                Some(other) => pythonize::pythonize(py, &other.to_json())?.unbind(),
                None => py.None(),
            };
            let kwargs = PyDict::new(py);
            kwargs.set_item("request_id", e.request_id())?;
            if e.is_from_storage() {
                // As the official client reports a refused PUT: this message, and at most
                // 300 characters of storage's text as the detail.
                let text = match e.detail() {
                    Some(d) => d.to_json().as_str().map(str::to_string).unwrap_or_else(|| d.to_json().to_string()),
                    None => String::new(),
                };
                let short: String = text.chars().take(300).collect();
                kwargs.set_item("message", "presigned upload PUT failed")?;
                cls.call((status, short), Some(&kwargs))?
            } else {
                cls.call((status, detail), Some(&kwargs))?
            }
        }
        None => {
            let err = cls.call1((message,))?;
            if let Some(id) = e.request_id() {
                // An answer that could not be understood: its id is what support asks for.
                err.setattr("request_id", id)?;
            }
            err
        }
    };
    Ok(PyErr::from_value(err))
}

/// The answer as Python values (dicts, lists, str, int, None). The callback's own exception
/// wins over the cancellation it caused.
fn finish(py: Python<'_>, result: fluidcloud::Result<Answer>, failure: &CallbackError) -> PyResult<Py<PyAny>> {
    if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    convert(py, result)
}

fn convert(py: Python<'_>, result: fluidcloud::Result<Answer>) -> PyResult<Py<PyAny>> {
    let answer = result.map_err(|e| to_py_err(py, e))?;
    Ok(pythonize::pythonize(py, &answer)?.unbind())
}

// ---------------------------------------------------------------------------------------------
// Async calls: an asyncio future settled from the SDK's runtime
// ---------------------------------------------------------------------------------------------

/// What an async call hands to its event loop: progress in order, then the result. The
/// SDK's threads fill it and ring an eventfd the loop watches (`add_reader`), without the
/// GIL: no thread of ours is ever inside Python for an async call, so none can be caught
/// there when the interpreter shuts down after `asyncio.run` returns (taking the GIL back
/// then kills the thread mid-Rust).
struct Mailbox {
    inbox: Mutex<Inbox>,
    bell: std::os::fd::OwnedFd,
}

#[derive(Default)]
struct Inbox {
    progress: Vec<(u64, u64)>,
    result: Option<fluidcloud::Result<Answer>>,
    callback: Option<(Py<PyAny>, CancellationToken)>,
}

impl Mailbox {
    fn new() -> std::io::Result<Mailbox> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and nothing else owns it.
        Ok(Mailbox { inbox: Mutex::default(), bell: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) } })
    }

    fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.bell.as_raw_fd()
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. (It cannot fail but by
        // overflowing the counter, which a reader resets long before.)
        let _ = unsafe { libc::write(self.fd(), (&one as *const u64).cast(), 8) };
    }

    fn silence(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our non-blocking eventfd.
        let _ = unsafe { libc::read(self.fd(), (&mut count as *mut u64).cast(), 8) };
    }

    fn set_callback(&self, callback: Py<PyAny>, cancel: CancellationToken) {
        self.inbox().callback = Some((callback, cancel));
    }

    fn post_progress(&self, done: u64, total: u64) {
        self.inbox().progress.push((done, total));
        self.ring();
    }

    fn post_result(&self, result: fluidcloud::Result<Answer>) {
        self.inbox().result = Some(result);
        self.ring();
    }
}

/// Runs on the event loop whenever an async call's mailbox rang: its progress callbacks, in
/// order, then the future's result. A callback that raised wins over the cancellation it
/// caused.
#[pyclass(module = "fluidcloud._core", frozen)]
struct Delivery {
    mailbox: Arc<Mailbox>,
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    failure: CallbackError,
}

#[pymethods]
impl Delivery {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        self.mailbox.silence();
        let (progress, result, callback) = {
            let mut inbox = self.mailbox.inbox();
            let callback = inbox.callback.as_ref().map(|(c, t)| (c.clone_ref(py), t.clone()));
            (std::mem::take(&mut inbox.progress), inbox.result.take(), callback)
        };
        if let Some((callback, cancel)) = &callback {
            for (done, total) in progress {
                report_progress(py, callback, &self.failure, cancel, done, total);
            }
        }
        let Some(result) = result else { return Ok(()) };
        self.event_loop.call_method1(py, "remove_reader", (self.mailbox.fd(),))?;
        let future = self.future.bind(py);
        if future.call_method0("done")?.is_truthy()? {
            return Ok(()); // cancelled meanwhile
        }
        let failed = self.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        match failed.map(Err).unwrap_or_else(|| convert(py, result)) {
            Ok(value) => future.call_method1("set_result", (value,))?,
            Err(e) => future.call_method1("set_exception", (e.into_value(py),))?,
        };
        Ok(())
    }
}

/// Aborts the SDK's task when its asyncio future is cancelled, and stops watching its mailbox.
/// It holds the mailbox, so that the eventfd's number cannot pass to a newer call (whose
/// reader `remove_reader` would then unregister) before this has run.
#[pyclass(module = "fluidcloud._core", frozen)]
struct AbortOnCancel {
    abort: tokio::task::AbortHandle,
    event_loop: Py<PyAny>,
    mailbox: Arc<Mailbox>,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.abort.abort();
            self.event_loop.call_method1(py, "remove_reader", (self.mailbox.fd(),))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// http_client=: every request through the caller's httpx.Client
// ---------------------------------------------------------------------------------------------

struct HttpxTransport {
    client: Arc<Py<PyAny>>,
}

async fn collect(body: RequestBody) -> Result<Bytes, TransportError> {
    match body {
        RequestBody::Empty => Ok(Bytes::new()),
        RequestBody::Bytes(b) => Ok(b),
        RequestBody::Stream { stream, len } => {
            let mut out = Vec::with_capacity(len as usize);
            let mut stream = stream;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| TransportError::new(TransportErrorKind::Broken, e.to_string()))?;
                out.extend_from_slice(&chunk);
            }
            Ok(Bytes::from(out))
        }
    }
}

fn httpx_send(py: Python<'_>, client: &Py<PyAny>, request: HttpRequest, body: Bytes) -> Result<HttpResponse, TransportError> {
    let failed = |kind, e: PyErr| TransportError::new(kind, e.to_string()).with_cause(e);
    let headers = PyDict::new(py);
    for (name, value) in request.headers.iter() {
        if let Ok(v) = value.to_str() {
            headers.set_item(name.as_str(), v).map_err(|e| failed(TransportErrorKind::Other, e))?;
        }
    }
    let kwargs = PyDict::new(py);
    let set = |k: &str, v: Bound<'_, PyAny>| kwargs.set_item(k, v).map_err(|e| failed(TransportErrorKind::Other, e));
    set("headers", headers.into_any())?;
    if !body.is_empty() || request.method == fluidcloud::transport::Method::PUT || request.method == fluidcloud::transport::Method::POST {
        set("content", PyBytes::new(py, &body).into_any())?;
    }
    let response = client.bind(py).call_method("request", (request.method.as_str(), request.url.as_str()), Some(&kwargs));
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            let kind = httpx_error_kind(py, &e);
            return Err(failed(kind, e));
        }
    };
    let read = || -> PyResult<(u16, HeaderMap, Vec<u8>)> {
        let status: u16 = response.getattr("status_code")?.extract()?;
        let mut map = HeaderMap::new();
        let items = response.getattr("headers")?.call_method0("multi_items")?;
        for item in items.cast::<PyList>()?.iter() {
            let pair = item.cast::<PyTuple>()?;
            let (k, v): (String, String) = (pair.get_item(0)?.extract()?, pair.get_item(1)?.extract()?);
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
                map.append(name, value);
            }
        }
        let content: Vec<u8> = response.getattr("content")?.extract()?;
        Ok((status, map, content))
    };
    let (status, headers, content) = read().map_err(|e| {
        let kind = if is_httpx_error(py, &e, "TransportError") { TransportErrorKind::Broken } else { TransportErrorKind::Other };
        failed(kind, e)
    })?;
    let body = stream::once(async move { Ok(Bytes::from(content)) }).boxed();
    Ok(HttpResponse { status, headers, body })
}

/// httpx's network failures are retried as the native stack's are; anything else the
/// client raised is the caller's (a mock's assertion, a KeyboardInterrupt): not retried.
fn httpx_error_kind(py: Python<'_>, e: &PyErr) -> TransportErrorKind {
    if is_httpx_error(py, e, "TimeoutException") {
        TransportErrorKind::Timeout
    } else if is_httpx_error(py, e, "ConnectError") {
        TransportErrorKind::Connect
    } else if is_httpx_error(py, e, "TransportError") {
        TransportErrorKind::Broken
    } else {
        TransportErrorKind::Other
    }
}

impl Transport for HttpxTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let client = self.client.clone();
        Box::pin(async move {
            let mut request = request;
            let body = collect(std::mem::replace(&mut request.body, RequestBody::Empty)).await?;
            // httpx blocks: it runs on the blocking pool, holding the GIL only there.
            tokio::task::spawn_blocking(move || {
                enter_python(|py| httpx_send(py, &client, request, body))
                    .unwrap_or_else(|| Err(TransportError::new(TransportErrorKind::Other, "the Python interpreter is exiting")))
            })
                .await
                .map_err(|e| TransportError::new(TransportErrorKind::Broken, e.to_string()))?
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

#[pyclass(module = "fluidcloud._core", frozen)]
struct Client {
    inner: fluidcloud::blocking::Client,
}

/// The call's result, and the thread's count inside Python: the caller keeps it until it has
/// made the result into Python objects, which runs Python code (an exception's `__init__`)
/// that may hand the GIL over.
fn wait(py: Python<'_>, pending: Pending<Answer>) -> PyResult<(fluidcloud::Result<Answer>, Inside)> {
    let mut pending = pending;
    loop {
        // The GIL is released while the call runs; every SIGNAL_POLL, look for Ctrl-C.
        let (outcome, back, inside) = py.detach(move || {
            let outcome = pending.wait_timeout(SIGNAL_POLL);
            let Some(inside) = inside_python() else {
                park_for_good(); // a daemon thread's call
            };
            (outcome, pending, inside)
        });
        pending = back;
        if let Some(result) = outcome {
            return Ok((result, inside));
        }
        if let Err(interrupt) = py.check_signals() {
            pending.abort();
            return Err(interrupt);
        }
    }
}

/// Seconds as a `Duration`; more than a Duration holds (`inf`) is no limit, which the core
/// takes as `Duration::MAX`.
fn limit(name: &str, seconds: f64) -> PyResult<Duration> {
    if seconds > 0.0 && !seconds.is_nan() {
        Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
    } else {
        Err(PyValueError::new_err(format!("{name} must be a positive number of seconds or None, not {seconds}")))
    }
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (api_key=None, *, base_url=None, api_version=None, timeout=Some(300.0), connect_timeout=None, max_retries=2, concurrency=8, http_client=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        api_key: Option<String>,
        base_url: Option<String>,
        api_version: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        max_retries: u32,
        concurrency: usize,
        http_client: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let mut options = ClientOptions {
            api_key,
            base_url,
            api_version: api_version.unwrap_or_else(|| "v1".to_string()),
            timeout: timeout.map_or(Ok(Duration::MAX), |s| limit("timeout", s))?,
            max_retries,
            concurrency,
            user_agent: Some(USER_AGENT.to_string()),
            // As the official client does: the Python layer warns instead (see client.py).
            allow_insecure_http: true,
            ..ClientOptions::default()
        };
        if let Some(seconds) = connect_timeout {
            options.connect_timeout = limit("connect_timeout", seconds)?;
        }
        if let Some(client) = http_client {
            options.transport = Some(Arc::new(HttpxTransport { client: Arc::new(client) }));
        }
        let inner = fluidcloud::blocking::Client::new(options).map_err(|e| Python::attach(|py| to_py_err(py, e)))?;
        Ok(Client { inner })
    }

    #[getter]
    fn base_url(&self) -> PyResult<String> {
        let client = self.inner.async_client().map_err(|e| Python::attach(|py| to_py_err(py, e)))?;
        Ok(client.base_url().to_string())
    }

    /// Runs `op` and returns its answer as plain Python values. Blocks without the GIL;
    /// Ctrl-C stops it.
    fn call(&self, py: Python<'_>, op: &str, args: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let failure = CallbackError::default();
        let parsed = parse_op(op, args, &failure, &CallbackHome::Thread)?;
        let lane = parsed.lane();
        let pending = self
            .inner
            .spawn_on(lane, move |c| execute(c, parsed))
            .map_err(|e| to_py_err(py, e))?;
        let (result, _inside) = wait(py, pending)?;
        finish(py, result, &failure)
    }

    /// Runs `op` on the SDK's runtime threads; returns an asyncio future of its answer, on
    /// the running loop. Cancelling the future aborts the call. (The SDK's own runtime, not
    /// a global one, so that a forked child starts a fresh one.)
    fn call_async<'py>(&self, py: Python<'py>, op: &str, args: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let mailbox = Arc::new(Mailbox::new()?);
        let failure = CallbackError::default();
        let parsed = parse_op(op, args, &failure, &CallbackHome::Loop(mailbox.clone()))?;
        let future = event_loop.call_method0("create_future")?;
        let delivery = Delivery {
            mailbox: mailbox.clone(),
            event_loop: event_loop.clone().unbind(),
            future: future.clone().unbind(),
            failure,
        };
        event_loop.call_method1("add_reader", (mailbox.fd(), Py::new(py, delivery)?))?;
        let posted = mailbox.clone();
        let started = self.inner.spawn_then(move |c| execute(c, parsed), move |result| posted.post_result(result));
        let abort = match started {
            Ok(abort) => abort,
            Err(e) => {
                event_loop.call_method1("remove_reader", (mailbox.fd(),))?;
                return Err(to_py_err(py, e));
            }
        };
        let on_cancel = AbortOnCancel { abort, event_loop: event_loop.unbind(), mailbox };
        future.call_method1("add_done_callback", (Py::new(py, on_cancel)?,))?;
        Ok(future)
    }

    /// A client with the same options and connections acting with `credential` (the token
    /// of `exchange_service_token`, for `as_user`).
    fn with_credential(&self, py: Python<'_>, credential: String) -> PyResult<Client> {
        let inner = self.inner.with_credential(credential).map_err(|e| to_py_err(py, e))?;
        Ok(Client { inner })
    }

    /// Whether the key travels unencrypted (plain http to another machine).
    #[getter]
    fn sends_credential_in_clear(&self, py: Python<'_>) -> PyResult<bool> {
        let client = self.inner.async_client().map_err(|e| to_py_err(py, e))?;
        Ok(client.sends_credential_in_clear())
    }

    fn __repr__(&self) -> String {
        match self.inner.async_client() {
            Ok(c) => format!("<fluidcloud._core.Client base_url={:?}>", c.base_url()),
            Err(_) => "<fluidcloud._core.Client>".to_string(),
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Client>()?;
    let hook = wrap_pyfunction!(_interpreter_exiting, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
