//! This node's lease, the connections it holds, and presence. Connections opened and closed are
//! recorded in batches ([`PresenceHandle`]): one transaction and at most a few NOTIFYs per
//! [`BATCH_EVERY`] whatever the number of connections, so a node restart with thousands of users
//! does not become a storm. A reaper takes users offline once their last connection has been
//! closed for [`GRACE`], so a reconnect within it (a phone changing networks, a node's clients
//! moving to another node) announces nothing. The SQL is in
//! [`parley_shared::store::presence`], the use cases in [`parley_shared::service::presence`].

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::auth::AccessClaims;
use parley_shared::ids::{ConnectionId, NodeId};
use parley_shared::service;
use parley_shared::store::presence::HeldConnection;
use tokio::sync::mpsc;
use tracing::warn;

use crate::db;

/// Lease length; renewed every third of it.
pub const LEASE: Duration = Duration::from_secs(30);
/// How long after a user's last connection closed they are announced offline.
pub const GRACE: Duration = Duration::from_secs(5);
/// How often opened and closed connections are recorded.
pub const BATCH_EVERY: Duration = Duration::from_millis(200);
/// How often the reaper looks for users whose grace period ran out.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// Takes (or retakes, after a restart) this node's lease and clears rows a previous run of the
/// same node left behind.
pub async fn start(pool: &Pool, node: &NodeId) -> Result<(), ApiError> {
    let mut db = db::get(pool).await?;
    service::presence::take_lease(&mut db, node, LEASE).await
}

/// Renews the lease forever and reaps expired leases of dead nodes.
pub async fn renew_forever(pool: Pool, node: NodeId) {
    let mut tick = tokio::time::interval(LEASE / 3);
    loop {
        tick.tick().await;
        let renewed = match db::get(&pool).await {
            Ok(mut db) => service::presence::renew_lease(&mut db, &node, LEASE).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renewed {
            warn!("lease renewal failed: {e:?}");
        }
    }
}

/// Gives up the lease on shutdown (its connection rows go with it; their users' grace periods
/// start).
pub async fn stop(pool: &Pool, node: &NodeId) {
    if let Ok(mut db) = db::get(pool).await
        && let Err(e) = service::presence::release_lease(&mut db, node).await
    {
        warn!("releasing the lease: {e}");
    }
}

enum ConnEvent {
    Opened(HeldConnection),
    Closed(ConnectionId),
}

/// Where connections report that they opened and closed.
#[derive(Clone)]
pub struct PresenceHandle {
    tx: mpsc::UnboundedSender<ConnEvent>,
    node: NodeId,
}

impl PresenceHandle {
    /// A connection of `claims` opened over `transport`.
    pub fn opened(&self, conn: ConnectionId, claims: AccessClaims, transport: &'static str) {
        let held = HeldConnection {
            node: self.node.clone(),
            connection: conn,
            session: claims.session_id,
            user: claims.user_id,
            transport,
        };
        let _ = self.tx.send(ConnEvent::Opened(held));
    }

    /// A connection closed.
    pub fn closed(&self, conn: ConnectionId) {
        let _ = self.tx.send(ConnEvent::Closed(conn));
    }
}

/// Starts the batcher and the reaper.
pub fn spawn(pool: Pool, node: NodeId) -> PresenceHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(batch_forever(pool.clone(), node.clone(), rx));
    tokio::spawn(reap_forever(pool));
    PresenceHandle { tx, node }
}

async fn batch_forever(pool: Pool, node: NodeId, mut rx: mpsc::UnboundedReceiver<ConnEvent>) {
    // Kept across failed attempts, so nothing is lost while the database is away.
    let mut opened: HashMap<ConnectionId, HeldConnection> = HashMap::new();
    let mut closed: Vec<ConnectionId> = Vec::new();
    loop {
        if opened.is_empty() && closed.is_empty() {
            match rx.recv().await {
                Some(e) => take(e, &mut opened, &mut closed),
                None => return,
            }
        }
        tokio::time::sleep(BATCH_EVERY).await;
        while let Ok(e) = rx.try_recv() {
            take(e, &mut opened, &mut closed);
        }
        let open_list: Vec<HeldConnection> = opened.values().cloned().collect();
        let result = match db::get(&pool).await {
            Ok(mut db) => service::presence::apply(&mut db, &node, LEASE, &open_list, &closed).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(changes) => {
                tracing::debug!(opened = open_list.len(), closed = closed.len(), ?changes, "presence batch");
                metrics::counter!("parley_presence_batches_total").increment(1);
                metrics::counter!("parley_presence_changes_total", "online" => "true").increment(changes.len() as u64);
                opened.clear();
                closed.clear();
            }
            Err(e) => warn!("recording {} opened and {} closed connections failed: {e:?}", opened.len(), closed.len()),
        }
    }
}

/// A connection opened and closed within one batch was never recorded and needs no record.
fn take(e: ConnEvent, opened: &mut HashMap<ConnectionId, HeldConnection>, closed: &mut Vec<ConnectionId>) {
    match e {
        ConnEvent::Opened(h) => {
            opened.insert(h.connection, h);
        }
        ConnEvent::Closed(c) => {
            if opened.remove(&c).is_none() {
                closed.push(c);
            }
        }
    }
}

async fn reap_forever(pool: Pool) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let reaped = match db::get(&pool).await {
            Ok(mut db) => service::presence::reap(&mut db, GRACE).await,
            Err(e) => Err(e),
        };
        match reaped {
            Ok(changes) => {
                metrics::counter!("parley_presence_changes_total", "online" => "false").increment(changes.len() as u64)
            }
            Err(e) => warn!("presence reaper: {e:?}"),
        }
    }
}
