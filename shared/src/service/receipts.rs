//! Delivered positions: the node batches what its connections have written out and records it
//! here, one transaction and a few NOTIFYs per batch, never a write per frame.

use tokio_postgres::Client;

use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::DeliveryReceipt;
use crate::store::conversations;
use crate::store::notify;
use crate::store::tx::transact;

/// Moves delivered positions forward and announces the ones that moved where someone hears of
/// them; answers how many moved. In a big group only the member's own devices would, and a
/// device does not need to hear that it received something, so those go unannounced: in a
/// 1,000-member group that spares every node a thousand pushes per batch that all end dropped.
pub async fn mark_delivered(db: &mut Client, marks: &[(ConversationId, UserId, Seq)]) -> Result<usize, ApiError> {
    if marks.is_empty() {
        return Ok(0);
    }
    Ok(transact!(db, |tx| {
        let moved = conversations::mark_delivered(tx, marks).await?;
        let heard: Vec<(DeliveryReceipt, bool)> = moved
            .iter()
            .filter(|(.., all)| *all)
            .map(|(c, u, s, all)| (DeliveryReceipt { conversation_id: *c, user_id: *u, seq: *s }, *all))
            .collect();
        notify::send_delivered(tx, &heard).await?;
        Ok(moved.len())
    })?)
}
