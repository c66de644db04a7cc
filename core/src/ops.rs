//! Every call of the SDK as data, for bindings that dispatch by name (Python, Node): a
//! binding converts its arguments into an [`Op`], and [`execute`] runs it on the async client
//! and gives back an [`Answer`]. The dispatch lives here once, not in each binding.

use std::path::PathBuf;

use serde::Serialize;

use crate::blocking::Lane;
use crate::models::{DelegatedToken, DownloadUrl, File, Folder, Link, Quota, Share, Space};
use crate::upload::upload_lane;
use crate::{CancellationToken, Client, DownloadOptions, Permission, Progress, Result, UploadOptions, UploadSource};

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

/// A binding's arguments of one call, read by name. Each binding reads its own language's
/// values and words its own errors; which call takes which arguments is decided here.
pub trait Args {
    type Error;
    fn opt_str(&self, key: &str) -> std::result::Result<Option<String>, Self::Error>;
    /// A required string: missing is an error.
    fn str(&self, key: &str) -> std::result::Result<String, Self::Error>;
    /// Absent means `false`.
    fn flag(&self, key: &str) -> std::result::Result<bool, Self::Error>;
    fn opt_u64(&self, key: &str) -> std::result::Result<Option<u64>, Self::Error>;
    /// An argument of the right type with a value the call cannot take.
    fn invalid(&self, message: String) -> Self::Error;
}

impl Op {
    /// The call named `name`, for every call but the transfers (`files.upload`,
    /// `files.download`), whose sources, progress and cancellation each binding builds from
    /// its own language's objects. `Ok(None)` for those and for unknown names.
    pub fn parse<A: Args>(name: &str, a: &A) -> std::result::Result<Option<Op>, A::Error> {
        Ok(Some(match name {
            "spaces.list" => Op::SpacesList,
            "spaces.create" => Op::SpacesCreate { name: a.str("name")? },
            "folders.list" => Op::FoldersList { space_id: a.str("space_id")?, parent_id: a.opt_str("parent_id")?, trash: a.flag("trash")? },
            "folders.create" => Op::FoldersCreate { name: a.str("name")?, space_id: a.str("space_id")?, parent_id: a.opt_str("parent_id")? },
            "folders.rename" => Op::FoldersRename { folder_id: a.str("folder_id")?, name: a.str("name")? },
            "folders.move" => Op::FoldersMove { folder_id: a.str("folder_id")?, parent_id: a.opt_str("parent_id")? },
            "folders.delete" => Op::FoldersDelete { folder_id: a.str("folder_id")? },
            "folders.restore" => Op::FoldersRestore { folder_id: a.str("folder_id")? },
            "files.list" => Op::FilesList {
                space_id: a.str("space_id")?,
                folder_id: a.opt_str("folder_id")?,
                trash: a.flag("trash")?,
                app: a.opt_str("app")?,
            },
            "files.get" => Op::FilesGet { file_id: a.str("file_id")? },
            "files.resolve" => Op::FilesResolve { client_key: a.str("client_key")?, app: a.opt_str("app")? },
            "files.rename" => Op::FilesRename { file_id: a.str("file_id")?, name: a.str("name")? },
            "files.move" => Op::FilesMove { file_id: a.str("file_id")?, folder_id: a.opt_str("folder_id")? },
            "files.delete" => Op::FilesDelete { file_id: a.str("file_id")? },
            "files.restore" => Op::FilesRestore { file_id: a.str("file_id")? },
            "files.download_url" => Op::FilesDownloadUrl { file_id: a.str("file_id")? },
            "files.public_url" => Op::FilesPublicUrl { file_id: a.str("file_id")? },
            "files.signed_url" => {
                // The 1..=365 range is the server's to judge (a 422), as the official client
                // leaves it; only what cannot be sent at all is refused here.
                let days = a.opt_u64("expires_in_days")?.unwrap_or(7);
                let days = u32::try_from(days).map_err(|_| a.invalid("expires_in_days must be between 1 and 365".into()))?;
                let permission: Permission = a.opt_str("permission")?.unwrap_or_else(|| "view".into()).parse().map_err(|e| a.invalid(e))?;
                Op::FilesSignedUrl { file_id: a.str("file_id")?, expires_in_days: days, permission }
            }
            "shares.list" => Op::SharesList { file_id: a.opt_str("file_id")?, include_inactive: a.flag("include_inactive")? },
            "shares.revoke" => Op::SharesRevoke { share_id: a.str("share_id")? },
            "quota.usage" => Op::QuotaUsage,
            "auth.exchange_service_token" => Op::ExchangeServiceToken {
                user_jwt: a.str("user_jwt")?,
                app: a.str("app")?,
                job_id: a.opt_str("job_id")?,
                ttl_seconds: a.opt_u64("ttl_seconds")?,
            },
            _ => return Ok(None),
        }))
    }

    /// `files.upload` of `source` (made by the binding from its own objects), the other
    /// options read from `a`.
    pub fn upload<A: Args>(a: &A, source: UploadSource, progress: Option<Progress>, cancel: CancellationToken) -> std::result::Result<Op, A::Error> {
        let options = UploadOptions {
            space_id: a.str("space_id")?,
            folder_id: a.opt_str("folder_id")?,
            name: a.opt_str("name")?,
            content_type: a.opt_str("content_type")?,
            public: a.flag("public")?,
            app: a.opt_str("app")?,
            client_key: a.opt_str("client_key")?,
            progress,
            cancel: Some(cancel),
        };
        Ok(Op::FilesUpload { source, options })
    }

