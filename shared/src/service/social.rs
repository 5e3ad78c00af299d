//! Friends, friend requests and blocks. Every change locks the pair's user rows (in id order), so
//! two people acting on each other at once are serialised; rules decide inside the transaction,
//! and both sides hear of it through notices.

use tokio_postgres::GenericClient;

use super::{Env, notices};
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{FriendRequestId, UserId};
use crate::model::{
    BlockPage, FriendPage, FriendRequest, FriendRequestPage, FriendRequestStatus, NoticeBody, SendFriendRequest,
};
use crate::rules;
use crate::rules::limits::Costly;
use crate::rules::social::{RequestAction, RequestVerdict, Side};
use crate::store::notify::{self, Announcement};
use crate::store::social::{self, Direction, TimeCursor};
use crate::store::tx::transact;
use crate::store::{StoreError, users};

/// Locks both users' rows (in id order); a user that does not exist or was deleted is a 404.
async fn lock_pair<C: GenericClient>(c: &C, a: UserId, b: UserId) -> Result<(), StoreError> {
    let expected = if a == b { 1 } else { 2 };
    if social::lock_users(c, &[a, b]).await? < expected {
        return Err(StoreError::refused(ApiError::not_found("user not found")));
    }
    Ok(())
}

/// Accepts a pending request (inside a transaction that locked the pair): friends, notices to
/// both, and the nodes told.
async fn accept_in<C: GenericClient>(c: &C, r: &FriendRequest) -> Result<FriendRequest, StoreError> {
    social::decide_request(c, r.id, FriendRequestStatus::Accepted).await?;
    social::befriend(c, r.from.id, r.to.id).await?;
    notices::push(c, r.from.id, NoticeBody::FriendAccepted { user: r.to.clone() }).await?;
    notices::push(c, r.to.id, NoticeBody::FriendAccepted { user: r.from.clone() }).await?;
    notify::send(c, &Announcement::Friends { a: r.from.id, b: r.to.id, friends: true }).await?;
    let accepted = social::request(c, r.id).await?;
    accepted.ok_or_else(|| StoreError::Corrupt("accepted request vanished".into()))
}

/// A request as stored after its decision (with `decided_at`).
async fn decided<C: GenericClient>(c: &C, id: FriendRequestId) -> Result<FriendRequest, StoreError> {
    social::request(c, id).await?.ok_or_else(|| StoreError::Corrupt("decided request vanished".into()))
}

/// `POST /v1/friends/requests`: a new pending request (201), or, when they already asked the
/// caller, their request accepted (200).
pub async fn send_request<E: Env>(
    env: &E,
    me: &AccessClaims,
    b: SendFriendRequest,
) -> Result<(FriendRequest, bool), ApiError> {
    let message = rules::social::request_message(b.message)?;
    if me.user_id == b.user_id {
        return Err(ApiError::invalid("user_id: cannot befriend yourself"));
    }
    let mut db = env.db().await?;
    super::limits::spend(env, &mut db, Costly::FriendRequest, me.user_id).await?;
    Ok(transact!(db, |tx| {
        lock_pair(tx, me.user_id, b.user_id).await?;
        let tie = social::tie(tx, me.user_id, b.user_id).await?;
        let pending = social::pending_outgoing(tx, me.user_id).await?;
        match rules::social::friend_request(me.user_id, b.user_id, &tie, pending).map_err(StoreError::refused)? {
            RequestVerdict::AcceptTheirs(id) => {
                let theirs = social::request(tx, id).await?.ok_or_else(|| StoreError::Retry("request moved".into()))?;
                Ok((accept_in(tx, &theirs).await?, false))
            }
            RequestVerdict::Create => {
                let r = social::create_request(tx, FriendRequestId::new(), me.user_id, b.user_id, message.as_deref())
                    .await?;
                notices::push(tx, b.user_id, NoticeBody::FriendRequest { request: r.clone() }).await?;
                Ok((r, true))
            }
        }
    })?)
}

/// Accepts, declines or cancels a request.
pub async fn decide<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: FriendRequestId,
    action: RequestAction,
) -> Result<FriendRequest, ApiError> {
    let mut db = env.db().await?;
    let found = social::request(&*db, id).await?.ok_or_else(|| ApiError::not_found("friend request not found"))?;
    Ok(transact!(db, |tx| {
        lock_pair(tx, found.from.id, found.to.id).await?;
        let r = social::request(tx, id)
            .await?
            .ok_or_else(|| StoreError::refused(ApiError::not_found("friend request not found")))?;
        let side = if r.from.id == me.user_id {
            Side::Sender
        } else if r.to.id == me.user_id {
            Side::Recipient
        } else {
            Side::Stranger
        };
        rules::social::decide_request(side, r.status, action).map_err(StoreError::refused)?;
        match action {
            RequestAction::Accept => accept_in(tx, &r).await,
            RequestAction::Decline => {
                social::decide_request(tx, id, FriendRequestStatus::Declined).await?;
                notices::push(tx, r.from.id, NoticeBody::FriendDeclined { request_id: id, user_id: r.to.id }).await?;
                decided(tx, id).await
            }
            RequestAction::Cancel => {
                social::decide_request(tx, id, FriendRequestStatus::Cancelled).await?;
                notices::push(tx, r.to.id, NoticeBody::FriendRequestCancelled { request_id: id, user_id: r.from.id })
                    .await?;
                decided(tx, id).await
            }
        }
    })?)
}

