//! SHA-256 fed in order from async code, beside the transfer it checks. Batches of more than a
//! few tens of KiB are hashed on the blocking pool, so that hashing does not hold up the
//! runtime's workers; a blocking thread is taken only while there are bytes to hash, never
//! while waiting for them (one held per transfer ran the pool dry at 512 transfers at once,
//! and their file writes then waited for ever).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::{Error, ErrorKind, Result};

/// Bytes hashed right where they are: ~40 µs of SHA-NI, less than a hand-off to another
/// thread and back. More go to the blocking pool.
pub(crate) const HASH_IN_PLACE_MAX: usize = 64 * 1024;
/// Chunks queued at once are hashed in one go, up to this many bytes.
const BATCH_MAX: usize = 4 << 20;

pub(crate) struct SequentialHasher {
    tx: mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<std::result::Result<String, tokio::task::JoinError>>,
}

impl SequentialHasher {
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let task = tokio::spawn(async move {
            let mut sha = Sha256::new();
            while let Some(first) = rx.recv().await {
                let mut len = first.len();
                let mut batch = vec![first];
                while len < BATCH_MAX {
                    let Ok(chunk) = rx.try_recv() else { break };
                    len += chunk.len();
                    batch.push(chunk);
                }
                if len <= HASH_IN_PLACE_MAX {
                    batch.iter().for_each(|chunk| sha.update(chunk));
                } else {
                    sha = tokio::task::spawn_blocking(move || {
                        batch.iter().for_each(|chunk| sha.update(chunk));
                        sha
                    })
                    .await?;
                }
            }
            Ok(hex::encode(sha.finalize()))
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
        let hashed = self.task.await.and_then(|digest| digest);
        hashed.map_err(|e| Error::new(ErrorKind::Io, call, format!("hashing failed: {e}")))
    }
}
