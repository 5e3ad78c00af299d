//! How realtime connections are identified and how they end: the ALPN and WebSocket
//! subprotocol names, the close reasons with their WebSocket and QUIC codes, and the codes of
//! connection-level `error` frames. Node, client SDK and tests use these, never literals.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// The one application protocol a QUIC connection may negotiate.
pub const ALPN: &[u8] = b"parley/1";
/// The WebSocket subprotocol the node accepts.
pub const WS_SUBPROTOCOL: &str = "parley.v1";
/// Prefix of the subprotocol value that carries the access token
/// (`Sec-WebSocket-Protocol: parley.v1, bearer.<token>`).
pub const WS_BEARER_PREFIX: &str = "bearer.";

/// Why a connection is closed, the same on every transport. A WebSocket closes with
/// [`Close::ws_code`]; QUIC closes the connection with the application code [`Close::quic_code`],
/// the WebSocket code in hexadecimal digits (1008 → 0x1008).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Close {
    /// A normal end.
    Normal,
    /// The node is shutting down: reconnect to another node.
    GoingAway,
    /// The peer broke the protocol (QUIC: no `parley/1` ALPN, no stream in time).
    Protocol,
    /// Bad or missing credentials, or a revoked session.
    Policy,
    /// A frame over [`super::MAX_FRAME_BYTES`].
    TooLarge,
    /// The node is overloaded or the client fell behind: retry later.
    TryAgainLater,
}

impl Close {
    /// Every reason, for tests and docs.
    pub const ALL: [Close; 6] =
        [Close::Normal, Close::GoingAway, Close::Protocol, Close::Policy, Close::TooLarge, Close::TryAgainLater];

    /// The WebSocket close code (RFC 6455 §7.4.1).
    pub const fn ws_code(self) -> u16 {
        match self {
            Close::Normal => 1000,
            Close::GoingAway => 1001,
            Close::Protocol => 1002,
            Close::Policy => 1008,
            Close::TooLarge => 1009,
            Close::TryAgainLater => 1013,
        }
    }

    /// The QUIC application close code: the WebSocket code's decimal digits read as hex.
    pub const fn quic_code(self) -> u32 {
        match self {
            Close::Normal => 0x1000,
            Close::GoingAway => 0x1001,
            Close::Protocol => 0x1002,
            Close::Policy => 0x1008,
            Close::TooLarge => 0x1009,
            Close::TryAgainLater => 0x1013,
        }
    }

    /// The reason a WebSocket close code stands for.
    pub fn from_ws_code(code: u16) -> Option<Close> {
        Close::ALL.into_iter().find(|c| c.ws_code() == code)
    }

    /// The reason a QUIC application close code stands for.
    pub fn from_quic_code(code: u64) -> Option<Close> {
        Close::ALL.into_iter().find(|c| u64::from(c.quic_code()) == code)
    }
}

/// Codes of `error` frames that are about the connection itself, sent right before the node
/// closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionCode {
    /// The node is shutting down: reconnect elsewhere and `sync`.
    GoingAway,
    /// The auth session was signed out (logout, refresh-token reuse): log in again.
    SessionRevoked,
    /// The client fell too far behind.
    TooSlow,
}

impl ConnectionCode {
    /// How the node closes the connection after the frame.
    pub fn close(self) -> Close {
        match self {
            ConnectionCode::GoingAway => Close::GoingAway,
            ConnectionCode::SessionRevoked => Close::Policy,
            ConnectionCode::TooSlow => Close::TryAgainLater,
        }
    }
}

/// The `code` of an `error` frame: a connection code, or one of the contract's error codes
/// (`invalid_request`, `unauthorized`, `rate_limited`, ...). On the wire, a snake_case string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameErrorCode {
    /// About the connection.
    Connection(ConnectionCode),
    /// A contract error.
    Contract(ErrorCode),
}

impl From<ConnectionCode> for FrameErrorCode {
    fn from(c: ConnectionCode) -> Self {
        FrameErrorCode::Connection(c)
    }
}

impl From<ErrorCode> for FrameErrorCode {
    fn from(c: ErrorCode) -> Self {
        FrameErrorCode::Contract(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quic_codes_are_the_websocket_codes_in_hex_digits() {
        for c in Close::ALL {
            let hex: u32 = u32::from_str_radix(&c.ws_code().to_string(), 16).unwrap();
            assert_eq!(c.quic_code(), hex, "{c:?}");
            assert_eq!(Close::from_ws_code(c.ws_code()), Some(c));
            assert_eq!(Close::from_quic_code(c.quic_code().into()), Some(c));
        }
        assert_eq!(Close::from_ws_code(4000), None);
    }

    #[test]
    fn frame_codes_are_snake_case_strings() {
        let c: FrameErrorCode = ConnectionCode::GoingAway.into();
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""going_away""#);
        let c: FrameErrorCode = ErrorCode::InvalidRequest.into();
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""invalid_request""#);
        for s in ["going_away", "session_revoked", "too_slow"] {
            let c: FrameErrorCode = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert!(matches!(c, FrameErrorCode::Connection(_)), "{s}");
        }
        let c: FrameErrorCode = serde_json::from_str(r#""rate_limited""#).unwrap();
        assert_eq!(c, FrameErrorCode::Contract(ErrorCode::RateLimited));
        assert!(serde_json::from_str::<FrameErrorCode>(r#""no_such_code""#).is_err());
    }
}
