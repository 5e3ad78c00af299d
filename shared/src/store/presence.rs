//! Node leases and the realtime connections each node holds. A node renews its lease while it
//! lives; a dead node's lease expires and its connection rows go with it (ON DELETE CASCADE), so
//! presence and push decisions never trust a node that stopped answering.

use std::time::Duration;

use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{ConnectionId, NodeId, SessionId, UserId};

/// Takes (or retakes, after a restart) `node`'s lease for `lease`, and clears the connection
/// rows a previous run of the same node left behind.
pub async fn take_lease<C: GenericClient>(c: &C, node: &NodeId, lease: Duration) -> Result<(), StoreError> {
    let secs = lease.as_secs_f64();
    c.query_typed(
        "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
         ON CONFLICT (node_id) DO UPDATE SET started_at = now(), expires_at = EXCLUDED.expires_at",
        &[(&node.0, Type::TEXT), (&secs, Type::FLOAT8)],
    )
    .await?;
    c.query_typed("DELETE FROM node_connections WHERE node_id = $1", &[(&node.0, Type::TEXT)]).await?;
    Ok(())
}

/// Extends `node`'s lease by `lease` from now, and deletes the expired leases of dead nodes
/// (and, by cascade, their connections).
pub async fn renew_lease<C: GenericClient>(c: &C, node: &NodeId, lease: Duration) -> Result<(), StoreError> {
    let secs = lease.as_secs_f64();
    c.query_typed(
        "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
         ON CONFLICT (node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
        &[(&node.0, Type::TEXT), (&secs, Type::FLOAT8)],
    )
    .await?;
    c.query_typed("DELETE FROM node_leases WHERE expires_at < now()", &[]).await?;
    Ok(())
}

/// Gives up `node`'s lease (its connection rows go with it).
pub async fn release_lease<C: GenericClient>(c: &C, node: &NodeId) -> Result<(), StoreError> {
    c.query_typed("DELETE FROM node_leases WHERE node_id = $1", &[(&node.0, Type::TEXT)]).await?;
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

/// Records a connection a node now holds.
pub async fn record_connection<C: GenericClient>(c: &C, h: &HeldConnection) -> Result<(), StoreError> {
    c.query_typed(
        "INSERT INTO node_connections (node_id, connection_id, session_id, user_id, transport) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        &[
            (&h.node.0, Type::TEXT),
            (&h.connection.0, Type::UUID),
            (&h.session.0, Type::UUID),
            (&h.user.0, Type::UUID),
            (&h.transport, Type::TEXT),
        ],
    )
    .await?;
    Ok(())
}

/// Forgets a connection.
pub async fn forget_connection<C: GenericClient>(c: &C, node: &NodeId, conn: ConnectionId) -> Result<(), StoreError> {
    c.query_typed(
        "DELETE FROM node_connections WHERE node_id = $1 AND connection_id = $2",
        &[(&node.0, Type::TEXT), (&conn.0, Type::UUID)],
    )
    .await?;
    Ok(())
}
