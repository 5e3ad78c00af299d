//! `sync`s, batched ([`crate::batch`]): the syncs of connections that open together are answered
//! with one set of statements (`service::realtime::sync_many`), so a reconnect storm costs a
//! few queries per batch rather than five per connection.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::ids::{ConversationId, Seq, UserId};
use parley_shared::service::realtime::{SyncFacts, SyncRequest, sync_many};

use crate::batch::Batched;

/// Most syncs answered by one batch.
const MAX_BATCH: usize = 256;
/// Batches answered at once.
const WORKERS: usize = 2;

/// Handle to the sync readers.
#[derive(Clone)]
pub struct Syncs(Batched<SyncRequest, SyncFacts>);

impl Syncs {
    /// Starts the workers.
    pub fn spawn(pool: Pool) -> Syncs {
        Syncs(Batched::spawn(
            pool,
            MAX_BATCH,
            WORKERS,
            "parley_sync_batch_size",
            |db, reqs: Vec<SyncRequest>| async move { sync_many(&*db, &reqs).await },
        ))
    }

    /// What `user`'s `sync` from `wanted` sends.
    pub async fn read(&self, user: UserId, wanted: BTreeMap<ConversationId, Seq>) -> Result<SyncFacts, ApiError> {
        self.0.call(SyncRequest { user, wanted }).await
    }
}
