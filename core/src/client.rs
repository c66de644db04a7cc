//! The async client: options, construction, and every call of PROTOCOL §5 but the transfers.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::http::{segment, Http};
use crate::models::{DelegatedToken, DownloadUrl, File, Folder, Link, Permission, Quota, Share, Space};
use crate::transport::{Method, Proxy, ReqwestTransport, Transport};

pub const DEFAULT_BASE_URL: &str = "https://api-cloud.fluidvip.com";
pub const ENV_API_KEY: &str = "FLUIDCLOUD_API_KEY";
pub const ENV_BASE_URL: &str = "FLUIDCLOUD_BASE_URL";
/// Real object stores cap each connection; parallel parts are how uploads get fast.
pub const DEFAULT_CONCURRENCY: usize = 8;
const USER_AGENT: &str = concat!("fluidcloud-rust/", env!("CARGO_PKG_VERSION"));

/// How to build a [`Client`]. Unset `api_key`/`base_url` come from `FLUIDCLOUD_API_KEY` /
/// `FLUIDCLOUD_BASE_URL`. `Debug` never shows the key.
#[derive(Clone)]
pub struct ClientOptions {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub api_version: String,
    /// The longest wait for the server to make progress: to take the next piece of a request
    /// body, to start its answer, to send the next piece of it. Not a cap on a whole transfer,
    /// which may take as long as the link needs.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    /// Parts in flight at once during a multipart upload.
    pub concurrency: usize,
    /// Appended to the User-Agent, e.g. `fluidcloud-python/0.1.0`.
    pub user_agent: Option<String>,
    pub proxy: Proxy,
    /// Allow plain `http://` to a host that is not loopback (the key would travel in clear).
    pub allow_insecure_http: bool,
    /// How long `public: true` waits for a pending scan before minting the link.
    pub public_link_wait: Duration,
    /// Route every request through this instead of reqwest.
    pub transport: Option<Arc<dyn Transport>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            api_key: None,
            base_url: None,
            api_version: "v1".into(),
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_retries: 2,
            concurrency: DEFAULT_CONCURRENCY,
            user_agent: None,
            proxy: Proxy::System,
            allow_insecure_http: false,
            public_link_wait: Duration::from_secs(30),
            transport: None,
        }
    }
}

impl ClientOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    pub fn user_agent(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent = Some(suffix.into());
        self
    }
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
    pub fn public_link_wait(mut self, wait: Duration) -> Self {
        self.public_link_wait = wait;
        self
    }
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("concurrency", &self.concurrency)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("public_link_wait", &self.public_link_wait)
            .field("transport", &self.transport.as_ref().map(|_| "<custom>"))
            .finish()
    }
}

