//! `parley-bench`: end-to-end figures against real `parley-node` processes on a private
//! Postgres cluster (fsync on, as in production). See the README's "Benchmarks" section.
//!
//! In one run it measures:
//! 1. delivery latency p50/p99 of a WebSocket send on node 1 to its receipt on node 2, at a fixed
//!    rate;
//! 2. sustained acknowledged sends per second over WebSocket with group commit, and the same
//!    load against a node committing one transaction per message (the baseline), as a ratio.
//!
//! `parley-bench --presence` runs the presence storm instead (`parley_tests::storm`).
//!
//! `parley-bench --big-group` runs the big-group phase instead (`parley_tests::big_group`).
//!
//! `parley-bench --search` runs the search phase (see `search.rs`); `--receipts` compares sends
//! with delivered receipts on and off.
//!
//! `parley-bench --media` runs the media phase (see `media.rs`).
//!
//! `parley-bench --faults` runs the faults phase (`parley_tests::faults`): ≥ 100,000 acknowledged
//! sends through node and Postgres faults, counted against the database.
//!
//! `parley-bench --fanout` runs the fan-out phase (see `fanout/`): one conversation, many
//! receiving sockets, the same generator against a do-nothing server, Parley, Socket.IO and `ws`.
//!
//! `parley-bench --reconnect` runs the reconnect phase (see `reconnect.rs`): a node SIGKILLed
//! under thousands of clients, restarted, and every client back and synced.
//!
//! `parley-bench --edge` runs the edge phase instead (see `edge.rs`): the worker's bundle size,
//! the cold start of `wrangler dev`, argon2id inside workerd, and login/send latency through the
//! edge against the same routes on a node.

