//! Presence from connection rows: batches of opened and closed connections from several nodes,
//! the grace period, and the reaper.

use std::time::Duration;

use parley_shared::ids::{ConnectionId, NodeId, SessionId, UserId};
use parley_shared::model::PresenceChange;
use parley_shared::store::presence::{self, HeldConnection};
use tokio_postgres::Client;

use crate::db::{TestDb, user};

fn held(node: &NodeId, user: UserId) -> HeldConnection {
    HeldConnection {
        node: node.clone(),
        connection: ConnectionId::new(),
        session: SessionId::new(),
        user,
        transport: "ws",
    }
}

async fn apply(
    c: &mut Client,
    node: &NodeId,
    opened: &[HeldConnection],
    closed: &[ConnectionId],
) -> Vec<PresenceChange> {
    let tx = c.transaction().await.unwrap();
    let changes = presence::apply_connections(&tx, node, opened, closed).await.unwrap();
    tx.commit().await.unwrap();
    changes
}

async fn nodes(c: &Client) -> (NodeId, NodeId) {
    let (a, b) = (NodeId("a".into()), NodeId("b".into()));
    presence::take_lease(c, &a, Duration::from_secs(30)).await.unwrap();
    presence::take_lease(c, &b, Duration::from_secs(30)).await.unwrap();
    (a, b)
}

#[tokio::test]
async fn online_once_then_a_reconnect_elsewhere_within_the_grace_announces_nothing() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let alice = user(&c, "alice").await;
    let (a, b) = nodes(&c).await;

    let first = held(&a, alice);
    let changes = apply(&mut c, &a, std::slice::from_ref(&first), &[]).await;
    assert_eq!(changes.iter().map(|ch| (ch.user_id, ch.online)).collect::<Vec<_>>(), vec![(alice, true)]);
    // A second device: still online, nothing to announce.
    let second = held(&b, alice);
    assert!(apply(&mut c, &b, std::slice::from_ref(&second), &[]).await.is_empty());
    assert!(apply(&mut c, &b, &[], &[second.connection]).await.is_empty());
    // The last one closes on node a, a new one opens on node b: still nothing.
    assert!(apply(&mut c, &a, &[], &[first.connection]).await.is_empty());
    let third = held(&b, alice);
    assert!(apply(&mut c, &b, std::slice::from_ref(&third), &[]).await.is_empty(), "a reconnect within the grace");
    assert!(presence::reap_offline(&c, Duration::ZERO).await.unwrap().is_empty(), "connected: not offline");
    // Closing for good: offline only once the grace period is over.
    assert!(apply(&mut c, &b, &[], &[third.connection]).await.is_empty());
    assert!(presence::reap_offline(&c, Duration::from_secs(60)).await.unwrap().is_empty(), "within the grace");
    let gone = presence::reap_offline(&c, Duration::ZERO).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert!(!gone[0].online && gone[0].last_seen_at.is_some());
    assert!(presence::reap_offline(&c, Duration::ZERO).await.unwrap().is_empty(), "announced once");
    // And online again.
    let back = apply(&mut c, &a, &[held(&a, alice)], &[]).await;
    assert_eq!(back.len(), 1);
    assert!(back[0].online);
}

#[tokio::test]
async fn a_dead_nodes_users_start_their_grace_when_its_rows_vanish() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let bob = user(&c, "bob").await;
    let (a, b) = nodes(&c).await;
    assert_eq!(apply(&mut c, &a, &[held(&a, bob)], &[]).await.len(), 1);
    // The lease expires and another node's renewal reaps it: the rows go with it, no close
    // ever came, and the grace starts then.
    c.execute("UPDATE node_leases SET expires_at = now() - interval '1 second' WHERE node_id = 'a'", &[])
        .await
        .unwrap();
    assert!(presence::reap_offline(&c, Duration::ZERO).await.unwrap().is_empty(), "nothing before the lease is reaped");
    let tx = c.transaction().await.unwrap();
    presence::renew_lease(&tx, &b, Duration::from_secs(30)).await.unwrap();
    tx.commit().await.unwrap();
    let n: i64 = c.query_one("SELECT count(*) FROM node_connections", &[]).await.unwrap().get(0);
    assert_eq!(n, 0, "the dead node's rows went with its lease");
    let gone = presence::reap_offline(&c, Duration::ZERO).await.unwrap();
    assert_eq!(gone.iter().map(|g| (g.user_id, g.online)).collect::<Vec<_>>(), vec![(bob, false)]);
}

#[tokio::test]
async fn a_batch_of_a_node_without_a_lease_records_nothing_and_a_concurrent_expiry_takes_its_rows() {
    let db = TestDb::new().await;
    let mut c = db.connect().await;
    let mut other = db.connect().await;
    let carol = user(&c, "carol").await;
    let dave = user(&c, "dave").await;
    let (a, b) = nodes(&c).await;

    // No lease (expired and reaped while the node was frozen): refused, nothing recorded.
    let tx = c.transaction().await.unwrap();
    presence::release_lease(&tx, &a).await.unwrap();
    tx.commit().await.unwrap();
    let tx = c.transaction().await.unwrap();
    let refused = presence::apply_connections(&tx, &a, &[held(&a, carol)], &[]).await;
    assert!(matches!(refused, Err(parley_shared::store::StoreError::LeaseLost(ref n)) if n == "a"), "{refused:?}");
    drop(tx);
    let n: i64 = c.query_one("SELECT count(*) FROM node_connections", &[]).await.unwrap().get(0);
    assert_eq!(n, 0);

    // A batch holding its lease while another node reaps the lease as expired: the reaper waits
    // for the batch, then deletes its rows too (no row is left without a lease).
    c.execute("UPDATE node_leases SET expires_at = now() - interval '1 second' WHERE node_id = 'b'", &[])
        .await
        .unwrap();
    let batch = c.transaction().await.unwrap();
    presence::apply_connections(&batch, &b, &[held(&b, dave)], &[]).await.unwrap();
    let reaper = tokio::spawn(async move {
        presence::take_lease(&other, &a, Duration::from_secs(30)).await.unwrap();
        let tx = other.transaction().await.unwrap();
        presence::renew_lease(&tx, &a, Duration::from_secs(30)).await.unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reaper.is_finished(), "the expiry waits for the batch's lock on the lease");
    batch.commit().await.unwrap();
    reaper.await.unwrap();
    let left: i64 = c.query_one("SELECT count(*) FROM node_connections", &[]).await.unwrap().get(0);
    assert_eq!(left, 0, "the batch's rows went with the expired lease");
    let leases: Vec<String> =
        c.query("SELECT node_id FROM node_leases", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(leases, vec!["a".to_owned()]);
}
