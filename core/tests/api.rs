//! Every API call of PROTOCOL §5 (but the transfers) against the in-process emulator, the wire
//! shape of what the client sends, error mapping, path-ID encoding, retries under fault rules,
//! and the client's security rules.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fluidcloud::transport::{HttpRequest, HttpResponse, Method, TransportError, TransportErrorKind};
use fluidcloud::{Client, ClientOptions, Detail, Error, ErrorKind, Permission, UploadOptions, UploadSource};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::*;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// Asserts everything an error from a server answer must carry.
fn assert_server_error(err: &Error, kind: ErrorKind, status: u16, call: &str, secrets: &[&str]) {
    assert_eq!(err.kind(), kind, "kind of {err}");
    assert_eq!(err.http_status(), Some(status), "status of {err}");
    assert_eq!(err.call(), call);
    assert!(err.detail().is_some(), "{err} has no detail");
    let rid = err.request_id().unwrap_or_else(|| panic!("{err} has no request id"));
    assert!(rid.starts_with("req_") && rid.len() > 4, "request id {rid:?}");
    assert_display(err, call, secrets);
}

/// One line, starts with `{call}:`, never shows a secret (Display nor Debug).
fn assert_display(err: &Error, call: &str, secrets: &[&str]) {
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("{call}:")), "display {shown:?} does not start with {call}:");
    assert!(!shown.contains('\n') && !shown.contains('\r'), "display is not one line: {shown:?}");
    let debug = format!("{err:?}");
    for s in secrets {
        assert!(!shown.contains(s), "display shows a secret: {shown}");
        assert!(!debug.contains(s), "debug shows a secret: {debug}");
    }
}

fn detail_json(err: &Error) -> Value {
    match err.detail() {
        Some(Detail::Json(v)) => v.clone(),
        other => panic!("detail of {err} is not JSON: {other:?}"),
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|x| id(x).to_string()).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

// ---------------------------------------------------------------------------------------------
// spaces
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn spaces_list_and_create() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();

    let spaces = client.spaces().list().await.unwrap();
    assert_eq!(spaces.len(), 1);
    assert_eq!(spaces[0].name, "Default");
    assert!(spaces[0].tenant_id.is_some());
    let r = rec.last();
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path(), "/api/v1/spaces");
    assert_eq!(r.query(), None);
    assert_eq!(r.body, None);

    let created = client.spaces().create("Projects").await.unwrap();
    assert_eq!(created.name, "Projects");
    assert_eq!(created.tenant_id, spaces[0].tenant_id);
    assert!(created.created_at.as_deref().is_some_and(|t| t.ends_with('Z')));
    let r = rec.last();
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path(), "/api/v1/spaces");
    assert_eq!(r.json(), json!({ "name": "Projects" }));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let again = client.spaces().list().await.unwrap();
    assert_eq!(ids(&again, |s| &s.id), vec![spaces[0].id.clone(), created.id.clone()]);

    // An empty name is refused before any request.
    let before = rec.count();
    let err = client.spaces().create("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(rec.count(), before);
}

