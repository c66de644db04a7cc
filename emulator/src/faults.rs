//! Fault rules (`/_emulator/faults`): make the next matching requests fail the ways real
//! networks and servers fail, deterministically.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{storage_error, ApiError};
use crate::server::Conn;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    Api,
    StoragePut,
    StorageGet,
    Link,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// Answer `status` (with `Retry-After` when given) without carrying the request out.
    Status,
    /// Reset the connection after `after_bytes` of the request body (of the response body for
    /// `storage_get` and `link`).
    Reset,
    /// Carry the request out, then drop the connection instead of answering.
    DropResponse,
    /// Wait `delay_ms`, then carry on.
    Delay,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultRule {
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    pub times: u64,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// SplitMix64 state for `probability`, seeded from `seed`.
    #[serde(skip)]
    pub rng: u64,
}

impl FaultRule {
    /// What is wrong with the rule, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.times == 0 {
            return Some("times must be at least 1".into());
        }
        if self.action == Action::Status {
            match self.status {
                Some(s) if (100..=599).contains(&s) => {}
                _ => return Some("action 'status' needs a status between 100 and 599".into()),
            }
        }
        if self.action == Action::Delay && self.delay_ms.is_none() {
            return Some("action 'delay' needs delay_ms".into());
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Some("probability must be between 0 and 1".into());
        }
        None
    }

    fn draw(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn target_of(method: &Method, path: &str) -> Option<Target> {
    if path.starts_with("/api/") {
        Some(Target::Api)
    } else if path.starts_with("/_storage/") {
        Some(if method == Method::PUT { Target::StoragePut } else { Target::StorageGet })
    } else if path.starts_with("/s/") {
        Some(Target::Link)
    } else {
        None
    }
}

/// The first rule that matches takes the request; a rule is used up after `times` hits.
fn take_rule(state: &AppState, target: Target, path: &str) -> Option<FaultRule> {
    let mut rules = state.faults.lock().unwrap_or_else(|p| p.into_inner());
    let index = rules.iter_mut().position(|rule| {
        if rule.target != target || rule.path_contains.as_deref().is_some_and(|p| !path.contains(p)) {
            return false;
        }
        match rule.probability {
            Some(p) => rule.draw() < p,
            None => true,
        }
    })?;
    let rule = rules[index].clone();
    rules[index].times -= 1;
    if rules[index].times == 0 {
        rules.remove(index);
    }
    Some(rule)
}

pub(crate) async fn apply(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let Some(target) = target_of(req.method(), req.uri().path()) else { return next.run(req).await };
    let Some(rule) = take_rule(&state, target, &path) else { return next.run(req).await };
    let kill = req.extensions().get::<Conn>().cloned();
    match rule.action {
        Action::Status => {
            let status = StatusCode::from_u16(rule.status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match target {
                Target::StoragePut | Target::StorageGet => storage_error(status, "InjectedFault", "fault injected by the emulator"),
                Target::Api | Target::Link => ApiError::new(status, "fault injected by the emulator").into_response(),
            };
            if let Some(secs) = rule.retry_after {
                resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
            }
            resp
        }
        Action::Delay => {
            tokio::time::sleep(Duration::from_millis(rule.delay_ms.unwrap_or(0))).await;
            next.run(req).await
        }
        Action::DropResponse => {
            let resp = next.run(req).await;
            if let Some(kill) = kill {
                kill.kill();
            }
            resp
        }
        Action::Reset if matches!(target, Target::StorageGet | Target::Link) => {
            // Downloads break in the response: `after_bytes` of it arrive, then the connection
            // closes short of the promised length. (No reset here: a reset would discard bytes
            // the peer has received but not yet read.)
            let resp = next.run(req).await;
            let (parts, body) = resp.into_parts();
            Response::from_parts(parts, breaking_body(body, rule.after_bytes.unwrap_or(0), None))
        }
        Action::Reset if !has_body(&req) => {
            // Nothing to read first: the connection dies before the request is carried out.
            if let Some(kill) = kill {
                kill.kill();
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Action::Reset => {
            // The handler runs and sees the body break off after `after_bytes`, as it would
            // when a client's connection dies mid-request.
            let (parts, body) = req.into_parts();
            let body = breaking_body(body, rule.after_bytes.unwrap_or(0), kill);
            next.run(Request::from_parts(parts, body)).await
        }
    }
}

fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    headers.contains_key("transfer-encoding")
        || headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// `body` cut after `limit` bytes: then an error, and the connection is killed. A response
/// body that ends before the limit ends normally.
fn breaking_body(body: Body, limit: u64, kill: Option<Conn>) -> Body {
    let stream = body.into_data_stream();
    let broken = futures_util::stream::unfold((stream, 0u64, false), move |(mut stream, seen, done)| {
        let kill = kill.clone();
        async move {
            if done {
                return None;
            }
            let cut = || {
                if let Some(k) = &kill {
                    k.kill();
                }
                Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by a fault rule"))
            };
            if seen >= limit {
                // One turn for the server to flush what was let through, so the peer really
                // receives `limit` bytes before the break.
                tokio::task::yield_now().await;
                return Some((cut(), (stream, seen, true)));
            }
            match stream.next().await {
                Some(Ok(mut chunk)) => {
                    let room = (limit - seen) as usize;
                    if chunk.len() > room {
                        chunk.truncate(room);
                    }
                    let n = chunk.len() as u64;
                    Some((Ok(chunk), (stream, seen + n, false)))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e.to_string())), (stream, seen, true))),
                None => Some((cut(), (stream, seen, true))),
            }
        }
    });
    Body::from_stream(broken)
}
