//! Friends, friend requests and blocks: the facts about two users, and the rows that change
//! them.

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};

use super::users::{USER_COL_COUNT, USER_COLS, user_from_row};
use super::{StoreError, Type};
use crate::ids::{FriendRequestId, UserId};
use crate::model::{BlockedUser, DmPolicy, Friend, FriendRequest, FriendRequestStatus, PresenceView};
use crate::rules::social::{DirectFacts, Tie};
use crate::time::Timestamp;

/// Locks the rows of these users that are live (not deleted), in id order, so that concurrent
/// changes between the same people are serialised; answers how many it locked.
pub async fn lock_users<C: GenericClient>(c: &C, ids: &[UserId]) -> Result<usize, StoreError> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed(
            "SELECT id FROM users WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR UPDATE",
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows.len())
}

/// The tie between `me` and `other` (one round trip).
pub async fn tie<C: GenericClient>(c: &C, me: UserId, other: UserId) -> Result<Tie, StoreError> {
    let row = c
        .query_typed_one(
            "SELECT EXISTS (SELECT 1 FROM friendships WHERE user_id = $1 AND friend_id = $2), \
                    EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2), \
                    EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1), \
                    (SELECT id FROM friend_requests WHERE from_user_id = $1 AND to_user_id = $2 AND status = 'pending'), \
                    (SELECT id FROM friend_requests WHERE from_user_id = $2 AND to_user_id = $1 AND status = 'pending')",
            &[(&me.0, Type::UUID), (&other.0, Type::UUID)],
        )
        .await?;
    Ok(Tie {
        friends: row.get(0),
        i_blocked: row.get(1),
        they_blocked: row.get(2),
        sent: row.get::<_, Option<uuid::Uuid>>(3).map(FriendRequestId),
        received: row.get::<_, Option<uuid::Uuid>>(4).map(FriendRequestId),
    })
}

/// What decides whether `me` may message `other` directly; `None` when `other` does not exist.
pub async fn direct_facts<C: GenericClient>(
    c: &C,
    me: UserId,
    other: UserId,
) -> Result<Option<DirectFacts>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT u.dm_policy, u.deleted_at IS NOT NULL, \
                    EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = $1 AND b.blocked_id = $2) \
                                                      OR (b.blocker_id = $2 AND b.blocked_id = $1)), \
                    EXISTS (SELECT 1 FROM friendships f WHERE f.user_id = $1 AND f.friend_id = $2) \
             FROM users u WHERE u.id = $2",
            &[(&me.0, Type::UUID), (&other.0, Type::UUID)],
        )
        .await?;
    Ok(rows.first().map(|r| DirectFacts {
        peer_policy: DmPolicy::from_db(r.get(0)),
        peer_deleted: r.get(1),
        blocked: r.get(2),
        friends: r.get(3),
    }))
}

/// How many pending requests `me` has sent.
pub async fn pending_outgoing<C: GenericClient>(c: &C, me: UserId) -> Result<i64, StoreError> {
    let row = c
        .query_typed_one(
            "SELECT count(*) FROM friend_requests WHERE from_user_id = $1 AND status = 'pending'",
            &[(&me.0, Type::UUID)],
        )
        .await?;
    Ok(row.get(0))
}

const REQUEST_SELECT: &str = "SELECT r.id, r.message, r.status, r.created_at, r.decided_at";

fn request_sql(where_clause: &str) -> String {
    let from_cols = USER_COLS.replace("u.", "fu.");
    let to_cols = USER_COLS.replace("u.", "tu.");
    format!(
        "{REQUEST_SELECT}, {from_cols}, {to_cols} FROM friend_requests r \
         JOIN users fu ON fu.id = r.from_user_id JOIN users tu ON tu.id = r.to_user_id {where_clause}"
    )
}

fn request_from_row(r: &Row) -> Result<FriendRequest, StoreError> {
    let status: &str = r.get(2);
    Ok(FriendRequest {
        id: FriendRequestId(r.get(0)),
        message: r.get(1),
        status: FriendRequestStatus::from_db(status)
            .ok_or_else(|| StoreError::Corrupt(format!("friend request status {status:?}")))?,
        created_at: Timestamp(r.get(3)),
        decided_at: r.get::<_, Option<DateTime<Utc>>>(4).map(Timestamp),
        from: user_from_row(r, 5),
        to: user_from_row(r, 5 + USER_COL_COUNT),
    })
}

