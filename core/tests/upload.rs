//! The upload pipeline and downloads, against the in-process emulator.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fluidcloud::{CancellationToken, DownloadOptions, ErrorKind, UploadOptions, UploadSource};
use fluidcloud_emulator::Config;
use serde_json::json;
use support::*;

/// Multipart from 1 KiB, parts of 256 bytes: every test exercises many parts cheaply.
fn small() -> Config {
    Config { multipart_threshold: 1024, part_size: 256, ..Config::default() }
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed).collect()
}

/// The names of what `dir` holds.
fn names_in(dir: &std::path::Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect()
}

/// Progress calls, recorded.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<(u64, u64)>>>);

impl Calls {
    fn callback(&self) -> fluidcloud::Progress {
        let calls = self.0.clone();
        Arc::new(move |done, total| calls.lock().unwrap().push((done, total)))
    }

    fn assert_exact(&self, total: u64) {
        let calls = self.0.lock().unwrap().clone();
        assert!(!calls.is_empty());
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0), "not monotonic: {calls:?}");
        assert!(calls.iter().all(|(d, t)| *t == total && *d <= total), "{calls:?}");
        assert_eq!(calls.last(), Some(&(total, total)), "{calls:?}");
        assert_eq!(calls.iter().filter(|(d, _)| *d == total).count(), 1, "the total is reported once: {calls:?}");
    }
}

async fn downloaded(client: &fluidcloud::Client, file_id: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.bin");
    client.files().download(file_id, &dest, DownloadOptions::default()).await.expect("download");
    std::fs::read(&dest).unwrap()
}

/// Each source kind, uploaded and read back byte for byte, with the stored sha256 checked.
async fn round_trip(config: Config, size: usize) {
    let emu = start_with(config).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let bytes = data(size, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, &bytes).unwrap();
    let sources: Vec<(&str, UploadSource)> = vec![
        ("path", UploadSource::path(&path)),
        ("bytes", UploadSource::bytes(bytes.clone())),
        ("reader", UploadSource::reader(std::io::Cursor::new(bytes.clone()), size as u64)),
        ("async reader", UploadSource::async_reader(std::io::Cursor::new(bytes.clone()), size as u64)),
    ];
    for (kind, source) in sources {
        let calls = Calls::default();
        let mut options = UploadOptions::new(&space);
        options.progress = Some(calls.callback());
        let file = client.files().upload(source, options).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(file.size, Some(size as u64), "{kind}");
        assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()), "{kind}");
        let expected_name = if kind == "path" { "photo.png" } else { "upload.bin" };
        assert_eq!(file.original_name, expected_name, "{kind}");
        let expected_type = if kind == "path" { "image/png" } else { "application/octet-stream" };
        assert_eq!(file.mime.as_deref(), Some(expected_type), "{kind}");
        calls.assert_exact(size as u64);
        assert_eq!(downloaded(&client, &file.id).await, bytes, "{kind}");
    }
}

#[tokio::test]
async fn multipart_from_every_source_kind() {
    round_trip(small(), 256 * 9 + 17).await;
}

#[tokio::test]
async fn single_put_from_every_source_kind() {
    round_trip(Config::default(), 5000).await;
}

#[tokio::test]
async fn empty_files_upload_and_download() {
    let emu = start_with(small()).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(Vec::new()), UploadOptions::new(&space)).await.unwrap();
    assert_eq!(file.size, Some(0));
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(b"").as_str()));
    assert!(downloaded(&client, &file.id).await.is_empty());
}

#[tokio::test]
async fn name_type_folder_app_and_client_key_are_sent() {
    let emu = start_with(small()).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let folder = client.folders().create("docs", &space, None).await.unwrap();
    let mut options = UploadOptions::new(&space);
    options.folder_id = Some(folder.id.clone());
    options.name = Some("report.pdf".into());
    options.app = Some("fluidtalk".into());
    options.client_key = Some("msg-42".into());
    let file = client.files().upload(UploadSource::bytes(data(3000, 1)), options).await.unwrap();
    assert_eq!(file.original_name, "report.pdf");
    assert_eq!(file.mime.as_deref(), Some("application/pdf"));
    assert_eq!(file.folder_id.as_deref(), Some(folder.id.as_str()));
    assert_eq!(file.source_app.as_deref(), Some("fluidtalk"));
    let found = client.files().resolve("msg-42", Some("fluidtalk")).await.unwrap();
    assert_eq!(found.id, file.id);
}

#[tokio::test]
async fn storage_and_download_requests_carry_no_credential() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(data(2000, 3)), UploadOptions::new(&space)).await.unwrap();
    let bytes = downloaded(&client, &file.id).await;
    assert_eq!(bytes.len(), 2000);
    let log = recorder.requests();
    let storage: Vec<_> = log.iter().filter(|r| r.url.contains("/_storage/")).collect();
    assert!(storage.len() >= 9, "8 part PUTs and a GET: {}", storage.len());
    for r in storage {
        assert!(r.header("x-api-key").is_none() && r.header("authorization").is_none(), "{} {}", r.method, r.url);
    }
    let api = log.iter().filter(|r| r.url.contains("/api/v1/")).count();
    assert!(log.iter().filter(|r| r.url.contains("/api/v1/")).all(|r| r.header("x-api-key") == Some(emu.api_key())));
    assert!(api >= 3);
}

