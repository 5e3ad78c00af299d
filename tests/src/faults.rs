//! Faults under load: members of several groups, half on WebSocket and half on QUIC, spread over
//! three nodes, send acknowledged messages as fast as acks come back while the nodes and Postgres
//! are hurt one way after another:
//!
//! 1. `sigkill`: node 3 is SIGKILLed, then started again (on new ports);
//! 2. `sigstop`: node 2 is frozen (SIGSTOP) for the outage, then thawed (SIGCONT);
//! 3. `listen`: every node's LISTEN connection is terminated;
//! 4. `pg_restart`: `pg_ctl restart -m fast`;
//! 5. `pg_down`: Postgres stopped for the outage (connections refused), then started again;
//!
//! and, from the start, two members of every group (one per transport, on node 1) never read.
//!
//! Each client does what the contract asks of a client: retries an unacknowledged send with the
//! same client_msg_id (on the same connection after an error reply, on the next node after a
//! timeout or a closed connection) and syncs from its last seq after every connect. Afterwards
//! the database is the ground truth: every acknowledged send stored exactly once with the seq it
//! was acknowledged with, and every member received every event of its group exactly once, in
//! seq order, without gaps. The clients that never read must have been closed by the node, and
//! node 1's memory is sampled throughout. Shared by a bounded test and `parley-bench --faults`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use parley_shared::auth::Signer;
use parley_shared::ids::{SessionId, UserId};
use serde_json::{Value, json};

use crate::quic::{Quic, QuicIncoming};
use crate::ws::Incoming;
use crate::{NodeOptions, TestEnv, Ws, check, cmid, keys};

/// Every message carries this, so that each is about 1 KiB, like a chat line with a link preview's
/// worth of text, and the clients that never read fill their buffers in a short run too.
const PADDING: &str = concat!(
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore ",
    "magna aliqua. ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo ",
    "consequat. duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ",
    "excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. ",
    "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore ",
    "magna aliqua. ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo ",
    "consequat. duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ",
    "excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
);

/// How long a client waits for the answer to a send before it gives the connection up. Shorter
/// than [`FaultsConfig::outage`], so a frozen node's clients move away with sends in flight.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// How long one connect attempt may take (a frozen node accepts nothing).
const CONNECT_WAIT: Duration = Duration::from_secs(3);
/// How long a client keeps trying to reach any node.
const RECONNECT_FOR: Duration = Duration::from_secs(60);
/// How long the final catch-up may go without progress before the client reconnects.
const QUIET_WAIT: Duration = Duration::from_secs(5);

/// How big a run is.
#[derive(Debug, Clone)]
pub struct FaultsConfig {
    /// Groups (conversations).
    pub groups: usize,
    /// Sending members per group, a multiple of 6 (three nodes, two transports): member `i`
    /// starts on node `i % 3`, on WebSocket when `i` is even and QUIC when odd.
    pub members: usize,
    /// Messages each member sends at least; members keep sending until every fault has run.
    pub min_sends: usize,
    /// Normal load before, between and after the faults.
    pub calm: Duration,
    /// How long node 2 stays frozen and Postgres stays down.
    pub outage: Duration,
}

impl FaultsConfig {
    /// The three nodes' options: per-user send limits lifted, since every client sends as fast
    /// as its acks come back (the limits have tests of their own).
    pub fn node_options() -> Vec<NodeOptions> {
        (1..=3)
            .map(|i| {
                let mut o = NodeOptions::new(&format!("node{i}"));
                o.env.push(("PARLEY_USER_SEND_RATE".into(), "1000000".into()));
                o.env.push(("PARLEY_USER_SEND_BURST".into(), "1000000".into()));
                o
            })
            .collect()
    }
}

/// One fault, as the clients lived through it.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    /// `sigkill`, `sigstop`, `listen`, `pg_restart`, `pg_down`.
    pub name: &'static str,
    /// Sends acknowledged when it began.
    pub acked_before: u64,
    /// From its end until every sending client had one more send acknowledged.
    pub recovered_in: Duration,
}

