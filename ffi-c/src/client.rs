//! `fc_client_options`, `fc_client` and every call of PROTOCOL §5 but the transfers.

use std::ffi::c_char;
use std::time::Duration;

use fluidcloud::blocking::Client;
use fluidcloud::transport::Proxy;
use fluidcloud::{ClientOptions, Permission};

use crate::args::{opt_str, req_mut, req_out, req_ref, req_str};
use crate::error::{fc_error, fc_status, guard};
use crate::records::{
    boxed, fc_download_url, fc_file, fc_file_list, fc_folder, fc_folder_list, fc_link, fc_quota, fc_share_list,
    fc_space, fc_space_list, fc_token,
};

/// How to build an `fc_client`: an opaque builder made by `fc_client_options_new`, changed
/// by the `fc_client_options_set_*` calls, released by `fc_client_options_free`. A client
/// copies what it needs, so the options may be freed (or reused) right after
/// `fc_client_new`. Not thread-safe: do not change one from two threads at once.
pub struct fc_client_options {
    inner: ClientOptions,
}

/// The FluidCloud client. Thread-safe: one client may be used from many threads at once
/// (calls share its connections); each call blocks its calling thread until it is done.
/// Short calls run on the calling thread (it needs a stack of at least 512 KiB), transfers
/// on threads the library owns. Also safe in the child after `fork()`, where it opens fresh
/// connections. Made by `fc_client_new` (or `fc_client_as_user`), released by
/// `fc_client_free` once no call is using it.
pub struct fc_client {
    pub(crate) inner: Client,
}

/// How a signed link serves its file: `FC_PERMISSION_VIEW` (inline) or
/// `FC_PERMISSION_DOWNLOAD` (as an attachment).
pub type fc_permission = u32;
/// Served inline.
pub const FC_PERMISSION_VIEW: fc_permission = 0;
/// Served as an attachment.
pub const FC_PERMISSION_DOWNLOAD: fc_permission = 1;

/// A timeout in milliseconds where 0 is no limit, as in libcurl.
fn limit_ms(v: u64) -> Duration {
    if v == 0 { Duration::MAX } else { Duration::from_millis(v) }
}

/// Creates options with the defaults: API key and base URL from `FLUIDCLOUD_API_KEY` /
/// `FLUIDCLOUD_BASE_URL` (base URL default `https://api-cloud.fluidvip.com`), API version
/// `v1`, timeout 300 s without progress, connect timeout 10 s, 2 retries, 8 parts in flight,
/// proxy from the environment, plain http only to loopback, and a 30 s wait for a pending
/// scan before `public` mints its link. On success `*out` owns a new builder.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_new(out: *mut *mut fc_client_options) -> fc_status {
    const CALL: &str = "fc_client_options_new";
    guard(CALL, std::ptr::null_mut(), || {
        let out = unsafe { req_out(CALL, out) }?;
        *out = boxed(fc_client_options { inner: ClientOptions::new() });
        Ok(())
    })
}

/// Releases options. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_free(options: *mut fc_client_options) {
    crate::error::guard_value((), || {
        if !options.is_null() {
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Applies `set` to the options, with `value` read as an optional string.
unsafe fn set_str(
    call: &'static str,
    options: *mut fc_client_options,
    value: *const c_char,
    set: impl FnOnce(&mut ClientOptions, Option<&str>),
) -> fc_status {
    guard(call, std::ptr::null_mut(), || {
        let options = unsafe { req_mut(call, options, "options") }?;
        let value = unsafe { opt_str(call, value, "value") }?;
        set(&mut options.inner, value);
        Ok(())
    })
}

unsafe fn set_value(call: &'static str, options: *mut fc_client_options, set: impl FnOnce(&mut ClientOptions)) -> fc_status {
    guard(call, std::ptr::null_mut(), || {
        let options = unsafe { req_mut(call, options, "options") }?;
        set(&mut options.inner);
        Ok(())
    })
}

/// The API key (`fck_...`, sent as `X-API-Key`) or token (sent as a bearer token). The
/// string is copied. NULL goes back to `FLUIDCLOUD_API_KEY`.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_api_key(options: *mut fc_client_options, api_key: *const c_char) -> fc_status {
    unsafe { set_str("fc_client_options_set_api_key", options, api_key, |o, v| o.api_key = v.map(str::to_string)) }
}

/// The API origin, e.g. `http://127.0.0.1:8787`. Copied. NULL goes back to
/// `FLUIDCLOUD_BASE_URL`, else the production origin.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_base_url(options: *mut fc_client_options, base_url: *const c_char) -> fc_status {
    unsafe { set_str("fc_client_options_set_base_url", options, base_url, |o, v| o.base_url = v.map(str::to_string)) }
}

/// The API version path segment. Copied. NULL goes back to `v1`.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_api_version(options: *mut fc_client_options, api_version: *const c_char) -> fc_status {
    unsafe {
        set_str("fc_client_options_set_api_version", options, api_version, |o, v| {
            o.api_version = v.unwrap_or("v1").to_string()
        })
    }
}

