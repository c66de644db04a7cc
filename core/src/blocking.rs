//! A blocking facade for the C and Python layers: short calls run on the calling thread,
//! which drives its client's single-threaded runtime while it waits; transfers run on the
//! SDK's shared multi-threaded one. Safe from many threads at once, from inside another async
//! runtime, and in the child after `fork()`, where it builds fresh runtimes and fresh
//! connections instead of touching the parent's.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::runtime::{Handle, Runtime};

use crate::download::DownloadOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::models::{DelegatedToken, DownloadUrl, File, Folder, Link, Permission, Quota, Share, Space};
use crate::upload::{upload_lane, UploadOptions, UploadSource};
use crate::ClientOptions;

/// Where a call runs. Short API calls run on the thread that waits for them, which drives
/// their I/O itself: a hand-off to another thread and back costs two wake-ups per call, and on
/// a virtual machine a wake-up across cores costs more than the whole request. So do uploads
/// of a few KiB from memory. Other transfers run on a multi-threaded runtime: they need every
/// core for sending, reading and hashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Call,
    Transfer,
}

/// The process's transfer runtime, and the process that started it.
struct Transfers {
    pid: u32,
    runtime: Arc<Runtime>,
}

static TRANSFERS: Mutex<Option<Transfers>> = Mutex::new(None);

fn runtime_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, "runtime", format!("cannot start the SDK's runtime: {e}"))
}

/// The transfer runtime, started anew in a forked child: the parent's threads do not exist
/// there.
fn transfer_runtime() -> Result<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = TRANSFERS.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_some_and(|r| r.pid != pid) {
        // Dropping the parent's runtime would wait on threads that never answer: leak it.
        std::mem::forget(slot.take());
    }
    if slot.is_none() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("fluidcloud")
            .build()
            .map_err(runtime_error)?;
        *slot = Some(Transfers { pid, runtime: Arc::new(runtime) });
    }
    let transfers = slot.as_ref().ok_or_else(|| Error::new(ErrorKind::Internal, "runtime", "no runtime"))?;
    Ok(transfers.runtime.clone())
}

/// The runtime of one client's short calls, shared with the clients `with_credential` makes
/// from it (they share its connections). It has no thread of its own: whoever waits for a
/// call drives it (`block_on`). Its pooled connections are tasks on it, which notice that
/// their client is gone only when someone drives it again: for a dropped client, maybe
/// never. So the last holder (a client, or a call that outlived it) shuts it down, which
/// closes them before its `drop` returns.
struct CallRuntime {
    pid: u32,
    /// `None` only once dropped.
    runtime: Option<Runtime>,
}

impl CallRuntime {
    fn start(pid: u32) -> Result<Arc<CallRuntime>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(runtime_error)?;
        Ok(Arc::new(CallRuntime { pid, runtime: Some(runtime) }))
    }

    fn get(&self) -> Result<&Runtime> {
        self.runtime.as_ref().ok_or_else(|| Error::new(ErrorKind::Internal, "runtime", "the client's runtime is shut down"))
    }
}

impl Drop for CallRuntime {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        if self.pid != std::process::id() {
            // A forked child's copy of the parent's runtime: its sockets are the parent's.
            std::mem::forget(runtime);
            return;
        }
        // Drops every task here and now, closing their sockets; nobody is inside `block_on`,
        // as each holds this `Arc`. In the background: it does not wait for the threads of
        // its blocking pool (a DNS lookup may take seconds), so it neither blocks nor panics
        // when dropped from async code, where waiting for threads is forbidden.
        runtime.shutdown_background();
    }
}

/// The async clients of one process, one per lane: a connection belongs to the runtime that
/// opened it, so the lanes do not share a pool.
struct Clients {
    pid: u32,
    call: crate::Client,
    transfer: crate::Client,
    /// After `call` (fields drop in order): its pool goes first, then the tasks of its
    /// connections with the runtime.
    call_runtime: Arc<CallRuntime>,
}

impl Clients {
    fn of(&self, lane: Lane) -> &crate::Client {
        match lane {
            Lane::Call => &self.call,
            Lane::Transfer => &self.transfer,
        }
    }
}