/// The clients that never read.
#[derive(Debug, Clone)]
pub struct StallRecord {
    /// Node 1's resident memory before the load, and its peak while they were connected (KiB).
    pub rss_before_kib: u64,
    /// Peak.
    pub rss_peak_kib: u64,
    /// Node 2's peak over the same time, for comparison (KiB): the same load, no stalled client.
    pub peer_rss_peak_kib: u64,
    /// From their connect until node 1 counted both as closed `too_slow` (its metrics).
    pub closed_after: Duration,
    /// ~7 KiB messages sent to them after the run to fill the buffers the run had not.
    pub flood_messages: usize,
    /// How each of them saw its end.
    pub closes: Vec<StalledClose>,
}

/// How a client that never read saw its end, once it read again. Over QUIC the close carries
/// 0x1013 `not reading`; over WebSocket the close frame usually cannot get through the full
/// buffers, so the stream just ends after what was buffered.
#[derive(Debug, Clone)]
pub struct StalledClose {
    /// `ws` or `quic`.
    pub transport: &'static str,
    /// The WebSocket close code or QUIC application code, if one arrived.
    pub code: Option<u64>,
    /// The close's reason text.
    pub reason: String,
    /// Frames that had piled up in front of the close.
    pub frames: usize,
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct FaultsReport {
    /// Sending clients, and of them on QUIC.
    pub clients: usize,
    /// On QUIC.
    pub quic_clients: usize,
    /// Distinct messages the clients sent (each one client_msg_id).
    pub sent: u64,
    /// `send` frames written, retries included.
    pub attempts: u64,
    /// Sends acknowledged (`reply ok`).
    pub acked: u64,
    /// Message events stored for the clients' sends.
    pub stored: u64,
    /// Events the members should have received (each group's events × its members).
    pub expected_deliveries: u64,
    /// Distinct events the members received.
    pub delivered: u64,
    /// Events received again (a seq at or below one already received).
    pub duplicates: u64,
    /// Jumps over a seq a member never received.
    pub gaps: u64,
    /// Connections opened again after a failure.
    pub reconnects: u64,
    /// Send replies that were errors (retried with the same client_msg_id).
    pub error_replies: u64,
    /// The faults, in order.
    pub faults: Vec<FaultRecord>,
    /// The clients that never read.
    pub stall: StallRecord,
    /// From the first send to the last ack.
    pub send_time: Duration,
}

impl FaultsReport {
    /// Acknowledged sends per second, faults included.
    pub fn acked_per_sec(&self) -> f64 {
        self.acked as f64 / self.send_time.as_secs_f64().max(1e-9)
    }

    /// The counts as a Markdown table, then the faults and the stalled clients.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str("| sent | acked | stored | delivered / expected | duplicates | gaps | lost |\n");
        s.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
        s.push_str(&format!(
            "| {} | {} | {} | {} / {} | {} | {} | {} |\n",
            self.sent,
            self.acked,
            self.stored,
            self.delivered,
            self.expected_deliveries,
            self.duplicates,
            self.gaps,
            self.acked.saturating_sub(self.stored)
        ));
        s.push_str(&format!(
            "{} clients ({} on QUIC), {} send frames for {} messages ({} error replies retried), {} reconnects, \
             {:.1} s of sending: {:.0} acknowledged sends/s\n",
            self.clients,
            self.quic_clients,
            self.attempts,
            self.sent,
            self.error_replies,
            self.reconnects,
            self.send_time.as_secs_f64(),
            self.acked_per_sec()
        ));
        for f in &self.faults {
            s.push_str(&format!(
                "fault {:<10} at {:>7} acked: every client acknowledged again {:.2} s after it ended\n",
                f.name,
                f.acked_before,
                f.recovered_in.as_secs_f64()
            ));
        }
        let closes: Vec<String> = self
            .stall
            .closes
            .iter()
            .map(|c| {
                let code = c.code.map_or("no code".to_owned(), |code| format!("{code:#x}"));
                format!("{} closed with {code} {:?} after {} frames", c.transport, c.reason, c.frames)
            })
            .collect();
        s.push_str(&format!(
            "never-reading clients: closed as too_slow {:.1} s after connecting, {} flood messages after the run \
             ({}); node 1 RSS {} KiB before, peak {} KiB (node 2 peak {} KiB)\n",
            self.stall.closed_after.as_secs_f64(),
            self.stall.flood_messages,
            closes.join(", "),
            self.stall.rss_before_kib,
            self.stall.rss_peak_kib,
            self.stall.peer_rss_peak_kib
        ));
        s
    }
}

/// Where a node can be reached now (a restarted node listens on new ports).
#[derive(Debug, Clone)]
struct Door {
    ws_url: String,
    quic: SocketAddr,
    cert: String,
}