// ---------------------------------------------------------------------------------------------
// folders
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn folders_create_list_rename_move_delete_restore() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = client.spaces().list().await.unwrap()[0].id.clone();

    // create without a parent: no parent_id key at all
    let a = client.folders().create("Alpha", &space, None).await.unwrap();
    assert_eq!(a.name, "Alpha");
    assert_eq!(a.space_id.as_deref(), Some(space.as_str()));
    assert_eq!(a.parent_id, None);
    let body = rec.last().json();
    assert_eq!(body, json!({ "name": "Alpha", "space_id": space }));
    assert!(body.get("parent_id").is_none(), "absent parent must be left out: {body}");

    // create with a parent
    let b = client.folders().create("Beta", &space, Some(&a.id)).await.unwrap();
    assert_eq!(b.parent_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(rec.last().json(), json!({ "name": "Beta", "space_id": space, "parent_id": a.id }));
    let z = client.folders().create("Zulu", &space, None).await.unwrap();

    // list the root and a parent; query booleans are sent as false/true
    let root = client.folders().list(&space, None, false).await.unwrap();
    assert_eq!(ids(&root, |f| &f.id), vec![a.id.clone(), z.id.clone()]);
    let r = rec.last();
    assert_eq!(r.path(), "/api/v1/folders");
    assert_eq!(r.query_pairs(), vec![("space_id".into(), space.clone()), ("trash".into(), "false".into())]);
    let under_a = client.folders().list(&space, Some(&a.id), false).await.unwrap();
    assert_eq!(ids(&under_a, |f| &f.id), vec![b.id.clone()]);
    assert_eq!(
        rec.last().query_pairs(),
        vec![("space_id".into(), space.clone()), ("parent_id".into(), a.id.clone()), ("trash".into(), "false".into())]
    );

    // rename
    let renamed = client.folders().rename(&b.id, "Bravo").await.unwrap();
    assert_eq!(renamed.name, "Bravo");
    let r = rec.last();
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(r.path(), format!("/api/v1/folders/{}", b.id));
    assert_eq!(r.json(), json!({ "name": "Bravo" }));

    // move to the root: explicit null
    let moved = client.folders().move_to(&b.id, None).await.unwrap();
    assert_eq!(moved.parent_id, None);
    let r = rec.last();
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(r.json(), json!({ "parent_id": null }));
    assert!(r.json().as_object().unwrap().contains_key("parent_id"));
    let root = client.folders().list(&space, None, false).await.unwrap();
    assert_eq!(ids(&root, |f| &f.id), vec![a.id.clone(), b.id.clone(), z.id.clone()]);

    // move under a parent
    let moved = client.folders().move_to(&b.id, Some(&z.id)).await.unwrap();
    assert_eq!(moved.parent_id.as_deref(), Some(z.id.as_str()));
    assert_eq!(rec.last().json(), json!({ "parent_id": z.id }));

    // a name collision is a conflict; moving into its own subtree a 400
    let err = client.folders().create("Alpha", &space, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = client.folders().move_to(&z.id, Some(&b.id)).await.unwrap_err();
    assert_eq!((err.kind(), err.http_status()), (ErrorKind::Api, Some(400)));

    // delete trashes the subtree
    let deleted = client.folders().delete(&z.id).await.unwrap();
    assert!(deleted.deleted_at.is_some());
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::DELETE, format!("/api/v1/folders/{}", z.id)));
    let root = client.folders().list(&space, None, false).await.unwrap();
    assert_eq!(ids(&root, |f| &f.id), vec![a.id.clone()]);
    let trash = client.folders().list(&space, None, true).await.unwrap();
    assert_eq!(ids(&trash, |f| &f.id), vec![z.id.clone()]);
    assert!(trash[0].deleted_at.is_some());
    assert_eq!(rec.last().query_pairs().last().cloned(), Some(("trash".into(), "true".into())));
    let trashed_child = client.folders().list(&space, Some(&z.id), true).await.unwrap();
    assert_eq!(ids(&trashed_child, |f| &f.id), vec![b.id.clone()]);

    // restore brings the subtree back
    let restored = client.folders().restore(&z.id).await.unwrap();
    assert_eq!(restored.deleted_at, None);
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::POST, format!("/api/v1/folders/{}/restore", z.id)));
    let root = client.folders().list(&space, None, false).await.unwrap();
    assert_eq!(ids(&root, |f| &f.id), vec![a.id.clone(), z.id.clone()]);
    let under_z = client.folders().list(&space, Some(&z.id), false).await.unwrap();
    assert_eq!(ids(&under_z, |f| &f.id), vec![b.id.clone()]);
    assert!(client.folders().list(&space, None, true).await.unwrap().is_empty());

    // an unknown space is a 404
    let err = client.folders().list(&random_id(), None, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

// ---------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn files_list_get_resolve_rename_move_delete_restore() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = emu.default_space().await;
    let folder = client.folders().create("Docs", &space, None).await.unwrap();

    let plain = emu.upload(&space, "b-plain.txt", b"plain bytes").await;
    let in_folder = emu.upload_raw(emu.api_key(), &RawUpload::new(&space, "c-doc.txt", b"in a folder").folder(&folder.id)).await;
    let tagged = emu
        .upload_raw(emu.api_key(), &RawUpload::new(&space, "a-photo.txt", b"from an app").app("photos").client_key("ck-1"))
        .await;
    let (plain_id, folder_file_id, tagged_id) = (str_of(&plain, "id"), str_of(&in_folder, "id"), str_of(&tagged, "id"));

    // list: the root, a folder, an app
    let root = client.files().list(&space, None, false, None).await.unwrap();
    assert_eq!(ids(&root, |f| &f.id), vec![tagged_id.to_string(), plain_id.to_string()]);
    let r = rec.last();
    assert_eq!(r.path(), "/api/v1/files");
    assert_eq!(r.query_pairs(), vec![("space_id".into(), space.clone()), ("trash".into(), "false".into())]);
    let docs = client.files().list(&space, Some(&folder.id), false, None).await.unwrap();
    assert_eq!(ids(&docs, |f| &f.id), vec![folder_file_id.to_string()]);
    assert_eq!(
        rec.last().query_pairs(),
        vec![("space_id".into(), space.clone()), ("folder_id".into(), folder.id.clone()), ("trash".into(), "false".into())]
    );
    let photos = client.files().list(&space, None, false, Some("photos")).await.unwrap();
    assert_eq!(ids(&photos, |f| &f.id), vec![tagged_id.to_string()]);
    assert_eq!(photos[0].source_app.as_deref(), Some("photos"));
    assert_eq!(
        rec.last().query_pairs(),
        vec![("space_id".into(), space.clone()), ("trash".into(), "false".into()), ("app".into(), "photos".into())]
    );

    // get: every field the server sent
    let f = client.files().get(plain_id).await.unwrap();
    assert_eq!(f.id, plain_id);
    assert_eq!(f.original_name, "b-plain.txt");
    assert_eq!(f.size, Some(11));
    assert_eq!(f.sha256.as_deref(), Some(sha256_hex(b"plain bytes").as_str()));
    assert_eq!(f.mime.as_deref(), Some("text/plain"));
    assert_eq!(f.scan_status.as_deref(), Some("clean"));
    assert_eq!(f.status.as_deref(), Some("ready"));
    assert_eq!(f.space_id.as_deref(), Some(space.as_str()));
    assert_eq!(f.folder_id, None);
    assert_eq!(f.public_url, None);
    assert_eq!(rec.last().path(), format!("/api/v1/files/{plain_id}"));

    // resolve by client_key in the app namespace
    let found = client.files().resolve("ck-1", Some("photos")).await.unwrap();
    assert_eq!(found.id, tagged_id);
    assert_eq!(found.client_key.as_deref(), Some("ck-1"));
    let r = rec.last();
    assert_eq!(r.path(), "/api/v1/files/resolve");
    assert_eq!(r.query_pairs(), vec![("client_key".into(), "ck-1".into()), ("app".into(), "photos".into())]);
    let err = client.files().resolve("ck-1", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "no native file has ck-1");
    assert_eq!(rec.last().query_pairs(), vec![("client_key".into(), "ck-1".into())]);

    // rename
    let renamed = client.files().rename(plain_id, "renamed.txt").await.unwrap();
    assert_eq!(renamed.original_name, "renamed.txt");
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::PATCH, format!("/api/v1/files/{plain_id}")));
    assert_eq!(r.json(), json!({ "original_name": "renamed.txt" }));

    // move into a folder, then back to the root with an explicit null
    let moved = client.files().move_to(plain_id, Some(&folder.id)).await.unwrap();
    assert_eq!(moved.folder_id.as_deref(), Some(folder.id.as_str()));
    assert_eq!(rec.last().json(), json!({ "folder_id": folder.id }));
    let docs = client.files().list(&space, Some(&folder.id), false, None).await.unwrap();
    assert!(docs.iter().any(|f| f.id == plain_id));
    let back = client.files().move_to(plain_id, None).await.unwrap();
    assert_eq!(back.folder_id, None);
    let r = rec.last();
    assert_eq!(r.method, Method::PATCH);
    assert_eq!(r.json(), json!({ "folder_id": null }));
    assert!(r.json().as_object().unwrap().contains_key("folder_id"));

    // delete, list the trash, restore
    let trashed = client.files().delete(plain_id).await.unwrap();
    assert!(trashed.deleted_at.is_some());
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::DELETE, format!("/api/v1/files/{plain_id}")));
    let root = client.files().list(&space, None, false, None).await.unwrap();
    assert!(!root.iter().any(|f| f.id == plain_id));
    let trash = client.files().list(&space, None, true, None).await.unwrap();
    assert_eq!(ids(&trash, |f| &f.id), vec![plain_id.to_string()]);
    assert_eq!(rec.last().query_pairs()[1], ("trash".into(), "true".into()));
    assert!(client.files().get(plain_id).await.unwrap().deleted_at.is_some(), "a trashed file can still be fetched");
    let restored = client.files().restore(plain_id).await.unwrap();
    assert_eq!(restored.deleted_at, None);
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::POST, format!("/api/v1/files/{plain_id}/restore")));
    assert!(client.files().list(&space, None, true, None).await.unwrap().is_empty());
    let root = client.files().list(&space, None, false, None).await.unwrap();
    assert!(root.iter().any(|f| f.id == plain_id));

    // an unknown file
    let err = client.files().get(&random_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// A call's future borrows the client, not the accessor it came from: futures made from
/// temporary accessors can be stored, collected and awaited together.
#[tokio::test]
async fn call_futures_outlive_the_accessor_they_came_from() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let names = ["one.txt", "two.txt", "three.txt"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(str_of(&emu.upload(&space, name, name.as_bytes()).await, "id").to_string());
    }

    let gets: Vec<_> = ids.iter().map(|id| client.files().get(id)).collect();
    let listing = client.files().list(&space, None, false, None);
    let files = futures_util::future::try_join_all(gets).await.unwrap();
    assert_eq!(files.iter().map(|f| f.original_name.as_str()).collect::<Vec<_>>(), names);
    assert_eq!(listing.await.unwrap().len(), names.len());
}

