//! The opening handshake (RFC 6455 §4.2): an HTTP/1.1 `GET` asking to upgrade, answered with
//! `101 Switching Protocols` and the accept key; once hyper has written the answer, the TCP
//! stream is handed over whole (`Upgraded::downcast`), so the WebSocket runs on the stream
//! itself rather than on a boxed stream in front of it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use parley_shared::ApiError;
use sha1::{Digest, Sha1};
use tokio::net::TcpStream;
use tracing::debug;

use crate::http::error_response;

/// RFC 6455's GUID, appended to the client's key for the accept key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a request is not a WebSocket handshake this node accepts.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Not a `GET`.
    #[error("a WebSocket handshake is a GET")]
    NotGet,
    /// `Connection: Upgrade` and `Upgrade: websocket` missing.
    #[error("not an upgrade to websocket: send Connection: Upgrade and Upgrade: websocket")]
    NotUpgrade,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("unsupported WebSocket version: send Sec-WebSocket-Version: 13")]
    Version,
    /// `Sec-WebSocket-Key` missing or not 16 bytes in base64.
    #[error("missing or malformed Sec-WebSocket-Key")]
    Key,
    /// The connection cannot be upgraded (not HTTP/1.1 from this node's server).
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for HandshakeError {
    fn into_response(self) -> Response {
        error_response(ApiError::invalid(self.to_string()))
    }
}

/// A checked upgrade request, ready to be answered.
pub struct Upgrade {
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
    offered: Vec<String>,
    protocol: Option<&'static str>,
}

/// Whether `name`'s comma-separated values contain `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The `Sec-WebSocket-Accept` value for a client's key.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = HandshakeError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::GET {
            return Err(HandshakeError::NotGet);
        }
        let h = &parts.headers;
        if !has_token(h, header::CONNECTION, "upgrade") || !has_token(h, header::UPGRADE, "websocket") {
            return Err(HandshakeError::NotUpgrade);
        }
        if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
            return Err(HandshakeError::Version);
        }
        let key = h.get(header::SEC_WEBSOCKET_KEY).ok_or(HandshakeError::Key)?;
        let decoded =
            base64::engine::general_purpose::STANDARD.decode(key.as_bytes()).map_err(|_| HandshakeError::Key)?;
        if decoded.len() != 16 {
            return Err(HandshakeError::Key);
        }
        let accept = HeaderValue::from_str(&accept_key(key.as_bytes())).expect("base64 is a header value");
        let offered = h
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .collect();
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(HandshakeError::NotUpgradable)?;
        Ok(Upgrade { accept, on_upgrade, offered, protocol: None })
    }
}

impl Upgrade {
    /// Answers with `protocol` as the subprotocol if the client offered it.
    pub fn protocol(mut self, protocol: &'static str) -> Self {
        if self.offered.iter().any(|p| p == protocol) {
            self.protocol = Some(protocol);
        }
        self
    }

    /// Answers `101` and runs `then` with the TCP stream and the bytes already read past the
    /// request (the client's first frames, if it did not wait for the answer).
    pub fn respond<F, Fut>(self, then: F) -> Response
    where
        F: FnOnce(TcpStream, Bytes) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        let task = async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    debug!("WebSocket upgrade failed: {e}");
                    return;
                }
            };
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                // Boxed: the socket's whole life runs in it, and this task's own state (the
                // upgrade's) should not add to it.
                Ok(parts) => Box::pin(then(parts.io.into_inner(), parts.read_buf)).await,
                // The node's server hands hyper plain TCP streams (http_server.rs).
                Err(_) => tracing::error!("an upgraded connection that is not a TCP stream"),
            }
        };
        tokio::spawn(task);
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let h = response.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        if let Some(p) = self.protocol {
            h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_of_rfc_6455s_example() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
