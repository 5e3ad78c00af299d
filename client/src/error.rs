//! The SDK's one error type.

use parley_shared::error::ErrorCode;

/// Everything a client call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The credentials are no good any more (expired refresh token, logout, `session_revoked`):
    /// log in again.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The server answered with the contract's error envelope (or a failed realtime `reply`).
    #[error("{code:?} ({status}): {message}")]
    Api {
        /// The contract code.
        code: ErrorCode,
        /// Human text.
        message: String,
        /// HTTP status (the code's status for realtime replies).
        status: u16,
    },
    /// The network, TLS, QUIC or WebSocket layer failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The peer sent something that is not the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Waited too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Bad configuration (endpoint URLs, certificates, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// The realtime client was closed (or its task ended) before the call finished.
    #[error("the client is closed")]
    Closed,
    /// Reading or writing local files (the CLI's credential store).
    #[error("io: {0}")]
    Io(String),
}

impl Error {
    /// Whether retrying the same request later may succeed (network trouble, overload).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) => true,
            Error::Api { code, .. } => {
                matches!(code, ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable)
            }
            _ => false,
        }
    }

    /// A contract error body (realtime `reply` or REST envelope) as an [`Error`].
    pub fn from_body(body: &parley_shared::error::ErrorBody) -> Error {
        if body.code == ErrorCode::Unauthorized {
            return Error::Unauthorized(body.message.clone());
        }
        Error::Api { code: body.code, message: body.message.clone(), status: body.code.status() }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
