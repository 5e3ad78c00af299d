//! One big group: `members` members (added over REST, 500 per call, as clients would), of whom
//! `connected` hold a WebSocket, alternating between two nodes. One member posts: each send is
//! timed until its last receipt; then a burst measures deliveries per second; and
//! `pg_stat_statements` (when the server loads it) counts the database work per send. Every
//! client checks it gets each message once, in order. Shared by a bounded test and the bench.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::StreamExt;
use parley_shared::auth::Signer;
use parley_shared::ids::{SessionId, UserId};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{TestEnv, Ws, check, keys};

/// What a run measured.
#[derive(Debug, Clone)]
pub struct BigGroupReport {
    /// Members of the group.
    pub members: usize,
    /// Of them, connected (half to each node).
    pub connected: usize,
    /// Adding everyone over REST (500 per call).
    pub add_all: Duration,
    /// Timed sends, one at a time.
    pub sends: usize,
    /// Send (before the frame is written) to the last of `connected` receipts: p50, p99, max.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Sends of the burst (all in flight at once).
    pub burst: usize,
    /// From the burst's first send to its last receipt.
    pub burst_time: Duration,
    /// Deliveries (messages × receivers) per second during the burst.
    pub deliveries_per_sec: f64,
    /// Database work per send, when `pg_stat_statements` is loaded.
    pub db: Option<crate::db_work::DbWork>,
}

/// Per message seq: how many clients got it, and when the last did.
#[derive(Default)]
struct Tally {
    seen: Mutex<HashMap<i64, (usize, Instant)>>,
    changed: Notify,
    /// Set by a client that got a message twice or out of order.
    broken: AtomicBool,
    frames: AtomicU64,
}

impl Tally {
    async fn wait_all(&self, seq: i64, n: usize, timeout: Duration) -> Result<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some((count, at)) = self.seen.lock().expect("tally").get(&seq).copied()
                && count >= n
            {
                return Ok(at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let got = self.seen.lock().expect("tally").get(&seq).map_or(0, |s| s.0);
                bail!("message {seq}: {got} of {n} receipts within {timeout:?}");
            }
        }
    }
}