type Doors = Arc<RwLock<Vec<Door>>>;

fn doors_of(env: &TestEnv) -> Vec<Door> {
    env.nodes
        .iter()
        .map(|n| Door { ws_url: n.ws_url(), quic: n.quic_addr(), cert: n.cert_sha256().to_owned() })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Ws,
    Quic,
}

/// One connection, whichever transport.
enum Link {
    Ws(Box<Ws>),
    Quic(Box<Quic>),
}

impl Link {
    async fn open(door: &Door, transport: Transport, token: &str) -> Result<Link> {
        let opened = tokio::time::timeout(CONNECT_WAIT, async {
            Ok::<_, anyhow::Error>(match transport {
                Transport::Ws => Link::Ws(Box::new(Ws::connect(&door.ws_url, token).await?)),
                Transport::Quic => Link::Quic(Box::new(Quic::connect(door.quic, &door.cert, token).await?)),
            })
        })
        .await;
        opened.map_err(|_| anyhow!("connect timed out"))?
    }

    async fn send_json(&mut self, frame: &Value) -> Result<()> {
        match self {
            Link::Ws(w) => w.send_json(frame).await,
            Link::Quic(q) => q.send_json(frame).await,
        }
    }

    async fn next_frame(&mut self, timeout: Duration) -> Result<Value> {
        match self {
            Link::Ws(w) => w.next_frame(timeout).await,
            Link::Quic(q) => q.next_frame(timeout).await,
        }
    }

    /// Syncs `conv` from the tracker's last seq until nothing is truncated, recording the replay.
    async fn sync_from(&mut self, conv: &str, tracker: &mut Tracker) -> Result<()> {
        loop {
            let synced = match self {
                Link::Ws(w) => w.sync(&[(conv, tracker.last)]).await?,
                Link::Quic(q) => q.sync(&[(conv, tracker.last)]).await?,
            };
            tracker.record_all(&synced.events);
            let truncated = synced.synced["truncated"].as_array().is_some_and(|t| t.iter().any(|c| c == conv));
            if !truncated {
                return Ok(());
            }
        }
    }
}

/// What one member received of its group.
#[derive(Debug, Default)]
struct Tracker {
    first: i64,
    last: i64,
    received: u64,
    duplicates: u64,
    gaps: u64,
    /// Sum of the received events' id hashes, compared with the stored events' at the end.
    digest: u64,
}

impl Tracker {
    fn record(&mut self, frame: &Value) {
        let Some(seq) = frame["seq"].as_i64() else { return };
        if seq <= self.last {
            self.duplicates += 1;
            return;
        }
        if self.last == 0 {
            self.first = seq;
        } else if seq != self.last + 1 {
            self.gaps += 1;
        }
        self.last = seq;
        self.received += 1;
        self.digest = self.digest.wrapping_add(id_hash(frame["event"]["id"].as_str().unwrap_or_default()));
    }

    fn record_all(&mut self, frames: &[Value]) {
        for f in frames {
            self.record(f);
        }
    }
}

/// FNV-1a of an event id: order-independent sums of these compare what a member got with what
/// was stored.
fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Counters every client bumps.
#[derive(Default)]
struct Totals {
    acked: AtomicU64,
    attempts: AtomicU64,
    reconnects: AtomicU64,
    error_replies: AtomicU64,
}

/// One sending member.
struct Member {
    name: String,
    token: String,
    conv: String,
    transport: Transport,
    home: usize,
}

/// What a member reports.
struct MemberReport {
    conv: String,
    transport: Transport,
    tracker: Tracker,
    /// (event id, seq, client_msg_id) of each acknowledged send.
    acked: Vec<(String, i64, String)>,
    sent: u64,
}

/// Shared by the fault driver and the clients.
struct Shared {
    doors: Doors,
    totals: Totals,
    /// Set when every fault has run: clients past their minimum stop sending.
    faults_done: AtomicBool,
    /// Per client, acknowledged sends (for the recovery times).
    progress: Vec<AtomicU64>,
    /// Clients that have stopped sending.
    stopped: AtomicU64,
    /// Each group's last seq, published once every client has stopped sending.
    targets: tokio::sync::watch::Receiver<Option<HashMap<String, i64>>>,
}

