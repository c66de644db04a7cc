//! `folders.mirror`: a local folder tree recreated remotely, as a recursive upload does first.

mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fluidcloud::ErrorKind;
use support::*;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn mirror_recreates_the_tree_and_lists_its_files() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("photos");
    write(&root.join("cover.jpg"), b"cover");
    write(&root.join("2024/summer/beach.jpg"), &[1u8; 1000]);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("2024/up")).unwrap();
    std::os::unix::fs::symlink(root.join("gone.jpg"), root.join("dangling.jpg")).unwrap();
    let fifo = std::ffi::CString::new(root.join("pipe").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let tree = client.folders().mirror(&root, &space, None).await.unwrap();
    let names: Vec<&str> = tree.folders.iter().map(|(_, f)| f.name.as_str()).collect();
    assert_eq!(names, ["photos", "2024", "empty", "summer"], "parents before children");
    let id_of = |name: &str| tree.folders.iter().find(|(_, f)| f.name == name).unwrap().1.id.clone();
    let parent_of = |name: &str| tree.folders.iter().find(|(_, f)| f.name == name).unwrap().1.parent_id.clone();
    assert_eq!(parent_of("photos"), None);
    assert_eq!(parent_of("2024"), Some(id_of("photos")));
    assert_eq!(parent_of("summer"), Some(id_of("2024")));
    let files: Vec<(String, String, u64)> = tree
        .files
        .iter()
        .map(|f| (f.path.file_name().unwrap().to_string_lossy().into_owned(), f.folder_id.clone(), f.size))
        .collect();
    assert_eq!(files, [("cover.jpg".to_string(), id_of("photos"), 5), ("beach.jpg".to_string(), id_of("summer"), 1000)]);
    let skipped: Vec<(String, &str)> =
        tree.skipped.iter().map(|(p, why)| (p.file_name().unwrap().to_string_lossy().into_owned(), *why)).collect();
    assert_eq!(
        skipped,
        [
            ("dangling.jpg".to_string(), "a symbolic link to nothing"),
            ("pipe".to_string(), "not a regular file"),
            ("up".to_string(), "a symbolic link to a folder")
        ]
    );

    // Again: every folder is reused, none is made twice.
    let again = client.folders().mirror(&root, &space, None).await.unwrap();
    let ids = |t: &fluidcloud::Tree| t.folders.iter().map(|(_, f)| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&tree));
    let under_photos = client.folders().list(&space, Some(&id_of("photos")), false).await.unwrap();
    assert_eq!(under_photos.len(), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_bad_name_anywhere_fails_before_anything_is_created() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docs");
    write(&root.join("a/b").join(OsStr::from_bytes(b"caf\xe9.txt")), b"latin-1 name");
    let err = client.folders().mirror(&root, &space, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("is not UTF-8"), "{err}");
    assert!(client.folders().list(&space, None, false).await.unwrap().is_empty(), "no folder was made");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_missing_folder_or_a_plain_file_is_a_clear_error() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let tmp = tempfile::tempdir().unwrap();
    let missing = client.folders().mirror(&tmp.path().join("nope"), &space, None).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Io);
    assert!(missing.to_string().contains("nope"), "{missing}");
    write(&tmp.path().join("plain.txt"), b"x");
    let plain = client.folders().mirror(&tmp.path().join("plain.txt"), &space, None).await.unwrap_err();
    assert_eq!(plain.kind(), ErrorKind::InvalidInput);
    assert!(plain.to_string().contains("is not a folder"), "{plain}");
    emu.shutdown().await;
}
