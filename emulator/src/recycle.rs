//! Files of dropped objects, kept for new large objects to be written over.
//!
//! Writing into a new file costs far more than writing over one whose pages are still cached:
//! each new page-cache page must be allocated and, on a VM that hands freed memory back to its
//! host (this one does), faulted in again. `dd` of 1 GiB here took 0.55–1.07 s of kernel time
//! into a new file and 0.24–0.34 s over a cached one. Databases recycle their log files for the
//! same reason. So the objects a reset drops come here, up to `KEEP_BYTES`, and a large upload
//! writes over one of these files. Their old bytes never show: a single PUT's file becomes an
//! object only once it was written whole and cut to its length, a multipart upload's only once
//! every part was written, and no object is kept while any is being served. (Only objects are
//! kept: their disk blocks are their length, where a broken-off PUT's may hold blocks reserved
//! for bytes that never came.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::random_token;

/// The most bytes kept: one large object of a test run, with room to spare.
const KEEP_BYTES: u64 = 2 << 30;
/// Smaller objects gain little and would cut up files kept for large ones.
const MIN_BYTES: u64 = 1 << 20;

pub(crate) struct Recycled {
    dir: PathBuf,
    files: Mutex<Vec<(PathBuf, u64)>>,
    /// Objects being served: while any is, dropped objects are deleted instead of kept.
    readers: Arc<Mutex<usize>>,
}

/// An object being served (see `Recycled::reading`).
pub(crate) struct Reading(Arc<Mutex<usize>>);

