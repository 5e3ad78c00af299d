//! The node's lease and the sessions it holds, in Postgres. A node renews its lease while it
//! lives; a dead node's lease expires and its session rows go with it (ON DELETE CASCADE), so
//! presence and push decisions never trust a node that stopped answering.

use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::ids::{SessionId, UserId};
use parley_shared::store::Type;
use tracing::warn;
use uuid::Uuid;

/// Lease length; renewed every third of it.
pub const LEASE: Duration = Duration::from_secs(30);

/// Takes (or retakes, after a restart) this node's lease and clears rows a previous run of the
/// same node left behind.
pub async fn start(pool: &Pool, node_id: &str) -> Result<(), String> {
    let db = pool.get().await.map_err(|e| e.to_string())?;
    let secs = LEASE.as_secs_f64();
    db.query_typed(
        "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
         ON CONFLICT (node_id) DO UPDATE SET started_at = now(), expires_at = EXCLUDED.expires_at",
        &[(&node_id, Type::TEXT), (&secs, Type::FLOAT8)],
    )
    .await
    .map_err(|e| e.to_string())?;
    db.query_typed("DELETE FROM node_sessions WHERE node_id = $1", &[(&node_id, Type::TEXT)])
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Renews the lease forever and reaps expired leases of dead nodes.
pub async fn renew_forever(pool: Pool, node_id: String) {
    let mut tick = tokio::time::interval(LEASE / 3);
    loop {
        tick.tick().await;
        let secs = LEASE.as_secs_f64();
        let r = async {
            let db = pool.get().await.map_err(|e| e.to_string())?;
            db.query_typed(
                "INSERT INTO node_leases (node_id, expires_at) VALUES ($1, now() + make_interval(secs => $2)) \
                 ON CONFLICT (node_id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                &[(&node_id, Type::TEXT), (&secs, Type::FLOAT8)],
            )
            .await
            .map_err(|e| e.to_string())?;
            db.query_typed("DELETE FROM node_leases WHERE expires_at < now()", &[]).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        }
        .await;
        if let Err(e) = r {
            warn!("lease renewal failed: {e}");
        }
    }
}

/// Gives up the lease on shutdown (its session rows go with it).
pub async fn stop(pool: &Pool, node_id: &str) {
    if let Ok(db) = pool.get().await {
        let _ = db.query_typed("DELETE FROM node_leases WHERE node_id = $1", &[(&node_id, Type::TEXT)]).await;
    }
}

/// Records a connection this node now holds.
pub fn connected(pool: &Pool, node_id: &str, conn: Uuid, session: SessionId, user: UserId, transport: &'static str) {
    let (pool, node_id) = (pool.clone(), node_id.to_owned());
    tokio::spawn(async move {
        let r = async {
            let db = pool.get().await.map_err(|e| e.to_string())?;
            db.query_typed(
                "INSERT INTO node_sessions (node_id, connection_id, session_id, user_id, transport) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    (&node_id, Type::TEXT),
                    (&conn, Type::UUID),
                    (&session.0, Type::UUID),
                    (&user.0, Type::UUID),
                    (&transport, Type::TEXT),
                ],
            )
            .await
            .map_err(|e| e.to_string())
        }
        .await;
        if let Err(e) = r {
            warn!("recording connection failed: {e}");
        }
    });
}

/// Forgets a connection.
pub fn disconnected(pool: &Pool, node_id: &str, conn: Uuid) {
    let (pool, node_id) = (pool.clone(), node_id.to_owned());
    tokio::spawn(async move {
        if let Ok(db) = pool.get().await {
            let _ = db
                .query_typed(
                    "DELETE FROM node_sessions WHERE node_id = $1 AND connection_id = $2",
                    &[(&node_id, Type::TEXT), (&conn, Type::UUID)],
                )
                .await;
        }
    });
}
