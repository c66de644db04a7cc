//! The blocking facade: every call from plain threads, many at once, and from inside an
//! async runtime.

mod support;

use std::sync::Arc;

use fluidcloud::blocking;
use fluidcloud::{ErrorKind, Permission, UploadOptions, UploadSource};
use fluidcloud_emulator::Config;
use support::*;

fn blocking_client(emu: &TestEmu) -> blocking::Client {
    blocking::Client::new(emu.options()).expect("client builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_works_blocking() {
    let emu = start_with(Config { multipart_threshold: 1024, part_size: 256, ..Config::default() }).await;
    let client = blocking_client(&emu);
    // The facade blocks its caller: run it where blocking is allowed.
    let outcome = tokio::task::spawn_blocking(move || {
        let space = client.spaces().create("blocking").unwrap();
        assert!(client.spaces().list().unwrap().iter().any(|s| s.id == space.id));
        let folder = client.folders().create("f", &space.id, None).unwrap();
        let inner = client.folders().create("g", &space.id, Some(&folder.id)).unwrap();
        assert_eq!(client.folders().list(&space.id, Some(&folder.id), false).unwrap().len(), 1);
        assert_eq!(client.folders().rename(&inner.id, "h").unwrap().name, "h");
        assert!(client.folders().move_to(&inner.id, None).unwrap().parent_id.is_none());
        client.folders().delete(&inner.id).unwrap();
        assert_eq!(client.folders().list(&space.id, None, true).unwrap().len(), 1);
        client.folders().restore(&inner.id).unwrap();

        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut options = UploadOptions::new(&space.id);
        options.folder_id = Some(folder.id.clone());
        options.client_key = Some("k1".into());
        let file = client.files().upload(UploadSource::bytes(data.clone()), options).unwrap();
        assert_eq!(file.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
        assert_eq!(client.files().get(&file.id).unwrap().id, file.id);
        assert_eq!(client.files().resolve("k1", None).unwrap().id, file.id);
        assert_eq!(client.files().list(&space.id, Some(&folder.id), false, None).unwrap().len(), 1);
        assert_eq!(client.files().rename(&file.id, "n.bin").unwrap().original_name, "n.bin");
        assert!(client.files().move_to(&file.id, None).unwrap().folder_id.is_none());
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.bin");
        client.files().download(&file.id, &dest, Default::default()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert!(client.files().download_url(&file.id).unwrap().url.starts_with("http"));
        let public = client.files().public_url(&file.id).unwrap();
        assert!(public.expires_at.is_none());
        let signed = client.files().signed_url(&file.id, 3, Permission::Download).unwrap();
        assert_eq!(signed.permission, "download");
        assert_eq!(client.shares().list(Some(&file.id), false).unwrap().len(), 2);
        client.shares().revoke(&signed.id).unwrap();
        assert_eq!(client.shares().list(Some(&file.id), false).unwrap().len(), 1);
        assert!(client.quota().usage().unwrap().bytes_used >= 5000);
        client.files().delete(&file.id).unwrap();
        client.files().restore(&file.id).unwrap();
        let err = client.files().get(&random_id()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    })
    .await;
    outcome.expect("no panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_user_returns_a_blocking_client_for_the_user() {
    let emu = start().await;
    let (service_key, _) = emu.new_key(ALL_SCOPES, None).await;
    let client = blocking::Client::new(emu.options_for(&service_key)).unwrap();
    let spaces = tokio::task::spawn_blocking(move || {
        let user = client.as_user(&user_jwt("user-7"), "fluidtalk", None, None).unwrap();
        let token = client.exchange_service_token(&user_jwt("user-7"), "fluidtalk", None, Some(120)).unwrap();
        assert_eq!(token.expires_in, 120);
        assert!(!format!("{user:?}").contains(&token.token));
        user.spaces().list().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(spaces.len(), 1, "the user's own tenant with its Default space");
    assert_eq!(spaces[0].name, "Default");
}

#[test]
fn many_threads_share_one_client() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(start());
    let client = Arc::new(blocking_client(&emu));
    let space = client.spaces().list().unwrap()[0].id.clone();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            let space = space.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    let bytes = format!("thread {i} file {j}").into_bytes();
                    let mut options = UploadOptions::new(&space);
                    options.name = Some(format!("t{i}-{j}.txt"));
                    let file = client.files().upload(UploadSource::bytes(bytes.clone()), options).unwrap();
                    assert_eq!(file.size, Some(bytes.len() as u64));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
    assert_eq!(client.files().list(&space, None, false, None).unwrap().len(), 40);
    rt.block_on(emu.shutdown());
}

#[test]
fn calls_from_inside_another_runtime_do_not_panic() {
    // The emulator on a runtime of its own, so it keeps serving while the caller blocks.
    let emulator_rt = tokio::runtime::Runtime::new().unwrap();
    let emu = emulator_rt.block_on(start());
    let client = blocking_client(&emu);
    // A caller's single-threaded runtime: blocking inside it stalls it but must not panic,
    // since the work runs on the SDK's own runtime.
    let caller_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let spaces = caller_rt.block_on(async { client.spaces().list() }).unwrap();
    assert_eq!(spaces.len(), 1);
    emulator_rt.block_on(emu.shutdown());
}

#[test]
fn calls_from_inside_progress_callbacks_complete() {
    // Progress callbacks run on the transfer lane's threads. A call made there must not wait
    // for those threads (several uploads at once could otherwise block every one of them).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(start_with(Config { multipart_threshold: 1024, part_size: 256, ..Config::default() }));
    let client = blocking_client(&emu);
    let space = client.spaces().list().unwrap()[0].id.clone();
    let uploads: Vec<_> = (0..4)
        .map(|i| {
            let client = client.clone();
            let space = space.clone();
            std::thread::spawn(move || {
                let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
                let mut options = UploadOptions::new(&space);
                let (inner, record) = (client.clone(), seen.clone());
                options.progress = Some(Arc::new(move |_done, _total| {
                    let usage = inner.quota().usage().map(|q| q.bytes_limit);
                    record.lock().unwrap().push(usage.is_ok());
                }));
                client.files().upload(UploadSource::bytes(vec![i as u8; 4096]), options).unwrap();
                let seen = seen.lock().unwrap();
                assert!(!seen.is_empty() && seen.iter().all(|ok| *ok), "calls from the callback: {seen:?}");
            })
        })
        .collect();
    for u in uploads {
        u.join().expect("no upload panicked");
    }
    rt.block_on(emu.shutdown());
}

#[test]
fn transfers_from_inside_progress_callbacks_complete() {
    // A transfer started from a callback is queued on the transfer runtime's worker that runs
    // the callback, which then waits for it: it must hand its queue over rather than sit on it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(start_with(Config { multipart_threshold: 1024, part_size: 256, ..Config::default() }));
    let client = blocking_client(&emu);
    let space = client.spaces().list().unwrap()[0].id.clone();
    let seed = client.files().upload(UploadSource::bytes(vec![3; 20_000]), UploadOptions::new(&space)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for i in 0..3u8 {
        let (client, space, seed_id, done_tx) = (client.clone(), space.clone(), seed.id.clone(), done_tx.clone());
        let dest = dir.path().join(format!("copy-{i}.bin"));
        std::thread::spawn(move || {
            let once = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (inner, copied) = (client.clone(), Arc::new(std::sync::Mutex::new(None)));
            let copied_in_callback = copied.clone();
            let mut options = UploadOptions::new(&space);
            options.progress = Some(Arc::new(move |_, _| {
                if !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let got = inner.files().download(&seed_id, &dest, Default::default());
                    *copied_in_callback.lock().unwrap() = Some(got.map(|f| f.size));
                }
            }));
            let uploaded = client.files().upload(UploadSource::bytes(vec![i; 4096]), options).map(|f| f.size);
            let _ = done_tx.send((uploaded, copied.lock().unwrap().take()));
        });
    }
    for _ in 0..3 {
        let (uploaded, copied) = done_rx.recv_timeout(std::time::Duration::from_secs(60)).expect("no deadlock");
        assert_eq!(uploaded.unwrap(), Some(4096));
        assert_eq!(copied.expect("the callback ran").unwrap(), Some(20_000));
    }
    rt.block_on(emu.shutdown());
}

#[test]
fn a_panic_inside_a_call_is_reported_as_internal() {
    let client = blocking::Client::new(fluidcloud::ClientOptions::new().api_key("fck_test_x").base_url("http://127.0.0.1:9")).unwrap();
    let err = client.run(|_| async { if true { panic!("boom") } else { Ok(()) } }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.to_string().contains("boom"), "{err}");
    // The shared runtime survives it.
    let again = client.run(|_| async { Ok(7) }).unwrap();
    assert_eq!(again, 7);
}

/// A short call prepared on a plain thread runs only when waited for: waiting from inside a
/// runtime (a `Pending` handed to async code) must not nest the SDK's `block_on` there.
#[test]
fn a_short_call_prepared_outside_a_runtime_can_be_waited_for_inside_one() {
    let emulator_rt = tokio::runtime::Runtime::new().unwrap();
    let emu = emulator_rt.block_on(start());
    let client = blocking_client(&emu);
    let caller_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let pending = client.spawn_on(blocking::Lane::Call, |c| async move { c.spaces().list().await }).unwrap();
    let spaces = caller_rt.block_on(async move { pending.wait() }).unwrap();
    assert_eq!(spaces.len(), 1);

    let mut pending = client.spawn_on(blocking::Lane::Call, |c| async move { c.quota().usage().await }).unwrap();
    let quota = caller_rt.block_on(async { pending.wait_timeout(std::time::Duration::from_secs(30)) });
    assert!(quota.expect("within the time").is_ok());
    emulator_rt.block_on(emu.shutdown());
}

/// A TCP proxy in front of the emulator that tells when a client opens a connection and
/// when the client closes it (its side reads EOF or fails), whatever the server does.
struct ConnectionWatch {
    url: String,
    events: std::sync::mpsc::Receiver<bool>,
    open: usize,
}

impl ConnectionWatch {
    fn new(emu: &TestEmu) -> ConnectionWatch {
        use std::net::{Shutdown, TcpListener, TcpStream};
        let upstream: std::net::SocketAddr = emu.url().trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(upstream) else { return };
                // Sent before any byte is forwarded, so before the client's call returns.
                let _ = tx.send(true);
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let closed = tx.clone();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(Shutdown::Write);
                    let _ = closed.send(false);
                });
                let (mut from_server, mut to_client) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    // Half-closed only: the client's socket stays open until the client closes it.
                    let _ = to_client.shutdown(Shutdown::Write);
                });
            }
        });
        ConnectionWatch { url, events, open: 0 }
    }

    fn options(&self, emu: &TestEmu) -> fluidcloud::ClientOptions {
        emu.options().base_url(&self.url)
    }

    fn count(&mut self, opened: bool) {
        if opened { self.open += 1 } else { self.open -= 1 }
    }

    /// How many connections clients hold open through the proxy now.
    fn open_now(&mut self) -> usize {
        while let Ok(opened) = self.events.try_recv() {
            self.count(opened);
        }
        self.open
    }

    /// Whether every connection is closed within 10 s (generous: it should be at once).
    fn all_closed(&mut self) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.open_now() > 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(opened) => self.count(opened),
                Err(_) => return false,
            }
        }
        true
    }
}

