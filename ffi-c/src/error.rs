//! Status codes, `fc_error`, the panic boundary, and the one place where the core's
//! `ErrorKind` becomes an `fc_status`.

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use fluidcloud::ErrorKind;

/// What a call returned. `FC_OK` (0) is success; every other code is a failure, and the
/// optional `fc_error **err` out-parameter of the call then holds the details.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fc_status {
    /// Success.
    FC_OK = 0,
    /// HTTP 401: the credential is missing, unknown, expired or revoked.
    FC_ERR_AUTH = 1,
    /// HTTP 402: the storage or link quota is exceeded.
    FC_ERR_QUOTA = 2,
    /// HTTP 403: the credential lacks a scope (`detail` names it), or access is denied.
    FC_ERR_PERMISSION = 3,
    /// HTTP 404: no such resource (or another tenant's).
    FC_ERR_NOT_FOUND = 4,
    /// HTTP 409: a conflict, e.g. sharing a file whose scan is not `clean`, or a name
    /// collision.
    FC_ERR_CONFLICT = 5,
    /// Any other non-2xx answer (400, 422, 429, 5xx, a refused storage PUT, ...).
    FC_ERR_API = 6,
    /// The connection could not be made, or broke (transport error).
    FC_ERR_CONNECT = 7,
    /// The server made no progress for the client's timeout.
    FC_ERR_TIMEOUT = 8,
    /// The call was cancelled through its `fc_cancel`.
    FC_ERR_CANCELLED = 9,
    /// A required pointer was NULL, a string was not UTF-8, or the SDK refused an argument
    /// (empty ID, bad option, no API key, ...).
    FC_ERR_INVALID_ARGUMENT = 10,
    /// Reading or writing a local file failed.
    FC_ERR_IO = 11,
    /// Bytes did not match: a size or SHA-256 mismatch, or a file that changed while read.
    FC_ERR_INTEGRITY = 12,
    /// The library panicked (a bug in the SDK); the call had no effect on its out-params.
    FC_ERR_PANIC = 13,
}

use fc_status::*;

/// The single mapping from the core's error kinds to status codes.
pub(crate) fn status_of(kind: ErrorKind) -> fc_status {
    match kind {
        ErrorKind::Auth => FC_ERR_AUTH,
        ErrorKind::QuotaExceeded => FC_ERR_QUOTA,
        ErrorKind::Permission => FC_ERR_PERMISSION,
        ErrorKind::NotFound => FC_ERR_NOT_FOUND,
        ErrorKind::Conflict => FC_ERR_CONFLICT,
        ErrorKind::Api => FC_ERR_API,
        ErrorKind::Connect => FC_ERR_CONNECT,
        ErrorKind::Timeout => FC_ERR_TIMEOUT,
        ErrorKind::Cancelled => FC_ERR_CANCELLED,
        ErrorKind::InvalidInput => FC_ERR_INVALID_ARGUMENT,
        ErrorKind::Io => FC_ERR_IO,
        ErrorKind::Integrity => FC_ERR_INTEGRITY,
        ErrorKind::Internal => FC_ERR_PANIC,
        // A kind the core adds later: the generic failure until this table learns it.
        _ => FC_ERR_API,
    }
}

fn status_name(status: c_int) -> &'static CStr {
    match status {
        0 => c"FC_OK",
        1 => c"FC_ERR_AUTH",
        2 => c"FC_ERR_QUOTA",
        3 => c"FC_ERR_PERMISSION",
        4 => c"FC_ERR_NOT_FOUND",
        5 => c"FC_ERR_CONFLICT",
        6 => c"FC_ERR_API",
        7 => c"FC_ERR_CONNECT",
        8 => c"FC_ERR_TIMEOUT",
        9 => c"FC_ERR_CANCELLED",
        10 => c"FC_ERR_INVALID_ARGUMENT",
        11 => c"FC_ERR_IO",
        12 => c"FC_ERR_INTEGRITY",
        13 => c"FC_ERR_PANIC",
        _ => c"FC_ERR_UNKNOWN",
    }
}

/// The details of a failed call. Created by the library, owned by the caller from the moment
/// it is written to `*err`, released with `fc_error_free`. Immutable, so it may be read
/// from any thread.
pub struct fc_error {
    code: fc_status,
    http_status: u16,
    retryable: bool,
    call: CString,
    message: CString,
    detail_json: Option<CString>,
    request_id: Option<CString>,
}

