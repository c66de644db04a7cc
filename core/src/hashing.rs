//! SHA-256 on a blocking thread, fed in order from async code, so that hashing never runs on
//! the runtime's worker threads.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::{Error, ErrorKind, Result};

pub(crate) struct SequentialHasher {
    tx: mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<String>,
}

impl SequentialHasher {
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let task = tokio::task::spawn_blocking(move || {
            let mut sha = Sha256::new();
            while let Some(chunk) = rx.blocking_recv() {
                sha.update(&chunk);
            }
            hex::encode(sha.finalize())
        });
        SequentialHasher { tx, task }
    }

    /// Feeds from a task that cannot borrow the hasher.
    pub fn sender(&self) -> mpsc::Sender<Bytes> {
        self.tx.clone()
    }

    pub async fn feed(&self, chunk: Bytes) {
        // The receiver only goes away with the task, which `finish` reports.
        let _ = self.tx.send(chunk).await;
    }

    /// The lowercase hex digest of everything fed.
    pub async fn finish(self, call: &str) -> Result<String> {
        drop(self.tx);
        self.task.await.map_err(|e| Error::new(ErrorKind::Io, call, format!("hashing failed: {e}")))
    }
}