/// A suffix for the User-Agent, e.g. `myapp/1.2`. Copied. NULL removes it.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_user_agent(options: *mut fc_client_options, user_agent: *const c_char) -> fc_status {
    unsafe { set_str("fc_client_options_set_user_agent", options, user_agent, |o, v| o.user_agent = v.map(str::to_string)) }
}

/// The proxy: NULL uses `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` from the
/// environment (the default), `""` uses none, anything else is the proxy URL. Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_proxy(options: *mut fc_client_options, proxy: *const c_char) -> fc_status {
    unsafe {
        set_str("fc_client_options_set_proxy", options, proxy, |o, v| {
            o.proxy = match v {
                None => Proxy::System,
                Some("") => Proxy::None,
                Some(url) => Proxy::Url(url.to_string()),
            }
        })
    }
}

/// The longest wait for the server to make progress (take the next piece of a body, start
/// its answer, send the next piece of it), in milliseconds; a slow transfer that keeps moving
/// is not cut off. 0: no limit.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_timeout_ms(options: *mut fc_client_options, timeout_ms: u64) -> fc_status {
    unsafe { set_value("fc_client_options_set_timeout_ms", options, |o| o.timeout = limit_ms(timeout_ms)) }
}

/// The timeout to open a connection, in milliseconds. 0: no limit.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_connect_timeout_ms(options: *mut fc_client_options, timeout_ms: u64) -> fc_status {
    unsafe { set_value("fc_client_options_set_connect_timeout_ms", options, |o| o.connect_timeout = limit_ms(timeout_ms)) }
}

/// How many times a failed request that may succeed again is retried (0: never).
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_max_retries(options: *mut fc_client_options, max_retries: u32) -> fc_status {
    unsafe { set_value("fc_client_options_set_max_retries", options, |o| o.max_retries = max_retries) }
}

/// Parts in flight at once during a multipart upload (at least 1; 0 makes `fc_client_new`
/// fail with `FC_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_concurrency(options: *mut fc_client_options, concurrency: u32) -> fc_status {
    unsafe { set_value("fc_client_options_set_concurrency", options, |o| o.concurrency = concurrency as usize) }
}

/// Allow plain `http://` to a host that is not loopback (the key would travel in clear).
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_allow_insecure_http(options: *mut fc_client_options, allow: bool) -> fc_status {
    unsafe { set_value("fc_client_options_set_allow_insecure_http", options, |o| o.allow_insecure_http = allow) }
}

/// How long an upload with `public` waits for a pending scan before minting the link, in
/// milliseconds.
#[no_mangle]
pub unsafe extern "C" fn fc_client_options_set_public_link_wait_ms(options: *mut fc_client_options, wait_ms: u64) -> fc_status {
    unsafe { set_value("fc_client_options_set_public_link_wait_ms", options, |o| o.public_link_wait = Duration::from_millis(wait_ms)) }
}

