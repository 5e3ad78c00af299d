//! Why a connection ended: one enum, mapped once to the `error` frame the client gets (if any)
//! and the transport close, as pgdog's `DisconnectReason`.

use parley_shared::protocol::{Close, ConnectionCode, ServerFrame};

use super::SinkError;

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disconnect {
    /// The client closed it (or its transport ended).
    ClientClosed,
    /// The client sent a frame over the size limit.
    FrameTooLarge,
    /// The node ended it: shutting down, session revoked, client too slow.
    Evicted(ConnectionCode, String),
    /// Writing to the client failed.
    SinkFailed,
    /// The connection could not start (the database was unreachable).
    Unavailable,
}

impl Disconnect {
    /// Why a failed write ends the connection: a client that stopped reading is told it is too
    /// slow (if the goodbye gets through at all); a vanished one needs no goodbye.
    pub fn from_sink(e: &SinkError) -> Disconnect {
        match e {
            SinkError::Stalled(_) => Disconnect::Evicted(ConnectionCode::TooSlow, "not reading".into()),
            SinkError::Gone(_) => Disconnect::SinkFailed,
        }
    }

    /// The `error` frame sent before closing, if any.
    pub fn frame(&self) -> Option<ServerFrame> {
        match self {
            Disconnect::Evicted(code, message) => Some(ServerFrame::error(*code, message.clone())),
            Disconnect::Unavailable => {
                Some(ServerFrame::error(parley_shared::ErrorCode::Unavailable, "try again shortly"))
            }
            _ => None,
        }
    }

    /// How the transport closes, and the close's short reason text.
    pub fn close(&self) -> (Close, &str) {
        match self {
            Disconnect::ClientClosed | Disconnect::SinkFailed => (Close::Normal, ""),
            Disconnect::FrameTooLarge => (Close::TooLarge, "frame too large"),
            Disconnect::Evicted(code, message) => (code.close(), message),
            Disconnect::Unavailable => (Close::TryAgainLater, "unavailable"),
        }
    }

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Disconnect::ClientClosed => "client_closed",
            Disconnect::FrameTooLarge => "frame_too_large",
            Disconnect::Evicted(ConnectionCode::GoingAway, _) => "going_away",
            Disconnect::Evicted(ConnectionCode::SessionRevoked, _) => "session_revoked",
            Disconnect::Evicted(ConnectionCode::TooSlow, _) => "too_slow",
            Disconnect::SinkFailed => "sink_failed",
            Disconnect::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evictions_tell_the_client_and_close_with_their_code() {
        let d = Disconnect::Evicted(ConnectionCode::SessionRevoked, "signed out".into());
        assert_eq!(d.close(), (Close::Policy, "signed out"));
        assert!(matches!(d.frame(), Some(ServerFrame::Error { .. })));
        let d = Disconnect::Evicted(ConnectionCode::GoingAway, "bye".into());
        assert_eq!(d.close().0, Close::GoingAway);
        assert_eq!(Disconnect::FrameTooLarge.close().0, Close::TooLarge);
        assert_eq!(Disconnect::ClientClosed.frame(), None);
        let stalled = Disconnect::from_sink(&SinkError::Stalled(std::time::Duration::from_secs(10)));
        assert_eq!(stalled.label(), "too_slow");
        assert_eq!(stalled.close().0, Close::TryAgainLater);
        assert_eq!(Disconnect::from_sink(&SinkError::Gone("reset".into())), Disconnect::SinkFailed);
    }
}
