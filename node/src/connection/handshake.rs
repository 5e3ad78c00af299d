//! Authenticating a connection: with the upgrade request (WebSocket) or a first `auth` frame
//! (QUIC, and a WebSocket opened without a token).

use futures_util::{Stream, StreamExt};
use parley_shared::ApiError;
use parley_shared::auth::AccessClaims;
use parley_shared::protocol::{ClientFrame, Close, ServerFrame, parse_client_frame};
use parley_shared::service::accounts;

use super::sink::FrameSink;
use super::{AUTH_TIMEOUT, Inbound};
use crate::state::NodeState;

/// Verifies a token the way every transport must: signature and expiry locally, then that its
/// session has not been revoked (the node's revocation set; see [`crate::revocations`]).
pub async fn authenticate(node: &NodeState, token: &str) -> Result<AccessClaims, ApiError> {
    accounts::authenticate_connection(&node.verifier, token, |s| crate::revocations::session_active(node, s)).await
}

/// For transports whose client authenticates with a first `auth` frame: waits for it. On
/// failure the client gets an `error` frame and a policy close, and `None` comes back.
pub async fn await_auth<I, S>(node: &NodeState, inbound: &mut I, sink: &mut S) -> Option<AccessClaims>
where
    I: Stream<Item = Inbound> + Unpin,
    S: FrameSink,
{
    let first = tokio::time::timeout(AUTH_TIMEOUT, inbound.next()).await;
    let err = match first {
        Ok(Some(Inbound::Frame(bytes))) => match parse_client_frame(&bytes) {
            Ok(ClientFrame::Auth { token }) => match authenticate(node, &token).await {
                Ok(c) => return Some(c),
                Err(e) => e,
            },
            Ok(_) => ApiError::unauthorized("the first frame must be auth"),
            Err(e) => ApiError::from(e),
        },
        Ok(Some(Inbound::TooLarge)) => {
            sink.close(Close::TooLarge, "frame too large").await;
            return None;
        }
        Ok(Some(Inbound::Closed) | None) => return None,
        Err(_) => ApiError::unauthorized("no auth frame in time"),
    };
    let _ = sink.send(&ServerFrame::api_error(&err)).await;
    sink.close(Close::Policy, &err.message).await;
    None
}
