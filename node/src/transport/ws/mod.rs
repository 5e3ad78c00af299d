//! WebSocket: the `/v1/ws` upgrade (authenticated before upgrading, so a bad token is a plain 401
//! a client can read) and the adapter between its messages and the connection core. One JSON
//! frame per text message (binary messages are read the same way).
//!
//! - [`handshake`]: the HTTP upgrade, handing over the TCP stream itself;
//! - [`codec`]: RFC 6455 framing without IO;
//! - [`socket`]: reading and writing frames on the stream, with no per-socket buffers while idle.
//!
//! Parley's own framing rather than tungstenite's: tungstenite keeps a read buffer (4 KiB as the
//! node set it) and a write buffer per socket for the socket's life, and copies every frame
//! into the latter; here an idle socket holds neither, and an event shared by a thousand
//! sockets is written from the one copy the hub encoded. Autobahn|Testsuite checks it
//! (`parley-node ws-echo`, in the test command).

pub mod codec;
pub mod handshake;
pub mod socket;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::Stream;
use parley_shared::auth::AccessClaims;
use parley_shared::error::{ApiError, ErrorCode};
use parley_shared::protocol::close::{WS_BEARER_PREFIX, WS_SUBPROTOCOL};
use parley_shared::protocol::{Close, MAX_FRAME_BYTES};
use serde::Deserialize;
use tokio::net::TcpStream;

pub use handshake::Upgrade;
use socket::{End, WsReader, WsWriter};

use crate::connection::{self, DirectWrite, Encoded, FrameSink, Inbound, SinkError};
use crate::http::{AppState, error_response};
use crate::state::NodeState;

/// The query of `GET /v1/ws`.
#[derive(Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// The token from `?token=` or from `Sec-WebSocket-Protocol: parley.v1, bearer.<token>`.
fn token(q: &WsQuery, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = &q.token {
        return Some(t.clone());
    }
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix(WS_BEARER_PREFIX).map(str::to_owned))
}

/// `GET /v1/ws`: authenticates, then upgrades.
pub async fn upgrade(
    State(app): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    upgrade: Upgrade,
) -> Response {
    if app.node.draining.load(Ordering::Acquire) {
        return error_response(ApiError::new(ErrorCode::Unavailable, "node is shutting down"));
    }
    let Some(token) = token(&q, &headers) else {
        return error_response(ApiError::unauthorized(
            "missing access token: pass ?token= or Sec-WebSocket-Protocol: parley.v1, bearer.<token>",
        ));
    };
    let claims = match connection::authenticate(&app.node, &token).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
    };
    let node = app.node.clone();
    upgrade.protocol(WS_SUBPROTOCOL).respond(move |stream, pre_read| serve(node, stream, pre_read, claims))
}

/// The writing half of a WebSocket.
pub struct WsSink(WsWriter);

impl FrameSink for WsSink {
    async fn feed(&mut self, frame: Encoded) -> Result<(), SinkError> {
        self.0.feed(true, frame.json()).await.map_err(|e| SinkError::Gone(e.to_string()))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush().await.map_err(|e| SinkError::Gone(e.to_string()))
    }

    async fn close(&mut self, reason: Close, text: &str) {
        self.0.close(reason.ws_code(), text).await;
    }

    fn direct(&self) -> Option<Arc<dyn DirectWrite>> {
        Some(self.0.direct())
    }
}

/// Messages as the connection core takes them; pings, pongs and the closing handshake are
/// answered below it, by the reader.
fn inbound(reader: WsReader) -> impl Stream<Item = Inbound> + Unpin + Send {
    Box::pin(futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        match reader.next().await {
            Ok(m) => Some((Inbound::Frame(m.payload), Some(reader))),
            Err(End::Failed(codec::DecodeError::TooLarge(_))) => Some((Inbound::TooLarge, None)),
            Err(_) => Some((Inbound::Closed, None)),
        }
    }))
}

/// Runs an upgraded socket whose token was verified with the upgrade request.
async fn serve(node: Arc<NodeState>, stream: TcpStream, pre_read: Bytes, claims: AccessClaims) {
    let (reader, writer) = socket::split(stream, pre_read, MAX_FRAME_BYTES);
    connection::run(node, claims, "ws", inbound(reader), WsSink(writer)).await;
}
