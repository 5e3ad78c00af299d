//! Work on media that happens after the request: thumbnail jobs any node can take (a lease in
//! `media_jobs.run_after`, so a job whose node died is taken again), and the sweeps that find
//! uploads never completed and media nothing refers to any more.
//!
//! A sweep is a transaction: it locks its candidates (`FOR UPDATE SKIP LOCKED`, so several
//! nodes share the work without waiting on each other), then checks them again under the lock
//! in a new statement: a send or a profile change that attaches a medium locks its row first
//! ([`super::media::lock_for_attach`]), so anything committed before the lock is seen and
//! nothing can attach after it.

use std::time::Duration;

use futures_util::TryFutureExt;
use tokio_postgres::GenericClient;

use super::media::MediaRow;
use super::{StoreError, Type};
use crate::ids::MediaId;
use crate::time::Timestamp;

/// Queues the thumbnail of `id` and wakes the nodes (at commit).
pub async fn enqueue<C: GenericClient>(c: &C, id: MediaId, at: Timestamp) -> Result<(), StoreError> {
    futures_util::future::try_join(
        c.query_typed(
            "INSERT INTO media_jobs (media_id, run_after) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[(&id.0, Type::UUID), (&at.0, Type::TIMESTAMPTZ)],
        )
        .map_err(StoreError::from),
        super::notify::send(c, &super::notify::Announcement::MediaJob),
    )
    .await?;
    Ok(())
}

/// A job taken: the medium, and how many times it was taken before this one.
#[derive(Clone, Debug)]
pub struct Job {
    /// The image.
    pub media: MediaRow,
    /// Earlier attempts.
    pub attempts: i32,
}

/// Takes the oldest due job for `lease`: until then no other node takes it.
pub async fn take<C: GenericClient>(c: &C, lease: Duration) -> Result<Option<Job>, StoreError> {
    let lease_secs = lease.as_secs_f64();
    let rows = c
        .query_typed(
            &format!(
                "WITH j AS (UPDATE media_jobs SET run_after = now() + make_interval(secs => $1), \
                                                  attempts = attempts + 1 \
                            WHERE media_id = (SELECT media_id FROM media_jobs WHERE run_after <= now() \
                                              ORDER BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED) \
                            RETURNING media_id, attempts) \
                 SELECT {}, j.attempts FROM j JOIN media ON media.id = j.media_id",
                super::media::COLS
            ),
            &[(&lease_secs, Type::FLOAT8)],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| Job { media: super::media::row(r), attempts: r.get::<_, i32>(super::media::COL_COUNT) - 1 }))
}

/// Records the thumbnail of `id` and drops its job; `false` when the medium was deleted
/// meanwhile (the caller deletes the thumbnail it stored).
pub async fn thumbnail_done<C: GenericClient>(
    c: &C,
    id: MediaId,
    key: &str,
    content_type: &str,
) -> Result<bool, StoreError> {
    let (updated, _) = futures_util::future::try_join(
        c.query_typed(
            "UPDATE media SET has_thumbnail = true, thumb_key = $2, thumb_content_type = $3, thumb_error = NULL \
             WHERE id = $1 RETURNING id",
            &[(&id.0, Type::UUID), (&key, Type::TEXT), (&content_type, Type::TEXT)],
        ),
        c.query_typed("DELETE FROM media_jobs WHERE media_id = $1", &[(&id.0, Type::UUID)]),
    )
    .await?;
    Ok(!updated.is_empty())
}

/// A thumbnail that cannot be made (`retry_after: None`: never, say why on the medium) or not
/// now (the store was unreachable: again after that long).
pub async fn thumbnail_failed<C: GenericClient>(
    c: &C,
    id: MediaId,
    error: &str,
    retry_after: Option<Duration>,
) -> Result<(), StoreError> {
    match retry_after {
        Some(wait) => {
            c.query_typed(
                "UPDATE media_jobs SET run_after = now() + make_interval(secs => $2), last_error = $3 \
                 WHERE media_id = $1",
                &[(&id.0, Type::UUID), (&wait.as_secs_f64(), Type::FLOAT8), (&error, Type::TEXT)],
            )
            .await?;
        }
        None => {
            futures_util::future::try_join(
                c.query_typed("DELETE FROM media_jobs WHERE media_id = $1", &[(&id.0, Type::UUID)]),
                c.query_typed(
                    "UPDATE media SET thumb_error = $2 WHERE id = $1",
                    &[(&id.0, Type::UUID), (&error, Type::TEXT)],
                ),
            )
            .await?;
        }
    }
    Ok(())
}

/// The objects of a medium that a sweep deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doomed {
    /// The medium.
    pub id: MediaId,
    /// Its object, and its thumbnail's.
    pub keys: Vec<String>,
}

/// Which media a sweep is after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Uploads announced before this and never completed.
    Unfinished(Timestamp),
    /// Completed media, completed before this, that no message, profile or group shows.
    Unreferenced(Timestamp),
}

const UNREFERENCED: &str = "NOT EXISTS (SELECT 1 FROM media_uses u WHERE u.media_id = m.id) \
     AND NOT EXISTS (SELECT 1 FROM users x WHERE x.avatar_media_id = m.id) \
     AND NOT EXISTS (SELECT 1 FROM groups x WHERE x.avatar_media_id = m.id)";

/// Locks up to `limit` media the sweep may delete, in this transaction; the caller deletes their
/// objects, then [`forget`]s them before committing.
pub async fn doomed<C: GenericClient>(c: &C, sweep: Sweep, limit: i64) -> Result<Vec<Doomed>, StoreError> {
    let unreferenced;
    let (cond, before) = match sweep {
        Sweep::Unfinished(t) => ("NOT m.ready AND m.created_at < $1", t),
        Sweep::Unreferenced(t) => {
            unreferenced = format!("m.ready AND m.completed_at < $1 AND {UNREFERENCED}");
            (unreferenced.as_str(), t)
        }
    };
    let locked = c
        .query_typed(
            &format!(
                "SELECT m.id FROM media m WHERE {cond} ORDER BY {} LIMIT $2 FOR UPDATE SKIP LOCKED",
                if matches!(sweep, Sweep::Unfinished(_)) { "m.created_at" } else { "m.completed_at" }
            ),
            &[(&before.0, Type::TIMESTAMPTZ), (&limit, Type::INT8)],
        )
        .await?;
    let ids: Vec<uuid::Uuid> = locked.iter().map(|r| r.get(0)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Under the lock, in a new snapshot: uses committed since the first statement began count.
    let still = if matches!(sweep, Sweep::Unreferenced(_)) { UNREFERENCED } else { "true" };
    let rows = c
        .query_typed(
            &format!("SELECT m.id, m.object_key, m.thumb_key FROM media m WHERE m.id = ANY($1) AND {still}"),
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Doomed {
            id: MediaId(r.get(0)),
            keys: std::iter::once(r.get::<_, String>(1)).chain(r.get::<_, Option<String>>(2)).collect(),
        })
        .collect())
}

/// Deletes these media rows (their objects are gone).
pub async fn forget<C: GenericClient>(c: &C, ids: &[MediaId]) -> Result<(), StoreError> {
    let raw: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
    c.query_typed("DELETE FROM media WHERE id = ANY($1)", &[(&raw, Type::UUID_ARRAY)]).await?;
    Ok(())
}