/// Builds a client. `options` may be NULL for all defaults (key and URL from the
/// environment). Fails with `FC_ERR_INVALID_ARGUMENT` when there is no API key, the base URL
/// is unusable, or it is plain http to a host that is not loopback. No request is sent.
/// On success `*out` owns the new client (release it with `fc_client_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_client_new(options: *const fc_client_options, out: *mut *mut fc_client, err: *mut *mut fc_error) -> fc_status {
    const CALL: &str = "fc_client_new";
    guard(CALL, err, || {
        let out = unsafe { req_out(CALL, out) }?;
        let options = unsafe { options.as_ref() }.map(|o| o.inner.clone()).unwrap_or_default();
        let client = Client::new(options)?;
        *out = boxed(fc_client { inner: client });
        Ok(())
    })
}

/// Releases a client; calls still running on other threads must have returned first.
/// NULL is accepted and ignored. The library's worker threads stay up for the next client.
#[no_mangle]
pub unsafe extern "C" fn fc_client_free(client: *mut fc_client) {
    crate::error::guard_value((), || {
        if !client.is_null() {
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

/// Trades this client's service key (scope `service:delegate`, plus `service:jobtoken` with
/// `job_id`) and an end user's JWT for a token that acts as that user, confined to `app`.
/// `job_id` may be NULL; `ttl_seconds` 0 means the server's default. On success `*out` owns
/// the token (release with `fc_token_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_client_exchange_service_token(
    client: *const fc_client,
    user_jwt: *const c_char,
    app: *const c_char,
    job_id: *const c_char,
    ttl_seconds: u64,
    out: *mut *mut fc_token,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_client_exchange_service_token";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let user_jwt = req_str(CALL, user_jwt, "user_jwt")?;
        let app = req_str(CALL, app, "app")?;
        let job_id = opt_str(CALL, job_id, "job_id")?;
        let out = req_out(CALL, out)?;
        let ttl = (ttl_seconds > 0).then_some(ttl_seconds);
        *out = boxed(client.exchange_service_token(user_jwt, app, job_id, ttl)?.into());
        Ok(())
    })
}

/// Like `fc_client_exchange_service_token`, but gives a new client acting as the end user,
/// with this client's settings. On success `*out` owns it (release with `fc_client_free`;
/// independent of `client`, which may be freed first).
#[no_mangle]
pub unsafe extern "C" fn fc_client_as_user(
    client: *const fc_client,
    user_jwt: *const c_char,
    app: *const c_char,
    job_id: *const c_char,
    ttl_seconds: u64,
    out: *mut *mut fc_client,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_client_as_user";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let user_jwt = req_str(CALL, user_jwt, "user_jwt")?;
        let app = req_str(CALL, app, "app")?;
        let job_id = opt_str(CALL, job_id, "job_id")?;
        let out = req_out(CALL, out)?;
        let ttl = (ttl_seconds > 0).then_some(ttl_seconds);
        *out = boxed(fc_client { inner: client.as_user(user_jwt, app, job_id, ttl)? });
        Ok(())
    })
}

pub(crate) unsafe fn client_arg<'a>(call: &str, client: *const fc_client) -> Result<&'a Client, fc_error> {
    unsafe { req_ref(call, client, "client") }.map(|c| &c.inner)
}

// ----- spaces -----

/// Lists the tenant's spaces. On success `*out` owns the list (`fc_space_list_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_spaces_list(client: *const fc_client, out: *mut *mut fc_space_list, err: *mut *mut fc_error) -> fc_status {
    const CALL: &str = "fc_spaces_list";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let out = req_out(CALL, out)?;
        *out = boxed(client.spaces().list()?.into());
        Ok(())
    })
}

/// Creates a space. On success `*out` owns it (`fc_space_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_spaces_create(
    client: *const fc_client,
    name: *const c_char,
    out: *mut *mut fc_space,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_spaces_create";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let name = req_str(CALL, name, "name")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_space::from(client.spaces().create(name)?));
        Ok(())
    })
}

// ----- folders -----

