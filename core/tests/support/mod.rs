//! Shared harness for the core's integration tests: an in-process emulator on a free loopback
//! port, `Client`s built for it, admin helpers (keys, faults, clock, reset), user JWTs, a raw
//! upload that does not depend on the SDK's own pipeline, and a recording `Transport` that
//! spies on the wire (requests still reach the real emulator).
//!
//! Use from a test file with `mod support;` and `use support::*;`.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fluidcloud::transport::{
    HeaderMap, HttpRequest, HttpResponse, Method, Proxy, RequestBody, ReqwestTransport, Transport, TransportError,
};
use fluidcloud::{Client, ClientOptions};
use fluidcloud_emulator::{Config, Emulator, EmulatorHandle};
use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[allow(unused_imports)]
pub use fluidcloud_emulator::{DEFAULT_API_KEY, DEFAULT_JWT_SECRET};

/// Every scope but the `service:*` ones.
pub const USER_SCOPES: &[&str] =
    &["spaces:read", "spaces:write", "files:read", "files:write", "shares:read", "shares:write", "quota:read"];

/// Every scope, the service ones included.
pub const ALL_SCOPES: &[&str] = &[
    "spaces:read",
    "spaces:write",
    "files:read",
    "files:write",
    "shares:read",
    "shares:write",
    "quota:read",
    "service:delegate",
    "service:jobtoken",
];

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

/// An in-process emulator plus a plain reqwest client for its admin API and raw protocol calls.
pub struct TestEmu {
    pub handle: EmulatorHandle,
    /// Plain HTTP, no proxy, no redirects: for admin calls and raw protocol steps.
    pub http: reqwest::Client,
}

/// An emulator with `Config::default()` on a free loopback port.
pub async fn start() -> TestEmu {
    start_with(Config::default()).await
}

pub async fn start_with(config: Config) -> TestEmu {
    let handle = Emulator::start(config).await.expect("the emulator starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a reqwest client");
    TestEmu { handle, http }
}

