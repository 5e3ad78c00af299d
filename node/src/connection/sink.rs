//! The writing half of a transport, as the connection core sees it.

use std::future::Future;

use parley_shared::protocol::{Close, ServerFrame};

/// The peer can no longer be written to (it went away, or the transport failed).
#[derive(Debug, thiserror::Error)]
#[error("the peer is gone: {0}")]
pub struct SinkError(pub String);

/// What a transport (WebSocket, QUIC) implements for the connection core.
pub trait FrameSink: Send {
    /// Writes one frame.
    fn send(&mut self, frame: &ServerFrame) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Closes the connection for `reason`, with a short human text.
    fn close(&mut self, reason: Close, text: &str) -> impl Future<Output = ()> + Send;
}