/// Stores a new pending request.
pub async fn create_request<C: GenericClient>(
    c: &C,
    id: FriendRequestId,
    from: UserId,
    to: UserId,
    message: Option<&str>,
) -> Result<FriendRequest, StoreError> {
    c.query_typed(
        "INSERT INTO friend_requests (id, from_user_id, to_user_id, message) VALUES ($1, $2, $3, $4)",
        &[(&id.0, Type::UUID), (&from.0, Type::UUID), (&to.0, Type::UUID), (&message, Type::TEXT)],
    )
    .await?;
    request(c, id).await?.ok_or_else(|| StoreError::Corrupt("inserted request not found".into()))
}

/// A request by id.
pub async fn request<C: GenericClient>(c: &C, id: FriendRequestId) -> Result<Option<FriendRequest>, StoreError> {
    let sql = request_sql("WHERE r.id = $1");
    c.query_typed(&sql, &[(&id.0, Type::UUID)]).await?.first().map(request_from_row).transpose()
}

/// Decides a pending request (accepted, declined, cancelled); false when it was not pending (a
/// concurrent decision won).
pub async fn decide_request<C: GenericClient>(
    c: &C,
    id: FriendRequestId,
    status: FriendRequestStatus,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "UPDATE friend_requests SET status = $2, decided_at = now() WHERE id = $1 AND status = 'pending' RETURNING id",
            &[(&id.0, Type::UUID), (&status.as_str(), Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Cancels every pending request between `a` and `b`, either way (a block ends them); returns
/// them as they were.
pub async fn cancel_requests_between<C: GenericClient>(
    c: &C,
    a: UserId,
    b: UserId,
) -> Result<Vec<FriendRequest>, StoreError> {
    let sql = request_sql(
        "WHERE r.status = 'pending' AND ((r.from_user_id = $1 AND r.to_user_id = $2) \
                                     OR (r.from_user_id = $2 AND r.to_user_id = $1))",
    );
    let pending: Vec<FriendRequest> = c
        .query_typed(&sql, &[(&a.0, Type::UUID), (&b.0, Type::UUID)])
        .await?
        .iter()
        .map(request_from_row)
        .collect::<Result<_, _>>()?;
    for r in &pending {
        decide_request(c, r.id, FriendRequestStatus::Cancelled).await?;
    }
    Ok(pending)
}

/// Which pending requests to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent to the user.
    Incoming,
    /// Sent by the user.
    Outgoing,
}

/// A page position in a list ordered by (time, id): the last item returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeCursor {
    /// Its time.
    pub at: DateTime<Utc>,
    /// Its id, to break ties.
    pub id: uuid::Uuid,
}

impl TimeCursor {
    /// Text form for `next_cursor`.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.timestamp_micros(), self.id)
    }
    /// Parses [`Self::encode`]'s output.
    pub fn decode(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('_')?;
        Some(Self { at: DateTime::from_timestamp_micros(micros.parse().ok()?)?, id: id.parse().ok()? })
    }
}

/// `user`'s pending requests in `dir`, oldest first, after `after`.
pub async fn pending_requests<C: GenericClient>(
    c: &C,
    user: UserId,
    dir: Direction,
    after: Option<TimeCursor>,
    limit: i64,
) -> Result<Vec<FriendRequest>, StoreError> {
    let side = match dir {
        Direction::Incoming => "r.to_user_id",
        Direction::Outgoing => "r.from_user_id",
    };
    let sql = request_sql(&format!(
        "WHERE {side} = $1 AND r.status = 'pending' \
           AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3::uuid)) \
         ORDER BY r.created_at, r.id LIMIT $4"
    ));
    let (at, id) = (after.map(|a| a.at), after.map(|a| a.id));
    c.query_typed(&sql, &[(&user.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&id, Type::UUID), (&limit, Type::INT8)])
        .await?
        .iter()
        .map(request_from_row)
        .collect()
}

