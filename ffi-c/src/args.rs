//! Reading arguments from C and writing results back: NULL checks, UTF-8, owned C strings.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use crate::error::{cstring, fc_error};

/// A required string: NULL or non-UTF-8 is `FC_ERR_INVALID_ARGUMENT`.
pub(crate) unsafe fn req_str<'a>(call: &str, p: *const c_char, what: &str) -> Result<&'a str, fc_error> {
    if p.is_null() {
        return Err(fc_error::invalid(call, format!("{what} must not be NULL")));
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| fc_error::invalid(call, format!("{what} is not valid UTF-8")))
}

/// An optional string: NULL is `None`.
pub(crate) unsafe fn opt_str<'a>(call: &str, p: *const c_char, what: &str) -> Result<Option<&'a str>, fc_error> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { req_str(call, p, what) }.map(Some)
    }
}

/// A required handle.
pub(crate) unsafe fn req_ref<'a, T>(call: &str, p: *const T, what: &str) -> Result<&'a T, fc_error> {
    unsafe { p.as_ref() }.ok_or_else(|| fc_error::invalid(call, format!("{what} must not be NULL")))
}

/// A required handle the call changes.
pub(crate) unsafe fn req_mut<'a, T>(call: &str, p: *mut T, what: &str) -> Result<&'a mut T, fc_error> {
    unsafe { p.as_mut() }.ok_or_else(|| fc_error::invalid(call, format!("{what} must not be NULL")))
}

/// A required out-parameter. It is written only once the call succeeded.
pub(crate) unsafe fn req_out<'a, T>(call: &str, p: *mut *mut T) -> Result<&'a mut *mut T, fc_error> {
    unsafe { p.as_mut() }.ok_or_else(|| fc_error::invalid(call, "out must not be NULL"))
}

/// An owned C string for a record field; freed by `free_c`.
pub(crate) fn to_c(s: String) -> *const c_char {
    cstring(s).into_raw()
}

pub(crate) fn opt_to_c(s: Option<String>) -> *const c_char {
    s.map_or(ptr::null(), to_c)
}

/// Frees a string made by `to_c` (NULL is fine).
pub(crate) unsafe fn free_c(p: *const c_char) {
    if !p.is_null() {
        drop(unsafe { CString::from_raw(p as *mut c_char) });
    }
}