#[tokio::test]
async fn files_download_url_is_presigned_and_fetched_without_credential() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = emu.default_space().await;
    let file = emu.upload(&space, "hello.txt", b"hello, download").await;
    let id = str_of(&file, "id");

    let d = client.files().download_url(id).await.unwrap();
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::GET, format!("/api/v1/files/{id}/download")));
    assert!(d.expires_at.as_deref().is_some_and(|t| t.ends_with('Z')));
    // the presigned URL needs no credential
    let resp = emu.http.get(&d.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello, download");
}

// ---------------------------------------------------------------------------------------------
// links and shares
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn links_public_stable_signed_both_permissions_and_bad_days() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = emu.default_space().await;
    let file = emu.upload(&space, "shared.txt", b"shared bytes").await;
    let id = str_of(&file, "id");

    // permanent public link: explicit null, stable on re-mint
    let public = client.files().public_url(id).await.unwrap();
    assert_eq!(public.expires_at, None);
    assert_eq!(public.permission, "view");
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::POST, "/api/v1/shares".to_string()));
    let body = r.json();
    assert_eq!(body, json!({ "file_id": id, "expires_in_days": null }));
    assert!(body.as_object().unwrap().contains_key("expires_in_days"));
    let again = client.files().public_url(id).await.unwrap();
    assert_eq!(again.url, public.url);
    assert_eq!(again.id, public.id);
    // it serves without a credential
    let resp = emu.http.get(&public.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"shared bytes");

    // signed links, both permissions
    let view = client.files().signed_url(id, 7, Permission::View).await.unwrap();
    assert_eq!(view.permission, "view");
    assert!(view.expires_at.is_some());
    assert_ne!(view.url, public.url);
    assert_eq!(rec.last().json(), json!({ "file_id": id, "expires_in_days": 7, "permission": "view" }));
    let dl = client.files().signed_url(id, 365, Permission::Download).await.unwrap();
    assert_eq!(dl.permission, "download");
    assert!(dl.expires_at.is_some());
    assert_eq!(rec.last().json(), json!({ "file_id": id, "expires_in_days": 365, "permission": "download" }));
    let resp = emu.http.get(&dl.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cd = resp.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(cd.starts_with("attachment"), "content-disposition {cd}");

    // 0 and 366 days: the server judges the range (as for the official client), 422
    for days in [0u32, 366] {
        let err = client.files().signed_url(id, days, Permission::View).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Api, "{days} days");
        assert_eq!(err.http_status(), Some(422));
        assert_display(&err, "files.signed_url", &[emu.api_key()]);
    }

    // a file whose scan is not clean cannot be shared: 409
    let eicar = emu
        .upload(&space, "eicar.txt", br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
        .await;
    let err = client.files().public_url(str_of(&eicar, "id")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn shares_list_filter_include_inactive_and_revoke() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = emu.default_space().await;
    let f1 = emu.upload(&space, "one.txt", b"one").await;
    let f2 = emu.upload(&space, "two.txt", b"two").await;
    let (id1, id2) = (str_of(&f1, "id"), str_of(&f2, "id"));

    let permanent = client.files().public_url(id1).await.unwrap();
    let short = client.files().signed_url(id1, 1, Permission::View).await.unwrap();
    let to_revoke = client.files().signed_url(id1, 30, Permission::Download).await.unwrap();
    let other = client.files().signed_url(id2, 30, Permission::View).await.unwrap();

    // all active shares, and those of one file
    let all = client.shares().list(None, false).await.unwrap();
    assert_eq!(all.len(), 4);
    let r = rec.last();
    assert_eq!(r.path(), "/api/v1/shares");
    assert_eq!(r.query_pairs(), vec![("include_inactive".into(), "false".into())]);
    let of1 = client.shares().list(Some(id1), false).await.unwrap();
    let mut got = ids(&of1, |s| &s.id);
    got.sort();
    let mut want = vec![permanent.id.clone(), short.id.clone(), to_revoke.id.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(of1.iter().all(|s| s.file_id == id1 && !s.revoked));
    assert_eq!(
        rec.last().query_pairs(),
        vec![("file_id".into(), id1.to_string()), ("include_inactive".into(), "false".into())]
    );
    let listed = of1.iter().find(|s| s.id == to_revoke.id).unwrap();
    assert_eq!(listed.permission, "download");
    assert!(listed.expires_at.is_some());
    assert_eq!(of1.iter().find(|s| s.id == permanent.id).unwrap().expires_at, None);

    // revoke: 204, again 204; then only include_inactive lists it
    client.shares().revoke(&to_revoke.id).await.unwrap();
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::DELETE, format!("/api/v1/shares/{}", to_revoke.id)));
    client.shares().revoke(&to_revoke.id).await.unwrap();
    let err = client.shares().revoke(&random_id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let resp = emu.http.get(&to_revoke.url).send().await.unwrap();
    assert_eq!(resp.status(), 404, "a revoked link stops serving");

    // a day passes and a bit: the 1-day link expires
    emu.advance_clock(2 * 86_400).await;
    let active = client.shares().list(Some(id1), false).await.unwrap();
    assert_eq!(ids(&active, |s| &s.id), vec![permanent.id.clone()]);
    let everything = client.shares().list(Some(id1), true).await.unwrap();
    assert_eq!(everything.len(), 3);
    assert_eq!(rec.last().query_pairs()[1], ("include_inactive".into(), "true".into()));
    assert!(everything.iter().find(|s| s.id == to_revoke.id).unwrap().revoked);
    assert!(!everything.iter().find(|s| s.id == short.id).unwrap().revoked);
    let all = client.shares().list(None, false).await.unwrap();
    let mut got = ids(&all, |s| &s.id);
    got.sort();
    let mut want = vec![permanent.id.clone(), other.id.clone()];
    want.sort();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------------------------
// quota
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn quota_usage_reports_every_field() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = emu.default_space().await;

    let empty = client.quota().usage().await.unwrap();
    assert_eq!(rec.last().path(), "/api/v1/quota");
    assert_eq!((empty.bytes_used, empty.links_used), (0, 0));
    assert_eq!(empty.bytes_limit, 1i64 << 40);
    assert_eq!(empty.links_limit, 10_000);

    let native = emu.upload(&space, "native.txt", b"12345").await;
    emu.upload_raw(emu.api_key(), &RawUpload::new(&space, "p1.txt", b"abcdefgh").app("photos")).await;
    emu.upload_raw(emu.api_key(), &RawUpload::new(&space, "p2.txt", b"xy").app("photos")).await;
    client.files().public_url(str_of(&native, "id")).await.unwrap();

    let q = client.quota().usage().await.unwrap();
    assert_eq!(q.bytes_used, 15);
    assert_eq!(q.links_used, 1);
    assert_eq!(q.bytes_limit, 1i64 << 40);
    assert_eq!(q.links_limit, 10_000);
    let by_app = q.by_app.expect("by_app");
    let photos = by_app.iter().find(|a| a.app.as_deref() == Some("photos")).expect("photos usage");
    assert_eq!((photos.bytes_used, photos.files), (10, 2));
    let none = by_app.iter().find(|a| a.app.is_none()).expect("native usage");
    assert_eq!((none.bytes_used, none.files), (5, 1));

    // a tenant with its own limits
    let (key, _) = emu.new_key_with(json!({ "scopes": ["quota:read"], "bytes_limit": 1234, "links_limit": 5 })).await;
    let q = emu.client_with_key(&key).quota().usage().await.unwrap();
    assert_eq!((q.bytes_used, q.bytes_limit, q.links_used, q.links_limit), (0, 1234, 0, 5));
}

// ---------------------------------------------------------------------------------------------
// federation: service tokens and as_user
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn exchange_service_token_returns_a_delegated_token() {
    let emu = start().await;
    let (service_key, service_tenant) = emu.new_key(&["service:delegate", "service:jobtoken"], None).await;
    let (client, rec) = emu.recorded_client_with(emu.options_for(&service_key));
    let user = random_id();
    let jwt = user_jwt(&user);

    let token = client.exchange_service_token(&jwt, "crm", None, None).await.unwrap();
    assert!(token.token.starts_with("fcd_"), "token {}", token.token.len());
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.user_id.as_deref(), Some(user.as_str()));
    assert_eq!(token.app.as_deref(), Some("crm"));
    assert_eq!(token.expires_in, 3600);
    assert!(token.tenant_id.as_deref().is_some_and(|t| t != service_tenant), "the user's own tenant");
    let r = rec.last();
    assert_eq!((r.method.clone(), r.path()), (Method::POST, "/api/v1/auth/service-token".to_string()));
    assert_eq!(r.json(), json!({ "user_jwt": jwt, "app": "crm" }), "absent optionals are left out");
    assert_eq!(r.header("x-api-key"), Some(service_key.as_str()));
    let shown = format!("{token:?}");
    assert!(!shown.contains(&token.token), "Debug of DelegatedToken shows the token: {shown}");

    // job_id and ttl_seconds
    let job = client.exchange_service_token(&jwt, "crm", Some("job-42"), Some(7200)).await.unwrap();
    assert_eq!(job.expires_in, 7200);
    assert_eq!(job.tenant_id, token.tenant_id, "the same user, the same tenant");
    assert_eq!(rec.last().json(), json!({ "user_jwt": jwt, "app": "crm", "job_id": "job-42", "ttl_seconds": 7200 }));

    // a JWT signed with another secret: 401
    let forged = sign_jwt("not-the-secret", &json!({ "sub": user }));
    let err = client.exchange_service_token(&forged, "crm", None, None).await.unwrap_err();
    assert_server_error(&err, ErrorKind::Auth, 401, "exchange_service_token", &[&service_key, &forged]);

    // a key without service:jobtoken may not mint job tokens: 403
    let (weak, _) = emu.new_key(&["service:delegate"], None).await;
    let err = emu.client_with_key(&weak).exchange_service_token(&jwt, "crm", Some("job-1"), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert_eq!(detail_json(&err)["error"], "insufficient_scope");

    // empty inputs: no request
    let before = rec.count();
    assert_eq!(client.exchange_service_token("", "crm", None, None).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(client.exchange_service_token(&jwt, "", None, None).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(rec.count(), before);
}

#[tokio::test]
async fn as_user_acts_in_the_users_own_tenant_with_a_bearer_token() {
    let emu = start().await;
    let mut scopes = USER_SCOPES.to_vec();
    scopes.extend(["service:delegate", "service:jobtoken"]);
    let (service_key, service_tenant) = emu.new_key(&scopes, None).await;
    let (service, rec) = emu.recorded_client_with(emu.options_for(&service_key).user_agent("svc-test/1"));
    let user = random_id();

    let as_user = service.as_user(&user_jwt(&user), "crm", None, None).await.unwrap();
    let exchange = rec.last();
    assert_eq!(exchange.path(), "/api/v1/auth/service-token");

    // the user's own tenant, with its Default space
    let spaces = as_user.spaces().list().await.unwrap();
    assert_eq!(spaces.len(), 1);
    assert_eq!(spaces[0].name, "Default");
    let user_tenant = spaces[0].tenant_id.clone().expect("tenant_id");
    assert_ne!(user_tenant, service_tenant);
    let service_space = service.spaces().list().await.unwrap()[0].id.clone();
    assert_ne!(spaces[0].id, service_space);

    // the wire: Bearer fcd_…, no X-API-Key, same User-Agent (shared settings and transport)
    let user_req = rec.requests().into_iter().rev().nth(1).expect("the as_user request");
    assert_eq!(user_req.path(), "/api/v1/spaces");
    let auth = user_req.header("authorization").expect("Authorization header");
    assert!(auth.starts_with("Bearer fcd_"), "authorization {}", &auth[..auth.len().min(11)]);
    assert_eq!(user_req.header("x-api-key"), None);
    assert!(user_req.header("user-agent").unwrap().ends_with(" svc-test/1"));
    let service_req = rec.last();
    assert_eq!(service_req.header("x-api-key"), Some(service_key.as_str()));
    assert_eq!(service_req.header("authorization"), None);

    // it writes in the user's tenant, invisible to the service's
    let folder = as_user.folders().create("Mine", &spaces[0].id, None).await.unwrap();
    assert_eq!(folder.tenant_id.as_deref(), Some(user_tenant.as_str()));
    let listed = as_user.folders().list(&spaces[0].id, None, false).await.unwrap();
    assert_eq!(ids(&listed, |f| &f.id), vec![folder.id.clone()]);
    let err = service.folders().list(&spaces[0].id, None, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "another tenant's space is a 404");
    let err = service.folders().rename(&folder.id, "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = as_user.folders().list(&service_space, None, false).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // a Debug of the user client shows no token
    let token = auth.trim_start_matches("Bearer ").to_string();
    assert!(!format!("{as_user:?}").contains(&token));

    // once the token expires: 401, and the error never shows the token
    emu.advance_clock(3601).await;
    let err = as_user.spaces().list().await.unwrap_err();
    assert_server_error(&err, ErrorKind::Auth, 401, "spaces.list", &[&token, &service_key]);
}

// ---------------------------------------------------------------------------------------------
// wire shape: headers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wire_headers_credentials_accept_and_user_agent() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client_with(emu.options().user_agent("fluidcloud-python/0.1.0"));
    client.spaces().list().await.unwrap();
    let r = rec.last();
    assert_eq!(r.url, format!("{}/api/v1/spaces", emu.url()));
    assert_eq!(r.header("x-api-key"), Some(emu.api_key()));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("accept"), Some("application/json"));
    let ua = r.header("user-agent").expect("User-Agent");
    assert!(ua.starts_with("fluidcloud-rust/"), "user agent {ua}");
    assert!(ua.ends_with(" fluidcloud-python/0.1.0"), "user agent {ua}");

    // without a suffix: just the SDK's own
    let (plain, rec2) = emu.recorded_client();
    plain.quota().usage().await.unwrap();
    let ua = rec2.last().header("user-agent").unwrap().to_string();
    assert!(ua.starts_with("fluidcloud-rust/") && !ua.contains(' '), "user agent {ua}");

    // a credential that is not `fck_` goes as a bearer token
    let service_key = emu.new_key(&["service:delegate"], None).await.0;
    let token = emu.client_with_key(&service_key).exchange_service_token(&user_jwt(&random_id()), "app1", None, None).await.unwrap();
    let (bearer, rec3) = emu.recorded_client_with(emu.options_for(&token.token));
    let spaces = bearer.spaces().list().await.unwrap();
    assert_eq!(spaces[0].tenant_id, token.tenant_id);
    let r = rec3.last();
    assert_eq!(r.header("authorization"), Some(format!("Bearer {}", token.token).as_str()));
    assert_eq!(r.header("x-api-key"), None);

    // trailing slashes on base_url and a custom api_version shape the URL
    let (slashed, rec4) = emu.recorded_client_with(emu.options().base_url(format!("{}/", emu.url())));
    slashed.spaces().list().await.unwrap();
    assert_eq!(rec4.last().url, format!("{}/api/v1/spaces", emu.url()));
    let (v2, rec5) = emu.recorded_client_with(emu.options().api_version("v2"));
    let err = v2.spaces().list().await.unwrap_err();
    assert_eq!(rec5.last().path(), "/api/v2/spaces");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

// ---------------------------------------------------------------------------------------------
// errors: each kind from the server
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn error_auth_401() {
    let emu = start().await;
    let bad_key = "fck_test_not_a_real_key_0123456789";
    let client = emu.client_with_key(bad_key);
    let err = client.files().get(&random_id()).await.unwrap_err();
    assert_server_error(&err, ErrorKind::Auth, 401, "files.get", &[bad_key]);
    assert!(matches!(err.detail(), Some(Detail::Json(Value::String(_)))));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn error_quota_exceeded_402() {
    let emu = start().await;
    let (key, _) = emu.new_key_with(json!({ "scopes": USER_SCOPES, "links_limit": 0 })).await;
    let space = emu.default_space_of(&key).await;
    let file = emu.upload_raw(&key, &RawUpload::new(&space, "q.txt", b"quota")).await;
    let client = emu.client_with_key(&key);
    let err = client.files().public_url(str_of(&file, "id")).await.unwrap_err();
    assert_server_error(&err, ErrorKind::QuotaExceeded, 402, "files.public_url", &[&key]);
    assert_eq!(detail_json(&err), json!("quota_exceeded"));
    let err = client.files().signed_url(str_of(&file, "id"), 3, Permission::View).await.unwrap_err();
    assert_server_error(&err, ErrorKind::QuotaExceeded, 402, "files.signed_url", &[&key]);
}

#[tokio::test]
async fn error_permission_403_carries_the_scope_detail() {
    let emu = start().await;
    let space = emu.default_space().await;
    let file = emu.upload(&space, "p.txt", b"perm").await;
    let (key, _) = emu.new_key(&["files:read", "spaces:read"], Some(str_of(&file, "tenant_id"))).await;
    let client = emu.client_with_key(&key);
    // reading works, writing needs files:write
    assert_eq!(client.files().get(str_of(&file, "id")).await.unwrap().original_name, "p.txt");
    let err = client.files().rename(str_of(&file, "id"), "nope.txt").await.unwrap_err();
    assert_server_error(&err, ErrorKind::Permission, 403, "files.rename", &[&key]);
    assert_eq!(detail_json(&err), json!({ "error": "insufficient_scope", "required": ["files:write"] }));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn error_not_found_404() {
    let emu = start().await;
    let client = emu.client();
    let err = client.files().get(&random_id()).await.unwrap_err();
    assert_server_error(&err, ErrorKind::NotFound, 404, "files.get", &[emu.api_key()]);
    let err = client.folders().delete(&random_id()).await.unwrap_err();
    assert_server_error(&err, ErrorKind::NotFound, 404, "folders.delete", &[emu.api_key()]);
}

#[tokio::test]
async fn error_conflict_409() {
    let emu = start().await;
    let client = emu.client();
    let space = client.spaces().list().await.unwrap()[0].id.clone();
    client.folders().create("Twin", &space, None).await.unwrap();
    let err = client.folders().create("Twin", &space, None).await.unwrap_err();
    assert_server_error(&err, ErrorKind::Conflict, 409, "folders.create", &[emu.api_key()]);
    assert!(matches!(err.detail(), Some(Detail::Json(Value::String(s))) if s.contains("Twin")));
}

#[tokio::test]
async fn error_api_422_with_a_list_detail() {
    let emu = start().await;
    let client = emu.client();
    let space = client.spaces().list().await.unwrap()[0].id.clone();
    let err = client.folders().create("a/b", &space, None).await.unwrap_err();
    assert_server_error(&err, ErrorKind::Api, 422, "folders.create", &[emu.api_key()]);
    let detail = detail_json(&err);
    let list = detail.as_array().unwrap_or_else(|| panic!("422 detail is not a list: {detail}"));
    assert!(!list.is_empty());
    assert!(list[0].get("loc").is_some() && list[0].get("msg").is_some() && list[0].get("type").is_some(), "{detail}");
    // a body ID that is not a UUID is a 422 too
    let err = client.files().public_url("not-a-uuid").await.unwrap_err();
    assert_server_error(&err, ErrorKind::Api, 422, "files.public_url", &[emu.api_key()]);
    assert!(detail_json(&err).is_array());
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------------------------------------
// path IDs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn path_ids_travel_as_one_segment() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();

    let err = client.files().get("../spaces").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.http_status(), Some(404));
    let r = rec.last();
    assert!(r.url.ends_with("/files/..%2Fspaces"), "url {}", r.url);
    assert_eq!(r.path(), "/api/v1/files/..%2Fspaces");

    let err = client.folders().rename("a/b?c#d", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let r = rec.last();
    assert_eq!(r.path(), "/api/v1/folders/a%2Fb%3Fc%23d");
    assert_eq!(r.query(), None);

    let err = client.shares().revoke("../../quota").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(rec.last().path(), "/api/v1/shares/..%2F..%2Fquota");

    // `.` and `..` alone would be collapsed by URL normalisation into another endpoint: refused
    // before any request
    let before = rec.count();
    for id in [".", ".."] {
        let err = client.files().get(id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}");
        let err = client.folders().delete(id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}");
    }
    assert_eq!(rec.count(), before);
}

#[tokio::test]
async fn empty_ids_are_invalid_input_without_a_request() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let key = emu.api_key().to_string();
    let checks: Vec<(&str, Error)> = vec![
        ("files.get", client.files().get("").await.unwrap_err()),
        ("files.rename", client.files().rename("", "n").await.unwrap_err()),
        ("files.delete", client.files().delete("").await.unwrap_err()),
        ("files.restore", client.files().restore("").await.unwrap_err()),
        ("files.download_url", client.files().download_url("").await.unwrap_err()),
        ("files.public_url", client.files().public_url("").await.unwrap_err()),
        ("files.signed_url", client.files().signed_url("", 1, Permission::View).await.unwrap_err()),
        ("files.list", client.files().list("", None, false, None).await.unwrap_err()),
        ("files.resolve", client.files().resolve("", None).await.unwrap_err()),
        ("folders.list", client.folders().list("", None, false).await.unwrap_err()),
        ("folders.create", client.folders().create("n", "", None).await.unwrap_err()),
        ("folders.rename", client.folders().rename("", "n").await.unwrap_err()),
        ("folders.delete", client.folders().delete("").await.unwrap_err()),
        ("folders.restore", client.folders().restore("").await.unwrap_err()),
        ("shares.revoke", client.shares().revoke("").await.unwrap_err()),
    ];
    for (call, err) in &checks {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{call}: {err}");
        assert_eq!(err.http_status(), None);
        assert_display(err, call, &[&key]);
    }
    let err = client.files().move_to("", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = client.folders().move_to("", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(rec.count(), 0, "no request was sent: {:?}", rec.requests().iter().map(|r| r.url.clone()).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// retries under fault rules
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn retry_503_with_retry_after_then_succeeds() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "status", "status": 503, "retry_after": 1 }])).await;
    let started = Instant::now();
    let spaces = client.spaces().list().await.unwrap();
    assert_eq!(spaces[0].name, "Default");
    assert_eq!(rec.count(), 2, "one 503, one retry");
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After 1 s was honoured: {:?}", started.elapsed());
    assert!(emu.faults_left().await.is_empty());
}

#[tokio::test]
async fn retry_429_on_get_and_on_post() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 1, "action": "status", "status": 429, "retry_after": 0 }])).await;
    client.quota().usage().await.unwrap();
    assert_eq!(rec.count(), 2);

    // a 429 means the server did not act: even a POST is sent again
    rec.clear();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "status", "status": 429, "retry_after": 0 }])).await;
    let created = client.spaces().create("After429").await.unwrap();
    assert_eq!(rec.count(), 2);
    let names: Vec<String> = client.spaces().list().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names.iter().filter(|n| *n == "After429").count(), 1);
    assert_eq!(created.name, "After429");
}

