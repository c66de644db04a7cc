//! Result records: plain C structs of NUL-terminated UTF-8 strings (NULL for null), integers
//! and booleans, allocated by the library and released with their `_free`. Treat every field
//! as read-only: the library frees exactly what it allocated.

use std::ffi::c_char;
use std::ptr;

use fluidcloud::{AppUsage, DelegatedToken, DownloadUrl, File, Folder, Link, Quota, Share, Space};

use crate::args::{free_c, opt_to_c, to_c};
use crate::error::guard_value;

/// Releases what a record owns (its strings and arrays), not the record itself.
pub(crate) trait Record {
    unsafe fn release(&mut self);
}

pub(crate) fn boxed<R>(record: R) -> *mut R {
    Box::into_raw(Box::new(record))
}

unsafe fn free_boxed<R: Record>(p: *mut R) {
    guard_value((), || {
        if !p.is_null() {
            let mut b = unsafe { Box::from_raw(p) };
            unsafe { b.release() };
        }
    })
}

/// `(items, len)` of a C array made from `v`; `items` is NULL when `len` is 0.
fn array<T, R>(v: Vec<T>, f: impl FnMut(T) -> R) -> (*const R, usize) {
    let items: Box<[R]> = v.into_iter().map(f).collect();
    let len = items.len();
    if len == 0 {
        return (ptr::null(), 0);
    }
    (Box::into_raw(items) as *mut R as *const R, len)
}

unsafe fn free_array<R: Record>(items: *const R, len: usize) {
    if items.is_null() {
        return;
    }
    let mut items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(items as *mut R, len)) };
    for item in items.iter_mut() {
        unsafe { item.release() };
    }
}

/// A space. In every record, strings may be NULL unless marked required.
#[repr(C)]
pub struct fc_space {
    /// Required.
    pub id: *const c_char,
    /// Required.
    pub name: *const c_char,
    pub tenant_id: *const c_char,
    pub created_at: *const c_char,
    pub updated_at: *const c_char,
}

impl From<Space> for fc_space {
    fn from(s: Space) -> Self {
        fc_space {
            id: to_c(s.id),
            name: to_c(s.name),
            tenant_id: opt_to_c(s.tenant_id),
            created_at: opt_to_c(s.created_at),
            updated_at: opt_to_c(s.updated_at),
        }
    }
}

impl Record for fc_space {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [self.id, self.name, self.tenant_id, self.created_at, self.updated_at] {
                free_c(p);
            }
        }
    }
}

/// A folder. `parent_id` is NULL at the space root; `deleted_at` is set while trashed.
#[repr(C)]
pub struct fc_folder {
    /// Required.
    pub id: *const c_char,
    /// Required.
    pub name: *const c_char,
    pub space_id: *const c_char,
    pub parent_id: *const c_char,
    pub tenant_id: *const c_char,
    pub deleted_at: *const c_char,
    pub created_at: *const c_char,
    pub updated_at: *const c_char,
}

impl From<Folder> for fc_folder {
    fn from(f: Folder) -> Self {
        fc_folder {
            id: to_c(f.id),
            name: to_c(f.name),
            space_id: opt_to_c(f.space_id),
            parent_id: opt_to_c(f.parent_id),
            tenant_id: opt_to_c(f.tenant_id),
            deleted_at: opt_to_c(f.deleted_at),
            created_at: opt_to_c(f.created_at),
            updated_at: opt_to_c(f.updated_at),
        }
    }
}

impl Record for fc_folder {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [
                self.id, self.name, self.space_id, self.parent_id, self.tenant_id, self.deleted_at, self.created_at,
                self.updated_at,
            ] {
                free_c(p);
            }
        }
    }
}

/// A file. `size` is -1 when the server did not send one. `public_url` is set only by an
/// upload with `public` (the server never sends it).
#[repr(C)]
pub struct fc_file {
    /// Required.
    pub id: *const c_char,
    /// Required.
    pub original_name: *const c_char,
    pub name: *const c_char,
    pub space_id: *const c_char,
    pub folder_id: *const c_char,
    pub tenant_id: *const c_char,
    pub mime: *const c_char,
    /// Bytes, or -1 when unknown.
    pub size: i64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: *const c_char,
    /// `pending`, `clean`, `infected` or `error`.
    pub scan_status: *const c_char,
    /// `pending` or `ready`.
    pub status: *const c_char,
    pub created_by: *const c_char,
    pub source_app: *const c_char,
    pub client_key: *const c_char,
    pub deleted_at: *const c_char,
    pub created_at: *const c_char,
    pub updated_at: *const c_char,
    /// The permanent public link, after an upload with `public`.
    pub public_url: *const c_char,
}

