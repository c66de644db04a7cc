//! API calls over the transport: authentication, URLs, retries with backoff, error mapping.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{Detail, Error, ErrorKind, Result};
use crate::transport::{HeaderMap, HeaderValue, HttpRequest, HttpResponse, Method, RequestBody, Transport, TransportError, TransportErrorKind, Url};

const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const ERROR_BODY_LIMIT: usize = 64 * 1024;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A path ID as one percent-encoded segment: `../spaces` travels as `..%2Fspaces`.
pub(crate) fn segment(call: &str, what: &str, id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(Error::invalid(call, format!("{what} must not be empty")));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(call, format!("{what} '{id}' cannot name a resource")));
    }
    Ok(utf8_percent_encode(id, PATH_SEGMENT).to_string())
}

/// Which failures a request may be sent again after.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Retry {
    /// Safe to repeat: GET, PATCH, DELETE, storage PUTs, `uploads/complete`.
    Idempotent,
    /// Only when the server cannot have acted: no connection was made, or it answered 429.
    NotActed,
    /// Never: the body cannot be sent twice (a reader streamed through).
    Never,
}

pub(crate) struct Http {
    pub transport: Arc<dyn Transport>,
    /// `{origin}/api/{version}`, parsed once: every call only sets its path.
    pub api_base: Url,
    credential: String,
    user_agent: HeaderValue,
    pub max_retries: u32,
}

impl Http {
    pub fn new(transport: Arc<dyn Transport>, api_base: &str, credential: String, user_agent: &str, max_retries: u32) -> Result<Self> {
        let user_agent = HeaderValue::from_str(user_agent)
            .map_err(|_| Error::invalid("client", "user_agent must be printable ASCII"))?;
        let api_base = Url::parse(api_base).map_err(|e| Error::invalid("client", format!("invalid base_url: {e}")))?;
        Ok(Http { transport, api_base, credential, user_agent, max_retries })
    }

    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// The same connections and settings, another credential.
    pub fn with_credential(&self, credential: String) -> Result<Http> {
        if credential.is_empty() {
            return Err(Error::invalid("as_user", "the server returned an empty token"));
        }
        Ok(Http {
            transport: self.transport.clone(),
            api_base: self.api_base.clone(),
            credential,
            user_agent: self.user_agent.clone(),
            max_retries: self.max_retries,
        })
    }

    fn api_headers(&self) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.insert("user-agent", self.user_agent.clone());
        // PROTOCOL §2: `fck_` keys go as X-API-Key, anything else as a bearer token.
        let (name, value) = if self.credential.starts_with("fck_") {
            ("x-api-key", self.credential.clone())
        } else {
            ("authorization", format!("Bearer {}", self.credential))
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| Error::invalid("client", "the API key contains characters that cannot be sent in a header"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
        Ok(headers)
    }

    /// One API call, retried as its method allows; returns the answer's JSON.
    pub async fn call<T: DeserializeOwned>(&self, call: &str, method: Method, path: &str, query: &[(&str, String)], body: Option<Value>) -> Result<T> {
        let (bytes, request_id) = self.exchange(call, method, path, query, body).await?;
        // With the request id: whether a garbled answer to complete stored the file is a
        // question for support.
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::Api, call, format!("unexpected response body: {e}")).with_request_id(request_id).with_source(e)
        })
    }

    /// One API call whose answer's body is not needed.
    pub async fn call_raw(&self, call: &str, method: Method, path: &str, query: &[(&str, String)], body: Option<Value>) -> Result<Bytes> {
        Ok(self.exchange(call, method, path, query, body).await?.0)
    }

    /// One API call, retried as its method allows: the answer's body and request id.
    async fn exchange(&self, call: &str, method: Method, path: &str, query: &[(&str, String)], body: Option<Value>) -> Result<(Bytes, Option<String>)> {
        let mut url = self.api_base.clone();
        url.set_path(&format!("{}{}", self.api_base.path(), path));
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let retry = match method {
            Method::POST if path == "/uploads/complete" => Retry::Idempotent,
            Method::POST => Retry::NotActed,
            _ => Retry::Idempotent,
        };
        let body = match body {
            Some(v) => Some(Bytes::from(serde_json::to_vec(&v).map_err(|e| Error::invalid(call, e.to_string()))?)),
            None => None,
        };
        let headers = self.api_headers()?;
        let resp = self
            .retrying(call, retry, None, || {
                let mut headers = headers.clone();
                let body = match &body {
                    Some(b) => {
                        headers.insert("content-type", HeaderValue::from_static("application/json"));
                        RequestBody::Bytes(b.clone())
                    }
                    None => RequestBody::Empty,
                };
                let request = HttpRequest { method: method.clone(), url: url.clone(), headers, body };
                let sent = self.transport.send(request);
                // The body is read inside the attempt: one that breaks off or stalls fails the
                // exchange, which is then retried as its method allows.
                async move { buffered(sent.await?).await }
            })
            .await?;
        let request_id = resp.header("x-request-id").map(str::to_string);
        let bytes = resp.bytes(usize::MAX).await.map_err(|e| transport_error(call, e))?;
        Ok((bytes, request_id))
    }

    /// Sends what `attempt` builds until it succeeds, fails for good, or `cancel` fires.
    /// Answers of 2xx come back; others become errors carrying status, detail and request id.
    pub async fn retrying<F, Fut>(&self, call: &str, retry: Retry, cancel: Option<&CancellationToken>, mut attempt: F) -> Result<HttpResponse>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<HttpResponse, TransportError>>,
    {
        let mut tries = 0u32;
        loop {
            let outcome = cancellable(cancel, call, attempt()).await?;
            let (error, acted) = match outcome {
                Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status;
                    (status_error(call, resp).await, status != 429)
                }
                Err(e) => {
                    let acted = e.kind != TransportErrorKind::Connect;
                    (transport_error(call, e), acted)
                }
            };
            let allowed = error.is_retryable()
                && match retry {
                    Retry::Idempotent => true,
                    Retry::NotActed => !acted,
                    Retry::Never => false,
                };
            // A server that asks for a longer pause than we wait would refuse an earlier retry
            // too: its answer goes to the caller, who can honour `retry_after()`.
            let too_long = error.retry_after().is_some_and(|w| w > MAX_RETRY_AFTER);
            if !allowed || tries >= self.max_retries || too_long {
                return Err(error);
            }
            let delay = retry_delay(tries, error.retry_after());
            tries += 1;
            match cancel {
                Some(token) => tokio::select! {
                    _ = token.cancelled() => return Err(Error::cancelled(call)),
                    _ = tokio::time::sleep(delay) => {}
                },
                None => tokio::time::sleep(delay).await,
            }
        }
    }
}