impl Member {
    async fn run(self, me: usize, shared: Arc<Shared>, min_sends: usize) -> Result<MemberReport> {
        let mut tracker = Tracker::default();
        let mut node = self.home;
        let mut link = self.connect(&shared, &mut node, &mut tracker, false).await?;
        let mut acked = Vec::new();
        let mut sent = 0u64;
        let mut req = 0u64;
        let mut n = 0usize;
        while n < min_sends || !shared.faults_done.load(Ordering::Acquire) {
            let id = cmid();
            let text = format!("{} {n} {PADDING}", self.name);
            sent += 1;
            'attempts: loop {
                req += 1;
                shared.totals.attempts.fetch_add(1, Ordering::Relaxed);
                let frame = json!({
                    "type": "send", "id": req, "conversation_id": self.conv, "client_msg_id": id, "text": text,
                });
                let mut broken = link.send_json(&frame).await.is_err();
                while !broken {
                    let got = match link.next_frame(ACK_WAIT).await {
                        Ok(v) => v,
                        Err(_) => break,
                    };
                    match got["type"].as_str() {
                        Some("event") if got["conversation_id"] == self.conv.as_str() => tracker.record(&got),
                        Some("reply") if got["id"] == json!(req) => {
                            if got["ok"] == true {
                                let ev = &got["event"];
                                ensure!(
                                    ev["client_msg_id"] == id.as_str(),
                                    "{}: reply for another message: {got}",
                                    self.name
                                );
                                let ev_id = check::str_field(ev, "id")?.to_owned();
                                acked.push((ev_id, check::seq(ev)?, id.clone()));
                                shared.totals.acked.fetch_add(1, Ordering::Relaxed);
                                shared.progress[me].fetch_add(1, Ordering::Release);
                                break 'attempts;
                            }
                            // Refused for now (the database is away, a limit): the same message
                            // again, as a client would.
                            shared.totals.error_replies.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue 'attempts;
                        }
                        Some("reply") => {}
                        // going_away, too_slow, unavailable: this connection is over.
                        Some("error") => broken = true,
                        _ => {}
                    }
                }
                node = (node + 1) % 3;
                link = self.connect(&shared, &mut node, &mut tracker, true).await?;
            }
            n += 1;
        }
        shared.stopped.fetch_add(1, Ordering::AcqRel);