impl From<File> for fc_file {
    fn from(f: File) -> Self {
        fc_file {
            id: to_c(f.id),
            original_name: to_c(f.original_name),
            name: opt_to_c(f.name),
            space_id: opt_to_c(f.space_id),
            folder_id: opt_to_c(f.folder_id),
            tenant_id: opt_to_c(f.tenant_id),
            mime: opt_to_c(f.mime),
            size: f.size.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX)),
            sha256: opt_to_c(f.sha256),
            scan_status: opt_to_c(f.scan_status),
            status: opt_to_c(f.status),
            created_by: opt_to_c(f.created_by),
            source_app: opt_to_c(f.source_app),
            client_key: opt_to_c(f.client_key),
            deleted_at: opt_to_c(f.deleted_at),
            created_at: opt_to_c(f.created_at),
            updated_at: opt_to_c(f.updated_at),
            public_url: opt_to_c(f.public_url),
        }
    }
}

impl Record for fc_file {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [
                self.id, self.original_name, self.name, self.space_id, self.folder_id, self.tenant_id, self.mime,
                self.sha256, self.scan_status, self.status, self.created_by, self.source_app, self.client_key,
                self.deleted_at, self.created_at, self.updated_at, self.public_url,
            ] {
                free_c(p);
            }
        }
    }
}

/// A newly minted share link. `expires_at` is NULL for a permanent public link.
#[repr(C)]
pub struct fc_link {
    /// Required: the URL to hand out (fetching it needs no credential).
    pub url: *const c_char,
    /// Required: the share's ID, for `fc_shares_revoke`.
    pub id: *const c_char,
    /// Required: `view` or `download`.
    pub permission: *const c_char,
    pub expires_at: *const c_char,
}

impl From<Link> for fc_link {
    fn from(l: Link) -> Self {
        fc_link { url: to_c(l.url), id: to_c(l.id), permission: to_c(l.permission), expires_at: opt_to_c(l.expires_at) }
    }
}

impl Record for fc_link {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [self.url, self.id, self.permission, self.expires_at] {
                free_c(p);
            }
        }
    }
}

/// A listed share (its URL is never listed again). Only found inside an `fc_share_list`.
#[repr(C)]
pub struct fc_share {
    /// Required.
    pub id: *const c_char,
    /// Required.
    pub file_id: *const c_char,
    /// Required: `view` or `download`.
    pub permission: *const c_char,
    /// NULL for a permanent public link.
    pub expires_at: *const c_char,
    /// -1 when unlimited.
    pub max_downloads: i64,
    pub download_count: i64,
    pub revoked: bool,
    pub has_password: bool,
    pub created_at: *const c_char,
    pub updated_at: *const c_char,
}

impl From<Share> for fc_share {
    fn from(s: Share) -> Self {
        fc_share {
            id: to_c(s.id),
            file_id: to_c(s.file_id),
            permission: to_c(s.permission),
            expires_at: opt_to_c(s.expires_at),
            max_downloads: s.max_downloads.unwrap_or(-1),
            download_count: s.download_count,
            revoked: s.revoked,
            has_password: s.has_password,
            created_at: opt_to_c(s.created_at),
            updated_at: opt_to_c(s.updated_at),
        }
    }
}

impl Record for fc_share {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [self.id, self.file_id, self.permission, self.expires_at, self.created_at, self.updated_at] {
                free_c(p);
            }
        }
    }
}

/// One app's share of the storage, inside an `fc_quota`.
#[repr(C)]
pub struct fc_app_usage {
    /// NULL for files uploaded without an app.
    pub app: *const c_char,
    pub bytes_used: i64,
    pub files: i64,
}

impl From<AppUsage> for fc_app_usage {
    fn from(a: AppUsage) -> Self {
        fc_app_usage { app: opt_to_c(a.app), bytes_used: a.bytes_used, files: a.files }
    }
}

impl Record for fc_app_usage {
    unsafe fn release(&mut self) {
        unsafe { free_c(self.app) };
    }
}

/// The tenant's usage and limits. `by_app` is an array of `by_app_len` entries, NULL when
/// the server sent none (or an empty list).
#[repr(C)]
pub struct fc_quota {
    pub bytes_used: i64,
    pub bytes_limit: i64,
    pub links_used: i64,
    pub links_limit: i64,
    pub by_app: *const fc_app_usage,
    pub by_app_len: usize,
}

impl From<Quota> for fc_quota {
    fn from(q: Quota) -> Self {
        let (by_app, by_app_len) = array(q.by_app.unwrap_or_default(), fc_app_usage::from);
        fc_quota {
            bytes_used: q.bytes_used,
            bytes_limit: q.bytes_limit,
            links_used: q.links_used,
            links_limit: q.links_limit,
            by_app,
            by_app_len,
        }
    }
}

impl Record for fc_quota {
    unsafe fn release(&mut self) {
        unsafe { free_array(self.by_app, self.by_app_len) };
    }
}

