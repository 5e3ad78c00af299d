//! Batched reads, as group commit batches writes: requests queue, and a worker answers whatever
//! has queued up (up to a maximum) with one connection and one set of statements. Under a burst
//! (a thousand phones reconnecting) the batch grows by itself; a lone request waits for nobody.
//! [`crate::starts`] and [`crate::syncs`] are its users.

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db;

type Request<Q, A> = (Q, oneshot::Sender<Result<A, ApiError>>);

/// Handle to a batched reader answering `Q`s with `A`s.
pub struct Batched<Q, A> {
    tx: mpsc::Sender<Request<Q, A>>,
}

impl<Q, A> Clone for Batched<Q, A> {
    fn clone(&self) -> Self {
        Batched { tx: self.tx.clone() }
    }
}

impl<Q: Send + 'static, A: Send + 'static> Batched<Q, A> {
    /// Starts `workers` workers, each answering up to `max_batch` requests per call of `read`
    /// (which returns one answer per request, in order). `size_metric` records batch sizes.
    pub fn spawn<F, Fut>(pool: Pool, max_batch: usize, workers: usize, size_metric: &'static str, read: F) -> Self
    where
        F: Fn(db::PooledClient, Vec<Q>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<A>, ApiError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let rx = Arc::new(Mutex::new(rx));
        let read = Arc::new(read);
        for _ in 0..workers {
            tokio::spawn(worker(pool.clone(), rx.clone(), max_batch, size_metric, read.clone()));
        }
        Batched { tx }
    }

    /// Queues `q` and waits for its answer.
    pub async fn call(&self, q: Q) -> Result<A, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send((q, reply)).await.map_err(|_| ApiError::internal("batched reader stopped"))?;
        rx.await.map_err(|_| ApiError::internal("batched reader dropped a request"))?
    }
}

async fn worker<Q, A, F, Fut>(
    pool: Pool,
    rx: Arc<Mutex<mpsc::Receiver<Request<Q, A>>>>,
    max_batch: usize,
    size_metric: &'static str,
    read: Arc<F>,
) where
    F: Fn(db::PooledClient, Vec<Q>) -> Fut,
    Fut: Future<Output = Result<Vec<A>, ApiError>>,
{
    let mut batch: Vec<Request<Q, A>> = Vec::with_capacity(max_batch);
    loop {
        // Waits for one request, then takes what else is queued; 0 only once every sender is gone.
        if rx.lock().await.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        metrics::histogram!(size_metric).record(batch.len() as f64);
        let (qs, replies): (Vec<Q>, Vec<_>) = batch.drain(..).unzip();
        let n = qs.len();
        let answers = match db::get(&pool).await {
            Ok(db) => read(db, qs).await,
            Err(e) => Err(e),
        };
        match answers {
            Ok(answers) if answers.len() == n => {
                for (reply, a) in replies.into_iter().zip(answers) {
                    let _ = reply.send(Ok(a));
                }
            }
            Ok(_) => {
                let e = ApiError::internal("batched reader answered the wrong number of requests");
                replies.into_iter().for_each(|r| drop(r.send(Err(e.clone()))));
            }
            Err(e) => replies.into_iter().for_each(|r| drop(r.send(Err(e.clone())))),
        }
    }
}