/// The FluidCloud client. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: Http,
    pub options: ClientOptions,
    pub base_url: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"<redacted>")
            .field("max_retries", &self.inner.options.max_retries)
            .field("concurrency", &self.inner.options.concurrency)
            .finish()
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Whether a credential may be sent to `url`: https anywhere, plain http only to loopback.
fn check_origin(url: &reqwest::Url, allow_insecure_http: bool) -> Result<()> {
    if !url.username().is_empty() || url.password().is_some() {
        // reqwest would send them as Basic auth beside the key; and they would show in
        // `base_url()`, `Debug` and `repr`.
        return Err(Error::invalid("client", "base_url must not hold a user name or password: the API key authenticates"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid("client", "base_url must not have a query or fragment: API paths are appended to it"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            if is_loopback(url) || allow_insecure_http {
                Ok(())
            } else {
                Err(Error::invalid(
                    "client",
                    format!(
                        "refusing to send the API key unencrypted over plain http to {}; use https",
                        url.host_str().unwrap_or("")
                    ),
                ))
            }
        }
        other => Err(Error::invalid("client", format!("base_url must be http(s), not '{other}'"))),
    }
}

impl Client {
    /// Builds a client; a missing key (in the options and `FLUIDCLOUD_API_KEY`) is an error.
    pub fn new(options: ClientOptions) -> Result<Client> {
        let mut options = options;
        let api_key = options.api_key.clone().or_else(|| env_nonempty(ENV_API_KEY)).ok_or_else(|| {
            Error::invalid("client", format!("no API key: pass api_key or set {ENV_API_KEY}"))
        })?;
        // A key pasted with a newline, or read from a file, still works; the key itself is
        // never quoted back.
        let api_key = api_key.trim().to_string();
        if api_key.is_empty() {
            return Err(Error::invalid("client", "the API key is empty"));
        }
        if reqwest::header::HeaderValue::from_str(&api_key).is_err() {
            return Err(Error::invalid("client", "the API key contains characters that cannot be sent in a header"));
        }
        let base_url = options
            .base_url
            .clone()
            .or_else(|| env_nonempty(ENV_BASE_URL))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| {
            // Quoted back unless it may hold a password.
            let shown = if base_url.contains('@') { String::new() } else { format!(" '{base_url}'") };
            Error::invalid("client", format!("base_url{shown} is not a URL: {e}"))
        })?;
        check_origin(&parsed, options.allow_insecure_http)?;
        // Pasted into every URL's path: it must stay one plain segment there.
        let version = options.api_version.as_str();
        let plain = version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if version.is_empty() || version == "." || version == ".." || !plain {
            return Err(Error::invalid("client", "api_version must be one path segment of letters, digits, '.', '-' or '_', e.g. 'v1'"));
        }
        // Zero would fail every call with a timeout; bindings pass `Duration::MAX` for no limit.
        for (name, value) in [("timeout", options.timeout), ("connect_timeout", options.connect_timeout)] {
            if value.is_zero() {
                return Err(Error::invalid("client", format!("{name} must be longer than zero")));
            }
        }
        if options.concurrency == 0 {
            return Err(Error::invalid("client", "concurrency must be at least 1"));
        }
        let transport: Arc<dyn Transport> = match &options.transport {
            Some(t) => t.clone(),
            None => Arc::new(
                ReqwestTransport::new(options.timeout, options.connect_timeout, &options.proxy)
                    .map_err(|e| Error::invalid("client", e.message))?,
            ),
        };
        let user_agent = match &options.user_agent {
            Some(suffix) => format!("{USER_AGENT} {suffix}"),
            None => USER_AGENT.to_string(),
        };
        let api_base = format!("{base_url}/api/{}", options.api_version);
        let http = Http::new(transport, &api_base, api_key, &user_agent, options.max_retries)?;
        options.api_key = None; // kept once, inside `http`
        Ok(Client { inner: Arc::new(Inner { http, options, base_url }) })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    pub fn spaces(&self) -> Spaces<'_> {
        Spaces { c: self }
    }
    pub fn folders(&self) -> Folders<'_> {
        Folders { c: self }
    }
    pub fn files(&self) -> Files<'_> {
        Files { c: self }
    }
    pub fn shares(&self) -> Shares<'_> {
        Shares { c: self }
    }
    pub fn quota(&self) -> QuotaApi<'_> {
        QuotaApi { c: self }
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }

    /// Trades this service key and an end user's JWT for a token that acts as that user.
    pub async fn exchange_service_token(
        &self,
        user_jwt: &str,
        app: &str,
        job_id: Option<&str>,
        ttl_seconds: Option<u64>,
    ) -> Result<DelegatedToken> {
        let call = "exchange_service_token";
        require(call, "user_jwt", user_jwt)?;
        require(call, "app", app)?;
        let mut body = json!({ "user_jwt": user_jwt, "app": app });
        if let Some(job) = job_id {
            body["job_id"] = json!(job);
        }
        if let Some(ttl) = ttl_seconds {
            body["ttl_seconds"] = json!(ttl);
        }
        self.http().call(call, Method::POST, "/auth/service-token", &[], Some(body)).await
    }

    /// A new client acting as the end user, sharing this one's connections and settings.
    pub async fn as_user(&self, user_jwt: &str, app: &str, job_id: Option<&str>, ttl_seconds: Option<u64>) -> Result<Client> {
        let token = self.exchange_service_token(user_jwt, app, job_id, ttl_seconds).await?;
        self.with_credential(token.token)
    }

    /// The same connections and options, acting with another credential (a delegated token).
    pub fn with_credential(&self, credential: String) -> Result<Client> {
        let http = self.inner.http.with_credential(credential)?;
        Ok(Client { inner: Arc::new(Inner { http, options: self.inner.options.clone(), base_url: self.inner.base_url.clone() }) })
    }

    /// Whether the credential travels unencrypted: plain http to a host other than this
    /// machine (only with `allow_insecure_http`).
    pub fn sends_credential_in_clear(&self) -> bool {
        reqwest::Url::parse(&self.inner.base_url).is_ok_and(|u| u.scheme() == "http" && !is_loopback(&u))
    }
}

pub(crate) fn require(call: &str, what: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(call, format!("{what} must not be empty")));
    }
    Ok(())
}

fn flag(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

#[derive(Clone, Copy)]
pub struct Spaces<'a> {
    c: &'a Client,
}

