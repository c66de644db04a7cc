//! The HTTP layer behind a small trait, so a binding can route every request (API calls and
//! storage PUTs alike) through its own HTTP client. The default is reqwest with rustls.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, Stream};
use futures_util::{StreamExt, TryStreamExt};
use tokio::time::{Instant, Sleep};

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

/// How a request failed. More kinds may come: a `match` needs a wildcard arm.
///
/// ```compile_fail,E0004
/// fn retryable(kind: fluidcloud::transport::TransportErrorKind) -> bool {
///     use fluidcloud::transport::TransportErrorKind as K;
///     match kind {
///         K::Connect | K::Timeout | K::Broken => true,
///         K::Other => false,
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made: nothing was sent.
    Connect,
    /// The request timed out.
    Timeout,
    /// The connection broke during the exchange: the server may have acted.
    Broken,
    /// Not a network failure: a custom transport's own code failed (a caller's mock that
    /// raised, say). Never retried; bindings hand back the `cause` as it was.
    Other,
}

#[derive(Debug)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
    /// What the transport itself reported, kept for bindings that can re-raise it.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError { kind, message: message.into(), cause: None }
    }

    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Sends one HTTP request. Implementations must not follow redirects and must send the
/// body's exact length as `Content-Length`.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>>;
}

/// reqwest over rustls; honours `HTTPS_PROXY`/`NO_PROXY` unless told otherwise.
///
/// Its timeout bounds every wait for the other side to make progress, as httpx's and the
/// sockets' timeouts do, not a whole exchange: the body being taken piece by piece, the
/// response starting, each piece of the response body. A 100 MB upload or a large download
/// over a slow link takes as long as it takes; one that stalls ends after the timeout.
pub struct ReqwestTransport {
    client: reqwest::Client,
    idle_timeout: Duration,
}

/// Which proxy requests go through. `Debug` hides a user name and password in the URL. More
/// choices may come: a `match` needs a wildcard arm.
///
/// ```compile_fail,E0004
/// fn uses_one(proxy: &fluidcloud::transport::Proxy) -> bool {
///     use fluidcloud::transport::Proxy;
///     match proxy {
///         Proxy::System | Proxy::Url(_) => true,
///         Proxy::None => false,
///     }
/// }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Proxy {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the environment.
    #[default]
    System,
    /// Never a proxy.
    None,
    /// Every request through this proxy URL.
    Url(String),
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proxy::System => f.write_str("System"),
            Proxy::None => f.write_str("None"),
            Proxy::Url(url) => f.debug_tuple("Url").field(&redacted_url(url, Redact::Credentials)).finish(),
        }
    }
}

/// What [`redacted_url`] hides besides a user name and password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redact {
    /// Nothing else: a proxy's address is not a secret.
    Credentials,
    /// The query and fragment too: a presigned URL's signature is.
    Query,
    /// Everything after the host: a share link is opaque, its token may be anywhere in it.
    AllButOrigin,
}

/// A URL fit for `Debug`: `scheme://host:port/path` with the secret parts replaced by
/// `<redacted>`. Text that is not a URL with a host shows as `<redacted>` whole: where its
/// secret sits cannot be told.
pub(crate) fn redacted_url(raw: &str, what: Redact) -> String {
    const HIDDEN: &str = "<redacted>";
    let Ok(url) = Url::parse(raw) else { return HIDDEN.to_string() };
    let Some(host) = url.host_str() else { return HIDDEN.to_string() };
    let mut shown = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        shown.push_str(HIDDEN);
        shown.push('@');
    }
    shown.push_str(host);
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    if what == Redact::AllButOrigin {
        shown.push('/');
        shown.push_str(HIDDEN);
        return shown;
    }
    shown.push_str(url.path());
    for (mark, part) in [('?', url.query()), ('#', url.fragment())] {
        if let Some(part) = part {
            shown.push(mark);
            shown.push_str(if what == Redact::Query { HIDDEN } else { part });
        }
    }
    shown
}