mod edge;
mod fanout;
mod media;
mod node_metrics;
mod reconnect;
mod search;
mod transports;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley_tests::{Node, NodeOptions, Session, TestDb};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Parley end-to-end benchmarks")]
pub(crate) struct Args {
    /// Messages per second in the latency phase (spread over all pairs).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Sender/receiver pairs in the latency phase.
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// WebSocket clients in the throughput phase.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Sends each throughput client keeps in flight.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds of each throughput phase.
    #[arg(long, default_value_t = 10)]
    throughput_secs: u64,
    /// Concurrent transactions of the one-transaction-per-message baseline.
    #[arg(long, default_value_t = 16)]
    baseline_workers: usize,
    /// Run the edge phase only: the worker under `wrangler dev` against a node on one database
    /// (needs `scripts/ensure-deps --edge` and `scripts/build-edge`).
    #[arg(long)]
    edge: bool,
    /// Requests per route and target in the edge phase.
    #[arg(long, default_value_t = 200)]
    edge_requests: usize,
    /// Logins per target in the edge phase (each is an argon2id verification).
    #[arg(long, default_value_t = 50)]
    edge_logins: usize,
    /// Run the transport phase only: WebSocket against QUIC (latency, throughput, and the node's
    /// memory per idle connection).
    #[arg(long)]
    transports: bool,
    /// Idle connections per transport in the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// Run the presence phase only: a storm of connected users with friends, one node
    /// SIGTERMed and its clients moving to the other.
    #[arg(long)]
    presence: bool,
    /// Users in the presence phase.
    #[arg(long, default_value_t = 2000)]
    presence_users: usize,
    /// Friends per user in the presence phase (even).
    #[arg(long, default_value_t = 20)]
    presence_friends: usize,
    /// Run the search phase only: search latency over many stored messages.
    #[arg(long)]
    search: bool,
    /// Messages stored for the search phase.
    #[arg(long, default_value_t = 1_000_000)]
    search_messages: usize,
    /// Queries per kind in the search phase.
    #[arg(long, default_value_t = 100)]
    search_queries: usize,
    /// Run the media phase only: presigning (rusty-s3 against the AWS SDK), thumbnails, and
    /// upload → thumbnail through a node and moto's S3 server.
    #[arg(long)]
    media: bool,
    /// URLs presigned per signer in the media phase.
    #[arg(long, default_value_t = 20_000)]
    media_presigns: usize,
    /// Images uploaded in the media phase.
    #[arg(long, default_value_t = 50)]
    media_uploads: usize,
    /// Run the receipts phase only: sends with delivered receipts on against off.
    #[arg(long)]
    receipts: bool,
    /// Run the big-group phase only: one group, most members offline, many connected across
    /// two nodes; send → last receipt, deliveries per second, database work per send.
    #[arg(long)]
    big_group: bool,
    /// Members of the big group.
    #[arg(long, default_value_t = 10_000)]
    group_members: usize,
    /// Of them, connected (half to each node).
    #[arg(long, default_value_t = 2000)]
    group_connected: usize,
    /// Timed sends, one at a time.
    #[arg(long, default_value_t = 200)]
    group_sends: usize,
    /// Sends of the burst (all in flight at once).
    #[arg(long, default_value_t = 200)]
    group_burst: usize,
    /// Run the faults phase only: acknowledged sends over WebSocket and QUIC across three nodes
    /// through a SIGKILL, a SIGSTOP, killed LISTEN connections, a Postgres restart and Postgres
    /// down, with clients that never read (`parley_tests::faults`).
    #[arg(long)]
    faults: bool,
    /// Groups in the faults phase (6 sending members each).
    #[arg(long, default_value_t = 20)]
    faults_groups: usize,
    /// Messages each of the faults phase's clients sends at least (they keep sending until every
    /// fault has run): 20 groups x 6 members x 850 = 102,000.
    #[arg(long, default_value_t = 850)]
    faults_min_sends: usize,
    /// Seconds of normal load around each fault.
    #[arg(long, default_value_t = 3)]
    faults_calm_secs: u64,
    /// Run the fan-out phase only: one conversation, many receiving sockets, one sender, against
    /// a do-nothing server, Parley, Socket.IO 4.8 and `ws` in turn (needs `npm ci --prefix
    /// bench/peers`).
    #[arg(long)]
    fanout: bool,
    /// Receiving sockets in the fan-out phase, a comma-separated list (each count is one run of
    /// every target).
    #[arg(long, default_value = "1000")]
    fanout_receivers: String,
    /// Messages of the fan-out saturation phase.
    #[arg(long, default_value_t = 300)]
    fanout_messages: u64,
    /// Sends the fan-out sender keeps in flight at saturation.
    #[arg(long, default_value_t = 16)]
    fanout_window: usize,
    /// Messages per second of the fan-out fixed-rate phase.
    #[arg(long, default_value_t = 50)]
    fanout_rate: u64,
    /// Seconds of the fan-out fixed-rate phase.
    #[arg(long, default_value_t = 5)]
    fanout_secs: u64,
    /// The fan-out phase's servers, in order (a comma-separated list; ratios need `socketio`).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "null,parley,socketio,ws")]
    fanout_targets: Vec<fanout::Target>,
    /// Rounds of the fan-out phase: every target runs once per round, in turn, and the table
    /// gives each figure's median over the rounds (a run-to-run drift of the machine then
    /// falls on every target alike, not on whichever ran during it).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    fanout_rounds: u32,
    /// Clients that connect to the fan-out conversation and never read; with it, every receiver
    /// count runs without and then with them.
    #[arg(long, default_value_t = 0)]
    fanout_stalled: usize,
    /// Receivers connecting at once in the fan-out phase.
    #[arg(long, default_value_t = 200)]
    fanout_connect_concurrency: usize,
    /// Writes the fan-out run's SVG charts (latency distributions, deliveries/s against
    /// receivers) into this directory.
    #[arg(long)]
    fanout_charts: Option<std::path::PathBuf>,
    /// Internal: serve the fan-out phase's do-nothing room server in this process.
    #[arg(long, hide = true)]
    fanout_null_server: bool,
    /// Internal: run as one of the idle-connection processes of the memory measurement.
    #[arg(long, hide = true)]
    idle_worker: Option<String>,
    /// Run the reconnect phase only: clients on a node that is SIGKILLed and restarted, each
    /// coming back with the SDK's backoff and syncing what it missed.
    #[arg(long)]
    reconnect: bool,
    /// Clients of the reconnect phase.
    #[arg(long, default_value_t = 10_000)]
    reconnect_clients: usize,
    /// Members of each group of the reconnect phase (each group has its own owner, who sends).
    #[arg(long, default_value_t = 1_000)]
    reconnect_group_size: usize,
    /// Messages sent while the node is down, which every client must get on its sync.
    #[arg(long, default_value_t = 10)]
    reconnect_missed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.fanout_null_server {
        return fanout::null_server();
    }
    if let Some(spec) = &args.idle_worker {
        parley_tests::install_crypto_provider();
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(transports::idle_worker(spec));
    }
    // Benchmark the nodes built alongside this binary (release, when run as documented).
    if std::env::var_os("PARLEY_NODE_BIN").is_none() {
        let sibling = std::env::current_exe()?.with_file_name("parley-node");
        if sibling.exists() {
            // SAFETY: single-threaded here; the runtime starts below.
            unsafe { std::env::set_var("PARLEY_NODE_BIN", &sibling) };
        }
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("PARLEY_QUIET_NODE_LOGS", "1") };
    // The test harness's private cluster trades durability for speed unless told otherwise;
    // a benchmark of acknowledged sends measures what production pays: fsync on. (Before this
    // line the bench ran with fsync off, whatever the README said.)
    if std::env::var_os("PARLEY_PG_NOSYNC").is_none() {
        // SAFETY: as above.
        unsafe { std::env::set_var("PARLEY_PG_NOSYNC", "0") };
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench(args))
}