/// The blocking client. Clones share the async clients and their connections.
#[derive(Clone)]
pub struct Client {
    options: ClientOptions,
    current: Arc<Mutex<Clients>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = self.current.lock().unwrap_or_else(|p| p.into_inner()).call.clone();
        f.debug_struct("blocking::Client").field("client", &call).finish()
    }
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client> {
        let call = crate::Client::new(options.clone())?;
        Client::wrap(options, call, CallRuntime::start(std::process::id())?)
    }

    fn wrap(options: ClientOptions, call: crate::Client, call_runtime: Arc<CallRuntime>) -> Result<Client> {
        let transfer = crate::Client::new(options.clone())?;
        let clients = Clients { pid: std::process::id(), call, transfer, call_runtime };
        Ok(Client { options, current: Arc::new(Mutex::new(clients)) })
    }

    /// This process's clients: after `fork()`, new ones with their own connections and runtime.
    fn current(&self) -> Result<std::sync::MutexGuard<'_, Clients>> {
        let pid = std::process::id();
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.pid != pid {
            let fresh = Clients {
                pid,
                call: crate::Client::new(self.options.clone())?,
                transfer: crate::Client::new(self.options.clone())?,
                call_runtime: CallRuntime::start(pid)?,
            };
            let inherited = std::mem::replace(&mut *current, fresh);
            // Its pooled sockets are the parent's; its tasks lived on the parent's runtimes.
            std::mem::forget(inherited);
        }
        Ok(current)
    }

    /// The async client for short calls in this process: after `fork()`, a new one with its
    /// own connections.
    pub fn async_client(&self) -> Result<crate::Client> {
        self.async_client_for(Lane::Call)
    }

    pub fn async_client_for(&self, lane: Lane) -> Result<crate::Client> {
        Ok(self.current()?.of(lane).clone())
    }

    /// Runs `f` with the async client and waits for its result. Works from any thread,
    /// including one that drives another runtime.
    pub fn run<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(crate::Client) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_on(Lane::Call, f)?.wait()
    }

    /// Prepares `f` on `lane` and returns at once: for callers that must keep control while
    /// waiting (to notice Ctrl-C, say) and may abort the call. A transfer starts at once on
    /// the runtime's threads; a short call runs while the caller waits for it.
    pub fn spawn_on<F, Fut, T>(&self, lane: Lane, f: F) -> Result<Pending<T>>
    where
        F: FnOnce(crate::Client) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (client, call_runtime) = {
            let current = self.current()?;
            (current.of(lane).clone(), current.call_runtime.clone())
        };
        // Outside the lock: `f` is the caller's code, which may use this client.
        let call = guarded(f(client));
        // A thread that drives another runtime (a progress callback on the transfer lane's
        // threads, say) cannot also drive ours: a thread of its own does, so that the call
        // never waits for a thread that is waiting for it.
        if lane == Lane::Call && Handle::try_current().is_err() {
            return Ok(Pending { waiting: Waiting::Here(Local { runtime: call_runtime, call: Some(Box::pin(call)) }) });
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let send = async move {
            let _ = tx.send(call.await);
        };
        if lane == Lane::Transfer {
            let task = transfer_runtime()?.spawn(send);
            return Ok(Pending { waiting: Waiting::There { rx, abort: task.abort_handle() } });
        }
        let task = call_runtime.get()?.spawn(send);
        let abort = task.abort_handle();
        std::thread::Builder::new()
            .name("fluidcloud-call".into())
            .spawn(move || {
                if let Ok(runtime) = call_runtime.get() {
                    let _ = runtime.block_on(task);
                }
            })
            .map_err(|e| Error::new(ErrorKind::Io, "runtime", format!("cannot start a thread for the call: {e}")))?;
        Ok(Pending { waiting: Waiting::There { rx, abort } })
    }

    /// Starts `f` on the transfer runtime's threads and hands its result to `done` there: for
    /// callers with an event loop of their own (Python's asyncio), which must not block. The
    /// handle aborts the call (dropping it, with the cleanup that brings); `done` then never runs.
    pub fn spawn_then<F, Fut, T, D>(&self, f: F, done: D) -> Result<tokio::task::AbortHandle>
    where
        F: FnOnce(crate::Client) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
        D: FnOnce(Result<T>) + Send + 'static,
    {
        let call = guarded(f(self.async_client_for(Lane::Transfer)?));
        let task = transfer_runtime()?.spawn(async move { done(call.await) });
        Ok(task.abort_handle())
    }

    /// The same options and connections, acting with another credential (a delegated token).
    pub fn with_credential(&self, credential: String) -> Result<Client> {
        // The call lane's connections are shared, and so is the runtime their tasks live on.
        let (user, call_runtime) = {
            let current = self.current()?;
            (current.call.with_credential(credential)?, current.call_runtime.clone())
        };
        let token = user.inner.http.credential().to_string();
        Client::wrap(ClientOptions { api_key: Some(token), ..self.options.clone() }, user, call_runtime)
    }

    pub fn exchange_service_token(&self, user_jwt: &str, app: &str, job_id: Option<&str>, ttl_seconds: Option<u64>) -> Result<DelegatedToken> {
        let (jwt, app, job) = (user_jwt.to_string(), app.to_string(), job_id.map(str::to_string));
        self.run(move |c| async move { c.exchange_service_token(&jwt, &app, job.as_deref(), ttl_seconds).await })
    }

    pub fn as_user(&self, user_jwt: &str, app: &str, job_id: Option<&str>, ttl_seconds: Option<u64>) -> Result<Client> {
        let (jwt, app, job) = (user_jwt.to_string(), app.to_string(), job_id.map(str::to_string));
        let token = self.run(move |c| async move { c.exchange_service_token(&jwt, &app, job.as_deref(), ttl_seconds).await })?;
        self.with_credential(token.token)
    }

    pub fn spaces(&self) -> Spaces<'_> {
        Spaces { c: self }
    }
    pub fn folders(&self) -> Folders<'_> {
        Folders { c: self }
    }
    pub fn files(&self) -> Files<'_> {
        Files { c: self }
    }
    pub fn shares(&self) -> Shares<'_> {
        Shares { c: self }
    }
    pub fn quota(&self) -> QuotaApi<'_> {
        QuotaApi { c: self }
    }
}

