//! The presence storm: many connected users with many friends each, one node SIGTERMed and its
//! clients reconnecting to the other at once. Counts what the users' friends were told (presence
//! frames) and what Postgres carried (presence announcements), which should both stay near zero:
//! everyone is back within the grace period. Shared by a bounded test and the bench.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use futures_util::StreamExt;
use parley_shared::auth::Signer;
use parley_shared::ids::{SessionId, UserId};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{TestEnv, Ws, keys};

/// What a storm did.
#[derive(Debug, Clone)]
pub struct StormReport {
    /// Users (each connected once, all to the node that was stopped).
    pub users: usize,
    /// Friends per user.
    pub friends_each: usize,
    /// How long connecting everyone took, and how long until all were online.
    pub connect_all: Duration,
    /// Presence announcements (NOTIFYs) while everyone came online, and the changes in them.
    pub connect_notifies: u64,
    /// Presence changes announced while everyone came online (one per user).
    pub connect_changes: u64,
    /// `presence` frames friends received while everyone came online.
    pub connect_frames: u64,
    /// From SIGTERM until every client was connected to the other node.
    pub reconnect_all: Duration,
    /// `presence` frames clients received after the SIGTERM (each one a flap someone saw).
    pub presence_frames: u64,
    /// Presence announcements (NOTIFYs) Postgres carried after the SIGTERM.
    pub presence_notifies: u64,
    /// Presence changes inside those announcements.
    pub presence_changes: u64,
    /// Every NOTIFY after the SIGTERM, of any kind.
    pub all_notifies: u64,
}

