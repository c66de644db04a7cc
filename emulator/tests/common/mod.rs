//! Shared harness for the emulator's integration tests: an in-process emulator on a free
//! loopback port and a plain `reqwest` client (never the SDK: the emulator judges the SDK).
#![allow(dead_code)]

use fluidcloud_emulator::{Config, Emulator, EmulatorHandle};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// Every scope but the `service:*` ones.
pub const USER_SCOPES: &[&str] =
    &["spaces:read", "spaces:write", "files:read", "files:write", "shares:read", "shares:write", "quota:read"];

pub struct Emu {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
    pub key: String,
}

pub async fn start() -> Emu {
    start_with(Config::default()).await
}

pub async fn start_with(config: Config) -> Emu {
    let handle = Emulator::start(config).await.expect("emulator starts");
    let key = handle.api_key().to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("http client");
    Emu { handle, http, key }
}

impl Emu {
    pub fn base(&self) -> &str {
        self.handle.url()
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.handle.url(), path)
    }

    /// An API request with the default key.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.req_as(&self.key, method, path)
    }

    /// An API request with the given credential (`fck_` keys as `X-API-Key`, else Bearer).
    pub fn req_as(&self, key: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.api_url(path)).header("Accept", "application/json");
        if key.starts_with("fck_") {
            rb.header("X-API-Key", key)
        } else {
            rb.bearer_auth(key)
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("send")
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.req(Method::POST, path).json(&body).send().await.expect("send")
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.req(Method::PATCH, path).json(&body).send().await.expect("send")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.expect("send")
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut rb = self.http.request(method, format!("{}/_emulator{}", self.handle.url(), path));
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        rb.send().await.expect("send")
    }

    /// A new key for a new tenant (or `tenant_id`'s) with the given scopes: (key, tenant_id).
    pub async fn new_key(&self, scopes: &[&str], tenant_id: Option<&str>) -> (String, String) {
        let mut body = json!({ "scopes": scopes });
        if let Some(t) = tenant_id {
            body["tenant_id"] = json!(t);
        }
        let v = expect_json(self.admin(Method::POST, "/keys", Some(body)).await, StatusCode::OK).await;
        (v["key"].as_str().unwrap().to_string(), v["tenant_id"].as_str().unwrap().to_string())
    }

    pub async fn advance_clock(&self, seconds: i64) {
        let r = self
            .admin(Method::POST, "/clock", Some(json!({ "advance_seconds": seconds })))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// The id of the tenant's `Default` space.
    pub async fn default_space(&self) -> String {
        let v = expect_json(self.get("/spaces").await, StatusCode::OK).await;
        v[0]["id"].as_str().unwrap().to_string()
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_json(resp: Response, status: StatusCode) -> Value {
    let got = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

impl Emu {
    /// initiate → PUT(s) → complete, as a well-behaved client does; returns the complete
    /// response's `File`.
    pub async fn upload(&self, space_id: &str, name: &str, content_type: &str, data: &[u8]) -> Value {
        self.upload_in(space_id, None, name, content_type, data).await
    }

    pub async fn upload_in(
        &self,
        space_id: &str,
        folder_id: Option<&str>,
        name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Value {
        let ticket = expect_json(
            self.post("/uploads/initiate", self.initiate_body(space_id, folder_id, name, content_type, data.len())).await,
            StatusCode::OK,
        )
        .await;
        let (upload_id, parts) = self.put_ticket(&ticket, content_type, data).await;
        let body = json!({
            "file_id": ticket["file_id"], "key": ticket["key"], "upload_id": upload_id,
            "parts": parts, "original_name": name, "mime": content_type, "size": data.len(),
            "sha256": sha256_hex(data), "space_id": space_id, "folder_id": folder_id,
            "app": null, "client_key": null,
        });
        expect_json(self.post("/uploads/complete", body).await, StatusCode::OK).await
    }

    pub fn initiate_body(
        &self,
        space_id: &str,
        folder_id: Option<&str>,
        name: &str,
        content_type: &str,
        size: usize,
    ) -> Value {
        json!({
            "original_name": name, "content_type": content_type, "size": size,
            "space_id": space_id, "folder_id": folder_id, "app": null,
        })
    }

    /// PUTs `data` as the ticket says; returns (`upload_id`, `parts`) for complete.
    pub async fn put_ticket(&self, ticket: &Value, content_type: &str, data: &[u8]) -> (Value, Value) {
        if ticket["mode"] == "single" {
            let r = self
                .http
                .put(ticket["upload_url"].as_str().unwrap())
                .header("Content-Type", content_type)
                .body(data.to_vec())
                .send()
                .await
                .expect("put");
            assert_eq!(r.status(), StatusCode::OK, "single PUT: {}", r.text().await.unwrap_or_default());
            return (Value::Null, Value::Null);
        }
        let part_size = ticket["part_size"].as_u64().unwrap() as usize;
        let mut parts = Vec::new();
        for p in ticket["part_urls"].as_array().unwrap() {
            let n = p["part_number"].as_u64().unwrap() as usize;
            let chunk = &data[(n - 1) * part_size..(n * part_size).min(data.len())];
            let r = self.http.put(p["url"].as_str().unwrap()).body(chunk.to_vec()).send().await.expect("put");
            assert_eq!(r.status(), StatusCode::OK, "part PUT: {}", r.text().await.unwrap_or_default());
            let etag = r.headers()["etag"].to_str().unwrap().to_string();
            parts.push(json!({ "PartNumber": n, "ETag": etag }));
        }
        (ticket["upload_id"].clone(), Value::Array(parts))
    }
}