#[tokio::test]
async fn max_retries_zero_returns_the_503_with_retry_after() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client_with(emu.options().max_retries(0));
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "status", "status": 503, "retry_after": 1 }])).await;
    let err = client.spaces().list().await.unwrap_err();
    assert_server_error(&err, ErrorKind::Api, 503, "spaces.list", &[emu.api_key()]);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(err.is_retryable());
    assert_eq!(rec.count(), 1);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let emu = start().await;
    // default: 2 retries, so 3 failures are one too many
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 3, "action": "status", "status": 503, "retry_after": 0 }])).await;
    let err = client.quota().usage().await.unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(rec.count(), 3);
    assert!(emu.faults_left().await.is_empty());

    // 3 retries get through 3 failures
    let (client, rec) = emu.recorded_client_with(emu.options().max_retries(3));
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 3, "action": "status", "status": 502, "retry_after": 0 }])).await;
    client.quota().usage().await.unwrap();
    assert_eq!(rec.count(), 4);
}

#[tokio::test]
async fn post_500_is_not_retried() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "status", "status": 500 }])).await;
    let err = client.spaces().create("Once").await.unwrap_err();
    assert_server_error(&err, ErrorKind::Api, 500, "spaces.create", &[emu.api_key()]);
    assert_eq!(rec.count(), 1, "POST /spaces is not idempotent");
    let names: Vec<String> = client.spaces().list().await.unwrap().into_iter().map(|s| s.name).collect();
    assert!(!names.contains(&"Once".to_string()));

    // nor a 503 on another POST
    let space = client.spaces().list().await.unwrap()[0].id.clone();
    let folder = client.folders().create("F", &space, None).await.unwrap();
    client.folders().delete(&folder.id).await.unwrap();
    rec.clear();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/restore", "times": 1, "action": "status", "status": 503, "retry_after": 0 }])).await;
    let err = client.folders().restore(&folder.id).await.unwrap_err();
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(rec.count(), 1);
}