/// Runs the scenario on `env` (two nodes). `sends` timed sends, then a burst of `burst`.
pub async fn big_group(
    env: &TestEnv,
    members: usize,
    connected: usize,
    sends: usize,
    burst: usize,
) -> Result<BigGroupReport> {
    ensure!(env.nodes.len() >= 2 && connected < members, "two nodes; fewer connected than members");
    let api = env.api(0);
    let started = Instant::now();
    let Seeded { group: g, owner, tokens } = seed_group(env, "big", members, connected).await?;
    let add_all = started.elapsed();
    let group = api.get(&format!("/v1/groups/{g}"), Some(owner.token())).await?.ok(200)?;
    ensure!(group["member_count"] == members as i64, "{group}");

    let tally = Arc::new(Tally::default());
    let urls = [env.ws_url(0), env.ws_url(1)];
    let mut clients = Vec::with_capacity(connected);
    let opened: Vec<Result<Ws>> = futures_util::stream::iter(tokens.iter().enumerate())
        .map(|(i, t)| {
            let url = urls[i % 2].clone();
            // Nothing listed: the group's latest event only (a replay would be its whole log).
            async move { Ws::connect_synced(&url, t, &[]).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    for ws in opened {
        clients.push(tokio::spawn(receive(ws?, g.clone(), tally.clone())));
    }

    let mut sender = Ws::connect_synced(&urls[0], owner.token(), &[]).await?;
    // Warm-up: everyone receives one before timing starts.
    let first = sender.send_message_ok(&g, "warm-up").await?;
    tally.wait_all(check::seq(&first)?, connected, Duration::from_secs(60)).await?;

    let stats = crate::db_work::StatStatements::open(env).await;
    if let Some(s) = &stats {
        s.reset().await?;
    }
    let mut lat = Vec::with_capacity(sends);
    for i in 0..sends {
        let t0 = Instant::now();
        let ev = sender.send_message_ok(&g, &format!("timed {i}")).await?;
        let last = tally.wait_all(check::seq(&ev)?, connected, Duration::from_secs(60)).await?;
        lat.push(last.saturating_duration_since(t0));
    }
    let db_work = match &stats {
        Some(s) => Some(s.per(sends).await?),
        None => None,
    };

    // The burst: every send in flight at once, then every receipt.
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(burst);
    for i in 0..burst {
        ids.push(sender.start_send(&g, &crate::cmid(), &format!("burst {i}")).await?);
    }
    let mut seqs = Vec::with_capacity(burst);
    for id in ids {
        let reply = sender.wait_reply(id, Duration::from_secs(60)).await?;
        seqs.push(check::seq(&crate::ws::reply_event(&reply)?)?);
    }
    let mut last = t0;
    for s in seqs {
        last = last.max(tally.wait_all(s, connected, Duration::from_secs(120)).await?);
    }
    let burst_time = last.saturating_duration_since(t0);
    ensure!(!tally.broken.load(Ordering::Acquire), "a client got a message twice or out of order");
    for c in clients {
        c.abort();
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    Ok(BigGroupReport {
        members,
        connected,
        add_all,
        sends,
        p50: pct(0.50),
        p99: pct(0.99),
        max: *lat.last().expect("at least one send"),
        burst,
        burst_time,
        deliveries_per_sec: (burst * connected) as f64 / burst_time.as_secs_f64(),
        db: db_work,
    })
}

/// A group seeded for a load test: its id, its owner, and tokens of the members given sessions.
pub struct Seeded {
    /// The group's id.
    pub group: String,
    /// Its owner (signed up over REST).
    pub owner: crate::Session,
    /// Access tokens of the first `connected` other members, one session each.
    pub tokens: Vec<String>,
}

/// Creates a group of `members` (the owner signed up over REST, the rest inserted straight into
/// the database and added over REST, 500 per call, as clients would) and signs tokens for
/// `connected` of them (their sessions inserted straight into the database).
pub async fn seed_group(env: &TestEnv, prefix: &str, members: usize, connected: usize) -> Result<Seeded> {
    ensure!(connected < members, "fewer connected than members");
    let api = env.api(0);
    let owner = api.signup(&format!("{prefix}owner")).await?;
    let db = env.db.client().await?;
    let ids = env.db.insert_users(prefix, members - 1).await?;
    let uids: Vec<uuid::Uuid> = ids.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let created = api.create_group(&owner, "Everyone", &[]).await?;
    let g = check::str_field(&created, "id")?.to_owned();
    for chunk in ids.chunks(500) {
        let r = api
            .post(&format!("/v1/groups/{g}/members"), Some(owner.token()), &json!({"user_ids": chunk}))
            .await?
            .ok(200)?;
        ensure!(r["added"].as_array().map(Vec::len) == Some(chunk.len()), "every user added: {}", r["skipped"]);
    }
    let sessions: Vec<uuid::Uuid> = (0..connected).map(|_| parley_shared::ids::new_uuid_v7()).collect();
    db.execute(
        "INSERT INTO auth_sessions (id, user_id, device_name) SELECT *, 'load' FROM unnest($1::uuid[], $2::uuid[])",
        &[&sessions, &uids[..connected].to_vec()],
    )
    .await
    .context("inserting sessions")?;
    let signer = Signer::from_encoded(&keys()?.signing_key)?;
    let tokens = uids[..connected].iter().zip(&sessions).map(|(u, s)| signer.sign(UserId(*u), SessionId(*s))).collect();
    Ok(Seeded { group: g, owner, tokens })
}

/// One member's connection: counts each message of `g` once and checks the order.
async fn receive(mut ws: Ws, g: String, tally: Arc<Tally>) -> Result<()> {
    let mut last = 0;
    loop {
        let f: Value = ws.next_frame(Duration::from_secs(3600)).await?;
        if f["type"] != "event" || f["conversation_id"] != g.as_str() {
            continue;
        }
        tally.frames.fetch_add(1, Ordering::Relaxed);
        let seq = check::seq(&f)?;
        if seq <= last {
            tally.broken.store(true, Ordering::Release);
        }
        last = seq;
        if f["event"]["kind"] == "message" {
            let now = Instant::now();
            tally.seen.lock().expect("tally").entry(seq).and_modify(|e| *e = (e.0 + 1, now)).or_insert((1, now));
            tally.changed.notify_waiters();
        }
    }
}
