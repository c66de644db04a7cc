//! FluidCloud SDK core: the async [`Client`], a [`blocking`] facade, typed models, one
//! [`Error`] type, retries, and the upload pipeline. The C, Python and Node packages are thin
//! layers over this crate.

pub mod blocking;
mod client;
mod download;
mod hashing;
mod error;
mod http;
mod tree;
mod upload;
pub mod models;
pub mod ops;
pub mod transport;

pub use client::{Client, ClientOptions, Files, Folders, QuotaApi, Shares, Spaces, DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, ENV_API_KEY, ENV_BASE_URL};
pub use error::{Detail, Error, ErrorKind, Result};
pub use models::*;
pub use tokio_util::sync::CancellationToken;
pub use download::DownloadOptions;
pub use tree::{Tree, TreeFile};
pub use upload::{Progress, UploadOptions, UploadSource};
