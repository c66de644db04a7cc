//! API integration tests: PROTOCOL §2–§5, §8, §9 (spaces, folders, files, shares, quota,
//! service tokens, errors, tenant isolation, trash). Uploads/storage/links/faults/persistence
//! live in `storage.rs`.

mod common;

use std::collections::HashSet;

use common::{expect_json, Emu};
use fluidcloud_emulator::Config;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};


// ---------------------------------------------------------------------------------------
// helpers

/// Status and raw body text.
async fn status_text(resp: Response) -> (StatusCode, String) {
    let s = resp.status();
    (s, resp.text().await.expect("body"))
}

/// Asserts `status` and that the body is `{"detail": …}`; returns `detail`.
async fn expect_detail(resp: Response, status: StatusCode) -> Value {
    let v = expect_json(resp, status).await;
    assert!(v.get("detail").is_some(), "error body lacks `detail`: {v}");
    v["detail"].clone()
}

/// Asserts a FastAPI-style 422: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}, …]}`.
async fn expect_422(resp: Response) -> Vec<Value> {
    let detail = expect_detail(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    let items = detail.as_array().unwrap_or_else(|| panic!("422 detail is not a list: {detail}")).clone();
    assert!(!items.is_empty(), "422 detail list is empty");
    for it in &items {
        assert!(it["loc"].is_array(), "422 item without loc list: {it}");
        assert!(it["msg"].is_string(), "422 item without msg string: {it}");
        assert!(it["type"].is_string(), "422 item without type string: {it}");
    }
    items
}

fn assert_uuid(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("id is not a string: {v}"));
    let u = uuid::Uuid::parse_str(s).unwrap_or_else(|_| panic!("not a UUID: {s}"));
    assert_eq!(s, u.hyphenated().to_string(), "ID must be a lowercase hyphenated UUID");
}

fn assert_utc_ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    let t = chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"));
    assert_eq!(t.offset().local_minus_utc(), 0, "timestamp not in UTC: {s}");
    t.with_timezone(&chrono::Utc)
}

fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn sign_jwt(secret: &str, claims: &Value) -> String {
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

fn user_jwt(sub: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + 3600;
    sign_jwt(&Config::default().jwt_secret, &json!({ "sub": sub, "exp": exp, "iat": exp - 3600 }))
}

async fn send_as(emu: &Emu, key: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut rb = emu.req_as(key, method, path);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    rb.send().await.expect("send")
}

async fn mint_token(emu: &Emu, svc: &str, sub: &str) -> Value {
    let body = json!({ "user_jwt": user_jwt(sub), "app": "a" });
    expect_json(send_as(emu, svc, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::OK).await
}

async fn spaces_of(emu: &Emu, key: &str) -> Value {
    expect_json(send_as(emu, key, Method::GET, "/spaces", None).await, StatusCode::OK).await
}

async fn mk_folder(emu: &Emu, space: &str, parent: Option<&str>, name: &str) -> Value {
    let mut body = json!({ "name": name, "space_id": space });
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    expect_json(emu.post("/folders", body).await, StatusCode::CREATED).await
}

async fn mk_folder_as(emu: &Emu, key: &str, space: &str, parent: Option<&str>, name: &str) -> Value {
    let mut body = json!({ "name": name, "space_id": space });
    if let Some(p) = parent {
        body["parent_id"] = json!(p);
    }
    expect_json(send_as(emu, key, Method::POST, "/folders", Some(body)).await, StatusCode::CREATED).await
}

/// initiate → PUT → complete with the given key, app and client_key; returns the `File`.
#[allow(clippy::too_many_arguments)]
async fn upload_as(
    emu: &Emu,
    key: &str,
    space: &str,
    folder: Option<&str>,
    name: &str,
    data: &[u8],
    app: Option<&str>,
    client_key: Option<&str>,
) -> Value {
    let ct = "text/plain";
    let init = json!({
        "original_name": name, "content_type": ct, "size": data.len(),
        "space_id": space, "folder_id": folder, "app": app,
    });
    let ticket =
        expect_json(send_as(emu, key, Method::POST, "/uploads/initiate", Some(init)).await, StatusCode::OK).await;
    let (upload_id, parts) = emu.put_ticket(&ticket, ct, data).await;
    let complete = json!({
        "file_id": ticket["file_id"], "key": ticket["key"], "upload_id": upload_id,
        "parts": parts, "original_name": name, "mime": ct, "size": data.len(),
        "sha256": common::sha256_hex(data), "space_id": space, "folder_id": folder,
        "app": app, "client_key": client_key,
    });
    expect_json(send_as(emu, key, Method::POST, "/uploads/complete", Some(complete)).await, StatusCode::OK).await
}

async fn upload(emu: &Emu, space: &str, folder: Option<&str>, name: &str, data: &[u8]) -> Value {
    upload_as(emu, &emu.key.clone(), space, folder, name, data, None, None).await
}

async fn new_limited_key(emu: &Emu, bytes_limit: Option<u64>, links_limit: Option<u64>) -> (String, String) {
    let mut body = json!({ "scopes": common::USER_SCOPES });
    if let Some(b) = bytes_limit {
        body["bytes_limit"] = json!(b);
    }
    if let Some(l) = links_limit {
        body["links_limit"] = json!(l);
    }
    let v = expect_json(emu.admin(Method::POST, "/keys", Some(body)).await, StatusCode::OK).await;
    (v["key"].as_str().unwrap().to_string(), v["tenant_id"].as_str().unwrap().to_string())
}

fn q_folders(space: &str, parent: Option<&str>, trash: bool) -> String {
    match parent {
        Some(p) => format!("/folders?space_id={space}&parent_id={p}&trash={trash}"),
        None => format!("/folders?space_id={space}&trash={trash}"),
    }
}

fn q_files(space: &str, folder: Option<&str>, trash: bool) -> String {
    match folder {
        Some(f) => format!("/files?space_id={space}&folder_id={f}&trash={trash}"),
        None => format!("/files?space_id={space}&trash={trash}"),
    }
}

/// A POST with no body, as the official client sends `restore`.
async fn post_empty(emu: &Emu, path: &str) -> Response {
    emu.req(Method::POST, path).send().await.expect("send")
}

async fn list(emu: &Emu, path: &str) -> Value {
    expect_json(emu.get(path).await, StatusCode::OK).await
}

// ---------------------------------------------------------------------------------------
// spaces

#[tokio::test]
async fn spaces_new_tenant_has_exactly_one_default_space() {
    let emu = common::start().await;
    let (key, tenant) = emu.new_key(&["spaces:read"], None).await;
    let spaces = spaces_of(&emu, &key).await;
    let arr = spaces.as_array().expect("spaces is a plain JSON array");
    assert_eq!(arr.len(), 1, "a new tenant has exactly one space: {spaces}");
    assert_eq!(arr[0]["name"], "Default");
    assert_uuid(&arr[0]["id"]);
    assert_eq!(arr[0]["tenant_id"], json!(tenant));
}

#[tokio::test]
async fn spaces_create_returns_201_and_is_listed() {
    let emu = common::start().await;
    let s = expect_json(emu.post("/spaces", json!({ "name": "Work" })).await, StatusCode::CREATED).await;
    assert_eq!(s["name"], "Work");
    assert_uuid(&s["id"]);
    assert_utc_ts(&s["created_at"]);
    let spaces = list(&emu, "/spaces").await;
    let names: Vec<&str> = spaces.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(spaces.as_array().unwrap().len(), 2, "{spaces}");
    assert!(names.contains(&"Default") && names.contains(&"Work"), "{names:?}");
    assert!(ids(&spaces).contains(&s["id"].as_str().unwrap().to_string()));
}

// ---------------------------------------------------------------------------------------
// folders

#[tokio::test]
async fn folders_create_returns_201_with_fields() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let root = mk_folder(&emu, &space, None, "Docs").await;
    assert_uuid(&root["id"]);
    assert_eq!(root["name"], "Docs");
    assert_eq!(root["space_id"], json!(space));
    assert!(root["parent_id"].is_null(), "{root}");
    assert!(root["deleted_at"].is_null(), "{root}");
    assert_utc_ts(&root["created_at"]);
    let child = mk_folder(&emu, &space, Some(root["id"].as_str().unwrap()), "Sub").await;
    assert_eq!(child["parent_id"], root["id"]);
    assert_eq!(child["space_id"], json!(space));
}

#[tokio::test]
async fn folders_list_root_and_children_sorted_by_name() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let b = mk_folder(&emu, &space, None, "b").await;
    let a = mk_folder(&emu, &space, None, "a").await;
    let c = mk_folder(&emu, &space, None, "c").await;
    let inner = mk_folder(&emu, &space, Some(b["id"].as_str().unwrap()), "inner").await;

    let root = list(&emu, &q_folders(&space, None, false)).await;
    assert_eq!(ids(&root), ids(&json!([a, b, c])), "folders sorted by name");
    let children = list(&emu, &q_folders(&space, b["id"].as_str(), false)).await;
    assert_eq!(ids(&children), vec![inner["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn folders_rename_returns_renamed_folder() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = mk_folder(&emu, &space, None, "old").await;
    let id = f["id"].as_str().unwrap();
    let r = expect_json(emu.patch(&format!("/folders/{id}"), json!({ "name": "new" })).await, StatusCode::OK).await;
    assert_eq!(r["id"], f["id"]);
    assert_eq!(r["name"], "new");
    let root = list(&emu, &q_folders(&space, None, false)).await;
    assert_eq!(root[0]["name"], "new");
}

#[tokio::test]
async fn folders_move_into_folder_and_back_to_root_with_explicit_null() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let target = mk_folder(&emu, &space, None, "target").await;
    let f = mk_folder(&emu, &space, None, "mover").await;
    let (tid, fid) = (target["id"].as_str().unwrap(), f["id"].as_str().unwrap());

    let moved = expect_json(emu.patch(&format!("/folders/{fid}"), json!({ "parent_id": tid })).await, StatusCode::OK).await;
    assert_eq!(moved["parent_id"], json!(tid));
    assert_eq!(moved["name"], "mover", "a move keeps the name");
    assert_eq!(ids(&list(&emu, &q_folders(&space, Some(tid), false)).await), vec![fid.to_string()]);
    assert_eq!(ids(&list(&emu, &q_folders(&space, None, false)).await), vec![tid.to_string()]);

    let back = expect_json(emu.patch(&format!("/folders/{fid}"), json!({ "parent_id": null })).await, StatusCode::OK).await;
    assert!(back["parent_id"].is_null(), "explicit null parent_id = space root: {back}");
    assert!(ids(&list(&emu, &q_folders(&space, None, false)).await).contains(&fid.to_string()));
    assert!(list(&emu, &q_folders(&space, Some(tid), false)).await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn folders_patch_with_empty_body_is_422() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = mk_folder(&emu, &space, None, "x").await;
    expect_422(emu.patch(&format!("/folders/{}", f["id"].as_str().unwrap()), json!({})).await).await;
}

#[tokio::test]
async fn renaming_to_null_is_422() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let folder = mk_folder(&emu, &space, None, "x").await;
    let fid = folder["id"].as_str().unwrap();
    expect_422(emu.patch(&format!("/folders/{fid}"), json!({ "name": null })).await).await;
    let file = emu.upload(&space, "a.txt", "text/plain", b"abc").await;
    let id = file["id"].as_str().unwrap();
    expect_422(emu.patch(&format!("/files/{id}"), json!({ "original_name": null })).await).await;
    let still = expect_json(emu.get(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(still["original_name"], "a.txt");
}

#[tokio::test]
async fn folders_sibling_name_collision_is_409() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let a = mk_folder(&emu, &space, None, "same").await;
    // create with a taken name
    expect_detail(emu.post("/folders", json!({ "name": "same", "space_id": space })).await, StatusCode::CONFLICT).await;
    // the same name under another parent is fine
    mk_folder(&emu, &space, Some(a["id"].as_str().unwrap()), "same").await;
    // rename onto a sibling's name
    let other = mk_folder(&emu, &space, None, "other").await;
    let oid = other["id"].as_str().unwrap();
    expect_detail(emu.patch(&format!("/folders/{oid}"), json!({ "name": "same" })).await, StatusCode::CONFLICT).await;
    // move next to a folder of the same name
    let p = mk_folder(&emu, &space, None, "p").await;
    let pid = p["id"].as_str().unwrap();
    let inner = mk_folder(&emu, &space, Some(pid), "same").await;
    expect_detail(
        emu.patch(&format!("/folders/{}", inner["id"].as_str().unwrap()), json!({ "parent_id": null })).await,
        StatusCode::CONFLICT,
    )
    .await;
}

#[tokio::test]
async fn folders_trashed_sibling_name_does_not_collide() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let a = mk_folder(&emu, &space, None, "same").await;
    expect_json(emu.delete(&format!("/folders/{}", a["id"].as_str().unwrap())).await, StatusCode::OK).await;
    mk_folder(&emu, &space, None, "same").await;
}

#[tokio::test]
async fn folders_move_into_itself_or_subtree_is_400() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let a = mk_folder(&emu, &space, None, "a").await;
    let aid = a["id"].as_str().unwrap();
    let b = mk_folder(&emu, &space, Some(aid), "b").await;
    let c = mk_folder(&emu, &space, b["id"].as_str(), "c").await;
    for target in [aid, b["id"].as_str().unwrap(), c["id"].as_str().unwrap()] {
        expect_detail(emu.patch(&format!("/folders/{aid}"), json!({ "parent_id": target })).await, StatusCode::BAD_REQUEST)
            .await;
    }
    let again = list(&emu, &q_folders(&space, None, false)).await;
    assert_eq!(ids(&again), vec![aid.to_string()], "a refused move changes nothing");
}

#[tokio::test]
async fn folders_delete_and_restore() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = mk_folder(&emu, &space, None, "f").await;
    let fid = f["id"].as_str().unwrap();
    let d = expect_json(emu.delete(&format!("/folders/{fid}")).await, StatusCode::OK).await;
    assert_eq!(d["id"], f["id"]);
    assert_utc_ts(&d["deleted_at"]);
    assert!(list(&emu, &q_folders(&space, None, false)).await.as_array().unwrap().is_empty());
    let r = expect_json(post_empty(&emu, &format!("/folders/{fid}/restore")).await, StatusCode::OK).await;
    assert_eq!(r["id"], f["id"]);
    assert!(r["deleted_at"].is_null(), "{r}");
    assert_eq!(ids(&list(&emu, &q_folders(&space, None, false)).await), vec![fid.to_string()]);
}

