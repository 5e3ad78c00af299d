//! Connection starts, batched: what a new connection must read (its user's memberships,
//! friends and online friends) is queued, and a worker reads whatever has queued up with one
//! set of statements (`service::presence::connection_starts`), as group commit does for sends.
//! A thousand phones reconnecting at once cost a few queries, not three thousand; a lone
//! connection waits for nobody.

use std::sync::Arc;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::ids::UserId;
use parley_shared::service::presence::{ConnectionStart, connection_starts};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db;

/// Most users read by one batch.
const MAX_BATCH: usize = 500;
/// Batches read at once.
const WORKERS: usize = 2;

type Request = (UserId, oneshot::Sender<Result<ConnectionStart, ApiError>>);

/// Handle to the start readers.
#[derive(Clone)]
pub struct Starts {
    tx: mpsc::Sender<Request>,
}

impl Starts {
    /// Starts the workers.
    pub fn spawn(pool: Pool) -> Starts {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            tokio::spawn(worker(pool.clone(), rx.clone()));
        }
        Starts { tx }
    }

    /// What a connection of `user` starts from.
    pub async fn read(&self, user: UserId) -> Result<ConnectionStart, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((user, reply)).await.map_err(|_| ApiError::internal("start readers stopped"))?;
        rx.await.map_err(|_| ApiError::internal("start reader dropped a request"))?
    }
}

async fn worker(pool: Pool, rx: Arc<Mutex<mpsc::Receiver<Request>>>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    loop {
        // Waits for one request, then takes what else is queued; 0 only once every sender is gone.
        if rx.lock().await.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let mut users: Vec<UserId> = batch.iter().map(|(u, _)| *u).collect();
        users.sort_unstable_by_key(|u| u.0);
        users.dedup();
        metrics::histogram!("parley_start_batch_size").record(users.len() as f64);
        let read = match db::get(&pool).await {
            Ok(db) => connection_starts(&*db, &users).await,
            Err(e) => Err(e),
        };
        match read {
            Ok(mut starts) => {
                for (user, reply) in batch.drain(..) {
                    let start = starts.get(&user).cloned().unwrap_or_default();
                    let _ = reply.send(Ok(start));
                }
                starts.clear();
            }
            Err(e) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
