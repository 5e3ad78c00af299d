//! `parley-bench --fanout`: one conversation, many receiving sockets, one sender, the same load
//! generator against Parley and against peer servers in one run:
//!
//! - **null**: a do-nothing Rust room server (this binary, `--fanout-null-server`, in its own
//!   process) that writes each message to every socket pre-framed: the generator's own ceiling;
//! - **parley**: a release node, one group of every receiver (each its own user and session);
//! - **socket.io**: an idiomatic Socket.IO 4.8 room broadcast (`bench/peers/socketio-room.js`);
//! - **ws**: a room server on the `ws` package (`bench/peers/ws-room.js`).
//!
//! Per target and receiver count it measures connection setup (connects/s, server RSS per idle
//! socket), deliveries/s with sends as fast as acknowledgements allow, and delivery latency at a
//! fixed rate well below saturation (and the sender's acknowledgement latency there), and the
//! server's RSS growth from the first send to its peak. With `--fanout-stalled N` each receiver
//! count runs again with N more clients in the conversation that connect and never read (a 4 KiB
//! receive buffer): the others' figures beside the first run's say what they cost.
//!
//! Receivers never parse frames: each message's text is a marker `~PLY<k>.<µs>~` (its number and
//! when it was sent, in µs since the generator started), found in the raw bytes (server frames
//! are unmasked). Each receiver counts unique deliveries in a bitset, so duplicates show.

mod charts;
mod null_server;
pub(crate) mod raw;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley_shared::ids::{ClientMsgId, ConversationId};
use parley_shared::model::MessageDraft;
use parley_shared::protocol::{ClientFrame, RequestId};
use parley_tests::TestEnv;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

pub use null_server::serve as null_server;
use raw::RawWs;

use crate::Args;
use crate::transports::{cpu_ms, cpu_ms_named, rss_kib};

/// The generator's clock: markers carry µs since this instant.
static T0: LazyLock<Instant> = LazyLock::new(Instant::now);

/// µs on the generator's clock (the cross-node latency phase's markers use it too).
pub(crate) fn now_us() -> u64 {
    T0.elapsed().as_micros() as u64
}

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The do-nothing server: the generator's ceiling.
    Null,
    /// A Parley node.
    Parley,
    /// Socket.IO 4.8.
    #[value(name = "socketio")]
    SocketIo,
    /// The `ws` package.
    Ws,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Null => "null (ceiling)",
            Target::Parley => "parley",
            Target::SocketIo => "socket.io 4.8",
            Target::Ws => "ws 8",
        }
    }
}

/// One target's figures at one receiver count.
#[derive(Clone, Debug)]
pub struct Row {
    /// What.
    pub target: Target,
    /// Receiving sockets.
    pub receivers: usize,
    /// Further receivers that connected and then never read (`--fanout-stalled`).
    pub stalled: usize,
    /// The server's RSS growth from before the first send to its peak while sending, MiB.
    pub sending_growth_mib: f64,
    /// Receivers connected (and, for Parley, authenticated, registered and synced) per second.
    pub connects_per_sec: f64,
    /// Server RSS growth per connected socket, KiB.
    pub kib_per_socket: f64,
    /// Deliveries per second with sends as fast as acknowledgements allow.
    pub deliveries_per_sec: f64,
    /// Delivery latency at saturation, p50 and p99 (ms).
    pub sat_p50: f64,
    /// p99.
    pub sat_p99: f64,
    /// Delivery latency at the fixed rate, p50 and p99 (ms).
    pub fixed_p50: f64,
    /// p99.
    pub fixed_p99: f64,
    /// Sender acknowledgement latency at the fixed rate, p50 and p99 (ms).
    pub ack_p50: f64,
    /// p99.
    pub ack_p99: f64,
    /// Deliveries seen twice.
    pub duplicates: u64,
    /// Deliveries that never arrived.
    pub missing: u64,
    /// The fixed-rate latency distribution, for the charts ([`charts::latency_curve`]).
    pub fixed_latency: Vec<(f64, f64)>,
}

