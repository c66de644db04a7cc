//! The HTTP layer behind a small trait, so a binding can route every request (API calls and
//! storage PUTs alike) through its own HTTP client. The default is reqwest with rustls.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, Url};

/// A request body. Streams carry their exact length: storage refuses bodies without one.
pub enum RequestBody {
    Empty,
    Bytes(Bytes),
    Stream { len: u64, stream: BoxStream<'static, std::io::Result<Bytes>> },
}

impl RequestBody {
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Empty => 0,
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::Stream { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct HttpRequest {
    pub method: Method,
    /// Parsed once by the SDK: a transport needs not parse it again per request.
    pub url: Url,
    pub headers: HeaderMap,
    pub body: RequestBody,
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: BoxStream<'static, Result<Bytes, TransportError>>,
}

impl HttpResponse {
    /// The whole body, up to `limit` bytes (the rest is dropped).
    pub async fn bytes(self, limit: usize) -> Result<Bytes, TransportError> {
        let mut body = self.body;
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok(Bytes::from(out))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection could be made: nothing was sent.
    Connect,
    /// The request timed out.
    Timeout,
    /// The connection broke during the exchange: the server may have acted.
    Broken,
}

#[derive(Debug)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {}

/// Sends one HTTP request. Implementations must not follow redirects and must send the
/// body's exact length as `Content-Length`.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>>;
}

/// reqwest over rustls; honours `HTTPS_PROXY`/`NO_PROXY` unless told otherwise.
pub struct ReqwestTransport {
    client: reqwest::Client,
}

#[derive(Clone, Debug, Default)]
pub enum Proxy {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the environment.
    #[default]
    System,
    /// Never a proxy.
    None,
    /// Every request through this proxy URL.
    Url(String),
}

impl ReqwestTransport {
    pub fn new(timeout: Duration, connect_timeout: Duration, proxy: &Proxy) -> Result<Self, TransportError> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60));
        builder = match proxy {
            Proxy::System => builder,
            Proxy::None => builder.no_proxy(),
            Proxy::Url(url) => {
                let p = reqwest::Proxy::all(url).map_err(|e| TransportError {
                    kind: TransportErrorKind::Connect,
                    message: format!("invalid proxy URL: {e}"),
                })?;
                builder.proxy(p)
            }
        };
        let client = builder
            .build()
            .map_err(|e| TransportError { kind: TransportErrorKind::Connect, message: e.to_string() })?;
        Ok(ReqwestTransport { client })
    }
}

fn classify(e: &reqwest::Error) -> TransportErrorKind {
    if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Broken
    }
}

/// reqwest's messages nest their causes; one line with every cause reads best. URLs are left
/// out: a presigned URL's signature is a secret of its own.
fn convert(e: reqwest::Error) -> TransportError {
    let kind = classify(&e);
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    TransportError { kind, message }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let mut headers = request.headers;
        let len = request.body.len();
        let body = match request.body {
            RequestBody::Empty => None,
            RequestBody::Bytes(b) => Some(reqwest::Body::from(b)),
            RequestBody::Stream { stream, .. } => Some(reqwest::Body::wrap_stream(stream)),
        };
        // Always explicit: it keeps hyper from chunking a stream, and storage wants it even
        // for an empty PUT.
        if body.is_some() || request.method == Method::PUT || request.method == Method::POST {
            headers.insert(reqwest::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        let mut builder = self.client.request(request.method, request.url).headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        Box::pin(async move {
            let mut resp = builder
                .send()
                .await
                .map_err(convert)?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            let body = resp
                .bytes_stream()
                .map_err(convert)
                .boxed();
            Ok(HttpResponse { status, headers, body })
        })
    }
}
