//! A local folder tree recreated remotely, which is what a recursive upload does before any
//! byte goes up: every folder exists first, so the files can then go in any order.

use std::path::{Path, PathBuf};

use crate::client::Folders;
use crate::error::{Error, ErrorKind, Result};
use crate::models::Folder;

const CALL: &str = "folders.mirror";

/// What [`Folders::mirror`] made and found.
#[derive(Debug, Default)]
pub struct Tree {
    /// Each local folder with its remote folder, the root first, parents before children.
    pub folders: Vec<(PathBuf, Folder)>,
    /// The regular files below the root, each with the remote folder it belongs in.
    pub files: Vec<TreeFile>,
    /// What was left out, with why.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

#[derive(Debug)]
pub struct TreeFile {
    pub path: PathBuf,
    pub folder_id: String,
    pub size: u64,
}

/// The local side, read in full before anything is created remotely, so that a bad name or
/// an unreadable folder leaves nothing half made.
#[derive(Default)]
struct Scan {
    /// (path, name, index of its parent in `dirs`); the root has no parent.
    dirs: Vec<(PathBuf, String, Option<usize>)>,
    /// (path, size, index of its folder in `dirs`)
    files: Vec<(PathBuf, u64, usize)>,
    skipped: Vec<(PathBuf, &'static str)>,
}

fn utf8_name(path: &Path) -> Result<String> {
    let name = match path.file_name() {
        Some(n) => n.to_os_string(),
        // `.`, `..` or `dir/..`: the folder is named after what it really is.
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_os_string()))
            .ok_or_else(|| Error::invalid(CALL, format!("{} has no name to give its folder", path.display())))?,
    };
    name.into_string().map_err(|_| Error::invalid(CALL, format!("the name of {} is not UTF-8", path.display())))
}

fn scan(root: &Path) -> Result<Scan> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(CALL, format!("cannot read {}", root.display()), e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(CALL, format!("{} is not a folder", root.display())));
    }
    let mut found = Scan::default();
    found.dirs.push((root.to_path_buf(), utf8_name(root)?, None));
    let mut next = 0;
    while next < found.dirs.len() {
        let dir = found.dirs[next].0.clone();
        let cannot = |e: std::io::Error| Error::io(CALL, format!("cannot read the folder {}", dir.display()), e);
        let mut entries = std::fs::read_dir(&dir).map_err(cannot)?.collect::<std::io::Result<Vec<_>>>().map_err(cannot)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if link && e.kind() == std::io::ErrorKind::NotFound => {
                    found.skipped.push((path, "a symbolic link to nothing"));
                    continue;
                }
                Err(e) => return Err(Error::io(CALL, format!("cannot read {}", path.display()), e)),
            };
            if meta.is_dir() && link {
                // Following links to folders can loop forever.
                found.skipped.push((path, "a symbolic link to a folder"));
            } else if meta.is_dir() {
                let name = utf8_name(&path)?;
                found.dirs.push((path, name, Some(next)));
            } else if meta.is_file() {
                utf8_name(&path)?;
                found.files.push((path, meta.len(), next));
            } else {
                found.skipped.push((path, "not a regular file"));
            }
        }
        next += 1;
    }
    Ok(found)
}

impl Folders<'_> {
    /// Recreates the local folder `root` (named after it) and every folder below it under
    /// `parent_id` (`None` = the space root), reusing folders that already exist, and lists
    /// the regular files to upload into them. Symbolic links to folders or to nothing, and
    /// anything that is not a regular file, are skipped; every name must be UTF-8. The local tree is read in
    /// full first: a bad name or an unreadable folder fails before anything is created.
    pub async fn mirror(&self, root: &Path, space_id: &str, parent_id: Option<&str>) -> Result<Tree> {
        let root = root.to_path_buf();
        let found = tokio::task::spawn_blocking(move || scan(&root))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, CALL, format!("the folder scan stopped: {e}")))??;
        let mut tree = Tree { skipped: found.skipped, ..Tree::default() };
        // Parents come before their children in `dirs`, so each parent's id is known in turn.
        for (path, name, parent) in found.dirs {
            let parent_id = match parent {
                Some(i) => Some(tree.folders[i].1.id.as_str()),
                None => parent_id,
            };
            let folder = self.ensure(&name, space_id, parent_id).await?;
            tree.folders.push((path, folder));
        }
        tree.files = found
            .files
            .into_iter()
            .map(|(path, size, dir)| TreeFile { path, folder_id: tree.folders[dir].1.id.clone(), size })
            .collect();
        Ok(tree)
    }
}