#[tokio::test]
async fn part_puts_have_exact_lengths_and_no_content_type_single_put_has_its_type() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    client.files().upload(UploadSource::bytes(data(256 * 4 + 10, 2)), UploadOptions::new(&space)).await.unwrap();
    let mut lens: Vec<u64> = recorder.requests().iter().filter(|r| r.url.contains("/parts/")).map(|r| r.body_len).collect();
    lens.sort_unstable();
    assert_eq!(lens, vec![10, 256, 256, 256, 256]);
    assert!(recorder.requests().iter().filter(|r| r.url.contains("/parts/")).all(|r| r.header("content-type").is_none()));

    let (client, recorder) = emu.recorded_client();
    let mut options = UploadOptions::new(&space);
    options.name = Some("a.txt".into());
    client.files().upload(UploadSource::bytes(b"hello".to_vec()), options).await.unwrap();
    let put = recorder.requests().into_iter().find(|r| r.method == reqwest::Method::PUT).unwrap();
    assert_eq!(put.header("content-type"), Some("text/plain"));
    assert_eq!(put.body_len, 5);
}

#[tokio::test]
async fn complete_sends_every_key_and_parts_in_order() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    let mut options = UploadOptions::new(&space);
    options.progress = None;
    client.files().upload(UploadSource::bytes(data(256 * 12, 5)), options).await.unwrap();
    let log = recorder.requests();
    let initiate = log.iter().find(|r| r.url.ends_with("/uploads/initiate")).unwrap().json();
    for key in ["original_name", "content_type", "size", "space_id", "folder_id", "app"] {
        assert!(initiate.get(key).is_some(), "initiate lacks {key}: {initiate}");
    }
    let complete = log.iter().find(|r| r.url.ends_with("/uploads/complete")).unwrap().json();
    for key in ["file_id", "key", "upload_id", "parts", "original_name", "mime", "size", "sha256", "space_id", "folder_id", "app", "client_key"] {
        assert!(complete.get(key).is_some(), "complete lacks {key}: {complete}");
    }
    let numbers: Vec<u64> = complete["parts"].as_array().unwrap().iter().map(|p| p["PartNumber"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=12).collect::<Vec<_>>());
    assert!(complete["parts"][0]["ETag"].as_str().unwrap().starts_with('"'));
}

#[tokio::test]
async fn parts_are_retried_on_their_own_under_faults() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    emu.add_faults(json!([
        {"target": "storage_put", "path_contains": "/parts/2", "times": 1, "action": "status", "status": 503, "retry_after": 0},
        {"target": "storage_put", "path_contains": "/parts/3", "times": 1, "action": "status", "status": 429, "retry_after": 0},
        {"target": "storage_put", "path_contains": "/parts/5", "times": 1, "action": "reset", "after_bytes": 100},
    ]))
    .await;
    let bytes = data(256 * 6, 9);
    let calls = Calls::default();
    let mut options = UploadOptions::new(&space);
    options.progress = Some(calls.callback());
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), options).await.unwrap();
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert!(emu.faults_left().await.is_empty(), "every fault was hit");
    let puts = |n: &str| recorder.requests().iter().filter(|r| r.url.contains(&format!("/parts/{n}?"))).count();
    assert_eq!((puts("1"), puts("2"), puts("3"), puts("5")), (1, 2, 2, 2));
    calls.assert_exact(bytes.len() as u64);
    assert_eq!(downloaded(&client, &file.id).await, bytes);
}

#[tokio::test]
async fn a_lost_complete_answer_is_retried_and_the_file_is_stored_once() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    emu.add_faults(json!([{"target": "api", "path_contains": "/uploads/complete", "times": 1, "action": "drop_response"}])).await;
    let bytes = data(3000, 4);
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(recorder.requests().iter().filter(|r| r.url.ends_with("/uploads/complete")).count(), 2);
    assert_eq!(client.files().list(&space, None, false, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn initiate_is_not_resent_after_the_server_may_have_acted() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    emu.add_faults(json!([{"target": "api", "path_contains": "/uploads/initiate", "times": 1, "action": "status", "status": 503}])).await;
    let err = client.files().upload(UploadSource::bytes(data(10, 1)), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Api, Some(503)));
    assert_eq!(recorder.requests().iter().filter(|r| r.url.ends_with("/uploads/initiate")).count(), 1);
}

