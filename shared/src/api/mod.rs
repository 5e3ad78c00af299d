//! The REST API as transport-neutral handlers: the node (axum) and the edge (Workers fetch
//! handler) turn their requests into a [`Request`], call [`handle`], and turn the [`Response`]
//! back. A handler only reads its request ([`Call`]), calls one use case of [`crate::service`], and
//! wraps the answer; rules and SQL live below.
//!
//! Every route is one file (`api/<area>/<route>.rs`) holding its [`Route`] (method and path), its
//! OpenAPI attribute and its handler; [`routes`] lists them once, and the router,
//! method-not-allowed answers, the OpenAPI document and the route tests all derive from that list.

pub(crate) mod call;
pub(crate) mod prelude;
#[cfg(feature = "openapi")]
pub(crate) mod responses;
pub mod routes;

pub mod auth;
pub mod blocks;
pub mod conversations;
pub mod friends;
pub mod groups;
pub mod media;
pub mod messages;
pub mod notices;
pub mod ops;
pub mod reports;
pub mod search;
pub mod sessions;
pub mod users;

use serde::Serialize;

pub use call::{Call, Query};
pub use routes::{ROUTES, handle};

use crate::error::ApiError;

/// Largest REST request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest request head (request line and headers), in bytes; beyond it, or past
/// [`MAX_HEADERS`] fields, a request is answered 431. The contract's heads are a bearer token and
/// a few short headers. Both adapters check a parsed head with [`head_too_large`]: workerd takes
/// bigger heads, and hyper's read buffer on the node may overshoot its limit in one read.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields of one request (hyper's own limit on the node).
pub const MAX_HEADERS: usize = 100;

/// Whether a head with a request line of `line` bytes and these headers' (name, value) lengths
/// is over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`] (each header counted as `name: value\r\n`).
pub fn head_too_large(line: usize, headers: impl IntoIterator<Item = (usize, usize)>) -> bool {
    let mut bytes = line + 2;
    for (count, (name, value)) in headers.into_iter().enumerate() {
        bytes += name + value + 4;
        if count + 1 > MAX_HEADERS || bytes > MAX_HEAD_BYTES {
            return true;
        }
    }
    false
}

/// What a handler answers.
pub type Answer = Result<Response, ApiError>;

/// HTTP methods the API distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// Anything else.
    Other,
}

impl Method {
    /// From the method's name.
    pub fn parse(m: &str) -> Self {
        match m.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => Self::Other,
        }
    }

    /// The method's name (`Get` is `GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Other => "OTHER",
        }
    }
}

/// A REST request, as much of it as the handlers read.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Method.
    pub method: Method,
    /// Path, without the query string.
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The client's address (the node: the peer; the edge: `CF-Connecting-IP`), for per-address
    /// limits; `None` when the host does not know it.
    pub client: Option<std::net::IpAddr>,
    /// Body bytes.
    pub body: &'a [u8],
}

/// A REST response: status and an optional JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// JSON text, if any.
    pub body: Option<String>,
    /// `Retry-After` seconds, for 429.
    pub retry_after: Option<u64>,
    /// `Allow`, for 405: the methods the path does serve.
    pub allow: Option<String>,
    /// `Location`, for 302.
    pub location: Option<String>,
    /// For 500s: the cause, to be logged by the adapter and never sent.
    pub log_detail: Option<String>,
}

impl Response {
    /// 431 with the contract's envelope (`too_large`), for a head over [`head_too_large`]'s limits.
    pub fn head_too_large() -> Self {
        let e = ApiError::too_large(format!("request head: at most {MAX_HEAD_BYTES} bytes and {MAX_HEADERS} headers"));
        Self { status: 431, ..Self::error(&e) }
    }

    /// `status` with `value` as JSON.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        Self { status, body: Some(serde_json::to_string(value).expect("responses serialise")), ..Self::empty(status) }
    }
    /// A body-less response.
    pub fn empty(status: u16) -> Self {
        Self { status, body: None, retry_after: None, allow: None, location: None, log_detail: None }
    }
    /// 302 to `url`.
    pub fn redirect(url: String) -> Self {
        Self { location: Some(url), ..Self::empty(302) }
    }
    /// The contract's error envelope.
    pub fn error(e: &ApiError) -> Self {
        Self {
            body: Some(e.to_json()),
            retry_after: e.retry_after,
            log_detail: e.detail.clone(),
            ..Self::empty(e.status())
        }
    }
}

/// The route of one handler: its method and its path, where `{name}` segments capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path template, as in the OpenAPI document (`/v1/conversations/{id}/events`).
    pub path: &'static str,
}

impl Route {
    /// A route.
    pub const fn new(method: Method, path: &'static str) -> Route {
        Route { method, path }
    }

    /// The captured `{name}` segments when `path` has this route's shape.
    pub fn captures<'p>(&self, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        let mut params = Vec::new();
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(g)) => {
                    if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                        if g.is_empty() {
                            return None;
                        }
                        params.push((name, g));
                    } else if w != g {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_capture_named_segments() {
        let r = Route::new(Method::Get, "/v1/conversations/{id}/events");
        assert_eq!(r.captures("/v1/conversations/abc/events"), Some(vec![("id", "abc")]));
        assert_eq!(r.captures("/v1/conversations//events"), None);
        assert_eq!(r.captures("/v1/conversations/abc"), None);
        assert_eq!(r.captures("/v1/conversations/abc/events/x"), None);
        assert_eq!(Route::new(Method::Get, "/healthz").captures("/healthz"), Some(vec![]));
    }

    #[test]
    fn heads_over_the_byte_or_header_limit_are_too_large() {
        assert!(!head_too_large(30, [(13, 200), (4, 20)]));
        assert!(head_too_large(30, [(6, MAX_HEAD_BYTES)]));
        assert!(!head_too_large(30, vec![(8, 8); MAX_HEADERS]));
        assert!(head_too_large(30, vec![(8, 8); MAX_HEADERS + 1]));
        let r = Response::head_too_large();
        assert_eq!(r.status, 431);
        assert!(r.body.is_some_and(|b| b.contains("too_large")));
    }
}
