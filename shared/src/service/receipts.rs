//! Delivered positions: the node batches what its connections have written out and records it
//! here, one transaction and a few NOTIFYs per batch, never a write per frame.

use tokio_postgres::Client;

use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::DeliveryReceipt;
use crate::store::conversations;
use crate::store::notify;
use crate::store::tx::transact;

/// Moves delivered positions forward and announces the ones that moved; answers how many did.
pub async fn mark_delivered(db: &mut Client, marks: &[(ConversationId, UserId, Seq)]) -> Result<usize, ApiError> {
    if marks.is_empty() {
        return Ok(0);
    }
    Ok(transact!(db, |tx| {
        let moved = conversations::mark_delivered(tx, marks).await?;
        let receipts: Vec<(DeliveryReceipt, bool)> = moved
            .iter()
            .map(|(c, u, s, all)| (DeliveryReceipt { conversation_id: *c, user_id: *u, seq: *s }, *all))
            .collect();
        notify::send_delivered(tx, &receipts).await?;
        Ok(receipts.len())
    })?)
}