#[tokio::test]
async fn public_upload_mints_a_link_that_serves_the_bytes() {
    let emu = start_with(Config { scan_delay_ms: 700, ..small() }).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let bytes = data(2000, 6);
    let mut options = UploadOptions::new(&space);
    options.public = true;
    options.name = Some("logo.png".into());
    // The scan is pending for 0.7 s after complete: the upload waits for it, then mints.
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), options).await.unwrap();
    let url = file.public_url.expect("public_url");
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(client.files().public_url(&file.id).await.unwrap().url, url, "the same permanent link");
}

#[tokio::test]
async fn public_upload_of_an_infected_file_is_a_conflict() {
    let emu = start_with(small()).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let mut options = UploadOptions::new(&space);
    options.public = true;
    let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".to_vec();
    let err = client.files().upload(UploadSource::bytes(eicar), options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.call(), "files.upload");
}

/// A link that cannot be made after the file was stored names the stored file: the caller
/// can retry the link instead of uploading another copy. The kind and status stay the link's.
#[tokio::test]
async fn a_public_upload_whose_link_fails_names_the_stored_file() {
    let emu = start_with(small()).await;
    let (limited, _) = emu.new_key_with(json!({ "scopes": USER_SCOPES, "links_limit": 0 })).await;
    let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".to_vec();
    let cases = [
        (emu.api_key().to_string(), eicar, ErrorKind::Conflict, 409),
        (limited, data(2000, 3), ErrorKind::QuotaExceeded, 402),
    ];
    for (key, bytes, kind, status) in cases {
        let client = emu.client_with_key(&key);
        let space = emu.default_space_of(&key).await;
        let mut options = UploadOptions::new(&space);
        options.public = true;
        let err = client.files().upload(UploadSource::bytes(bytes), options).await.unwrap_err();
        assert_eq!((err.kind(), err.http_status(), err.call()), (kind, Some(status), "files.upload"), "{err}");
        let stored = client.files().list(&space, None, false, None).await.unwrap();
        assert_eq!(stored.len(), 1, "stored once");
        let id = &stored[0].id;
        assert!(err.to_string().contains(&format!("the file was stored as {id}")), "{err}");
        assert!(err.message().contains("public link could not be made"), "{err}");
        // Bindings that build their error from the detail (Python) show it too.
        let detail = err.detail().map(fluidcloud::Detail::to_json).unwrap_or_default();
        assert!(detail.as_str().is_some_and(|d| d.contains(id.as_str())), "{detail}");
        assert_eq!(client.files().get(id).await.unwrap().id, *id);
    }
}

#[tokio::test]
async fn cancellation_stops_an_upload_promptly() {
    // 16 KiB/s per connection: the 2 MiB upload would take well over a minute.
    let emu = start_with(Config { multipart_threshold: 1024, part_size: 64 * 1024, storage_bytes_per_sec: 16 * 1024, ..Config::default() }).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let token = CancellationToken::new();
    let trigger = token.clone();
    let cancelled_at = Arc::new(Mutex::new(None::<Instant>));
    let mark = cancelled_at.clone();
    let mut options = UploadOptions::new(&space);
    options.cancel = Some(token);
    // Cancel as soon as storage confirmed the first part.
    options.progress = Some(Arc::new(move |done, _| {
        if done > 0 && !trigger.is_cancelled() {
            *mark.lock().unwrap() = Some(Instant::now());
            trigger.cancel();
        }
    }));
    let err = client.files().upload(UploadSource::bytes(data(2 << 20, 1)), options).await.unwrap_err();
    let returned = Instant::now();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let at = cancelled_at.lock().unwrap().expect("cancelled from progress");
    assert!(returned - at < Duration::from_secs(1), "took {:?}", returned - at);
    assert!(client.files().list(&space, None, false, None).await.unwrap().is_empty(), "nothing stored");
}

/// Uploads a 32 KiB file in parts, running `edit` on it once its first bytes went up, and
/// returns the error and the requests made, having checked that nothing was stored. The file
/// is dated in the past, so that an edit shows even on a coarse clock.
async fn upload_edited_midway(edit: impl Fn(&std::path::Path) + Send + Sync + 'static) -> (fluidcloud::Error, Recorder) {
    let emu = start_with(Config { multipart_threshold: 1024, part_size: 4096, storage_bytes_per_sec: 64 * 1024, ..Config::default() }).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.log");
    std::fs::write(&path, data(4096 * 16, 2)).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000)).unwrap();
    let (edited, target) = (std::sync::atomic::AtomicBool::new(false), path.clone());
    let mut options = UploadOptions::new(&space);
    options.progress = Some(Arc::new(move |done, _| {
        if done > 0 && !edited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            edit(&target);
        }
    }));
    let err = client.files().upload(UploadSource::path(&path), options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(client.files().list(&space, None, false, None).await.unwrap().is_empty(), "nothing stored");
    (err, recorder)
}

#[tokio::test]
async fn a_file_that_grows_during_upload_is_an_integrity_error() {
    let (err, _) = upload_edited_midway(|path| {
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(b"more lines").unwrap();
    })
    .await;
    assert!(err.to_string().contains("changed size"), "{err}");
}