impl Spaces<'_> {
    pub async fn list(self) -> Result<Vec<Space>> {
        self.c.http().call("spaces.list", Method::GET, "/spaces", &[], None).await
    }

    pub async fn create(self, name: &str) -> Result<Space> {
        require("spaces.create", "name", name)?;
        self.c.http().call("spaces.create", Method::POST, "/spaces", &[], Some(json!({ "name": name }))).await
    }

    /// The space `name_or_id` names: an id, else a name only one space has. With `None`,
    /// the only space there is. Errors list what there is to choose from.
    pub async fn find(self, name_or_id: Option<&str>) -> Result<Space> {
        let call = "spaces.find";
        let spaces = self.list().await.map_err(|e| e.with_call(call))?;
        let listing = || {
            let names: Vec<String> = spaces.iter().map(|s| format!("{} ({})", s.name, s.id)).collect();
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        };
        let Some(wanted) = name_or_id else {
            return match spaces.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(Error::new(ErrorKind::NotFound, call, "there is no space yet; create one")),
                _ => Err(Error::invalid(call, format!("there are {} spaces; name one of: {}", spaces.len(), listing()))),
            };
        };
        if let Some(space) = spaces.iter().find(|s| s.id == wanted) {
            return Ok(space.clone());
        }
        let named: Vec<&Space> = spaces.iter().filter(|s| s.name == wanted).collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::new(ErrorKind::NotFound, call, format!("no space is named or has the id '{wanted}'; spaces: {}", listing()))),
            several => {
                let ids: Vec<&str> = several.iter().map(|s| s.id.as_str()).collect();
                Err(Error::invalid(call, format!("{} spaces are named '{wanted}'; pass one id: {}", several.len(), ids.join(", "))))
            }
        }
    }
}

#[derive(Clone, Copy)]
pub struct Folders<'a> {
    c: &'a Client,
}

impl Folders<'_> {
    /// Folders under `parent_id` (`None` = the space root); `trash` lists only trashed ones.
    pub async fn list(self, space_id: &str, parent_id: Option<&str>, trash: bool) -> Result<Vec<Folder>> {
        require("folders.list", "space_id", space_id)?;
        let mut query = vec![("space_id", space_id.to_string())];
        if let Some(p) = parent_id {
            query.push(("parent_id", p.to_string()));
        }
        query.push(("trash", flag(trash)));
        self.c.http().call("folders.list", Method::GET, "/folders", &query, None).await
    }

    pub async fn create(self, name: &str, space_id: &str, parent_id: Option<&str>) -> Result<Folder> {
        require("folders.create", "name", name)?;
        require("folders.create", "space_id", space_id)?;
        let mut body = json!({ "name": name, "space_id": space_id });
        if let Some(p) = parent_id {
            body["parent_id"] = json!(p);
        }
        self.c.http().call("folders.create", Method::POST, "/folders", &[], Some(body)).await
    }

    /// The live folder `name` under `parent_id` (`None` = the space root): created, or the
    /// one already there.
    pub async fn ensure(self, name: &str, space_id: &str, parent_id: Option<&str>) -> Result<Folder> {
        match self.create(name, space_id, parent_id).await {
            Err(e) if e.kind() == ErrorKind::Conflict => {
                let siblings = self.list(space_id, parent_id, false).await?;
                siblings.into_iter().find(|f| f.name == name).ok_or_else(|| e.with_call("folders.ensure"))
            }
            other => other,
        }
    }

    pub async fn rename(self, folder_id: &str, name: &str) -> Result<Folder> {
        let path = format!("/folders/{}", segment("folders.rename", "folder_id", folder_id)?);
        require("folders.rename", "name", name)?;
        self.c.http().call("folders.rename", Method::PATCH, &path, &[], Some(json!({ "name": name }))).await
    }

    /// Moves under `parent_id`; `None` moves to the space root (sent as an explicit null).
    pub async fn move_to(self, folder_id: &str, parent_id: Option<&str>) -> Result<Folder> {
        let path = format!("/folders/{}", segment("folders.move", "folder_id", folder_id)?);
        self.c.http().call("folders.move", Method::PATCH, &path, &[], Some(json!({ "parent_id": parent_id }))).await
    }

    pub async fn delete(self, folder_id: &str) -> Result<Folder> {
        let path = format!("/folders/{}", segment("folders.delete", "folder_id", folder_id)?);
        self.c.http().call("folders.delete", Method::DELETE, &path, &[], None).await
    }

    pub async fn restore(self, folder_id: &str) -> Result<Folder> {
        let path = format!("/folders/{}/restore", segment("folders.restore", "folder_id", folder_id)?);
        self.c.http().call("folders.restore", Method::POST, &path, &[], None).await
    }
}

#[derive(Clone, Copy)]
pub struct Files<'a> {
    pub(crate) c: &'a Client,
}