/// Runs a storm of `users` users with `friends_each` friends each (an even number: user i is
/// friends with the `friends_each / 2` users after it and before it, around a ring) on `env`,
/// which must have two nodes; node 0 is stopped.
pub async fn presence_storm(env: &mut TestEnv, users: usize, friends_each: usize) -> Result<StormReport> {
    ensure!(
        env.nodes.len() >= 2 && friends_each.is_multiple_of(2) && friends_each < users,
        "two nodes, an even friend count"
    );
    let db = env.db.client().await?;
    let ids = env.db.insert_users("storm", users).await?;
    let uids: Vec<uuid::Uuid> = ids.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let sessions: Vec<uuid::Uuid> = (0..users).map(|_| parley_shared::ids::new_uuid_v7()).collect();
    db.execute(
        "INSERT INTO auth_sessions (id, user_id, device_name) SELECT * , 'storm' FROM unnest($1::uuid[], $2::uuid[])",
        &[&sessions, &uids],
    )
    .await
    .context("inserting sessions")?;
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    for i in 0..users {
        for d in 1..=friends_each / 2 {
            let j = (i + d) % users;
            fa.extend([uids[i], uids[j]]);
            fb.extend([uids[j], uids[i]]);
        }
    }
    db.execute(
        "INSERT INTO friendships (user_id, friend_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])",
        &[&fa, &fb],
    )
    .await
    .context("inserting friendships")?;

    let signer = Signer::from_encoded(&keys()?.signing_key)?;
    let tokens: Vec<String> = uids.iter().zip(&sessions).map(|(u, s)| signer.sign(UserId(*u), SessionId(*s))).collect();
    let (first, second) = (env.ws_url(0), env.ws_url(1));

    // Count what Postgres carries.
    let (listener, mut conn) = tokio_postgres::connect(&env.db.url, NoTls).await?;
    let notifies = Arc::new((AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)));
    let n2 = notifies.clone();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                n2.0.fetch_add(1, Ordering::Relaxed);
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(n.payload())
                    && v["t"] == "presence"
                {
                    n2.1.fetch_add(1, Ordering::Relaxed);
                    n2.2.fetch_add(v["changes"].as_array().map_or(0, |a| a.len() as u64), Ordering::Relaxed);
                }
            }
        }
    });
    listener.batch_execute("LISTEN parley").await?;
    // Everyone connects to node 0 and stays; each client counts the presence frames it gets.
    let started = Instant::now();
    let counting = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let frames = Arc::new(AtomicU64::new(0));
    let reconnected = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(users);
    for chunk in tokens.chunks(100) {
        let opened = futures_util::future::try_join_all(chunk.iter().map(|t| Ws::connect(&first, t))).await?;
        for (ws, token) in opened.into_iter().zip(chunk) {
            let (counting, frames, reconnected) = (counting.clone(), frames.clone(), reconnected.clone());
            let (token, second) = (token.clone(), second.clone());
            clients.push(tokio::spawn(client(ws, token, second, counting, frames, reconnected)));
        }
    }
    wait_until(
        &db,
        "everyone online",
        Duration::from_secs(60),
        "SELECT count(*) FROM presence WHERE online",
        users as i64,
    )
    .await?;
    let connect_all = started.elapsed();
    // Let the last announcements land (a connection holds pushes for up to 1 s until its client
    // syncs, and these never do), then count the restart alone.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connect_frames = frames.swap(0, Ordering::AcqRel);
    let connect_notifies = notifies.1.swap(0, Ordering::AcqRel);
    let connect_changes = notifies.2.swap(0, Ordering::AcqRel);
    notifies.0.store(0, Ordering::Release);

    let stopped = Instant::now();
    env.nodes[0].sigterm()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while reconnected.load(Ordering::Acquire) < users as u64 {
        ensure!(Instant::now() < deadline, "{} of {users} clients reconnected", reconnected.load(Ordering::Acquire));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reconnect_all = stopped.elapsed();
    // Past the grace period (and a reaper round), with everyone back: anything to announce has been.
    tokio::time::sleep(Duration::from_secs(8)).await;
    wait_until(
        &db,
        "everyone still online",
        Duration::from_secs(10),
        "SELECT count(*) FROM presence WHERE online",
        users as i64,
    )
    .await?;
    let report = StormReport {
        users,
        friends_each,
        connect_all,
        connect_notifies,
        connect_changes,
        connect_frames,
        reconnect_all,
        presence_frames: frames.load(Ordering::Acquire),
        presence_notifies: notifies.1.load(Ordering::Relaxed),
        presence_changes: notifies.2.load(Ordering::Relaxed),
        all_notifies: notifies.0.load(Ordering::Relaxed),
    };
    for c in clients {
        c.abort();
    }
    Ok(report)
}

/// One storm client: reads until `going_away`, reconnects to `second` at once, then reads on;
/// counts presence frames while `counting` is set.
async fn client(
    mut ws: Ws,
    token: String,
    second: String,
    counting: Arc<std::sync::atomic::AtomicBool>,
    frames: Arc<AtomicU64>,
    reconnected: Arc<AtomicU64>,
) -> Result<()> {
    let mut moved = false;
    loop {
        match ws.next_frame(Duration::from_secs(3600)).await {
            Ok(v) => {
                if v["type"] == "presence" && counting.load(Ordering::Acquire) {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
                if v["type"] == "error" && v["code"] == "going_away" && !moved {
                    moved = true;
                    ws = reconnect(&second, &token).await?;
                    reconnected.fetch_add(1, Ordering::Release);
                }
            }
            Err(_) if !moved => {
                moved = true;
                ws = reconnect(&second, &token).await?;
                reconnected.fetch_add(1, Ordering::Release);
            }
            Err(e) => return Err(e),
        }
    }
}

async fn reconnect(url: &str, token: &str) -> Result<Ws> {
    let mut last = None;
    for _ in 0..50 {
        match Ws::connect(url, token).await {
            Ok(ws) => return Ok(ws),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last.expect("at least one attempt"))
}

async fn wait_until(db: &tokio_postgres::Client, what: &str, timeout: Duration, sql: &str, want: i64) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let n: i64 = db.query_one(sql, &[]).await?.get(0);
        if n == want {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "{what}: {n} of {want} after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