/// Reads past the new end fail while parts go up: the file's failure, not the network's, so
/// no part is sent again.
#[tokio::test]
async fn a_file_that_shrinks_during_upload_is_an_integrity_error() {
    let (_, recorder) = upload_edited_midway(|path| std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(100).unwrap()).await;
    let mut puts: Vec<String> = recorder.requests().into_iter().filter(|r| r.url.contains("/parts/")).map(|r| r.url).collect();
    let sent = puts.len();
    puts.sort();
    puts.dedup();
    assert_eq!(puts.len(), sent, "a part was sent again");
}

/// Rewritten in place with as many bytes: the size alone shows nothing, and the bytes sent
/// need not be the ones hashed.
#[tokio::test]
async fn a_file_rewritten_in_place_during_upload_is_an_integrity_error() {
    let (err, _) = upload_edited_midway(|path| {
        use std::os::unix::fs::FileExt;
        std::fs::File::options().write(true).open(path).unwrap().write_all_at(&data(4096 * 16, 3), 0).unwrap();
    })
    .await;
    assert!(err.to_string().contains("was written to while it was uploaded"), "{err}");
}

/// A PUT refused for good is reported at once, not after the hash read the whole file: this
/// sparse TiB would take hours to hash.
#[tokio::test]
async fn a_refused_put_is_reported_without_reading_the_whole_file() {
    let emu = start_with(Config { bytes_limit: 4 << 40, ..Config::default() }).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.img");
    std::fs::File::create(&path).unwrap().set_len(1 << 40).unwrap();
    emu.add_faults(json!([{"target": "storage_put", "times": 10_000, "action": "status", "status": 403}])).await;
    let upload = client.files().upload(UploadSource::path(&path), UploadOptions::new(&space));
    // A guard against hanging, not a measure of speed.
    let err = tokio::time::timeout(Duration::from_secs(120), upload).await.expect("the refusal was reported").unwrap_err();
    assert_eq!(err.http_status(), Some(403), "{err}");
}

#[tokio::test]
async fn a_content_type_that_cannot_be_a_header_fails_before_any_request() {
    let emu = start().await;
    let (client, recorder) = emu.recorded_client();
    let mut options = UploadOptions::new(emu.default_space().await);
    options.content_type = Some("text/plain\r\nX-Injected: 1".into());
    let err = client.files().upload(UploadSource::bytes(b"x".to_vec()), options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("content_type"), "{err}");
    assert!(recorder.requests().is_empty(), "no upload initiated");
}

