//! Storage-side integration tests: uploads (single/multipart), complete checks, storage URL
//! rules, scanning, download URLs, share links, faults, admin, persistence and bandwidth.

mod common;

use common::{expect_json, sha256_hex, Emu};
use fluidcloud_emulator::Config;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

// ---------------------------------------------------------------------------------------
// helpers

fn small() -> Config {
    Config { multipart_threshold: 1024, part_size: 256, ..Default::default() }
}

async fn start_small() -> Emu {
    common::start_with(small()).await
}

/// Deterministic non-text bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i as u32).wrapping_mul(2654435761) >> 13) as u8 ^ seed).collect()
}

/// A plain client with no credential, no pooling (a fresh connection per request).
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn expect_status(resp: Response, status: StatusCode) -> String {
    let got = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "unexpected status; body: {text}");
    text
}

/// Asserts `status` and returns `detail` as lowercase text.
async fn expect_detail(resp: Response, status: StatusCode) -> String {
    let v = expect_json(resp, status).await;
    assert!(!v["detail"].is_null(), "no detail: {v}");
    v["detail"].to_string().to_lowercase()
}

fn assert_names(detail: &str, words: &[&str], what: &str) {
    assert!(
        words.iter().any(|w| detail.contains(w)),
        "{what}: detail {detail:?} names none of {words:?}"
    );
}

async fn post_as(emu: &Emu, key: &str, path: &str, body: Value) -> Response {
    emu.req_as(key, Method::POST, path).json(&body).send().await.expect("send")
}

async fn get_as(emu: &Emu, key: &str, path: &str) -> Response {
    emu.req_as(key, Method::GET, path).send().await.expect("send")
}

async fn initiate(emu: &Emu, space: &str, name: &str, ct: &str, size: usize) -> Value {
    expect_json(
        emu.post("/uploads/initiate", emu.initiate_body(space, None, name, ct, size)).await,
        StatusCode::OK,
    )
    .await
}

fn complete_body(ticket: &Value, upload: &(Value, Value), name: &str, mime: &str, data: &[u8], space: &str) -> Value {
    json!({
        "file_id": ticket["file_id"], "key": ticket["key"], "upload_id": upload.0,
        "parts": upload.1, "original_name": name, "mime": mime, "size": data.len(),
        "sha256": sha256_hex(data), "space_id": space, "folder_id": null,
        "app": null, "client_key": null,
    })
}

fn part_url(ticket: &Value, n: usize) -> String {
    ticket["part_urls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part_number"].as_u64() == Some(n as u64))
        .unwrap_or_else(|| panic!("no part {n} in {ticket}"))["url"]
        .as_str()
        .unwrap()
        .to_string()
}

fn chunk<'a>(ticket: &Value, n: usize, data: &'a [u8]) -> &'a [u8] {
    let ps = ticket["part_size"].as_u64().unwrap() as usize;
    &data[(n - 1) * ps..(n * ps).min(data.len())]
}

fn part_count(ticket: &Value) -> usize {
    ticket["part_urls"].as_array().unwrap().len()
}

/// PUTs part `n`; asserts 200 and a quoted ETag; returns the ETag verbatim.
async fn put_part(emu: &Emu, ticket: &Value, n: usize, data: &[u8]) -> String {
    let r = emu.http.put(part_url(ticket, n)).body(data.to_vec()).send().await.expect("put");
    assert_eq!(r.status(), StatusCode::OK, "part {n} PUT: {}", r.text().await.unwrap_or_default());
    let etag = r.headers().get("etag").expect("ETag header").to_str().unwrap().to_string();
    assert_quoted(&etag);
    etag
}

/// PUTs every part of `data` (in order); returns the `parts` list for complete.
async fn put_all_parts(emu: &Emu, ticket: &Value, data: &[u8]) -> Vec<Value> {
    let mut parts = Vec::new();
    for n in 1..=part_count(ticket) {
        let etag = put_part(emu, ticket, n, chunk(ticket, n, data)).await;
        parts.push(json!({"PartNumber": n, "ETag": etag}));
    }
    parts
}

async fn put_single(emu: &Emu, ticket: &Value, ct: &str, data: &[u8]) -> Response {
    emu.http
        .put(ticket["upload_url"].as_str().unwrap())
        .header("Content-Type", ct)
        .body(data.to_vec())
        .send()
        .await
        .expect("put")
}

fn assert_quoted(etag: &str) {
    assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'), "ETag not a quoted string: {etag:?}");
}

async fn get_file(emu: &Emu, id: &str) -> Value {
    expect_json(emu.get(&format!("/files/{id}")).await, StatusCode::OK).await
}

async fn download_url(emu: &Emu, id: &str) -> String {
    let v = expect_json(emu.get(&format!("/files/{id}/download")).await, StatusCode::OK).await;
    v["url"].as_str().unwrap().to_string()
}

async fn fetch(url: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = bare().get(url).send().await.expect("get");
    let s = r.status();
    let h = r.headers().clone();
    (s, h, r.bytes().await.unwrap().to_vec())
}

async fn mint(emu: &Emu, file_id: &str, days: Value, permission: Option<&str>) -> Value {
    let mut body = json!({"file_id": file_id, "expires_in_days": days});
    if let Some(p) = permission {
        body["permission"] = json!(p);
    }
    expect_json(emu.post("/shares", body).await, StatusCode::CREATED).await
}

async fn shares(emu: &Emu, file_id: &str, include_inactive: bool) -> Vec<Value> {
    let v = expect_json(
        emu.get(&format!("/shares?file_id={file_id}&include_inactive={include_inactive}")).await,
        StatusCode::OK,
    )
    .await;
    v.as_array().expect("shares list").clone()
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap_or_else(|| panic!("missing header {name}")).to_str().unwrap()
}

async fn add_faults(emu: &Emu, rules: Value) {
    let r = emu.admin(Method::POST, "/faults", Some(json!({ "rules": rules }))).await;
    assert!(r.status().is_success(), "install faults: {} {}", r.status(), r.text().await.unwrap_or_default());
}

async fn fault_rules(emu: &Emu) -> Vec<Value> {
    let v = expect_json(emu.admin(Method::GET, "/faults", None).await, StatusCode::OK).await;
    match v {
        Value::Array(a) => a,
        Value::Object(ref o) if o.get("rules").is_some_and(Value::is_array) => o["rules"].as_array().unwrap().clone(),
        other => panic!("unexpected fault list: {other}"),
    }
}

/// Changes the last character of `s` into another one of the same kind.
fn alter(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    match c.last().copied() {
        Some(d) if d.is_ascii_digit() => *c.last_mut().unwrap() = if d == '9' { '0' } else { (d as u8 + 1) as char },
        Some(l) if l.is_ascii_alphabetic() => *c.last_mut().unwrap() = if l == 'a' || l == 'A' { 'b' } else { 'a' },
        _ => c.push('0'),
    }
    c.into_iter().collect()
}

/// Every single-value alteration of `url`'s query, plus one of its path.
fn tampered(url: &str, file_id: &str) -> Vec<String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let items: Vec<&str> = if query.is_empty() { vec![] } else { query.split('&').collect() };
    let mut out = Vec::new();
    for i in 0..items.len() {
        let q: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(j, it)| {
                if i != j {
                    return it.to_string();
                }
                match it.split_once('=') {
                    Some((k, v)) => format!("{k}={}", alter(v)),
                    None => alter(it),
                }
            })
            .collect();
        out.push(format!("{base}?{}", q.join("&")));
    }
    let new_base = if base.contains(file_id) {
        base.replace(file_id, &uuid::Uuid::new_v4().to_string())
    } else {
        alter(base)
    };
    out.push(if query.is_empty() { new_base } else { format!("{new_base}?{query}") });
    out
}