    /// `files.download` to `dest` (a path in the binding's own terms), the file id read from `a`.
    pub fn download<A: Args>(a: &A, dest: PathBuf, progress: Option<Progress>, cancel: CancellationToken) -> std::result::Result<Op, A::Error> {
        Ok(Op::FilesDownload { file_id: a.str("file_id")?, dest, options: DownloadOptions { progress, cancel: Some(cancel) } })
    }

    /// Where a blocking caller should run it.
    pub fn lane(&self) -> Lane {
        match self {
            Op::FilesUpload { source, options } => upload_lane(source, options),
            Op::FilesDownload { .. } => Lane::Transfer,
            _ => Lane::Call,
        }
    }
}

/// What a call answers, typed. A binding turns it into its own language's values (Python
/// builds its objects straight from it) or into the API's JSON with [`Answer::to_json`].
#[derive(Debug, Serialize)]
#[serde(untagged)]
// A File is the answer of most calls: boxing it would allocate per call to save moving 424 bytes.
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    Space(Space),
    Spaces(Vec<Space>),
    Folder(Folder),
    Folders(Vec<Folder>),
    File(File),
    Files(Vec<File>),
    DownloadUrl(DownloadUrl),
    Link(Link),
    Shares(Vec<Share>),
    Quota(Quota),
    Token(DelegatedToken),
    /// A call with nothing to answer (`shares.revoke`): `null`.
    Nothing,
}

impl Answer {
    /// The answer as the API's JSON text, straight from the model (no `serde_json::Value`
    /// in between: building one cost a third of a short call's instructions).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}

/// Runs one call on the async client. The transfers' futures are boxed: they are several
/// KiB, and this future is moved a few times on its way to a runtime, for short calls too.
pub async fn execute(c: Client, op: Op) -> Result<Answer> {
    Ok(match op {
        Op::SpacesList => Answer::Spaces(c.spaces().list().await?),
        Op::SpacesCreate { name } => Answer::Space(c.spaces().create(&name).await?),
        Op::FoldersList { space_id, parent_id, trash } => Answer::Folders(c.folders().list(&space_id, parent_id.as_deref(), trash).await?),
        Op::FoldersCreate { name, space_id, parent_id } => Answer::Folder(c.folders().create(&name, &space_id, parent_id.as_deref()).await?),
        Op::FoldersRename { folder_id, name } => Answer::Folder(c.folders().rename(&folder_id, &name).await?),
        Op::FoldersMove { folder_id, parent_id } => Answer::Folder(c.folders().move_to(&folder_id, parent_id.as_deref()).await?),
        Op::FoldersDelete { folder_id } => Answer::Folder(c.folders().delete(&folder_id).await?),
        Op::FoldersRestore { folder_id } => Answer::Folder(c.folders().restore(&folder_id).await?),
        Op::FilesList { space_id, folder_id, trash, app } => {
            Answer::Files(c.files().list(&space_id, folder_id.as_deref(), trash, app.as_deref()).await?)
        }
        Op::FilesGet { file_id } => Answer::File(c.files().get(&file_id).await?),
        Op::FilesResolve { client_key, app } => Answer::File(c.files().resolve(&client_key, app.as_deref()).await?),
        Op::FilesRename { file_id, name } => Answer::File(c.files().rename(&file_id, &name).await?),
        Op::FilesMove { file_id, folder_id } => Answer::File(c.files().move_to(&file_id, folder_id.as_deref()).await?),
        Op::FilesDelete { file_id } => Answer::File(c.files().delete(&file_id).await?),
        Op::FilesRestore { file_id } => Answer::File(c.files().restore(&file_id).await?),
        Op::FilesDownloadUrl { file_id } => Answer::DownloadUrl(c.files().download_url(&file_id).await?),
        Op::FilesPublicUrl { file_id } => Answer::Link(c.files().public_url(&file_id).await?),
        Op::FilesSignedUrl { file_id, expires_in_days, permission } => {
            Answer::Link(c.files().signed_url(&file_id, expires_in_days, permission).await?)
        }
        Op::FilesUpload { source, options } => Answer::File(Box::pin(c.files().upload(source, options)).await?),
        Op::FilesDownload { file_id, dest, options } => Answer::File(Box::pin(c.files().download(&file_id, &dest, options)).await?),
        Op::SharesList { file_id, include_inactive } => Answer::Shares(c.shares().list(file_id.as_deref(), include_inactive).await?),
        Op::SharesRevoke { share_id } => {
            c.shares().revoke(&share_id).await?;
            Answer::Nothing
        }
        Op::QuotaUsage => Answer::Quota(c.quota().usage().await?),
        Op::ExchangeServiceToken { user_jwt, app, job_id, ttl_seconds } => {
            Answer::Token(c.exchange_service_token(&user_jwt, &app, job_id.as_deref(), ttl_seconds).await?)
        }
    })
}
