//! A transaction's writes sent together with its COMMIT: one round trip for all of them.
//!
//! The store's write functions take any [`Query`]. Given a [`Recorder`] they run as usual, but
//! each statement is recorded (its parameters encoded at once) instead of sent, and answers no
//! rows: write functions never read what their statements return. [`Recorder::commit`] then
//! sends every recorded statement and the COMMIT in one go, in order: Postgres runs them in
//! that order, and a failed statement aborts the transaction, which turns the COMMIT into a
//! rollback, so the writes land together or not at all.
//!
//! Order is what makes this safe: every write must reach Postgres before the COMMIT. Recording
//! first and sending from one place guarantees it whatever the write functions look like
//! (statements one after another, or several at once).

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::future::BoxFuture;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Error, Row};

use super::StoreError;
use super::statements::{Params, Query, Statements};

/// A parameter encoded when its statement was recorded (`None`: NULL).
#[derive(Debug)]
struct Encoded(Option<Vec<u8>>);

impl ToSql for Encoded {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    // Encoded for this very type when recorded.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One recorded statement.
#[derive(Debug)]
struct Recorded {
    sql: String,
    types: Vec<Type>,
    params: Vec<Encoded>,
}

/// Records write statements instead of sending them; see the module's documentation.
#[derive(Debug, Default)]
pub struct Recorder {
    writes: Mutex<Vec<Recorded>>,
    /// A parameter that would not encode (a bug: a value and a type that do not match).
    failed: Mutex<Option<String>>,
}

impl Query for Recorder {
    fn query_typed<'a>(&'a self, sql: &'a str, params: &'a Params<'a>) -> BoxFuture<'a, Result<Vec<Row>, Error>> {
        let mut encoded = Vec::with_capacity(params.len());
        for (value, ty) in params {
            let mut buf = BytesMut::new();
            match value.to_sql_checked(ty, &mut buf) {
                Ok(IsNull::No) => encoded.push(Encoded(Some(buf.to_vec()))),
                Ok(IsNull::Yes) => encoded.push(Encoded(None)),
                Err(e) => {
                    self.failed
                        .lock()
                        .expect("recorder lock")
                        .get_or_insert(format!("encoding a parameter of {sql}: {e}"));
                }
            }
        }
        let types = params.iter().map(|(_, t)| t.clone()).collect();
        self.writes.lock().expect("recorder lock").push(Recorded { sql: sql.to_owned(), types, params: encoded });
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl Recorder {
    /// How many statements were recorded.
    pub fn len(&self) -> usize {
        self.writes.lock().expect("recorder lock").len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends the recorded statements, then COMMIT, in one go on `client` (in a transaction),
    /// each statement prepared once per connection in `statements`. Ends the transaction:
    /// committed if every statement succeeded, else rolled back (by the COMMIT itself) and the
    /// first statement's error returned.
    pub async fn commit(self, client: &Client, statements: &Statements) -> Result<(), StoreError> {
        if let Some(e) = self.failed.into_inner().expect("recorder lock") {
            return Err(StoreError::Corrupt(e));
        }
        let writes = self.writes.into_inner().expect("recorder lock");
        let mut prepared = Vec::with_capacity(writes.len());
        for w in &writes {
            // Once per connection and statement; then only bind and execute.
            prepared.push(statements.get_or_prepare(client, &w.sql, &w.types).await?);
        }
        let params: Vec<Vec<&(dyn ToSql + Sync)>> =
            writes.iter().map(|w| w.params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()).collect();
        let mut sends: Vec<BoxFuture<'_, Result<u64, Error>>> = Vec::with_capacity(writes.len() + 1);
        for (st, p) in prepared.iter().zip(&params) {
            sends.push(Box::pin(client.execute(st, p)));
        }
        sends.push(Box::pin(async move { client.batch_execute("COMMIT").await.map(|()| 0) }));
        let mut results = InOrder::new(sends).await;
        let commit = results.pop().expect("the COMMIT's result");
        // A failed statement aborted the transaction, and the COMMIT only rolled it back: the
        // first failure says why.
        for r in results {
            r?;
        }
        commit?;
        Ok(())
    }
}

/// Joins futures, polling them in the order given, every time: a future that sends a request
/// when first polled (as tokio-postgres's do) sends it in that order.
struct InOrder<'a, T> {
    futures: Vec<Option<BoxFuture<'a, T>>>,
    outputs: Vec<Option<T>>,
}

impl<'a, T> InOrder<'a, T> {
    fn new(futures: Vec<BoxFuture<'a, T>>) -> Self {
        let outputs = futures.iter().map(|_| None).collect();
        InOrder { futures: futures.into_iter().map(Some).collect(), outputs }
    }
}

impl<T> Unpin for InOrder<'_, T> {}

impl<T> Future for InOrder<'_, T> {
    type Output = Vec<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = &mut *self;
        let mut pending = false;
        for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        Poll::Ready(this.outputs.iter_mut().map(|o| o.take().expect("every output")).collect())
    }
}
