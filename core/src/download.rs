//! `files.download`: streams the presigned download URL to a file, verifies size and SHA-256
//! against the file's metadata, and resumes with `Range` after a broken connection.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::client::Files;
use crate::hashing::SequentialHasher;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{cancellable, retry_delay, status_error, transport_error, Retry};
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

/// How many names a part file may try before giving up: each is random, so a taken one means
/// a planted file or a collision, and a few more draws settle either.
const PART_NAME_TRIES: u32 = 16;

/// The part file's candidate names: `.{dest's name}.{random}.fcpart` in dest's folder.
fn part_names(dest: &Path) -> Result<impl Iterator<Item = PathBuf> + '_> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::invalid(CALL, format!("'{}' is not a file path", dest.display())))?;
    Ok((0..PART_NAME_TRIES).map(move |_| {
        let mut part = std::ffi::OsString::from(".");
        part.push(name);
        part.push(format!(".{:016x}.fcpart", rand::random::<u64>()));
        dest.with_file_name(part)
    }))
}

/// The part file a download writes before it is renamed over `dest`, so `dest` is never
/// half-written and two downloads to one `dest` never share bytes. Removed when dropped
/// unless it was moved into place, so an error, a cancellation or a dropped future (an
/// aborted task, a cancelled Python coroutine) leaves nothing behind.
struct PartFile {
    path: PathBuf,
    moved: bool,
}

