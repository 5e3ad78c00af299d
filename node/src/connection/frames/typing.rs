//! `typing`: forwarded to the conversation's other members, at most every [`TYPING_EVERY`] per
//! conversation and connection; never stored.

use std::time::{Duration, Instant};

use parley_shared::ids::ConversationId;
use parley_shared::protocol::ServerFrame;
use parley_shared::rules;
use parley_shared::service::realtime;
use tracing::warn;

use crate::connection::Connection;
use crate::connection::sink::{FrameSink, SinkError};
use crate::db;

/// A typing indicator is forwarded at most this often per conversation and connection.
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Announces that the user started or stopped typing; 404 for a conversation the connection
/// does not follow. Starts are forwarded at most every [`TYPING_EVERY`]; a stop only after a
/// start was forwarded (there is nothing to stop otherwise), and at once.
pub(super) async fn typing<S: FrameSink>(
    c: &mut Connection<S>,
    conv: ConversationId,
    active: bool,
) -> Result<(), SinkError> {
    let member = c.lane.lock().positions.contains(&conv);
    if let Err(e) = rules::conversations::require_member(member) {
        return c.send(&ServerFrame::api_error(&e)).await;
    }
    let now = Instant::now();
    if active {
        if c.typing.get(&conv).is_some_and(|t| now.duration_since(*t) < TYPING_EVERY) {
            return Ok(());
        }
        c.typing.insert(conv, now);
    } else if c.typing.remove(&conv).is_none() {
        return Ok(());
    }
    let sent = match db::get(&c.node.pool).await {
        Ok(db) => realtime::typing(&*db, conv, c.claims.user_id, active).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        warn!("typing notice failed: {e:?}");
    }
    Ok(())
}