/// The caller's pending requests, incoming or outgoing, oldest first.
pub async fn pending<E: Env>(
    env: &E,
    me: &AccessClaims,
    direction: Option<&str>,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<FriendRequestPage, ApiError> {
    let dir = match direction {
        None | Some("incoming") => Direction::Incoming,
        Some("outgoing") => Direction::Outgoing,
        Some(_) => return Err(ApiError::invalid("direction: incoming or outgoing")),
    };
    let limit = rules::pagination::limit(limit)?;
    let after = time_cursor(cursor)?;
    let db = env.db().await?;
    let mut requests = social::pending_requests(&*db, me.user_id, dir, after, limit + 1).await?;
    let next_cursor = page_end(&mut requests, limit, |r| TimeCursor { at: r.created_at.0, id: r.id.0 }.encode());
    Ok(FriendRequestPage { requests, next_cursor })
}

/// The caller's friends, by username.
pub async fn friends<E: Env>(
    env: &E,
    me: &AccessClaims,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<FriendPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let db = env.db().await?;
    let mut friends = social::friends(&*db, me.user_id, cursor, limit + 1).await?;
    let next_cursor = page_end(&mut friends, limit, |f| f.user.username.clone());
    Ok(FriendPage { friends, next_cursor })
}

/// Ends a friendship; 404 when there is none.
pub async fn unfriend<E: Env>(env: &E, me: &AccessClaims, other: UserId) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        lock_pair(tx, me.user_id, other).await?;
        if !social::unfriend(tx, me.user_id, other).await? {
            return Err(StoreError::refused(ApiError::not_found("not friends with this user")));
        }
        ended(tx, me.user_id, other).await
    })?)
}

/// A friendship ended: the other side hears of it, the nodes stop sharing presence.
async fn ended<C: GenericClient>(c: &C, me: UserId, other: UserId) -> Result<(), StoreError> {
    notices::push(c, other, NoticeBody::FriendRemoved { user_id: me }).await?;
    notify::send(c, &Announcement::Friends { a: me, b: other, friends: false }).await
}

/// Blocks a user: ends the friendship and pending requests between them; idempotent.
pub async fn block<E: Env>(env: &E, me: &AccessClaims, other: UserId) -> Result<(), ApiError> {
    if me.user_id == other {
        return Err(ApiError::invalid("user_id: cannot block yourself"));
    }
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        lock_pair(tx, me.user_id, other).await?;
        social::block(tx, me.user_id, other).await?;
        social::cancel_requests_between(tx, me.user_id, other).await?;
        if social::unfriend(tx, me.user_id, other).await? {
            ended(tx, me.user_id, other).await?;
        }
        Ok(())
    })?)
}

/// Lifts a block; restores nothing else. Idempotent.
pub async fn unblock<E: Env>(env: &E, me: &AccessClaims, other: UserId) -> Result<(), ApiError> {
    let db = env.db().await?;
    if users::get(&*db, other).await?.is_none() {
        return Err(ApiError::not_found("user not found"));
    }
    social::unblock(&*db, me.user_id, other).await?;
    Ok(())
}

/// The users the caller blocked, most recent first.
pub async fn blocks<E: Env>(
    env: &E,
    me: &AccessClaims,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<BlockPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let after = time_cursor(cursor)?;
    let db = env.db().await?;
    let mut blocks = social::blocks(&*db, me.user_id, after, limit + 1).await?;
    let next_cursor = page_end(&mut blocks, limit, |b| TimeCursor { at: b.blocked_at.0, id: b.user.id.0 }.encode());
    Ok(BlockPage { blocks, next_cursor })
}

/// A page cursor of a list ordered by time.
pub(crate) fn time_cursor(cursor: Option<&str>) -> Result<Option<TimeCursor>, ApiError> {
    cursor
        .map(|c| TimeCursor::decode(c).ok_or_else(|| ApiError::invalid("cursor: not a cursor from this API")))
        .transpose()
}

/// Cuts a list fetched with `limit + 1` rows to `limit`, and answers the next page's cursor.
pub(crate) fn page_end<T>(items: &mut Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(cursor)
    } else {
        None
    }
}
