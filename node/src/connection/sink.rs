//! The writing half of a transport, as the connection core sees it.

use std::future::Future;
use std::time::Duration;

use parley_shared::protocol::{Close, ServerFrame};

use super::encoded::Encoded;

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

/// What a transport (WebSocket, QUIC) implements for the connection core. Frames are fed, then
/// flushed: the core feeds every frame it has queued for the connection and flushes once, so a
/// connection under load writes many frames per syscall (WebSocket) or per packet (QUIC).
pub trait FrameSink: Send {
    /// Queues one frame. The transport may write it out at once or when its buffer fills.
    fn feed(&mut self, frame: Encoded) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Writes out everything fed.
    fn flush(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Writes one frame now.
    fn send(&mut self, frame: &ServerFrame) -> impl Future<Output = Result<(), SinkError>> + Send {
        let encoded = Encoded::new(frame);
        async move {
            self.feed(encoded).await?;
            self.flush().await
        }
    }
    /// Closes the connection for `reason`, with a short human text.
    fn close(&mut self, reason: Close, text: &str) -> impl Future<Output = ()> + Send;
}
