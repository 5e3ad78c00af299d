//! Group commit: sends that arrive over this node's connections are queued, and a worker sends
//! whatever has queued up (up to `max_batch`) as one batch of the send use case
//! ([`parley_shared::service::messages::send_batch`]): one transaction and its NOTIFYs. Under load
//! the batch grows by itself; when idle a send commits alone with no added wait.
//!
//! With several workers, each owns the sends of a share of the conversations (by id): a
//! conversation's sends queue for one worker, so one socket's pipelined sends to it commit in
//! the order they were sent, while other conversations commit beside them on another connection
//! (and another Postgres backend, another core).

use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::model::Event;
use parley_shared::service::messages::{SendRequest, send_batch};
use parley_shared::store::statements::Statements;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::db;
use crate::policy::Policy;

struct Request {
    send: SendRequest,
    reply: oneshot::Sender<Result<Event, ApiError>>,
}

/// Handle to the commit workers.
#[derive(Clone)]
pub struct Committer {
    /// One queue per worker; a conversation's sends always go to the same one.
    shards: Arc<[mpsc::Sender<Request>]>,
}

/// The outcome of a queued send, once committed.
pub type Pending = oneshot::Receiver<Result<Event, ApiError>>;

impl Committer {
    /// Starts `workers` commit workers, each committing up to `max_batch` sends per transaction.
    pub fn spawn(pool: Pool, max_batch: usize, workers: usize, policy: Arc<Policy>) -> Self {
        let shards = (0..workers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel::<Request>(max_batch.max(1) * 64);
                tokio::spawn(worker(pool.clone(), rx, max_batch.max(1), policy.clone()));
                tx
            })
            .collect();
        Self { shards }
    }

    /// Queues a send; the receiver yields the stored event or the reason it was not stored.
    /// Waits if the queue is full (back-pressure on the sending connection).
    pub async fn submit(&self, send: SendRequest) -> Pending {
        let (reply, rx) = oneshot::channel();
        // Ids are random: their low bits spread conversations evenly over the workers.
        let shard = (send.conversation_id.0.as_u128() % self.shards.len() as u128) as usize;
        if let Err(mpsc::error::SendError(req)) = self.shards[shard].send(Request { send, reply }).await {
            let _ = req.reply.send(Err(ApiError::internal("commit workers stopped")));
        }
        rx
    }
}

async fn worker(pool: Pool, mut rx: mpsc::Receiver<Request>, max_batch: usize, policy: Arc<Policy>) {
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
    // The worker keeps one connection and the statements it prepared there, so a commit is
    // parsed and planned once per connection, not per batch; a broken connection is replaced.
    let mut held: Option<(db::PooledClient, Statements)> = None;
    loop {
        // Waits for one request, then takes what else is queued; 0 only once every sender is gone.
        if rx.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        let sends: Vec<SendRequest> = batch.iter().map(|r| r.send.clone()).collect();
        let n = sends.len();
        let started = Instant::now();
        let conn = match held.take() {
            Some(h) if !h.0.is_closed() => Ok(h),
            _ => db::get(&pool).await.map(|conn| (conn, Statements::default())),
        };
        let outcome = match conn {
            Ok((mut conn, statements)) => {
                let outcome = send_batch(&mut conn, Some(&statements), &policy.send_policy(), sends).await;
                held = Some((conn, statements));
                outcome
            }
            Err(e) => Err(e),
        };
        metrics::histogram!("parley_commit_batch_size").record(n as f64);
        metrics::histogram!("parley_commit_seconds").record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(results) => {
                if let Some(Ok(ev)) = results.iter().find(|r| r.is_ok()) {
                    // From the send's decision to its commit's answer (the second round trip):
                    // set beside the hubs' `parley_hub_event_age_seconds`, from the same start.
                    let age = chrono::Utc::now() - ev.created_at.0;
                    metrics::histogram!("parley_commit_event_age_seconds").record(age.as_seconds_f64().max(0.0));
                }
                for (req, res) in batch.drain(..).zip(results) {
                    let _ = req.reply.send(res);
                }
            }
            Err(e) => {
                // Nothing of the batch was stored (the transaction rolled back): every sender
                // gets the error and may retry with the same client_msg_id.
                warn!("group commit of {n} sends failed: {e:?}");
                for req in batch.drain(..) {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
