//! The `fluidcloud-emulator` command itself: flags, the ready lines, exit codes, and what it
//! leaves on disk.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fluidcloud-emulator");

struct Running {
    child: Child,
    base_url: String,
    api_key: String,
}

/// Starts the binary and reads its two ready lines (blocking reads: no sleeps, no polling).
fn start(args: &[&str], tmpdir: &Path) -> Running {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("TMPDIR", tmpdir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emulator");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = |prefix: &str| -> String {
        let line = lines.next().expect("a ready line").expect("utf-8 line");
        line.strip_prefix(prefix).unwrap_or_else(|| panic!("expected {prefix}…, got {line}")).to_string()
    };
    let base_url = next("FLUIDCLOUD_BASE_URL=");
    let api_key = next("FLUIDCLOUD_API_KEY=");
    Running { child, base_url, api_key }
}

impl Running {
    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success());
        self.child.wait().expect("wait")
    }
}

fn get_json(url: &str, key: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let resp = reqwest::Client::new().get(url).header("X-API-Key", key).send().await.expect("send");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.json().await.expect("json")
    })
}

fn post_json(url: &str, key: &str, body: serde_json::Value) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let resp = reqwest::Client::new().post(url).header("X-API-Key", key).json(&body).send().await.expect("send");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.json().await.expect("json")
    })
}

#[test]
fn prints_url_and_default_key_then_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&[], tmp.path());
    assert!(emu.base_url.starts_with("http://127.0.0.1:"), "{}", emu.base_url);
    assert_eq!(emu.api_key, "fck_test_emulator");
    let spaces = get_json(&format!("{}/api/v1/spaces", emu.base_url), &emu.api_key);
    assert_eq!(spaces[0]["name"], "Default");
    assert!(emu.stop().success());
}

#[test]
fn api_key_flag_sets_the_default_key() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&["--api-key", "fck_test_custom"], tmp.path());
    assert_eq!(emu.api_key, "fck_test_custom");
    get_json(&format!("{}/api/v1/quota", emu.base_url), "fck_test_custom");
    emu.stop();
}

#[test]
fn size_flags_take_units() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&["--multipart-threshold", "1KiB", "--part-size", "512", "--bytes-limit", "2MiB"], tmp.path());
    let quota = get_json(&format!("{}/api/v1/quota", emu.base_url), &emu.api_key);
    assert_eq!(quota["bytes_limit"], 2 * 1024 * 1024);
    let space = get_json(&format!("{}/api/v1/spaces", emu.base_url), &emu.api_key)[0]["id"].clone();
    let ticket = post_json(
        &format!("{}/api/v1/uploads/initiate", emu.base_url),
        &emu.api_key,
        serde_json::json!({"original_name": "a.bin", "content_type": "application/octet-stream", "size": 1024,
                           "space_id": space, "folder_id": null, "app": null}),
    );
    assert_eq!(ticket["mode"], "multipart");
    assert_eq!(ticket["part_size"], 512);
    assert_eq!(ticket["part_urls"].as_array().unwrap().len(), 2);
    emu.stop();
}

#[test]
fn temporary_state_is_removed_at_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = start(&[], tmp.path());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "one temporary data folder while running");
    assert!(emu.stop().success());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing left after SIGTERM");
}

#[test]
fn data_dir_survives_a_process_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let emu = start(&["--data-dir", data_arg], tmp.path());
    let made = post_json(&format!("{}/api/v1/spaces", emu.base_url), &emu.api_key, serde_json::json!({"name": "Kept"}));
    assert!(emu.stop().success());
    let emu = start(&["--data-dir", data_arg], tmp.path());
    let spaces = get_json(&format!("{}/api/v1/spaces", emu.base_url), &emu.api_key);
    assert!(spaces.as_array().unwrap().iter().any(|s| s["id"] == made["id"] && s["name"] == "Kept"), "{spaces}");
    emu.stop();
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    for args in [
        vec!["--no-such-flag"],
        vec!["--part-size", "12XB"],
        vec!["--part-size", "0"],
        vec!["--listen", "not-an-address"],
    ] {
        let out = Command::new(BIN).args(&args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen", "--data-dir", "--multipart-threshold", "--part-size", "--bytes-limit", "--links-limit",
        "--scan-delay-ms", "--jwt-secret", "--api-key", "--storage-latency-ms", "--storage-bytes-per-sec",
        "--storage-idle-timeout-secs",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let out = Command::new(BIN).args(["--listen", &addr]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&addr), "{stderr}");
}

#[test]
fn a_data_folder_serves_one_emulator_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let first = start(&["--data-dir", data_arg], tmp.path());
    // What the first one is writing, and files it keeps: the second one touches none of them.
    let in_flight = [data.join("blobs").join("some-file.put-abc"), data.join("recycled").join("kept")];
    for path in &in_flight {
        std::fs::write(path, b"in use").unwrap();
    }
    let second = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir", data_arg])
        .output()
        .expect("run a second emulator");
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another emulator"), "{stderr}");
    assert!(second.stdout.is_empty(), "no ready lines: {}", String::from_utf8_lossy(&second.stdout));
    for path in &in_flight {
        assert!(path.exists(), "{} was deleted", path.display());
    }
    // The first one is unharmed, and the folder is free again once it stops.
    get_json(&format!("{}/api/v1/spaces", first.base_url), &first.api_key);
    assert!(first.stop().success());
    let again = start(&["--data-dir", data_arg], tmp.path());
    assert!(again.stop().success());
}