async fn bench(args: Args) -> Result<()> {
    println!("parley-bench: {}", machine());
    if args.edge {
        return edge::bench(&args).await;
    }
    if args.fanout {
        return fanout::bench(&args).await;
    }
    if args.reconnect {
        return reconnect::bench(&args).await;
    }
    if args.transports {
        return transports_phase(&args).await;
    }
    if args.big_group {
        return big_group_phase(&args).await;
    }
    if args.search {
        return search::bench(&args).await;
    }
    if args.media {
        return media::bench(&args).await;
    }
    if args.receipts {
        return receipts_phase(&args).await;
    }
    if args.faults {
        let mut env = parley_tests::TestEnv::start_with(parley_tests::faults::FaultsConfig::node_options()).await?;
        let cfg = parley_tests::faults::FaultsConfig {
            groups: args.faults_groups,
            members: 6,
            min_sends: args.faults_min_sends,
            calm: Duration::from_secs(args.faults_calm_secs),
            outage: Duration::from_secs(4),
        };
        let r = parley_tests::faults::faults_under_load(&mut env, &cfg).await?;
        println!("faults\n{}", r.table());
        return Ok(());
    }
    if args.presence {
        let mut env = parley_tests::TestEnv::start_with(vec![bench_node("bench1"), bench_node("bench2")]).await?;
        let r = parley_tests::storm::presence_storm(&mut env, args.presence_users, args.presence_friends).await?;
        println!(
            "presence  {} users x {} friends connect to node 1: all online in {:.2} s, {} presence NOTIFYs carrying \
             {} changes, {} presence frames to friends; node 1 SIGTERM, all moved to node 2: all reconnected {:.2} s \
             after the SIGTERM; afterwards {} presence frames to friends, {} presence NOTIFYs ({} changes), {} NOTIFYs in all",
            r.users,
            r.friends_each,
            r.connect_all.as_secs_f64(),
            r.connect_notifies,
            r.connect_changes,
            r.connect_frames,
            r.reconnect_all.as_secs_f64(),
            r.presence_frames,
            r.presence_notifies,
            r.presence_changes,
            r.all_notifies
        );
        return Ok(());
    }
    let db = TestDb::create().await.context("creating the bench database")?;

    // Phase 1: cross-node latency.
    let node1 = Node::start_with(&db, bench_node("bench1")).await?;
    let node2 = Node::start_with(&db, bench_node("bench2")).await?;
    let (p50, p99, max, n) = latency(&args, &node1, &node2).await?;
    // Where the time went: the committing node's commit and both nodes' hand-outs.
    node_metrics::print("node 1", &node1.api()).await?;
    node_metrics::print("node 2", &node2.api()).await?;
    println!(
        "latency  node1 ws send -> node2 ws receive at {} msg/s, {} pairs, {} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({n} messages)",
        args.rate, args.pairs, args.latency_secs, p50, p99, max
    );
    drop(node1);
    drop(node2);

    // Phase 2: sustained acknowledged sends, group commit vs one transaction per message.
    let grouped = Node::start_with(&db, bench_node("bench-group")).await?;
    let g = throughput(&args, &grouped).await?;
    drop(grouped);
    let mut opts = bench_node("bench-single").max_batch(1);
    opts.extra_args = vec!["--commit-workers".into(), args.baseline_workers.to_string()];
    let single = Node::start_with(&db, opts).await?;
    let s = throughput(&args, &single).await?;
    drop(single);
    println!(
        "throughput  {} ws clients x {} in flight, {} s each: group commit {:.0} sends/s (ack p50 {:.2} ms, p99 {:.2} ms), \
         one tx per message ({} workers) {:.0} sends/s (ack p50 {:.2} ms, p99 {:.2} ms), ratio {:.2}x",
        args.clients,
        args.window,
        args.throughput_secs,
        g.rate,
        g.ack_p50,
        g.ack_p99,
        args.baseline_workers,
        s.rate,
        s.ack_p50,
        s.ack_p99,
        g.rate / s.rate.max(1.0)
    );
    Ok(())
}

