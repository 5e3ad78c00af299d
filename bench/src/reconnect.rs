//! `parley-bench --reconnect`: a node restart under a full house. `--reconnect-clients` clients
//! (each its own user and session, in groups of `--reconnect-group-size`) hold a WebSocket on
//! node 1; node 1 is SIGKILLed; while it is down each group's owner sends `--reconnect-missed`
//! messages through node 2; node 1 starts again and every client comes back as the SDK does (jittered exponential
//! backoff from the moment its socket closed, `parley_client::Backoff`), sends `sync` from the
//! last seq it had, and must get exactly the missed events before `synced`.
//!
//! Measured: from the restart (the new process spawned) to every client synced, per-client
//! synced times, connection attempts, and the Postgres statements per client from
//! `pg_stat_statements` (everything the database ran from the restart on, the node's own start
//! included). The clients find the node through a shared address (standing in for a load
//! balancer's name), since the restarted node listens on a new port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley_client::Backoff;
use parley_shared::ids::{ClientMsgId, ConversationId, Seq};
use parley_shared::model::MessageDraft;
use parley_shared::protocol::{ClientFrame, RequestId};
use parley_tests::TestEnv;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::Args;
use crate::fanout::raw::RawWs;
use crate::fanout::{parley_open, parse_marker};

/// What one client saw of the restart.
struct Comeback {
    /// When its `synced` arrived.
    synced_at: Instant,
    /// Connection attempts it made (the successful one included).
    attempts: u32,
    /// How often each missed message (1..=missed) arrived before `synced`; index 0 counts
    /// messages the client had already.
    seen: Vec<u32>,
}

/// Runs `--reconnect`.
pub async fn bench(args: &Args) -> Result<()> {
    let clients = args.reconnect_clients;
    let missed = args.reconnect_missed;
    let counted = parley_tests::db_work::enable();
    let mut env = TestEnv::start_with(vec![crate::bench_node("rc1"), crate::bench_node("rc2")]).await?;
    let size = args.reconnect_group_size.clamp(1, clients.max(1));
    let mut tokens = Vec::with_capacity(clients);
    let mut groups = Vec::new();
    for (g, start) in (0..clients).step_by(size).enumerate() {
        let n = size.min(clients - start);
        let seeded = parley_tests::big_group::seed_group(&env, &format!("rc{g}x"), n + 1, n).await?;
        tokens.extend(seeded.tokens);
        groups.push((seeded.group.parse::<ConversationId>().context("group id")?, seeded.owner));
    }
    let stats = if counted { parley_tests::db_work::StatStatements::open(&env).await } else { None };

    // Everyone connects to node 1 and syncs; the owners send through node 2.
    let (addr_tx, addr_rx) = watch::channel(env.nodes[0].addr());
    let started = Instant::now();
    let tokens = Arc::new(tokens);
    let opened: Vec<Result<RawWs>> = futures_util::stream::iter(0..clients)
        .map(|i| {
            let tokens = tokens.clone();
            let addr = *addr_rx.borrow();
            async move { parley_open(addr, &tokens[i], Default::default(), None).await.map(|(ws, _)| ws) }
        })
        .buffer_unordered(200)
        .collect()
        .await;
    let mut sockets: Vec<RawWs> = opened.into_iter().collect::<Result<_>>()?;
    let first_connect = started.elapsed();
    let mut owners = Vec::with_capacity(groups.len());
    for (group, owner) in &groups {
        owners.push(Owner::connect(&format!("{}?token={}", env.ws_url(1), owner.token()), *group).await?);
    }

    // Message 0 goes out live; its seq is what every client has of its group when the node dies.
    let mut heads = Vec::with_capacity(owners.len());
    for o in &mut owners {
        heads.push((o.group, o.send(0).await?));
    }
    futures_util::future::try_join_all(sockets.iter_mut().map(|ws| ws.wait_for(b"~PLY0.", Duration::from_secs(60))))
        .await
        .context("message 0 live to every client")?;

    // Let the node record the connections (batches every 200 ms): returning users, as after any
    // restart but the first, have their presence rows.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Each client notices its socket close, then comes back as the SDK would.
    let mut tasks = Vec::with_capacity(clients);
    for (i, ws) in sockets.into_iter().enumerate() {
        let (tokens, addr_rx) = (tokens.clone(), addr_rx.clone());
        let head = heads[i / size];
        tasks.push(tokio::spawn(async move { come_back(ws, &tokens[i], addr_rx, head, missed).await }));
    }
    let killed = Instant::now();
    env.nodes[0].kill().await?;
    for k in 1..=missed {
        for o in &mut owners {
            o.send(k).await?;
        }
    }
    if let Some(s) = &stats {
        s.reset().await?;
    }
    let restart = Instant::now();
    env.nodes[0].restart().await?;
    let listening = restart.elapsed();
    addr_tx.send(env.nodes[0].addr())?;

    let mut comebacks = Vec::with_capacity(clients);
    for t in tasks {
        comebacks.push(t.await??);
    }
    let all = comebacks.iter().map(|c| c.synced_at).max().context("no clients")? - restart;
    let db = match &stats {
        Some(s) => Some(s.per(clients).await?),
        None => None,
    };

    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut attempts, mut max_attempts, mut wrong) = (0u64, 0u32, 0usize);
    for c in &comebacks {
        hist.saturating_record(c.synced_at.saturating_duration_since(restart).as_micros().max(1) as u64);
        attempts += u64::from(c.attempts);
        max_attempts = max_attempts.max(c.attempts);
        if c.seen[0] != 0 || c.seen[1..].iter().any(|n| *n != 1) {
            wrong += 1;
        }
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "reconnect: {clients} clients in {} groups connected and synced in {:.2} s ({:.0}/s); node 1 SIGKILLed, \
         {missed} messages per group sent through node 2 while it was down ({:.2} s), restarted (listening after \
         {:.2} s)",
        groups.len(),
        first_connect.as_secs_f64(),
        clients as f64 / first_connect.as_secs_f64(),
        restart.duration_since(killed).as_secs_f64(),
        listening.as_secs_f64(),
    );
    println!(
        "\n| clients | missed | all synced after restart | synced p50 / p99 | attempts mean / max | statements per client | wrong |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {clients} | {missed} | {:.2} s | {:.2} / {:.2} s | {:.2} / {max_attempts} | {} | {wrong} |",
        all.as_secs_f64(),
        ms(0.5) / 1000.0,
        ms(0.99) / 1000.0,
        attempts as f64 / clients as f64,
        db.as_ref().map_or("n/a (no pg_stat_statements)".to_owned(), |w| format!("{:.3}", w.statements)),
    );
    if let Some(w) = &db {
        eprintln!("  db per client: {:.3} statements, {:.1} rows, {:.1} buffer pages", w.statements, w.rows, w.blocks);
        for (calls, rows, q) in &w.top {
            eprintln!("  db   {calls:>7.4} calls {rows:>8.2} rows  {q}");
        }
    }
    ensure!(wrong == 0, "{wrong} of {clients} clients did not get each missed message exactly once");
    Ok(())
}

