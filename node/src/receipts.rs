//! Delivered receipts: connections report what they have written out; one task batches it and
//! records a batch every [`BATCH_EVERY`] (one transaction, one statement, a few NOTIFYs), never a
//! write per frame. Positions only move forward, so a lost batch is made good by the next one.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::ids::{ConversationId, Seq, UserId};
use parley_shared::service::receipts;
use tokio::sync::mpsc;
use tracing::warn;

use crate::db;

/// How often the batch is recorded.
const BATCH_EVERY: Duration = Duration::from_millis(250);

/// Where connections report deliveries.
#[derive(Clone)]
pub struct ReceiptsHandle {
    tx: mpsc::UnboundedSender<(ConversationId, UserId, Seq)>,
}

impl ReceiptsHandle {
    /// `user`'s device received `conv` up to `seq`.
    pub fn delivered(&self, conv: ConversationId, user: UserId, seq: Seq) {
        let _ = self.tx.send((conv, user, seq));
    }
}

/// Starts the batcher.
pub fn spawn(pool: Pool) -> ReceiptsHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(batch_forever(pool, rx));
    ReceiptsHandle { tx }
}

async fn batch_forever(pool: Pool, mut rx: mpsc::UnboundedReceiver<(ConversationId, UserId, Seq)>) {
    let mut pending: HashMap<(ConversationId, UserId), Seq> = HashMap::new();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some((c, u, s)) => {
                    pending.insert((c, u), s);
                }
                None => return,
            }
        }
        tokio::time::sleep(BATCH_EVERY).await;
        while let Ok((c, u, s)) = rx.try_recv() {
            let e = pending.entry((c, u)).or_insert(s);
            *e = (*e).max(s);
        }
        let marks: Vec<(ConversationId, UserId, Seq)> = pending.iter().map(|((c, u), s)| (*c, *u, *s)).collect();
        let result = match db::get(&pool).await {
            Ok(mut db) => receipts::mark_delivered(&mut db, &marks).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(moved) => {
                metrics::counter!("parley_receipt_batches_total").increment(1);
                metrics::counter!("parley_delivered_moved_total").increment(moved as u64);
                pending.clear();
            }
            Err(e) => warn!("recording {} delivered positions failed: {e:?}", marks.len()),
        }
    }
}