/// A panic inside a call is a bug, reported as one, not as the call being aborted.
async fn guarded<T>(call: impl Future<Output = Result<T>>) -> Result<T> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(call).catch_unwind().await.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(ErrorKind::Internal, "runtime", format!("the SDK panicked: {what}")))
    })
}

/// A call to wait for. A short call does not run until it is waited for: dropping it unwaited
/// drops the call.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn started_but_never_waited(client: &fluidcloud::blocking::Client) -> fluidcloud::Result<()> {
///     client.spawn_on(fluidcloud::blocking::Lane::Call, |c| async move { c.quota().usage().await })?;
///     Ok(())
/// }
/// ```
#[must_use = "a short call runs only while it is waited for"]
pub struct Pending<T> {
    waiting: Waiting<T>,
}

enum Waiting<T> {
    /// Runs while a caller waits, on the caller's thread.
    Here(Local<T>),
    /// Runs on the transfer runtime's threads, or on a thread of its own.
    There { rx: std::sync::mpsc::Receiver<Result<T>>, abort: tokio::task::AbortHandle },
}

type Call<T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send>>;

struct Local<T> {
    runtime: Arc<CallRuntime>,
    /// `None` once it has finished.
    call: Option<Call<T>>,
}

impl<T: Send> Local<T> {
    /// As `drive_here`, from any thread: one that drives another runtime cannot also drive
    /// ours (tokio refuses to nest `block_on`), so a helper thread does while it waits.
    fn drive(&mut self, timeout: Option<std::time::Duration>) -> Option<Result<T>> {
        if Handle::try_current().is_err() {
            return self.drive_here(timeout);
        }
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("fluidcloud-call".into())
                .spawn_scoped(scope, || self.drive_here(timeout));
            match helper {
                Ok(helper) => helper.join().unwrap_or_else(|_| {
                    Some(Err(Error::new(ErrorKind::Internal, "runtime", "the thread driving the call panicked")))
                }),
                Err(e) => Some(Err(Error::new(ErrorKind::Io, "runtime", format!("cannot start a thread for the call: {e}")))),
            }
        })
    }
}

