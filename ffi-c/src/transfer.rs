//! Uploads and downloads: `fc_upload_options`, the progress callback and `fc_cancel`.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::Arc;

use fluidcloud::{CancellationToken, DownloadOptions, Progress, UploadOptions, UploadSource};

use crate::args::{opt_str, req_mut, req_out, req_ref, req_str};
use crate::client::{client_arg, fc_client};
use crate::error::{fc_error, fc_status, guard, guard_value};
use crate::records::{boxed, fc_file};

/// A progress callback: `done` of `total` bytes. For uploads, `done` counts bytes storage
/// confirmed: it starts at 0, never goes back, and ends exactly at `total` once the content
/// is hashed. For downloads, bytes written to the destination.
///
/// It is called on the library's own worker threads, NOT on the thread that made the call:
/// whatever it touches through `user_data` must be safe to use from another thread. Calls
/// for one transfer never overlap, and none comes after the transfer function returned. It
/// must return quickly (it runs on the worker that moves the bytes) and must not call back
/// into the library with the same client, unwind (C++ exceptions) or `longjmp`.
pub type fc_progress_cb = Option<unsafe extern "C" fn(done: u64, total: u64, user_data: *mut c_void)>;

/// A cancellation token: trigger it from any thread to stop the transfers that were given
/// it; they return `FC_ERR_CANCELLED` soon after (uploaded parts are abandoned, a partial
/// download is removed). Once triggered it stays triggered. Made by `fc_cancel_new`,
/// released by `fc_cancel_free`; thread-safe. Options and calls that take it keep their own
/// reference, so it may be freed while they still use it (it then simply cannot be
/// triggered any more).
pub struct fc_cancel {
    token: CancellationToken,
}

/// How to upload: made by `fc_upload_options_new`, changed by the `fc_upload_options_set_*`
/// calls (strings are copied), released by `fc_upload_options_free`. Reusable for many
/// uploads, and may be read by several uploads at once; not safe to change while an upload
/// on another thread reads it.
pub struct fc_upload_options {
    space_id: String,
    folder_id: Option<String>,
    name: Option<String>,
    content_type: Option<String>,
    public: bool,
    app: Option<String>,
    client_key: Option<String>,
    progress: Callback,
    cancel: Option<CancellationToken>,
}

/// A C callback and its `user_data`, to be called from the SDK's threads.
#[derive(Clone, Copy)]
struct Callback {
    f: fc_progress_cb,
    user_data: *mut c_void,
}

// The header documents that the callback and its user_data are used from the library's
// threads; that promise is the caller's.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

impl Callback {
    fn none() -> Callback {
        Callback { f: None, user_data: std::ptr::null_mut() }
    }

    fn call(&self, done: u64, total: u64) {
        if let Some(f) = self.f {
            unsafe { f(done, total, self.user_data) }
        }
    }

    fn progress(self) -> Option<Progress> {
        self.f?;
        // Captures the whole `Callback` (a method call), not its raw-pointer field.
        Some(Arc::new(move |done, total| self.call(done, total)))
    }
}

/// Creates a cancellation token, not triggered. On success `*out` owns it.
#[no_mangle]
pub unsafe extern "C" fn fc_cancel_new(out: *mut *mut fc_cancel) -> fc_status {
    const CALL: &str = "fc_cancel_new";
    guard(CALL, std::ptr::null_mut(), || {
        let out = unsafe { req_out(CALL, out) }?;
        *out = boxed(fc_cancel { token: CancellationToken::new() });
        Ok(())
    })
}

/// Triggers the token: every transfer using it stops with `FC_ERR_CANCELLED`. Safe from any
/// thread, also while the transfer runs; triggering again does nothing more.
#[no_mangle]
pub unsafe extern "C" fn fc_cancel_trigger(cancel: *const fc_cancel) -> fc_status {
    const CALL: &str = "fc_cancel_trigger";
    guard(CALL, std::ptr::null_mut(), || {
        unsafe { req_ref(CALL, cancel, "cancel") }?.token.cancel();
        Ok(())
    })
}

/// Whether the token was triggered (false for NULL).
#[no_mangle]
pub unsafe extern "C" fn fc_cancel_is_triggered(cancel: *const fc_cancel) -> bool {
    guard_value(false, || unsafe { cancel.as_ref() }.is_some_and(|c| c.token.is_cancelled()))
}

