//! Node leases, the realtime connections each node holds, and presence derived from them. A node
//! renews its lease while it lives; a dead node's lease expires and its connection rows are
//! deleted with it, so presence and push decisions never trust a node that stopped answering.
//!
//! A connection row's node holds a lease. No foreign key keeps that (it would cost a check per
//! row, one statement per connection after a restart): a node's batch locks its lease first
//! ([`apply_connections`]) and whoever deletes a lease deletes its rows in the same transaction,
//! in a later statement, which sees the rows of a batch that held the lock meanwhile.
//!
//! Presence: a user is online while any connection row of theirs exists. Nodes record the
//! connections they open and close in batches ([`apply_connections`]), which also says who just
//! came online; a user whose last connection closed goes offline only after a grace period
//! ([`reap_offline`]), so a reconnect within it announces nothing.

use std::time::Duration;

use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{ConnectionId, NodeId, SessionId, UserId};
use crate::model::PresenceChange;

/// Takes (or retakes, after a restart) `node`'s lease for `lease`, and clears the connection
/// rows a previous run of the same node left behind. Run it in a transaction.
pub async fn take_lease<C: GenericClient>(c: &C, node: &NodeId, lease: Duration) -> Result<(), StoreError> {
    let secs = lease.as_secs_f64();
    c.query_typed(
        "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
         ON CONFLICT (node_id) DO UPDATE SET started_at = now(), expires_at = EXCLUDED.expires_at",
        &[(&node.0, Type::TEXT), (&secs, Type::FLOAT8)],
    )
    .await?;
    // A restart under the same name: its previous run's connections are gone.
    forget_connections(c, std::slice::from_ref(&node.0)).await
}

/// Extends `node`'s lease by `lease` from now, and deletes the expired leases of dead nodes with
/// their connections: their users left without a connection start their grace period. Run it
/// in a transaction.
pub async fn renew_lease<C: GenericClient>(c: &C, node: &NodeId, lease: Duration) -> Result<(), StoreError> {
    let secs = lease.as_secs_f64();
    c.query_typed(
        "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
         ON CONFLICT (node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
        &[(&node.0, Type::TEXT), (&secs, Type::FLOAT8)],
    )
    .await?;
    let dead: Vec<String> = c
        .query_typed("DELETE FROM node_leases WHERE expires_at < now() RETURNING node_id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if dead.is_empty() {
        return Ok(());
    }
    forget_connections(c, &dead).await
}

/// Gives up `node`'s lease and its connection rows; users left without a connection start their
/// grace period now. Run it in a transaction.
pub async fn release_lease<C: GenericClient>(c: &C, node: &NodeId) -> Result<(), StoreError> {
    c.query_typed("DELETE FROM node_leases WHERE node_id = $1", &[(&node.0, Type::TEXT)]).await?;
    forget_connections(c, std::slice::from_ref(&node.0)).await
}

/// Deletes the connection rows of `nodes` (whose leases are gone) and starts the grace period of
/// the users who had a connection only there. Only as much work as there were such rows.
async fn forget_connections<C: GenericClient>(c: &C, nodes: &[String]) -> Result<(), StoreError> {
    c.query_typed(
        "WITH gone AS (DELETE FROM node_connections WHERE node_id = ANY($1) RETURNING user_id) \
         UPDATE presence p SET offline_since = now() \
         WHERE p.online AND p.offline_since IS NULL AND p.user_id IN (SELECT user_id FROM gone) \
           AND NOT EXISTS (SELECT 1 FROM node_connections nc WHERE nc.user_id = p.user_id AND nc.node_id <> ALL($1))",
        &[(&nodes, Type::TEXT_ARRAY)],
    )
    .await?;
    Ok(())
}

/// A realtime connection as a node records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldConnection {
    /// The node holding it.
    pub node: NodeId,
    /// The connection.
    pub connection: ConnectionId,
    /// Its auth session.
    pub session: SessionId,
    /// Its user.
    pub user: UserId,
    /// `ws` or `quic`.
    pub transport: &'static str,
}