impl Drop for Reading {
    fn drop(&mut self) {
        *lock(&self.0) -= 1;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Recycled {
    /// The pool in `dir`, emptied: what an earlier run kept is let go rather than holding disk
    /// space across restarts.
    pub fn open(dir: PathBuf) -> std::io::Result<Recycled> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(Recycled { dir, files: Mutex::new(Vec::new()), readers: Arc::new(Mutex::new(0)) })
    }

    /// Taken before an object's file is opened to be served, and held until its last byte
    /// went out: a kept file is written over, and its reader would send the new bytes.
    pub fn reading(&self) -> Reading {
        *lock(&self.readers) += 1;
        Reading(self.readers.clone())
    }

    /// Drops the files of objects that nothing writes any more: kept when large enough and
    /// while no object is being served (see `reading`), else deleted. Only the renames happen
    /// under the lock that serving takes: deleting a cached GiB takes a quarter of a second.
    /// Blocking.
    pub fn drop_objects(&self, paths: impl IntoIterator<Item = PathBuf>) {
        let unkept: Vec<PathBuf> = {
            let readers = lock(&self.readers);
            paths.into_iter().filter(|path| *readers > 0 || !self.keep(path)).collect()
        };
        for path in unkept {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Moves the file at `path` into the pool when it is large and fits.
    fn keep(&self, path: &Path) -> bool {
        let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else { return false };
        if len < MIN_BYTES {
            return false;
        }
        let mut files = lock(&self.files);
        let held: u64 = files.iter().map(|(_, len)| len).sum();
        if held + len > KEEP_BYTES {
            return false;
        }
        let kept = self.dir.join(random_token(8));
        if std::fs::rename(path, &kept).is_err() {
            return false;
        }
        files.push((kept, len));
        true
    }

    /// Moves the kept file that suits an object of `len` bytes best to `path`, which must not
    /// exist: the smallest that holds it, else the largest, of those at most twice as long.
    /// (Cutting off a page costs about as much as writing over one saves: a 1 GiB file cut
    /// to 99 MB took a 99 MB PUT from 0.14 to 0.4 s.) False when there is none; then the
    /// caller makes a new file. The file keeps its old length and bytes. Blocking.
    pub fn take(&self, path: &Path, len: u64) -> bool {
        if len < MIN_BYTES {
            return false;
        }
        let chosen = {
            let mut files = lock(&self.files);
            let fitting = || files.iter().enumerate().filter(|(_, f)| f.1 <= len.saturating_mul(2));
            let holding = fitting().filter(|(_, f)| f.1 >= len).min_by_key(|(_, f)| f.1);
            let best = holding.or_else(|| fitting().max_by_key(|(_, f)| f.1)).map(|(i, _)| i);
            match best {
                Some(i) => files.swap_remove(i).0,
                None => return false,
            }
        };
        if std::fs::rename(&chosen, path).is_err() {
            let _ = std::fs::remove_file(&chosen);
            return false;
        }
        true
    }

    /// `take`, then cut or grown to exactly `len` bytes: for an upload whose parts write the
    /// file at their offsets, and which becomes an object only once all were written.
    pub fn take_sized(&self, path: &Path, len: u64) -> bool {
        if !self.take(path, len) {
            return false;
        }
        let sized = std::fs::OpenOptions::new().write(true).open(path).and_then(|file| file.set_len(len));
        if sized.is_err() {
            let _ = std::fs::remove_file(path);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(path: &Path, len: u64) {
        let file = std::fs::File::create(path).unwrap();
        file.set_len(len).unwrap();
    }

    #[test]
    fn large_files_are_kept_up_to_the_limit_and_taken_best_fit() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Recycled::open(dir.path().join("recycled")).unwrap();
        let [small, two, five, eight, huge] = ["s", "2", "5", "8", "h"].map(|name| dir.path().join(name));
        file_of(&small, MIN_BYTES - 1);
        file_of(&two, 2 << 20);
        file_of(&five, 5 << 20);
        file_of(&eight, 8 << 20);
        file_of(&huge, KEEP_BYTES);
        pool.drop_objects([&small, &two, &five, &eight, &huge].map(|path| path.to_path_buf()));
        for path in [&small, &two, &five, &eight, &huge] {
            assert!(!path.exists());
        }
        // The small one and the one over the limit were deleted.
        assert_eq!(std::fs::read_dir(dir.path().join("recycled")).unwrap().count(), 3);

        let target = dir.path().join("target");
        let taken = |len: u64| {
            let _ = std::fs::remove_file(&target);
            pool.take(&target, len).then(|| std::fs::metadata(&target).unwrap().len())
        };
        assert_eq!(taken(MIN_BYTES - 1), None, "small objects get new files");
        assert_eq!(taken(3 << 20), Some(5 << 20), "the smallest that holds 3 MiB, not over twice as long");
        assert_eq!(taken(3 << 20), Some(2 << 20), "else the largest that does not hold it");
        assert_eq!(taken(3 << 20), None, "8 MiB is over twice as long");
        assert_eq!(taken(4 << 20), Some(8 << 20));
        assert_eq!(taken(4 << 20), None, "the pool is empty");

        file_of(&eight, 8 << 20);
        pool.drop_objects([eight.clone()]);
        assert!(pool.take_sized(&target, 5 << 20));
        assert_eq!(std::fs::metadata(&target).unwrap().len(), 5 << 20);
    }

    #[test]
    fn objects_are_not_kept_while_one_is_being_served() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Recycled::open(dir.path().join("recycled")).unwrap();
        let (served, dropped) = (dir.path().join("served"), dir.path().join("dropped"));
        file_of(&served, 4 << 20);
        file_of(&dropped, 4 << 20);
        let reading = pool.reading();
        pool.drop_objects([dropped.clone()]);
        assert!(!dropped.exists());
        assert!(!pool.take(&dir.path().join("x"), 4 << 20), "deleted, not kept");
        drop(reading);
        pool.drop_objects([served.clone()]);
        assert!(pool.take(&dir.path().join("y"), 4 << 20));
    }

    #[test]
    fn what_an_earlier_run_kept_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let recycled = dir.path().join("recycled");
        std::fs::create_dir_all(&recycled).unwrap();
        file_of(&recycled.join("old"), 4 << 20);
        let pool = Recycled::open(recycled.clone()).unwrap();
        assert_eq!(std::fs::read_dir(&recycled).unwrap().count(), 0);
        assert!(!pool.take(&dir.path().join("x"), 4 << 20));
    }
}
