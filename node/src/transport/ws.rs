//! WebSocket: the `/v1/ws` upgrade (authenticated before upgrading, so a bad token is a plain 401
//! a client can read) and the adapter between its messages and the connection core. One JSON
//! frame per text message (binary messages are read the same way).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use parley_shared::auth::AccessClaims;
use parley_shared::error::{ApiError, ErrorCode};
use parley_shared::protocol::close::{WS_BEARER_PREFIX, WS_SUBPROTOCOL};
use parley_shared::protocol::{Close, MAX_FRAME_BYTES};
use serde::Deserialize;

use crate::connection::{self, Encoded, FrameSink, Inbound, SinkError};
use crate::http::{AppState, error_response};
use crate::state::NodeState;

/// Per-connection read buffer; it grows for a larger frame, up to the frame limit.
const READ_BUFFER: usize = 4 * 1024;
/// Frames fed to a socket gather up to this many bytes before they are written (a flush writes
/// them sooner): under load one syscall carries many frames. The buffer is allocated only as
/// frames are fed, so an idle socket holds none of it.
const WRITE_BUFFER: usize = 16 * 1024;

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
    upgrade: WebSocketUpgrade,
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
    sized(upgrade).protocols([WS_SUBPROTOCOL]).on_upgrade(move |socket| serve(node, socket, claims))
}

/// The buffers and limits of every Parley WebSocket (the echo mode's too, so Autobahn tests
/// what clients get).
pub fn sized(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        // tungstenite's 128 KiB default buffers would dominate an idle connection's memory.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
}

/// The writing half of a WebSocket.
pub struct WsSink(SplitSink<WebSocket, Message>);

impl FrameSink for WsSink {
    async fn feed(&mut self, frame: Encoded) -> Result<(), SinkError> {
        let text = Utf8Bytes::try_from(frame.json()).map_err(|e| SinkError::Gone(format!("not UTF-8: {e}")))?;
        self.0.feed(Message::Text(text)).await.map_err(|e| SinkError::Gone(e.to_string()))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush().await.map_err(|e| SinkError::Gone(e.to_string()))
    }

    async fn close(&mut self, reason: Close, text: &str) {
        let frame =
            CloseFrame { code: reason.ws_code(), reason: Utf8Bytes::from(text.chars().take(100).collect::<String>()) };
        let _ = self.0.send(Message::Close(Some(frame))).await;
        let _ = self.0.close().await;
    }
}

/// Reads frames; pings, pongs and the peer's close are handled here, below the protocol.
fn inbound(stream: SplitStream<WebSocket>) -> impl Stream<Item = Inbound> + Unpin + Send {
    Box::pin(futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some((Inbound::Frame(t.as_bytes().to_vec()), Some(stream))),
                Some(Ok(Message::Binary(b))) => return Some((Inbound::Frame(b.to_vec()), Some(stream))),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return Some((Inbound::Closed, None)),
                Some(Err(e)) => {
                    let item = if is_too_large(&e) { Inbound::TooLarge } else { Inbound::Closed };
                    return Some((item, None));
                }
            }
        }
    }))
}

/// Whether a read failed because the peer's message or frame was over the limit (axum wraps
/// tungstenite's capacity error, so it is recognised by its text).
fn is_too_large(e: &axum::Error) -> bool {
    let texts = [std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default(), e.to_string()];
    texts.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("too long") || t.contains("capacity")
    })
}

/// Runs an upgraded socket whose token was verified with the upgrade request.
async fn serve(node: Arc<NodeState>, socket: WebSocket, claims: AccessClaims) {
    let (sink, stream) = socket.split();
    connection::run(node, claims, "ws", inbound(stream), WsSink(sink)).await;
}
