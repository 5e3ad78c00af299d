//! Notices: stored per user and announced to their connected devices in the same transaction.

use tokio_postgres::GenericClient;

use super::Env;
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{NoticeId, UserId};
use crate::model::{MarkNoticesSeen, Notice, NoticeBody, NoticePage};
use crate::rules;
use crate::store::notify::{self, Announcement};
use crate::store::{StoreError, notices};

/// Stores a notice for `user` and announces it (in the caller's transaction).
pub(crate) async fn push<C: GenericClient>(c: &C, user: UserId, body: NoticeBody) -> Result<Notice, StoreError> {
    let notice = notices::insert(c, user, body).await?;
    notify::send(c, &Announcement::Notice { user_id: user, notice: Box::new(notice.clone()) }).await?;
    Ok(notice)
}

/// Stores the same notice for each of `users` and announces them in a few NOTIFYs (in the
/// caller's transaction): a group's new members hear of it whatever their number.
pub(crate) async fn push_many<C: GenericClient>(c: &C, users: &[UserId], body: NoticeBody) -> Result<(), StoreError> {
    let (to, at) = notices::insert_many(c, users, &body).await?;
    notify::send_notices(c, &to, at, &body).await
}

/// The caller's notices, newest first, older than the page cursor.
pub async fn list<E: Env>(
    env: &E,
    me: &AccessClaims,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<NoticePage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let before = match cursor {
        Some(c) => Some(c.parse::<NoticeId>().map_err(|_| ApiError::invalid("cursor: not a cursor from this API"))?),
        None => None,
    };
    let db = env.db().await?;
    let (mut notices, unseen_count) = notices::list(&*db, me.user_id, before, limit + 1).await?;
    let next_cursor = if notices.len() as i64 > limit {
        notices.truncate(limit as usize);
        notices.last().map(|n| n.id.to_string())
    } else {
        None
    };
    Ok(NoticePage { notices, next_cursor, unseen_count })
}

/// Marks the caller's notices up to `up_to` seen.
pub async fn mark_seen<E: Env>(env: &E, me: &AccessClaims, b: MarkNoticesSeen) -> Result<(), ApiError> {
    let db = env.db().await?;
    Ok(notices::mark_seen(&*db, me.user_id, b.up_to).await?)
}