/// Releases the handle. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_cancel_free(cancel: *mut fc_cancel) {
    guard_value((), || {
        if !cancel.is_null() {
            drop(unsafe { Box::from_raw(cancel) });
        }
    })
}

/// Creates upload options for `space_id` (copied; required): to the space root, name from
/// the path (else `upload.bin`), content type guessed from the name, not public, no app,
/// no client key, no progress callback, no cancellation. On success `*out` owns them.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_new(space_id: *const c_char, out: *mut *mut fc_upload_options) -> fc_status {
    const CALL: &str = "fc_upload_options_new";
    guard(CALL, std::ptr::null_mut(), || unsafe {
        let space_id = req_str(CALL, space_id, "space_id")?;
        let out = req_out(CALL, out)?;
        *out = boxed(fc_upload_options {
            space_id: space_id.to_string(),
            folder_id: None,
            name: None,
            content_type: None,
            public: false,
            app: None,
            client_key: None,
            progress: Callback::none(),
            cancel: None,
        });
        Ok(())
    })
}

/// Releases upload options. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_free(options: *mut fc_upload_options) {
    guard_value((), || {
        if !options.is_null() {
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

unsafe fn set_field(
    call: &'static str,
    options: *mut fc_upload_options,
    value: *const c_char,
    field: impl FnOnce(&mut fc_upload_options) -> &mut Option<String>,
) -> fc_status {
    guard(call, std::ptr::null_mut(), || unsafe {
        let options = req_mut(call, options, "options")?;
        let value = opt_str(call, value, "value")?;
        *field(options) = value.map(str::to_string);
        Ok(())
    })
}

/// The space to upload into (required: NULL is `FC_ERR_INVALID_ARGUMENT`). Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_space_id(options: *mut fc_upload_options, space_id: *const c_char) -> fc_status {
    const CALL: &str = "fc_upload_options_set_space_id";
    guard(CALL, std::ptr::null_mut(), || unsafe {
        let options = req_mut(CALL, options, "options")?;
        options.space_id = req_str(CALL, space_id, "space_id")?.to_string();
        Ok(())
    })
}

/// The folder to upload into; NULL: the space root. Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_folder_id(options: *mut fc_upload_options, folder_id: *const c_char) -> fc_status {
    unsafe { set_field("fc_upload_options_set_folder_id", options, folder_id, |o| &mut o.folder_id) }
}

/// The stored name; NULL: the path's file name (`upload.bin` for a buffer). Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_name(options: *mut fc_upload_options, name: *const c_char) -> fc_status {
    unsafe { set_field("fc_upload_options_set_name", options, name, |o| &mut o.name) }
}

/// The content type; NULL: guessed from the name, else `application/octet-stream`. Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_content_type(options: *mut fc_upload_options, content_type: *const c_char) -> fc_status {
    unsafe { set_field("fc_upload_options_set_content_type", options, content_type, |o| &mut o.content_type) }
}

/// The app that tags (and namespaces) the upload; NULL: none. Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_app(options: *mut fc_upload_options, app: *const c_char) -> fc_status {
    unsafe { set_field("fc_upload_options_set_app", options, app, |o| &mut o.app) }
}

/// The caller's own key for the file, later found with `fc_files_resolve`; NULL: none.
/// Copied.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_client_key(options: *mut fc_upload_options, client_key: *const c_char) -> fc_status {
    unsafe { set_field("fc_upload_options_set_client_key", options, client_key, |o| &mut o.client_key) }
}

/// Also mint the permanent public link: the returned `fc_file` then has `public_url`. If
/// the link cannot be made, the upload fails with the link's error although the file was
/// stored: the error's message and detail give the stored file's id.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_public(options: *mut fc_upload_options, public: bool) -> fc_status {
    const CALL: &str = "fc_upload_options_set_public";
    guard(CALL, std::ptr::null_mut(), || {
        unsafe { req_mut(CALL, options, "options") }?.public = public;
        Ok(())
    })
}

/// The progress callback (see `fc_progress_cb`: it runs on the library's threads) and the
/// `user_data` it is given; `callback` NULL removes it. `user_data` is passed through
/// untouched and must stay valid while uploads with these options run.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_progress(
    options: *mut fc_upload_options,
    callback: fc_progress_cb,
    user_data: *mut c_void,
) -> fc_status {
    const CALL: &str = "fc_upload_options_set_progress";
    guard(CALL, std::ptr::null_mut(), || {
        let options = unsafe { req_mut(CALL, options, "options") }?;
        options.progress = if callback.is_some() { Callback { f: callback, user_data } } else { Callback::none() };
        Ok(())
    })
}