// ---------------------------------------------------------------------------------------
// files

#[tokio::test]
async fn files_get_returns_the_file() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let up = upload(&emu, &space, None, "hello.txt", b"hello").await;
    let id = up["id"].as_str().unwrap();
    let f = expect_json(emu.get(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_uuid(&f["id"]);
    assert_eq!(f["id"], up["id"]);
    assert_eq!(f["original_name"], "hello.txt");
    assert_eq!(f["space_id"], json!(space));
    assert!(f["folder_id"].is_null());
    assert_eq!(f["size"], 5);
    assert_eq!(f["sha256"], json!(common::sha256_hex(b"hello")));
    assert_eq!(f["mime"], "text/plain");
    assert!(f["deleted_at"].is_null());
    assert_utc_ts(&f["created_at"]);
}

#[tokio::test]
async fn files_list_root_and_folder_sorted_by_name() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let folder = mk_folder(&emu, &space, None, "dir").await;
    let fid = folder["id"].as_str().unwrap();
    let b = upload(&emu, &space, None, "b.txt", b"b").await;
    let a1 = upload(&emu, &space, None, "a.txt", b"a1").await;
    let a2 = upload(&emu, &space, None, "a.txt", b"a2").await;
    let inner = upload(&emu, &space, Some(fid), "inner.txt", b"i").await;

    let root = list(&emu, &q_files(&space, None, false)).await;
    let want: Vec<String> = [&a1, &a2, &b].iter().map(|f| f["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids(&root), want, "root files sorted by original_name then created_at");
    let in_dir = list(&emu, &q_files(&space, Some(fid), false)).await;
    assert_eq!(ids(&in_dir), vec![inner["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn files_list_app_filter() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let key = emu.key.clone();
    let photo = upload_as(&emu, &key, &space, None, "p.txt", b"p", Some("photos"), None).await;
    upload_as(&emu, &key, &space, None, "q.txt", b"q", None, None).await;
    upload_as(&emu, &key, &space, None, "r.txt", b"r", Some("notes"), None).await;
    let l = list(&emu, &format!("/files?space_id={space}&trash=false&app=photos")).await;
    assert_eq!(ids(&l), vec![photo["id"].as_str().unwrap().to_string()]);
    assert_eq!(l[0]["source_app"], "photos");
}

#[tokio::test]
async fn files_rename_returns_renamed_file() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "old.txt", b"x").await;
    let id = f["id"].as_str().unwrap();
    let r = expect_json(emu.patch(&format!("/files/{id}"), json!({ "original_name": "new.txt" })).await, StatusCode::OK)
        .await;
    assert_eq!(r["id"], f["id"]);
    assert_eq!(r["original_name"], "new.txt");
    let g = expect_json(emu.get(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(g["original_name"], "new.txt");
}

#[tokio::test]
async fn files_move_into_folder_and_back_to_root_with_explicit_null() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let folder = mk_folder(&emu, &space, None, "dir").await;
    let fid = folder["id"].as_str().unwrap();
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let id = f["id"].as_str().unwrap();

    let m = expect_json(emu.patch(&format!("/files/{id}"), json!({ "folder_id": fid })).await, StatusCode::OK).await;
    assert_eq!(m["folder_id"], json!(fid));
    assert_eq!(m["original_name"], "f.txt");
    assert_eq!(ids(&list(&emu, &q_files(&space, Some(fid), false)).await), vec![id.to_string()]);
    assert!(list(&emu, &q_files(&space, None, false)).await.as_array().unwrap().is_empty());

    let back = expect_json(emu.patch(&format!("/files/{id}"), json!({ "folder_id": null })).await, StatusCode::OK).await;
    assert!(back["folder_id"].is_null(), "explicit null folder_id = root: {back}");
    assert_eq!(ids(&list(&emu, &q_files(&space, None, false)).await), vec![id.to_string()]);
}

#[tokio::test]
async fn files_patch_with_empty_body_is_422() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    expect_422(emu.patch(&format!("/files/{}", f["id"].as_str().unwrap()), json!({})).await).await;
}

#[tokio::test]
async fn files_delete_and_restore() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let id = f["id"].as_str().unwrap();
    let d = expect_json(emu.delete(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(d["id"], f["id"]);
    assert_utc_ts(&d["deleted_at"]);
    assert!(list(&emu, &q_files(&space, None, false)).await.as_array().unwrap().is_empty());
    assert_eq!(ids(&list(&emu, &q_files(&space, None, true)).await), vec![id.to_string()]);

    let r = expect_json(post_empty(&emu, &format!("/files/{id}/restore")).await, StatusCode::OK).await;
    assert!(r["deleted_at"].is_null(), "{r}");
    assert_eq!(ids(&list(&emu, &q_files(&space, None, false)).await), vec![id.to_string()]);
    assert!(list(&emu, &q_files(&space, None, true)).await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn files_download_returns_url_and_expires_at() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"download me").await;
    let d = expect_json(emu.get(&format!("/files/{}/download", f["id"].as_str().unwrap())).await, StatusCode::OK).await;
    let url = d["url"].as_str().expect("download url");
    assert!(url.starts_with("http"), "{url}");
    let exp = assert_utc_ts(&d["expires_at"]);
    assert!(exp > chrono::Utc::now(), "expires_at in the future: {exp}");
    // the presigned URL is fetched with no credential
    let r = emu.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"download me");
}

#[tokio::test]
async fn files_resolve_without_app_finds_newest_live_match() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let key = emu.key.clone();
    let old = upload_as(&emu, &key, &space, None, "v1.txt", b"1", None, Some("doc-1")).await;
    let new = upload_as(&emu, &key, &space, None, "v2.txt", b"2", None, Some("doc-1")).await;
    upload_as(&emu, &key, &space, None, "other.txt", b"3", None, Some("doc-2")).await;

    let r = expect_json(emu.get("/files/resolve?client_key=doc-1").await, StatusCode::OK).await;
    assert_eq!(r["id"], new["id"], "newest match");
    assert_eq!(r["client_key"], "doc-1");

    // the newest is trashed: the newest *live* one answers
    expect_json(emu.delete(&format!("/files/{}", new["id"].as_str().unwrap())).await, StatusCode::OK).await;
    let r = expect_json(emu.get("/files/resolve?client_key=doc-1").await, StatusCode::OK).await;
    assert_eq!(r["id"], old["id"], "newest live match");

    expect_json(emu.delete(&format!("/files/{}", old["id"].as_str().unwrap())).await, StatusCode::OK).await;
    expect_detail(emu.get("/files/resolve?client_key=doc-1").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn files_resolve_with_app_is_confined_to_that_app() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let key = emu.key.clone();
    let plain = upload_as(&emu, &key, &space, None, "plain.txt", b"p", None, Some("k")).await;
    let photo = upload_as(&emu, &key, &space, None, "photo.txt", b"ph", Some("photos"), Some("k")).await;

    let r = expect_json(emu.get("/files/resolve?client_key=k&app=photos").await, StatusCode::OK).await;
    assert_eq!(r["id"], photo["id"]);
    assert_eq!(r["source_app"], "photos");
    // no app: the no-app namespace, even though the photos file is newer
    let r = expect_json(emu.get("/files/resolve?client_key=k").await, StatusCode::OK).await;
    assert_eq!(r["id"], plain["id"]);
    // an app with no such key
    expect_detail(emu.get("/files/resolve?client_key=k&app=notes").await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get("/files/resolve?client_key=nope&app=photos").await, StatusCode::NOT_FOUND).await;
}

// ---------------------------------------------------------------------------------------
// shares

#[tokio::test]
async fn shares_create_permanent_and_signed_links() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let fid = f["id"].as_str().unwrap();

    let perm = expect_json(
        emu.post("/shares", json!({ "file_id": fid, "expires_in_days": null })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_uuid(&perm["id"]);
    assert!(perm["url"].as_str().unwrap().starts_with("http"), "{perm}");
    assert!(perm["expires_at"].is_null(), "permanent link: {perm}");
    assert_eq!(perm["permission"], "view");

    let signed = expect_json(
        emu.post("/shares", json!({ "file_id": fid, "expires_in_days": 7, "permission": "download" })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(signed["permission"], "download");
    let exp = assert_utc_ts(&signed["expires_at"]);
    let days = (exp - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "expires in 7 days: {exp}");
    assert_ne!(signed["url"], perm["url"]);
}

#[tokio::test]
async fn shares_list_shows_shares_without_url() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let g = upload(&emu, &space, None, "g.txt", b"y").await;
    let (fid, gid) = (f["id"].as_str().unwrap(), g["id"].as_str().unwrap());
    let link = expect_json(emu.post("/shares", json!({ "file_id": fid, "expires_in_days": null })).await, StatusCode::CREATED)
        .await;
    expect_json(emu.post("/shares", json!({ "file_id": gid, "expires_in_days": 3, "permission": "view" })).await, StatusCode::CREATED)
        .await;

    let all = list(&emu, "/shares?include_inactive=false").await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let only_f = list(&emu, &format!("/shares?file_id={fid}&include_inactive=false")).await;
    assert_eq!(ids(&only_f), vec![link["id"].as_str().unwrap().to_string()]);
    let s = &only_f[0];
    assert_eq!(s["file_id"], json!(fid));
    assert_eq!(s["permission"], "view");
    assert_eq!(s["download_count"], 0);
    assert_eq!(s["revoked"], false);
    assert_eq!(s["has_password"], false);
    assert!(s["expires_at"].is_null());
    assert!(s.get("url").is_none_or(|u| u.is_null()), "the URL is never listed again: {s}");
    let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    assert!(!all.to_string().contains(&token), "the link token is never listed again: {all}");
}

#[tokio::test]
async fn shares_delete_is_204_twice_and_unknown_is_404() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let fid = f["id"].as_str().unwrap();
    let link = expect_json(emu.post("/shares", json!({ "file_id": fid, "expires_in_days": null })).await, StatusCode::CREATED)
        .await;
    let sid = link["id"].as_str().unwrap();

    let (st, body) = status_text(emu.delete(&format!("/shares/{sid}")).await).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(body.is_empty(), "204 has an empty body: {body:?}");
    let (st, body) = status_text(emu.delete(&format!("/shares/{sid}")).await).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "revoking again is 204");
    assert!(body.is_empty());

    let active = list(&emu, "/shares?include_inactive=false").await;
    assert!(active.as_array().unwrap().is_empty(), "revoked share is not active: {active}");
    let all = list(&emu, "/shares?include_inactive=true").await;
    assert_eq!(ids(&all), vec![sid.to_string()]);
    assert_eq!(all[0]["revoked"], true);

    expect_detail(emu.delete(&format!("/shares/{}", random_id())).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn shares_of_unknown_or_trashed_file_are_404() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    expect_detail(
        emu.post("/shares", json!({ "file_id": random_id(), "expires_in_days": null })).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let fid = f["id"].as_str().unwrap();
    expect_json(emu.delete(&format!("/files/{fid}")).await, StatusCode::OK).await;
    expect_detail(emu.post("/shares", json!({ "file_id": fid, "expires_in_days": null })).await, StatusCode::NOT_FOUND)
        .await;
}

// ---------------------------------------------------------------------------------------
// quota

#[tokio::test]
async fn quota_fields_of_a_fresh_tenant() {
    let emu = common::start().await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 0);
    assert_eq!(q["bytes_limit"], json!(1u64 << 40), "default 1 TiB");
    assert_eq!(q["links_used"], 0);
    assert_eq!(q["links_limit"], 10000);
    assert!(q["by_app"].is_null() || q["by_app"].as_array().is_some(), "{q}");
}

#[tokio::test]
async fn quota_bytes_used_counts_completed_files_including_trashed() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let a = upload(&emu, &space, None, "a.txt", &[1u8; 10]).await;
    upload(&emu, &space, None, "b.txt", &[2u8; 5]).await;
    // an initiated, never-completed upload does not count
    expect_json(emu.post("/uploads/initiate", emu.initiate_body(&space, None, "c.txt", "text/plain", 1000)).await, StatusCode::OK)
        .await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 15, "{q}");

    expect_json(emu.delete(&format!("/files/{}", a["id"].as_str().unwrap())).await, StatusCode::OK).await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 15, "trashed files still count: {q}");
}

#[tokio::test]
async fn quota_links_used_counts_active_links() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "a.txt", b"x").await;
    let fid = f["id"].as_str().unwrap();
    let l = expect_json(emu.post("/shares", json!({ "file_id": fid, "expires_in_days": 2, "permission": "view" })).await, StatusCode::CREATED)
        .await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["links_used"], 1, "{q}");
    assert_eq!(emu.delete(&format!("/shares/{}", l["id"].as_str().unwrap())).await.status(), StatusCode::NO_CONTENT);
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["links_used"], 0, "revoked links are not active: {q}");
}