#[tokio::test]
async fn post_dropped_response_is_not_retried() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "drop_response" }])).await;
    let err = client.spaces().create("Dropped").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.http_status(), None);
    assert_display(&err, "spaces.create", &[emu.api_key()]);
    assert_eq!(rec.count(), 1, "the server may have acted: a POST is not sent again");
    // it did act, exactly once
    let names: Vec<String> = client.spaces().list().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names.iter().filter(|n| *n == "Dropped").count(), 1);
}

#[tokio::test]
async fn get_dropped_response_is_retried() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "drop_response" }])).await;
    let spaces = client.spaces().list().await.unwrap();
    assert_eq!(spaces.len(), 1);
    assert_eq!(rec.count(), 2);
    assert!(emu.faults_left().await.is_empty());
}

#[tokio::test]
async fn get_reset_is_retried() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "reset", "after_bytes": 0 }])).await;
    let spaces = client.spaces().list().await.unwrap();
    assert_eq!(spaces.len(), 1);
    assert!(emu.faults_left().await.is_empty(), "the rule was used");
    assert_eq!(rec.count(), 2, "one reset, one retry");
    assert!(rec.requests().iter().all(|r| r.method == Method::GET && r.path() == "/api/v1/spaces"));
}

/// `Duration::MAX` (what the bindings pass for "no limit") is too long to add to a clock
/// reading: it must mean waiting, not a panic or an instant timeout.
#[tokio::test]
async fn timeouts_too_long_for_the_clock_mean_no_limit() {
    let emu = start().await;
    let client = Client::new(emu.options().timeout(Duration::MAX).connect_timeout(Duration::MAX)).unwrap();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 1, "action": "delay", "delay_ms": 300 }])).await;
    client.quota().usage().await.expect("the delayed answer is waited for");
    let space = client.spaces().list().await.unwrap()[0].id.clone();
    let file = client.files().upload(UploadSource::bytes(vec![5u8; 300_000]), UploadOptions::new(&space)).await.unwrap();
    assert_eq!(file.size, Some(300_000));
}

