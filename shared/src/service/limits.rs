//! Spending the limits of costly requests ([`Costly`]) on the request's own connection: one
//! short transaction, before the work it guards.

use std::fmt::Display;

use tokio_postgres::Client;

use super::Env;
use crate::error::ApiError;
use crate::rules::limits::Costly;
use crate::store::rate_limits;
use crate::store::tx::transact;
use crate::time::Timestamp;

/// Spends one `what` of `who` (a user id, or an address), or answers the 429 with `Retry-After`.
pub(crate) async fn spend<E: Env>(env: &E, db: &mut E::Db, what: Costly, who: impl Display) -> Result<(), ApiError> {
    if !env.costly_limits() {
        return Ok(());
    }
    let key = [what.key(who)];
    let now = Timestamp::now();
    let db: &mut Client = db;
    transact!(db, |tx| rate_limits::take(tx, &key, now).await)?.map_err(|wait| what.refused(wait))
}