/// A delegation token that acts as an end user (`fc_client_exchange_service_token`).
/// `token` is a credential: do not log it.
#[repr(C)]
pub struct fc_token {
    /// Required: the `fcd_...` credential.
    pub token: *const c_char,
    /// Seconds until it expires.
    pub expires_in: i64,
    pub tenant_id: *const c_char,
    pub user_id: *const c_char,
    pub app: *const c_char,
    /// Required: `Bearer`.
    pub token_type: *const c_char,
}

impl From<DelegatedToken> for fc_token {
    fn from(t: DelegatedToken) -> Self {
        fc_token {
            token: to_c(t.token),
            expires_in: t.expires_in,
            tenant_id: opt_to_c(t.tenant_id),
            user_id: opt_to_c(t.user_id),
            app: opt_to_c(t.app),
            token_type: to_c(t.token_type),
        }
    }
}

impl Record for fc_token {
    unsafe fn release(&mut self) {
        unsafe {
            for p in [self.token, self.tenant_id, self.user_id, self.app, self.token_type] {
                free_c(p);
            }
        }
    }
}

/// A short-lived presigned GET URL for the file's owner (`fc_files_download_url`).
#[repr(C)]
pub struct fc_download_url {
    /// Required.
    pub url: *const c_char,
    pub expires_at: *const c_char,
}

impl From<DownloadUrl> for fc_download_url {
    fn from(d: DownloadUrl) -> Self {
        fc_download_url { url: to_c(d.url), expires_at: opt_to_c(d.expires_at) }
    }
}

impl Record for fc_download_url {
    unsafe fn release(&mut self) {
        unsafe {
            free_c(self.url);
            free_c(self.expires_at);
        }
    }
}

/// `len` spaces in `items` (NULL when `len` is 0). Released as a whole by
/// `fc_space_list_free`, never item by item.
#[repr(C)]
pub struct fc_space_list {
    pub items: *const fc_space,
    pub len: usize,
}

/// `len` folders in `items` (NULL when `len` is 0). Released by `fc_folder_list_free`.
#[repr(C)]
pub struct fc_folder_list {
    pub items: *const fc_folder,
    pub len: usize,
}

/// `len` files in `items` (NULL when `len` is 0). Released by `fc_file_list_free`.
#[repr(C)]
pub struct fc_file_list {
    pub items: *const fc_file,
    pub len: usize,
}

/// `len` shares in `items` (NULL when `len` is 0). Released by `fc_share_list_free`.
#[repr(C)]
pub struct fc_share_list {
    pub items: *const fc_share,
    pub len: usize,
}

macro_rules! list_impl {
    ($list:ident, $item:ident, $model:ty) => {
        impl From<Vec<$model>> for $list {
            fn from(v: Vec<$model>) -> Self {
                let (items, len) = array(v, $item::from);
                $list { items, len }
            }
        }
        impl Record for $list {
            unsafe fn release(&mut self) {
                unsafe { free_array(self.items, self.len) };
            }
        }
    };
}

list_impl!(fc_space_list, fc_space, Space);
list_impl!(fc_folder_list, fc_folder, Folder);
list_impl!(fc_file_list, fc_file, File);
list_impl!(fc_share_list, fc_share, Share);

/// Releases a space and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_space_free(space: *mut fc_space) {
    unsafe { free_boxed(space) }
}

/// Releases a folder and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_folder_free(folder: *mut fc_folder) {
    unsafe { free_boxed(folder) }
}

/// Releases a file and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_file_free(file: *mut fc_file) {
    unsafe { free_boxed(file) }
}

/// Releases a link and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_link_free(link: *mut fc_link) {
    unsafe { free_boxed(link) }
}

/// Releases a quota, its strings and its `by_app` array. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_quota_free(quota: *mut fc_quota) {
    unsafe { free_boxed(quota) }
}

/// Releases a token and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_token_free(token: *mut fc_token) {
    unsafe { free_boxed(token) }
}

/// Releases a download URL and its strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_download_url_free(url: *mut fc_download_url) {
    unsafe { free_boxed(url) }
}

/// Releases a list, every item in it and their strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_space_list_free(list: *mut fc_space_list) {
    unsafe { free_boxed(list) }
}

/// Releases a list, every item in it and their strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_folder_list_free(list: *mut fc_folder_list) {
    unsafe { free_boxed(list) }
}

/// Releases a list, every item in it and their strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_file_list_free(list: *mut fc_file_list) {
    unsafe { free_boxed(list) }
}

/// Releases a list, every item in it and their strings. NULL is accepted and ignored.
#[no_mangle]
pub unsafe extern "C" fn fc_share_list_free(list: *mut fc_share_list) {
    unsafe { free_boxed(list) }
}
