//! One function per client frame, as mini-redis has one file per command: [`dispatch`] parses a
//! frame, applies the per-connection rate limit, and hands it to its file.

mod edits;
mod ping;
mod read;
mod send;
mod sync;
mod typing;

use futures_util::stream::FuturesOrdered;
use parley_shared::ApiError;
use parley_shared::error::ErrorCode;
use parley_shared::protocol::{ClientFrame, ServerFrame, parse_client_frame};

use super::sink::{FrameSink, SinkError};
use super::{Connection, PendingSend};

/// Handles one frame's bytes.
pub(crate) async fn dispatch<S: FrameSink>(
    c: &mut Connection<S>,
    bytes: &[u8],
    pending: &mut FuturesOrdered<PendingSend>,
) -> Result<(), SinkError> {
    metrics::counter!("parley_frames_in_total").increment(1);
    let frame = match parse_client_frame(bytes) {
        Ok(f) => f,
        Err(e) => return c.send(&ServerFrame::api_error(&ApiError::from(e))).await,
    };
    if c.limiter.check().is_err() {
        let e =
            ApiError { retry_after: Some(1), ..ApiError::new(ErrorCode::RateLimited, "too many frames; slow down") };
        return match frame.request_id() {
            Some(id) => c.send(&ServerFrame::reply_err(id.clone(), &e)).await,
            None => c.send(&ServerFrame::api_error(&e)).await,
        };
    }
    match frame {
        ClientFrame::Auth { .. } => {
            c.send(&ServerFrame::error(ErrorCode::InvalidRequest, "already authenticated")).await
        }
        ClientFrame::Ping { id } => ping::ping(c, id).await,
        ClientFrame::Send { id, conversation_id, message } => {
            send::send(c, id, conversation_id, message, pending).await
        }
        ClientFrame::Sync { id, positions } => sync::sync(c, id, positions).await,
        ClientFrame::Read { conversation_id, seq } => read::read(c, conversation_id, seq).await,
        ClientFrame::Typing { conversation_id, active } => typing::typing(c, conversation_id, active).await,
        ClientFrame::Edit { id, conversation_id, message_id, text } => {
            edits::change(c, id, conversation_id, message_id, edits::Change::Edit(text)).await
        }
        ClientFrame::Recall { id, conversation_id, message_id } => {
            edits::change(c, id, conversation_id, message_id, edits::Change::Recall).await
        }
        ClientFrame::React { id, conversation_id, message_id, emoji, added } => {
            edits::change(c, id, conversation_id, message_id, edits::Change::React(emoji, added)).await
        }
    }
}
