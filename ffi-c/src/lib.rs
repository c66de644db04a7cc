//! The C ABI of the FluidCloud SDK: `libfluidcloud.so` / `libfluidcloud.a` and the header
//! `include/fluidcloud.h` (generated from these sources by cbindgen; see `cbindgen.toml`).
//!
//! Every behaviour lives in the core crate (`fluidcloud::blocking::Client`); this crate only
//! converts arguments and results, and maps `fluidcloud::ErrorKind` to `fc_status` in one
//! place (`error::status_of`). Every export runs behind a panic boundary.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod args;
pub mod client;
pub mod error;
pub mod records;
pub mod transfer;

use std::ffi::c_char;

/// The library's version, e.g. `"0.1.0"`. Static: never free it.
#[no_mangle]
pub extern "C" fn fc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