/// WebSocket against QUIC through the client SDK, in one run.
async fn transports_phase(args: &Args) -> Result<()> {
    use parley_client::connection::Transport;
    let db = TestDb::create().await.context("creating the bench database")?;
    let node1 = Node::start_with(&db, bench_node("bench1")).await?;
    let node2 = Node::start_with(&db, bench_node("bench2")).await?;
    for t in [Transport::Ws, Transport::Quic] {
        let (p50, p99, max, n) = transports::latency(args, &node1, &node2, t).await?;
        println!(
            "latency {t:?}  node1 send -> node2 receive at {} msg/s, {} pairs, {} s: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({n} messages)",
            args.rate, args.pairs, args.latency_secs
        );
    }
    drop(node1);
    drop(node2);
    let mut rates = Vec::new();
    for t in [Transport::Ws, Transport::Quic] {
        let node = Node::start_with(&db, bench_node(&format!("bench-{t:?}").to_lowercase())).await?;
        let r = transports::throughput(args, &node, t).await?;
        println!(
            "throughput {t:?}  {} clients x {} in flight, {} s, group commit: {r:.0} sends/s",
            args.clients, args.window, args.throughput_secs
        );
        rates.push(r);
    }
    println!("throughput ratio QUIC / WebSocket: {:.2}", rates[1] / rates[0].max(1.0));
    for t in [Transport::Ws, Transport::Quic] {
        let node = Node::start_with(&db, bench_node(&format!("bench-idle-{t:?}").to_lowercase())).await?;
        let kib = transports::idle_memory(&node, t, args.idle_connections).await?;
        println!("memory {t:?}  node RSS per idle connection at {} connections: {kib:.1} KiB", args.idle_connections);
    }
    Ok(())
}

/// A node for the bench: the per-user send limit is set far above what the bench's clients send
/// (its bookkeeping still runs on every send), so the figures measure the node, not the limit.
pub(crate) fn bench_node(id: &str) -> NodeOptions {
    let mut o = NodeOptions::new(id);
    o.env.push(("PARLEY_USER_SEND_RATE".into(), "1000000".into()));
    o.env.push(("PARLEY_USER_SEND_BURST".into(), "1000000".into()));
    // The node's tokio worker threads (tokio reads TOKIO_WORKER_THREADS), to compare.
    if let Ok(n) = std::env::var("PARLEY_BENCH_NODE_THREADS") {
        o.env.push(("TOKIO_WORKER_THREADS".into(), n));
    }
    o
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cpus} cpus ({model}), {mem_gib:.0} GiB")
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(node: &Node, token: &str) -> Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}?token={token}", node.ws_url())).await?;
    // ready, then an empty sync so live events flow at once.
    loop {
        let m = ws.next().await.context("closed before ready")??;
        if let Message::Text(t) = m
            && serde_json::from_str::<Value>(&t)?["type"] == "ready"
        {
            break;
        }
    }
    ws.send(Message::text(json!({"type":"sync","id":0,"cursors":{}}).to_string())).await?;
    loop {
        let m = ws.next().await.context("closed before synced")??;
        if let Message::Text(t) = m
            && serde_json::from_str::<Value>(&t)?["type"] == "synced"
        {
            return Ok(ws);
        }
    }
}

pub(crate) async fn pair(node: &Node, tag: &str, i: usize) -> Result<(Session, Session, String)> {
    let api = node.api();
    let a = api.signup(&format!("{tag}a{i}")).await?;
    let b = api.signup(&format!("{tag}b{i}")).await?;
    let conv = api.direct_id(&a, &b).await?;
    Ok((a, b, conv))
}