/// Lists the folders under `parent_id` (NULL: the space root); `trash` lists only trashed
/// ones. On success `*out` owns the list (`fc_folder_list_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_list(
    client: *const fc_client,
    space_id: *const c_char,
    parent_id: *const c_char,
    trash: bool,
    out: *mut *mut fc_folder_list,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_list";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let space_id = req_str(CALL, space_id, "space_id")?;
        let parent_id = opt_str(CALL, parent_id, "parent_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(client.folders().list(space_id, parent_id, trash)?.into());
        Ok(())
    })
}

/// Creates a folder in `space_id`, under `parent_id` (NULL: the space root). On success
/// `*out` owns it (`fc_folder_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_create(
    client: *const fc_client,
    name: *const c_char,
    space_id: *const c_char,
    parent_id: *const c_char,
    out: *mut *mut fc_folder,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_create";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let name = req_str(CALL, name, "name")?;
        let space_id = req_str(CALL, space_id, "space_id")?;
        let parent_id = opt_str(CALL, parent_id, "parent_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_folder::from(client.folders().create(name, space_id, parent_id)?));
        Ok(())
    })
}

/// Renames a folder. On success `*out` owns the updated folder (`fc_folder_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_rename(
    client: *const fc_client,
    folder_id: *const c_char,
    name: *const c_char,
    out: *mut *mut fc_folder,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_rename";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let folder_id = req_str(CALL, folder_id, "folder_id")?;
        let name = req_str(CALL, name, "name")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_folder::from(client.folders().rename(folder_id, name)?));
        Ok(())
    })
}

/// Moves a folder under `parent_id`; NULL moves it to the space root. On success `*out`
/// owns the updated folder (`fc_folder_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_move(
    client: *const fc_client,
    folder_id: *const c_char,
    parent_id: *const c_char,
    out: *mut *mut fc_folder,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_move";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let folder_id = req_str(CALL, folder_id, "folder_id")?;
        let parent_id = opt_str(CALL, parent_id, "parent_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_folder::from(client.folders().move_to(folder_id, parent_id)?));
        Ok(())
    })
}

/// Moves a folder and its whole subtree to the trash. On success `*out` owns the trashed
/// folder (`fc_folder_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_delete(
    client: *const fc_client,
    folder_id: *const c_char,
    out: *mut *mut fc_folder,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_delete";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let folder_id = req_str(CALL, folder_id, "folder_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_folder::from(client.folders().delete(folder_id)?));
        Ok(())
    })
}

/// Brings back what deleting the folder trashed. On success `*out` owns the folder
/// (`fc_folder_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_folders_restore(
    client: *const fc_client,
    folder_id: *const c_char,
    out: *mut *mut fc_folder,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_folders_restore";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let folder_id = req_str(CALL, folder_id, "folder_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_folder::from(client.folders().restore(folder_id)?));
        Ok(())
    })
}

// ----- files (but the transfers) -----

/// Lists the files in `folder_id` (NULL: the space root); `trash` lists only trashed ones;
/// `app` (NULL: all) keeps only that app's files. On success `*out` owns the list
/// (`fc_file_list_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_list(
    client: *const fc_client,
    space_id: *const c_char,
    folder_id: *const c_char,
    trash: bool,
    app: *const c_char,
    out: *mut *mut fc_file_list,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_list";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let space_id = req_str(CALL, space_id, "space_id")?;
        let folder_id = opt_str(CALL, folder_id, "folder_id")?;
        let app = opt_str(CALL, app, "app")?;
        let out = req_out(CALL, out)?;
        *out = boxed(client.files().list(space_id, folder_id, trash, app)?.into());
        Ok(())
    })
}

/// Fetches a file's metadata (trashed files too). On success `*out` owns it
/// (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_get(
    client: *const fc_client,
    file_id: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_get";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().get(file_id)?));
        Ok(())
    })
}

/// The newest live file uploaded with `client_key` in the `app` namespace (NULL: no app).
/// On success `*out` owns it (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_resolve(
    client: *const fc_client,
    client_key: *const c_char,
    app: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_resolve";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let client_key = req_str(CALL, client_key, "client_key")?;
        let app = opt_str(CALL, app, "app")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().resolve(client_key, app)?));
        Ok(())
    })
}