impl<T> Local<T> {
    fn drive_here(&mut self, timeout: Option<std::time::Duration>) -> Option<Result<T>> {
        let Some(call) = self.call.as_mut() else { return Some(Err(stopped())) };
        let runtime = match self.runtime.get() {
            Ok(runtime) => runtime,
            Err(e) => return Some(Err(e)),
        };
        let outcome = match timeout {
            None => Some(runtime.block_on(call)),
            Some(limit) => runtime.block_on(async { tokio::time::timeout(limit, call).await.ok() }),
        };
        if outcome.is_some() {
            self.call = None;
        }
        outcome
    }
}

impl<T> Drop for Local<T> {
    fn drop(&mut self) {
        // Its timers and sockets deregister from the runtime they belong to. If this holds the
        // last reference to the runtime, that goes next, closing the connections.
        let _inside = self.runtime.get().map(Runtime::enter);
        self.call = None;
    }
}

fn stopped() -> Error {
    Error::new(ErrorKind::Cancelled, "runtime", "the call was aborted")
}

impl<T: Send> Pending<T> {
    /// The result, blocking until there is one.
    pub fn wait(mut self) -> Result<T> {
        match &mut self.waiting {
            Waiting::Here(local) => local.drive(None).unwrap_or_else(|| Err(stopped())),
            Waiting::There { rx, .. } => off_the_worker(|| rx.recv()).map_err(|_| stopped())?,
        }
    }

    /// The result if it comes within `timeout`.
    pub fn wait_timeout(&mut self, timeout: std::time::Duration) -> Option<Result<T>> {
        match &mut self.waiting {
            Waiting::Here(local) => local.drive(Some(timeout)),
            Waiting::There { rx, .. } => match off_the_worker(|| rx.recv_timeout(timeout)) {
                Ok(result) => Some(result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Some(Err(stopped())),
            },
        }
    }

    /// Stops the call: its future is dropped, which closes its connections.
    pub fn abort(self) {
        if let Waiting::There { abort, .. } = &self.waiting {
            abort.abort();
        }
    }
}

/// Runs `wait`, which blocks, first handing this thread's queued tasks to another thread
/// when it is a worker of a multi-threaded runtime: a transfer started from a progress
/// callback (which runs on the transfer runtime's workers) is queued on the very thread
/// that then waits for it, and would never run.
fn off_the_worker<R>(wait: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(wait),
        _ => wait(),
    }
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

pub struct Spaces<'a> {
    c: &'a Client,
}

impl Spaces<'_> {
    pub fn list(&self) -> Result<Vec<Space>> {
        self.c.run(|c| async move { c.spaces().list().await })
    }
    pub fn create(&self, name: &str) -> Result<Space> {
        let name = name.to_string();
        self.c.run(move |c| async move { c.spaces().create(&name).await })
    }
}

pub struct Folders<'a> {
    c: &'a Client,
}

impl Folders<'_> {
    pub fn list(&self, space_id: &str, parent_id: Option<&str>, trash: bool) -> Result<Vec<Folder>> {
        let (space, parent) = (space_id.to_string(), owned(parent_id));
        self.c.run(move |c| async move { c.folders().list(&space, parent.as_deref(), trash).await })
    }
    pub fn create(&self, name: &str, space_id: &str, parent_id: Option<&str>) -> Result<Folder> {
        let (name, space, parent) = (name.to_string(), space_id.to_string(), owned(parent_id));
        self.c.run(move |c| async move { c.folders().create(&name, &space, parent.as_deref()).await })
    }
    pub fn rename(&self, folder_id: &str, name: &str) -> Result<Folder> {
        let (id, name) = (folder_id.to_string(), name.to_string());
        self.c.run(move |c| async move { c.folders().rename(&id, &name).await })
    }
    pub fn move_to(&self, folder_id: &str, parent_id: Option<&str>) -> Result<Folder> {
        let (id, parent) = (folder_id.to_string(), owned(parent_id));
        self.c.run(move |c| async move { c.folders().move_to(&id, parent.as_deref()).await })
    }
    pub fn delete(&self, folder_id: &str) -> Result<Folder> {
        let id = folder_id.to_string();
        self.c.run(move |c| async move { c.folders().delete(&id).await })
    }
    pub fn restore(&self, folder_id: &str) -> Result<Folder> {
        let id = folder_id.to_string();
        self.c.run(move |c| async move { c.folders().restore(&id).await })
    }
}