impl Row {
    /// The target, and the stalled clients if there were any.
    fn label(&self) -> String {
        match self.stalled {
            0 => self.target.name().to_owned(),
            n => format!("{} +{n} stalled", self.target.name()),
        }
    }
}

/// Phases of one run; a message's number says which it belongs to.
#[derive(Clone, Copy)]
struct Plan {
    /// Messages with sends bounded by acknowledgements.
    saturate: u64,
    /// Messages at the fixed rate.
    fixed: u64,
}

impl Plan {
    /// Message 0 is the warm-up; then the saturation phase; then the fixed-rate one.
    fn phase(&self, k: u64) -> usize {
        if k == 0 {
            0
        } else if k <= self.saturate {
            1
        } else {
            2
        }
    }
    fn total(&self) -> u64 {
        1 + self.saturate + self.fixed
    }
}

/// Counters every receiver adds to.
#[derive(Default)]
struct Shared {
    /// Unique deliveries per phase.
    delivered: [AtomicU64; 3],
    /// When the last delivery of each phase arrived (µs on [`T0`]).
    last_us: [AtomicU64; 3],
}

/// What a receiver found.
struct Tally {
    hist: [Histogram<u64>; 3],
    duplicates: u64,
    unique: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 2).expect("histogram bounds")
}

/// Runs `--fanout`.
pub async fn bench(args: &Args) -> Result<()> {
    let receivers: Vec<usize> = args
        .fanout_receivers
        .split(',')
        .map(|s| s.trim().parse().context("--fanout-receivers"))
        .collect::<Result<_>>()?;
    let peers_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
    ensure!(
        peers_dir.join("node_modules/socket.io").exists(),
        "the peer servers' packages are missing: run `npm ci --prefix bench/peers` (scripts/bench --fanout does)"
    );
    if args.fanout_targets.contains(&Target::Parley) {
        parley_tests::db_work::enable();
    }
    LazyLock::force(&T0);
    let plan = Plan { saturate: args.fanout_messages, fixed: args.fanout_rate * args.fanout_secs };
    let mut rows = Vec::new();
    let mut env = None;
    // With --fanout-stalled, each count runs twice: without and with the clients that never
    // read, so what they cost the others is a ratio within one run.
    let stalled: Vec<usize> = if args.fanout_stalled > 0 { vec![0, args.fanout_stalled] } else { vec![0] };
    for &r in &receivers {
        for &st in &stalled {
            let mut runs: Vec<Vec<Row>> = vec![Vec::new(); args.fanout_targets.len()];
            for round in 1..=args.fanout_rounds {
                for (&target, runs) in args.fanout_targets.iter().zip(&mut runs) {
                    let row = run_target(args, target, r, st, plan, &peers_dir, &mut env)
                        .await
                        .with_context(|| format!("{target:?} with {r} receivers and {st} stalled"))?;
                    println!("round {round}: {}", format_row(&row, None));
                    runs.push(row);
                }
            }
            rows.extend(runs.iter().map(|runs| median_row(runs)));
        }
    }
    println!("\n{}", table(&rows, args));
    if let Some(dir) = &args.fanout_charts {
        let plain: Vec<Row> = rows.iter().filter(|r| r.stalled == 0).cloned().collect();
        for path in charts::write(dir, &plain, args.fanout_rate)? {
            println!("chart: {}", path.display());
        }
    }
    if let Some(r) = rows.iter().find(|r| r.duplicates > 0 || r.missing > 0) {
        bail!(
            "{} with {} receivers: {} duplicates, {} missing deliveries",
            r.target.name(),
            r.receivers,
            r.duplicates,
            r.missing
        );
    }
    Ok(())
}

