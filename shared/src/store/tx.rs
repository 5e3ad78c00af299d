//! The one transaction-with-retry point, as zed's collab `Database::transaction`: every write
//! that spans statements runs through [`transact!`](crate::store::tx::transact).

/// How many times a transaction that hit a conflict is run again before giving up.
pub const MAX_TX_ATTEMPTS: usize = 4;

/// Runs `$body` (an expression using the transaction `$tx`, evaluating to
/// `Result<T, StoreError>`) in a transaction on `$db`, committing on success and running it again
/// (up to [`MAX_TX_ATTEMPTS`] times) when Postgres reports a serialization conflict or deadlock.
/// Evaluates to `Result<T, StoreError>`.
///
/// A macro rather than a function taking an async closure: closures borrowing the transaction
/// run into higher-ranked `Send` limits, and the node needs these futures to be `Send`.
macro_rules! transact {
    ($db:expr, |$tx:ident| $body:expr) => {
        async {
            let mut attempt = 1;
            loop {
                let tx = $db.transaction().await.map_err($crate::store::StoreError::from)?;
                let result: Result<_, $crate::store::StoreError> = {
                    let $tx = &tx;
                    async { $body }.await
                };
                let result = match result {
                    Ok(v) => tx.commit().await.map(|()| v).map_err($crate::store::StoreError::from),
                    Err(e) => Err(e), // dropping the transaction rolls it back
                };
                match result {
                    Err(e) if e.is_retryable() && attempt < $crate::store::tx::MAX_TX_ATTEMPTS => attempt += 1,
                    other => break other,
                }
            }
        }
        .await
    };
}
pub(crate) use transact;

/// How a commit worker's transaction begins: BEGIN, and plans for key lookups only. Every
/// statement of the send path finds its rows by key, and its statements are prepared once per
/// connection: a generic plan made while a table was small (a hash join over a sequential scan)
/// would otherwise stay for the connection's life and read the whole table on every batch as it
/// grows (seen: 25 ms per batch at 220,000 events, and falling throughput). With key lookups
/// forced, the generic plan is the right one, and it is used from the first execution: left to
/// itself Postgres plans each `= ANY($1)` statement afresh at every bind (its custom plans look
/// cheaper than the generic one), 50-90 µs a statement, most of a lone send's commit.
pub const BEGIN_KEY_LOOKUPS: &str = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; \
     SET LOCAL enable_mergejoin = off; SET LOCAL plan_cache_mode = force_generic_plan";

/// [`transact!`] in two round trips for a connection that nothing else uses (a commit worker's):
/// `$begin` (a simple-query text that starts with `BEGIN`, e.g. [`BEGIN_KEY_LOOKUPS`]) goes out
/// in the same write as the body's first statements, which Postgres runs after it (a
/// connection's requests run in order), and the body ends the transaction itself, its writes
/// recorded and sent with the COMMIT ([`crate::store::pipeline::Recorder::commit`]). `$db` is a
/// `&tokio_postgres::Client` with no transaction open; the body sees it as `$c`. On an error the
/// transaction is rolled back (harmless if the failed COMMIT already did); a conflict runs it
/// again, as [`transact!`] does. Evaluates to `Result<T, StoreError>`.
///
/// The body's statements wait behind the BEGIN's answer, which `try_join` looks at first: if
/// the BEGIN failed, the body is dropped before any of its later statements are sent.
macro_rules! transact_pipelined {
    ($db:expr, $begin:expr, |$c:ident| $body:expr) => {
        async {
            let client: &tokio_postgres::Client = $db;
            let mut attempt = 1;
            loop {
                let begin = async { client.batch_execute($begin).await.map_err($crate::store::StoreError::from) };
                let body = async {
                    let $c = client;
                    let result: Result<_, $crate::store::StoreError> = $body;
                    result
                };
                let result = match futures_util::future::try_join(begin, body).await {
                    Ok(((), v)) => Ok(v),
                    Err(e) => {
                        // Ends the transaction if it is still open (a WARNING if not).
                        let _ = client.batch_execute("ROLLBACK").await;
                        Err(e)
                    }
                };
                match result {
                    Err(e) if e.is_retryable() && attempt < $crate::store::tx::MAX_TX_ATTEMPTS => attempt += 1,
                    other => break other,
                }
            }
        }
        .await
    };
}
pub(crate) use transact_pipelined;