/// Cross-node latency. The generator shares the two cores with both nodes and Postgres, so it
/// does as little per message as it can: each probe's text is the fan-out phase's marker (its
/// number and send time), which a receiver finds in the frame's bytes (no JSON parsing, no
/// shared lock) before recording into its own histogram.
async fn latency(args: &Args, node1: &Node, node2: &Node) -> Result<(f64, f64, f64, u64)> {
    let cap = (args.rate * (args.latency_secs + 1)).max(1) as usize;
    let seen: Arc<Vec<AtomicBool>> = Arc::new((0..cap).map(|_| AtomicBool::new(false)).collect());
    let delivered = Arc::new(AtomicU64::new(0));
    let duplicates = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let mut hists = Vec::new();
    for i in 0..args.pairs {
        let (a, b, conv) = pair(node1, "lat", i).await?;
        senders.push((connect(node1, a.token()).await?, conv));
        let mut rx = connect(node2, b.token()).await?;
        let hist = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?));
        hists.push(hist.clone());
        let (seen, delivered, duplicates) = (seen.clone(), delivered.clone(), duplicates.clone());
        receivers.push(tokio::spawn(async move {
            let finder = memchr::memmem::Finder::new(b"~PLY");
            while let Some(Ok(m)) = rx.next().await {
                let Message::Text(t) = m else { continue };
                let Some(at) = finder.find(t.as_bytes()) else { continue };
                let Some((k, sent_us, _)) = fanout::parse_marker(&t.as_bytes()[at + 4..]) else { continue };
                let Some(slot) = seen.get(k as usize) else { continue };
                if slot.swap(true, Ordering::AcqRel) {
                    duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let us = fanout::now_us().saturating_sub(sent_us);
                let _ = hist.lock().expect("one writer").record(us.max(1));
                delivered.fetch_add(1, Ordering::Release);
            }
        }));
    }
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let deadline = Instant::now() + Duration::from_secs(args.latency_secs);
    let mut tick = tokio::time::interval(interval);
    let mut total = 0usize;
    while Instant::now() < deadline && total < cap {
        tick.tick().await;
        let k = total;
        let (ws, conv) = &mut senders[k % args.pairs];
        let frame = format!(
            r#"{{"type":"send","id":{k},"conversation_id":"{conv}","client_msg_id":"lat-{k}","text":"latency probe ~PLY{k}.{}~"}}"#,
            fanout::now_us()
        );
        ws.send(Message::text(frame)).await?;
        // Drain replies and own events so the sender's socket never backs up.
        while let Some(Some(Ok(_))) = futures_util::FutureExt::now_or_never(ws.next()) {}
        total += 1;
    }
    // Let the last messages arrive.
    let settle = Instant::now() + Duration::from_secs(5);
    while delivered.load(Ordering::Acquire) < total as u64 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for r in receivers {
        r.abort();
    }
    let got = delivered.load(Ordering::Acquire);
    if got < total as u64 {
        bail!("{} of {total} messages never arrived on node 2", total as u64 - got);
    }
    let dup = duplicates.load(Ordering::Acquire);
    if dup > 0 {
        bail!("{dup} of {total} messages arrived twice on node 2");
    }
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for part in &hists {
        h.add(&*part.lock().expect("receivers stopped"))?;
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Ok((ms(h.value_at_quantile(0.5)), ms(h.value_at_quantile(0.99)), ms(h.max()), h.len()))
}

async fn throughput(args: &Args, node: &Node) -> Result<Throughput> {
    throughput_to(args, node, false).await
}

/// What a throughput phase measured.
struct Throughput {
    /// Acknowledged sends per second.
    rate: f64,
    /// Acknowledgement latency p50 and p99, ms (send written → its reply read).
    ack_p50: f64,
    ack_p99: f64,
}