// ---------------------------------------------------------------------------------------
// uploads

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_upload_ticket_and_stored_file() {
    let emu = start_small().await;
    let (key, tenant) = emu.new_key(common::USER_SCOPES, None).await;
    let spaces = expect_json(get_as(&emu, &key, "/spaces").await, StatusCode::OK).await;
    let space = spaces[0]["id"].as_str().unwrap().to_string();
    let data = b"hello, fluidcloud\n".to_vec();

    let body = emu.initiate_body(&space, None, "hello.txt", "text/plain", data.len());
    let ticket = expect_json(post_as(&emu, &key, "/uploads/initiate", body).await, StatusCode::OK).await;
    assert_eq!(ticket["mode"], "single", "{ticket}");
    let file_id = ticket["file_id"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(file_id).expect("file_id is a UUID");
    assert_eq!(parsed.to_string(), file_id, "file_id is a lowercase hyphenated UUID");
    assert_eq!(ticket["key"], format!("{tenant}/{space}/incoming/{file_id}.txt"));
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(url.starts_with(emu.base()), "upload_url {url} not on the emulator");

    // PUT with no credential at all.
    let r = put_single(&emu, &ticket, "text/plain", &data).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_quoted(header(r.headers(), "etag"));

    let done = json!({
        "file_id": file_id, "key": ticket["key"], "upload_id": null, "parts": null,
        "original_name": "hello.txt", "mime": "text/plain", "size": data.len(),
        "sha256": sha256_hex(&data), "space_id": space, "folder_id": null, "app": null, "client_key": null,
    });
    let file = expect_json(post_as(&emu, &key, "/uploads/complete", done).await, StatusCode::OK).await;
    assert_eq!(file["id"], file_id);
    assert_eq!(file["size"], data.len());
    assert_eq!(file["sha256"], sha256_hex(&data));
    assert_eq!(file["mime"], "text/plain");
    assert_eq!(file["original_name"], "hello.txt");
    assert_eq!(file["space_id"], space.as_str());
    assert_eq!(file["status"], "pending");
    assert_eq!(file["scan_status"], "clean");

    let got = expect_json(get_as(&emu, &key, &format!("/files/{file_id}")).await, StatusCode::OK).await;
    assert_eq!(got["status"], "ready");
    assert_eq!(got["scan_status"], "clean");
    assert_eq!(got["sha256"], sha256_hex(&data));
    assert_eq!(got["size"], data.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_upload_key_has_app_segment() {
    let emu = start_small().await;
    let (key, tenant) = emu.new_key(common::USER_SCOPES, None).await;
    let spaces = expect_json(get_as(&emu, &key, "/spaces").await, StatusCode::OK).await;
    let space = spaces[0]["id"].as_str().unwrap().to_string();
    let data = b"{\"a\":1}".to_vec();
    let mut body = emu.initiate_body(&space, None, "doc.json", "application/json", data.len());
    body["app"] = json!("photos");
    let ticket = expect_json(post_as(&emu, &key, "/uploads/initiate", body).await, StatusCode::OK).await;
    let file_id = ticket["file_id"].as_str().unwrap();
    assert_eq!(ticket["key"], format!("{tenant}/photos/{space}/incoming/{file_id}.json"));
    assert_eq!(put_single(&emu, &ticket, "application/json", &data).await.status(), StatusCode::OK);
    let mut done = complete_body(&ticket, &(Value::Null, Value::Null), "doc.json", "application/json", &data, &space);
    done["app"] = json!("photos");
    let file = expect_json(post_as(&emu, &key, "/uploads/complete", done).await, StatusCode::OK).await;
    assert_eq!(file["source_app"], "photos");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_name_and_mime_win() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"abc".to_vec();
    let ticket = initiate(&emu, &space, "first.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &ticket, "text/plain", &data).await.status(), StatusCode::OK);
    let body = complete_body(&ticket, &(Value::Null, Value::Null), "second.md", "text/markdown", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["original_name"], "second.md");
    assert_eq!(file["mime"], "text/markdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_threshold_and_part_urls() {
    let emu = start_small().await;
    let space = emu.default_space().await;

    let t = initiate(&emu, &space, "a.bin", "application/octet-stream", 1023).await;
    assert_eq!(t["mode"], "single", "size below threshold: {t}");

    let t = initiate(&emu, &space, "a.bin", "application/octet-stream", 1024).await;
    assert_eq!(t["mode"], "multipart", "size == threshold: {t}");
    assert_eq!(t["part_size"], 256);
    assert_eq!(part_count(&t), 4);

    let t = initiate(&emu, &space, "a.bin", "application/octet-stream", 1300).await;
    assert_eq!(t["mode"], "multipart");
    let fid = t["file_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(fid).is_ok());
    let key = t["key"].as_str().unwrap();
    assert!(key.ends_with(&format!("/{space}/incoming/{fid}.bin")), "key {key}");
    assert!(t["upload_id"].as_str().is_some_and(|s| !s.is_empty()), "upload_id: {t}");
    let nums: Vec<u64> = t["part_urls"].as_array().unwrap().iter().map(|p| p["part_number"].as_u64().unwrap()).collect();
    assert_eq!(nums, vec![1, 2, 3, 4, 5, 6], "ceil(1300/256) parts numbered from 1");
    let urls: std::collections::HashSet<&str> =
        t["part_urls"].as_array().unwrap().iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert_eq!(urls.len(), 6, "distinct part URLs");

    // part size raised to ceil(size / 10000) when needed (README)
    let t = initiate(&emu, &space, "big.bin", "application/octet-stream", 3_000_000).await;
    assert_eq!(t["mode"], "multipart");
    assert_eq!(t["part_size"], 300);
    assert_eq!(part_count(&t), 10000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_out_of_order_and_repeated_part() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = bytes(1300, 7);
    let ticket = initiate(&emu, &space, "video.bin", "application/octet-stream", data.len()).await;
    assert_eq!(ticket["mode"], "multipart");
    let n = part_count(&ticket);
    assert_eq!(n, 6);
    for i in 1..n {
        assert_eq!(chunk(&ticket, i, &data).len(), 256);
    }
    assert_eq!(chunk(&ticket, n, &data).len(), 1300 - 5 * 256);

    let mut etags = vec![String::new(); n + 1];
    // part 2 first with wrong bytes of the right length
    put_part(&emu, &ticket, 2, &bytes(256, 99)).await;
    for i in (1..=n).rev() {
        etags[i] = put_part(&emu, &ticket, i, chunk(&ticket, i, &data)).await;
    }
    // part 4 PUT twice: wrong then right; the last write wins
    put_part(&emu, &ticket, 4, &bytes(256, 55)).await;
    etags[4] = put_part(&emu, &ticket, 4, chunk(&ticket, 4, &data)).await;

    let parts: Vec<Value> = (1..=n).map(|i| json!({"PartNumber": i, "ETag": etags[i]})).collect();
    let body = complete_body(&ticket, &(ticket["upload_id"].clone(), json!(parts)), "video.bin", "application/octet-stream", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["size"], 1300);
    assert_eq!(file["sha256"], sha256_hex(&data));
    assert_eq!(file["status"], "pending");
    assert_eq!(file["scan_status"], "clean");
    let id = file["id"].as_str().unwrap();
    let got = get_file(&emu, id).await;
    assert_eq!(got["status"], "ready");
    let (s, _, body) = fetch(&download_url(&emu, id).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_put_must_carry_exact_length() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let ticket = initiate(&emu, &space, "x.bin", "application/octet-stream", 1300).await;
    let r = emu.http.put(part_url(&ticket, 1)).body(bytes(200, 1)).send().await.unwrap();
    let text = expect_status(r, StatusCode::BAD_REQUEST).await;
    assert!(text.contains("256"), "names the expected length: {text}");
    let r = emu.http.put(part_url(&ticket, 6)).body(bytes(256, 1)).send().await.unwrap();
    let text = expect_status(r, StatusCode::BAD_REQUEST).await;
    assert!(text.contains("20"), "names the expected length: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_upload() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let t = initiate(&emu, &space, "empty.txt", "text/plain", 0).await;
    assert_eq!(t["mode"], "single");
    // reqwest sends no Content-Length for an empty body on its own: send it explicitly
    let r = emu
        .http
        .put(t["upload_url"].as_str().unwrap())
        .header("Content-Type", "text/plain")
        .header("Content-Length", "0")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap_or_default());
    let body = complete_body(&t, &(Value::Null, Value::Null), "empty.txt", "text/plain", b"", &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["size"], 0);
    assert_eq!(file["sha256"], sha256_hex(b""));
    assert_eq!(file["original_name"], "empty.txt");
    let id = file["id"].as_str().unwrap();
    let got = get_file(&emu, id).await;
    assert_eq!(got["status"], "ready");
    assert_eq!(got["size"], 0);
    let (s, _, body) = fetch(&download_url(&emu, id).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_calls_require_every_key() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"keys".to_vec();
    let init = emu.initiate_body(&space, None, "k.txt", "text/plain", data.len());
    for k in ["original_name", "content_type", "size", "space_id", "folder_id", "app"] {
        let mut b = init.clone();
        b.as_object_mut().unwrap().remove(k);
        let v = expect_json(emu.post("/uploads/initiate", b).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(v["detail"].is_array(), "initiate without {k}: {v}");
        assert!(v["detail"].to_string().contains(k), "initiate without {k}: detail names it: {v}");
    }
    let ticket = expect_json(emu.post("/uploads/initiate", init).await, StatusCode::OK).await;
    assert_eq!(put_single(&emu, &ticket, "text/plain", &data).await.status(), StatusCode::OK);
    let done = complete_body(&ticket, &(Value::Null, Value::Null), "k.txt", "text/plain", &data, &space);
    for k in [
        "file_id", "key", "upload_id", "parts", "original_name", "mime", "size", "sha256", "space_id", "folder_id",
        "app", "client_key",
    ] {
        let mut b = done.clone();
        b.as_object_mut().unwrap().remove(k);
        let v = expect_json(emu.post("/uploads/complete", b).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(v["detail"].is_array(), "complete without {k}: {v}");
        assert!(v["detail"].to_string().contains(k), "complete without {k}: detail names it: {v}");
    }
    // with every key present it goes through
    let file = expect_json(emu.post("/uploads/complete", done).await, StatusCode::OK).await;
    assert_eq!(file["id"], ticket["file_id"]);
}

// ---------------------------------------------------------------------------------------
// storage rules

fn chunked(data: Vec<u8>) -> reqwest::Body {
    let s = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(data))]);
    reqwest::Body::wrap_stream(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_put_without_content_length_is_411() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"chunked body".to_vec();
    let t = initiate(&emu, &space, "c.txt", "text/plain", data.len()).await;
    let r = bare()
        .put(t["upload_url"].as_str().unwrap())
        .header("Content-Type", "text/plain")
        .body(chunked(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);

    let m = initiate(&emu, &space, "m.bin", "application/octet-stream", 1300).await;
    let part = chunk(&m, 1, &bytes(1300, 3)).to_vec();
    let r = bare().put(part_url(&m, 1)).body(chunked(part)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::LENGTH_REQUIRED);

    // with a Content-Length the same PUTs go through
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    put_part(&emu, &m, 1, chunk(&m, 1, &bytes(1300, 3))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_put_with_other_content_type_is_403() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"<p>hi</p>".to_vec();
    let t = initiate(&emu, &space, "p.html", "text/html", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put_single(&emu, &t, "application/octet-stream", &data).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put_single(&emu, &t, "text/html", &data).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_storage_urls_are_403() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"tamper".to_vec();
    let t = initiate(&emu, &space, "t.txt", "text/plain", data.len()).await;
    let fid = t["file_id"].as_str().unwrap();
    let url = t["upload_url"].as_str().unwrap();
    let variants = tampered(url, fid);
    assert!(variants.len() >= 2, "URL carries no query to tamper with: {url}");
    for v in &variants {
        let r = bare().put(v).header("Content-Type", "text/plain").body(data.clone()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "tampered {v} (from {url})");
    }
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);

    let m = initiate(&emu, &space, "m.bin", "application/octet-stream", 1300).await;
    let mfid = m["file_id"].as_str().unwrap();
    let purl = part_url(&m, 2);
    let part = chunk(&m, 2, &bytes(1300, 4)).to_vec();
    for v in tampered(&purl, mfid) {
        let r = bare().put(&v).body(part.clone()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "tampered {v} (from {purl})");
    }
    put_part(&emu, &m, 2, &part).await;

    // a download URL as well
    let file = emu.upload(&space, "d.txt", "text/plain", b"download me").await;
    let id = file["id"].as_str().unwrap();
    let durl = download_url(&emu, id).await;
    for v in tampered(&durl, id) {
        let (s, _, _) = fetch(&v).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "tampered {v} (from {durl})");
    }
    let (s, _, body) = fetch(&durl).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, b"download me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_upload_urls_are_403() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"late".to_vec();
    let t = initiate(&emu, &space, "late.txt", "text/plain", data.len()).await;
    let m = initiate(&emu, &space, "late.bin", "application/octet-stream", 1300).await;
    emu.advance_clock(2 * 3600).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::FORBIDDEN);
    let r = bare().put(part_url(&m, 1)).body(bytes(256, 0)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_requests_need_no_credential_and_etags_are_quoted() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"no credential needed".to_vec();
    let t = initiate(&emu, &space, "n.txt", "text/plain", data.len()).await;
    // a brand-new client that never saw a key
    let r = bare()
        .put(t["upload_url"].as_str().unwrap())
        .header("Content-Type", "text/plain")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_quoted(header(r.headers(), "etag"));
    let body = complete_body(&t, &(Value::Null, Value::Null), "n.txt", "text/plain", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;

    let m = initiate(&emu, &space, "n.bin", "application/octet-stream", 1100).await;
    let mdata = bytes(1100, 9);
    for n in 1..=part_count(&m) {
        let r = bare().put(part_url(&m, n)).body(chunk(&m, n, &mdata).to_vec()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_quoted(header(r.headers(), "etag"));
    }

    let url = download_url(&emu, file["id"].as_str().unwrap()).await;
    let (s, _, got) = fetch(&url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, data);
}

// ---------------------------------------------------------------------------------------
// complete checks

/// A multipart upload with every part PUT: (ticket, data, parts).
async fn staged_multipart(emu: &Emu, space: &str) -> (Value, Vec<u8>, Vec<Value>) {
    let data = bytes(1300, 21);
    let t = initiate(emu, space, "m.bin", "application/octet-stream", data.len()).await;
    let parts = put_all_parts(emu, &t, &data).await;
    (t, data, parts)
}

fn multipart_body(t: &Value, data: &[u8], parts: Vec<Value>, space: &str) -> Value {
    complete_body(t, &(t["upload_id"].clone(), json!(parts)), "m.bin", "application/octet-stream", data, space)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_missing_object_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"never put".to_vec();
    let t = initiate(&emu, &space, "x.txt", "text/plain", data.len()).await;
    let body = complete_body(&t, &(Value::Null, Value::Null), "x.txt", "text/plain", &data, &space);
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["missing", "not uploaded", "no object", "not found"], "missing object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_missing_part_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = bytes(1300, 22);
    let t = initiate(&emu, &space, "m.bin", "application/octet-stream", data.len()).await;
    let mut parts = Vec::new();
    for n in 1..=part_count(&t) {
        let etag = if n == 3 {
            "\"00000000000000000000000000000000\"".to_string()
        } else {
            put_part(&emu, &t, n, chunk(&t, n, &data)).await
        };
        parts.push(json!({"PartNumber": n, "ETag": etag}));
    }
    let d = expect_detail(emu.post("/uploads/complete", multipart_body(&t, &data, parts, &space)).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["missing", "not uploaded", "not found", "no such"], "missing part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_part_list_gap_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (t, data, mut parts) = staged_multipart(&emu, &space).await;
    parts.remove(2); // parts 1,2,4,5,6
    let d = expect_detail(emu.post("/uploads/complete", multipart_body(&t, &data, parts, &space)).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["gap", "missing", "consecutive", "contiguous", "sequence"], "gap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_parts_out_of_order_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (t, data, mut parts) = staged_multipart(&emu, &space).await;
    parts.swap(1, 2); // 1,3,2,4,5,6
    let d = expect_detail(emu.post("/uploads/complete", multipart_body(&t, &data, parts, &space)).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["order", "ascending", "sorted"], "order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_etag_mismatch_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (t, data, mut parts) = staged_multipart(&emu, &space).await;
    parts[1]["ETag"] = json!("\"deadbeefdeadbeefdeadbeefdeadbeef\"");
    let d = expect_detail(emu.post("/uploads/complete", multipart_body(&t, &data, parts, &space)).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["etag"], "etag mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_size_mismatch_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    // the object is shorter than initiate said (a single PUT may carry any length)
    let data = b"0123456789".to_vec();
    let t = initiate(&emu, &space, "s.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data[..9]).await.status(), StatusCode::OK);
    let mut body = complete_body(&t, &(Value::Null, Value::Null), "s.txt", "text/plain", &data, &space);
    body["sha256"] = json!(sha256_hex(&data[..9]));
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["size"], "size mismatch (short object)");

    // the object is right but complete declares another size
    let t = initiate(&emu, &space, "s2.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let mut body = complete_body(&t, &(Value::Null, Value::Null), "s2.txt", "text/plain", &data, &space);
    body["size"] = json!(data.len() + 1);
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["size"], "size mismatch (declared)");

    // multipart, declared size off by one
    let (t, data, parts) = staged_multipart(&emu, &space).await;
    let mut body = multipart_body(&t, &data, parts, &space);
    body["size"] = json!(data.len() - 1);
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["size"], "size mismatch (multipart)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_sha256_mismatch_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"hash me".to_vec();
    let t = initiate(&emu, &space, "h.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let mut body = complete_body(&t, &(Value::Null, Value::Null), "h.txt", "text/plain", &data, &space);
    body["sha256"] = json!(sha256_hex(b"something else"));
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["sha256", "sha-256", "hash", "checksum"], "sha256 mismatch");

    let (t, data, parts) = staged_multipart(&emu, &space).await;
    let mut body = multipart_body(&t, &data, parts, &space);
    body["sha256"] = json!(sha256_hex(b"other"));
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["sha256", "sha-256", "hash", "checksum"], "sha256 mismatch (multipart)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_unknown_file_key_pair_is_404() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"pair".to_vec();
    let a = initiate(&emu, &space, "a.txt", "text/plain", data.len()).await;
    let b = initiate(&emu, &space, "b.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &a, "text/plain", &data).await.status(), StatusCode::OK);
    assert_eq!(put_single(&emu, &b, "text/plain", &data).await.status(), StatusCode::OK);
    let good = complete_body(&a, &(Value::Null, Value::Null), "a.txt", "text/plain", &data, &space);

    let mut body = good.clone();
    body["file_id"] = json!(uuid::Uuid::new_v4().to_string());
    expect_json(emu.post("/uploads/complete", body).await, StatusCode::NOT_FOUND).await;

    let mut body = good.clone();
    body["key"] = b["key"].clone();
    expect_json(emu.post("/uploads/complete", body).await, StatusCode::NOT_FOUND).await;

    // another tenant cannot complete it either
    let (other, _) = emu.new_key(common::USER_SCOPES, None).await;
    expect_json(post_as(&emu, &other, "/uploads/complete", good.clone()).await, StatusCode::NOT_FOUND).await;

    expect_json(emu.post("/uploads/complete", good).await, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_space_or_folder_differing_from_initiate_is_400() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let other = expect_json(emu.post("/spaces", json!({"name": "Other"})).await, StatusCode::CREATED).await;
    let folder = expect_json(
        emu.post("/folders", json!({"name": "f", "space_id": space})).await,
        StatusCode::CREATED,
    )
    .await;
    let data = b"where".to_vec();
    let t = initiate(&emu, &space, "w.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let good = complete_body(&t, &(Value::Null, Value::Null), "w.txt", "text/plain", &data, &space);

    let mut body = good.clone();
    body["space_id"] = other["id"].clone();
    expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;

    let mut body = good.clone();
    body["folder_id"] = folder["id"].clone();
    expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;

    let file = expect_json(emu.post("/uploads/complete", good).await, StatusCode::OK).await;
    assert_eq!(file["space_id"], space.as_str());
    assert!(file["folder_id"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_into_a_folder_trashed_since_initiate_is_409() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let folder = expect_json(emu.post("/folders", json!({"name": "f", "space_id": space})).await, StatusCode::CREATED).await;
    let folder_id = folder["id"].as_str().unwrap();
    let data = b"inside".to_vec();
    let t = expect_json(
        emu.post("/uploads/initiate", emu.initiate_body(&space, Some(folder_id), "in.txt", "text/plain", data.len())).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let mut body = complete_body(&t, &(Value::Null, Value::Null), "in.txt", "text/plain", &data, &space);
    body["folder_id"] = json!(folder_id);
    expect_json(emu.delete(&format!("/folders/{folder_id}")).await, StatusCode::OK).await;
    let detail = expect_detail(emu.post("/uploads/complete", body.clone()).await, StatusCode::CONFLICT).await;
    assert_names(&detail, &["trash"], "complete into a trashed folder");
    let trashed = expect_json(emu.get(&format!("/files?space_id={space}&folder_id={folder_id}&trash=true")).await, StatusCode::OK).await;
    let live = expect_json(emu.get(&format!("/files?space_id={space}&folder_id={folder_id}&trash=false")).await, StatusCode::OK).await;
    assert_eq!((trashed, live), (json!([]), json!([])), "no file was made");
    // restored, the same upload completes into it
    expect_json(emu.post(&format!("/folders/{folder_id}/restore"), json!({})).await, StatusCode::OK).await;
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["folder_id"], json!(folder_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mime_that_cannot_be_a_header_is_422() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    for bad in ["", "text", "text/", "/plain", "text/plain\r\nSet-Cookie: a=b", "text/pl ain", "tëxt/plain"] {
        let v = expect_json(emu.post("/uploads/initiate", emu.initiate_body(&space, None, "a.txt", bad, 1)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(v.to_string().contains("content_type"), "{bad:?}: {v}");
    }
    let data = b"typed".to_vec();
    let t = initiate(&emu, &space, "t.txt", "text/plain; charset=utf-8", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain; charset=utf-8", &data).await.status(), StatusCode::OK);
    let good = complete_body(&t, &(Value::Null, Value::Null), "t.txt", "text/plain; charset=utf-8", &data, &space);
    for bad in ["", "text/plain\r\nSet-Cookie: a=b", "nonsense"] {
        let mut body = good.clone();
        body["mime"] = json!(bad);
        let v = expect_json(emu.post("/uploads/complete", body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(v.to_string().contains("mime"), "{bad:?}: {v}");
    }
    let file = expect_json(emu.post("/uploads/complete", good).await, StatusCode::OK).await;
    assert_eq!(file["mime"], "text/plain; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_complete_is_idempotent() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (t, data, parts) = staged_multipart(&emu, &space).await;
    let body = multipart_body(&t, &data, parts, &space);
    let first = expect_json(emu.post("/uploads/complete", body.clone()).await, StatusCode::OK).await;
    let again = expect_json(emu.post("/uploads/complete", body.clone()).await, StatusCode::OK).await;
    assert_eq!(first, again, "the same File as the first answer");
    assert_eq!(again["sha256"], sha256_hex(&data));
    let files = expect_json(emu.get(&format!("/files?space_id={space}&trash=false")).await, StatusCode::OK).await;
    let n = files.as_array().unwrap().iter().filter(|f| f["id"] == first["id"]).count();
    assert_eq!(n, 1, "one file, listed once");
    let quota = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(quota["bytes_used"], 1300, "counted once");

    // README: after success, a complete with a different body is 409
    let mut other = body;
    other["original_name"] = json!("renamed.bin");
    expect_json(emu.post("/uploads/complete", other).await, StatusCode::CONFLICT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_exceeded_between_initiate_and_complete_is_402() {
    let emu = start_small().await;
    let v = expect_json(
        emu.admin(Method::POST, "/keys", Some(json!({"scopes": common::USER_SCOPES, "bytes_limit": 1500}))).await,
        StatusCode::OK,
    )
    .await;
    let key = v["key"].as_str().unwrap().to_string();
    let spaces = expect_json(get_as(&emu, &key, "/spaces").await, StatusCode::OK).await;
    let space = spaces[0]["id"].as_str().unwrap().to_string();
    let a_data = bytes(1000, 1);
    let b_data = bytes(1000, 2);
    let mut tickets = Vec::new();
    for (name, d) in [("a.bin", &a_data), ("b.bin", &b_data)] {
        let body = emu.initiate_body(&space, None, name, "application/octet-stream", d.len());
        let t = expect_json(post_as(&emu, &key, "/uploads/initiate", body).await, StatusCode::OK).await;
        assert_eq!(put_single(&emu, &t, "application/octet-stream", d).await.status(), StatusCode::OK);
        tickets.push(t);
    }
    let a = complete_body(&tickets[0], &(Value::Null, Value::Null), "a.bin", "application/octet-stream", &a_data, &space);
    let b = complete_body(&tickets[1], &(Value::Null, Value::Null), "b.bin", "application/octet-stream", &b_data, &space);
    expect_json(post_as(&emu, &key, "/uploads/complete", a).await, StatusCode::OK).await;
    let v = expect_json(post_as(&emu, &key, "/uploads/complete", b).await, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(v["detail"], "quota_exceeded");
    let q = expect_json(get_as(&emu, &key, "/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 1000);
    assert_eq!(q["bytes_limit"], 1500);
    let files = expect_json(get_as(&emu, &key, &format!("/files?space_id={space}&trash=false")).await, StatusCode::OK).await;
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
}

// ---------------------------------------------------------------------------------------
// scanning

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eicar_single_is_infected_and_cannot_be_shared() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let mut data = b"leading text ".to_vec();
    data.extend_from_slice(EICAR);
    data.extend_from_slice(b" trailing");
    let file = emu.upload(&space, "eicar.txt", "text/plain", &data).await;
    assert_ne!(file["scan_status"], "clean", "{file}");
    let id = file["id"].as_str().unwrap();
    assert_eq!(get_file(&emu, id).await["scan_status"], "infected");
    expect_json(emu.post("/shares", json!({"file_id": id, "expires_in_days": null})).await, StatusCode::CONFLICT).await;
    expect_json(
        emu.post("/shares", json!({"file_id": id, "expires_in_days": 3, "permission": "download"})).await,
        StatusCode::CONFLICT,
    )
    .await;
    expect_json(emu.get(&format!("/files/{id}/download")).await, StatusCode::CONFLICT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eicar_across_part_boundary_is_infected() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let mut data = bytes(1100, 5);
    // EICAR across parts 1 and 2 (the boundary is at 256)
    let at = 256 - 30;
    data[at..at + EICAR.len()].copy_from_slice(EICAR);
    let t = initiate(&emu, &space, "split.bin", "application/octet-stream", data.len()).await;
    assert_eq!(t["mode"], "multipart");
    let parts = put_all_parts(&emu, &t, &data).await;
    assert!(!chunk(&t, 1, &data).windows(EICAR.len()).any(|w| w == EICAR));
    assert!(!chunk(&t, 2, &data).windows(EICAR.len()).any(|w| w == EICAR));
    let body = complete_body(&t, &(t["upload_id"].clone(), json!(parts)), "split.bin", "application/octet-stream", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(get_file(&emu, id).await["scan_status"], "infected");
    expect_json(emu.post("/shares", json!({"file_id": id, "expires_in_days": null})).await, StatusCode::CONFLICT).await;

    // the same bytes without the string are clean
    let clean = bytes(1100, 5);
    let f2 = emu.upload(&space, "clean.bin", "application/octet-stream", &clean).await;
    assert_eq!(get_file(&emu, f2["id"].as_str().unwrap()).await["scan_status"], "clean");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_delay_keeps_pending_until_clock_passes() {
    let emu = common::start_with(Config { scan_delay_ms: 600_000, ..small() }).await;
    let space = emu.default_space().await;
    let file = emu.upload(&space, "slow.txt", "text/plain", b"slow scan").await;
    assert_eq!(file["scan_status"], "pending");
    let id = file["id"].as_str().unwrap();
    let got = get_file(&emu, id).await;
    assert_eq!(got["scan_status"], "pending");
    assert_eq!(got["status"], "pending");
    expect_json(emu.post("/shares", json!({"file_id": id, "expires_in_days": null})).await, StatusCode::CONFLICT).await;

    emu.advance_clock(601).await;
    let got = get_file(&emu, id).await;
    assert_eq!(got["scan_status"], "clean");
    assert_eq!(got["status"], "ready");
    let link = mint(&emu, id, Value::Null, None).await;
    let (s, _, body) = fetch(link["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, b"slow scan");
}

// ---------------------------------------------------------------------------------------
// download URL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_url_serves_bytes_and_expires() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = bytes(1300, 77);
    let file = emu.upload(&space, "dl.bin", "application/octet-stream", &data).await;
    let id = file["id"].as_str().unwrap();
    let v = expect_json(emu.get(&format!("/files/{id}/download")).await, StatusCode::OK).await;
    let url = v["url"].as_str().unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).expect("expires_at ISO-8601");
    assert!(exp > chrono::Utc::now(), "expires_at in the future: {exp}");
    let r = bare().get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);

    emu.advance_clock(3600).await;
    let (s, _, _) = fetch(url).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // a fresh one works again
    let (s, _, body) = fetch(&download_url(&emu, id).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, data);
}

// ---------------------------------------------------------------------------------------
// links

async fn png(emu: &Emu, space: &str, name: &str, n: usize) -> (String, Vec<u8>) {
    let data = bytes(n, 0x42);
    let file = emu.upload(space, name, "image/png", &data).await;
    (file["id"].as_str().unwrap().to_string(), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_link_headers_and_stable_url() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "photo.png", 100).await;
    let link = mint(&emu, &id, Value::Null, None).await;
    assert!(link["expires_at"].is_null(), "{link}");
    assert_eq!(link["permission"], "view");
    let url = link["url"].as_str().unwrap().to_string();
    let again = mint(&emu, &id, Value::Null, None).await;
    assert_eq!(again["url"], url.as_str(), "permanent link URL is stable");
    assert_eq!(again["id"], link["id"]);

    let r = bare().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    assert_eq!(header(&h, "content-type"), "image/png");
    let cd = header(&h, "content-disposition");
    assert!(cd.starts_with("inline"), "{cd}");
    assert!(cd.contains("photo.png"), "{cd}");
    let etag = header(&h, "etag").to_string();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&data)));
    assert_eq!(header(&h, "accept-ranges"), "bytes");
    assert_eq!(header(&h, "cache-control"), "public, max-age=31536000, immutable");

    let r = bare().head(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let hh = r.headers().clone();
    assert!(r.bytes().await.unwrap().is_empty());
    for name in ["content-type", "content-disposition", "etag", "accept-ranges", "cache-control"] {
        assert_eq!(header(&hh, name), header(&h, name), "HEAD header {name}");
    }
    if let Some(cl) = hh.get("content-length") {
        assert_eq!(cl.to_str().unwrap(), "100");
    }

    // If-None-Match
    let r = bare().get(&url).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = bare().get(&url).header("If-None-Match", "\"other\"").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // unknown link
    let base = url.rsplit_once('/').unwrap().0;
    let (s, _, _) = fetch(&format!("{base}/doesnotexist")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_range_requests() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "r.png", 100).await;
    let url = mint(&emu, &id, Value::Null, None).await["url"].as_str().unwrap().to_string();
    let range = |r: &'static str| {
        let url = url.clone();
        async move {
            let resp = bare().get(&url).header("Range", r).send().await.unwrap();
            let s = resp.status();
            let h = resp.headers().clone();
            (s, h, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (s, h, b) = range("bytes=2-5").await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&h, "content-range"), "bytes 2-5/100");
    assert_eq!(b, &data[2..=5]);

    let (s, h, b) = range("bytes=-5").await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&h, "content-range"), "bytes 95-99/100");
    assert_eq!(b, &data[95..]);

    let (s, h, b) = range("bytes=10-").await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&h, "content-range"), "bytes 10-99/100");
    assert_eq!(b, &data[10..]);

    let (s, h, b) = range("bytes=90-500").await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&h, "content-range"), "bytes 90-99/100");
    assert_eq!(b, &data[90..]);

    let (s, _, _) = range("bytes=100-").await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    let (s, _, _) = range("bytes=200-300").await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);

    // README: several ranges → the whole body
    let (s, _, b) = range("bytes=0-1,5-6").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_permission_link_is_attachment() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "save.png", 64).await;
    let link = mint(&emu, &id, json!(7), Some("download")).await;
    assert_eq!(link["permission"], "download");
    let exp = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().expect("expires_at set")).unwrap();
    let days = (exp.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((7 * 24 - 2..=7 * 24 + 1).contains(&days), "expires in ~7 days: {exp}");
    let (s, h, b) = fetch(link["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
    let cd = header(&h, "content-disposition");
    assert!(cd.starts_with("attachment"), "{cd}");
    assert!(cd.contains("save.png"), "{cd}");
    assert_eq!(header(&h, "content-type"), "image/png");
    assert_eq!(header(&h, "cache-control"), "private, no-cache");

    // an expiring view link is inline
    let view = mint(&emu, &id, json!(1), Some("view")).await;
    let (s, h, _) = fetch(view["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(header(&h, "content-disposition").starts_with("inline"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_link_expires() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, _) = png(&emu, &space, "e.png", 10).await;
    let link = mint(&emu, &id, json!(1), None).await;
    let url = link["url"].as_str().unwrap();
    assert_eq!(fetch(url).await.0, StatusCode::OK);
    assert!(shares(&emu, &id, false).await.iter().any(|s| s["id"] == link["id"]));
    emu.advance_clock(86400 + 60).await;
    assert_eq!(fetch(url).await.0, StatusCode::NOT_FOUND);
    assert!(!shares(&emu, &id, false).await.iter().any(|s| s["id"] == link["id"]), "expired not listed as active");
    assert!(shares(&emu, &id, true).await.iter().any(|s| s["id"] == link["id"]), "expired listed with include_inactive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_link_is_404_and_listed_inactive() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "v.png", 10).await;
    let link = mint(&emu, &id, Value::Null, None).await;
    let url = link["url"].as_str().unwrap().to_string();
    let sid = link["id"].as_str().unwrap();
    assert_eq!(fetch(&url).await.0, StatusCode::OK);

    let r = emu.delete(&format!("/shares/{sid}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    assert_eq!(fetch(&url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(emu.delete(&format!("/shares/{sid}")).await.status(), StatusCode::NO_CONTENT, "revoking again");
    assert_eq!(emu.delete(&format!("/shares/{}", uuid::Uuid::new_v4())).await.status(), StatusCode::NOT_FOUND);

    assert!(!shares(&emu, &id, false).await.iter().any(|s| s["id"] == sid));
    let all = shares(&emu, &id, true).await;
    let s = all.iter().find(|s| s["id"] == sid).expect("revoked share listed with include_inactive");
    assert_eq!(s["revoked"], true);
    assert_eq!(s["file_id"], id.as_str());

    // minting again gives a new working link; the old one stays dead
    let fresh = mint(&emu, &id, Value::Null, None).await;
    assert_ne!(fresh["url"], url.as_str());
    let (s, _, b) = fetch(fresh["url"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
    assert_eq!(fetch(&url).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trashed_file_link_stops_and_restore_serves_again() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "t.png", 10).await;
    let url = mint(&emu, &id, Value::Null, None).await["url"].as_str().unwrap().to_string();
    let exp = mint(&emu, &id, json!(5), None).await["url"].as_str().unwrap().to_string();
    assert_eq!(fetch(&url).await.0, StatusCode::OK);
    expect_json(emu.delete(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(fetch(&url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&exp).await.0, StatusCode::NOT_FOUND);
    expect_json(emu.post("/shares", json!({"file_id": id, "expires_in_days": null})).await, StatusCode::NOT_FOUND).await;
    expect_json(emu.post(&format!("/files/{id}/restore"), json!({})).await, StatusCode::OK).await;
    let (s, _, b) = fetch(&url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
    assert_eq!(fetch(&exp).await.0, StatusCode::OK);
}

async fn share_count(emu: &Emu, file_id: &str, share_id: &Value) -> i64 {
    let all = shares(emu, file_id, false).await;
    all.iter().find(|s| &s["id"] == share_id).expect("share listed")["download_count"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_count_counts_get_200_and_206_only() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, _) = png(&emu, &space, "c.png", 100).await;
    let link = mint(&emu, &id, Value::Null, None).await;
    let url = link["url"].as_str().unwrap();
    assert_eq!(share_count(&emu, &id, &link["id"]).await, 0);
    let c = bare();
    assert_eq!(c.get(url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(url).header("Range", "bytes=0-9").send().await.unwrap().status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(share_count(&emu, &id, &link["id"]).await, 2);
    let etag = c.head(url).send().await.unwrap().headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(c.get(url).header("If-None-Match", &etag).send().await.unwrap().status(), StatusCode::NOT_MODIFIED);
    assert_eq!(share_count(&emu, &id, &link["id"]).await, 2, "HEAD and 304 do not count");
    assert_eq!(c.get(url).header("Range", "bytes=-5").send().await.unwrap().status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(c.get(url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(share_count(&emu, &id, &link["id"]).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_expiry_days_bounds() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, _) = png(&emu, &space, "b.png", 10).await;
    for bad in [json!(0), json!(366), json!(-1)] {
        let v = expect_json(
            emu.post("/shares", json!({"file_id": id, "expires_in_days": bad, "permission": "view"})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(v["detail"].is_array(), "{v}");
    }
    // the key itself is required (README)
    expect_json(emu.post("/shares", json!({"file_id": id})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    mint(&emu, &id, json!(1), Some("view")).await;
    mint(&emu, &id, json!(365), Some("view")).await;
    // unknown file
    expect_json(
        emu.post("/shares", json!({"file_id": uuid::Uuid::new_v4().to_string(), "expires_in_days": null})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_used_counts_active_links_only() {
    let emu = start_small().await;
    let v = expect_json(
        emu.admin(Method::POST, "/keys", Some(json!({"scopes": common::USER_SCOPES, "links_limit": 2}))).await,
        StatusCode::OK,
    )
    .await;
    let key = v["key"].as_str().unwrap().to_string();
    let spaces = expect_json(get_as(&emu, &key, "/spaces").await, StatusCode::OK).await;
    let space = spaces[0]["id"].as_str().unwrap().to_string();
    let data = b"links".to_vec();
    let body = emu.initiate_body(&space, None, "l.txt", "text/plain", data.len());
    let t = expect_json(post_as(&emu, &key, "/uploads/initiate", body).await, StatusCode::OK).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let done = complete_body(&t, &(Value::Null, Value::Null), "l.txt", "text/plain", &data, &space);
    let file = expect_json(post_as(&emu, &key, "/uploads/complete", done).await, StatusCode::OK).await;
    let id = file["id"].as_str().unwrap();
    let links_used = || {
        let (emu, key) = (&emu, &key);
        async move {
        let q = expect_json(get_as(emu, key, "/quota").await, StatusCode::OK).await;
        assert_eq!(q["links_limit"], 2);
        q["links_used"].as_i64().unwrap()
        }
    };
    assert_eq!(links_used().await, 0);
    let p = expect_json(
        post_as(&emu, &key, "/shares", json!({"file_id": id, "expires_in_days": null})).await,
        StatusCode::CREATED,
    )
    .await;
    let e = expect_json(
        post_as(&emu, &key, "/shares", json!({"file_id": id, "expires_in_days": 1, "permission": "view"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(links_used().await, 2);
    let v = expect_json(
        post_as(&emu, &key, "/shares", json!({"file_id": id, "expires_in_days": 2, "permission": "download"})).await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert_eq!(v["detail"], "quota_exceeded");

    let r = emu.req_as(&key, Method::DELETE, &format!("/shares/{}", p["id"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(links_used().await, 1);
    emu.advance_clock(2 * 86400).await;
    assert_eq!(links_used().await, 0);

    let all = expect_json(
        get_as(&emu, &key, &format!("/shares?file_id={id}&include_inactive=true")).await,
        StatusCode::OK,
    )
    .await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all.iter().find(|s| s["id"] == p["id"]).unwrap()["revoked"], true);
    assert_eq!(all.iter().find(|s| s["id"] == e["id"]).unwrap()["revoked"], false);
    let active = expect_json(
        get_as(&emu, &key, &format!("/shares?file_id={id}&include_inactive=false")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active.as_array().unwrap().len(), 0, "{active}");
}

// ---------------------------------------------------------------------------------------
// faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_status_with_retry_after_is_used_once() {
    let emu = start_small().await;
    add_faults(&emu, json!([{"target": "api", "times": 1, "action": "status", "status": 503, "retry_after": 7}])).await;
    assert_eq!(fault_rules(&emu).await.len(), 1);
    let r = emu.get("/spaces").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(r.headers(), "retry-after"), "7");
    assert_eq!(emu.get("/spaces").await.status(), StatusCode::OK);
    assert!(fault_rules(&emu).await.is_empty(), "rule used up");

    // times: 2 fires twice
    add_faults(&emu, json!([{"target": "api", "times": 2, "action": "status", "status": 429, "retry_after": 1}])).await;
    assert_eq!(emu.get("/quota").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fault_rules(&emu).await.len(), 1, "one use left");
    assert_eq!(emu.get("/quota").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(emu.get("/quota").await.status(), StatusCode::OK);
    assert!(fault_rules(&emu).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_path_contains_limits_matches() {
    let emu = start_small().await;
    add_faults(&emu, json!([{"target": "api", "path_contains": "/quota", "times": 1, "action": "status", "status": 500}])).await;
    assert_eq!(emu.get("/spaces").await.status(), StatusCode::OK);
    assert_eq!(fault_rules(&emu).await.len(), 1, "non-matching request leaves the rule");
    assert_eq!(emu.get("/quota").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(emu.get("/quota").await.status(), StatusCode::OK);

    // a storage_put rule does not touch the API
    add_faults(&emu, json!([{"target": "storage_put", "times": 1, "action": "status", "status": 500}])).await;
    assert_eq!(emu.get("/spaces").await.status(), StatusCode::OK);
    let space = emu.default_space().await;
    let t = initiate(&emu, &space, "f.txt", "text/plain", 3).await;
    assert_eq!(put_single(&emu, &t, "text/plain", b"abc").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(put_single(&emu, &t, "text/plain", b"abc").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_reset_breaks_put_and_leaves_part_missing() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = bytes(1300, 31);
    let t = initiate(&emu, &space, "r.bin", "application/octet-stream", data.len()).await;
    let mut parts = put_all_parts(&emu, &t, &data).await;
    add_faults(&emu, json!([{"target": "storage_put", "times": 1, "action": "reset", "after_bytes": 100}])).await;
    let r = bare().put(part_url(&t, 1)).body(chunk(&t, 1, &data).to_vec()).send().await;
    assert!(r.is_err(), "expected a connection error, got {:?}", r.map(|r| r.status()));
    assert!(fault_rules(&emu).await.is_empty());

    let body = complete_body(&t, &(t["upload_id"].clone(), json!(parts.clone())), "r.bin", "application/octet-stream", &data, &space);
    let d = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&d, &["missing", "not uploaded", "not found", "no such"], "part broken off");

    parts[0]["ETag"] = json!(put_part(&emu, &t, 1, chunk(&t, 1, &data)).await);
    let body = complete_body(&t, &(t["upload_id"].clone(), json!(parts)), "r.bin", "application/octet-stream", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["sha256"], sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_drop_response_on_complete_still_completes() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = b"dropped".to_vec();
    let t = initiate(&emu, &space, "d.txt", "text/plain", data.len()).await;
    assert_eq!(put_single(&emu, &t, "text/plain", &data).await.status(), StatusCode::OK);
    let body = complete_body(&t, &(Value::Null, Value::Null), "d.txt", "text/plain", &data, &space);
    add_faults(&emu, json!([{"target": "api", "path_contains": "/uploads/complete", "times": 1, "action": "drop_response"}])).await;
    let r = bare()
        .post(emu.api_url("/uploads/complete"))
        .header("X-API-Key", &emu.key)
        .json(&body)
        .send()
        .await;
    assert!(r.is_err(), "expected a connection error, got {:?}", r.map(|r| r.status()));
    let fid = t["file_id"].as_str().unwrap();
    let got = get_file(&emu, fid).await;
    assert_eq!(got["sha256"], sha256_hex(&data), "the dropped complete was carried out");
    let again = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(again["id"], fid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_delay_on_link_still_correct() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    let (id, data) = png(&emu, &space, "slow.png", 50).await;
    let url = mint(&emu, &id, Value::Null, None).await["url"].as_str().unwrap().to_string();
    add_faults(&emu, json!([{"target": "link", "times": 1, "action": "delay", "delay_ms": 300}])).await;
    let started = std::time::Instant::now();
    let (s, h, b) = fetch(&url).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(250), "delayed");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
    assert_eq!(header(&h, "content-type"), "image/png");
    assert!(fault_rules(&emu).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_delete_clears_rules() {
    let emu = start_small().await;
    add_faults(
        &emu,
        json!([
            {"target": "api", "times": 5, "action": "status", "status": 500},
            {"target": "link", "times": 5, "action": "status", "status": 503}
        ]),
    )
    .await;
    assert_eq!(fault_rules(&emu).await.len(), 2);
    let r = emu.admin(Method::DELETE, "/faults", None).await;
    assert!(r.status().is_success());
    assert!(fault_rules(&emu).await.is_empty());
    assert_eq!(emu.get("/spaces").await.status(), StatusCode::OK);
}

async fn probability_sequence(seed: u64) -> Vec<u16> {
    let emu = start_small().await;
    add_faults(
        &emu,
        json!([{"target": "api", "times": 1000, "action": "status", "status": 500, "probability": 0.5, "seed": seed}]),
    )
    .await;
    let mut out = Vec::new();
    for _ in 0..24 {
        out.push(emu.get("/spaces").await.status().as_u16());
    }
    let Emu { handle, .. } = emu;
    handle.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_probability_with_seed_is_deterministic() {
    let a = probability_sequence(42).await;
    let b = probability_sequence(42).await;
    assert_eq!(a, b, "same seed, same sequence");
    assert!(a.contains(&500) && a.contains(&200), "p=0.5 gives a mix: {a:?}");
    assert!(a.iter().all(|s| *s == 500 || *s == 200));
}

// ---------------------------------------------------------------------------------------
// admin

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_drops_everything() {
    let emu = start_small().await;
    let space = expect_json(emu.post("/spaces", json!({"name": "Gone"})).await, StatusCode::CREATED).await;
    let file = emu.upload(space["id"].as_str().unwrap(), "g.txt", "text/plain", b"gone").await;
    let (extra, _) = emu.new_key(&["spaces:read"], None).await;
    assert_eq!(get_as(&emu, &extra, "/spaces").await.status(), StatusCode::OK);

    let r = emu.admin(Method::POST, "/reset", None).await;
    assert!(r.status().is_success());
    let spaces = expect_json(emu.get("/spaces").await, StatusCode::OK).await;
    let spaces = spaces.as_array().unwrap();
    assert_eq!(spaces.len(), 1, "{spaces:?}");
    assert_eq!(spaces[0]["name"], "Default");
    assert_eq!(get_as(&emu, &extra, "/spaces").await.status(), StatusCode::UNAUTHORIZED);
    expect_json(emu.get(&format!("/files/{}", file["id"].as_str().unwrap())).await, StatusCode::NOT_FOUND).await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 0);
}

/// A reset keeps the files of large objects for new uploads to write over (see the
/// emulator's `recycle.rs`): what comes back is exactly the new bytes, never the old ones
/// past them, for a multipart upload and for a single PUT, each shorter than the kept file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_file_written_over_shows_only_the_new_bytes() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = Config { data_dir: Some(dir.path().to_path_buf()), multipart_threshold: 3 << 20, part_size: 1 << 20, ..Default::default() };
    let emu = common::start_with(config).await;
    let kept = || std::fs::read_dir(dir.path().join("recycled")).unwrap().count();
    let reset = || async { assert!(emu.admin(Method::POST, "/reset", None).await.status().is_success()) };
    let space = emu.default_space().await;
    emu.upload(&space, "a.bin", "application/octet-stream", &bytes(6 << 20, 1)).await;
    reset().await;
    assert_eq!(kept(), 1);

    for (size, seed) in [((7 << 19) + 5, 2), ((2 << 20) + 123, 3)] {
        let data = bytes(size, seed);
        let space = emu.default_space().await;
        let file = emu.upload(&space, "b.bin", "application/octet-stream", &data).await;
        assert_eq!(kept(), 0, "the upload wrote over the kept file");
        let (status, _, got) = fetch(&download_url(&emu, file["id"].as_str().unwrap()).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the object holds exactly its own bytes");
        let stored = std::fs::metadata(dir.path().join("blobs").join(file["id"].as_str().unwrap())).unwrap();
        assert_eq!(stored.len(), size as u64, "the kept file was cut to the object's length");
        reset().await;
        assert_eq!(kept(), 1);
    }
}

/// An object being downloaded when a reset drops it is not kept for new uploads to write
/// over: the download goes on with its own bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_under_way_at_a_reset_keeps_its_bytes() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(Config { data_dir: Some(dir.path().to_path_buf()), ..Default::default() }).await;
    // Far more than socket buffers hold: most of the body is read from the file after the
    // next upload.
    let (old, new) = (bytes(12 << 20, 4), bytes(12 << 20, 5));
    let file = emu.upload(&emu.default_space().await, "old.bin", "application/octet-stream", &old).await;
    let mut download = bare().get(download_url(&emu, file["id"].as_str().unwrap()).await).send().await.unwrap();
    let mut got = download.chunk().await.unwrap().unwrap().to_vec();

    assert!(emu.admin(Method::POST, "/reset", None).await.status().is_success());
    assert_eq!(std::fs::read_dir(dir.path().join("recycled")).unwrap().count(), 0);
    emu.upload(&emu.default_space().await, "new.bin", "application/octet-stream", &new).await;
    while let Some(chunk) = download.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got.len(), old.len());
    assert!(got == old, "the download sent the old object's bytes only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_clock_moves_time() {
    let emu = start_small().await;
    let real = chrono::Utc::now();
    let v = expect_json(
        emu.admin(Method::POST, "/clock", Some(json!({"advance_seconds": 3600}))).await,
        StatusCode::OK,
    )
    .await;
    let now1 = chrono::DateTime::parse_from_rfc3339(v["now"].as_str().unwrap()).unwrap().with_timezone(&chrono::Utc);
    assert!((now1 - real).num_seconds() >= 3590, "clock moved an hour: {now1} vs {real}");
    let v = expect_json(
        emu.admin(Method::POST, "/clock", Some(json!({"advance_seconds": 7200}))).await,
        StatusCode::OK,
    )
    .await;
    let now2 = chrono::DateTime::parse_from_rfc3339(v["now"].as_str().unwrap()).unwrap().with_timezone(&chrono::Utc);
    let d = (now2 - now1).num_seconds();
    assert!((7200..7260).contains(&d), "moved 2 h: {d}");
    let space = expect_json(emu.post("/spaces", json!({"name": "Later"})).await, StatusCode::CREATED).await;
    let created = chrono::DateTime::parse_from_rfc3339(space["created_at"].as_str().unwrap()).unwrap().with_timezone(&chrono::Utc);
    assert!(created >= now2 - chrono::Duration::seconds(5), "created_at {created} uses the emulator clock ({now2})");

    // A leap past what a date can hold is refused, and the clock keeps working.
    let refused = emu.admin(Method::POST, "/clock", Some(json!({"advance_seconds": i64::MAX}))).await;
    let body = expect_json(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body.to_string().contains("at most"), "{body}");
    expect_json(emu.post("/spaces", json!({"name": "Still"})).await, StatusCode::CREATED).await;
    // Steps that add up to more stop 7,000 years ahead, where dates keep four-digit years.
    let century: i64 = 100 * 365 * 86_400;
    let mut last = Value::Null;
    for _ in 0..71 {
        last = expect_json(emu.admin(Method::POST, "/clock", Some(json!({"advance_seconds": century}))).await, StatusCode::OK).await;
    }
    let year: i32 = last["now"].as_str().unwrap()[..4].parse().unwrap();
    assert!((8_900..9_999).contains(&year), "{last}");
    expect_json(emu.post("/spaces", json!({"name": "Far future"})).await, StatusCode::CREATED).await;
}

// ---------------------------------------------------------------------------------------
// persistence

fn persistent(dir: &std::path::Path) -> Config {
    Config { data_dir: Some(dir.to_path_buf()), ..small() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(persistent(dir.path())).await;
    let space = expect_json(emu.post("/spaces", json!({"name": "Persist"})).await, StatusCode::CREATED).await;
    let space_id = space["id"].as_str().unwrap().to_string();
    let folder = expect_json(
        emu.post("/folders", json!({"name": "docs", "space_id": space_id})).await,
        StatusCode::CREATED,
    )
    .await;
    let folder_id = folder["id"].as_str().unwrap().to_string();
    let big = bytes(1300, 0x5a);
    let small_data = b"small and single".to_vec();
    let mfile = emu.upload_in(&space_id, Some(&folder_id), "big.bin", "application/octet-stream", &big).await;
    let sfile = emu.upload(&space_id, "small.txt", "text/plain", &small_data).await;
    let mid = mfile["id"].as_str().unwrap().to_string();
    let sid = sfile["id"].as_str().unwrap().to_string();
    let link = mint(&emu, &sid, Value::Null, None).await;
    let old_url = link["url"].as_str().unwrap().to_string();
    let old_base = emu.base().to_string();
    let tenant = get_file(&emu, &sid).await["tenant_id"].as_str().map(str::to_string);
    let (extra, _) = emu.new_key(&["spaces:read", "files:read"], tenant.as_deref()).await;
    assert_eq!(get_as(&emu, &extra, "/spaces").await.status(), StatusCode::OK);
    let expiring = mint(&emu, &sid, json!(1), None).await;
    let two_days = json!({"advance_seconds": 2 * 86_400});
    let moved = expect_json(emu.admin(Method::POST, "/clock", Some(two_days)).await, StatusCode::OK).await;
    assert_eq!(fetch(expiring["url"].as_str().unwrap()).await.0, StatusCode::NOT_FOUND);
    let Emu { handle, .. } = emu;
    handle.shutdown().await;

    let emu = common::start_with(persistent(dir.path())).await;
    let spaces = expect_json(emu.get("/spaces").await, StatusCode::OK).await;
    assert!(spaces.as_array().unwrap().iter().any(|s| s["id"] == space_id.as_str()), "{spaces}");
    let folders = expect_json(emu.get(&format!("/folders?space_id={space_id}&trash=false")).await, StatusCode::OK).await;
    assert!(folders.as_array().unwrap().iter().any(|f| f["id"] == folder_id.as_str()), "{folders}");
    let in_folder = expect_json(
        emu.get(&format!("/files?space_id={space_id}&folder_id={folder_id}&trash=false")).await,
        StatusCode::OK,
    )
    .await;
    assert!(in_folder.as_array().unwrap().iter().any(|f| f["id"] == mid.as_str()), "{in_folder}");
    let at_root = expect_json(emu.get(&format!("/files?space_id={space_id}&trash=false")).await, StatusCode::OK).await;
    assert!(at_root.as_array().unwrap().iter().any(|f| f["id"] == sid.as_str()), "{at_root}");

    let extra_spaces = expect_json(get_as(&emu, &extra, "/spaces").await, StatusCode::OK).await;
    assert!(!extra_spaces.as_array().unwrap().is_empty());

    // the clock keeps its lead: what had expired stays expired
    let now = expect_json(emu.admin(Method::POST, "/clock", Some(json!({"advance_seconds": 0}))).await, StatusCode::OK).await;
    assert!(now["now"].as_str().unwrap() >= moved["now"].as_str().unwrap(), "{now} after {moved}");
    let expired_url = expiring["url"].as_str().unwrap().replacen(&old_base, emu.base(), 1);
    assert_eq!(fetch(&expired_url).await.0, StatusCode::NOT_FOUND);

    // the link serves the same bytes (its origin is the new port)
    let new_url = old_url.replacen(&old_base, emu.base(), 1);
    let (s, _, b) = fetch(&new_url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, small_data);
    let again = mint(&emu, &sid, Value::Null, None).await;
    assert_eq!(again["id"], link["id"], "same permanent link after restart");
    assert_eq!(fetch(again["url"].as_str().unwrap()).await.2, small_data);

    let got = get_file(&emu, &mid).await;
    let (s, _, b) = fetch(&download_url(&emu, &mid).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["sha256"], sha256_hex(&b));
    assert_eq!(b, big);
    let (s, _, b) = fetch(&download_url(&emu, &sid).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, small_data);
    let Emu { handle, .. } = emu;
    handle.shutdown().await;
    drop(dir);
}

// ---------------------------------------------------------------------------------------
// bandwidth

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_cap_still_transfers_correctly() {
    let emu = common::start_with(Config { storage_bytes_per_sec: 8192, storage_latency_ms: 5, ..small() }).await;
    let space = emu.default_space().await;
    let data = bytes(1300, 0x11);
    let file = emu.upload(&space, "bw.bin", "application/octet-stream", &data).await;
    assert_eq!(file["sha256"], sha256_hex(&data));
    let small_data = bytes(900, 0x12);
    let f2 = emu.upload(&space, "bw2.bin", "application/octet-stream", &small_data).await;
    assert_eq!(f2["size"], 900);
    let (s, _, b) = fetch(&download_url(&emu, file["id"].as_str().unwrap()).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, data);
}

#[tokio::test]
async fn refused_large_put_still_gets_its_answer() {
    // A client streaming a large body to a URL that refuses it must see the refusal, not a
    // connection torn down under it.
    let emu = start_small().await;
    let space = emu.default_space().await;
    let data = vec![7u8; 8 << 20];
    let ticket = expect_json(
        emu.post("/uploads/initiate", emu.initiate_body(&space, None, "big.bin", "application/octet-stream", 512)).await,
        StatusCode::OK,
    )
    .await;
    let url = if ticket["mode"] == "single" { ticket["upload_url"].as_str().unwrap().to_string() } else { part_url(&ticket, 1) };
    let resp = bare().put(&url).header("Content-Type", "text/plain").body(data).send().await.expect("an answer, not a reset");
    assert!(resp.status() == StatusCode::FORBIDDEN || resp.status() == StatusCode::BAD_REQUEST, "{}", resp.status());
    let body = resp.text().await.unwrap();
    assert!(body.contains("<Error>"), "{body}");
}

#[tokio::test]
async fn large_bodies_in_odd_pieces_arrive_whole() {
    // Bodies of several MiB are read with a raised socket low-water mark; the tail, which is
    // smaller than the mark, must still be read, for a single PUT and for each part.
    let emu = common::start_with(Config { multipart_threshold: 9 << 20, part_size: 6 << 20, ..Default::default() }).await;
    let space = emu.default_space().await;
    for size in [(8 << 20) + 123, (13 << 20) + 7] {
        let data = bytes(size, 0x5a);
        let ticket = initiate(&emu, &space, "odd.bin", "application/octet-stream", size).await;
        let (upload_id, parts) = if ticket["mode"] == "single" {
            put_in_pieces(ticket["upload_url"].as_str().unwrap(), &data).await;
            (Value::Null, Value::Null)
        } else {
            let mut parts = Vec::new();
            for (i, piece) in data.chunks(6 << 20).enumerate() {
                parts.push(json!({ "PartNumber": i + 1, "ETag": put_in_pieces(&part_url(&ticket, i + 1), piece).await }));
            }
            (ticket["upload_id"].clone(), Value::Array(parts))
        };
        let done = complete_body(&ticket, &(upload_id, parts), "odd.bin", "application/octet-stream", &data, &space);
        let file = expect_json(emu.post("/uploads/complete", done).await, StatusCode::OK).await;
        assert_eq!(file["size"], size);
    }
}

/// PUTs `data` as a stream of odd-sized pieces; returns the ETag.
async fn put_in_pieces(url: &str, data: &[u8]) -> String {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(100_003).map(|c| Ok(c.to_vec())).collect();
    let put = bare()
        .put(url)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", data.len())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send();
    let resp = tokio::time::timeout(std::time::Duration::from_secs(60), put)
        .await
        .expect("the PUT is answered (the tail of the body was read)")
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()["etag"].to_str().unwrap().to_string()
}

/// Sizes either side of the emulator's in-memory body limit (64 KiB): bodies up to it are
/// gathered and written in one go, longer ones stream through a writer and a hasher thread.
const EITHER_SIDE_OF_SMALL_BODY: [usize; 4] = [1, 64 << 10, (64 << 10) + 1, 3 << 20];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_puts_of_every_size_store_and_hash_their_bytes() {
    let emu = common::start_with(Config { multipart_threshold: 8 << 20, ..Default::default() }).await;
    let space = emu.default_space().await;
    for (i, size) in EITHER_SIDE_OF_SMALL_BODY.into_iter().enumerate() {
        let data = bytes(size, i as u8);
        let ticket = initiate(&emu, &space, "s.bin", "application/octet-stream", size).await;
        assert_eq!(ticket["mode"], "single");
        assert_eq!(put_single(&emu, &ticket, "application/octet-stream", &data).await.status(), StatusCode::OK);
        let done = complete_body(&ticket, &(Value::Null, Value::Null), "s.bin", "application/octet-stream", &data, &space);
        let file = expect_json(emu.post("/uploads/complete", done).await, StatusCode::OK).await;
        assert_eq!(file["size"], size);
        let (status, _, got) = fetch(&download_url(&emu, file["id"].as_str().unwrap()).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(got == data, "{size} bytes came back different");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_off_puts_of_every_size_store_nothing() {
    let emu = common::start_with(Config { multipart_threshold: 8 << 20, ..Default::default() }).await;
    let space = emu.default_space().await;
    for (i, size) in EITHER_SIDE_OF_SMALL_BODY.into_iter().skip(1).enumerate() {
        let data = bytes(size, i as u8);
        let ticket = initiate(&emu, &space, "b.bin", "application/octet-stream", size).await;
        add_faults(&emu, json!([{"target": "storage_put", "times": 1, "action": "reset", "after_bytes": size / 2}])).await;
        let url = ticket["upload_url"].as_str().unwrap();
        let broken = bare().put(url).header("Content-Type", "application/octet-stream").body(data.clone()).send().await;
        assert!(broken.is_err(), "{size} bytes: expected a connection error, got {:?}", broken.map(|r| r.status()));
        let done = complete_body(&ticket, &(Value::Null, Value::Null), "b.bin", "application/octet-stream", &data, &space);
        let d = expect_detail(emu.post("/uploads/complete", done.clone()).await, StatusCode::BAD_REQUEST).await;
        assert_names(&d, &["missing", "not uploaded", "not found", "no such"], "body broken off");

        assert_eq!(put_single(&emu, &ticket, "application/octet-stream", &data).await.status(), StatusCode::OK);
        let file = expect_json(emu.post("/uploads/complete", done).await, StatusCode::OK).await;
        assert_eq!(file["sha256"], sha256_hex(&data));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_every_size_hash_in_order() {
    // Parts of either kind, sent out of order, still add up to the object's sha256.
    for part_size in [64 << 10, 1 << 20] {
        let emu = common::start_with(Config { multipart_threshold: 1024, part_size, ..Default::default() }).await;
        let space = emu.default_space().await;
        let data = bytes(part_size as usize * 3 + 5, 0x3c);
        let ticket = initiate(&emu, &space, "p.bin", "application/octet-stream", data.len()).await;
        assert_eq!(part_count(&ticket), 4);
        let mut parts = Vec::new();
        for n in [2, 1, 4, 3] {
            parts.push(json!({"PartNumber": n, "ETag": put_part(&emu, &ticket, n, chunk(&ticket, n, &data)).await}));
        }
        parts.sort_by_key(|p| p["PartNumber"].as_u64());
        let done = complete_body(&ticket, &(ticket["upload_id"].clone(), json!(parts)), "p.bin", "application/octet-stream", &data, &space);
        let file = expect_json(emu.post("/uploads/complete", done).await, StatusCode::OK).await;
        assert_eq!(file["sha256"], sha256_hex(&data));
    }
}

// ---------------------------------------------------------------------------------------
// storage PUTs racing each other and complete

/// A PUT whose body the test hands over piece by piece: `send` more, or `fail` to break it off.
struct HeldPut {
    pieces: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    answer: tokio::task::JoinHandle<reqwest::Result<Response>>,
}

impl HeldPut {
    fn start(url: &str, content_type: Option<&str>, len: usize) -> HeldPut {
        let (pieces, rx) = tokio::sync::mpsc::channel(4);
        let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|piece| (piece, rx)) });
        let mut put = bare().put(url).header("Content-Length", len);
        if let Some(t) = content_type {
            put = put.header("Content-Type", t);
        }
        let answer = tokio::spawn(put.body(reqwest::Body::wrap_stream(body)).send());
        HeldPut { pieces, answer }
    }

    async fn send(&self, piece: &[u8]) {
        self.pieces.send(Ok(piece.to_vec())).await.expect("the PUT takes its body");
    }
}

/// Sends a complete that is sure to fail its checks (a wrong sha256) until the emulator
/// answers that a PUT is under way: the held PUT has then reached the emulator.
async fn until_a_put_is_under_way(emu: &Emu, probe: &Value) {
    let mut probe = probe.clone();
    probe["sha256"] = json!("0".repeat(64));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        assert!(std::time::Instant::now() < deadline, "complete never saw the held PUT under way");
        let resp = emu.post("/uploads/complete", probe.clone()).await;
        if resp.status() == StatusCode::CONFLICT {
            let detail = expect_detail(resp, StatusCode::CONFLICT).await;
            assert_names(&detail, &["under way"], "complete during a PUT");
            return;
        }
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "the probe fails its checks until then");
    }
}

/// A reset while a single PUT's body comes in drops its upload: the PUT then answers 404
/// and leaves no file behind, neither its own nor one in the upload's place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_put_whose_upload_a_reset_dropped_is_404_and_leaves_no_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(Config { data_dir: Some(dir.path().to_path_buf()), ..Default::default() }).await;
    let space = emu.default_space().await;
    let data = bytes(200_000, 6);
    let t = initiate(&emu, &space, "r.bin", "application/octet-stream", data.len()).await;
    let put = HeldPut::start(t["upload_url"].as_str().unwrap(), Some("application/octet-stream"), data.len());
    put.send(&data[..100_000]).await;
    // The PUT's own file appears once it was found open and its body is being written.
    let blobs = dir.path().join("blobs");
    let names = || std::fs::read_dir(&blobs).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect::<Vec<_>>();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !names().iter().any(|name| name.contains(".put-")) {
        assert!(std::time::Instant::now() < deadline, "the PUT never began writing");
        tokio::task::yield_now().await;
    }
    assert!(emu.admin(Method::POST, "/reset", None).await.status().is_success());
    put.send(&data[100_000..]).await;
    drop(put.pieces);
    let answer = put.answer.await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(answer.text().await.unwrap().contains("NoSuchUpload"));
    assert_eq!(names(), Vec::<String>::new(), "no file left in blobs/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_waits_out_a_single_put_under_way() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let (first, second) = (bytes(200_000, 1), bytes(200_000, 2));
    let t = initiate(&emu, &space, "s.bin", "application/octet-stream", first.len()).await;
    assert_eq!(put_single(&emu, &t, "application/octet-stream", &first).await.status(), StatusCode::OK);
    let body = complete_body(&t, &(Value::Null, Value::Null), "s.bin", "application/octet-stream", &first, &space);
    let late = HeldPut::start(t["upload_url"].as_str().unwrap(), Some("application/octet-stream"), second.len());
    late.send(&second[..100_000]).await;
    until_a_put_is_under_way(&emu, &body).await;
    // The first bytes are whole and hashed, but another PUT may still replace them.
    expect_detail(emu.post("/uploads/complete", body.clone()).await, StatusCode::CONFLICT).await;
    late.send(&second[100_000..]).await;
    drop(late.pieces);
    assert_eq!(late.answer.await.unwrap().unwrap().status(), StatusCode::OK);
    // Last write wins: the first bytes' complete now fails its check, the second's passes.
    let detail = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
    assert_names(&detail, &["sha256"], "complete with the replaced bytes' hash");
    let body = complete_body(&t, &(Value::Null, Value::Null), "s.bin", "application/octet-stream", &second, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    let (_, _, served) = fetch(&download_url(&emu, file["id"].as_str().unwrap()).await).await;
    assert!(served == second, "the stored bytes are the ones complete checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_of_one_part_take_turns_and_the_last_wins_whole() {
    let emu = common::start_with(Config { multipart_threshold: 1 << 20, part_size: 1 << 20, ..Default::default() }).await;
    let space = emu.default_space().await;
    let data = bytes(3 << 20, 7);
    let t = initiate(&emu, &space, "p.bin", "application/octet-stream", data.len()).await;
    let other = bytes(1 << 20, 9);
    let held = HeldPut::start(&part_url(&t, 2), None, other.len());
    held.send(&other[..600_000]).await;
    let probe = multipart_body(&t, &data, vec![], &space);
    until_a_put_is_under_way(&emu, &probe).await;
    // A second PUT of part 2 waits for the first, which then breaks off.
    let (url, second) = (part_url(&t, 2), chunk(&t, 2, &data).to_vec());
    let second_put = tokio::spawn(async move { bare().put(url).body(second).send().await });
    held.pieces.send(Err(std::io::Error::other("the client gave up"))).await.unwrap();
    drop(held.pieces);
    assert!(held.answer.await.unwrap().map(|r| r.status() != StatusCode::OK).unwrap_or(true), "the broken PUT failed");
    let resp = second_put.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag2 = resp.headers()["etag"].to_str().unwrap().to_string();
    let etag1 = put_part(&emu, &t, 1, chunk(&t, 1, &data)).await;
    let etag3 = put_part(&emu, &t, 3, chunk(&t, 3, &data)).await;
    let parts = vec![json!({"PartNumber": 1, "ETag": etag1}), json!({"PartNumber": 2, "ETag": etag2}), json!({"PartNumber": 3, "ETag": etag3})];
    let file = expect_json(emu.post("/uploads/complete", multipart_body(&t, &data, parts, &space)).await, StatusCode::OK).await;
    let (_, _, served) = fetch(&download_url(&emu, file["id"].as_str().unwrap()).await).await;
    assert!(served == data, "no byte of the broken PUT is in the stored file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_complete_twice_at_once_gets_the_file_twice() {
    let emu = start_small().await;
    let space = emu.default_space().await;
    // Many rounds: the second complete may find the upload open and its file already moved
    // into place by the first, a window of a few µs.
    const ROUNDS: usize = 40;
    for _ in 0..ROUNDS {
        let (t, data, parts) = staged_multipart(&emu, &space).await;
        let body = multipart_body(&t, &data, parts, &space);
        let (a, b) = tokio::join!(emu.post("/uploads/complete", body.clone()), emu.post("/uploads/complete", body));
        let (a, b) = (expect_json(a, StatusCode::OK).await, expect_json(b, StatusCode::OK).await);
        assert_eq!(a, b);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_broken_off_by_a_stop_leave_nothing_after_a_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(persistent(dir.path())).await;
    let Emu { handle, .. } = emu;
    handle.shutdown().await;
    // What a single PUT leaves when the process is killed mid-body.
    let stray = dir.path().join("blobs").join("0e0e0e0e-0000-4000-8000-000000000000.put-abcdef");
    std::fs::write(&stray, b"half a body").unwrap();
    let emu = common::start_with(persistent(dir.path())).await;
    assert!(!stray.exists(), "swept at start");
    let Emu { handle, .. } = emu;
    handle.shutdown().await;
}

/// A single PUT of `len` bytes, on a socket of the test's own: its head is sent, and the
/// body is the caller's to send (or to withhold).
async fn raw_single_put(ticket: &Value, len: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    assert_eq!(ticket["mode"], "single");
    let url = reqwest::Url::parse(ticket["upload_url"].as_str().unwrap()).unwrap();
    let mut conn = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let head = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n",
        url.path(),
        url.query().unwrap(),
        url.authority()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn
}

/// A PUT whose body stalls is answered `400 RequestTimeout` once the idle timeout passes and
/// its connection is closed; nothing of it is kept. Both body paths: small bodies (gathered in
/// memory) and large ones (streamed to disk), and one large enough for batched socket reads.
#[tokio::test]
async fn a_stalled_put_body_times_out_and_keeps_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idle = std::time::Duration::from_millis(300);
    let emu = common::start_with(Config { storage_idle_timeout: Some(idle), ..Default::default() }).await;
    let space = emu.default_space().await;
    for size in [1_000usize, 300_000, 4 << 20] {
        let ticket = initiate(&emu, &space, "stalled.bin", "application/octet-stream", size).await;
        let mut conn = raw_single_put(&ticket, size).await;
        conn.write_all(&[7u8; 100]).await.unwrap();

        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        // Ends only when the emulator closes the connection.
        tokio::time::timeout(std::time::Duration::from_secs(30), conn.read_to_end(&mut answer))
            .await
            .expect("the connection was not closed")
            .unwrap();
        assert!(started.elapsed() >= idle, "answered before the idle timeout");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "size {size}: {answer}");
        assert!(answer.contains("<Code>RequestTimeout</Code>"), "size {size}: {answer}");

        let data = vec![7u8; size];
        let body = complete_body(&ticket, &(Value::Null, Value::Null), "stalled.bin", "application/octet-stream", &data, &space);
        let detail = expect_detail(emu.post("/uploads/complete", body).await, StatusCode::BAD_REQUEST).await;
        assert!(detail.contains("nothing was put"), "size {size}: {detail}");
    }
}

/// Uploads left uncompleted for over 24 h are dropped with their bytes (by the next initiate),
/// single and multipart alike; a fresh one is kept.
#[tokio::test]
async fn expired_uploads_lose_their_bytes() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(persistent(dir.path())).await;
    let space = emu.default_space().await;
    let blobs = dir.path().join("blobs");
    let pending = |ticket: &Value| blobs.join(format!("{}.upload", ticket["file_id"].as_str().unwrap()));

    let data = bytes(1500, 3);
    let multi = initiate(&emu, &space, "multi.bin", "application/octet-stream", data.len()).await;
    put_part(&emu, &multi, 1, chunk(&multi, 1, &data)).await;
    let single = initiate(&emu, &space, "single.bin", "application/octet-stream", 100).await;
    expect_status(put_single(&emu, &single, "application/octet-stream", &data[..100]).await, StatusCode::OK).await;
    assert!(pending(&multi).exists() && pending(&single).exists());

    emu.advance_clock(23 * 3600).await;
    let fresh = initiate(&emu, &space, "fresh.bin", "application/octet-stream", 100).await;
    expect_status(put_single(&emu, &fresh, "application/octet-stream", &data[..100]).await, StatusCode::OK).await;
    assert!(pending(&multi).exists() && pending(&single).exists(), "swept before 24 h");

    emu.advance_clock(2 * 3600).await;
    initiate(&emu, &space, "trigger.bin", "application/octet-stream", 1).await;
    assert!(!pending(&multi).exists(), "multipart bytes kept");
    assert!(!pending(&single).exists(), "single bytes kept");
    assert!(pending(&fresh).exists(), "a 2 h old upload was swept");
    let upload = (Value::Null, Value::Null);
    let body = complete_body(&single, &upload, "single.bin", "application/octet-stream", &data[..100], &space);
    expect_detail(emu.post("/uploads/complete", body).await, StatusCode::NOT_FOUND).await;
    let body = complete_body(&fresh, &upload, "fresh.bin", "application/octet-stream", &data[..100], &space);
    expect_status(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
}

/// A complete stopped between moving the bytes into place and committing (SIGKILL) leaves the
/// upload pending with its bytes at the file's place: after a restart, the same complete
/// succeeds and the file serves its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_cut_off_before_its_commit_can_be_repeated_after_a_restart() {
    let dir = tempfile::TempDir::new().unwrap();
    let emu = common::start_with(persistent(dir.path())).await;
    let space = emu.default_space().await;
    let data = bytes(1500, 9);
    let ticket = initiate(&emu, &space, "cut.bin", "application/octet-stream", data.len()).await;
    let parts = put_all_parts(&emu, &ticket, &data).await;
    let Emu { handle, .. } = emu;
    handle.shutdown().await;
    // What the stop left: the bytes renamed to the file's place, the transaction not committed.
    let blobs = dir.path().join("blobs");
    let id = ticket["file_id"].as_str().unwrap();
    std::fs::rename(blobs.join(format!("{id}.upload")), blobs.join(id)).unwrap();

    let emu = common::start_with(persistent(dir.path())).await;
    let upload = (ticket["upload_id"].clone(), Value::Array(parts));
    let body = complete_body(&ticket, &upload, "cut.bin", "application/octet-stream", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["sha256"], sha256_hex(&data));
    assert_eq!(std::fs::read(blobs.join(id)).unwrap(), data);
}

/// A PUT whose body keeps coming, only slowly, is not idle: however the emulator batches its
/// socket reads (it asks the kernel to wake it only once a MiB has come in, for large bodies),
/// a sender that never pauses for the idle timeout is not cut off.
#[tokio::test]
async fn a_slow_but_steady_put_body_is_not_idle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idle = std::time::Duration::from_millis(250);
    let emu = common::start_with(Config { storage_idle_timeout: Some(idle), ..Default::default() }).await;
    let space = emu.default_space().await;
    // Large enough for the emulator to batch its reads.
    let data = bytes((3 << 20) + (256 << 10), 5);
    let ticket = initiate(&emu, &space, "slow.bin", "application/octet-stream", data.len()).await;
    let mut conn = raw_single_put(&ticket, data.len()).await;
    // 64 KiB every 25 ms (2.5 MiB/s): never a pause near the idle timeout, but a MiB takes
    // longer than it to arrive. (The pacing shapes the sender; it synchronises nothing.)
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(25));
    for piece in data.chunks(64 << 10) {
        pace.tick().await;
        if conn.write_all(piece).await.is_err() {
            break; // the emulator answered and closed early: the answer below says why
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), conn.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "a steady sender was cut off: {answer}");

    let body = complete_body(&ticket, &(Value::Null, Value::Null), "slow.bin", "application/octet-stream", &data, &space);
    let file = expect_json(emu.post("/uploads/complete", body).await, StatusCode::OK).await;
    assert_eq!(file["sha256"], sha256_hex(&data));
}
