//! A local FluidCloud: the HTTP API of `shared/PROTOCOL.md`, presigned storage and share
//! links in one process, for tests, CI and demos. It shares no code with the SDK on purpose:
//! it exists to judge the client.

mod admin;
mod api;
mod db;
mod digest;
mod error;
mod faults;
mod files;
mod folders;
mod priority;
mod recycle;
mod server;
mod shares;
mod spare;
mod state;
mod storage;
mod uploads;
mod validate;

pub mod cli;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cli::{parse_size, Args};

/// Everything the emulator can be told at start. `Config::default()` listens on a free
/// loopback port and keeps its state in a temporary folder.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Keep state here across restarts; `None` = a temporary folder removed at shutdown.
    pub data_dir: Option<PathBuf>,
    /// Initiate answers `multipart` when `size >= multipart_threshold`.
    pub multipart_threshold: u64,
    /// Raised to `ceil(size / 10_000)` where needed, so no upload has more than 10,000 parts.
    pub part_size: u64,
    /// Storage quota of the default tenant (and of admin-made tenants without one).
    pub bytes_limit: u64,
    /// Active-link quota of the default tenant (and of admin-made tenants without one).
    pub links_limit: u64,
    /// How long `scan_status` stays `pending` after complete.
    pub scan_delay_ms: u64,
    /// HS256 secret of the user JWTs that `POST /auth/service-token` accepts.
    pub jwt_secret: String,
    /// The default key's value; it has every scope.
    pub api_key: String,
    /// Added before each storage PUT/GET is answered.
    pub storage_latency_ms: u64,
    /// Bandwidth cap of each storage request; 0 = none.
    pub storage_bytes_per_sec: u64,
    /// A storage PUT whose body sends nothing for this long is answered `400 RequestTimeout`
    /// and its connection closed, as object stores do; `None` = wait for ever.
    pub storage_idle_timeout: Option<std::time::Duration>,
}

pub const DEFAULT_API_KEY: &str = "fck_test_emulator";
pub const DEFAULT_STORAGE_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
pub const DEFAULT_JWT_SECRET: &str = "fluidcloud-emulator-jwt-secret";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            multipart_threshold: 100 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
            bytes_limit: 1 << 40,
            links_limit: 10_000,
            scan_delay_ms: 0,
            jwt_secret: DEFAULT_JWT_SECRET.to_string(),
            api_key: DEFAULT_API_KEY.to_string(),
            storage_latency_ms: 0,
            storage_bytes_per_sec: 0,
            storage_idle_timeout: Some(DEFAULT_STORAGE_IDLE_TIMEOUT),
        }
    }
}

impl std::fmt::Debug for Config {
    // The key and the JWT secret are credentials: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("bytes_limit", &self.bytes_limit)
            .field("links_limit", &self.links_limit)
            .field("scan_delay_ms", &self.scan_delay_ms)
            .field("jwt_secret", &"<redacted>")
            .field("api_key", &"<redacted>")
            .field("storage_latency_ms", &self.storage_latency_ms)
            .field("storage_bytes_per_sec", &self.storage_bytes_per_sec)
            .field("storage_idle_timeout", &self.storage_idle_timeout)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot prepare the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("the data folder {path} is in use by another emulator")]
    DataDirInUse { path: PathBuf },
    #[error("cannot open the metadata database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
}

pub struct Emulator;

impl Emulator {
    /// Binds, prepares the state and serves in the background until `shutdown`.
    pub async fn start(config: Config) -> Result<EmulatorHandle, StartError> {
        if config.part_size == 0 {
            return Err(StartError::Config("part size must be at least 1 byte".into()));
        }
        let (temp, data_dir) = match &config.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("fluidcloud-emulator-")
                    .tempdir()
                    .map_err(|source| StartError::DataDir { path: std::env::temp_dir(), source })?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen { addr: config.listen, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Listen { addr: config.listen, source })?;
        let url = format!("http://{}", display_addr(addr));
        let state = Arc::new(state::AppState::open(config.clone(), &data_dir, url.clone())?);
        uploads::repair_interrupted_completes(&state).map_err(StartError::Database)?;
        uploads::sweep_expired(&state).map_err(StartError::Database)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, api::app(state), stop_rx));
        Ok(EmulatorHandle { url, addr, api_key: config.api_key, data_dir, stop_tx, task, _temp: temp })
    }
}

fn display_addr(addr: SocketAddr) -> String {
    // A wildcard bind is reached through loopback.
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    format!("{ip}:{}", addr.port())
}

/// A running emulator. Dropping it without `shutdown` leaves the server running until the
/// runtime ends.
pub struct EmulatorHandle {
    url: String,
    addr: SocketAddr,
    api_key: String,
    data_dir: PathBuf,
    stop_tx: watch::Sender<bool>,
    task: JoinHandle<()>,
    _temp: Option<tempfile::TempDir>,
}

impl EmulatorHandle {
    /// The API origin, e.g. `http://127.0.0.1:41234` (API under `/api/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The default key (every scope).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops accepting, closes every connection and, without `--data-dir`, removes the state.
    pub async fn shutdown(self) {
        let _ = self.stop_tx.send(true);
        let _ = self.task.await;
    }
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle").field("url", &self.url).field("data_dir", &self.data_dir).finish()
    }
}