impl ReqwestTransport {
    /// `timeout`: the longest wait for progress (see the type's documentation); connecting is
    /// such a wait too, so a longer `connect_timeout` never applies in full.
    pub fn new(timeout: Duration, connect_timeout: Duration, proxy: &Proxy) -> Result<Self, TransportError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60));
        builder = match proxy {
            Proxy::System => builder,
            Proxy::None => builder.no_proxy(),
            Proxy::Url(url) => {
                let p = reqwest::Proxy::all(url)
                    .map_err(|e| TransportError::new(TransportErrorKind::Connect, format!("invalid proxy URL: {e}")))?;
                builder.proxy(p)
            }
        };
        let client = builder
            .build()
            .map_err(|e| TransportError::new(TransportErrorKind::Connect, e.to_string()))?;
        Ok(ReqwestTransport { client, idle_timeout: timeout })
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
    // Kept as the cause: bindings look in it for the operating system's error number.
    TransportError::new(kind, message).with_cause(e)
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, TransportError>> {
        let idle = self.idle_timeout;
        let mut headers = request.headers;
        let len = request.body.len();
        let progress = Progress::new();
        let body = match request.body {
            RequestBody::Empty => None,
            RequestBody::Bytes(b) if b.len() <= BODY_PIECE => Some(reqwest::Body::from(b)),
            // In pieces, so that a large body sent slowly shows its progress.
            RequestBody::Bytes(b) => Some(reqwest::Body::wrap_stream(progress.watch(pieces(b)))),
            RequestBody::Stream { stream, .. } => Some(reqwest::Body::wrap_stream(progress.watch(stream))),
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
            let mut resp = progress.within(idle, builder.send()).await?.map_err(convert)?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            let body = IdleTimeout::new(resp.bytes_stream().map_err(convert), idle).boxed();
            Ok(HttpResponse { status, headers, body })
        })
    }
}

/// Request bodies larger than this are handed over in pieces of this size.
const BODY_PIECE: usize = 256 * 1024;

fn pieces(data: Bytes) -> BoxStream<'static, std::io::Result<Bytes>> {
    let count = data.len().div_ceil(BODY_PIECE);
    stream::iter((0..count).map(move |i| Ok(data.slice(i * BODY_PIECE..((i + 1) * BODY_PIECE).min(data.len()))))).boxed()
}

fn timed_out(idle: Duration) -> TransportError {
    TransportError::new(TransportErrorKind::Timeout, format!("timed out: no progress for {idle:?}"))
}

/// When a request last made progress: it was sent, or the transport took a piece of its body.
/// Time spent waiting for the body's own source (a slow reader, a paused Node stream) is the
/// caller's pace, not the server's, and does not count.
#[derive(Clone)]
struct Progress(Arc<(Instant, AtomicU64, AtomicBool)>);

impl Progress {
    fn new() -> Self {
        Progress(Arc::new((Instant::now(), AtomicU64::new(0), AtomicBool::new(false))))
    }

    fn touch(&self) {
        let (start, nanos, _) = &*self.0;
        nanos.store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        let (start, nanos, _) = &*self.0;
        *start + Duration::from_nanos(nanos.load(Ordering::Relaxed))
    }

    fn waiting_on_source(&self) -> bool {
        self.0 .2.load(Ordering::Relaxed)
    }

    fn watch(&self, body: BoxStream<'static, std::io::Result<Bytes>>) -> BoxStream<'static, std::io::Result<Bytes>> {
        let progress = self.clone();
        let mut body = body;
        stream::poll_fn(move |cx| {
            // Asked for more: the transport has passed on the piece before.
            progress.touch();
            let polled = body.poll_next_unpin(cx);
            progress.0 .2.store(polled.is_pending(), Ordering::Relaxed);
            if polled.is_ready() {
                progress.touch();
            }
            polled
        })
        .boxed()
    }

    /// `work`'s output, or a timeout once `idle` passed without progress. An `idle` too long to
    /// add to a clock reading (`Duration::MAX`, say) waits for ever.
    async fn within<T>(&self, idle: Duration, work: impl Future<Output = T>) -> Result<T, TransportError> {
        tokio::pin!(work);
        loop {
            let Some(deadline) = self.last().checked_add(idle) else { return Ok(work.await) };
            tokio::select! {
                biased;
                out = &mut work => return Ok(out),
                () = tokio::time::sleep_until(deadline) => {
                    if self.waiting_on_source() {
                        self.touch();
                    } else if self.last().checked_add(idle).is_some_and(|d| d <= Instant::now()) {
                        return Err(timed_out(idle));
                    }
                }
            }
        }
    }
}

/// A response body whose every piece must arrive within `idle` of the one before.
struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    /// `None` when `idle` is too long to set a timer for: no limit.
    sleep: Option<Pin<Box<Sleep>>>,
    ended: bool,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration) -> Self {
        let sleep = Instant::now().checked_add(idle).map(|deadline| Box::pin(tokio::time::sleep_until(deadline)));
        IdleTimeout { inner, idle, sleep, ended: false }
    }
}