/// Connecting is a wait for progress too: the timeout bounds it even under a longer connect
/// timeout (which is why the Python binding needs no rule of its own for the two). The
/// listener never accepts and its queue is full, so a connect hangs.
#[tokio::test]
async fn connecting_waits_no_longer_than_the_timeout() {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: a listening socket of ours; a backlog of 0 leaves room for one queued connection.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let _queued: Vec<_> = (0..2).filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()).collect();
    let options = ClientOptions::new()
        .api_key("fck_test_unused")
        .base_url(format!("http://{addr}"))
        .proxy(fluidcloud::transport::Proxy::None)
        .timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_secs(60))
        .max_retries(0);
    let started = Instant::now();
    let err = Client::new(options).unwrap().spaces().list().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}: {err}", started.elapsed());
    assert!(matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Connect), "{err}");
}

#[tokio::test]
async fn get_timeout_is_retried_and_reported_as_timeout() {
    let emu = start().await;
    let recorder = Recorder::with_timeouts(Duration::from_millis(500), Duration::from_secs(5));
    let (client, rec) = emu.recorded_client_via(emu.options(), recorder);
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 1, "action": "delay", "delay_ms": 3000 }])).await;
    client.quota().usage().await.expect("the retry succeeds");
    assert_eq!(rec.count(), 2, "one timeout, one retry");

    let recorder = Recorder::with_timeouts(Duration::from_millis(500), Duration::from_secs(5));
    let (client, rec) = emu.recorded_client_via(emu.options().max_retries(0), recorder);
    emu.add_faults(json!([{ "target": "api", "path_contains": "/quota", "times": 1, "action": "delay", "delay_ms": 3000 }])).await;
    let err = client.quota().usage().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.http_status(), None);
    assert!(err.is_retryable());
    assert_display(&err, "quota.usage", &[emu.api_key()]);
    assert_eq!(rec.count(), 1);
}

