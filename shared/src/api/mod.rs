//! The REST API as transport-neutral handlers: the node (axum) and the edge (Workers fetch
//! handler) convert their requests into a [`Request`], call [`router::handle`], and convert the
//! [`Response`] back. Every rule lives here or below; the adapters only move bytes.

pub mod auth;
pub mod conversations;
pub mod messages;
pub mod router;
pub mod users;

use std::future::Future;
use std::ops::DerefMut;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Client;

use crate::auth::{AccessClaims, Signer, Verifier, tokens};
use crate::error::ApiError;
use crate::rules::MAX_BODY_BYTES;

pub use router::handle;

/// What a handler needs from its host, implemented once by the node and once by the edge.
pub trait Env {
    /// A database connection (pooled on the node, one socket per request on the edge).
    type Db: DerefMut<Target = Client>;
    /// Gets a connection. Only routes that touch the database call this.
    fn db(&self) -> impl Future<Output = Result<Self::Db, ApiError>>;
    /// argon2id hash of a new password; the node runs it off the async threads.
    fn hash_password(&self, password: String) -> impl Future<Output = Result<String, ApiError>>;
    /// Checks a password against a stored hash.
    fn verify_password(&self, password: String, phc: String) -> impl Future<Output = bool>;
    /// The access-token signer; `None` when this host does not issue tokens.
    fn signer(&self) -> Option<&Signer>;
    /// Verifies access tokens.
    fn verifier(&self) -> &Verifier;
}

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
    /// For 500s: the cause, to be logged by the adapter and never sent.
    pub log_detail: Option<String>,
}

impl Response {
    /// `status` with `value` as JSON.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        Self {
            status,
            body: Some(serde_json::to_string(value).expect("responses serialise")),
            retry_after: None,
            log_detail: None,
        }
    }
    /// A body-less response.
    pub fn empty(status: u16) -> Self {
        Self { status, body: None, retry_after: None, log_detail: None }
    }
    /// The contract's error envelope.
    pub fn error(e: &ApiError) -> Self {
        Self { status: e.status(), body: Some(e.to_json()), retry_after: e.retry_after, log_detail: e.detail.clone() }
    }
}

/// Parses a JSON body into `T`; serde's message names the offending field.
pub(crate) fn body<T: DeserializeOwned>(req: &Request<'_>) -> Result<T, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(format!("body: at most {MAX_BODY_BYTES} bytes")));
    }
    let bytes = if req.body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { req.body };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(format!("invalid JSON body: {inner}"))
        } else if path == "." {
            // Missing and unknown fields are reported at the root; serde's message names them.
            ApiError::invalid(format!("invalid request body: {inner}"))
        } else {
            ApiError::invalid(format!("{path}: {inner}"))
        }
    })
}

/// The caller's verified identity from `Authorization: Bearer`.
pub(crate) fn authenticate<E: Env>(env: &E, req: &Request<'_>) -> Result<AccessClaims, ApiError> {
    let token = tokens::bearer(req.authorization)?;
    Ok(env.verifier().verify(token)?)
}

/// The signer, or 404 when this host does not serve auth.
pub(crate) fn signer<E: Env>(env: &E) -> Result<&Signer, ApiError> {
    env.signer().ok_or_else(|| ApiError::not_found("this server does not issue tokens"))
}

/// Query-string parameters.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::invalid(format!("{key}: not an integer"))))
            .transpose()
    }
}

/// Runs `$body` (an expression using the transaction `$tx`, evaluating to
/// `Result<T, StoreError>`) in a transaction on `$db`, committing on success and running it again
/// (up to [`MAX_TX_ATTEMPTS`] times) when Postgres reports a serialization conflict or deadlock.
/// Evaluates to `Result<T, StoreError>`.
///
/// A macro rather than a function taking an async closure: closures borrowing the transaction
/// run into higher-ranked `Send` limits, and the node needs these futures to be `Send`.
macro_rules! transact {
    ($db:expr, |$tx:ident| $body:expr) => {
        async {
            let mut attempt = 1;
            loop {
                let tx = $db.transaction().await.map_err($crate::store::StoreError::from)?;
                let result: Result<_, $crate::store::StoreError> = {
                    let $tx = &tx;
                    async { $body }.await
                };
                let result = match result {
                    Ok(v) => tx.commit().await.map(|()| v).map_err($crate::store::StoreError::from),
                    Err(e) => Err(e), // dropping the transaction rolls it back
                };
                match result {
                    Err(e) if e.is_retryable() && attempt < $crate::store::MAX_TX_ATTEMPTS => attempt += 1,
                    other => break other,
                }
            }
        }
        .await
    };
}
pub(crate) use transact;