impl TestEmu {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        self.handle.url()
    }

    /// The default key (every scope, default tenant).
    pub fn api_key(&self) -> &str {
        self.handle.api_key()
    }

    /// `{url}/api/v1{path}`
    pub fn api_url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.url(), path)
    }

    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }

    // ----- clients -----

    /// Options for this emulator with `key`, no proxy (tests must not depend on the host's
    /// proxy settings) and short timeouts.
    pub fn options_for(&self, key: &str) -> ClientOptions {
        ClientOptions::new()
            .api_key(key)
            .base_url(self.url())
            .proxy(Proxy::None)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
    }

    /// Options with the default key.
    pub fn options(&self) -> ClientOptions {
        self.options_for(self.api_key())
    }

    /// A client with the default key.
    pub fn client(&self) -> Client {
        Client::new(self.options()).expect("client builds")
    }

    /// A client with `key`.
    pub fn client_with_key(&self, key: &str) -> Client {
        Client::new(self.options_for(key)).expect("client builds")
    }

    /// A client with the default key whose every request is recorded.
    pub fn recorded_client(&self) -> (Client, Recorder) {
        self.recorded_client_with(self.options())
    }

    /// A client built from `options` whose every request is recorded.
    pub fn recorded_client_with(&self, options: ClientOptions) -> (Client, Recorder) {
        self.recorded_client_via(options, Recorder::new())
    }

    /// A client built from `options` that sends through `recorder`.
    pub fn recorded_client_via(&self, options: ClientOptions, recorder: Recorder) -> (Client, Recorder) {
        let client = Client::new(options.transport(Arc::new(recorder.clone()))).expect("client builds");
        (client, recorder)
    }

    // ----- admin API -----

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut rb = self.http.request(method, format!("{}/_emulator{}", self.url(), path));
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        rb.send().await.expect("admin request")
    }

    /// A new key with `scopes`, for a new tenant (or `tenant_id`'s): `(key, tenant_id)`.
    pub async fn new_key(&self, scopes: &[&str], tenant_id: Option<&str>) -> (String, String) {
        self.new_key_with(json!({ "scopes": scopes, "tenant_id": tenant_id })).await
    }

    /// A new key from a full admin body (`scopes`, `tenant_id`?, `bytes_limit`?, `links_limit`?).
    pub async fn new_key_with(&self, mut body: Value) -> (String, String) {
        if let Some(obj) = body.as_object_mut() {
            obj.retain(|_, v| !v.is_null());
        }
        let v = expect_json(self.admin(reqwest::Method::POST, "/keys", Some(body)).await, StatusCode::OK).await;
        (v["key"].as_str().unwrap().to_string(), v["tenant_id"].as_str().unwrap().to_string())
    }

    /// Adds fault rules (`[{"target": "api", "times": 1, "action": "status", …}, …]`).
    pub async fn add_faults(&self, rules: Value) {
        let r = self.admin(reqwest::Method::POST, "/faults", Some(json!({ "rules": rules }))).await;
        let status = r.status();
        assert_eq!(status, StatusCode::OK, "adding faults: {}", r.text().await.unwrap_or_default());
    }

    /// The rules not used up yet.
    pub async fn faults_left(&self) -> Vec<Value> {
        let v = expect_json(self.admin(reqwest::Method::GET, "/faults", None).await, StatusCode::OK).await;
        v["rules"].as_array().cloned().unwrap_or_default()
    }

    pub async fn clear_faults(&self) {
        let r = self.admin(reqwest::Method::DELETE, "/faults", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// Moves the emulator's clock forward; returns its new `now`.
    pub async fn advance_clock(&self, seconds: i64) -> String {
        let v = expect_json(
            self.admin(reqwest::Method::POST, "/clock", Some(json!({ "advance_seconds": seconds }))).await,
            StatusCode::OK,
        )
        .await;
        v["now"].as_str().unwrap().to_string()
    }

    /// Drops all state: back to the default tenant, key and space.
    pub async fn reset(&self) {
        let r = self.admin(reqwest::Method::POST, "/reset", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    // ----- raw protocol (no SDK) -----

    /// A raw API request with `credential` (`fck_` as X-API-Key, else Bearer).
    pub fn raw(&self, credential: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.api_url(path)).header("Accept", "application/json");
        if credential.starts_with("fck_") {
            rb.header("X-API-Key", credential)
        } else {
            rb.bearer_auth(credential)
        }
    }

    /// The id of the default key's first space (`Default`).
    pub async fn default_space(&self) -> String {
        self.default_space_of(self.api_key()).await
    }

    pub async fn default_space_of(&self, credential: &str) -> String {
        let resp = self.raw(credential, reqwest::Method::GET, "/spaces").send().await.expect("send");
        let v = expect_json(resp, StatusCode::OK).await;
        v[0]["id"].as_str().expect("a Default space").to_string()
    }

    /// initiate → PUT → complete with the default key, in the space root; the stored `File`.
    pub async fn upload(&self, space_id: &str, name: &str, data: &[u8]) -> Value {
        self.upload_raw(self.api_key(), &RawUpload::new(space_id, name, data)).await
    }

    /// initiate → PUT(s) → complete with `credential`, as a well-behaved client does (every
    /// key sent, `null` where absent); returns the complete response's `File` JSON.
    pub async fn upload_raw(&self, credential: &str, up: &RawUpload<'_>) -> Value {
        let initiate = json!({
            "original_name": up.name, "content_type": up.content_type, "size": up.data.len(),
            "space_id": up.space_id, "folder_id": up.folder_id, "app": up.app,
        });
        let resp = self.raw(credential, reqwest::Method::POST, "/uploads/initiate").json(&initiate).send().await.expect("initiate");
        let ticket = expect_json(resp, StatusCode::OK).await;
        let (upload_id, parts) = self.put_ticket(&ticket, up.content_type, up.data).await;
        let complete = json!({
            "file_id": ticket["file_id"], "key": ticket["key"], "upload_id": upload_id, "parts": parts,
            "original_name": up.name, "mime": up.content_type, "size": up.data.len(),
            "sha256": sha256_hex(up.data), "space_id": up.space_id, "folder_id": up.folder_id,
            "app": up.app, "client_key": up.client_key,
        });
        let resp = self.raw(credential, reqwest::Method::POST, "/uploads/complete").json(&complete).send().await.expect("complete");
        expect_json(resp, StatusCode::OK).await
    }

    /// PUTs `data` as the ticket says (no credential); returns (`upload_id`, `parts`).
    async fn put_ticket(&self, ticket: &Value, content_type: &str, data: &[u8]) -> (Value, Value) {
        if ticket["mode"] == "single" {
            let r = self
                .http
                .put(ticket["upload_url"].as_str().unwrap())
                .header("Content-Type", content_type)
                .body(data.to_vec())
                .send()
                .await
                .expect("single PUT");
            let status = r.status();
            assert_eq!(status, StatusCode::OK, "single PUT: {}", r.text().await.unwrap_or_default());
            return (Value::Null, Value::Null);
        }
        let part_size = ticket["part_size"].as_u64().unwrap() as usize;
        let mut parts = Vec::new();
        for p in ticket["part_urls"].as_array().unwrap() {
            let n = p["part_number"].as_u64().unwrap() as usize;
            let chunk = &data[(n - 1) * part_size..(n * part_size).min(data.len())];
            let r = self.http.put(p["url"].as_str().unwrap()).body(chunk.to_vec()).send().await.expect("part PUT");
            let status = r.status();
            let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            assert_eq!(status, StatusCode::OK, "part PUT: {}", r.text().await.unwrap_or_default());
            parts.push(json!({ "PartNumber": n, "ETag": etag }));
        }
        (ticket["upload_id"].clone(), Value::Array(parts))
    }
}

/// What `upload_raw` sends.
#[derive(Clone, Debug)]
pub struct RawUpload<'a> {
    pub space_id: &'a str,
    pub folder_id: Option<&'a str>,
    pub name: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
    pub app: Option<&'a str>,
    pub client_key: Option<&'a str>,
}

impl<'a> RawUpload<'a> {
    pub fn new(space_id: &'a str, name: &'a str, data: &'a [u8]) -> Self {
        RawUpload { space_id, folder_id: None, name, content_type: "text/plain", data, app: None, client_key: None }
    }
    pub fn folder(mut self, folder_id: &'a str) -> Self {
        self.folder_id = Some(folder_id);
        self
    }
    pub fn content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = content_type;
        self
    }
    pub fn app(mut self, app: &'a str) -> Self {
        self.app = Some(app);
        self
    }
    pub fn client_key(mut self, client_key: &'a str) -> Self {
        self.client_key = Some(client_key);
        self
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(resp: reqwest::Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// A fresh lowercase UUID-shaped id (for user ids, unknown resources, …).
pub fn random_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

// ---------------------------------------------------------------------------------------------
// User JWTs
// ---------------------------------------------------------------------------------------------

/// An HS256 JWT over `claims`, signed with `secret`.
pub fn sign_jwt(secret: &str, claims: &Value) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64.encode(serde_json::to_vec(claims).unwrap());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let sig = b64.encode(mac.finalize().into_bytes());
    format!("{input}.{sig}")
}

/// A user JWT for `sub`, valid for an hour, signed with the emulator's default secret.
pub fn user_jwt(sub: &str) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    sign_jwt(DEFAULT_JWT_SECRET, &json!({ "sub": sub, "iat": now, "exp": now + 3600 }))
}

// ---------------------------------------------------------------------------------------------
// The recording transport
// ---------------------------------------------------------------------------------------------

/// One request as it left the client.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    /// The body of a `RequestBody::Bytes`; `None` for empty and streamed bodies.
    pub body: Option<Bytes>,
    /// The body's declared length (streams included).
    pub body_len: u64,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON (panics when there is none or it is not JSON).
    pub fn json(&self) -> Value {
        let body = self.body.as_ref().unwrap_or_else(|| panic!("{} {} has no body", self.method, self.url));
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("body of {} {} is not JSON: {e}", self.method, self.url))
    }

    pub fn parsed_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&self.url).expect("a URL")
    }

    /// The path as sent (percent-encoding kept).
    pub fn path(&self) -> String {
        self.parsed_url().path().to_string()
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<String> {
        self.parsed_url().query().map(str::to_string)
    }

    /// The query as decoded pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.parsed_url().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }
}

/// A `Transport` that records every request, then sends it with a real `ReqwestTransport`.
/// Clones share the log.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<ReqwestTransport>,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self::with_timeouts(Duration::from_secs(30), Duration::from_secs(5))
    }

    /// A recorder whose reqwest transport has these timeouts (a custom transport replaces the
    /// client's, so `ClientOptions::timeout` does not apply to it).
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Self {
        let inner = ReqwestTransport::new(timeout, connect_timeout, &Proxy::None).expect("a reqwest transport");
        Recorder { inner: Arc::new(inner), log: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn last(&self) -> Recorded {
        self.log.lock().unwrap().last().cloned().expect("at least one request was sent")
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    /// Requests whose method is `method` and whose path ends with `path_suffix`.
    pub fn matching(&self, method: &Method, path_suffix: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.method == method && r.path().ends_with(path_suffix)).collect()
    }
}

impl Transport for Recorder {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let body = match &request.body {
            RequestBody::Bytes(b) => Some(b.clone()),
            _ => None,
        };
        self.log.lock().unwrap().push(Recorded {
            method: request.method.clone(),
            url: request.url.to_string(),
            headers: request.headers.clone(),
            body,
            body_len: request.body.len(),
        });
        self.inner.send(request)
    }
}