/// Acknowledged sends per second, and how long acknowledgements took; with `receivers`, each
/// pair's other member is connected too and reads everything (so deliveries, and their
/// receipts, happen).
async fn throughput_to(args: &Args, node: &Node, receivers: bool) -> Result<Throughput> {
    let acked = Arc::new(AtomicU64::new(0));
    let acks = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?));
    let tag = node.id().replace('-', "");
    let mut sockets = Vec::new();
    let mut readers = Vec::new();
    for i in 0..args.clients {
        let (a, b, conv) = pair(node, &tag, i).await?;
        sockets.push((connect(node, a.token()).await?, conv));
        if receivers {
            let mut rx = connect(node, b.token()).await?;
            readers.push(tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} }));
        }
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.throughput_secs);
    let mut tasks = Vec::new();
    for (c, (ws, conv)) in sockets.into_iter().enumerate() {
        let (acked, acks) = (acked.clone(), acks.clone());
        let window = args.window;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let mut next = 0u64;
            // Send times of the sends in flight: one socket's replies come in send order.
            let mut in_flight: std::collections::VecDeque<Instant> = Default::default();
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            loop {
                while in_flight.len() < window && Instant::now() < deadline {
                    let frame = json!({"type":"send","id":next,"conversation_id":conv,
                                       "client_msg_id":format!("t{c}-{next}"),"text":"throughput"});
                    tx.send(Message::text(frame.to_string())).await?;
                    next += 1;
                    in_flight.push_back(Instant::now());
                }
                if in_flight.is_empty() {
                    acks.lock().await.add(&hist)?;
                    return Ok::<_, anyhow::Error>(());
                }
                let m = tokio::time::timeout(Duration::from_secs(30), rx.next())
                    .await
                    .context("no reply within 30 s")?
                    .context("socket closed")??;
                let Message::Text(t) = m else { continue };
                let v: Value = serde_json::from_str(&t)?;
                if v["type"] == "reply" {
                    if v["ok"] != true {
                        bail!("send failed: {v}");
                    }
                    let sent = in_flight.pop_front().context("a reply to nothing")?;
                    if Instant::now() <= deadline {
                        acked.fetch_add(1, Ordering::Relaxed);
                        hist.saturating_record(sent.elapsed().as_micros().max(1) as u64);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    for r in readers {
        r.abort();
    }
    let secs = deadline.duration_since(start).as_secs_f64();
    let h = acks.lock().await;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(Throughput { rate: acked.load(Ordering::Relaxed) as f64 / secs, ack_p50: ms(0.5), ack_p99: ms(0.99) })
}

/// Sends with delivered receipts on, against the same load with them off (every message is
/// received, so with receipts on every delivery is recorded and announced).
async fn receipts_phase(args: &Args) -> Result<()> {
    let db = TestDb::create().await.context("creating the bench database")?;
    let mut rates = Vec::new();
    for on in [true, false] {
        let mut opts = bench_node(if on { "bench-receipts-on" } else { "bench-receipts-off" });
        opts.env.push(("PARLEY_DELIVERY_RECEIPTS".into(), on.to_string()));
        let node = Node::start_with(&db, opts).await?;
        let r = throughput_to(args, &node, true).await?.rate;
        println!(
            "receipts {}  {} ws senders x {} in flight, each message received by a connected member, {} s: {r:.0} sends/s",
            if on { "on " } else { "off" },
            args.clients,
            args.window,
            args.throughput_secs
        );
        rates.push(r);
    }
    println!("receipts  on / off: {:.2}", rates[0] / rates[1].max(1.0));
    Ok(())
}

/// One 10,000-member group with 2,000 members connected across two nodes.
async fn big_group_phase(args: &Args) -> Result<()> {
    parley_tests::db_work::enable();
    let env = parley_tests::TestEnv::start_with(vec![bench_node("bench1"), bench_node("bench2")]).await?;
    let r = parley_tests::big_group::big_group(
        &env,
        args.group_members,
        args.group_connected,
        args.group_sends,
        args.group_burst,
    )
    .await?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "big-group  {} members ({} added over REST, 500 per call, in {:.2} s), {} connected over WebSocket across 2 nodes",
        r.members,
        r.members - 1,
        r.add_all.as_secs_f64(),
        r.connected
    );
    println!(
        "big-group  one send -> last of {} receipts, {} sends one at a time: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.connected,
        r.sends,
        ms(r.p50),
        ms(r.p99),
        ms(r.max)
    );
    println!(
        "big-group  burst of {} sends in flight: every receipt in {:.2} s = {:.0} deliveries/s",
        r.burst,
        r.burst_time.as_secs_f64(),
        r.deliveries_per_sec
    );
    match r.db {
        Some(db) => {
            println!(
                "big-group  database work per send (pg_stat_statements, all connections): {:.1} statements, {:.1} rows, {:.1} buffer pages",
                db.statements, db.rows, db.blocks
            );
            for (calls, rows, q) in db.top {
                println!("big-group    {calls:>6.2} calls {rows:>8.2} rows  {q}");
            }
            for (pages, q) in db.heaviest {
                println!("big-group    {pages:>8.1} pages  {q}");
            }
        }
        None => println!("big-group  database work: pg_stat_statements is not available on this server"),
    }
    Ok(())
}