impl Files<'_> {
    /// Files in `folder_id` (`None` = the space root); `trash` lists only trashed ones; `app`
    /// keeps only that app's files.
    pub async fn list(self, space_id: &str, folder_id: Option<&str>, trash: bool, app: Option<&str>) -> Result<Vec<File>> {
        require("files.list", "space_id", space_id)?;
        let mut query = vec![("space_id", space_id.to_string())];
        if let Some(f) = folder_id {
            query.push(("folder_id", f.to_string()));
        }
        query.push(("trash", flag(trash)));
        if let Some(a) = app {
            query.push(("app", a.to_string()));
        }
        self.c.http().call("files.list", Method::GET, "/files", &query, None).await
    }

    pub async fn get(self, file_id: &str) -> Result<File> {
        let path = format!("/files/{}", segment("files.get", "file_id", file_id)?);
        self.c.http().call("files.get", Method::GET, &path, &[], None).await
    }

    /// The newest live file uploaded with `client_key` in the `app` namespace.
    pub async fn resolve(self, client_key: &str, app: Option<&str>) -> Result<File> {
        require("files.resolve", "client_key", client_key)?;
        let mut query = vec![("client_key", client_key.to_string())];
        if let Some(a) = app {
            query.push(("app", a.to_string()));
        }
        self.c.http().call("files.resolve", Method::GET, "/files/resolve", &query, None).await
    }

    pub async fn rename(self, file_id: &str, name: &str) -> Result<File> {
        let path = format!("/files/{}", segment("files.rename", "file_id", file_id)?);
        require("files.rename", "name", name)?;
        self.c.http().call("files.rename", Method::PATCH, &path, &[], Some(json!({ "original_name": name }))).await
    }

    /// Moves into `folder_id`; `None` moves to the space root (sent as an explicit null).
    pub async fn move_to(self, file_id: &str, folder_id: Option<&str>) -> Result<File> {
        let path = format!("/files/{}", segment("files.move", "file_id", file_id)?);
        self.c.http().call("files.move", Method::PATCH, &path, &[], Some(json!({ "folder_id": folder_id }))).await
    }

    pub async fn delete(self, file_id: &str) -> Result<File> {
        let path = format!("/files/{}", segment("files.delete", "file_id", file_id)?);
        self.c.http().call("files.delete", Method::DELETE, &path, &[], None).await
    }

    pub async fn restore(self, file_id: &str) -> Result<File> {
        let path = format!("/files/{}/restore", segment("files.restore", "file_id", file_id)?);
        self.c.http().call("files.restore", Method::POST, &path, &[], None).await
    }

    /// A short-lived presigned GET URL for the owner.
    pub async fn download_url(self, file_id: &str) -> Result<DownloadUrl> {
        let path = format!("/files/{}/download", segment("files.download_url", "file_id", file_id)?);
        self.c.http().call("files.download_url", Method::GET, &path, &[], None).await
    }

    /// Mints (or returns) the permanent public link: inline, cacheable, never expires.
    pub async fn public_url(self, file_id: &str) -> Result<Link> {
        require("files.public_url", "file_id", file_id)?;
        let body = json!({ "file_id": file_id, "expires_in_days": Value::Null });
        self.c.http().call("files.public_url", Method::POST, "/shares", &[], Some(body)).await
    }

    /// Mints an expiring link (1..=365 days; the server judges the range, answering 422).
    pub async fn signed_url(self, file_id: &str, expires_in_days: u32, permission: Permission) -> Result<Link> {
        let call = "files.signed_url";
        require(call, "file_id", file_id)?;
        let body = json!({ "file_id": file_id, "expires_in_days": expires_in_days, "permission": permission.as_str() });
        self.c.http().call(call, Method::POST, "/shares", &[], Some(body)).await
    }
}

#[derive(Clone, Copy)]
pub struct Shares<'a> {
    c: &'a Client,
}

impl Shares<'_> {
    /// Active shares (`include_inactive` adds revoked and expired ones), of one file or all.
    pub async fn list(self, file_id: Option<&str>, include_inactive: bool) -> Result<Vec<Share>> {
        let mut query = Vec::new();
        if let Some(f) = file_id {
            require("shares.list", "file_id", f)?;
            query.push(("file_id", f.to_string()));
        }
        query.push(("include_inactive", flag(include_inactive)));
        self.c.http().call("shares.list", Method::GET, "/shares", &query, None).await
    }

    /// Revokes a link of either kind; revoking again is fine.
    pub async fn revoke(self, share_id: &str) -> Result<()> {
        let path = format!("/shares/{}", segment("shares.revoke", "share_id", share_id)?);
        self.c.http().call_raw("shares.revoke", Method::DELETE, &path, &[], None).await.map(|_| ())
    }
}

#[derive(Clone, Copy)]
pub struct QuotaApi<'a> {
    c: &'a Client,
}

impl QuotaApi<'_> {
    pub async fn usage(self) -> Result<Quota> {
        self.c.http().call("quota.usage", Method::GET, "/quota", &[], None).await
    }
}