/// The server under test, however it runs.
enum Server {
    /// A Parley node of the bench's environment, with its group.
    Parley {
        group: ConversationId,
        owner_token: String,
        tokens: Vec<String>,
        ws_url: String,
        pid: u32,
        api: parley_tests::Api,
    },
    /// A child process listening on a port.
    Peer { child: Child, addr: SocketAddr, pid: u32 },
}

async fn start_peer(program: &str, args: &[&str], dir: &std::path::Path) -> Result<Server> {
    use tokio::io::AsyncBufReadExt;
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {program} {args:?}"))?;
    let pid = child.id().context("peer pid")?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().context("peer stdout")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .context("peer did not say where it listens")??
        .context("peer exited")?;
    let port: u16 = line.strip_prefix("listening ").context("peer's first line")?.trim().parse()?;
    Ok(Server::Peer { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), pid })
}

async fn run_target(
    args: &Args,
    target: Target,
    receivers: usize,
    stalled: usize,
    plan: Plan,
    peers: &std::path::Path,
    env: &mut Option<TestEnv>,
) -> Result<Row> {
    let server = match target {
        Target::Null => {
            let exe = std::env::current_exe()?;
            start_peer(exe.to_str().context("exe path")?, &["--fanout-null-server"], peers).await?
        }
        Target::SocketIo => start_peer("node", &["socketio-room.js"], peers).await?,
        Target::Ws => start_peer("node", &["ws-room.js"], peers).await?,
        Target::Parley => {
            // A fresh node process per row, as each peer is: memory freed by an earlier row's
            // sockets would otherwise be reused and hide what this row's cost.
            match env {
                None => {
                    // The 10,000-receiver row's group (its sender too, and any stalled members)
                    // is past the default cap of 10,000 members, a deployment setting.
                    let mut opts = crate::bench_node("fanout");
                    opts.env.push(("PARLEY_MAX_GROUP_MEMBERS".into(), "100000".into()));
                    *env = Some(TestEnv::start_with(vec![opts]).await?)
                }
                Some(e) => e.nodes[0].restart().await?,
            }
            let env = env.as_ref().expect("started");
            let all = receivers + stalled;
            // Each run seeds its own users (usernames are unique), rounds included.
            static RUNS: AtomicU64 = AtomicU64::new(0);
            let prefix = format!("fan{receivers}s{stalled}r{}x", RUNS.fetch_add(1, Ordering::Relaxed));
            let seeded = parley_tests::big_group::seed_group(env, &prefix, all + 1, all).await?;
            Server::Parley {
                group: seeded.group.parse().context("group id")?,
                owner_token: seeded.owner.token().to_owned(),
                tokens: seeded.tokens,
                ws_url: env.ws_url(0),
                pid: env.nodes[0].pid().context("node pid")?,
                api: env.api(0),
            }
        }
    };
    let pid = match &server {
        Server::Parley { pid, .. } | Server::Peer { pid, .. } => *pid,
    };
    let stats = match (target, env.as_ref()) {
        (Target::Parley, Some(e)) => parley_tests::db_work::StatStatements::open(e).await,
        _ => None,
    };
    let mut sender = Sender::connect(target, &server).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_kib(pid)?;
    if let Some(s) = &stats {
        s.reset().await?;
    }

    // Connect every receiver, a bounded number at a time.
    let cpu_before = [cpu_ms(pid), cpu_ms_named("postgres"), cpu_ms(std::process::id())];
    let started = Instant::now();
    let list: Vec<Result<RawWs>> = futures_util::stream::iter(0..receivers)
        .map(|i| receiver_connect(target, &server, i, None))
        .buffer_unordered(args.fanout_connect_concurrency)
        .collect()
        .await;
    let connected = started.elapsed();
    let cpu = [cpu_ms(pid), cpu_ms_named("postgres"), cpu_ms(std::process::id())];
    let per = |i: usize| (cpu[i].saturating_sub(cpu_before[i])) as f64 * 1000.0 / receivers as f64;
    eprintln!(
        "  cpu per connect: server {:.0} µs, postgres {:.0} µs, generator {:.0} µs ({:.2} s of connecting)",
        per(0),
        per(1),
        per(2),
        connected.as_secs_f64()
    );
    let sockets: Vec<RawWs> = list.into_iter().collect::<Result<_>>()?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid)?;
    if let Some(s) = &stats {
        // What connecting cost Postgres (the 2 s above include the presence writes that follow).
        let w = s.per(receivers).await?;
        eprintln!("  db per connect: {:.2} statements, {:.1} rows, {:.1} buffer pages", w.statements, w.rows, w.blocks);
        for (calls, rows, q) in w.top {
            eprintln!("  db   {calls:>7.3} calls {rows:>8.2} rows  {q}");
        }
    }

    // The clients that never read: connected (and, on Parley, synced), then left alone with a
    // small receive buffer, so what the server sends them soon has nowhere to go.
    let stalled_sockets: Vec<RawWs> = futures_util::stream::iter(receivers..receivers + stalled)
        .map(|i| receiver_connect(target, &server, i, Some(STALLED_RCVBUF)))
        .buffer_unordered(args.fanout_connect_concurrency)
        .collect::<Vec<Result<RawWs>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let rss_sending = rss_kib(pid)?;
    let peak = Arc::new(AtomicU64::new(rss_sending));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while let Ok(kib) = rss_kib(pid) {
                peak.fetch_max(kib, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let shared = Arc::new(Shared::default());
    let (stop_tx, stop) = watch::channel(false);
    let pong = target == Target::SocketIo;
    let tasks: Vec<_> =
        sockets.into_iter().map(|s| tokio::spawn(receive(s, plan, pong, shared.clone(), stop.clone()))).collect();

    // Warm-up: one message everyone gets before anything is timed.
    sender.send(0).await?;
    sender.wait_acks(Duration::from_secs(30)).await?;
    wait_delivered(&shared, 0, receivers as u64, Duration::from_secs(30)).await?;

    // Saturation: a window of sends in flight.
    let t_sat = now_us();
    let mut next = 1;
    while next <= plan.saturate {
        while sender.in_flight() < args.fanout_window && next <= plan.saturate {
            sender.send(next).await?;
            next += 1;
        }
        sender.next_ack(Duration::from_secs(60)).await?;
    }
    sender.wait_acks(Duration::from_secs(60)).await?;
    wait_delivered(&shared, 1, plan.saturate * receivers as u64, Duration::from_secs(60)).await.ok();
    let sat_secs = (shared.last_us[1].load(Ordering::Acquire).saturating_sub(t_sat)) as f64 / 1e6;
    let sat_delivered = shared.delivered[1].load(Ordering::Acquire);

    // Fixed rate.
    let period = Duration::from_secs_f64(1.0 / args.fanout_rate as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut ack_hist = histogram();
    let first = plan.saturate + 1;
    let mut k = first;
    while k < first + plan.fixed {
        tokio::select! {
            _ = tick.tick() => {
                sender.send(k).await?;
                k += 1;
            }
            ack = sender.next_ack(Duration::from_secs(60)), if sender.in_flight() > 0 => {
                ack_hist.record(ack?.max(1))?;
            }
        }
    }
    while sender.in_flight() > 0 {
        ack_hist.record(sender.next_ack(Duration::from_secs(60)).await?.max(1))?;
    }
    wait_delivered(&shared, 2, plan.fixed * receivers as u64, Duration::from_secs(30)).await.ok();
    if let Server::Parley { api, .. } = &server {
        // Where the time goes: the node's own commit and fan-out timings (whole run).
        crate::node_metrics::print("node", api).await?;
    }

    sampler.abort();
    let sending_growth_mib = peak.load(Ordering::Relaxed).saturating_sub(rss_sending) as f64 / 1024.0;
    drop(stalled_sockets);
    let _ = stop_tx.send(true);
    let mut hist = [histogram(), histogram(), histogram()];
    let mut duplicates = 0;
    let mut unique = 0;
    for t in tasks {
        let tally = t.await??;
        for (h, th) in hist.iter_mut().zip(&tally.hist) {
            h.add(th)?;
        }
        duplicates += tally.duplicates;
        unique += tally.unique;
    }
    drop(sender);
    if let Server::Peer { mut child, .. } = server {
        let _ = child.kill().await;
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(Row {
        target,
        receivers,
        stalled,
        sending_growth_mib,
        connects_per_sec: receivers as f64 / connected.as_secs_f64(),
        kib_per_socket: rss_after.saturating_sub(rss_before) as f64 / receivers as f64,
        deliveries_per_sec: sat_delivered as f64 / sat_secs.max(1e-6),
        sat_p50: ms(&hist[1], 0.5),
        sat_p99: ms(&hist[1], 0.99),
        fixed_p50: ms(&hist[2], 0.5),
        fixed_p99: ms(&hist[2], 0.99),
        ack_p50: ms(&ack_hist, 0.5),
        ack_p99: ms(&ack_hist, 0.99),
        duplicates,
        missing: (plan.total() * receivers as u64).saturating_sub(unique),
        fixed_latency: charts::latency_curve(&hist[2]),
    })
}

async fn wait_delivered(shared: &Shared, phase: usize, want: u64, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = shared.delivered[phase].load(Ordering::Acquire);
        if got >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("phase {phase}: {got} of {want} deliveries within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The receive buffer of a client that never reads (the kernel doubles it).
const STALLED_RCVBUF: u32 = 4096;

/// Opens receiver `i` (with a receive buffer of `rcvbuf` bytes, if given) and waits until it is
/// ready for live messages.
async fn receiver_connect(target: Target, server: &Server, i: usize, rcvbuf: Option<u32>) -> Result<RawWs> {
    match server {
        Server::Parley { tokens, ws_url, .. } => {
            Ok(parley_open(url_addr(ws_url)?, &tokens[i], Default::default(), rcvbuf).await?.0)
        }
        Server::Peer { addr, .. } if target == Target::SocketIo => {
            let mut ws = RawWs::connect(*addr, "/socket.io/?EIO=4&transport=websocket", rcvbuf).await?;
            ws.wait_for(b"0{", Duration::from_secs(30)).await?;
            ws.send_text("40").await?;
            ws.wait_for(b"40{", Duration::from_secs(30)).await?;
            Ok(ws)
        }
        Server::Peer { addr, .. } => RawWs::connect(*addr, "/", rcvbuf).await,
    }
}

/// A Parley receiver: upgrades with `token`, waits for `ready`, syncs from `cursors` and waits
/// for `synced`; answers the socket and the bytes that arrived before `synced` (the replay).
pub(crate) async fn parley_open(
    addr: SocketAddr,
    token: &str,
    cursors: std::collections::BTreeMap<ConversationId, parley_shared::ids::Seq>,
    rcvbuf: Option<u32>,
) -> Result<(RawWs, Vec<u8>)> {
    let mut ws = RawWs::connect(addr, &format!("/v1/ws?token={token}"), rcvbuf).await?;
    ws.wait_for(br#""type":"ready""#, Duration::from_secs(30)).await?;
    let sync = ClientFrame::Sync { id: RequestId::Num(0), positions: cursors };
    ws.send_text(&serde_json::to_string(&sync)?).await?;
    let replay = ws.read_until(br#""type":"synced""#, Duration::from_secs(60)).await?;
    Ok((ws, replay))
}

fn url_addr(ws_url: &str) -> Result<SocketAddr> {
    let rest = ws_url.strip_prefix("ws://").context("ws:// url")?;
    let hostport = rest.split('/').next().context("host")?;
    Ok(hostport.parse()?)
}

/// One receiver: reads raw bytes, finds markers, counts each message once.
async fn receive(
    mut ws: RawWs,
    plan: Plan,
    pong: bool,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<Tally> {
    let total = plan.total();
    let mut seen = vec![0u64; total.div_ceil(64) as usize];
    let mut tally = Tally { hist: [histogram(), histogram(), histogram()], duplicates: 0, unique: 0 };
    let mut buf = std::mem::take(&mut ws.pending);
    let finder = memchr::memmem::Finder::new(b"~PLY");
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Scan what is buffered; keep an unfinished marker (or a marker's possible start).
        let mut keep_from = buf.len().saturating_sub(3);
        let mut pos = 0;
        let mut counts = [0u64; 3];
        let mut last = 0;
        while let Some(i) = finder.find(&buf[pos..]) {
            let start = pos + i;
            match parse_marker(&buf[start + 4..]) {
                Some((k, sent_us, len)) => {
                    pos = start + 4 + len;
                    let (w, b) = ((k / 64) as usize, k % 64);
                    if k >= total {
                        continue;
                    }
                    if seen[w] & (1 << b) != 0 {
                        tally.duplicates += 1;
                        continue;
                    }
                    seen[w] |= 1 << b;
                    tally.unique += 1;
                    let now = now_us();
                    let phase = plan.phase(k);
                    tally.hist[phase].saturating_record(now.saturating_sub(sent_us).max(1));
                    counts[phase] += 1;
                    last = now;
                }
                None => {
                    keep_from = start;
                    break;
                }
            }
        }
        if keep_from < pos {
            keep_from = pos;
        }
        if pong && memchr::memmem::find(&buf, &[0x81, 0x01, b'2']).is_some() {
            // Engine.IO's heartbeat: answer it, or the server drops the socket.
            ws.send_text("3").await?;
        }
        buf.drain(..keep_from.min(buf.len()));
        for (phase, n) in counts.iter().enumerate() {
            if *n > 0 {
                shared.last_us[phase].fetch_max(last, Ordering::AcqRel);
                shared.delivered[phase].fetch_add(*n, Ordering::AcqRel);
            }
        }
        if tally.unique >= total {
            return Ok(tally);
        }
        let n = tokio::select! {
            n = ws.stream.read(&mut chunk) => n?,
            _ = stop.changed() => return Ok(tally),
        };
        if n == 0 {
            bail!("a receiver's socket closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `<k>.<µs>~` after a marker's `~PLY`: the message number, its send time, and the bytes taken.
/// `None` when the bytes end first.
pub(crate) fn parse_marker(b: &[u8]) -> Option<(u64, u64, usize)> {
    let mut k = 0u64;
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        k = k * 10 + u64::from(b[i] - b'0');
        i += 1;
    }
    if i >= b.len() || b[i] != b'.' {
        return if i >= b.len() { None } else { Some((u64::MAX, 0, i)) };
    }
    i += 1;
    let mut t = 0u64;
    while i < b.len() && b[i].is_ascii_digit() {
        t = t * 10 + u64::from(b[i] - b'0');
        i += 1;
    }
    if i >= b.len() {
        return None;
    }
    Some((k, t, i + 1))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The sending socket: a full WebSocket client (acknowledgements are parsed; there is one).
struct Sender {
    target: Target,
    ws: Socket,
    conv: Option<ConversationId>,
    /// Send times (µs) of the messages awaiting acknowledgement, oldest first (every target
    /// acknowledges one socket's sends in order).
    in_flight: std::collections::VecDeque<u64>,
}

impl Sender {
    async fn connect(target: Target, server: &Server) -> Result<Sender> {
        let (url, conv) = match server {
            Server::Parley { ws_url, owner_token, group, .. } => {
                (format!("{ws_url}?token={owner_token}"), Some(*group))
            }
            Server::Peer { addr, .. } if target == Target::SocketIo => {
                (format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"), None)
            }
            Server::Peer { addr, .. } => (format!("ws://{addr}/"), None),
        };
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.with_context(|| format!("sender to {url}"))?;
        let mut s = Sender { target, ws, conv, in_flight: Default::default() };
        match target {
            Target::Parley => {
                s.until(|t| t.contains(r#""type":"ready""#)).await?;
                let sync = ClientFrame::Sync { id: RequestId::Num(0), positions: Default::default() };
                s.ws.send(Message::text(serde_json::to_string(&sync)?)).await?;
                s.until(|t| t.contains(r#""type":"synced""#)).await?;
            }
            Target::SocketIo => {
                s.until(|t| t.starts_with("0{")).await?;
                s.ws.send(Message::text("40")).await?;
                s.until(|t| t.starts_with("40")).await?;
            }
            Target::Ws | Target::Null => {}
        }
        Ok(s)
    }

    async fn until(&mut self, pred: impl Fn(&str) -> bool) -> Result<()> {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(30), self.ws.next()).await?.context("sender closed")??;
            if let Message::Text(t) = m
                && pred(&t)
            {
                return Ok(());
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    async fn send(&mut self, k: u64) -> Result<()> {
        let at = now_us();
        let text = format!("~PLY{k}.{at}~");
        let frame = match self.target {
            Target::Parley => serde_json::to_string(&ClientFrame::Send {
                id: RequestId::Num(k),
                conversation_id: self.conv.expect("parley group"),
                message: MessageDraft::text(ClientMsgId(uuid::Uuid::new_v4().to_string()), text),
            })?,
            Target::SocketIo => format!("42{k}[\"msg\",\"{text}\"]"),
            Target::Ws | Target::Null => text,
        };
        self.ws.send(Message::text(frame)).await?;
        self.in_flight.push_back(at);
        Ok(())
    }

    /// Waits for the next acknowledgement; answers its latency in µs.
    async fn next_ack(&mut self, timeout: Duration) -> Result<u64> {
        loop {
            let m = tokio::time::timeout(timeout, self.ws.next()).await?.context("sender closed")??;
            let Message::Text(t) = m else { continue };
            let ack = match self.target {
                Target::Parley => t.starts_with(r#"{"type":"reply""#),
                Target::SocketIo => {
                    if t.as_str() == "2" {
                        self.ws.send(Message::text("3")).await?;
                    }
                    t.starts_with("43")
                }
                Target::Ws | Target::Null => t.as_str() == "ack",
            };
            if ack {
                if self.target == Target::Parley && !t.contains(r#""ok":true"#) {
                    bail!("a send failed: {t}");
                }
                let sent = self.in_flight.pop_front().context("an acknowledgement of nothing")?;
                return Ok(now_us().saturating_sub(sent));
            }
        }
    }

    async fn wait_acks(&mut self, timeout: Duration) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.next_ack(timeout).await?;
        }
        Ok(())
    }
}

/// One target's rounds as one row: each figure's median over the rounds (the upper middle of an
/// even count), duplicates and missing deliveries summed, the latency curve of the round whose
/// fixed-rate p50 is the median.
fn median_row(runs: &[Row]) -> Row {
    fn median(runs: &[Row], f: impl Fn(&Row) -> f64) -> f64 {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    let p50 = median(runs, |r| r.fixed_p50);
    let curve = runs.iter().find(|r| r.fixed_p50 == p50).expect("the median is one of the rounds");
    Row {
        sending_growth_mib: median(runs, |r| r.sending_growth_mib),
        connects_per_sec: median(runs, |r| r.connects_per_sec),
        kib_per_socket: median(runs, |r| r.kib_per_socket),
        deliveries_per_sec: median(runs, |r| r.deliveries_per_sec),
        sat_p50: median(runs, |r| r.sat_p50),
        sat_p99: median(runs, |r| r.sat_p99),
        fixed_p50: p50,
        fixed_p99: median(runs, |r| r.fixed_p99),
        ack_p50: median(runs, |r| r.ack_p50),
        ack_p99: median(runs, |r| r.ack_p99),
        duplicates: runs.iter().map(|r| r.duplicates).sum(),
        missing: runs.iter().map(|r| r.missing).sum(),
        ..curve.clone()
    }
}

fn format_row(r: &Row, socketio: Option<&Row>) -> String {
    let ratio =
        socketio.map_or(String::new(), |s| format!(" ({:.2}x)", r.deliveries_per_sec / s.deliveries_per_sec.max(1.0)));
    format!(
        "| {} | {} | {:.0} | {:.1} | {:.0}{ratio} | {:.1} / {:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {:.1} | {} / {} |",
        r.label(),
        r.receivers,
        r.connects_per_sec,
        r.kib_per_socket,
        r.deliveries_per_sec,
        r.sat_p50,
        r.sat_p99,
        r.fixed_p50,
        r.fixed_p99,
        r.ack_p50,
        r.ack_p99,
        r.sending_growth_mib,
        r.duplicates,
        r.missing
    )
}

/// The README's table: every row, deliveries/s as a ratio to Socket.IO at the same receiver
/// count, and a note where a target came within 10% of the generator's ceiling.
fn table(rows: &[Row], args: &Args) -> String {
    let mut out = format!(
        "fan-out: one conversation, one sender; saturation = {} messages, {} in flight; fixed = {} msg/s for {} s; \
         median of {} round(s)\n\
         | target | receivers | connects/s | KiB/socket | deliveries/s (vs socket.io) | saturated p50 / p99 ms | \
         fixed-rate p50 / p99 ms | ack p50 / p99 ms | RSS + MiB sending | dup / missing |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        args.fanout_messages, args.fanout_window, args.fanout_rate, args.fanout_secs, args.fanout_rounds
    );
    for r in rows {
        let same = |s: &&Row| s.receivers == r.receivers && s.stalled == r.stalled;
        let sio = rows.iter().filter(same).find(|s| s.target == Target::SocketIo);
        let ceiling = rows.iter().filter(same).find(|s| s.target == Target::Null);
        out.push_str(&format_row(r, sio));
        if r.target != Target::Null && ceiling.is_some_and(|c| r.deliveries_per_sec >= 0.9 * c.deliveries_per_sec) {
            out.push_str(" (generator-limited)");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_parse_whole_or_not_at_all() {
        assert_eq!(parse_marker(b"12.345~rest"), Some((12, 345, 7)));
        assert_eq!(parse_marker(b"12.34"), None);
        assert_eq!(parse_marker(b"12"), None);
        assert_eq!(parse_marker(b"x"), Some((u64::MAX, 0, 0)));
    }

    #[test]
    fn rounds_make_one_row_of_medians() {
        let row = |p50: f64, p99: f64, missing: u64| Row {
            target: Target::Parley,
            receivers: 1000,
            stalled: 0,
            sending_growth_mib: p99,
            connects_per_sec: p50,
            kib_per_socket: p50,
            deliveries_per_sec: p99,
            sat_p50: p50,
            sat_p99: p99,
            fixed_p50: p50,
            fixed_p99: p99,
            ack_p50: p50,
            ack_p99: p99,
            duplicates: 1,
            missing,
            fixed_latency: vec![(50.0, p50)],
        };
        let m = median_row(&[row(5.0, 30.0, 0), row(4.0, 10.0, 2), row(6.0, 20.0, 0)]);
        assert_eq!((m.fixed_p50, m.fixed_p99, m.sat_p50, m.deliveries_per_sec), (5.0, 20.0, 5.0, 20.0));
        assert_eq!((m.duplicates, m.missing), (3, 2), "losses of any round show");
        assert_eq!(m.fixed_latency, vec![(50.0, 5.0)], "the curve of the median round");
        assert_eq!(median_row(&[row(4.0, 10.0, 0), row(6.0, 20.0, 0)]).fixed_p50, 6.0);
    }

    #[test]
    fn message_numbers_fall_in_phases() {
        let p = Plan { saturate: 10, fixed: 5 };
        assert_eq!((p.phase(0), p.phase(1), p.phase(10), p.phase(11), p.total()), (0, 1, 1, 2, 16));
    }
}
