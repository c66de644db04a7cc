//! `files.download`: streams the presigned download URL to a file, verifies size and SHA-256
//! against the file's metadata, and resumes with `Range` after a broken connection.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::client::Files;
use crate::hashing::SequentialHasher;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{cancellable, status_error, transport_error, Retry};
use crate::models::File;
use crate::transport::{HeaderMap, HeaderValue, HttpRequest, HttpResponse, Method, RequestBody, Url};
use crate::upload::Progress;

const CALL: &str = "files.download";

#[derive(Clone, Default)]
pub struct DownloadOptions {
    /// Called with (bytes written, total).
    pub progress: Option<Progress>,
    pub cancel: Option<CancellationToken>,
}

impl std::fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// The part file beside `dest`, renamed over it once verified, so `dest` is never half-written.
fn partial_path(dest: &Path) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::invalid(CALL, format!("'{}' is not a file path", dest.display())))?;
    let mut partial = name.to_os_string();
    partial.push(format!(".fcpart-{}", std::process::id()));
    Ok(dest.with_file_name(partial))
}

impl Files<'_> {
    /// Downloads the file to `dest` and returns its metadata.
    pub async fn download(&self, file_id: &str, dest: impl AsRef<Path>, options: DownloadOptions) -> Result<File> {
        let dest = dest.as_ref().to_path_buf();
        let partial = partial_path(&dest)?;
        // Found now rather than when the bytes are all in and the rename fails.
        if tokio::fs::metadata(&dest).await.is_ok_and(|m| m.is_dir()) {
            let e = std::io::Error::from(std::io::ErrorKind::IsADirectory);
            return Err(Error::io(CALL, format!("cannot download to {}", dest.display()), e));
        }
        let cancel = options.cancel.clone().unwrap_or_default();
        let result = cancellable(Some(&cancel), CALL, self.download_to(file_id, &partial, &options, &cancel)).await;
        match result {
            Ok(Ok(file)) => match tokio::fs::rename(&partial, &dest).await {
                Ok(()) => Ok(file),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&partial).await;
                    Err(Error::io(CALL, format!("cannot move the download to {}", dest.display()), e))
                }
            },
            Ok(Err(e)) | Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    async fn download_to(&self, file_id: &str, partial: &Path, options: &DownloadOptions, cancel: &CancellationToken) -> Result<File> {
        let file = self.get(file_id).await.map_err(|e| e.with_call(CALL))?;
        let size = file.size.ok_or_else(|| Error::new(ErrorKind::Api, CALL, "the file's metadata has no size"))?;
        let expected_sha = file.sha256.clone();
        let mut out = tokio::fs::File::create(partial)
            .await
            .map_err(|e| Error::io(CALL, format!("cannot create {}", partial.display()), e))?;
        let mut hasher = SequentialHasher::start();
        let mut written = 0u64;
        let mut url = self.download_url(file_id).await.map_err(|e| e.with_call(CALL))?.url;
        let mut failures = 0u32;
        let max_retries = self.c.options().max_retries;
        if let Some(p) = &options.progress {
            p(0, size);
        }
        while written < size {
            let resp = match self.get_from(&url, written, cancel).await {
                Ok(resp) => resp,
                Err(e) if e.kind() == ErrorKind::Permission && failures < max_retries => {
                    // The presigned URL expired while we resumed: get a fresh one.
                    failures += 1;
                    url = self.download_url(file_id).await.map_err(|e| e.with_call(CALL))?.url;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if written > 0 && resp.status == 200 {
                // The server ignored the range: start over.
                out.set_len(0).await.map_err(|e| Error::io(CALL, "cannot truncate the part file", e))?;
                out = reopen(partial).await?;
                hasher = SequentialHasher::start();
                written = 0;
            }
            let mut body = resp.body;
            let mut broke = None;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => {
                        if written + chunk.len() as u64 > size {
                            return Err(Error::integrity(CALL, format!("the download is longer than the file's size of {size} bytes")));
                        }
                        out.write_all(&chunk).await.map_err(|e| Error::io(CALL, format!("cannot write {}", partial.display()), e))?;
                        written += chunk.len() as u64;
                        hasher.feed(chunk).await;
                        if let Some(p) = &options.progress {
                            p(written, size);
                        }
                    }
                    Err(e) => {
                        broke = Some(transport_error(CALL, e));
                        break;
                    }
                }
            }
            match broke {
                // Resumed from `written` on the next turn.
                Some(_) if failures < max_retries => failures += 1,
                Some(e) => return Err(e),
                None if written < size => {
                    return Err(Error::integrity(CALL, format!("the download ended after {written} of {size} bytes")));
                }
                None => break,
            }
        }
        out.flush().await.map_err(|e| Error::io(CALL, "cannot flush the part file", e))?;
        out.sync_all().await.map_err(|e| Error::io(CALL, "cannot sync the part file", e))?;
        let sha = hasher.finish(CALL).await?;
        if let Some(expected) = expected_sha {
            if !expected.eq_ignore_ascii_case(&sha) {
                return Err(Error::integrity(CALL, format!("sha256 mismatch: expected {expected}, downloaded {sha}")));
            }
        }
        Ok(file)
    }

    /// GET from `offset` on (a `Range` request past the first byte), retried as safe.
    async fn get_from(&self, url: &str, offset: u64, cancel: &CancellationToken) -> Result<HttpResponse> {
        let mut headers = HeaderMap::new();
        if offset > 0 {
            let range = HeaderValue::from_str(&format!("bytes={offset}-")).map_err(|e| Error::invalid(CALL, e.to_string()))?;
            headers.insert("range", range);
        }
        let http = self.c.http();
        let url = Url::parse(url).map_err(|e| Error::new(ErrorKind::Api, CALL, format!("the server sent an invalid download URL: {e}")))?;
        let resp = http
            .retrying(CALL, Retry::Idempotent, Some(cancel), || {
                let request = HttpRequest { method: Method::GET, url: url.clone(), headers: headers.clone(), body: RequestBody::Empty };
                http.transport.send(request)
            })
            .await?;
        if offset > 0 && resp.status == 206 {
            let starts_right = resp
                .header("content-range")
                .and_then(|r| r.strip_prefix("bytes "))
                .and_then(|r| r.split('-').next())
                .and_then(|start| start.parse::<u64>().ok())
                == Some(offset);
            if !starts_right {
                return Err(Error::integrity(CALL, "the server resumed at another offset than asked"));
            }
        } else if resp.status != 200 {
            return Err(status_error(CALL, resp).await);
        }
        Ok(resp)
    }
}

async fn reopen(path: &Path) -> Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .await
        .map_err(|e| Error::io(CALL, format!("cannot reopen {}", path.display()), e))
}
