//! This node's lease and the connections it holds, recorded in Postgres
//! ([`parley_shared::store::presence`]): renewed while the node lives, so a dead node's rows
//! expire with its lease and presence and push decisions never trust a node that stopped
//! answering.

use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::auth::AccessClaims;
use parley_shared::ids::{ConnectionId, NodeId};
use parley_shared::store::presence::{self, HeldConnection};
use tracing::warn;

use crate::db;
use crate::state::NodeState;

/// Lease length; renewed every third of it.
pub const LEASE: Duration = Duration::from_secs(30);

/// Takes (or retakes, after a restart) this node's lease and clears rows a previous run of the
/// same node left behind.
pub async fn start(pool: &Pool, node: &NodeId) -> Result<(), ApiError> {
    let db = db::get(pool).await?;
    Ok(presence::take_lease(&*db, node, LEASE).await?)
}

/// Renews the lease forever and reaps expired leases of dead nodes.
pub async fn renew_forever(pool: Pool, node: NodeId) {
    let mut tick = tokio::time::interval(LEASE / 3);
    loop {
        tick.tick().await;
        let renewed = match db::get(&pool).await {
            Ok(db) => presence::renew_lease(&*db, &node, LEASE).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = renewed {
            warn!("lease renewal failed: {e:?}");
        }
    }
}

/// Gives up the lease on shutdown (its connection rows go with it).
pub async fn stop(pool: &Pool, node: &NodeId) {
    if let Ok(db) = db::get(pool).await
        && let Err(e) = presence::release_lease(&*db, node).await
    {
        warn!("releasing the lease: {e}");
    }
}

/// Records, in the background, a connection this node now holds.
pub fn connected(node: &NodeState, conn: ConnectionId, claims: AccessClaims, transport: &'static str) {
    let held = HeldConnection {
        node: node.node_id.clone(),
        connection: conn,
        session: claims.session_id,
        user: claims.user_id,
        transport,
    };
    let pool = node.pool.clone();
    tokio::spawn(async move {
        let recorded = match db::get(&pool).await {
            Ok(db) => presence::record_connection(&*db, &held).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            warn!("recording connection failed: {e:?}");
        }
    });
}

/// Forgets, in the background, a connection that ended.
pub fn disconnected(node: &NodeState, conn: ConnectionId) {
    let (pool, node_id) = (node.pool.clone(), node.node_id.clone());
    tokio::spawn(async move {
        if let Ok(db) = db::get(&pool).await
            && let Err(e) = presence::forget_connection(&*db, &node_id, conn).await
        {
            warn!("forgetting connection failed: {e}");
        }
    });
}