impl PartFile {
    /// Creates the first free name of `names`, exclusively: a file or symlink planted at a
    /// name makes it skipped, never followed or truncated.
    fn create(names: impl Iterator<Item = PathBuf>) -> Result<(PartFile, std::fs::File)> {
        let mut last = None;
        for path in names {
            // A plain open(2), done here rather than on the blocking pool so that no drop of
            // the future can fall between the file's creation and its guard.
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((PartFile { path, moved: false }, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some((path, e)),
                Err(e) => return Err(Error::io(CALL, format!("cannot create {}", path.display()), e)),
            }
        }
        let (path, e) = last.ok_or_else(|| Error::new(ErrorKind::Internal, CALL, "no part file name to try"))?;
        Err(Error::io(CALL, format!("cannot create a part file such as {}", path.display()), e))
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.moved {
            // Drop cannot await; this is a single unlink.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Files<'_> {
    /// Downloads the file to `dest` and returns its metadata. The bytes go to a part file of
    /// their own beside `dest` (`.{name}.{random}.fcpart`), which replaces `dest` only once
    /// complete and verified; however the call ends otherwise, the part file is removed.
    /// Concurrent downloads to the same `dest` each write their own part file and each
    /// succeed: `dest` then holds the one renamed last, whole.
    pub async fn download(self, file_id: &str, dest: impl AsRef<Path>, options: DownloadOptions) -> Result<File> {
        let dest = dest.as_ref().to_path_buf();
        let names = part_names(&dest)?;
        // Found now rather than when the bytes are all in and the rename fails.
        if tokio::fs::metadata(&dest).await.is_ok_and(|m| m.is_dir()) {
            let e = std::io::Error::from(std::io::ErrorKind::IsADirectory);
            return Err(Error::io(CALL, format!("cannot download to {}", dest.display()), e));
        }
        let cancel = options.cancel.clone().unwrap_or_default();
        let mut part = None;
        let file = cancellable(Some(&cancel), CALL, self.download_to(file_id, names, &mut part, &options, &cancel)).await??;
        let Some(mut part) = part else {
            return Err(Error::new(ErrorKind::Internal, CALL, "the download finished without a part file"));
        };
        tokio::fs::rename(&part.path, &dest)
            .await
            .map_err(|e| Error::io(CALL, format!("cannot move the download to {}", dest.display()), e))?;
        part.moved = true;
        Ok(file)
    }

    /// Streams the file into a new part file, left in `part` (the caller's, so that it is
    /// removed whenever the caller's future ends, this one's included).
    async fn download_to(
        &self,
        file_id: &str,
        names: impl Iterator<Item = PathBuf>,
        part: &mut Option<PartFile>,
        options: &DownloadOptions,
        cancel: &CancellationToken,
    ) -> Result<File> {
        let file = self.get(file_id).await.map_err(|e| e.with_call(CALL))?;
        let size = file.size.ok_or_else(|| Error::new(ErrorKind::Api, CALL, "the file's metadata has no size"))?;
        let expected_sha = file.sha256.clone();
        let (created, out) = PartFile::create(names)?;
        let partial = &part.insert(created).path;
        let mut out = tokio::fs::File::from_std(out);
        let mut hasher = SequentialHasher::start();
        let mut written = 0u64;
        let mut url = self.download_url(file_id).await.map_err(|e| e.with_call(CALL))?.url;
        // Breaks in a row without a byte between them, and fresh URLs asked for.
        let (mut failures, mut refreshes) = (0u32, 0u32);
        let max_retries = self.c.options().max_retries;
        // Progress only goes forward, also when a server that ignores `Range` makes us start over.
        let mut reported = 0u64;
        if let Some(p) = &options.progress {
            p(0, size);
        }
        while written < size {
            let resp = match self.get_from(&url, written, cancel).await {
                Ok(resp) => resp,
                Err(e) if e.kind() == ErrorKind::Permission && refreshes < max_retries => {
                    // The presigned URL expired while we resumed: get a fresh one.
                    refreshes += 1;
                    url = self.download_url(file_id).await.map_err(|e| e.with_call(CALL))?.url;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if written > 0 && resp.status == 200 {
                // The server ignored the range: start over.
                out.set_len(0).await.map_err(|e| Error::io(CALL, "cannot truncate the part file", e))?;
                // Through the open handle, never by name again: the name could have been
                // swapped for a symlink since.
                out.rewind().await.map_err(|e| Error::io(CALL, "cannot rewind the part file", e))?;
                hasher = SequentialHasher::start();
                written = 0;
            }
            let mut body = resp.body;
            let mut broke = None;
            let resumed_at = written;
            while let Some(chunk) = body.next().await {
                match chunk {
                    Ok(chunk) => {
                        if written + chunk.len() as u64 > size {
                            return Err(Error::integrity(CALL, format!("the download is longer than the file's size of {size} bytes")));
                        }
                        out.write_all(&chunk).await.map_err(|e| Error::io(CALL, format!("cannot write {}", partial.display()), e))?;
                        written += chunk.len() as u64;
                        hasher.feed(chunk).await;
                        if let Some(p) = options.progress.as_ref().filter(|_| written > reported) {
                            reported = written;
                            p(written, size);
                        }
                    }
                    Err(e) => {
                        broke = Some(transport_error(CALL, e));
                        break;
                    }
                }
            }
            if written > resumed_at {
                failures = 0;
            }
            match broke {
                // Resumed from `written` on the next turn, after a pause as for any retry.
                Some(_) if failures < max_retries => {
                    cancellable(Some(cancel), CALL, tokio::time::sleep(retry_delay(failures, None))).await?;
                    failures += 1;
                }
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

#[cfg(test)]
mod tests {
    use super::{part_names, PartFile};
    use std::path::PathBuf;

    #[test]
    fn part_files_are_hidden_random_and_beside_dest() {
        let dest = PathBuf::from("/data/report.pdf");
        let names: Vec<PathBuf> = part_names(&dest).unwrap().take(2).collect();
        assert_ne!(names[0], names[1]);
        for name in &names {
            assert_eq!(name.parent(), dest.parent());
            let file_name = name.file_name().unwrap().to_str().unwrap();
            assert!(file_name.starts_with(".report.pdf.") && file_name.ends_with(".fcpart"), "{file_name}");
        }
        assert!(part_names(&PathBuf::from("/")).is_err(), "no file name");
    }

    /// A symlink planted at a name the part file would take, to a file or to nowhere, is
    /// skipped: its target is neither written, truncated nor created.
    #[test]
    fn a_planted_symlink_is_skipped_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"precious").unwrap();
        let nowhere = dir.path().join("created-through-a-dangling-link");
        let to_victim = dir.path().join(".out.bin.1.fcpart");
        let dangling = dir.path().join(".out.bin.2.fcpart");
        std::os::unix::fs::symlink(&victim, &to_victim).unwrap();
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        let free = dir.path().join(".out.bin.3.fcpart");
        let names = vec![to_victim.clone(), dangling.clone(), free.clone()];
        let (part, mut file) = PartFile::create(names.into_iter()).unwrap();
        assert_eq!(part.path, free);
        std::io::Write::write_all(&mut file, b"new bytes").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(!nowhere.exists(), "the dangling link's target was not created");
        assert!(std::fs::symlink_metadata(&to_victim).unwrap().file_type().is_symlink());
        drop(part);
        assert!(!free.exists(), "an unfinished part file is removed on drop");

        let err = PartFile::create(vec![to_victim.clone()].into_iter()).err().unwrap();
        assert_eq!(err.kind(), crate::ErrorKind::Io, "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
