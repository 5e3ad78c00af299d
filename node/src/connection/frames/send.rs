//! `send`: queued for the node's group commit; the `reply` follows when it commits (in the order
//! the connection sent them).

use futures_util::stream::FuturesOrdered;
use parley_shared::ApiError;
use parley_shared::ids::ConversationId;
use parley_shared::model::MessageDraft;
use parley_shared::protocol::RequestId;
use parley_shared::service::messages::SendRequest;

use crate::connection::sink::{FrameSink, SinkError};
use crate::connection::{Connection, PendingSend};

/// Queues a send; validation, permission and idempotency are decided by the service when its
/// batch commits.
pub(super) async fn send<S: FrameSink>(
    c: &mut Connection<S>,
    id: RequestId,
    conversation_id: ConversationId,
    draft: MessageDraft,
    pending: &mut FuturesOrdered<PendingSend>,
) -> Result<(), SinkError> {
    let req = SendRequest { sender: c.claims.user_id, conversation_id, draft };
    let waiting = c.node.committer.submit(req).await;
    pending.push_back(Box::pin(async move {
        let outcome = waiting.await.unwrap_or_else(|_| Err(ApiError::internal("commit dropped")));
        (id, outcome)
    }));
    Ok(())
}
