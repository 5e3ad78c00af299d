//! Moderation's rows: the sensitive-word list, reports, and the per-user send limit's state.

use std::collections::HashMap;

use tokio_postgres::GenericClient;

use super::statements::Query;
use super::{StoreError, Type};
use crate::ids::{EventId, ReportId, UserId};
use crate::model::Report;
use crate::rules::words::WordAction;
use crate::time::Timestamp;

/// Every listed word with its action.
pub async fn words<C: GenericClient>(c: &C) -> Result<Vec<(String, WordAction)>, StoreError> {
    let rows = c.query_typed("SELECT word, action FROM word_filters ORDER BY word", &[]).await?;
    rows.iter()
        .map(|r| {
            let a: &str = r.get(1);
            let action = WordAction::from_db(a).ok_or_else(|| StoreError::Corrupt(format!("word action {a:?}")))?;
            Ok((r.get(0), action))
        })
        .collect()
}

/// Lists `word` with `action` (replacing an earlier entry).
pub async fn put_word<C: GenericClient>(c: &C, word: &str, action: WordAction) -> Result<(), StoreError> {
    c.query_typed(
        "INSERT INTO word_filters (word, action) VALUES ($1, $2) ON CONFLICT (word) DO UPDATE SET action = $2",
        &[(&word, Type::TEXT), (&action.as_str(), Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// Unlists `word`; false when it was not listed.
pub async fn delete_word<C: GenericClient>(c: &C, word: &str) -> Result<bool, StoreError> {
    let rows = c.query_typed("DELETE FROM word_filters WHERE word = $1 RETURNING 1", &[(&word, Type::TEXT)]).await?;
    Ok(!rows.is_empty())
}

/// Stores a report.
pub async fn create_report<C: GenericClient>(
    c: &C,
    reporter: UserId,
    message: Option<EventId>,
    user: Option<UserId>,
    reason: &str,
) -> Result<Report, StoreError> {
    let id = ReportId::new();
    let (m, u) = (message.map(|m| m.0), user.map(|u| u.0));
    let row = c
        .query_typed_one(
            "INSERT INTO reports (id, reporter_id, message_id, user_id, reason) VALUES ($1, $2, $3, $4, $5) \
             RETURNING created_at",
            &[
                (&id.0, Type::UUID),
                (&reporter.0, Type::UUID),
                (&m, Type::UUID),
                (&u, Type::UUID),
                (&reason, Type::TEXT),
            ],
        )
        .await?;
    Ok(Report { id, message_id: message, user_id: user, reason: reason.to_owned(), created_at: Timestamp(row.get(0)) })
}

/// Locks the send-limit rows of `users` (creating missing ones, sorted so concurrent batches
/// lock in one order) and reads their theoretical arrival times.
pub async fn lock_send_limits<C: Query>(c: &C, users: &[UserId]) -> Result<HashMap<UserId, Timestamp>, StoreError> {
    let mut ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // ON CONFLICT DO UPDATE locks an existing row like FOR UPDATE, and returns it.
    let rows = c
        .query_typed(
            "INSERT INTO send_limits (user_id, tat) SELECT u, '-infinity' FROM unnest($1::uuid[]) AS u ORDER BY u \
             ON CONFLICT (user_id) DO UPDATE SET tat = send_limits.tat RETURNING user_id, tat",
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let tat: Option<chrono::DateTime<chrono::Utc>> = r.try_get(1).ok();
            tat.map(|t| (UserId(r.get(0)), Timestamp(t)))
        })
        .collect())
}

/// Writes back the send-limit state of these users.
pub async fn set_send_limits<C: Query>(c: &C, tats: &HashMap<UserId, Timestamp>) -> Result<(), StoreError> {
    if tats.is_empty() {
        return Ok(());
    }
    let users: Vec<uuid::Uuid> = tats.keys().map(|u| u.0).collect();
    let times: Vec<chrono::DateTime<chrono::Utc>> = tats.values().map(|t| t.0).collect();
    c.query_typed(
        "UPDATE send_limits s SET tat = k.t FROM unnest($1::uuid[], $2::timestamptz[]) AS k(u, t) WHERE s.user_id = k.u",
        &[(&users, Type::UUID_ARRAY), (&times, Type::TIMESTAMPTZ_ARRAY)],
    )
    .await?;
    Ok(())
}