/// A C string from any text: an interior NUL (never expected) is dropped rather than lost.
pub(crate) fn cstring(s: impl Into<String>) -> CString {
    let s = s.into();
    CString::new(s).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(bytes).unwrap_or_default()
    })
}

impl fc_error {
    /// A failure found by the C layer itself (NULL pointer, bad UTF-8, panic).
    pub(crate) fn local(code: fc_status, call: &str, message: impl std::fmt::Display) -> fc_error {
        fc_error {
            code,
            http_status: 0,
            retryable: false,
            call: cstring(call),
            message: cstring(format!("{call}: {message}")),
            detail_json: None,
            request_id: None,
        }
    }

    pub(crate) fn invalid(call: &str, message: impl std::fmt::Display) -> fc_error {
        fc_error::local(FC_ERR_INVALID_ARGUMENT, call, message)
    }
}

impl From<fluidcloud::Error> for fc_error {
    fn from(e: fluidcloud::Error) -> fc_error {
        fc_error {
            code: status_of(e.kind()),
            http_status: e.http_status().unwrap_or(0),
            retryable: e.is_retryable(),
            call: cstring(e.call()),
            message: cstring(e.to_string()),
            detail_json: e.detail().map(|d| cstring(d.to_json().to_string())),
            request_id: e.request_id().map(cstring),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs the body of an exported call behind the panic boundary, and reports its failure:
/// the status code, and the details in `*err` when `err` is not NULL.
pub(crate) fn guard(call: &'static str, err: *mut *mut fc_error, body: impl FnOnce() -> Result<(), fc_error>) -> fc_status {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return FC_OK,
        Ok(Err(e)) => e,
        Err(payload) => {
            let message = catch_unwind(AssertUnwindSafe(|| panic_message(&*payload))).unwrap_or_default();
            // Dropping a payload may itself panic; forget it rather than unwind into C.
            std::mem::forget(payload);
            fc_error::local(FC_ERR_PANIC, call, format!("panic in the SDK: {message}"))
        }
    };
    let status = failure.code;
    if !err.is_null() {
        let stored = catch_unwind(AssertUnwindSafe(|| unsafe { *err = Box::into_raw(Box::new(failure)) }));
        if stored.is_err() {
            return FC_ERR_PANIC;
        }
    }
    status
}

/// The panic boundary for exports that return a value instead of a status.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The name of a status code, e.g. `"FC_ERR_NOT_FOUND"`; `"FC_ERR_UNKNOWN"` for a value that
/// is not one. The string is static: never free it.
#[no_mangle]
pub extern "C" fn fc_status_name(status: c_int) -> *const c_char {
    guard_value(c"FC_ERR_UNKNOWN".as_ptr(), || status_name(status).as_ptr())
}

/// The status code of `err` (never `FC_OK`); `FC_ERR_INVALID_ARGUMENT` when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn fc_error_code(err: *const fc_error) -> fc_status {
    guard_value(FC_ERR_PANIC, || match unsafe { err.as_ref() } {
        Some(e) => e.code,
        None => FC_ERR_INVALID_ARGUMENT,
    })
}

/// The HTTP status of the answer that failed, or 0 when the failure had none (transport,
/// timeout, cancellation, local errors) or `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn fc_error_http_status(err: *const fc_error) -> u16 {
    guard_value(0, || unsafe { err.as_ref() }.map_or(0, |e| e.http_status))
}

/// Whether trying the same call again may succeed (connection errors, timeouts, 408, 429,
/// 500, 502, 503, 504); false when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn fc_error_retryable(err: *const fc_error) -> bool {
    guard_value(false, || unsafe { err.as_ref() }.is_some_and(|e| e.retryable))
}

/// A one-line, human-readable message naming the call, e.g.
/// `"files.get: HTTP 404: not found (request id req_1)"`; it never contains the credential.
/// Borrowed from `err`: valid until `fc_error_free(err)`. NULL when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn fc_error_message(err: *const fc_error) -> *const c_char {
    guard_value(ptr::null(), || unsafe { err.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr()))
}

