//! WebSocket: one JSON frame per text message (binary messages are read the same way).

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use parley_shared::auth::AccessClaims;
use parley_shared::protocol::ServerFrame;

use crate::session::{self, CloseKind, FrameSink, Inbound};
use crate::state::NodeState;

/// The writing half of a WebSocket.
pub struct WsSink(SplitSink<WebSocket, Message>);

impl FrameSink for WsSink {
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), ()> {
        self.0.send(Message::Text(Utf8Bytes::from(frame.to_json()))).await.map_err(|_| ())
    }

    async fn close(&mut self, kind: CloseKind, reason: &str) {
        let code = match kind {
            CloseKind::Normal => 1000,
            CloseKind::GoingAway => 1001,
            CloseKind::Policy => 1008,
            CloseKind::TooLarge => 1009,
            CloseKind::TryAgainLater => 1013,
        };
        let frame = CloseFrame { code, reason: Utf8Bytes::from(reason.chars().take(100).collect::<String>()) };
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
                    let too_large = std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| e.to_string())
                        .to_ascii_lowercase()
                        .contains("too long")
                        || e.to_string().to_ascii_lowercase().contains("too long")
                        || e.to_string().to_ascii_lowercase().contains("capacity");
                    let item = if too_large { Inbound::TooLarge } else { Inbound::Closed };
                    return Some((item, None));
                }
            }
        }
    }))
}

/// Runs an upgraded socket whose token was verified with the upgrade request.
pub async fn serve(state: Arc<NodeState>, socket: WebSocket, claims: AccessClaims) {
    let (sink, stream) = socket.split();
    session::run(state, claims, "ws", inbound(stream), WsSink(sink)).await;
}