#[tokio::test]
async fn post_timeout_is_not_retried() {
    let emu = start().await;
    let recorder = Recorder::with_timeouts(Duration::from_millis(500), Duration::from_secs(5));
    let (client, rec) = emu.recorded_client_via(emu.options(), recorder);
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "delay", "delay_ms": 1500 }])).await;
    let err = client.spaces().create("Slow").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(rec.count(), 1, "the server may have acted: a POST is not sent again");
}

#[tokio::test]
async fn patch_reset_is_retried() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    let space = client.spaces().list().await.unwrap()[0].id.clone();
    let folder = client.folders().create("Before", &space, None).await.unwrap();
    rec.clear();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/folders/", "times": 1, "action": "reset", "after_bytes": 0 }])).await;
    let renamed = client.folders().rename(&folder.id, "After").await.unwrap();
    assert_eq!(renamed.name, "After");
    assert_eq!(rec.count(), 2, "PATCH is idempotent: sent again after the reset");
    assert!(rec.requests().iter().all(|r| r.method == Method::PATCH && r.json() == json!({ "name": "After" })));
}

// ---------------------------------------------------------------------------------------------
// security
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn base_urls_with_credentials_a_query_or_a_fragment_are_refused() {
    let key = "fck_test_secret_key_for_security";
    for (base_url, says) in [
        ("https://user:hunter2@api.example.com", "user name or password"),
        ("https://user@api.example.com", "user name or password"),
        ("https://api.example.com/?tenant=1", "query or fragment"),
        ("https://api.example.com/#top", "query or fragment"),
        ("https://user:hunter2@[bad", "is not a URL"),
    ] {
        let err = Client::new(ClientOptions::new().api_key(key).base_url(base_url)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{base_url}");
        assert!(err.to_string().contains(says), "{base_url}: {err}");
        assert_display(&err, "client", &[key, "hunter2"]);
    }
}

#[tokio::test]
async fn plain_http_only_to_loopback_unless_allowed() {
    let key = "fck_test_secret_key_for_security";
    let err = Client::new(ClientOptions::new().api_key(key).base_url("http://example.com")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("https"), "{err}");
    assert!(!err.to_string().contains(key) && !format!("{err:?}").contains(key));

    Client::new(ClientOptions::new().api_key(key).base_url("http://example.com").allow_insecure_http(true))
        .expect("allowed when asked");
    for url in ["http://localhost:8787", "http://127.0.0.1:8787", "http://[::1]:8787", "https://example.com", "https://api-green-cloud.fluidvip.com"] {
        let c = Client::new(ClientOptions::new().api_key(key).base_url(url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(c.base_url(), url);
    }
    let default = Client::new(ClientOptions::new().api_key(key)).unwrap();
    assert_eq!(default.base_url(), "https://api-cloud.fluidvip.com");

    // other schemes are refused
    let err = Client::new(ClientOptions::new().api_key(key).base_url("ftp://example.com")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn debug_output_never_shows_credentials() {
    let emu = start().await;
    let key = emu.api_key().to_string();
    let options = emu.options().user_agent("dbg/1");
    let shown = format!("{options:?}");
    assert!(!shown.contains(&key), "ClientOptions: {shown}");
    let client = Client::new(options).unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(&key), "Client: {shown}");
    let shown = format!("{:?}", client.options());
    assert!(!shown.contains(&key), "Client::options: {shown}");
    assert!(!format!("{:#?}", client).contains(&key));

    let service_key = emu.new_key(&["service:delegate"], None).await.0;
    let service = emu.client_with_key(&service_key);
    assert!(!format!("{service:?}").contains(&service_key));
    let token = service.exchange_service_token(&user_jwt(&random_id()), "dbg", None, None).await.unwrap();
    let shown = format!("{token:?}");
    assert!(!shown.contains(&token.token), "DelegatedToken: {shown}");
    assert!(!format!("{token:#?}").contains(&token.token));
    let as_user = service.as_user(&user_jwt(&random_id()), "dbg", None, None).await.unwrap();
    assert!(!format!("{as_user:?}").contains("fcd_"), "as_user client: {as_user:?}");

    // errors name the call and not the key
    let err = client.files().get(&random_id()).await.unwrap_err();
    assert_display(&err, "files.get", &[&key]);
}

#[tokio::test]
async fn spaces_find_by_id_name_or_the_only_one() {
    let emu = start().await;
    let client = emu.client();
    let default = client.spaces().find(None).await.unwrap();
    assert_eq!(default.name, "Default");
    let other = client.spaces().create("Brand").await.unwrap();
    let err = client.spaces().find(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("Default") && err.message().contains("Brand"), "{err}");
    assert_eq!(client.spaces().find(Some("Brand")).await.unwrap().id, other.id);
    assert_eq!(client.spaces().find(Some(&other.id)).await.unwrap().id, other.id);
    client.spaces().create("Brand").await.unwrap();
    assert_eq!(client.spaces().find(Some("Brand")).await.unwrap_err().kind(), ErrorKind::InvalidInput, "ambiguous");
    assert_eq!(client.spaces().find(Some("nope")).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn folders_ensure_creates_or_reuses() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let made = client.folders().ensure("docs", &space, None).await.unwrap();
    let again = client.folders().ensure("docs", &space, None).await.unwrap();
    assert_eq!(made.id, again.id);
    let inner = client.folders().ensure("docs", &space, Some(&made.id)).await.unwrap();
    assert_ne!(inner.id, made.id);
    assert_eq!(client.folders().list(&space, None, false).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// review fixes: Retry-After beyond the SDK's patience, broken response bodies, option checks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_retry_after_longer_than_the_sdk_waits_is_returned_at_once() {
    let emu = start().await;
    let (client, rec) = emu.recorded_client();
    emu.add_faults(json!([{ "target": "api", "path_contains": "/spaces", "times": 1, "action": "status", "status": 503, "retry_after": 120 }])).await;
    let started = Instant::now();
    let err = client.spaces().list().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(300), "no backoff first: {:?}", started.elapsed());
    assert_server_error(&err, ErrorKind::Api, 503, "spaces.list", &[emu.api_key()]);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(rec.count(), 1, "not sent again before the server said");
}

/// A `Transport` whose first 2xx answer breaks off after one piece of its body.
#[derive(Clone)]
struct BreaksFirstBody {
    inner: Recorder,
    broken: Arc<AtomicBool>,
}

impl fluidcloud::transport::Transport for BreaksFirstBody {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let sent = self.inner.send(request);
        let broken = self.broken.clone();
        Box::pin(async move {
            let mut resp = sent.await?;
            if (200..300).contains(&resp.status) && !broken.swap(true, Ordering::SeqCst) {
                let pieces = vec![Ok(Bytes::from_static(b"[")), Err(TransportError::new(TransportErrorKind::Broken, "connection reset"))];
                resp.body = futures_util::stream::iter(pieces).boxed();
            }
            Ok(resp)
        })
    }
}

#[tokio::test]
async fn a_get_whose_body_breaks_off_is_sent_again() {
    let emu = start().await;
    let rec = Recorder::new();
    let transport = BreaksFirstBody { inner: rec.clone(), broken: Arc::new(AtomicBool::new(false)) };
    let client = Client::new(emu.options().transport(Arc::new(transport.clone()))).unwrap();
    let spaces = client.spaces().list().await.expect("the second exchange succeeds");
    assert_eq!(spaces[0].name, "Default");
    assert_eq!(rec.count(), 2, "the whole exchange was retried");

    // it counts against max_retries
    let rec = Recorder::new();
    let transport = BreaksFirstBody { inner: rec.clone(), broken: Arc::new(AtomicBool::new(false)) };
    let client = Client::new(emu.options().max_retries(0).transport(Arc::new(transport))).unwrap();
    let err = client.spaces().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(rec.count(), 1);

    // a POST's answer broke after the server acted: not sent again
    let rec = Recorder::new();
    let transport = BreaksFirstBody { inner: rec.clone(), broken: Arc::new(AtomicBool::new(false)) };
    let client = Client::new(emu.options().transport(Arc::new(transport))).unwrap();
    let err = client.spaces().create("BodyBroke").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(rec.count(), 1);
}

#[tokio::test]
async fn an_api_key_with_surrounding_whitespace_is_trimmed() {
    let emu = start().await;
    for padded in [format!("{}\n", emu.api_key()), format!("  {}\r\n", emu.api_key()), format!("\t{} ", emu.api_key())] {
        let (client, rec) = emu.recorded_client_with(emu.options_for(&padded));
        client.spaces().list().await.unwrap_or_else(|e| panic!("{padded:?}: {e}"));
        assert_eq!(rec.last().header("x-api-key"), Some(emu.api_key()));
    }
    // a JWT too: sent as `Bearer <jwt>`, not `Bearer  <jwt>`
    let jwt = user_jwt(&random_id());
    let (client, rec) = emu.recorded_client_with(emu.options_for(&format!(" {jwt}\n")));
    client.spaces().list().await.expect("the user's token works");
    assert_eq!(rec.last().header("authorization"), Some(format!("Bearer {jwt}").as_str()));
}

#[test]
fn an_api_key_that_cannot_be_sent_is_refused_at_construction() {
    for key in ["fck_test_with\nnewline_inside", "fck_test_bell\u{7}", "fck_test_del\u{7f}"] {
        let err = Client::new(ClientOptions::new().api_key(key).base_url("https://api.example.com")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{key:?}");
        assert!(err.to_string().contains("cannot be sent in a header"), "{err}");
        assert_display(&err, "client", &["fck_test", "fck_t"]);
    }
}

#[test]
fn zero_timeouts_are_refused() {
    let base = || ClientOptions::new().api_key("fck_test_x").base_url("https://api.example.com");
    for (options, name) in [(base().timeout(Duration::ZERO), "timeout"), (base().connect_timeout(Duration::ZERO), "connect_timeout")] {
        let err = Client::new(options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().starts_with(name), "{err}");
    }
    Client::new(base().timeout(Duration::from_nanos(1)).connect_timeout(Duration::MAX)).expect("any non-zero limit is fine");
}

#[test]
fn api_versions_that_are_not_one_plain_segment_are_refused() {
    let base = || ClientOptions::new().api_key("fck_test_x").base_url("https://api.example.com");
    for bad in ["", ".", "..", "v1?x=1", "v1#frag", "v1/x", "v 1", "v1%2F", "v1;x", "vé"] {
        let err = Client::new(base().api_version(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        assert!(err.message().contains("api_version"), "{err}");
    }
    for good in ["v1", "v2.1", "2024-01-01", "v1_beta", "..v"] {
        Client::new(base().api_version(good)).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
}

#[test]
fn debug_of_options_hides_the_proxy_password() {
    let options = ClientOptions::new()
        .api_key("fck_test_secret")
        .proxy(fluidcloud::transport::Proxy::Url("http://alice:hunter2@proxy.example:3128".into()));
    let shown = format!("{options:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("alice"), "{shown}");
    assert!(!shown.contains("fck_test_secret"), "{shown}");
    assert!(shown.contains("proxy.example:3128"), "{shown}");
}

#[tokio::test]
async fn debug_of_links_and_download_urls_hides_their_secrets() {
    let emu = start().await;
    let client = emu.client();
    let space = emu.default_space().await;
    let file = client.files().upload(UploadSource::bytes(b"secret link".to_vec()), UploadOptions::new(&space)).await.unwrap();
    let download = client.files().download_url(&file.id).await.unwrap();
    let query = download.url.split_once('?').map(|(_, q)| q.to_string()).expect("a presigned URL has a query");
    let shown = format!("{download:?}");
    assert!(!shown.contains(&query) && !shown.contains("signature="), "{shown}");
    for link in [client.files().public_url(&file.id).await.unwrap(), client.files().signed_url(&file.id, 1, Permission::View).await.unwrap()] {
        let token = link.url.rsplit('/').next().unwrap().to_string();
        let shown = format!("{link:?}");
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains(&link.id), "{shown}");
    }
}

/// Answers of the API with their body swapped for a proxy's page, headers kept.
#[derive(Clone)]
struct GarblesBodies(Recorder);

impl fluidcloud::transport::Transport for GarblesBodies {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let sent = self.0.send(request);
        Box::pin(async move {
            let mut resp = sent.await?;
            resp.body = futures_util::stream::once(async { Ok(Bytes::from_static(b"<html>a proxy's page</html>")) }).boxed();
            Ok(resp)
        })
    }
}

#[tokio::test]
async fn an_answer_that_does_not_parse_keeps_its_request_id() {
    let emu = start().await;
    let client = Client::new(emu.options().transport(Arc::new(GarblesBodies(Recorder::new())))).unwrap();
    let err = client.spaces().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert!(err.to_string().contains("unexpected response body"), "{err}");
    assert!(err.request_id().is_some_and(|id| id.starts_with("req_")), "{:?}", err.request_id());
}
