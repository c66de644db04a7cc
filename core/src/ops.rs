//! Every call of the SDK as data, for bindings that dispatch by name (Python, Node): a
//! binding converts its arguments into an [`Op`], and [`execute`] runs it on the async client
//! and answers JSON. The dispatch lives here once, not in each binding.

use std::path::PathBuf;

use serde_json::Value;

use crate::blocking::Lane;
use crate::{Client, DownloadOptions, Permission, Result, UploadOptions, UploadSource};

/// One call of the SDK as data.
pub enum Op {
    SpacesList,
    SpacesCreate { name: String },
    FoldersList { space_id: String, parent_id: Option<String>, trash: bool },
    FoldersCreate { name: String, space_id: String, parent_id: Option<String> },
    FoldersRename { folder_id: String, name: String },
    FoldersMove { folder_id: String, parent_id: Option<String> },
    FoldersDelete { folder_id: String },
    FoldersRestore { folder_id: String },
    FilesList { space_id: String, folder_id: Option<String>, trash: bool, app: Option<String> },
    FilesGet { file_id: String },
    FilesResolve { client_key: String, app: Option<String> },
    FilesRename { file_id: String, name: String },
    FilesMove { file_id: String, folder_id: Option<String> },
    FilesDelete { file_id: String },
    FilesRestore { file_id: String },
    FilesDownloadUrl { file_id: String },
    FilesPublicUrl { file_id: String },
    FilesSignedUrl { file_id: String, expires_in_days: u32, permission: Permission },
    FilesUpload { source: UploadSource, options: UploadOptions },
    FilesDownload { file_id: String, dest: PathBuf, options: DownloadOptions },
    SharesList { file_id: Option<String>, include_inactive: bool },
    SharesRevoke { share_id: String },
    QuotaUsage,
    ExchangeServiceToken { user_jwt: String, app: String, job_id: Option<String>, ttl_seconds: Option<u64> },
}

impl Op {
    /// Where a blocking caller should run it.
    pub fn lane(&self) -> Lane {
        match self {
            Op::FilesUpload { .. } | Op::FilesDownload { .. } => Lane::Transfer,
            _ => Lane::Call,
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Runs one call on the async client; the answer as JSON (models serialized as the API
/// sends them).
pub async fn execute(c: Client, op: Op) -> Result<Value> {
    match op {
        Op::SpacesList => Ok(json(&c.spaces().list().await?)),
        Op::SpacesCreate { name } => Ok(json(&c.spaces().create(&name).await?)),
        Op::FoldersList { space_id, parent_id, trash } => Ok(json(&c.folders().list(&space_id, parent_id.as_deref(), trash).await?)),
        Op::FoldersCreate { name, space_id, parent_id } => Ok(json(&c.folders().create(&name, &space_id, parent_id.as_deref()).await?)),
        Op::FoldersRename { folder_id, name } => Ok(json(&c.folders().rename(&folder_id, &name).await?)),
        Op::FoldersMove { folder_id, parent_id } => Ok(json(&c.folders().move_to(&folder_id, parent_id.as_deref()).await?)),
        Op::FoldersDelete { folder_id } => Ok(json(&c.folders().delete(&folder_id).await?)),
        Op::FoldersRestore { folder_id } => Ok(json(&c.folders().restore(&folder_id).await?)),
        Op::FilesList { space_id, folder_id, trash, app } => {
            Ok(json(&c.files().list(&space_id, folder_id.as_deref(), trash, app.as_deref()).await?))
        }
        Op::FilesGet { file_id } => Ok(json(&c.files().get(&file_id).await?)),
        Op::FilesResolve { client_key, app } => Ok(json(&c.files().resolve(&client_key, app.as_deref()).await?)),
        Op::FilesRename { file_id, name } => Ok(json(&c.files().rename(&file_id, &name).await?)),
        Op::FilesMove { file_id, folder_id } => Ok(json(&c.files().move_to(&file_id, folder_id.as_deref()).await?)),
        Op::FilesDelete { file_id } => Ok(json(&c.files().delete(&file_id).await?)),
        Op::FilesRestore { file_id } => Ok(json(&c.files().restore(&file_id).await?)),
        Op::FilesDownloadUrl { file_id } => Ok(json(&c.files().download_url(&file_id).await?)),
        Op::FilesPublicUrl { file_id } => Ok(json(&c.files().public_url(&file_id).await?)),
        Op::FilesSignedUrl { file_id, expires_in_days, permission } => {
            Ok(json(&c.files().signed_url(&file_id, expires_in_days, permission).await?))
        }
        Op::FilesUpload { source, options } => Ok(json(&c.files().upload(source, options).await?)),
        Op::FilesDownload { file_id, dest, options } => Ok(json(&c.files().download(&file_id, &dest, options).await?)),
        Op::SharesList { file_id, include_inactive } => Ok(json(&c.shares().list(file_id.as_deref(), include_inactive).await?)),
        Op::SharesRevoke { share_id } => {
            c.shares().revoke(&share_id).await?;
            Ok(Value::Null)
        }
        Op::QuotaUsage => Ok(json(&c.quota().usage().await?)),
        Op::ExchangeServiceToken { user_jwt, app, job_id, ttl_seconds } => {
            Ok(json(&c.exchange_service_token(&user_jwt, &app, job_id.as_deref(), ttl_seconds).await?))
        }
    }
}