/// An emulator on a runtime of its own, and a proxy in front of it that watches connections.
fn watched_emulator() -> (tokio::runtime::Runtime, TestEmu, ConnectionWatch) {
    let emulator_rt = tokio::runtime::Runtime::new().unwrap();
    let emu = emulator_rt.block_on(start());
    let watch = ConnectionWatch::new(&emu);
    (emulator_rt, emu, watch)
}

/// The call lane's pooled connections live on a runtime only callers drive: dropping the
/// last clone of a client must close them itself, not leave them to the next call.
#[test]
fn dropping_the_client_closes_its_connections() {
    let (emulator_rt, emu, mut watch) = watched_emulator();

    let client = blocking::Client::new(watch.options(&emu)).unwrap();
    let copy = client.clone();
    assert_eq!(client.spaces().list().unwrap().len(), 1);
    assert_eq!(watch.open_now(), 1, "the call's connection stays pooled");
    drop(client);
    assert_eq!(copy.quota().usage().map(|_| watch.open_now()).unwrap(), 1, "a clone left keeps the connection");
    drop(copy);
    assert!(watch.all_closed(), "{} connection(s) of a dropped client still open", watch.open);
    emulator_rt.block_on(emu.shutdown());
}

/// Dropped from async code (a user's `#[tokio::main]`), where blocking on a runtime panics.
#[test]
fn dropping_the_client_inside_a_runtime_closes_its_connections() {
    let (emulator_rt, emu, mut watch) = watched_emulator();

    let client = blocking::Client::new(watch.options(&emu)).unwrap();
    client.spaces().list().unwrap();
    let caller_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    caller_rt.block_on(async move { drop(client) });
    assert!(watch.all_closed(), "dropped on a current-thread runtime: {} still open", watch.open);

    let client = blocking::Client::new(watch.options(&emu)).unwrap();
    client.spaces().list().unwrap();
    let worker_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    worker_rt.block_on(async move { tokio::spawn(async move { drop(client) }).await }).unwrap();
    assert!(watch.all_closed(), "dropped on a runtime's worker: {} still open", watch.open);
    emulator_rt.block_on(emu.shutdown());
}

/// Dropped while this thread drives a short call: another client's, or its own.
#[test]
fn dropping_the_client_during_a_call_closes_its_connections() {
    let (emulator_rt, emu, mut watch) = watched_emulator();
    let other = blocking_client(&emu);

    let client = blocking::Client::new(watch.options(&emu)).unwrap();
    client.spaces().list().unwrap();
    other.run(move |c| async move { drop(client); c.quota().usage().await }).unwrap();
    assert!(watch.all_closed(), "dropped during another client's call: {} still open", watch.open);

    // The last clone goes while its own call runs: the connections close once the call is done.
    let client = blocking::Client::new(watch.options(&emu)).unwrap();
    let last = client.clone();
    let pending = client
        .spawn_on(blocking::Lane::Call, move |c| async move {
            let spaces = c.spaces().list().await;
            drop(last);
            spaces
        })
        .unwrap();
    drop(client);
    assert_eq!(pending.wait().unwrap().len(), 1);
    assert!(watch.all_closed(), "dropped during its own call: {} still open", watch.open);
    emulator_rt.block_on(emu.shutdown());
}
