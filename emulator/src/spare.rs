//! Empty files made ahead of time for the bytes of new single PUTs.
//!
//! Creating a file can cost far more than writing it: ext4 without a journal (common on CI
//! machines and VMs, this one included) looks at every inode freed in the last minute or more
//! before it hands out a new one. Right after a few thousand files were deleted nearby (a
//! package install, a test run's temporary folders) that took a 16 KiB PUT here from ~0.7 to
//! 2.5–2.8 ms. A PUT therefore renames a file made earlier on a background thread, which keeps
//! that cost off the request's path (1.2–1.4 ms in the same conditions).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::random_token;

/// Below this many, a refill starts; it makes files up to `FULL`.
const LOW: usize = 6;
const FULL: usize = 16;

pub(crate) struct SpareFiles {
    dir: PathBuf,
    ready: Mutex<Vec<PathBuf>>,
    refilling: AtomicBool,
}

impl SpareFiles {
    /// The pool in `dir`, with whatever an earlier run left there (only ever empty files).
    pub fn open(dir: PathBuf) -> std::io::Result<Arc<SpareFiles>> {
        std::fs::create_dir_all(&dir)?;
        let ready = std::fs::read_dir(&dir)?.flatten().map(|entry| entry.path()).collect();
        Ok(Arc::new(SpareFiles { dir, ready: Mutex::new(ready), refilling: AtomicBool::new(false) }))
    }

    fn ready(&self) -> MutexGuard<'_, Vec<PathBuf>> {
        self.ready.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves an empty file to `path`, which must not exist yet. False when none was ready:
    /// the caller creates the file itself. Blocking.
    pub fn take(self: &Arc<Self>, path: &Path) -> bool {
        let (spare, left) = {
            let mut ready = self.ready();
            (ready.pop(), ready.len())
        };
        if left < LOW {
            self.refill();
        }
        spare.is_some_and(|spare| std::fs::rename(spare, path).is_ok())
    }

    fn refill(self: &Arc<Self>) {
        if self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.clone();
        let fill = move || {
            while pool.ready().len() < FULL {
                let path = pool.dir.join(random_token(8));
                // A full disk or a vanished folder only means PUTs create their own files.
                if std::fs::OpenOptions::new().write(true).create_new(true).open(&path).is_err() {
                    break;
                }
                pool.ready().push(path);
            }
            pool.refilling.store(false, Ordering::Release);
        };
        if std::thread::Builder::new().name("spare-files".into()).spawn(fill).is_err() {
            self.refilling.store(false, Ordering::Release);
        }
    }

    #[cfg(test)]
    fn wait_for_refill(&self) {
        while self.refilling.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn files_are_taken_then_made_again_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let spare_dir = dir.path().join("spare");
        std::fs::create_dir_all(&spare_dir).unwrap();
        std::fs::write(spare_dir.join("left-by-an-earlier-run"), b"").unwrap();
        let pool = SpareFiles::open(spare_dir.clone()).unwrap();

        let first = dir.path().join("first");
        assert!(pool.take(&first), "the file an earlier run left is used");
        assert!(first.exists() && !spare_dir.join("left-by-an-earlier-run").exists());
        // That take found the pool low and started a refill.
        pool.wait_for_refill();
        assert_eq!(count(&spare_dir), FULL);
        let second = dir.path().join("second");
        assert!(pool.take(&second));
        assert_eq!(std::fs::metadata(&second).unwrap().len(), 0);
        assert_eq!(count(&spare_dir), FULL - 1);
    }

    #[test]
    fn an_empty_pool_that_cannot_refill_leaves_creating_to_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let pool = SpareFiles::open(dir.path().join("spare")).unwrap();
        std::fs::remove_dir(dir.path().join("spare")).unwrap();
        assert!(!pool.take(&dir.path().join("x")));
        pool.wait_for_refill();
        assert!(!pool.take(&dir.path().join("y")));
    }
}