        // Every client has stopped: catch up to the group's last seq, live or by sync.
        let mut targets = shared.targets.clone();
        let target = loop {
            if let Some(t) = targets.borrow_and_update().as_ref() {
                break t.get(&self.conv).copied().context("no target for my group")?;
            }
            // Keep reading meanwhile, so nothing piles up in front of this client.
            tokio::select! {
                changed = targets.changed() => changed.context("the driver went away")?,
                frame = link.next_frame(Duration::from_millis(200)) => match frame {
                    Ok(v) if v["type"] == "event" && v["conversation_id"] == self.conv.as_str() => tracker.record(&v),
                    Ok(_) => {}
                    Err(_) => {
                        node = (node + 1) % 3;
                        link = self.connect(&shared, &mut node, &mut tracker, true).await?;
                    }
                },
            }
        };
        let deadline = Instant::now() + RECONNECT_FOR;
        while tracker.last < target {
            ensure!(Instant::now() < deadline, "{}: stuck at seq {} of {target}", self.name, tracker.last);
            match link.next_frame(QUIET_WAIT).await {
                Ok(v) if v["type"] == "event" && v["conversation_id"] == self.conv.as_str() => tracker.record(&v),
                Ok(_) => {}
                Err(_) => {
                    node = (node + 1) % 3;
                    link = self.connect(&shared, &mut node, &mut tracker, true).await?;
                }
            }
        }
        Ok(MemberReport { conv: self.conv, transport: self.transport, tracker, acked, sent })
    }

    /// Connects to `node`, or the ones after it, until one takes the connection; syncs from the
    /// tracker's last seq.
    async fn connect(&self, shared: &Shared, node: &mut usize, tracker: &mut Tracker, again: bool) -> Result<Link> {
        if again {
            shared.totals.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut attempt = 0u32;
        loop {
            let door = shared.doors.read().expect("doors")[*node].clone();
            let outcome = async {
                let mut link = Link::open(&door, self.transport, &self.token).await?;
                tokio::time::timeout(CONNECT_WAIT * 4, link.sync_from(&self.conv, tracker))
                    .await
                    .map_err(|_| anyhow!("sync timed out"))??;
                Ok::<_, anyhow::Error>(link)
            }
            .await;
            match outcome {
                Ok(link) => return Ok(link),
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context(format!("{}: no node took the connection for {RECONNECT_FOR:?}", self.name)));
                }
                Err(_) => {
                    attempt += 1;
                    *node = (*node + 1) % 3;
                    let pause = Duration::from_millis(50 * u64::from(attempt.min(10)));
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// A client that connects, syncs, and then never reads again.
enum Stalled {
    Ws(Box<Ws>),
    Quic(Box<Quic>),
}

impl Stalled {
    /// Reads what piled up until the connection ends; returns the close code (WebSocket code or
    /// QUIC application code) and how many frames came first.
    async fn drain(self) -> Result<StalledClose> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut frames = 0usize;
        match self {
            Stalled::Ws(mut w) => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                // A frame cut off by the close reads as an error: the end all the same.
                let incoming = match w.recv(left).await {
                    Ok(i) => i,
                    Err(e) if Instant::now() < deadline => {
                        return Ok(StalledClose { transport: "ws", code: None, reason: format!("{e:#}"), frames });
                    }
                    Err(e) => return Err(e.context("a never-reading WebSocket client was never closed")),
                };
                match incoming {
                    Incoming::Frame(_) => frames += 1,
                    Incoming::Closed { code, reason } => {
                        return Ok(StalledClose { transport: "ws", code: code.map(u64::from), reason, frames });
                    }
                }
            },
            Stalled::Quic(mut q) => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match q.recv(left).await.context("a never-reading QUIC client was never closed")? {
                    QuicIncoming::Frame(_) => frames += 1,
                    QuicIncoming::Closed(ended) => {
                        let code = ended.app_code();
                        let reason = match ended {
                            crate::quic::Ended::App { reason, .. } => reason,
                            crate::quic::Ended::Other(text) => text,
                        };
                        return Ok(StalledClose { transport: "quic", code, reason, frames });
                    }
                }
            },
        }
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the scenario on `env`, which must have three nodes (`node1`..`node3`, see
/// [`FaultsConfig::node_options`]) on the process's private Postgres
/// cluster (the test binary's own: the cluster is restarted and stopped under it).
pub async fn faults_under_load(env: &mut TestEnv, cfg: &FaultsConfig) -> Result<FaultsReport> {
    ensure!(env.nodes.len() == 3, "three nodes");
    ensure!(cfg.members > 0 && cfg.members.is_multiple_of(6), "members: a multiple of 6");
    ensure!(
        parley_pg_cluster::with_process_cluster(|_| ()).is_some(),
        "the fault driver restarts Postgres: it needs the process's private cluster, not PARLEY_TEST_DATABASE_URL"
    );
    let api = env.api(0);
    let db = env.db.client().await?;
    let clients = cfg.groups * cfg.members;
    let ids = env.db.insert_users("load", clients + 2).await?;
    let uids: Vec<uuid::Uuid> = ids.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    let sessions: Vec<uuid::Uuid> = uids.iter().map(|_| parley_shared::ids::new_uuid_v7()).collect();
    db.execute(
        "INSERT INTO auth_sessions (id, user_id, device_name) SELECT *, 'load' FROM unnest($1::uuid[], $2::uuid[])",
        &[&sessions, &uids],
    )
    .await
    .context("inserting sessions")?;
    let signer = Signer::from_encoded(&keys()?.signing_key)?;
    let tokens: Vec<String> = uids.iter().zip(&sessions).map(|(u, s)| signer.sign(UserId(*u), SessionId(*s))).collect();
    // The last two users never read; they are in every group.
    let stallers = [ids[clients].clone(), ids[clients + 1].clone()];

    let mut convs = Vec::with_capacity(cfg.groups);
    for g in 0..cfg.groups {
        let owner = g * cfg.members;
        let mut members: Vec<&str> = ids[owner + 1..owner + cfg.members].iter().map(String::as_str).collect();
        members.extend(stallers.iter().map(String::as_str));
        let created = api
            .post("/v1/groups", Some(&tokens[owner]), &json!({"name": format!("load {g}"), "member_ids": members}))
            .await?
            .ok(201)
            .with_context(|| format!("creating group {g}"))?;
        convs.push(check::str_field(&created, "id")?.to_owned());
    }
    // A group of the two alone, for the flood at the end (see below).
    let flood = api
        .post("/v1/groups", Some(&tokens[clients]), &json!({"name": "flood", "member_ids": [stallers[1].as_str()]}))
        .await?
        .ok(201)
        .context("creating the flood group")?;
    let flood = check::str_field(&flood, "id")?.to_owned();

    // The clients that never read: connected and synced on node 1 with small receive buffers (so
    // that even a short run fills them), then left alone.
    let door0 = doors_of(env)[0].clone();
    let all: Vec<&str> = convs.iter().chain([&flood]).map(String::as_str).collect();
    let stalled_at = Instant::now();
    let mut stalled_ws = Ws::connect_with_recv_buffer(&door0.ws_url, &tokens[clients], 8 * 1024).await?;
    stalled_ws.sync(&all.iter().map(|c| (*c, 0)).collect::<Vec<_>>()).await?;
    let mut stalled_quic = Quic::connect_with_window(door0.quic, &door0.cert, &tokens[clients + 1], 64 * 1024).await?;
    stalled_quic.sync(&all.iter().map(|c| (*c, 0)).collect::<Vec<_>>()).await?;
    let stalled = vec![Stalled::Ws(Box::new(stalled_ws)), Stalled::Quic(Box::new(stalled_quic))];

    // Memory of node 1 (the stalled clients' node) and node 2, sampled throughout.
    let pids = [env.nodes[0].pid().context("node 1 runs")?, env.nodes[1].pid().context("node 2 runs")?];
    let rss_before_kib = rss_kib(pids[0]).unwrap_or_default();
    let peaks = Arc::new([AtomicU64::new(rss_before_kib), AtomicU64::new(0)]);
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peaks, sampling) = (peaks.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Acquire) {
                for (i, pid) in pids.iter().enumerate() {
                    if let Some(kib) = rss_kib(*pid) {
                        peaks[i].fetch_max(kib, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let (targets_tx, targets_rx) = tokio::sync::watch::channel(None);
    let shared = Arc::new(Shared {
        doors: Arc::new(RwLock::new(doors_of(env))),
        totals: Totals::default(),
        faults_done: AtomicBool::new(false),
        progress: (0..clients).map(|_| AtomicU64::new(0)).collect(),
        stopped: AtomicU64::new(0),
        targets: targets_rx,
    });
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (i, token) in tokens[..clients].iter().enumerate() {
        let member_index = i % cfg.members;
        let m = Member {
            name: format!("load{i}"),
            token: token.clone(),
            conv: convs[i / cfg.members].clone(),
            transport: if member_index.is_multiple_of(2) { Transport::Ws } else { Transport::Quic },
            home: member_index % 3,
        };
        tasks.push(tokio::spawn(m.run(i, shared.clone(), cfg.min_sends)));
    }

    let faults = drive_faults(env, cfg, &shared, &tasks).await;
    shared.faults_done.store(true, Ordering::Release);
    let faults = match faults {
        Ok(f) => f,
        Err(e) => {
            let failure = first_failure(&mut tasks).await;
            return Err(e.context(format!("first client failure: {failure}")));
        }
    };

    // Wait for every client to stop sending, then publish each group's last seq (a reconnect
    // during the faults may have cut the driver's own connection: a fresh one).
    let deadline = Instant::now() + Duration::from_secs(600);
    while shared.stopped.load(Ordering::Acquire) < clients as u64 {
        ensure!(Instant::now() < deadline, "clients still sending after 600 s");
        if tasks.iter().any(|t| t.is_finished()) {
            bail!("a client ended before the catch-up: {}", first_failure(&mut tasks).await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let send_time = started.elapsed();
    let db = env.db.client().await?;
    let rows = db
        .query(
            "SELECT conversation_id::text, max(seq) FROM events WHERE conversation_id = ANY($1::uuid[]) GROUP BY 1",
            &[&convs.iter().map(|c| c.parse::<uuid::Uuid>()).collect::<Result<Vec<_>, _>>()?],
        )
        .await
        .context("reading the groups' last seqs")?;
    let targets: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    targets_tx.send(Some(targets.clone())).map_err(|_| anyhow!("every client went away"))?;

    let mut reports = Vec::with_capacity(clients);
    for t in tasks {
        reports.push(t.await.context("client task")??);
    }
    // Node 1 must have closed both clients that never read (`too_slow`), whatever they see. How
    // soon depends on how much the run sent them and how much the kernel buffered on the node's
    // side (its send buffer grows to megabytes): where the run was too short to fill that, big
    // messages in their own group top it up, so the check holds however fast the run went.
    let node1 = env.api(0);
    let big = PADDING.repeat(7);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut flooded = 0usize;
    loop {
        let closed = node1.metric("parley_disconnects_total", &["reason=\"too_slow\""]).await? as u64;
        if closed >= 2 {
            break;
        }
        ensure!(Instant::now() < deadline, "node 1 closed {closed} of the 2 clients that never read");
        if flooded < 2000 {
            for _ in 0..20 {
                node1.send_text(&tokens[clients], &flood, &big).await?;
                flooded += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let closed_after = stalled_at.elapsed();
    sampling.store(false, Ordering::Release);
    let _ = sampler.await;
    let mut closes = Vec::new();
    for s in stalled {
        closes.push(s.drain().await?);
    }

    let stall = StallRecord {
        rss_before_kib,
        rss_peak_kib: peaks[0].load(Ordering::Relaxed),
        peer_rss_peak_kib: peaks[1].load(Ordering::Relaxed),
        closed_after,
        flood_messages: flooded,
        closes,
    };
    verify(&db, &convs, &targets, cfg, reports, stall, faults, &shared, send_time).await
}

async fn first_failure(tasks: &mut [tokio::task::JoinHandle<Result<MemberReport>>]) -> String {
    for t in tasks.iter_mut() {
        if t.is_finished() {
            return match t.await {
                Ok(Ok(_)) => "finished early".into(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => format!("panicked: {e}"),
            };
        }
    }
    "none".into()
}

/// Runs the faults in order with calm load around each; returns what the clients lived through.
async fn drive_faults(
    env: &mut TestEnv,
    cfg: &FaultsConfig,
    shared: &Shared,
    tasks: &[tokio::task::JoinHandle<Result<MemberReport>>],
) -> Result<Vec<FaultRecord>> {
    let mut records = Vec::new();
    for name in ["sigkill", "sigstop", "listen", "pg_restart", "pg_down"] {
        calm(cfg.calm, tasks).await?;
        let acked_before = shared.totals.acked.load(Ordering::Relaxed);
        match name {
            "sigkill" => {
                env.nodes[2].sigkill()?;
                env.nodes[2].wait_exit(Duration::from_secs(10)).await?;
                tokio::time::sleep(cfg.outage / 4).await;
                env.nodes[2].restart().await?;
                shared.doors.write().expect("doors")[2] = doors_of(env)[2].clone();
            }
            "sigstop" => {
                env.nodes[1].signal(libc::SIGSTOP)?;
                tokio::time::sleep(cfg.outage).await;
                env.nodes[1].signal(libc::SIGCONT)?;
            }
            "listen" => {
                for node in ["node1", "node2", "node3"] {
                    env.db.terminate_listen_connection(node).await?;
                }
            }
            "pg_restart" => {
                tokio::task::spawn_blocking(|| parley_pg_cluster::with_process_cluster(|c| c.restart_fast()))
                    .await?
                    .context("no private cluster")??;
            }
            "pg_down" => {
                tokio::task::spawn_blocking(|| parley_pg_cluster::with_process_cluster(|c| c.stop()))
                    .await?
                    .context("no private cluster")??;
                tokio::time::sleep(cfg.outage).await;
                tokio::task::spawn_blocking(|| parley_pg_cluster::with_process_cluster(|c| c.start_again()))
                    .await?
                    .context("no private cluster")??;
            }
            _ => unreachable!("every fault is listed"),
        }
        let ended = Instant::now();
        let marks: Vec<u64> = shared.progress.iter().map(|p| p.load(Ordering::Acquire)).collect();
        let deadline = ended + RECONNECT_FOR;
        while shared.progress.iter().zip(&marks).any(|(p, m)| p.load(Ordering::Acquire) <= *m) {
            ensure!(
                Instant::now() < deadline,
                "after {name}: some clients had nothing acknowledged for {RECONNECT_FOR:?}"
            );
            if tasks.iter().any(|t| t.is_finished()) {
                bail!("after {name}: a client stopped");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        records.push(FaultRecord { name, acked_before, recovered_in: ended.elapsed() });
    }
    calm(cfg.calm, tasks).await?;
    Ok(records)
}

/// Normal load for `d`, failing early if a client stopped.
async fn calm(d: Duration, tasks: &[tokio::task::JoinHandle<Result<MemberReport>>]) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if tasks.iter().any(|t| t.is_finished()) {
            bail!("a client stopped during the load");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn verify(
    db: &tokio_postgres::Client,
    convs: &[String],
    targets: &HashMap<String, i64>,
    cfg: &FaultsConfig,
    reports: Vec<MemberReport>,
    stall: StallRecord,
    faults: Vec<FaultRecord>,
    shared: &Shared,
    send_time: Duration,
) -> Result<FaultsReport> {
    let conv_ids: Vec<uuid::Uuid> = convs.iter().map(|c| c.parse()).collect::<Result<_, _>>()?;
    let rows = db
        .query(
            "SELECT id::text, conversation_id::text, seq, kind, client_msg_id FROM events \
             WHERE conversation_id = ANY($1::uuid[]) ORDER BY conversation_id, seq",
            &[&conv_ids],
        )
        .await
        .context("reading the stored events")?;
    // The ground truth, per group: seqs 1..=last with no hole, and the digest of its ids.
    let mut by_id: HashMap<String, (i64, Option<String>)> = HashMap::with_capacity(rows.len());
    let mut digests: HashMap<String, u64> = HashMap::new();
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut stored = 0u64;
    for r in &rows {
        let (id, conv, seq, kind, cmid): (String, String, i64, String, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        *digests.entry(conv.clone()).or_default() =
            digests.get(&conv).copied().unwrap_or_default().wrapping_add(id_hash(&id));
        let n = counts.entry(conv.clone()).or_default();
        *n += 1;
        ensure!(seq == *n, "group {conv}: stored seq {seq} where {} was expected (a hole)", *n);
        if kind == "message" {
            stored += 1;
        }
        by_id.insert(id, (seq, cmid));
    }
    let mut seen_cmids = HashSet::new();
    let (mut acked, mut sent, mut delivered, mut duplicates, mut gaps) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut quic_clients = 0;
    for r in &reports {
        if r.transport == Transport::Quic {
            quic_clients += 1;
        }
        sent += r.sent;
        for (id, seq, cmid) in &r.acked {
            acked += 1;
            let (stored_seq, stored_cmid) =
                by_id.get(id).with_context(|| format!("acknowledged event {id} not stored"))?;
            ensure!(stored_seq == seq, "event {id} acknowledged as seq {seq}, stored as {stored_seq}");
            ensure!(stored_cmid.as_deref() == Some(cmid.as_str()), "event {id}: stored under another client_msg_id");
            ensure!(seen_cmids.insert(cmid.clone()), "client_msg_id {cmid} acknowledged twice");
        }
        let t = &r.tracker;
        delivered += t.received;
        duplicates += t.duplicates;
        gaps += t.gaps;
        let last = targets[&r.conv];
        ensure!(
            t.first == 1 && t.last == last,
            "a member of {} received seqs {}..={} of 1..={last}",
            r.conv,
            t.first,
            t.last
        );
        ensure!(t.digest == digests[&r.conv], "a member of {} received other events than the stored ones", r.conv);
    }
    let expected_deliveries: u64 = targets.values().map(|last| *last as u64 * cfg.members as u64).sum();
    let report = FaultsReport {
        clients: reports.len(),
        quic_clients,
        sent,
        attempts: shared.totals.attempts.load(Ordering::Relaxed),
        acked,
        stored,
        expected_deliveries,
        delivered,
        duplicates,
        gaps,
        reconnects: shared.totals.reconnects.load(Ordering::Relaxed),
        error_replies: shared.totals.error_replies.load(Ordering::Relaxed),
        faults,
        stall,
        send_time,
    };
    ensure!(
        report.acked == report.sent,
        "{} of {} messages acknowledged:\n{}",
        report.acked,
        report.sent,
        report.table()
    );
    ensure!(
        report.stored == report.acked,
        "{} stored for {} acknowledged:\n{}",
        report.stored,
        report.acked,
        report.table()
    );
    ensure!(
        report.delivered == report.expected_deliveries && report.duplicates == 0 && report.gaps == 0,
        "deliveries wrong:\n{}",
        report.table()
    );
    Ok(report)
}