#[tokio::test]
async fn readers_of_the_wrong_length_store_nothing() {
    let emu = start_with(small()).await;
    let client = emu.client();
    let space = emu.default_space().await;
    for (actual, declared) in [(1000usize, 3000u64), (3000, 1000), (100, 500), (500, 100)] {
        let source = UploadSource::reader(std::io::Cursor::new(data(actual, 1)), declared);
        let err = client.files().upload(source, UploadOptions::new(&space)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{actual} bytes declared as {declared}: {err}");
    }
    assert!(client.files().list(&space, None, false, None).await.unwrap().is_empty());
}

/// A reader going up in one PUT cannot be read twice: up to 8 MiB it is read into memory
/// first, so that a failed PUT is sent again as bytes are; a longer one is not retried.
#[tokio::test]
async fn a_small_reader_in_one_put_is_retried_a_long_one_is_not() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let fail_once = json!([{"target": "storage_put", "times": 1, "action": "status", "status": 503}]);

    let small = data(8 << 20, 21);
    emu.add_faults(fail_once.clone()).await;
    let source = UploadSource::reader(std::io::Cursor::new(small.clone()), small.len() as u64);
    let file = client.files().upload(source, UploadOptions::new(&space)).await.expect("retried after the 503");
    assert!(emu.faults_left().await.is_empty(), "the 503 was not used");
    assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&small).as_str()));

    let long = data((8 << 20) + 1, 22);
    emu.add_faults(fail_once).await;
    let source = UploadSource::reader(std::io::Cursor::new(long.clone()), long.len() as u64);
    let err = client.files().upload(source, UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.http_status(), Some(503), "{err}");
    assert_eq!(client.files().list(&space, None, false, None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bad_sources_and_options_are_clear_errors() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nope.txt");
    let err = client.files().upload(UploadSource::path(&missing), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("nope.txt"), "{err}");

    let err = client.files().upload(UploadSource::path(dir.path()), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "a directory: {err}");

    let err = client.files().upload(UploadSource::path("/dev/null"), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "a device: {err}");
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let err = client.files().upload(UploadSource::bytes(b"x".to_vec()), UploadOptions::new("")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    use std::os::unix::ffi::OsStrExt;
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
    std::fs::write(&odd, b"x").unwrap();
    let err = client.files().upload(UploadSource::path(&odd), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    let mut named = UploadOptions::new(&space);
    named.name = Some("cafe.txt".into());
    let file = client.files().upload(UploadSource::path(&odd), named).await.unwrap();
    assert_eq!(file.original_name, "cafe.txt");

    let err = client.files().upload(UploadSource::bytes(b"x".to_vec()), UploadOptions::new(random_id())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// The timeout bounds each wait for progress, as the official Python client's (httpx) does,
/// not a whole transfer. With a 1 s timeout: an upload from a source that yields a piece
/// every 250 ms for 2 s, and a 6 MB download served at 3 MB/s, both finish; a PUT whose
/// answer does not come still times out.
#[tokio::test]
async fn the_timeout_ends_stalls_not_slow_transfers() {
    use tokio::io::AsyncWriteExt;
    let timeout = Duration::from_secs(1);
    let emu = start_with(Config { storage_bytes_per_sec: 3_000_000, ..Config::default() }).await;
    let impatient = fluidcloud::Client::new(emu.options().timeout(timeout).max_retries(0)).unwrap();
    let space = emu.default_space().await;

    let piece = data(100_000, 3);
    let (mut source, reader) = tokio::io::duplex(64 * 1024);
    let slow_source = tokio::spawn(async move {
        for _ in 0..8 {
            source.write_all(&piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let started = Instant::now();
    let source = UploadSource::async_reader(reader, 800_000);
    let file = impatient.files().upload(source, UploadOptions::new(&space)).await.expect("an upload that keeps moving");
    assert!(started.elapsed() > timeout, "the source held the upload past the timeout");
    assert_eq!(file.size, Some(800_000));
    slow_source.await.unwrap();

    let bytes = data(6_000_000, 9);
    let file = emu.client().files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    let started = Instant::now();
    assert_eq!(downloaded(&impatient, &file.id).await, bytes);
    assert!(started.elapsed() > timeout, "the throttle held the download past the timeout");

    emu.add_faults(json!([{"target": "storage_put", "times": 1, "action": "delay", "delay_ms": 3000}])).await;
    let err = impatient.files().upload(UploadSource::bytes(data(1000, 1)), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains("no progress for 1s"), "{err}");
}

#[tokio::test]
async fn download_resumes_after_a_broken_connection() {
    let emu = start_with(small()).await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    let bytes = data(200_000, 8);
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    emu.add_faults(json!([{"target": "storage_get", "times": 1, "action": "reset", "after_bytes": 70000}])).await;
    let calls = Calls::default();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.bin");
    let options = DownloadOptions { progress: Some(calls.callback()), cancel: None };
    client.files().download(&file.id, &dest, options).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    let gets: Vec<_> = recorder.requests().into_iter().filter(|r| r.url.contains("/_storage/objects/")).collect();
    assert_eq!(gets.len(), 2);
    let range = gets[1].header("range").expect("the second GET resumes");
    let from: u64 = range.trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(from > 0 && from <= 70000, "{range}");
    calls.assert_exact(bytes.len() as u64);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no part file left behind");
}

/// Breaks that each moved the download forward do not use up its retries (2 by default):
/// only breaks in a row without a byte between them count.
#[tokio::test]
async fn a_download_that_keeps_moving_survives_more_breaks_than_its_retries() {
    let emu = start_with(small()).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let bytes = data(400_000, 9);
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    emu.add_faults(json!([{"target": "storage_get", "times": 4, "action": "reset", "after_bytes": 70000}])).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.bin");
    client.files().download(&file.id, &dest, DownloadOptions::default()).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
}

#[tokio::test]
async fn download_of_corrupted_bytes_is_an_integrity_error_and_leaves_no_file() {
    let data_dir = tempfile::tempdir().unwrap();
    let emu = start_with(Config { data_dir: Some(data_dir.path().to_path_buf()), ..small() }).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(data(5000, 1)), UploadOptions::new(&space)).await.unwrap();
    // Flip bytes of the stored object behind the emulator's back.
    let blob = data_dir.path().join("blobs").join(&file.id);
    let mut stored = std::fs::read(&blob).unwrap();
    stored[100] ^= 0xff;
    std::fs::write(&blob, stored).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.bin");
    let err = client.files().download(&file.id, &dest, DownloadOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "neither the file nor a part file");
}

#[tokio::test]
async fn a_download_to_a_folder_fails_before_any_byte_moves() {
    let emu = start().await;
    let (client, recorder) = emu.recorded_client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(data(100, 1)), UploadOptions::new(&space)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    recorder.clear();
    let err = client.files().download(&file.id, dir.path(), DownloadOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert_eq!(recorder.count(), 0, "nothing was asked of the server");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[tokio::test]
async fn a_download_that_cannot_be_moved_into_place_leaves_nothing_behind() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(data(100, 1)), UploadOptions::new(&space)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A folder appears where the file should go while it downloads: the final rename fails.
    let dest = dir.path().join("taken");
    let in_the_way = dest.join("inside");
    let progress: fluidcloud::Progress = Arc::new(move |_, _| {
        let _ = std::fs::create_dir_all(&in_the_way);
    });
    let options = DownloadOptions { progress: Some(progress), cancel: None };
    let err = client.files().download(&file.id, &dest, options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("cannot move the download"), "{err}");
    let left = names_in(dir.path());
    assert_eq!(left, vec![std::ffi::OsString::from("taken")], "no part file left behind");
}

/// Opening a FIFO waits for a writer: the path's type is checked first, so the upload fails
/// at once instead of hanging.
#[tokio::test]
async fn uploading_a_fifo_fails_fast() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let files = client.files();
    let upload = files.upload(UploadSource::path(&fifo), UploadOptions::new(&space));
    let err = match tokio::time::timeout(Duration::from_secs(10), upload).await {
        Ok(result) => result.unwrap_err(),
        Err(_) => {
            // Be the writer the stuck open waits for, so that the test ends rather than hangs.
            let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo);
            panic!("the upload of a FIFO hung");
        }
    };
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("not a regular file (a pipe or a device)"), "{err}");
    assert!(err.to_string().contains("pipe"), "{err}");
}

/// Two downloads of different files to one `dest` at once: each writes its own part file, so
/// both succeed and `dest` holds one of the two files whole, never a mix of both.
#[tokio::test]
async fn concurrent_downloads_to_one_dest_leave_one_whole_file() {
    // 2 MiB/s per request, in pieces of 256 KiB: both downloads are under way at the same
    // time for half a second, and their pieces arrive in turns.
    let emu = start_with(Config { storage_bytes_per_sec: 2 << 20, ..Config::default() }).await;
    let client = emu.client();
    let space = emu.default_space().await;
    let (a, b) = (data(1_000_000, 1), data(1_000_000, 2));
    let file_a = client.files().upload(UploadSource::bytes(a.clone()), UploadOptions::new(&space)).await.unwrap();
    let file_b = client.files().upload(UploadSource::bytes(b.clone()), UploadOptions::new(&space)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("same.bin");
    let files = client.files();
    let (got_a, got_b) = tokio::join!(
        files.download(&file_a.id, &dest, DownloadOptions::default()),
        files.download(&file_b.id, &dest, DownloadOptions::default()),
    );
    assert_eq!(got_a.expect("the first download").id, file_a.id);
    assert_eq!(got_b.expect("the second download").id, file_b.id);
    let written = std::fs::read(&dest).unwrap();
    assert!(written == a || written == b, "dest holds neither file whole");
    let left = names_in(dir.path());
    assert_eq!(left, vec![std::ffi::OsString::from("same.bin")], "no part file left behind");
}

/// A symlink planted where the part file used to go (`dest.fcpart-<pid>`) is not followed:
/// the file it points to keeps its bytes.
#[tokio::test]
async fn a_planted_symlink_does_not_redirect_a_download() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let bytes = data(5000, 4);
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let dest = dir.path().join("out.bin");
    let planted = dir.path().join(format!("out.bin.fcpart-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    client.files().download(&file.id, &dest, DownloadOptions::default()).await.unwrap();
    assert!(std::fs::read(&victim).unwrap() == b"precious", "the symlink's target was written");
    assert!(std::fs::symlink_metadata(&planted).unwrap().file_type().is_symlink());
    assert!(!std::fs::symlink_metadata(&dest).unwrap().file_type().is_symlink());
    assert!(std::fs::read(&dest).unwrap() == bytes);
}

/// A download whose future is dropped part-way (an aborted task, a cancelled Python
/// coroutine) removes its part file: the folder is as it was.
#[tokio::test]
async fn an_aborted_download_leaves_no_part_file() {
    // Stored at full speed, then served at 512 KiB/s, in pieces of 256 KiB, by the same state
    // restarted: the 2 MB download would take 4 s; it is stopped after its first piece.
    let state = tempfile::tempdir().unwrap();
    let stored = Config { data_dir: Some(state.path().to_path_buf()), ..Config::default() };
    let emu = start_with(stored.clone()).await;
    let space = emu.default_space().await;
    let file = emu.client().files().upload(UploadSource::bytes(data(2_000_000, 5)), UploadOptions::new(&space)).await.unwrap();
    emu.shutdown().await;
    let emu = start_with(Config { storage_bytes_per_sec: 512 * 1024, ..stored }).await;
    let client = emu.client();
    let dir = tempfile::tempdir().unwrap();

    // Dropped in place, as `select!` or a cancelled coroutine does.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let first_bytes = Mutex::new(Some(tx));
    let progress: fluidcloud::Progress = Arc::new(move |done, _| {
        if done > 0 {
            if let Some(tx) = first_bytes.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    });
    let options = DownloadOptions { progress: Some(progress), cancel: None };
    let files = client.files();
    tokio::select! {
        result = files.download(&file.id, dir.path().join("dropped.bin"), options) => panic!("finished: {result:?}"),
        _ = rx => {}
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left after a drop");

    // Aborted as a task, as `Pending::abort` does.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let first_bytes = Mutex::new(Some(tx));
    let progress: fluidcloud::Progress = Arc::new(move |done, _| {
        if done > 0 {
            if let Some(tx) = first_bytes.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    });
    let options = DownloadOptions { progress: Some(progress), cancel: None };
    let (task_client, id, dest) = (client.clone(), file.id.clone(), dir.path().join("aborted.bin"));
    let task = tokio::spawn(async move { task_client.files().download(&id, &dest, options).await });
    rx.await.expect("bytes arrived");
    task.abort();
    // Resolves once the task's future has been dropped.
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left after an abort");
}

/// A transport that strips `Range`, as a server that ignores it would: the resumed GET
/// answers 200 with the whole file.
#[derive(Clone)]
struct IgnoresRange(Recorder);

impl fluidcloud::transport::Transport for IgnoresRange {
    fn send(
        &self,
        mut request: fluidcloud::transport::HttpRequest,
    ) -> futures_util::future::BoxFuture<'static, Result<fluidcloud::transport::HttpResponse, fluidcloud::transport::TransportError>> {
        request.headers.remove("range");
        self.0.send(request)
    }
}

/// A transport whose answers lose their ETag, as some proxies' do.
#[derive(Clone)]
struct DropsEtags(Recorder);

impl fluidcloud::transport::Transport for DropsEtags {
    fn send(
        &self,
        request: fluidcloud::transport::HttpRequest,
    ) -> futures_util::future::BoxFuture<'static, Result<fluidcloud::transport::HttpResponse, fluidcloud::transport::TransportError>> {
        let sent = self.0.send(request);
        Box::pin(async move {
            let mut resp = sent.await?;
            resp.headers.remove("etag");
            Ok(resp)
        })
    }
}

#[tokio::test]
async fn a_part_accepted_without_an_etag_fails_before_complete() {
    let emu = start_with(small()).await;
    let recorder = Recorder::new();
    let client = fluidcloud::Client::new(emu.options().transport(Arc::new(DropsEtags(recorder.clone())))).unwrap();
    let space = emu.default_space().await;
    let err = client.files().upload(UploadSource::bytes(data(2048, 4)), UploadOptions::new(&space)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert!(err.to_string().contains("without an ETag"), "{err}");
    assert!(!recorder.requests().iter().any(|r| r.url.contains("/uploads/complete")), "complete was not called");
}

/// When the server ignores the range of a resumed GET, the part file starts over through the
/// handle it was created with, and the download still ends whole.
#[tokio::test]
async fn a_download_restarts_when_the_server_ignores_the_range() {
    let emu = start().await;
    let recorder = Recorder::new();
    let client = fluidcloud::Client::new(emu.options().transport(Arc::new(IgnoresRange(recorder.clone())))).unwrap();
    let space = emu.default_space().await;
    let bytes = data(200_000, 6);
    let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(&space)).await.unwrap();
    emu.add_faults(json!([{"target": "storage_get", "times": 1, "action": "reset", "after_bytes": 70000}])).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.bin");
    let calls = Calls::default();
    let options = DownloadOptions { progress: Some(calls.callback()), cancel: None };
    client.files().download(&file.id, &dest, options).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    calls.assert_exact(bytes.len() as u64); // never backwards, though the bytes start over
    let gets = recorder.requests().into_iter().filter(|r| r.url.contains("/_storage/objects/")).count();
    assert_eq!(gets, 2, "one broken GET, one whole again");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no part file left behind");
}

/// A single PUT reports its bytes as they go, not only 0 and the total, from every source;
/// a retried PUT does not make the progress go back.
#[tokio::test]
async fn single_puts_report_progress_as_the_bytes_go() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let bytes = data(3 << 20, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("single.bin");
    std::fs::write(&path, &bytes).unwrap();
    let sources = [
        UploadSource::bytes(bytes.clone()),
        UploadSource::path(&path),
        UploadSource::reader(std::io::Cursor::new(bytes.clone()), bytes.len() as u64),
    ];
    for source in sources {
        let calls = Calls::default();
        let mut options = UploadOptions::new(&space);
        options.progress = Some(calls.callback());
        client.files().upload(source, options).await.unwrap();
        calls.assert_exact(bytes.len() as u64);
        let between = calls.0.lock().unwrap().iter().filter(|(d, _)| *d > 0 && *d < bytes.len() as u64).count();
        assert!(between >= 2, "progress between 0 and the total: {:?}", calls.0.lock().unwrap());
    }
    emu.add_faults(json!([{"target": "storage_put", "times": 1, "action": "reset", "after_bytes": 2_000_000}])).await;
    let calls = Calls::default();
    let mut options = UploadOptions::new(&space);
    options.progress = Some(calls.callback());
    client.files().upload(UploadSource::bytes(bytes.clone()), options).await.expect("retried");
    calls.assert_exact(bytes.len() as u64);
}

/// The timeout is the server's: a source that pauses longer than it does not fail the
/// upload; and a PUT that fails stops reading a source that may never deliver again. (Readers
/// longer than 8 MiB: shorter ones are read whole before their PUT.)
#[tokio::test]
async fn waiting_on_the_source_is_not_the_servers_timeout() {
    use tokio::io::AsyncWriteExt;
    const LONG: usize = (8 << 20) + 2000;
    let emu = start().await;
    let impatient = fluidcloud::Client::new(emu.options().timeout(Duration::from_millis(500)).max_retries(0)).unwrap();
    let space = emu.default_space().await;
    let (mut source, reader) = tokio::io::duplex(64 * 1024);
    let pausing_source = tokio::spawn(async move {
        source.write_all(&data(LONG - 1000, 1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        source.write_all(&data(1000, 2)).await.unwrap();
    });
    let file = impatient.files().upload(UploadSource::async_reader(reader, LONG as u64), UploadOptions::new(&space)).await;
    assert_eq!(file.expect("a pause of the source is not the server's").size, Some(LONG as u64));
    pausing_source.await.unwrap();

    emu.add_faults(json!([{"target": "storage_put", "times": 1, "action": "status", "status": 503}])).await;
    let (mut source, reader) = tokio::io::duplex(64 * 1024);
    source.write_all(&data(1000, 3)).await.unwrap(); // and never another byte
    let files = impatient.files();
    let upload = files.upload(UploadSource::async_reader(reader, LONG as u64), UploadOptions::new(&space));
    let err = tokio::time::timeout(Duration::from_secs(10), upload).await.expect("the failed PUT ends the call").unwrap_err();
    assert_eq!(err.http_status(), Some(503), "{err}");
    drop(source);
}

/// Once complete is on its way the server may carry it out: a cancellation that comes then
/// does not cut the call off half-way (reporting failure for a stored file); the call ends
/// with the file.
#[tokio::test]
async fn a_cancellation_during_complete_comes_too_late_to_undo_it() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    emu.add_faults(json!([{"target": "api", "path_contains": "/uploads/complete", "times": 1, "action": "delay", "delay_ms": 1500}])).await;
    let token = CancellationToken::new();
    let mut options = UploadOptions::new(&space);
    options.cancel = Some(token.clone());
    let files = client.files();
    let upload = files.upload(UploadSource::bytes(data(5000, 6)), options);
    let cancel_once_complete_is_sent = async {
        while !emu.faults_left().await.is_empty() {}
        token.cancel();
    };
    let (file, ()) = tokio::join!(upload, cancel_once_complete_is_sent);
    let file = file.expect("the upload was completed");
    let listed = client.files().list(&space, None, false, None).await.unwrap();
    assert_eq!(listed.iter().map(|f| f.id.clone()).collect::<Vec<_>>(), vec![file.id]);
}

/// A refused storage PUT is an `ApiError` whatever its status (PROTOCOL §3): storage's 403 or
/// 404 says nothing about the caller's credential or files.
#[tokio::test]
async fn a_refused_storage_put_is_an_api_error_whatever_its_status() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    for status in [403u16, 404, 401, 409] {
        emu.add_faults(json!([{"target": "storage_put", "times": 1, "action": "status", "status": status}])).await;
        let err = client.files().upload(UploadSource::bytes(data(500, 7)), UploadOptions::new(&space)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Api, "{status}: {err}");
        assert_eq!(err.http_status(), Some(status), "{err}");
        assert!(err.is_from_storage(), "{err}");
        assert!(err.detail().is_some(), "{err}");
        assert!(emu.faults_left().await.is_empty());
    }
}

/// Hashing holds a blocking thread only while it has bytes to hash: more downloads at once
/// than the runtime has blocking threads all finish (each used to keep one for its whole
/// life, so that their file writes waited for a thread for ever).
#[test]
fn more_downloads_at_once_than_blocking_threads_all_finish() {
    let emulator_runtime = tokio::runtime::Runtime::new().unwrap();
    let emu = emulator_runtime.block_on(start());
    let client_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).max_blocking_threads(4).enable_all().build().unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let bytes = data(300_000, 11);
    client_runtime.block_on(async {
        let client = emu.client();
        let space = emu.default_space().await;
        let file = client.files().upload(UploadSource::bytes(bytes.clone()), UploadOptions::new(space)).await.unwrap();
        let downloads = (0..16).map(|i| client.files().download(&file.id, dir.path().join(format!("{i}.bin")), DownloadOptions::default()));
        tokio::time::timeout(Duration::from_secs(60), futures_util::future::try_join_all(downloads))
            .await
            .expect("the downloads did not finish")
            .unwrap();
    });
    for i in 0..16 {
        assert_eq!(std::fs::read(dir.path().join(format!("{i}.bin"))).unwrap(), bytes, "download {i}");
    }
}
