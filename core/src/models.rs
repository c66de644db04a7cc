//! What the API returns (PROTOCOL §4). Unknown fields are ignored; every field the protocol
//! does not mark required is optional.

use serde::{Deserialize, Deserializer, Serialize};

use crate::transport::{redacted_url, Redact};

/// A field the protocol lets be `null` (PROTOCOL §4) read as its default: `#[serde(default)]`
/// covers only an absent one.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

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

/// A newly minted share link; `expires_at` is `None` for a permanent public link. Its `Debug`
/// hides all of the URL but its origin: the token in it lets anyone download the file.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub id: String,
    #[serde(default = "view", deserialize_with = "view_if_null")]
    pub permission: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn view() -> String {
    "view".to_string()
}

fn view_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(view))
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("url", &redacted_url(&self.url, Redact::AllButOrigin))
            .field("id", &self.id)
            .field("permission", &self.permission)
            .field("expires_at", &self.expires_at)
            .finish()
    }
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub download_count: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub revoked: bool,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub bytes_used: i64,
    #[serde(default, deserialize_with = "null_as_default")]
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
    #[serde(default, deserialize_with = "null_as_default")]
    pub expires_in: i64,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default = "bearer", deserialize_with = "bearer_if_null")]
    pub token_type: String,
}

fn bearer() -> String {
    "Bearer".to_string()
}

fn bearer_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(bearer))
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

/// A short-lived presigned GET for the file's owner. Its `Debug` hides the URL's query: the
/// signature there lets anyone download the file.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadUrl {
    pub url: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for DownloadUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadUrl")
            .field("url", &redacted_url(&self.url, Redact::Query))
            .field("expires_at", &self.expires_at)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    /// `required` plus every optional field of PROTOCOL §4 as `null`.
    fn with_nulls<T: DeserializeOwned>(required: Value, optional: &[&str]) -> T {
        let mut v = required;
        for key in optional {
            v[*key] = Value::Null;
        }
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
    }

    #[test]
    fn every_optional_field_may_be_null() {
        let space: Space = with_nulls(json!({"id": "s", "name": "n"}), &["tenant_id", "created_at", "updated_at"]);
        assert_eq!(space.tenant_id, None);
        let _: Folder = with_nulls(
            json!({"id": "f", "name": "n"}),
            &["space_id", "parent_id", "tenant_id", "deleted_at", "created_at", "updated_at"],
        );
        let file: File = with_nulls(
            json!({"id": "f", "original_name": "a.txt"}),
            &[
                "name", "space_id", "folder_id", "tenant_id", "mime", "size", "sha256", "scan_status", "status",
                "created_by", "source_app", "client_key", "deleted_at", "created_at", "updated_at", "public_url",
            ],
        );
        assert_eq!(file.size, None);
        let link: Link = with_nulls(json!({"url": "https://x.example/s/t", "id": "l"}), &["permission", "expires_at"]);
        assert_eq!(link.permission, "view");
        let share: Share = with_nulls(
            json!({"id": "s", "file_id": "f", "permission": "view"}),
            &["expires_at", "max_downloads", "download_count", "revoked", "has_password", "created_at", "updated_at"],
        );
        assert_eq!((share.download_count, share.revoked, share.has_password), (0, false, false));
        let quota: Quota = with_nulls(
            json!({"bytes_used": 1, "bytes_limit": 2, "links_used": 3, "links_limit": 4, "by_app": null}),
            &["by_app"],
        );
        assert_eq!(quota.by_app, None);
        let quota: Quota = serde_json::from_value(json!({
            "bytes_used": 1, "bytes_limit": 2, "links_used": 3, "links_limit": 4,
            "by_app": [{"app": null, "bytes_used": null, "files": null}],
        }))
        .unwrap();
        assert_eq!(quota.by_app, Some(vec![AppUsage { app: None, bytes_used: 0, files: 0 }]));
        let token: DelegatedToken =
            with_nulls(json!({"token": "fcd_x"}), &["expires_in", "tenant_id", "user_id", "app", "token_type"]);
        assert_eq!((token.expires_in, token.token_type.as_str()), (0, "Bearer"));
        let url: DownloadUrl = with_nulls(json!({"url": "https://x.example/k"}), &["expires_at"]);
        assert_eq!(url.expires_at, None);
    }

    #[test]
    fn absent_optional_fields_keep_their_defaults() {
        let link: Link = serde_json::from_value(json!({"url": "u", "id": "l"})).unwrap();
        assert_eq!(link.permission, "view");
        let token: DelegatedToken = serde_json::from_value(json!({"token": "t"})).unwrap();
        assert_eq!(token.token_type, "Bearer");
        assert!(serde_json::from_value::<Share>(json!({"id": "s", "file_id": "f", "revoked": "yes", "permission": "view"})).is_err());
    }

    #[test]
    fn debug_hides_signatures_and_link_tokens() {
        let url = DownloadUrl {
            url: "https://store.example/t/k.bin?expires=1&signature=s3cr3tsig".into(),
            expires_at: Some("2030-01-01T00:00:00Z".into()),
        };
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cr3tsig") && !shown.contains("signature="), "{shown}");
        assert!(shown.contains("https://store.example/t/k.bin?<redacted>"), "{shown}");

        let link = Link { url: "https://files.example/s/t0k3n".into(), id: "l1".into(), permission: "view".into(), expires_at: None };
        let shown = format!("{link:?}");
        assert!(!shown.contains("t0k3n"), "{shown}");
        assert!(shown.contains("https://files.example/<redacted>") && shown.contains("l1"), "{shown}");
    }
}