/// The SDK call that failed, e.g. `"files.get"`, or the C function for failures found by
/// the C layer (e.g. `"fc_files_get"`). Borrowed from `err`; NULL when `err` is NULL.
#[no_mangle]
pub unsafe extern "C" fn fc_error_call(err: *const fc_error) -> *const c_char {
    guard_value(ptr::null(), || unsafe { err.as_ref() }.map_or(ptr::null(), |e| e.call.as_ptr()))
}

/// The server's `detail` as JSON text: a string (`"\"quota_exceeded\""`), an object
/// (`{"error":"insufficient_scope","required":["files:write"]}`), a list (422 validation
/// errors), or a JSON string holding a body that was not JSON. NULL when the failure had no
/// answer body or `err` is NULL. Borrowed from `err`: valid until `fc_error_free(err)`.
#[no_mangle]
pub unsafe extern "C" fn fc_error_detail_json(err: *const fc_error) -> *const c_char {
    guard_value(ptr::null(), || {
        unsafe { err.as_ref() }.and_then(|e| e.detail_json.as_ref()).map_or(ptr::null(), |d| d.as_ptr())
    })
}

/// The server's `X-Request-Id` (quote it to support), or NULL when there was none or `err`
/// is NULL. Borrowed from `err`: valid until `fc_error_free(err)`.
#[no_mangle]
pub unsafe extern "C" fn fc_error_request_id(err: *const fc_error) -> *const c_char {
    guard_value(ptr::null(), || {
        unsafe { err.as_ref() }.and_then(|e| e.request_id.as_ref()).map_or(ptr::null(), |d| d.as_ptr())
    })
}

/// Releases an error. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_error_free(err: *mut fc_error) {
    guard_value((), || {
        if !err.is_null() {
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_fc_err_panic_with_details() {
        let mut err: *mut fc_error = ptr::null_mut();
        let status = guard("fc_test", &mut err, || panic!("boom"));
        assert_eq!(status, FC_ERR_PANIC);
        assert!(!err.is_null());
        unsafe {
            assert_eq!(fc_error_code(err), FC_ERR_PANIC);
            let msg = CStr::from_ptr(fc_error_message(err)).to_str().unwrap();
            assert!(msg.contains("boom") && msg.starts_with("fc_test: "), "{msg}");
            assert_eq!(fc_error_http_status(err), 0);
            assert!(fc_error_request_id(err).is_null());
            fc_error_free(err);
        }
        // Without an err out-param, the status alone.
        assert_eq!(guard("fc_test", ptr::null_mut(), || panic!("again")), FC_ERR_PANIC);
    }

    #[test]
    fn success_leaves_err_untouched() {
        let sentinel = 0x10 as *mut fc_error;
        let mut err = sentinel;
        assert_eq!(guard("fc_test", &mut err, || Ok(())), FC_OK);
        assert_eq!(err, sentinel);
    }

    #[test]
    fn every_kind_has_its_own_code() {
        let kinds = [
            (ErrorKind::Auth, FC_ERR_AUTH),
            (ErrorKind::QuotaExceeded, FC_ERR_QUOTA),
            (ErrorKind::Permission, FC_ERR_PERMISSION),
            (ErrorKind::NotFound, FC_ERR_NOT_FOUND),
            (ErrorKind::Conflict, FC_ERR_CONFLICT),
            (ErrorKind::Api, FC_ERR_API),
            (ErrorKind::Connect, FC_ERR_CONNECT),
            (ErrorKind::Timeout, FC_ERR_TIMEOUT),
            (ErrorKind::Cancelled, FC_ERR_CANCELLED),
            (ErrorKind::InvalidInput, FC_ERR_INVALID_ARGUMENT),
            (ErrorKind::Io, FC_ERR_IO),
            (ErrorKind::Integrity, FC_ERR_INTEGRITY),
        ];
        for (kind, code) in kinds {
            assert_eq!(status_of(kind), code, "{kind:?}");
            let name = unsafe { CStr::from_ptr(fc_status_name(code as c_int)) }.to_str().unwrap();
            assert!(name.starts_with("FC_ERR_") && name != "FC_ERR_UNKNOWN");
        }
        assert_eq!(unsafe { CStr::from_ptr(fc_status_name(99)) }.to_str().unwrap(), "FC_ERR_UNKNOWN");
    }
}