/// Renames a file (its `original_name`). On success `*out` owns the updated file
/// (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_rename(
    client: *const fc_client,
    file_id: *const c_char,
    name: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_rename";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let name = req_str(CALL, name, "name")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().rename(file_id, name)?));
        Ok(())
    })
}

/// Moves a file into `folder_id`; NULL moves it to the space root. On success `*out` owns
/// the updated file (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_move(
    client: *const fc_client,
    file_id: *const c_char,
    folder_id: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_move";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let folder_id = opt_str(CALL, folder_id, "folder_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().move_to(file_id, folder_id)?));
        Ok(())
    })
}

/// Moves a file to the trash (its links stop serving until it is restored). On success
/// `*out` owns the trashed file (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_delete(
    client: *const fc_client,
    file_id: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_delete";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().delete(file_id)?));
        Ok(())
    })
}

/// Restores a trashed file. On success `*out` owns the file (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_restore(
    client: *const fc_client,
    file_id: *const c_char,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_restore";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_file::from(client.files().restore(file_id)?));
        Ok(())
    })
}

/// A short-lived presigned GET URL for the file's owner. On success `*out` owns it
/// (`fc_download_url_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_download_url(
    client: *const fc_client,
    file_id: *const c_char,
    out: *mut *mut fc_download_url,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_download_url";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_download_url::from(client.files().download_url(file_id)?));
        Ok(())
    })
}

/// Mints (or returns the existing) permanent public link of a file: inline, cacheable,
/// never expires until revoked. `FC_ERR_CONFLICT` while its scan is not `clean`. On
/// success `*out` owns the link (`fc_link_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_public_url(
    client: *const fc_client,
    file_id: *const c_char,
    out: *mut *mut fc_link,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_public_url";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_link::from(client.files().public_url(file_id)?));
        Ok(())
    })
}

/// Mints an expiring link, valid `expires_in_days` days (1..=365; the service refuses
/// other values), with `permission` `FC_PERMISSION_VIEW` or `FC_PERMISSION_DOWNLOAD` (any
/// other value is `FC_ERR_INVALID_ARGUMENT`). On success `*out` owns the link
/// (`fc_link_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_signed_url(
    client: *const fc_client,
    file_id: *const c_char,
    expires_in_days: u32,
    permission: fc_permission,
    out: *mut *mut fc_link,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_signed_url";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let permission = match permission {
            FC_PERMISSION_VIEW => Permission::View,
            FC_PERMISSION_DOWNLOAD => Permission::Download,
            other => return Err(fc_error::invalid(CALL, format!("permission must be FC_PERMISSION_VIEW or FC_PERMISSION_DOWNLOAD, not {other}"))),
        };
        let out = req_out(CALL, out)?;
        *out = boxed(fc_link::from(client.files().signed_url(file_id, expires_in_days, permission)?));
        Ok(())
    })
}

// ----- shares, quota -----

/// Lists active shares of `file_id` (NULL: of every file); `include_inactive` adds revoked
/// and expired ones. On success `*out` owns the list (`fc_share_list_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_shares_list(
    client: *const fc_client,
    file_id: *const c_char,
    include_inactive: bool,
    out: *mut *mut fc_share_list,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_shares_list";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = opt_str(CALL, file_id, "file_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(client.shares().list(file_id, include_inactive)?.into());
        Ok(())
    })
}

/// Revokes a link of either kind; revoking it again succeeds too.
#[no_mangle]
pub unsafe extern "C" fn fc_shares_revoke(client: *const fc_client, share_id: *const c_char, err: *mut *mut fc_error) -> fc_status {
    const CALL: &str = "fc_shares_revoke";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let share_id = req_str(CALL, share_id, "share_id")?;
        client.shares().revoke(share_id)?;
        Ok(())
    })
}

/// The tenant's storage and link usage and limits. On success `*out` owns it
/// (`fc_quota_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_quota_usage(client: *const fc_client, out: *mut *mut fc_quota, err: *mut *mut fc_error) -> fc_status {
    const CALL: &str = "fc_quota_usage";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_quota::from(client.quota().usage()?));
        Ok(())
    })
}
