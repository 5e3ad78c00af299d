//! Per-user notices and their seen marker.

use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{NoticeId, UserId};
use crate::model::{Notice, NoticeBody};
use crate::time::Timestamp;

/// Stores a notice for `user` (unseen) and returns it as it will be listed.
pub async fn insert<C: GenericClient>(c: &C, user: UserId, body: NoticeBody) -> Result<Notice, StoreError> {
    let notice = Notice { id: NoticeId::new(), created_at: Timestamp::now_micros(), seen: false, body };
    let json = serde_json::to_value(&notice.body).expect("notices serialise");
    c.query_typed(
        "INSERT INTO notices (id, user_id, body, created_at) VALUES ($1, $2, $3, $4)",
        &[
            (&notice.id.0, Type::UUID),
            (&user.0, Type::UUID),
            (&json, Type::JSONB),
            (&notice.created_at.0, Type::TIMESTAMPTZ),
        ],
    )
    .await?;
    Ok(notice)
}

/// Stores the same notice for each of `users` (one statement); returns each one's id, and the
/// time they share.
pub async fn insert_many<C: GenericClient>(
    c: &C,
    users: &[UserId],
    body: &NoticeBody,
) -> Result<(Vec<(UserId, NoticeId)>, Timestamp), StoreError> {
    let at = Timestamp::now_micros();
    let to: Vec<(UserId, NoticeId)> = users.iter().map(|u| (*u, NoticeId::new())).collect();
    if to.is_empty() {
        return Ok((to, at));
    }
    let ids: Vec<uuid::Uuid> = to.iter().map(|(_, n)| n.0).collect();
    let user_ids: Vec<uuid::Uuid> = to.iter().map(|(u, _)| u.0).collect();
    let json = serde_json::to_value(body).expect("notices serialise");
    c.query_typed(
        "INSERT INTO notices (id, user_id, body, created_at) SELECT i, u, $3, $4 FROM unnest($1::uuid[], $2::uuid[]) AS t(i, u)",
        &[(&ids, Type::UUID_ARRAY), (&user_ids, Type::UUID_ARRAY), (&json, Type::JSONB), (&at.0, Type::TIMESTAMPTZ)],
    )
    .await?;
    Ok((to, at))
}

/// `user`'s notices, newest first, older than `before`; and how many are unseen.
pub async fn list<C: GenericClient>(
    c: &C,
    user: UserId,
    before: Option<NoticeId>,
    limit: i64,
) -> Result<(Vec<Notice>, i64), StoreError> {
    let before = before.map(|b| b.0);
    let (rows, unseen) = futures_util::future::try_join(
        c.query_typed(
            "SELECT n.id, n.created_at, n.body, (u.notices_seen_id IS NOT NULL AND n.id <= u.notices_seen_id) \
             FROM notices n JOIN users u ON u.id = n.user_id \
             WHERE n.user_id = $1 AND ($2::uuid IS NULL OR n.id < $2) ORDER BY n.id DESC LIMIT $3",
            &[(&user.0, Type::UUID), (&before, Type::UUID), (&limit, Type::INT8)],
        ),
        c.query_typed_one(
            "SELECT count(*) FROM notices n JOIN users u ON u.id = n.user_id \
             WHERE n.user_id = $1 AND (u.notices_seen_id IS NULL OR n.id > u.notices_seen_id)",
            &[(&user.0, Type::UUID)],
        ),
    )
    .await?;
    let notices = rows
        .iter()
        .map(|r| {
            let body: NoticeBody =
                serde_json::from_value(r.get(2)).map_err(|e| StoreError::Corrupt(format!("notice body: {e}")))?;
            Ok(Notice { id: NoticeId(r.get(0)), created_at: Timestamp(r.get(1)), seen: r.get(3), body })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((notices, unseen.get(0)))
}

/// Moves `user`'s seen marker forward to their newest notice at or before `up_to` (never back,
/// never past a notice they have: an id from the future cannot mark notices seen before they
/// exist).
pub async fn mark_seen<C: GenericClient>(c: &C, user: UserId, up_to: NoticeId) -> Result<(), StoreError> {
    c.query_typed(
        "WITH upto AS (SELECT id FROM notices WHERE user_id = $1 AND id <= $2 ORDER BY id DESC LIMIT 1) \
         UPDATE users SET notices_seen_id = GREATEST(COALESCE(notices_seen_id, upto.id), upto.id) \
         FROM upto WHERE users.id = $1",
        &[(&user.0, Type::UUID), (&up_to.0, Type::UUID)],
    )
    .await?;
    Ok(())
}
