//! Presence for the node: what a new connection needs to know, the node's batched record of
//! the connections it opens and closes, and the reaper that takes users offline after their
//! grace period. Changes are announced in the same transaction that made them.

use std::collections::HashMap;
use std::time::Duration;

use tokio_postgres::{Client, GenericClient};

use crate::error::ApiError;
use crate::ids::{ConnectionId, NodeId, UserId};
use crate::model::{PresenceChange, PresenceView};
use crate::store::conversations::Head;
use crate::store::notify;
use crate::store::presence::{self, HeldConnection};
use crate::store::tx::transact;
use crate::store::{StoreError, conversations, social};

/// What a connection needs when it starts.
#[derive(Clone, Debug, Default)]
pub struct ConnectionStart {
    /// The user's conversations with their last seq.
    pub memberships: Vec<Head>,
    /// The user's friends (whose presence the connection follows).
    pub friends: Vec<UserId>,
    /// Those of them online now who show it.
    pub online_friends: Vec<UserId>,
}

/// Reads a connection's start (three pipelined statements).
pub async fn connection_start<C: GenericClient>(db: &C, user: UserId) -> Result<ConnectionStart, ApiError> {
    Ok(connection_starts(db, &[user]).await?.remove(&user).unwrap_or_default())
}

/// The starts of several users' connections, with the same three statements however many
/// users: a node batches the connections that open at once.
pub async fn connection_starts<C: GenericClient>(
    db: &C,
    users: &[UserId],
) -> Result<HashMap<UserId, ConnectionStart>, ApiError> {
    let (memberships, friends, online) = futures_util::future::try_join3(
        conversations::memberships_of(db, users),
        social::friend_ids_of(db, users),
        presence::online_friends_of(db, users),
    )
    .await?;
    let mut starts: HashMap<UserId, ConnectionStart> = users.iter().map(|u| (*u, ConnectionStart::default())).collect();
    for (u, head) in memberships {
        starts.entry(u).or_default().memberships.push(head);
    }
    for (u, f) in friends {
        starts.entry(u).or_default().friends.push(f);
    }
    for (u, f) in online {
        starts.entry(u).or_default().online_friends.push(f);
    }
    Ok(starts)
}

/// Takes (or retakes, after a restart) `node`'s lease and clears what a previous run left.
pub async fn take_lease(db: &mut Client, node: &NodeId, lease: Duration) -> Result<(), ApiError> {
    Ok(transact!(db, |tx| presence::take_lease(tx, node, lease).await)?)
}

/// Renews `node`'s lease and deletes dead nodes' leases with their connections.
pub async fn renew_lease(db: &mut Client, node: &NodeId, lease: Duration) -> Result<(), ApiError> {
    Ok(transact!(db, |tx| presence::renew_lease(tx, node, lease).await)?)
}

/// Gives up `node`'s lease and its connections.
pub async fn release_lease(db: &mut Client, node: &NodeId) -> Result<(), ApiError> {
    Ok(transact!(db, |tx| presence::release_lease(tx, node).await)?)
}

/// Records what a node opened and closed since its last batch; announces who came online. A
/// node whose lease expired while it was away (frozen, cut off) takes it again for `lease` and
/// records the batch then.
pub async fn apply(
    db: &mut Client,
    node: &NodeId,
    lease: Duration,
    opened: &[HeldConnection],
    closed: &[ConnectionId],
) -> Result<Vec<PresenceChange>, ApiError> {
    let mut renewed = false;
    loop {
        let applied = transact!(db, |tx| {
            let changes = presence::apply_connections(tx, node, opened, closed).await?;
            notify::send_presence(tx, &changes).await?;
            Ok(changes)
        });
        match applied {
            Err(StoreError::LeaseLost(_)) if !renewed => {
                renew_lease(db, node, lease).await?;
                renewed = true;
            }
            other => return Ok(other?),
        }
    }
}

/// Takes offline (and announces) the users whose grace period ran out.
pub async fn reap(db: &mut Client, grace: Duration) -> Result<Vec<PresenceChange>, ApiError> {
    Ok(transact!(db, |tx| {
        let changes = presence::reap_offline(tx, grace).await?;
        notify::send_presence(tx, &changes).await?;
        Ok(changes)
    })?)
}

/// `user`'s friends who are online now and show it.
pub async fn online_friends<C: GenericClient>(db: &C, user: UserId) -> Result<Vec<UserId>, ApiError> {
    Ok(presence::online_friends(db, user).await?)
}

/// A user's presence as a friend sees it (for a friendship that just began).
pub async fn view<C: GenericClient>(db: &C, user: UserId) -> Result<PresenceView, ApiError> {
    Ok(social::presence_of(db, user).await?)
}