async fn come_back(
    mut ws: RawWs,
    token: &str,
    addr: watch::Receiver<SocketAddr>,
    head: (ConversationId, Seq),
    missed: u64,
) -> Result<Comeback> {
    // The node's death: the stream ends.
    let mut chunk = [0u8; 1024];
    while let Ok(n) = ws.stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
    drop(ws);
    let backoff = Backoff::default();
    let mut attempts = 0u32;
    let before = loop {
        tokio::time::sleep(backoff.delay(attempts)).await;
        attempts += 1;
        let at = *addr.borrow();
        match parley_open(at, token, [head].into(), None).await {
            Ok((_, before)) => break before,
            // Refused or cut: what a restart looks like from outside.
            Err(_) if attempts < 30 => {}
            Err(e) => return Err(e.context(format!("{attempts} attempts"))),
        }
    };
    let synced_at = Instant::now();
    let mut seen = vec![0u32; missed as usize + 1];
    let finder = memchr::memmem::Finder::new(b"~PLY");
    let mut rest = &before[..];
    while let Some(i) = finder.find(rest) {
        rest = &rest[i + 4..];
        let (k, _, len) = parse_marker(rest).context("a marker cut short before synced")?;
        match seen.get_mut(k as usize) {
            Some(n) if k > 0 => *n += 1,
            _ => seen[0] += 1,
        }
        rest = &rest[len..];
    }
    Ok(Comeback { synced_at, attempts, seen })
}

/// A group's owner: a full WebSocket client, one send at a time.
struct Owner {
    ws: crate::Socket,
    group: ConversationId,
}

impl Owner {
    async fn connect(url: &str, group: ConversationId) -> Result<Owner> {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.with_context(|| format!("owner to {url}"))?;
        let mut o = Owner { ws, group };
        o.until(|v| v["type"] == "ready").await?;
        let sync = ClientFrame::Sync { id: RequestId::Num(0), positions: Default::default() };
        o.ws.send(Message::text(serde_json::to_string(&sync)?)).await?;
        o.until(|v| v["type"] == "synced").await?;
        Ok(o)
    }

    async fn until(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> Result<serde_json::Value> {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(30), self.ws.next()).await?.context("owner closed")??;
            if let Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t)?;
                if pred(&v) {
                    return Ok(v);
                }
            }
        }
    }

    /// Sends message `k` (its text the fan-out bench's marker) and answers its seq.
    async fn send(&mut self, k: u64) -> Result<Seq> {
        let frame = ClientFrame::Send {
            id: RequestId::Num(k),
            conversation_id: self.group,
            message: MessageDraft::text(ClientMsgId(uuid::Uuid::new_v4().to_string()), format!("~PLY{k}.0~")),
        };
        self.ws.send(Message::text(serde_json::to_string(&frame)?)).await?;
        let reply = self.until(|v| v["type"] == "reply").await?;
        if reply["ok"] != true {
            bail!("send {k} failed: {reply}");
        }
        let seq = reply["event"]["seq"].as_i64().with_context(|| format!("no seq in {reply}"))?;
        Ok(seq)
    }
}
