//! Limit state of costly requests (`rate_limits`): one theoretical arrival time per key (a
//! login's account and address, a user's group creations, ...), spent by each request under a
//! row lock; [`crate::rules::limits`] decides.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::rules::limits::{self, Slow};
use crate::time::Timestamp;

/// Spends one attempt from every key, all or none: `Ok(Err(seconds to wait))` when any key is
/// over its rate (nothing is spent then). Keys are locked in sorted order, so concurrent
/// attempts never deadlock.
pub async fn take<C: GenericClient>(
    c: &C,
    keys: &[(String, Slow)],
    now: Timestamp,
) -> Result<Result<(), u64>, StoreError> {
    if keys.is_empty() {
        return Ok(Ok(()));
    }
    let mut names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    // ON CONFLICT DO UPDATE locks an existing row like FOR UPDATE, and returns it.
    let rows = c
        .query_typed(
            "INSERT INTO rate_limits (key, tat) SELECT k, '-infinity' FROM unnest($1::text[]) AS k ORDER BY k \
             ON CONFLICT (key) DO UPDATE SET tat = rate_limits.tat RETURNING key, tat",
            &[(&names, Type::TEXT_ARRAY)],
        )
        .await?;
    let tat_of = |key: &str| {
        rows.iter().find(|r| r.get::<_, &str>(0) == key).and_then(|r| r.try_get::<_, DateTime<Utc>>(1).ok())
    };
    let mut next = Vec::with_capacity(keys.len());
    let mut wait = 0;
    for (key, rate) in keys {
        match limits::admit_slow(tat_of(key).map(Timestamp), now, *rate) {
            Ok(t) => next.push((key.as_str(), t.0)),
            Err(w) => wait = wait.max(w),
        }
    }
    if wait > 0 {
        return Ok(Err(wait));
    }
    let (names, times): (Vec<&str>, Vec<DateTime<Utc>>) = next.into_iter().unzip();
    c.query_typed(
        "UPDATE rate_limits l SET tat = k.t FROM unnest($1::text[], $2::timestamptz[]) AS k(key, t) WHERE l.key = k.key",
        &[(&names, Type::TEXT_ARRAY), (&times, Type::TIMESTAMPTZ_ARRAY)],
    )
    .await?;
    // Keys whose time has passed mean nothing: a few go with every attempt.
    c.query_typed(
        "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE tat < $1 LIMIT 20 FOR UPDATE SKIP LOCKED)",
        &[(&now.0, Type::TIMESTAMPTZ)],
    )
    .await?;
    Ok(Ok(()))
}

/// After a successful login: the account's failures are forgiven (its keys deleted) and the
/// address gets back the attempt it spent (`refund`, by its rate), so that a shared address's
/// users do not use up each other's budget by logging in.
pub async fn forgive<C: GenericClient>(
    c: &C,
    keys: &[(String, Slow)],
    refund: &[(String, Slow)],
) -> Result<(), StoreError> {
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    if !names.is_empty() {
        c.query_typed("DELETE FROM rate_limits WHERE key = ANY($1::text[])", &[(&names, Type::TEXT_ARRAY)]).await?;
    }
    for (key, rate) in refund {
        c.query_typed(
            "UPDATE rate_limits SET tat = tat - make_interval(secs => $2) WHERE key = $1",
            &[(&key.as_str(), Type::TEXT), (&(rate.every.num_milliseconds() as f64 / 1000.0), Type::FLOAT8)],
        )
        .await?;
    }
    Ok(())
}
