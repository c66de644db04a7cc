//! Harness for the CLI's end-to-end tests: an in-process emulator on its own runtime, and the
//! built `fluidcloud` binary run against it as a child process.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fluidcloud_emulator::{Config, Emulator, EmulatorHandle};
use serde_json::{json, Value};

/// Distinctive, so a test can tell if it ever leaks into the output.
pub const SECRET_KEY: &str = "fck_test_cli_secret_7f3a9c";

/// Every scope a user key can have.
pub const USER_SCOPES: &[&str] =
    &["spaces:read", "spaces:write", "files:read", "files:write", "shares:read", "shares:write", "quota:read"];

/// The built binary with no FluidCloud configuration and no proxy from the environment.
pub fn fluidcloud() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluidcloud"));
    for var in ["FLUIDCLOUD_API_KEY", "FLUIDCLOUD_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(var);
    }
    cmd
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from(output: std::process::Output) -> Out {
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns the output.
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Asserts failure with `code` and a one-line stderr, and returns the output.
    pub fn fails(self, code: i32) -> Out {
        assert_eq!(self.code, code, "expected exit {code}\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "errors are one line: {:?}", self.stderr);
        assert!(self.stdout.is_empty(), "nothing on stdout when failing: {:?}", self.stdout);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {:?}", self.stderr))
    }
}

/// An emulator served by its own runtime's threads while the test thread runs children.
pub struct Emu {
    rt: tokio::runtime::Runtime,
    handle: Option<EmulatorHandle>,
    http: reqwest::Client,
    pub url: String,
}

impl Emu {
    pub fn start() -> Emu {
        Emu::start_with(Config::default())
    }

    /// `config` with the secret key and small uploads going multipart (part size 16 KiB).
    pub fn start_with(config: Config) -> Emu {
        let config = Config { api_key: SECRET_KEY.to_string(), ..config };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let handle = rt.block_on(Emulator::start(config)).expect("the emulator starts");
        let http = reqwest::Client::builder().no_proxy().build().expect("a reqwest client");
        let url = handle.url().to_string();
        Emu { rt, handle: Some(handle), http, url }
    }

    /// Small thresholds so multipart uploads stay quick.
    pub fn small_parts() -> Config {
        Config { multipart_threshold: 64 * 1024, part_size: 16 * 1024, ..Config::default() }
    }

    /// Runs `fluidcloud ARGS` with this emulator and `key` in the environment; checks the key
    /// never shows up in the output.
    pub fn run_as(&self, key: &str, args: &[&str]) -> Out {
        let out = Out::from(
            fluidcloud()
                .env("FLUIDCLOUD_BASE_URL", &self.url)
                .env("FLUIDCLOUD_API_KEY", key)
                .args(args)
                .output()
                .expect("the binary runs"),
        );
        assert!(!out.stdout.contains(key) && !out.stderr.contains(key), "the API key leaked: {} {}", out.stdout, out.stderr);
        out
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_as(SECRET_KEY, args)
    }

    /// `fluidcloud ARGS` with this emulator and the secret key, to spawn.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = fluidcloud();
        cmd.env("FLUIDCLOUD_BASE_URL", &self.url).env("FLUIDCLOUD_API_KEY", SECRET_KEY).args(args);
        cmd
    }

    /// Adds one fault rule.
    pub fn fault(&self, rule: Value) {
        let url = format!("{}/_emulator/faults", self.url);
        self.rt.block_on(async {
            let resp = self.http.post(&url).json(&json!({ "rules": [rule] })).send().await.expect("admin call");
            assert!(resp.status().is_success(), "admin call failed: {}", resp.status());
        });
    }

    /// Returns once every fault rule has been taken by a request: a `delay` rule is taken when
    /// its request arrives, so the client is then waiting on it.
    pub fn wait_until_faults_taken(&self) {
        let url = format!("{}/_emulator/faults", self.url);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left: Value = self.rt.block_on(async {
                self.http.get(&url).send().await.expect("admin call").json().await.expect("admin JSON")
            });
            if left["rules"].as_array().is_some_and(Vec::is_empty) {
                return;
            }
            assert!(Instant::now() < deadline, "no request took the fault rules: {left}");
            // A polling interval, not a synchronisation: the condition is checked again.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A new key from the admin API (a new tenant).
    pub fn make_key(&self, scopes: &[&str], bytes_limit: Option<u64>) -> String {
        let mut body = json!({ "scopes": scopes });
        if let Some(limit) = bytes_limit {
            body["bytes_limit"] = json!(limit);
        }
        let url = format!("{}/_emulator/keys", self.url);
        let answer: Value = self.rt.block_on(async {
            let resp = self.http.post(&url).json(&body).send().await.expect("admin call");
            assert!(resp.status().is_success(), "admin call failed: {}", resp.status());
            resp.json().await.expect("admin JSON")
        });
        answer["key"].as_str().expect("a key").to_string()
    }

    /// GET without credential: (status, body).
    pub fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        self.rt.block_on(async {
            let resp = self.http.get(url).send().await.expect("GET");
            let status = resp.status().as_u16();
            (status, resp.bytes().await.expect("body").to_vec())
        })
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

/// Deterministic bytes that differ from file to file.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(seed as u32 % 31) as u8 ^ seed).collect()
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, data).expect("write");
}

/// Sends signal `name` (`INT`, `TERM`, `HUP`) to `child`.
pub fn send_signal(child: &Child, name: &str) {
    let sent = Command::new("kill").args(["-s", name, &child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success(), "kill -s {name}");
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    names.sort();
    names
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}