/// A 2xx answer with its whole body read; others as they came (their body is the error's).
async fn buffered(mut resp: HttpResponse) -> std::result::Result<HttpResponse, TransportError> {
    if !(200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let body = std::mem::replace(&mut resp.body, futures_util::stream::empty().boxed());
    let whole = HttpResponse { status: resp.status, headers: HeaderMap::new(), body }.bytes(usize::MAX).await?;
    resp.body = futures_util::stream::once(async move { Ok(whole) }).boxed();
    Ok(resp)
}

/// Runs `fut` unless `cancel` fires first.
pub(crate) async fn cancellable<T>(cancel: Option<&CancellationToken>, call: &str, fut: impl Future<Output = T>) -> Result<T> {
    match cancel {
        Some(token) => tokio::select! {
            _ = token.cancelled() => Err(Error::cancelled(call)),
            out = fut => Ok(out),
        },
        None => Ok(fut.await),
    }
}

/// `Retry-After` in seconds; `None` for anything else (an HTTP date, a negative or absurd
/// number), rather than trusting the server with a panic.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    if seconds < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// Exponential backoff from 0.5 s, doubling to 8 s, with jitter; `Retry-After` wins when the
/// server sends one (one over 60 s is never waited for: `retrying` gives up instead).
pub(crate) fn retry_delay(tries: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait.min(MAX_RETRY_AFTER);
    }
    let base = (0.5 * 2f64.powi(tries.min(8) as i32)).min(8.0);
    Duration::from_secs_f64(base * rand::thread_rng().gen_range(0.75..=1.0))
}

pub(crate) fn transport_error(call: &str, e: TransportError) -> Error {
    let kind = match e.kind {
        TransportErrorKind::Timeout => ErrorKind::Timeout,
        TransportErrorKind::Connect | TransportErrorKind::Broken => ErrorKind::Connect,
        // Not retryable: the caller's own transport code failed, not the network.
        TransportErrorKind::Other => ErrorKind::Internal,
    };
    Error::new(kind, call, e.message.clone()).with_source(e)
}

/// A non-2xx answer as an error.
pub(crate) async fn status_error(call: &str, resp: HttpResponse) -> Error {
    let status = resp.status;
    let request_id = resp.header("x-request-id").map(str::to_string);
    let retry_after = resp.header("retry-after").and_then(parse_retry_after);
    let body = resp.bytes(ERROR_BODY_LIMIT).await.unwrap_or_default();
    Error::status(call, status, Detail::parse(&body), request_id, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_stay_single() {
        assert_eq!(segment("t", "id", "../spaces").unwrap(), "..%2Fspaces");
        assert_eq!(segment("t", "id", "a b?c#d").unwrap(), "a%20b%3Fc%23d");
        assert_eq!(segment("t", "id", "").unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(segment("t", "id", "..").unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn retry_after_is_seconds_and_nothing_it_says_can_panic() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 1.5 "), Some(Duration::from_millis(1500)));
        for unusable in ["1e300", "inf", "NaN", "-1", "Wed, 21 Oct 2026 07:28:00 GMT", ""] {
            assert_eq!(parse_retry_after(unusable), None, "{unusable}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_honours_retry_after() {
        assert!(retry_delay(0, None) <= Duration::from_millis(500));
        assert!(retry_delay(0, None) >= Duration::from_millis(375));
        assert!(retry_delay(10, None) <= Duration::from_secs(8));
        assert!(retry_delay(10, None) >= Duration::from_secs(6));
        assert_eq!(retry_delay(3, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(retry_delay(0, Some(Duration::from_secs(120))), MAX_RETRY_AFTER);
    }
}