/// Makes `a` and `b` friends (both rows); false when they already were.
pub async fn befriend<C: GenericClient>(c: &C, a: UserId, b: UserId) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "INSERT INTO friendships (user_id, friend_id) VALUES ($1, $2), ($2, $1) ON CONFLICT DO NOTHING RETURNING 1",
            &[(&a.0, Type::UUID), (&b.0, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Ends a friendship (both rows); false when there was none.
pub async fn unfriend<C: GenericClient>(c: &C, a: UserId, b: UserId) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "DELETE FROM friendships WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1) \
             RETURNING 1",
            &[(&a.0, Type::UUID), (&b.0, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// `user`'s friends by username after `after`, with the presence of those who show it.
pub async fn friends<C: GenericClient>(
    c: &C,
    user: UserId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Friend>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLS}, f.created_at, u.show_presence, p.online, p.last_seen_at \
         FROM friendships f JOIN users u ON u.id = f.friend_id LEFT JOIN presence p ON p.user_id = u.id \
         WHERE f.user_id = $1 AND ($2::text IS NULL OR lower(u.username) > $2) \
         ORDER BY lower(u.username) LIMIT $3"
    );
    let rows = c.query_typed(&sql, &[(&user.0, Type::UUID), (&after, Type::TEXT), (&limit, Type::INT8)]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let n = USER_COL_COUNT;
            Friend {
                user: user_from_row(r, 0),
                since: Timestamp(r.get(n)),
                presence: presence_view(r.get(n + 1), r.get(n + 2), r.get(n + 3)),
            }
        })
        .collect())
}

/// What a friend sees of a user's presence row.
pub(crate) fn presence_view(shows: bool, online: Option<bool>, last_seen: Option<DateTime<Utc>>) -> PresenceView {
    if !shows {
        return PresenceView::default();
    }
    let online = online.unwrap_or(false);
    PresenceView { online: Some(online), last_seen_at: if online { None } else { last_seen.map(Timestamp) } }
}

/// The ids of `user`'s friends.
pub async fn friend_ids<C: GenericClient>(c: &C, user: UserId) -> Result<Vec<UserId>, StoreError> {
    let rows = c.query_typed("SELECT friend_id FROM friendships WHERE user_id = $1", &[(&user.0, Type::UUID)]).await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// [`friend_ids`] of several users at once: (user, friend) pairs.
pub async fn friend_ids_of<C: GenericClient>(c: &C, users: &[UserId]) -> Result<Vec<(UserId, UserId)>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed("SELECT user_id, friend_id FROM friendships WHERE user_id = ANY($1)", &[(&ids, Type::UUID_ARRAY)])
        .await?;
    Ok(rows.iter().map(|r| (UserId(r.get(0)), UserId(r.get(1)))).collect())
}

/// Blocks `other` for `me`; false when already blocked.
pub async fn block<C: GenericClient>(c: &C, me: UserId, other: UserId) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
            &[(&me.0, Type::UUID), (&other.0, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Lifts `me`'s block of `other`; false when there was none.
pub async fn unblock<C: GenericClient>(c: &C, me: UserId, other: UserId) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING 1",
            &[(&me.0, Type::UUID), (&other.0, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// The users `me` blocked, most recent first, after `after`.
pub async fn blocks<C: GenericClient>(
    c: &C,
    me: UserId,
    after: Option<TimeCursor>,
    limit: i64,
) -> Result<Vec<BlockedUser>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLS}, b.created_at FROM blocks b JOIN users u ON u.id = b.blocked_id \
         WHERE b.blocker_id = $1 AND ($2::timestamptz IS NULL OR (b.created_at, b.blocked_id) < ($2, $3::uuid)) \
         ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT $4"
    );
    let (at, id) = (after.map(|a| a.at), after.map(|a| a.id));
    let rows = c
        .query_typed(&sql, &[(&me.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&id, Type::UUID), (&limit, Type::INT8)])
        .await?;
    Ok(rows
        .iter()
        .map(|r| BlockedUser { user: user_from_row(r, 0), blocked_at: Timestamp(r.get(USER_COL_COUNT)) })
        .collect())
}

/// Whether `user` shows presence and is online now, with when last seen.
pub async fn presence_of<C: GenericClient>(c: &C, user: UserId) -> Result<PresenceView, StoreError> {
    let rows = c
        .query_typed(
            "SELECT u.show_presence, p.online, p.last_seen_at FROM users u LEFT JOIN presence p ON p.user_id = u.id \
             WHERE u.id = $1",
            &[(&user.0, Type::UUID)],
        )
        .await?;
    Ok(rows.first().map(|r| presence_view(r.get(0), r.get(1), r.get(2))).unwrap_or_default())
}
