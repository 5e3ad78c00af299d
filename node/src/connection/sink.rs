//! The writing half of a transport, as the connection core sees it.

use std::future::Future;
use std::time::Duration;

use parley_shared::protocol::{Close, ServerFrame};

/// The peer can no longer be written to.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// It went away, or the transport failed.
    #[error("the peer is gone: {0}")]
    Gone(String),
    /// A write waited longer than the connection core allows: the peer reads nothing (a stuck
    /// app, a client that never reads). Set by the core, never by a transport.
    #[error("the peer read nothing for {0:?}")]
    Stalled(Duration),
}

/// What a transport (WebSocket, QUIC) implements for the connection core.
pub trait FrameSink: Send {
    /// Writes one frame.
    fn send(&mut self, frame: &ServerFrame) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Closes the connection for `reason`, with a short human text.
    fn close(&mut self, reason: Close, text: &str) -> impl Future<Output = ()> + Send;
}
