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

/// A transport the hub may write events to without the connection's task (WebSocket): frames
/// are queued without waiting, then written as far as the socket takes them now. See
/// [`super::lane`].
pub trait DirectWrite: Send + Sync {
    /// Nothing is queued (a direct write would go out now, behind nothing) and the socket is
    /// open.
    fn idle(&self) -> bool;
    /// Queues an event's frame.
    fn queue(&self, frame: &Encoded);
    /// Writes what the socket takes now; `Ok(true)` once nothing is left queued.
    fn write_now(&self) -> std::io::Result<bool>;
    /// So much is queued that it should be written out before more is queued.
    fn full(&self) -> bool;
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
    /// The transport's direct writer, if it has one: the connection's own event frames are then
    /// queued through it too (in the lane's critical section, see [`super::lane`]).
    fn direct(&self) -> Option<std::sync::Arc<dyn DirectWrite>> {
        None
    }
}
