//! Connection starts, batched ([`crate::batch`]): what a new connection must read (its user's
//! memberships, friends and online friends) is read for every connection that opened meanwhile
//! with one set of statements (`service::presence::connection_starts`).

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::ids::UserId;
use parley_shared::service::presence::{ConnectionStart, connection_starts};

use crate::batch::Batched;

/// Most users read by one batch.
const MAX_BATCH: usize = 500;
/// Batches read at once.
const WORKERS: usize = 2;

/// Handle to the start readers.
#[derive(Clone)]
pub struct Starts(Batched<UserId, ConnectionStart>);

impl Starts {
    /// Starts the workers.
    pub fn spawn(pool: Pool) -> Starts {
        Starts(Batched::spawn(
            pool,
            MAX_BATCH,
            WORKERS,
            "parley_start_batch_size",
            |db, users: Vec<UserId>| async move {
                let mut distinct = users.clone();
                distinct.sort_unstable_by_key(|u| u.0);
                distinct.dedup();
                let starts = connection_starts(&*db, &distinct).await?;
                Ok(users.iter().map(|u| starts.get(u).cloned().unwrap_or_default()).collect())
            },
        ))
    }

    /// What a connection of `user` starts from.
    pub async fn read(&self, user: UserId) -> Result<ConnectionStart, ApiError> {
        self.0.call(user).await
    }
}
