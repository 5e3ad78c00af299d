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