pub struct Files<'a> {
    c: &'a Client,
}

impl Files<'_> {
    pub fn upload(&self, source: UploadSource, options: UploadOptions) -> Result<File> {
        self.c.spawn_on(upload_lane(&source, &options), move |c| async move { c.files().upload(source, options).await })?.wait()
    }
    pub fn download(&self, file_id: &str, dest: impl AsRef<Path>, options: DownloadOptions) -> Result<File> {
        let (id, dest) = (file_id.to_string(), dest.as_ref().to_path_buf());
        self.c.spawn_on(Lane::Transfer, move |c| async move { c.files().download(&id, &dest, options).await })?.wait()
    }
    pub fn list(&self, space_id: &str, folder_id: Option<&str>, trash: bool, app: Option<&str>) -> Result<Vec<File>> {
        let (space, folder, app) = (space_id.to_string(), owned(folder_id), owned(app));
        self.c.run(move |c| async move { c.files().list(&space, folder.as_deref(), trash, app.as_deref()).await })
    }
    pub fn get(&self, file_id: &str) -> Result<File> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().get(&id).await })
    }
    pub fn resolve(&self, client_key: &str, app: Option<&str>) -> Result<File> {
        let (key, app) = (client_key.to_string(), owned(app));
        self.c.run(move |c| async move { c.files().resolve(&key, app.as_deref()).await })
    }
    pub fn rename(&self, file_id: &str, name: &str) -> Result<File> {
        let (id, name) = (file_id.to_string(), name.to_string());
        self.c.run(move |c| async move { c.files().rename(&id, &name).await })
    }
    pub fn move_to(&self, file_id: &str, folder_id: Option<&str>) -> Result<File> {
        let (id, folder) = (file_id.to_string(), owned(folder_id));
        self.c.run(move |c| async move { c.files().move_to(&id, folder.as_deref()).await })
    }
    pub fn delete(&self, file_id: &str) -> Result<File> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().delete(&id).await })
    }
    pub fn restore(&self, file_id: &str) -> Result<File> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().restore(&id).await })
    }
    pub fn download_url(&self, file_id: &str) -> Result<DownloadUrl> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().download_url(&id).await })
    }
    pub fn public_url(&self, file_id: &str) -> Result<Link> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().public_url(&id).await })
    }
    pub fn signed_url(&self, file_id: &str, expires_in_days: u32, permission: Permission) -> Result<Link> {
        let id = file_id.to_string();
        self.c.run(move |c| async move { c.files().signed_url(&id, expires_in_days, permission).await })
    }
}

pub struct Shares<'a> {
    c: &'a Client,
}

impl Shares<'_> {
    pub fn list(&self, file_id: Option<&str>, include_inactive: bool) -> Result<Vec<Share>> {
        let file = owned(file_id);
        self.c.run(move |c| async move { c.shares().list(file.as_deref(), include_inactive).await })
    }
    pub fn revoke(&self, share_id: &str) -> Result<()> {
        let id = share_id.to_string();
        self.c.run(move |c| async move { c.shares().revoke(&id).await })
    }
}

pub struct QuotaApi<'a> {
    c: &'a Client,
}

impl QuotaApi<'_> {
    pub fn usage(&self) -> Result<Quota> {
        self.c.run(|c| async move { c.quota().usage().await })
    }
}
