//! `read`: moves the user's read position (the same use case as `POST .../read`).

use parley_shared::ids::{ConversationId, Seq};
use parley_shared::protocol::ServerFrame;
use parley_shared::service::conversations;

use crate::connection::sink::{FrameSink, SinkError};
use crate::connection::{Connection, log_internal};
use crate::db;

/// Marks read; only a refusal is answered (with an `error` frame): the other members' devices
/// get the `read` frame through the hub.
pub(super) async fn read<S: FrameSink>(c: &mut Connection<S>, conv: ConversationId, seq: Seq) -> Result<(), SinkError> {
    let r = match db::get(&c.node.pool).await {
        Ok(mut db) => conversations::mark_read(&mut db, conv, c.claims.user_id, seq).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            log_internal(&e);
            c.send(&ServerFrame::api_error(&e)).await
        }
    }
}