/// The token that cancels uploads made with these options; NULL removes it. The options
/// keep their own reference: `cancel` may be freed afterwards.
#[no_mangle]
pub unsafe extern "C" fn fc_upload_options_set_cancel(options: *mut fc_upload_options, cancel: *const fc_cancel) -> fc_status {
    const CALL: &str = "fc_upload_options_set_cancel";
    guard(CALL, std::ptr::null_mut(), || {
        let options = unsafe { req_mut(CALL, options, "options") }?;
        options.cancel = unsafe { cancel.as_ref() }.map(|c| c.token.clone());
        Ok(())
    })
}

impl fc_upload_options {
    fn to_core(&self) -> UploadOptions {
        let mut o = UploadOptions::new(self.space_id.clone());
        o.folder_id = self.folder_id.clone();
        o.name = self.name.clone();
        o.content_type = self.content_type.clone();
        o.public = self.public;
        o.app = self.app.clone();
        o.client_key = self.client_key.clone();
        o.progress = self.progress.progress();
        o.cancel = self.cancel.clone();
        o
    }
}

/// Uploads the file at `path` (read part by part; large files go up in parallel parts)
/// and returns the stored file; with `public`, `public_url` is set. Fails with `FC_ERR_IO`
/// when the path cannot be read and `FC_ERR_INTEGRITY` when the file is written to while it
/// is uploaded. Blocks until done or cancelled. On success `*out` owns the file
/// (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_upload_path(
    client: *const fc_client,
    path: *const c_char,
    options: *const fc_upload_options,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_upload_path";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let path = req_str(CALL, path, "path")?;
        let options = req_ref(CALL, options, "options")?;
        let out = req_out(CALL, out)?;
        let file = client.files().upload(UploadSource::path(path), options.to_core())?;
        *out = boxed(fc_file::from(file));
        Ok(())
    })
}

/// Uploads `len` bytes from `data` (copied before the call starts: the buffer may be
/// reused as soon as it returns; `data` may be NULL only when `len` is 0). Otherwise as
/// `fc_files_upload_path`.
#[no_mangle]
pub unsafe extern "C" fn fc_files_upload_buffer(
    client: *const fc_client,
    data: *const u8,
    len: usize,
    options: *const fc_upload_options,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_upload_buffer";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        if data.is_null() && len > 0 {
            return Err(fc_error::invalid(CALL, "data must not be NULL"));
        }
        let options = req_ref(CALL, options, "options")?;
        let out = req_out(CALL, out)?;
        let bytes = if len == 0 { Vec::new() } else { std::slice::from_raw_parts(data, len).to_vec() };
        let file = client.files().upload(UploadSource::bytes(bytes), options.to_core())?;
        *out = boxed(fc_file::from(file));
        Ok(())
    })
}

/// Downloads a file to `dest_path`, verifying its size and SHA-256 and resuming after a
/// broken connection; `dest_path` only appears once complete and verified (the bytes go to
/// a hidden part file of their own beside it first, removed if the call fails). Concurrent
/// downloads to one `dest_path` each succeed; it then holds the last to finish, whole.
/// `progress` (NULL: none) is called as for uploads, with `user_data`; `cancel` (NULL:
/// none) stops it. On success `*out` owns the file's metadata (`fc_file_free`).
#[no_mangle]
pub unsafe extern "C" fn fc_files_download(
    client: *const fc_client,
    file_id: *const c_char,
    dest_path: *const c_char,
    progress: fc_progress_cb,
    user_data: *mut c_void,
    cancel: *const fc_cancel,
    out: *mut *mut fc_file,
    err: *mut *mut fc_error,
) -> fc_status {
    const CALL: &str = "fc_files_download";
    guard(CALL, err, || unsafe {
        let client = client_arg(CALL, client)?;
        let file_id = req_str(CALL, file_id, "file_id")?;
        let dest = req_str(CALL, dest_path, "dest_path")?;
        let out = req_out(CALL, out)?;
        let options = DownloadOptions {
            progress: Callback { f: progress, user_data }.progress(),
            cancel: cancel.as_ref().map(|c| c.token.clone()),
        };
        let file = client.files().download(file_id, Path::new(dest), options)?;
        *out = boxed(fc_file::from(file));
        Ok(())
    })
}