impl<S: Stream<Item = Result<Bytes, TransportError>> + Unpin> Stream for IdleTimeout<S> {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(item) => {
                let next_deadline = Instant::now().checked_add(self.idle);
                if let (Some(sleep), Some(deadline)) = (self.sleep.as_mut(), next_deadline) {
                    sleep.as_mut().reset(deadline);
                }
                self.ended = item.is_none();
                Poll::Ready(item)
            }
            Poll::Pending => match self.sleep.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    self.ended = true;
                    Poll::Ready(Some(Err(timed_out(self.idle))))
                }
                _ => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_proxy_hides_its_credentials() {
        let shown = format!("{:?}", Proxy::Url("http://alice:hunter2@proxy.example:3128".into()));
        assert_eq!(shown, r#"Url("http://<redacted>@proxy.example:3128/")"#);
        for raw in ["http://alice:hunter2@proxy.example", "socks5://alice@proxy.example", "alice:hunter2@proxy.example:3128"] {
            let shown = format!("{:?}", Proxy::Url(raw.into()));
            assert!(!shown.contains("alice") && !shown.contains("hunter2"), "{shown}");
        }
        assert_eq!(format!("{:?}", Proxy::Url("http://proxy.example:3128".into())), r#"Url("http://proxy.example:3128/")"#);
        assert_eq!(format!("{:?}", Proxy::System), "System");
    }

    #[test]
    fn redacted_urls_keep_only_what_is_not_secret() {
        let presigned = "https://u:p@store.example/t/s/k.bin?X-Amz-Signature=abc&expires=1#frag";
        assert_eq!(redacted_url(presigned, Redact::Query), "https://<redacted>@store.example/t/s/k.bin?<redacted>#<redacted>");
        assert_eq!(redacted_url(presigned, Redact::AllButOrigin), "https://<redacted>@store.example/<redacted>");
        assert_eq!(redacted_url("not a url", Redact::Credentials), "<redacted>");
    }

    #[tokio::test]
    async fn a_response_body_that_stops_coming_times_out() {
        let stalled = stream::iter(vec![Ok(Bytes::from_static(b"first"))]).chain(stream::pending());
        let mut body = IdleTimeout::new(stalled.boxed(), Duration::from_millis(50));
        assert_eq!(body.next().await.unwrap().unwrap(), Bytes::from_static(b"first"));
        let err = body.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Timeout);
        assert!(body.next().await.is_none(), "it ends after the timeout");
    }

    #[tokio::test]
    async fn no_limit_is_a_duration_too_long_for_the_clock() {
        let progress = Progress::new();
        assert_eq!(progress.within(Duration::MAX, async { 7 }).await.unwrap(), 7);
        let mut body = IdleTimeout::new(stream::iter(vec![Ok(Bytes::from_static(b"all"))]).boxed(), Duration::MAX);
        assert_eq!(body.next().await.unwrap().unwrap(), Bytes::from_static(b"all"));
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn progress_keeps_a_slow_request_alive_and_its_absence_ends_it() {
        let progress = Progress::new();
        let ticking = progress.clone();
        let slow = async move {
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                ticking.touch();
            }
        };
        progress.within(Duration::from_millis(200), slow).await.expect("each step came within the limit");
        let err = progress.within(Duration::from_millis(50), std::future::pending::<()>()).await.unwrap_err();
        assert_eq!(err.kind, TransportErrorKind::Timeout);
    }
}
