//! What the API returns (PROTOCOL §4). Unknown fields are ignored; every field the protocol
//! does not mark required is optional.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Space {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Folder {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub space_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub id: String,
    pub original_name: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub space_id: Option<String>,
    #[serde(default)]
    pub folder_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub mime: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// `pending`, `clean`, `infected` or `error`.
    #[serde(default)]
    pub scan_status: Option<String>,
    /// `pending` or `ready`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub source_app: Option<String>,
    #[serde(default)]
    pub client_key: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Set by an upload with `public: true`: the permanent public link. Not sent by the server.
    #[serde(default)]
    pub public_url: Option<String>,
}

/// A newly minted share link; `expires_at` is `None` for a permanent public link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub id: String,
    #[serde(default = "view")]
    pub permission: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn view() -> String {
    "view".to_string()
}

/// A listed share (its URL is never listed again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub id: String,
    pub file_id: String,
    pub permission: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub max_downloads: Option<i64>,
    #[serde(default)]
    pub download_count: i64,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub has_password: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppUsage {
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub bytes_used: i64,
    #[serde(default)]
    pub files: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    pub bytes_used: i64,
    pub bytes_limit: i64,
    pub links_used: i64,
    pub links_limit: i64,
    #[serde(default)]
    pub by_app: Option<Vec<AppUsage>>,
}

/// A delegation token that acts as an end user. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DelegatedToken {
    pub token: String,
    #[serde(default)]
    pub expires_in: i64,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default = "bearer")]
    pub token_type: String,
}

fn bearer() -> String {
    "Bearer".to_string()
}

impl std::fmt::Debug for DelegatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatedToken")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("app", &self.app)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// A short-lived presigned GET for the file's owner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownloadUrl {
    pub url: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// What a signed link lets its holder do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Permission {
    /// Served inline.
    #[default]
    View,
    /// Served as an attachment.
    Download,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Download => "download",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "view" => Ok(Permission::View),
            "download" => Ok(Permission::Download),
            other => Err(format!("permission must be 'view' or 'download', not '{other}'")),
        }
    }
}