#[tokio::test]
async fn quota_by_app_groups_bytes_and_files() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let key = emu.key.clone();
    upload_as(&emu, &key, &space, None, "p1", &[0u8; 7], Some("photos"), None).await;
    upload_as(&emu, &key, &space, None, "p2", &[0u8; 3], Some("photos"), None).await;
    upload_as(&emu, &key, &space, None, "n1", &[0u8; 4], Some("notes"), None).await;
    upload_as(&emu, &key, &space, None, "x", &[0u8; 1], None, None).await;
    let q = expect_json(emu.get("/quota").await, StatusCode::OK).await;
    assert_eq!(q["bytes_used"], 15, "{q}");
    let by_app = q["by_app"].as_array().unwrap_or_else(|| panic!("by_app list: {q}"));
    let find = |app: &str| {
        let hits: Vec<&Value> = by_app.iter().filter(|e| e["app"] == app).collect();
        assert_eq!(hits.len(), 1, "one group for {app}: {q}");
        hits[0].clone()
    };
    let photos = find("photos");
    assert_eq!(photos["bytes_used"], 10);
    assert_eq!(photos["files"], 2);
    let notes = find("notes");
    assert_eq!(notes["bytes_used"], 4);
    assert_eq!(notes["files"], 1);
}

#[tokio::test]
async fn quota_initiate_over_bytes_limit_is_402() {
    let emu = common::start().await;
    let (key, _) = new_limited_key(&emu, Some(100), None).await;
    let space = spaces_of(&emu, &key).await[0]["id"].as_str().unwrap().to_string();
    let q = expect_json(send_as(&emu, &key, Method::GET, "/quota", None).await, StatusCode::OK).await;
    assert_eq!(q["bytes_limit"], 100);

    let over = emu.initiate_body(&space, None, "big", "text/plain", 101);
    let d = expect_detail(send_as(&emu, &key, Method::POST, "/uploads/initiate", Some(over)).await, StatusCode::PAYMENT_REQUIRED)
        .await;
    assert_eq!(d, "quota_exceeded");

    upload_as(&emu, &key, &space, None, "sixty", &[0u8; 60], None, None).await;
    // 60 used + 50 would pass 100
    let more = emu.initiate_body(&space, None, "fifty", "text/plain", 50);
    let d = expect_detail(send_as(&emu, &key, Method::POST, "/uploads/initiate", Some(more)).await, StatusCode::PAYMENT_REQUIRED)
        .await;
    assert_eq!(d, "quota_exceeded");
    // 60 + 30 fits
    let fits = emu.initiate_body(&space, None, "thirty", "text/plain", 30);
    expect_json(send_as(&emu, &key, Method::POST, "/uploads/initiate", Some(fits)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn quota_minting_past_links_limit_is_402() {
    let emu = common::start().await;
    let (key, _) = new_limited_key(&emu, None, Some(1)).await;
    let space = spaces_of(&emu, &key).await[0]["id"].as_str().unwrap().to_string();
    let f = upload_as(&emu, &key, &space, None, "f", b"x", None, None).await;
    let fid = f["id"].as_str().unwrap();
    let first = expect_json(
        send_as(&emu, &key, Method::POST, "/shares", Some(json!({ "file_id": fid, "expires_in_days": 1, "permission": "view" }))).await,
        StatusCode::CREATED,
    )
    .await;
    let d = expect_detail(
        send_as(&emu, &key, Method::POST, "/shares", Some(json!({ "file_id": fid, "expires_in_days": 2, "permission": "download" }))).await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert_eq!(d, "quota_exceeded");
    // revoking frees the slot
    let r = send_as(&emu, &key, Method::DELETE, &format!("/shares/{}", first["id"].as_str().unwrap()), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_json(
        send_as(&emu, &key, Method::POST, "/shares", Some(json!({ "file_id": fid, "expires_in_days": 2, "permission": "download" }))).await,
        StatusCode::CREATED,
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// auth/service-token

#[tokio::test]
async fn service_token_acts_as_user_in_own_tenant() {
    let emu = common::start().await;
    let (svc, svc_tenant) = emu.new_key(&["service:delegate"], None).await;
    let user = random_id();
    let t = expect_json(
        send_as(&emu, &svc, Method::POST, "/auth/service-token", Some(json!({ "user_jwt": user_jwt(&user), "app": "photos" })))
            .await,
        StatusCode::OK,
    )
    .await;
    let token = t["token"].as_str().expect("token");
    assert!(token.starts_with("fcd_"), "{token}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["user_id"], json!(user));
    assert_eq!(t["app"], "photos");
    assert_eq!(t["expires_in"], 3600, "default ttl");
    let tenant = t["tenant_id"].as_str().expect("tenant_id");

    // sent as Bearer (req_as does so for non-fck_ credentials)
    let spaces = spaces_of(&emu, token).await;
    let arr = spaces.as_array().unwrap();
    assert_eq!(arr.len(), 1, "{spaces}");
    assert_eq!(arr[0]["name"], "Default");
    assert_eq!(arr[0]["tenant_id"], json!(tenant));
    assert_ne!(tenant, svc_tenant, "the user's own tenant");
    let default_spaces = list(&emu, "/spaces").await;
    assert_ne!(ids(&default_spaces), ids(&spaces));
}

#[tokio::test]
async fn service_token_same_user_same_tenant_other_user_other_tenant() {
    let emu = common::start().await;
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let u1 = random_id();
    let a = mint_token(&emu, &svc, &u1).await;
    let b = mint_token(&emu, &svc, &u1).await;
    let c = mint_token(&emu, &svc, &random_id()).await;
    assert_eq!(a["tenant_id"], b["tenant_id"]);
    assert_ne!(a["tenant_id"], c["tenant_id"]);
}

#[tokio::test]
async fn service_token_needs_service_delegate_scope() {
    let emu = common::start().await;
    let (key, _) = emu.new_key(common::USER_SCOPES, None).await;
    let body = json!({ "user_jwt": user_jwt(&random_id()), "app": "photos" });
    let v = expect_json(send_as(&emu, &key, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(v, json!({ "detail": { "error": "insufficient_scope", "required": ["service:delegate"] } }));
}

#[tokio::test]
async fn service_token_job_id_needs_service_jobtoken_scope() {
    let emu = common::start().await;
    let (only_delegate, _) = emu.new_key(&["service:delegate"], None).await;
    let body = json!({ "user_jwt": user_jwt(&random_id()), "app": "photos", "job_id": "job-1" });
    let v = expect_json(
        send_as(&emu, &only_delegate, Method::POST, "/auth/service-token", Some(body.clone())).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(v["detail"]["error"], "insufficient_scope");
    assert!(
        v["detail"]["required"].as_array().unwrap().contains(&json!("service:jobtoken")),
        "{v}"
    );
    let (both, _) = emu.new_key(&["service:delegate", "service:jobtoken"], None).await;
    let t = expect_json(send_as(&emu, &both, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::OK).await;
    assert!(t["token"].as_str().unwrap().starts_with("fcd_"));
}

#[tokio::test]
async fn service_token_bad_signature_is_401() {
    let emu = common::start().await;
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let exp = chrono::Utc::now().timestamp() + 3600;
    let forged = sign_jwt("not-the-secret", &json!({ "sub": random_id(), "exp": exp }));
    expect_detail(
        send_as(&emu, &svc, Method::POST, "/auth/service-token", Some(json!({ "user_jwt": forged, "app": "photos" }))).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // a good JWT with its signature altered
    let good = user_jwt(&random_id());
    let mut tampered = good[..good.len() - 2].to_string();
    tampered.push_str(if good.ends_with("AA") { "BB" } else { "AA" });
    expect_detail(
        send_as(&emu, &svc, Method::POST, "/auth/service-token", Some(json!({ "user_jwt": tampered, "app": "photos" }))).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn service_token_expired_user_jwt_is_401() {
    let emu = common::start().await;
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let exp = chrono::Utc::now().timestamp() - 600;
    let old = sign_jwt(&Config::default().jwt_secret, &json!({ "sub": random_id(), "exp": exp }));
    expect_detail(
        send_as(&emu, &svc, Method::POST, "/auth/service-token", Some(json!({ "user_jwt": old, "app": "photos" }))).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn service_token_job_id_null_is_no_job() {
    let emu = common::start().await;
    let (only_delegate, _) = emu.new_key(&["service:delegate"], None).await;
    let body = json!({ "user_jwt": user_jwt(&random_id()), "app": "photos", "job_id": null, "ttl_seconds": 86_400 });
    let t = expect_json(send_as(&emu, &only_delegate, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::OK).await;
    assert_eq!(t["expires_in"], 86_400);
    let longer = json!({ "user_jwt": user_jwt(&random_id()), "app": "photos", "job_id": null, "ttl_seconds": 86_401 });
    expect_422(send_as(&emu, &only_delegate, Method::POST, "/auth/service-token", Some(longer)).await).await;
}

#[tokio::test]
async fn a_user_jwt_acts_as_its_user() {
    let emu = common::start().await;
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let user = random_id();
    let delegated = mint_token(&emu, &svc, &user).await;
    let jwt = user_jwt(&user);
    let spaces = spaces_of(&emu, &jwt).await;
    assert_eq!(spaces[0]["tenant_id"], delegated["tenant_id"], "the user's own tenant: {spaces}");
    let space = spaces[0]["id"].as_str().unwrap().to_string();
    let file = upload_as(&emu, &jwt, &space, None, "mine.txt", b"mine", None, None).await;
    assert_eq!(file["created_by"], json!(user));
    assert_eq!(file["source_app"], Value::Null);
    // a user's scopes, not a service's
    let body = json!({ "user_jwt": user_jwt(&random_id()), "app": "photos" });
    let v = expect_json(send_as(&emu, &jwt, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(v["detail"]["error"], "insufficient_scope");
    let exp = chrono::Utc::now().timestamp() - 600;
    let expired = sign_jwt(&Config::default().jwt_secret, &json!({ "sub": user, "exp": exp }));
    expect_detail(send_as(&emu, &expired, Method::GET, "/spaces", None).await, StatusCode::UNAUTHORIZED).await;
    let forged = sign_jwt("not-the-secret", &json!({ "sub": user }));
    expect_detail(send_as(&emu, &forged, Method::GET, "/spaces", None).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn delegated_tokens_act_only_in_their_app() {
    let emu = common::start().await;
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let user = random_id();
    let token_for = |app: &'static str| {
        let body = json!({ "user_jwt": user_jwt(&user), "app": app });
        let emu = &emu;
        let svc = svc.clone();
        async move {
            let t = expect_json(send_as(emu, &svc, Method::POST, "/auth/service-token", Some(body)).await, StatusCode::OK).await;
            t["token"].as_str().unwrap().to_string()
        }
    };
    let (photos, talk) = (token_for("photos").await, token_for("talk").await);
    let space = spaces_of(&emu, &photos).await[0]["id"].as_str().unwrap().to_string();
    let file = upload_as(&emu, &photos, &space, None, "p.txt", b"photo", None, Some("album-1")).await;
    assert_eq!(file["source_app"], "photos", "tagged with the token's app");
    let id = file["id"].as_str().unwrap().to_string();

    // its own app: found without naming it
    let found = expect_json(send_as(&emu, &photos, Method::GET, "/files/resolve?client_key=album-1", None).await, StatusCode::OK).await;
    assert_eq!(found["id"], json!(id));
    let listed = expect_json(send_as(&emu, &photos, Method::GET, &q_files(&space, None, false), None).await, StatusCode::OK).await;
    assert_eq!(ids(&listed), vec![id.clone()]);

    // another app's token: the file does not exist for it, and naming the app is refused
    for (method, path, body) in [
        (Method::GET, format!("/files/{id}"), None),
        (Method::GET, format!("/files/{id}/download"), None),
        (Method::PATCH, format!("/files/{id}"), Some(json!({ "original_name": "x.txt" }))),
        (Method::DELETE, format!("/files/{id}"), None),
        (Method::POST, format!("/files/{id}/restore"), None),
        (Method::POST, "/shares".to_string(), Some(json!({ "file_id": id, "expires_in_days": null }))),
        (Method::GET, format!("/shares?file_id={id}&include_inactive=true"), None),
        (Method::GET, "/files/resolve?client_key=album-1".to_string(), None),
    ] {
        expect_detail(send_as(&emu, &talk, method.clone(), &path, body).await, StatusCode::NOT_FOUND).await;
    }
    let listed = expect_json(send_as(&emu, &talk, Method::GET, &q_files(&space, None, false), None).await, StatusCode::OK).await;
    assert!(ids(&listed).is_empty(), "{listed}");
    let q = "/files/resolve?client_key=album-1&app=photos".to_string();
    expect_detail(send_as(&emu, &talk, Method::GET, &q, None).await, StatusCode::FORBIDDEN).await;
    let q = format!("{}&app=photos", q_files(&space, None, false));
    expect_detail(send_as(&emu, &talk, Method::GET, &q, None).await, StatusCode::FORBIDDEN).await;

    // a share minted in one app is neither listed nor revocable from another
    let link = expect_json(
        send_as(&emu, &photos, Method::POST, "/shares", Some(json!({ "file_id": id, "expires_in_days": null }))).await,
        StatusCode::CREATED,
    )
    .await;
    let shares = expect_json(send_as(&emu, &talk, Method::GET, "/shares?include_inactive=true", None).await, StatusCode::OK).await;
    assert!(ids(&shares).is_empty(), "{shares}");
    let revoke = format!("/shares/{}", link["id"].as_str().unwrap());
    expect_detail(send_as(&emu, &talk, Method::DELETE, &revoke, None).await, StatusCode::NOT_FOUND).await;
    let shares = expect_json(send_as(&emu, &photos, Method::GET, "/shares", None).await, StatusCode::OK).await;
    assert_eq!(ids(&shares), vec![link["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn credentials_go_only_in_their_own_header() {
    let emu = common::start().await;
    let r = emu.http.get(emu.api_url("/spaces")).bearer_auth(&emu.key).send().await.unwrap();
    let detail = expect_detail(r, StatusCode::UNAUTHORIZED).await;
    assert!(detail.as_str().unwrap().contains("X-API-Key"), "{detail}");
    let (svc, _) = emu.new_key(&["service:delegate"], None).await;
    let token = mint_token(&emu, &svc, &random_id()).await["token"].as_str().unwrap().to_string();
    let r = emu.http.get(emu.api_url("/spaces")).header("X-API-Key", &token).send().await.unwrap();
    let detail = expect_detail(r, StatusCode::UNAUTHORIZED).await;
    assert!(detail.as_str().unwrap().contains("Bearer"), "{detail}");
    // each in its own header works
    spaces_of(&emu, &token).await;
    spaces_of(&emu, &emu.key.clone()).await;
}

// ---------------------------------------------------------------------------------------
// errors

#[tokio::test]
async fn missing_or_unknown_credential_is_401() {
    let emu = common::start().await;
    let no_key = emu.http.get(emu.api_url("/spaces")).send().await.unwrap();
    expect_detail(no_key, StatusCode::UNAUTHORIZED).await;
    expect_detail(send_as(&emu, "fck_test_nobody", Method::GET, "/spaces", None).await, StatusCode::UNAUTHORIZED).await;
    expect_detail(send_as(&emu, "fcd_bogus", Method::GET, "/spaces", None).await, StatusCode::UNAUTHORIZED).await;
    expect_detail(send_as(&emu, "eyJ.not.ajwt", Method::GET, "/files/resolve?client_key=x", None).await, StatusCode::UNAUTHORIZED)
        .await;
}

#[tokio::test]
async fn insufficient_scope_403_has_exact_body() {
    let emu = common::start().await;
    let (key, _) = emu.new_key(&["spaces:read", "files:read"], None).await;
    let space = spaces_of(&emu, &key).await[0]["id"].as_str().unwrap().to_string();
    let r = send_as(&emu, &key, Method::POST, "/folders", Some(json!({ "name": "x", "space_id": space }))).await;
    let (st, text) = status_text(r).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, json!({ "detail": { "error": "insufficient_scope", "required": ["files:write"] } }));
    // nothing was created
    let l = expect_json(send_as(&emu, &key, Method::GET, &q_folders(&space, None, false), None).await, StatusCode::OK).await;
    assert!(l.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn insufficient_scope_403_names_each_endpoints_scope() {
    let emu = common::start().await;
    let (key, _) = emu.new_key(&["spaces:read"], None).await;
    let space = spaces_of(&emu, &key).await[0]["id"].as_str().unwrap().to_string();
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::POST, "/spaces".into(), Some(json!({ "name": "n" })), "spaces:write"),
        (Method::GET, q_files(&space, None, false), None, "files:read"),
        (Method::GET, q_folders(&space, None, false), None, "files:read"),
        (Method::GET, "/quota".into(), None, "quota:read"),
        (Method::GET, "/shares?include_inactive=false".into(), None, "shares:read"),
        (Method::POST, "/shares".into(), Some(json!({ "file_id": random_id(), "expires_in_days": null })), "shares:write"),
    ];
    for (m, path, body, scope) in cases {
        let v = expect_json(send_as(&emu, &key, m.clone(), &path, body).await, StatusCode::FORBIDDEN).await;
        assert_eq!(v, json!({ "detail": { "error": "insufficient_scope", "required": [scope] } }), "{m} {path}");
    }
    let (files_only, _) = emu.new_key(&["files:read"], None).await;
    let v = expect_json(send_as(&emu, &files_only, Method::GET, "/spaces", None).await, StatusCode::FORBIDDEN).await;
    assert_eq!(v, json!({ "detail": { "error": "insufficient_scope", "required": ["spaces:read"] } }));
}

#[tokio::test]
async fn not_found_bodies_have_detail() {
    let emu = common::start().await;
    let id = random_id();
    expect_detail(emu.get(&format!("/files/{id}")).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get(&format!("/files/{id}/download")).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.patch(&format!("/files/{id}"), json!({ "original_name": "x" })).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.delete(&format!("/files/{id}")).await, StatusCode::NOT_FOUND).await;
    expect_detail(post_empty(&emu, &format!("/files/{id}/restore")).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.patch(&format!("/folders/{id}"), json!({ "name": "x" })).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.delete(&format!("/folders/{id}")).await, StatusCode::NOT_FOUND).await;
    expect_detail(post_empty(&emu, &format!("/folders/{id}/restore")).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.delete(&format!("/shares/{id}")).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn validation_422_for_malformed_json() {
    let emu = common::start().await;
    let r = emu
        .req(Method::POST, "/folders")
        .header("Content-Type", "application/json")
        .body("{\"name\": \"x\", ")
        .send()
        .await
        .unwrap();
    expect_422(r).await;
    let r = emu.req(Method::POST, "/spaces").header("Content-Type", "application/json").body("not json").send().await.unwrap();
    expect_422(r).await;
}

#[tokio::test]
async fn validation_422_for_missing_field() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let items = expect_422(emu.post("/folders", json!({ "name": "x" })).await).await;
    assert!(items.iter().any(|i| i["loc"].as_array().unwrap().contains(&json!("space_id"))), "loc names space_id: {items:?}");
    let items = expect_422(emu.post("/folders", json!({ "space_id": space })).await).await;
    assert!(items.iter().any(|i| i["loc"].as_array().unwrap().contains(&json!("name"))), "loc names name: {items:?}");
    expect_422(emu.post("/spaces", json!({})).await).await;
    expect_422(emu.get("/files/resolve").await).await;
    expect_422(emu.get("/folders?trash=false").await).await;
}

#[tokio::test]
async fn validation_422_for_wrong_type() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    expect_422(emu.post("/spaces", json!({ "name": 5 })).await).await;
    expect_422(emu.post("/folders", json!({ "name": ["x"], "space_id": space })).await).await;
    // a body or query ID that is not a UUID
    expect_422(emu.post("/folders", json!({ "name": "x", "space_id": "not-a-uuid" })).await).await;
    expect_422(emu.get("/folders?space_id=not-a-uuid&trash=false").await).await;
    expect_422(emu.post("/shares", json!({ "file_id": random_id(), "expires_in_days": "soon" })).await).await;
}

#[tokio::test]
async fn validation_422_for_bad_names() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let folder = mk_folder(&emu, &space, None, "ok").await;
    let folder_id = folder["id"].as_str().unwrap();
    let file = upload(&emu, &space, None, "ok.txt", b"x").await;
    let file_id = file["id"].as_str().unwrap();
    let long = "a".repeat(256);
    for bad in ["", "a/b", ".", "..", long.as_str(), "a\0b"] {
        expect_422(emu.post("/folders", json!({ "name": bad, "space_id": space })).await).await;
        expect_422(emu.patch(&format!("/folders/{folder_id}"), json!({ "name": bad })).await).await;
        expect_422(emu.patch(&format!("/files/{file_id}"), json!({ "original_name": bad })).await).await;
    }
    // 255 characters is allowed
    let max = "b".repeat(255);
    mk_folder(&emu, &space, None, &max).await;
    let r = expect_json(emu.patch(&format!("/files/{file_id}"), json!({ "original_name": max })).await, StatusCode::OK).await;
    assert_eq!(r["original_name"], json!(max));
    // nothing bad got through
    let names: Vec<Value> =
        list(&emu, &q_folders(&space, None, false)).await.as_array().unwrap().iter().map(|f| f["name"].clone()).collect();
    assert_eq!(names, vec![json!(max), json!("ok")]);
}

#[tokio::test]
async fn request_id_on_every_response_and_distinct() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let link = expect_json(
        emu.post("/shares", json!({ "file_id": f["id"], "expires_in_days": null })).await,
        StatusCode::CREATED,
    )
    .await;
    let responses = vec![
        emu.get("/spaces").await,                                                          // 200
        emu.post("/spaces", json!({ "name": "n" })).await,                                 // 201
        emu.delete(&format!("/shares/{}", link["id"].as_str().unwrap())).await,            // 204
        emu.get(&format!("/files/{}", random_id())).await,                                 // 404
        emu.post("/folders", json!({})).await,                                             // 422
        emu.http.get(emu.api_url("/spaces")).send().await.unwrap(),                        // 401
        emu.get("/spaces").await,                                                          // 200 again
    ];
    let mut seen = HashSet::new();
    for r in responses {
        let st = r.status();
        let rid = r
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id on a {st} response"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(!rid.is_empty(), "empty X-Request-Id on {st}");
        assert!(seen.insert(rid.clone()), "X-Request-Id repeated: {rid}");
    }
}

// ---------------------------------------------------------------------------------------
// tenant isolation

/// Sends the request twice, once with `{X}` = `foreign` and once with `{X}` = a random UUID,
/// and asserts both answer 404 with the same `detail` (modulo the ID itself).
async fn assert_404_like_unknown(emu: &Emu, key: &str, method: Method, path: &str, body: Option<Value>, foreign: &str) {
    let unknown = random_id();
    let mut details = Vec::new();
    for id in [foreign, unknown.as_str()] {
        let p = path.replace("{X}", id);
        let b = body.as_ref().map(|b| serde_json::from_str::<Value>(&b.to_string().replace("{X}", id)).unwrap());
        let (st, text) = status_text(send_as(emu, key, method.clone(), &p, b).await).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{method} {p}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {p}: not JSON: {text}"));
        assert!(v.get("detail").is_some(), "{method} {p}: {text}");
        details.push(v["detail"].to_string().replace(id, "{X}"));
    }
    assert_eq!(details[0], details[1], "{method} {path}: another tenant's ID is answered unlike an unknown one");
}

#[tokio::test]
async fn other_tenants_ids_are_404_everywhere() {
    let emu = common::start().await;
    // tenant A: the default key
    let a_space = emu.default_space().await;
    let a_folder = mk_folder(&emu, &a_space, None, "a-folder").await;
    let a_folder_id = a_folder["id"].as_str().unwrap().to_string();
    let key_a = emu.key.clone();
    let a_file = upload_as(&emu, &key_a, &a_space, None, "a.txt", b"secret", None, Some("ck-a")).await;
    let a_file_id = a_file["id"].as_str().unwrap().to_string();
    let a_share = expect_json(
        emu.post("/shares", json!({ "file_id": a_file_id, "expires_in_days": null })).await,
        StatusCode::CREATED,
    )
    .await;
    let a_share_id = a_share["id"].as_str().unwrap().to_string();
    // a trashed file and folder of A, for restore
    let a_trashed_file = upload(&emu, &a_space, None, "t.txt", b"t").await;
    let a_trashed_file_id = a_trashed_file["id"].as_str().unwrap().to_string();
    expect_json(emu.delete(&format!("/files/{a_trashed_file_id}")).await, StatusCode::OK).await;
    let a_trashed_folder = mk_folder(&emu, &a_space, None, "trashed").await;
    let a_trashed_folder_id = a_trashed_folder["id"].as_str().unwrap().to_string();
    expect_json(emu.delete(&format!("/folders/{a_trashed_folder_id}")).await, StatusCode::OK).await;

    // tenant B: every scope
    let (b, _) = emu.new_key(common::USER_SCOPES, None).await;
    let b_space = spaces_of(&emu, &b).await[0]["id"].as_str().unwrap().to_string();
    let b_folder = mk_folder_as(&emu, &b, &b_space, None, "b-folder").await;
    let b_folder_id = b_folder["id"].as_str().unwrap().to_string();
    let b_file = upload_as(&emu, &b, &b_space, None, "b.txt", b"mine", None, None).await;
    let b_file_id = b_file["id"].as_str().unwrap().to_string();

    let g = Method::GET;
    let (p, d, post) = (Method::PATCH, Method::DELETE, Method::POST);
    // spaces (list filters and create parents)
    assert_404_like_unknown(&emu, &b, g.clone(), "/folders?space_id={X}&trash=false", None, &a_space).await;
    assert_404_like_unknown(&emu, &b, g.clone(), "/folders?space_id={X}&trash=true", None, &a_space).await;
    assert_404_like_unknown(&emu, &b, g.clone(), "/files?space_id={X}&trash=false", None, &a_space).await;
    assert_404_like_unknown(&emu, &b, post.clone(), "/folders", Some(json!({ "name": "n", "space_id": "{X}" })), &a_space).await;
    // folders
    let q = format!("/folders?space_id={b_space}&parent_id={{X}}&trash=false");
    assert_404_like_unknown(&emu, &b, g.clone(), &q, None, &a_folder_id).await;
    let q = format!("/files?space_id={b_space}&folder_id={{X}}&trash=false");
    assert_404_like_unknown(&emu, &b, g.clone(), &q, None, &a_folder_id).await;
    let body = json!({ "name": "n", "space_id": b_space, "parent_id": "{X}" });
    assert_404_like_unknown(&emu, &b, post.clone(), "/folders", Some(body), &a_folder_id).await;
    assert_404_like_unknown(&emu, &b, p.clone(), "/folders/{X}", Some(json!({ "name": "stolen" })), &a_folder_id).await;
    assert_404_like_unknown(&emu, &b, p.clone(), "/folders/{X}", Some(json!({ "parent_id": null })), &a_folder_id).await;
    let own = format!("/folders/{b_folder_id}");
    assert_404_like_unknown(&emu, &b, p.clone(), &own, Some(json!({ "parent_id": "{X}" })), &a_folder_id).await;
    assert_404_like_unknown(&emu, &b, d.clone(), "/folders/{X}", None, &a_folder_id).await;
    assert_404_like_unknown(&emu, &b, post.clone(), "/folders/{X}/restore", None, &a_trashed_folder_id).await;
    // files
    assert_404_like_unknown(&emu, &b, g.clone(), "/files/{X}", None, &a_file_id).await;
    assert_404_like_unknown(&emu, &b, g.clone(), "/files/{X}", None, &a_trashed_file_id).await;
    assert_404_like_unknown(&emu, &b, g.clone(), "/files/{X}/download", None, &a_file_id).await;
    assert_404_like_unknown(&emu, &b, p.clone(), "/files/{X}", Some(json!({ "original_name": "stolen" })), &a_file_id).await;
    assert_404_like_unknown(&emu, &b, p.clone(), "/files/{X}", Some(json!({ "folder_id": null })), &a_file_id).await;
    let own = format!("/files/{b_file_id}");
    assert_404_like_unknown(&emu, &b, p.clone(), &own, Some(json!({ "folder_id": "{X}" })), &a_folder_id).await;
    assert_404_like_unknown(&emu, &b, d.clone(), "/files/{X}", None, &a_file_id).await;
    assert_404_like_unknown(&emu, &b, post.clone(), "/files/{X}/restore", None, &a_trashed_file_id).await;
    let r = send_as(&emu, &b, g.clone(), "/files/resolve?client_key=ck-a", None).await;
    expect_detail(r, StatusCode::NOT_FOUND).await;
    // shares
    let body = json!({ "file_id": "{X}", "expires_in_days": null });
    assert_404_like_unknown(&emu, &b, post.clone(), "/shares", Some(body), &a_file_id).await;
    assert_404_like_unknown(&emu, &b, d.clone(), "/shares/{X}", None, &a_share_id).await;
    // the shares list filter: answered as for an unknown file, and never lists A's share
    let foreign = send_as(&emu, &b, g.clone(), &format!("/shares?file_id={a_file_id}&include_inactive=true"), None).await;
    let unknown = send_as(&emu, &b, g.clone(), &format!("/shares?file_id={}&include_inactive=true", random_id()), None).await;
    let (fs, ft) = status_text(foreign).await;
    let (us, ut) = status_text(unknown).await;
    assert_eq!(fs, us, "shares?file_id=other tenant's: {ft} vs unknown: {ut}");
    if fs == StatusCode::OK {
        assert_eq!(serde_json::from_str::<Value>(&ft).unwrap(), json!([]));
    }
    let b_shares = expect_json(send_as(&emu, &b, g.clone(), "/shares?include_inactive=true", None).await, StatusCode::OK).await;
    assert!(b_shares.as_array().unwrap().is_empty(), "{b_shares}");
    // B's lists do not show A's things
    assert_eq!(spaces_of(&emu, &b).await.as_array().unwrap().len(), 1);

    // A's resources are untouched
    let f = list(&emu, &format!("/files/{a_file_id}")).await;
    assert_eq!(f["original_name"], "a.txt");
    assert!(f["deleted_at"].is_null());
    let folders = list(&emu, &q_folders(&a_space, None, false)).await;
    assert_eq!(ids(&folders), vec![a_folder_id.clone()]);
    assert_eq!(folders[0]["name"], "a-folder");
    let tf = list(&emu, &format!("/files/{a_trashed_file_id}")).await;
    assert!(!tf["deleted_at"].is_null(), "A's trashed file was not restored by B");
    let trashed = list(&emu, &q_folders(&a_space, None, true)).await;
    assert_eq!(ids(&trashed), vec![a_trashed_folder_id.clone()]);
    let shares = list(&emu, "/shares?include_inactive=false").await;
    assert_eq!(ids(&shares), vec![a_share_id.clone()], "A's share was not revoked by B");
}

// ---------------------------------------------------------------------------------------
// path-ID injection

#[tokio::test]
async fn path_id_injection_is_404() {
    let emu = common::start().await;
    let raw = format!("{}/api/v1/files/..%2Fspaces", emu.base());
    let r = emu.http.get(raw.as_str()).header("X-API-Key", &emu.key).send().await.unwrap();
    assert!(r.url().as_str().contains("..%2Fspaces"), "client kept the encoding: {}", r.url());
    let detail = expect_detail(r, StatusCode::NOT_FOUND).await;
    assert!(!detail.is_array(), "not a spaces list: {detail}");
    let raw = format!("{}/api/v1/folders/..%2F..%2Fspaces", emu.base());
    let r = emu
        .http
        .patch(raw.as_str())
        .header("X-API-Key", &emu.key)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    expect_detail(r, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn path_id_that_is_not_a_uuid_is_404() {
    let emu = common::start().await;
    expect_detail(emu.get("/files/not-a-uuid").await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get("/files/12345/download").await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.patch("/folders/xyz", json!({ "name": "x" })).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.delete("/shares/not-a-uuid").await, StatusCode::NOT_FOUND).await;
    expect_detail(post_empty(&emu, "/files/nope/restore").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn path_segments_that_are_no_utf8_are_404_with_a_json_detail() {
    let emu = common::start().await;
    for (method, path) in [
        (Method::GET, "/api/v1/files/%FF"),
        (Method::DELETE, "/api/v1/shares/%FF"),
        (Method::POST, "/api/v1/folders/%C3%28/restore"),
        (Method::GET, "/s/%FF"),
    ] {
        let r = emu.http.request(method, format!("{}{path}", emu.base())).header("X-API-Key", &emu.key).send().await.unwrap();
        expect_detail(r, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn a_body_over_the_size_limit_gets_a_json_detail() {
    let emu = common::start().await;
    let huge = json!({ "name": "x".repeat(3 << 20) });
    let detail = expect_detail(emu.post("/spaces", huge).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(detail.as_str().unwrap().contains("limit"), "{detail}");
}

// ---------------------------------------------------------------------------------------
// trash
// ---------------------------------------------------------------------------------------
// trash

#[tokio::test]
async fn deleting_a_folder_trashes_its_subtree() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let top = mk_folder(&emu, &space, None, "top").await;
    let top_id = top["id"].as_str().unwrap();
    let sub = mk_folder(&emu, &space, Some(top_id), "sub").await;
    let sub_id = sub["id"].as_str().unwrap();
    let f1 = upload(&emu, &space, Some(top_id), "f1.txt", b"1").await;
    let f2 = upload(&emu, &space, Some(sub_id), "f2.txt", b"2").await;
    let keep = upload(&emu, &space, None, "keep.txt", b"k").await;

    let d = expect_json(emu.delete(&format!("/folders/{top_id}")).await, StatusCode::OK).await;
    assert_utc_ts(&d["deleted_at"]);

    for f in [&f1, &f2] {
        let g = expect_json(emu.get(&format!("/files/{}", f["id"].as_str().unwrap())).await, StatusCode::OK).await;
        assert_utc_ts(&g["deleted_at"]);
    }
    let k = expect_json(emu.get(&format!("/files/{}", keep["id"].as_str().unwrap())).await, StatusCode::OK).await;
    assert!(k["deleted_at"].is_null(), "a file outside the subtree stays live");

    // the subfolder is in the trash, under its (trashed) parent
    let trashed_sub = list(&emu, &q_folders(&space, Some(top_id), true)).await;
    assert_eq!(ids(&trashed_sub), vec![sub_id.to_string()]);
    assert_utc_ts(&trashed_sub[0]["deleted_at"]);
    let trashed_f2 = list(&emu, &q_files(&space, Some(sub_id), true)).await;
    assert_eq!(ids(&trashed_f2), vec![f2["id"].as_str().unwrap().to_string()]);

    // live listings hide them
    assert!(list(&emu, &q_folders(&space, None, false)).await.as_array().unwrap().is_empty());
    assert_eq!(ids(&list(&emu, &q_files(&space, None, false)).await), vec![keep["id"].as_str().unwrap().to_string()]);
}

#[tokio::test]
async fn trash_listing_shows_only_trashed_items() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let live = mk_folder(&emu, &space, None, "live").await;
    let gone = mk_folder(&emu, &space, None, "gone").await;
    expect_json(emu.delete(&format!("/folders/{}", gone["id"].as_str().unwrap())).await, StatusCode::OK).await;
    let lf = upload(&emu, &space, None, "live.txt", b"l").await;
    let gf = upload(&emu, &space, None, "gone.txt", b"g").await;
    expect_json(emu.delete(&format!("/files/{}", gf["id"].as_str().unwrap())).await, StatusCode::OK).await;

    assert_eq!(ids(&list(&emu, &q_folders(&space, None, false)).await), ids(&json!([live])));
    let t = list(&emu, &q_folders(&space, None, true)).await;
    assert_eq!(ids(&t), ids(&json!([gone])));
    assert_utc_ts(&t[0]["deleted_at"]);
    assert_eq!(ids(&list(&emu, &q_files(&space, None, false)).await), ids(&json!([lf])));
    let t = list(&emu, &q_files(&space, None, true)).await;
    assert_eq!(ids(&t), ids(&json!([gf])));
    assert_utc_ts(&t[0]["deleted_at"]);
}

#[tokio::test]
async fn trashed_file_can_still_be_fetched() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let id = f["id"].as_str().unwrap();
    expect_json(emu.delete(&format!("/files/{id}")).await, StatusCode::OK).await;
    let g = expect_json(emu.get(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(g["id"], f["id"]);
    assert_eq!(g["original_name"], "f.txt");
    assert_utc_ts(&g["deleted_at"]);
}

#[tokio::test]
async fn restore_brings_back_what_that_delete_trashed() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let top = mk_folder(&emu, &space, None, "top").await;
    let top_id = top["id"].as_str().unwrap();
    let early = mk_folder(&emu, &space, Some(top_id), "early").await;
    let early_id = early["id"].as_str().unwrap();
    let later = mk_folder(&emu, &space, Some(top_id), "later").await;
    let later_id = later["id"].as_str().unwrap();
    let f = upload(&emu, &space, Some(top_id), "f.txt", b"x").await;
    let early_file = upload(&emu, &space, Some(top_id), "early.txt", b"e").await;

    // trashed by an earlier, separate delete
    expect_json(emu.delete(&format!("/folders/{early_id}")).await, StatusCode::OK).await;
    expect_json(emu.delete(&format!("/files/{}", early_file["id"].as_str().unwrap())).await, StatusCode::OK).await;
    // the delete being undone
    expect_json(emu.delete(&format!("/folders/{top_id}")).await, StatusCode::OK).await;

    let r = expect_json(post_empty(&emu, &format!("/folders/{top_id}/restore")).await, StatusCode::OK).await;
    assert!(r["deleted_at"].is_null(), "{r}");
    assert_eq!(ids(&list(&emu, &q_folders(&space, None, false)).await), vec![top_id.to_string()]);
    assert_eq!(ids(&list(&emu, &q_folders(&space, Some(top_id), false)).await), vec![later_id.to_string()]);
    assert_eq!(ids(&list(&emu, &q_folders(&space, Some(top_id), true)).await), vec![early_id.to_string()]);
    let g = expect_json(emu.get(&format!("/files/{}", f["id"].as_str().unwrap())).await, StatusCode::OK).await;
    assert!(g["deleted_at"].is_null(), "the file that delete trashed is back: {g}");
    let e = expect_json(emu.get(&format!("/files/{}", early_file["id"].as_str().unwrap())).await, StatusCode::OK).await;
    assert!(!e["deleted_at"].is_null(), "a file trashed by an earlier delete stays trashed: {e}");
}

#[tokio::test]
async fn restoring_a_child_of_a_trashed_parent_is_409() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let top = mk_folder(&emu, &space, None, "top").await;
    let top_id = top["id"].as_str().unwrap();
    let sub = mk_folder(&emu, &space, Some(top_id), "sub").await;
    let sub_id = sub["id"].as_str().unwrap();
    let f = upload(&emu, &space, Some(top_id), "f.txt", b"x").await;
    let fid = f["id"].as_str().unwrap();
    expect_json(emu.delete(&format!("/folders/{top_id}")).await, StatusCode::OK).await;

    expect_detail(post_empty(&emu, &format!("/folders/{sub_id}/restore")).await, StatusCode::CONFLICT).await;
    expect_detail(post_empty(&emu, &format!("/files/{fid}/restore")).await, StatusCode::CONFLICT).await;
    let g = expect_json(emu.get(&format!("/files/{fid}")).await, StatusCode::OK).await;
    assert!(!g["deleted_at"].is_null(), "a refused restore changes nothing");
}

#[tokio::test]
async fn trashed_items_cannot_be_patched() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let folder = mk_folder(&emu, &space, None, "f").await;
    let folder_id = folder["id"].as_str().unwrap();
    let file = upload(&emu, &space, None, "f.txt", b"x").await;
    let file_id = file["id"].as_str().unwrap();
    expect_json(emu.delete(&format!("/folders/{folder_id}")).await, StatusCode::OK).await;
    expect_json(emu.delete(&format!("/files/{file_id}")).await, StatusCode::OK).await;
    expect_detail(emu.patch(&format!("/folders/{folder_id}"), json!({ "name": "g" })).await, StatusCode::CONFLICT).await;
    expect_detail(emu.patch(&format!("/files/{file_id}"), json!({ "original_name": "g" })).await, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn deleting_or_restoring_twice_returns_the_item_unchanged() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let file = upload(&emu, &space, None, "f.txt", b"x").await;
    let id = file["id"].as_str().unwrap();
    let d1 = expect_json(emu.delete(&format!("/files/{id}")).await, StatusCode::OK).await;
    let d2 = expect_json(emu.delete(&format!("/files/{id}")).await, StatusCode::OK).await;
    assert_eq!(d1["deleted_at"], d2["deleted_at"]);
    expect_json(post_empty(&emu, &format!("/files/{id}/restore")).await, StatusCode::OK).await;
    let r2 = expect_json(post_empty(&emu, &format!("/files/{id}/restore")).await, StatusCode::OK).await;
    assert!(r2["deleted_at"].is_null());
}

#[tokio::test]
async fn list_with_unknown_space_or_folder_is_404() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let id = random_id();
    expect_detail(emu.get(&q_folders(&id, None, false)).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get(&q_files(&id, None, true)).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get(&q_folders(&space, Some(&id), false)).await, StatusCode::NOT_FOUND).await;
    expect_detail(emu.get(&q_files(&space, Some(&id), false)).await, StatusCode::NOT_FOUND).await;
}

// ---------------------------------------------------------------------------------------
// query booleans

#[tokio::test]
async fn query_booleans_true_false_are_understood() {
    let emu = common::start().await;
    let space = emu.default_space().await;
    let f = upload(&emu, &space, None, "f.txt", b"x").await;
    let l = expect_json(emu.post("/shares", json!({ "file_id": f["id"], "expires_in_days": null })).await, StatusCode::CREATED)
        .await;
    assert_eq!(emu.delete(&format!("/shares/{}", l["id"].as_str().unwrap())).await.status(), StatusCode::NO_CONTENT);
    // trash=false / trash=true select different sets
    assert_eq!(list(&emu, &q_files(&space, None, false)).await.as_array().unwrap().len(), 1);
    assert_eq!(list(&emu, &q_files(&space, None, true)).await.as_array().unwrap().len(), 0);
    // include_inactive=false / true select different sets
    assert_eq!(list(&emu, "/shares?include_inactive=false").await.as_array().unwrap().len(), 0);
    assert_eq!(list(&emu, "/shares?include_inactive=true").await.as_array().unwrap().len(), 1);
    // a value that is not a boolean is a validation error
    expect_422(emu.get(&format!("/files?space_id={space}&trash=maybe")).await).await;
}