/// Records the connections a node opened and forgets the ones it closed (four statements,
/// whatever the batch size; [`StoreError::LeaseLost`] when the node's lease is gone), and
/// answers who came online (had no connection anywhere and now has one; users who hide their
/// presence are left out of the answer). A user left without any connection starts their grace
/// period; [`reap_offline`] later takes them offline. Opening also marks each auth session used,
/// with its transport. Run it in a transaction with the announcement of its answer.
pub async fn apply_connections<C: GenericClient>(
    c: &C,
    node: &NodeId,
    opened: &[HeldConnection],
    closed: &[ConnectionId],
) -> Result<Vec<PresenceChange>, StoreError> {
    let o_conns: Vec<uuid::Uuid> = opened.iter().map(|h| h.connection.0).collect();
    let o_sessions: Vec<uuid::Uuid> = opened.iter().map(|h| h.session.0).collect();
    let o_users: Vec<uuid::Uuid> = opened.iter().map(|h| h.user.0).collect();
    let o_transports: Vec<&str> = opened.iter().map(|h| h.transport).collect();
    let closed: Vec<uuid::Uuid> = closed.iter().map(|c| c.0).collect();
    // The lease, locked until the batch commits: a concurrent expiry waits, then deletes these
    // rows too; an expiry that came first leaves nothing to lock.
    let held =
        c.query_typed("SELECT 1 FROM node_leases WHERE node_id = $1 FOR KEY SHARE", &[(&node.0, Type::TEXT)]).await?;
    if held.is_empty() {
        return Err(StoreError::LeaseLost(node.0.clone()));
    }
    // Data-modifying CTEs all see the snapshot from before the statement, so the presence
    // decision is a second statement, after the rows changed.
    let closed_users = c
        .query_typed(
            "WITH ins AS (INSERT INTO node_connections (node_id, connection_id, session_id, user_id, transport) \
                          SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[]) \
                          ON CONFLICT DO NOTHING RETURNING 1), \
                  touched AS (UPDATE auth_sessions s SET last_used_at = now(), last_transport = t.transport \
                              FROM unnest($3::uuid[], $5::text[]) AS t(session_id, transport) \
                              WHERE s.id = t.session_id RETURNING 1) \
             DELETE FROM node_connections WHERE node_id = $1 AND connection_id = ANY($6) RETURNING user_id",
            &[
                (&node.0, Type::TEXT),
                (&o_conns, Type::UUID_ARRAY),
                (&o_sessions, Type::UUID_ARRAY),
                (&o_users, Type::UUID_ARRAY),
                (&o_transports, Type::TEXT_ARRAY),
                (&closed, Type::UUID_ARRAY),
            ],
        )
        .await?;
    let mut users: Vec<uuid::Uuid> = o_users.clone();
    users.extend(closed_users.iter().map(|r| r.get::<_, uuid::Uuid>(0)));
    users.sort();
    users.dedup();
    if users.is_empty() {
        return Ok(Vec::new());
    }
    // Lock the existing presence rows in user order (concurrent nodes cannot deadlock) and read
    // what they said; then set each user's state from whether a connection row of theirs exists.
    // (Separate statements: a row locked by a CTE and updated by the same statement would read
    // as gone.) Two nodes creating a new user's row at once may both announce them online, which
    // clients take as one.
    let before = c
        .query_typed(
            "SELECT user_id, online FROM presence WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE",
            &[(&users, Type::UUID_ARRAY)],
        )
        .await?;
    let was_online: std::collections::HashSet<uuid::Uuid> =
        before.iter().filter(|r| r.get::<_, bool>(1)).map(|r| r.get(0)).collect();
    let known: Vec<uuid::Uuid> = before.iter().map(|r| r.get(0)).collect();
    let rows = c
        .query_typed(
            "WITH now_state AS (SELECT u AS user_id, \
                                       EXISTS (SELECT 1 FROM node_connections nc WHERE nc.user_id = u) AS connected \
                                FROM unnest($1::uuid[]) AS u), \
                  up AS (INSERT INTO presence (user_id, online, offline_since) \
                         SELECT user_id, connected, NULL FROM now_state WHERE connected OR user_id = ANY($2) \
                         ON CONFLICT (user_id) DO UPDATE SET \
                             online = presence.online OR EXCLUDED.online, \
                             offline_since = CASE WHEN EXCLUDED.online THEN NULL \
                                                  WHEN presence.online THEN COALESCE(presence.offline_since, now()) \
                                                  ELSE presence.offline_since END \
                         RETURNING user_id, online) \
             SELECT up.user_id FROM up JOIN users u ON u.id = up.user_id WHERE up.online AND u.show_presence",
            &[(&users, Type::UUID_ARRAY), (&known, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, uuid::Uuid>(0))
        .filter(|u| !was_online.contains(u))
        .map(|u| PresenceChange { user_id: UserId(u), online: true, last_seen_at: None })
        .collect())
}

/// Takes offline the users whose grace period (`grace`) ran out with no connection anywhere
/// (an index scan over users in their grace period: the work follows departures, not the number
/// online). Users whose connections vanished without a close started theirs when the node's
/// lease expired ([`renew_lease`]). Answers who went offline (leaving out users who hide their
/// presence). Safe on several nodes at once: each row changes once.
pub async fn reap_offline<C: GenericClient>(c: &C, grace: Duration) -> Result<Vec<PresenceChange>, StoreError> {
    let secs = grace.as_secs_f64();
    let gone = c
        .query_typed(
            "UPDATE presence p SET online = false, last_seen_at = p.offline_since, offline_since = NULL \
             FROM users u \
             WHERE u.id = p.user_id AND p.online AND p.offline_since < now() - make_interval(secs => $1) \
               AND NOT EXISTS (SELECT 1 FROM node_connections nc WHERE nc.user_id = p.user_id) \
             RETURNING p.user_id, p.last_seen_at, u.show_presence",
            &[(&secs, Type::FLOAT8)],
        )
        .await?;
    Ok(gone
        .iter()
        .filter(|r| r.get::<_, bool>(2))
        .map(|r| PresenceChange {
            user_id: UserId(r.get(0)),
            online: false,
            last_seen_at: r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(1).map(crate::time::Timestamp),
        })
        .collect())
}

/// `user`'s online friends who show their presence.
pub async fn online_friends<C: GenericClient>(c: &C, user: UserId) -> Result<Vec<UserId>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT f.friend_id FROM friendships f JOIN presence p ON p.user_id = f.friend_id \
             JOIN users u ON u.id = f.friend_id \
             WHERE f.user_id = $1 AND p.online AND u.show_presence",
            &[(&user.0, Type::UUID)],
        )
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// [`online_friends`] of several users at once: (user, online friend) pairs.
pub async fn online_friends_of<C: GenericClient>(c: &C, users: &[UserId]) -> Result<Vec<(UserId, UserId)>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed(
            "SELECT f.user_id, f.friend_id FROM friendships f JOIN presence p ON p.user_id = f.friend_id \
             JOIN users u ON u.id = f.friend_id \
             WHERE f.user_id = ANY($1) AND p.online AND u.show_presence",
            &[(&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| (UserId(r.get(0)), UserId(r.get(1)))).collect())
}

/// Whether `user` is online now.
pub async fn is_online<C: GenericClient>(c: &C, user: UserId) -> Result<bool, StoreError> {
    let rows = c.query_typed("SELECT online FROM presence WHERE user_id = $1", &[(&user.0, Type::UUID)]).await?;
    Ok(rows.first().is_some_and(|r| r.get(0)))
}
