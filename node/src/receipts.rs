//! Delivered receipts: connections (per flush) and the hub (per round) report what they have
//! written out; one task batches it and records a batch every [`BATCH_EVERY`], or
//! [`BIG_BATCH_EVERY`] while batches are big (one transaction, one statement, a few NOTIFYs),
//! never a write per frame. Positions only move forward, so a lost batch is made good by the next one.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::ids::{ConversationId, Seq, UserId};
use parley_shared::service::receipts;
use tokio::sync::mpsc;
use tracing::warn;

use crate::db;

/// How often a batch is recorded while batches are small (a few chats: the sender's "delivered"
/// tick comes quickly).
const BATCH_EVERY: Duration = Duration::from_millis(250);
/// How often while batches are big. A member's marks coalesce into one row per batch, so in a
/// busy big group a longer wait records the same rows less often: at 50 msg/s to 1,000 members a
/// batch updates 1,000 rows however long it waited, and each one costs every socket on the node
/// a few ms of latency while Postgres runs it beside the fan-out.
const BIG_BATCH_EVERY: Duration = Duration::from_secs(1);
/// A batch of this many positions or more makes the next one wait [`BIG_BATCH_EVERY`].
const BIG_BATCH: usize = 256;

/// Members' devices received these conversations up to these seqs.
type Report = Vec<(ConversationId, UserId, Seq)>;

/// Where connections and the hub report deliveries: one report per flush or per round, never
/// a channel send per socket or per event.
#[derive(Clone)]
pub struct ReceiptsHandle {
    tx: mpsc::UnboundedSender<Report>,
}

impl ReceiptsHandle {
    /// Each `(conv, user, seq)`: `user`'s device received `conv` up to `seq`.
    pub fn delivered(&self, marks: Report) {
        if !marks.is_empty() {
            let _ = self.tx.send(marks);
        }
    }
}

/// Starts the batcher.
pub fn spawn(pool: Pool) -> ReceiptsHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(batch_forever(pool, rx));
    ReceiptsHandle { tx }
}

fn note(pending: &mut HashMap<(ConversationId, UserId), Seq>, marks: Report) {
    for (conv, user, seq) in marks {
        let e = pending.entry((conv, user)).or_insert(seq);
        *e = (*e).max(seq);
    }
}

async fn batch_forever(pool: Pool, mut rx: mpsc::UnboundedReceiver<Report>) {
    let mut pending: HashMap<(ConversationId, UserId), Seq> = HashMap::new();
    let mut wait = BATCH_EVERY;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(report) => note(&mut pending, report),
                None => return,
            }
        }
        tokio::time::sleep(wait).await;
        while let Ok(report) = rx.try_recv() {
            note(&mut pending, report);
        }
        let marks: Vec<(ConversationId, UserId, Seq)> = pending.iter().map(|((c, u), s)| (*c, *u, *s)).collect();
        wait = if marks.len() >= BIG_BATCH { BIG_BATCH_EVERY } else { BATCH_EVERY };
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
