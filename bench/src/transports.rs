//! WebSocket against QUIC, through the client SDK's `Connection` (the same client code over
//! either transport): cross-node delivery latency, sustained acknowledged sends, and the node's
//! memory per idle connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use parley_client::connection::{ConnectOptions, Connection, Endpoint, Incoming, QuicTls, Transport};
use parley_shared::ids::{ClientMsgId, ConversationId};
use parley_shared::model::MessageDraft;
use parley_shared::protocol::{ClientFrame, RequestId, ServerFrame};
use parley_tests::Node;
use tokio::sync::Mutex;

use crate::{Args, pair};

fn endpoint(node: &Node, t: Transport) -> Endpoint {
    match t {
        Transport::Ws => Endpoint::Ws { url: node.ws_url() },
        Transport::Quic => Endpoint::Quic { addr: node.quic_addr().to_string() },
    }
}

fn options(nodes: &[&Node]) -> Result<ConnectOptions> {
    let pins = nodes.iter().map(|n| n.cert_sha256()).collect::<Vec<_>>().join(",");
    Ok(ConnectOptions { quic_tls: QuicTls::from_hex(&pins)?, connect_timeout: Duration::from_secs(30) })
}

/// Connects and syncs with no cursors, so live events flow at once.
async fn open(node: &Node, t: Transport, token: &str, opts: &ConnectOptions) -> Result<Connection> {
    let mut c = Connection::open(&endpoint(node, t), token, opts).await?;
    let id = RequestId::Num(0);
    c.send(&ClientFrame::Sync { id: id.clone(), positions: Default::default() }).await?;
    loop {
        match c.recv().await.context("closed before synced")?? {
            Incoming::Frame(ServerFrame::Synced { .. }) => return Ok(c),
            _ => continue,
        }
    }
}

fn send_frame(k: u64, conv: ConversationId, cmid: String, text: &str) -> ClientFrame {
    ClientFrame::Send {
        id: RequestId::Num(k),
        conversation_id: conv,
        message: MessageDraft::text(ClientMsgId(cmid), text),
    }
}

/// p50, p99, max (ms) and count of send-on-`a` to receipt-on-`b` over transport `t`.
pub async fn latency(args: &Args, a: &Node, b: &Node, t: Transport) -> Result<(f64, f64, f64, u64)> {
    let opts = options(&[a, b])?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?));
    let tag = format!("lat{t:?}").to_lowercase();
    let mut senders = Vec::new();
    let mut readers = Vec::new();
    for i in 0..args.pairs {
        let (sa, sb, conv) = pair(a, &tag, i).await?;
        let tx = open(a, t, sa.token(), &opts).await?;
        let mut rx = open(b, t, sb.token(), &opts).await?;
        senders.push((tx, conv.parse::<ConversationId>()?));
        let (sent, hist) = (sent.clone(), hist.clone());
        readers.push(tokio::spawn(async move {
            while let Some(Ok(m)) = rx.recv().await {
                if let Incoming::Frame(ServerFrame::Event { event, .. }) = m
                    && let parley_shared::model::EventBody::Message(m) = &event.body
                    && let Some(t0) = sent.lock().await.remove(&m.client_msg_id.0)
                {
                    let _ = hist.lock().await.record((t0.elapsed().as_micros() as u64).max(1));
                }
            }
        }));
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    let deadline = Instant::now() + Duration::from_secs(args.latency_secs);
    let mut k = 0u64;
    while Instant::now() < deadline {
        tick.tick().await;
        let (c, conv) = &mut senders[k as usize % args.pairs];
        let cmid = format!("{tag}-{k}");
        sent.lock().await.insert(cmid.clone(), Instant::now());
        c.send(&send_frame(k, *conv, cmid, "latency probe")).await?;
        // Drain replies and own events so the sender's connection never backs up.
        while let Some(Some(_)) = futures_util::FutureExt::now_or_never(c.recv()) {}
        k += 1;
    }
    let settle = Instant::now() + Duration::from_secs(5);
    while !sent.lock().await.is_empty() && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lost = sent.lock().await.len();
    if lost > 0 {
        bail!("{t:?}: {lost} of {k} messages never arrived");
    }
    for r in readers {
        r.abort();
    }
    let h = hist.lock().await;
    let ms = |v: u64| v as f64 / 1000.0;
    Ok((ms(h.value_at_quantile(0.5)), ms(h.value_at_quantile(0.99)), ms(h.max()), h.len()))
}

/// Acknowledged sends per second from `args.clients` connections keeping `args.window` in flight.
pub async fn throughput(args: &Args, node: &Node, t: Transport) -> Result<f64> {
    let opts = options(&[node])?;
    let acked = Arc::new(AtomicU64::new(0));
    let tag = format!("{}{t:?}", node.id().replace('-', "")).to_lowercase();
    let mut conns = Vec::new();
    for i in 0..args.clients {
        let (sa, _sb, conv) = pair(node, &tag, i).await?;
        conns.push((open(node, t, sa.token(), &opts).await?, conv.parse::<ConversationId>()?));
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.throughput_secs);
    let mut tasks = Vec::new();
    for (ci, (mut c, conv)) in conns.into_iter().enumerate() {
        let (acked, window) = (acked.clone(), args.window);
        tasks.push(tokio::spawn(async move {
            let (mut next, mut in_flight) = (0u64, 0usize);
            loop {
                while in_flight < window && Instant::now() < deadline {
                    c.send(&send_frame(next, conv, format!("q{ci}-{next}"), "throughput")).await?;
                    next += 1;
                    in_flight += 1;
                }
                if in_flight == 0 {
                    return Ok::<_, anyhow::Error>(());
                }
                let m = tokio::time::timeout(Duration::from_secs(30), c.recv())
                    .await
                    .context("no reply within 30 s")?
                    .context("connection closed")??;
                if let Incoming::Frame(ServerFrame::Reply { ok, error, .. }) = m {
                    if !ok {
                        bail!("send failed: {error:?}");
                    }
                    in_flight -= 1;
                    if Instant::now() <= deadline {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(acked.load(Ordering::Relaxed) as f64 / deadline.duration_since(start).as_secs_f64())
}

/// A process's resident memory, KiB.
pub(crate) fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

/// CPU time (user + system, ms) a process has used, from `/proc/<pid>/stat` (10 ms ticks).
pub(crate) fn cpu_ms(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the command (which may hold spaces) start at state, field 3; utime is 14.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    f.iter().sum::<u64>() * 10
}

/// CPU time (ms) of every process of this machine named `comm` (all of Postgres's backends).
pub(crate) fn cpu_ms_named(comm: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm))
        .map(cpu_ms)
        .sum()
}

/// Idle connections one generator process holds: a process may have at most 20,000 open files
/// here, so larger counts are spread over several.
const IDLE_PER_PROCESS: usize = 9_000;

/// Connections one idle-connection process opens at once (QUIC handshakes beyond a few dozen at
/// once overflow the node's UDP receive buffer and back off for seconds).
const IDLE_CONNECT_CONCURRENCY: usize = 24;

/// What one idle-connection process opens (`parley-bench --idle-worker <json>`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct IdleWorker {
    /// `ws://…/v1/ws` or the QUIC address.
    pub endpoint: String,
    /// Whether `endpoint` is QUIC.
    pub quic: bool,
    /// Pinned certificate digests (hex, comma-separated) for QUIC.
    pub pins: String,
    /// The access token every connection uses.
    pub token: String,
    /// Connections to open.
    pub count: usize,
}

/// Runs one idle-connection process: opens its connections a few dozen at a time, prints `ready`, and
/// holds them until its standard input closes.
pub async fn idle_worker(spec: &str) -> Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncReadExt;
    let w: IdleWorker = serde_json::from_str(spec).context("--idle-worker spec")?;
    let opts = ConnectOptions { quic_tls: QuicTls::from_hex(&w.pins)?, connect_timeout: Duration::from_secs(60) };
    let ep =
        if w.quic { Endpoint::Quic { addr: w.endpoint.clone() } } else { Endpoint::Ws { url: w.endpoint.clone() } };
    let conns: Vec<Connection> = futures_util::stream::iter(0..w.count)
        .map(|_| Connection::open(&ep, &w.token, &opts))
        .buffer_unordered(IDLE_CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("opening idle connections: {e}"))?;
    println!("ready {}", conns.len());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    drop(conns);
    Ok(())
}

/// The node's resident memory per idle connection (KiB) with `n` connections of transport `t`,
/// opened by generator processes of at most [`IDLE_PER_PROCESS`] each.
pub async fn idle_memory(node: &Node, t: Transport, n: usize) -> Result<f64> {
    use tokio::io::AsyncBufReadExt;
    let opts = options(&[node])?;
    let pid = node.pid().context("node pid")?;
    let api = node.api();
    let user = api.signup(&format!("idle{t:?}").to_lowercase()).await?;
    // Warm the node up (pools, first-connection allocations) before the baseline reading.
    let warm = open(node, t, user.token(), &opts).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid)?;
    let (endpoint, quic) = match endpoint(node, t) {
        Endpoint::Ws { url } => (url, false),
        Endpoint::Quic { addr } => (addr, true),
    };
    let exe = std::env::current_exe()?;
    let mut workers = Vec::new();
    let mut left = n;
    while left > 0 {
        let count = left.min(IDLE_PER_PROCESS);
        left -= count;
        let spec = serde_json::to_string(&IdleWorker {
            endpoint: endpoint.clone(),
            quic,
            pins: node.cert_sha256().to_owned(),
            token: user.token().to_owned(),
            count,
        })?;
        let mut child = tokio::process::Command::new(&exe)
            .arg("--idle-worker")
            .arg(spec)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting an idle-connection process")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        workers.push((child, tokio::io::BufReader::new(stdout).lines()));
    }
    for (_, lines) in &mut workers {
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .context("an idle-connection process did not get ready")??
            .context("an idle-connection process ended")?;
        anyhow::ensure!(line.starts_with("ready"), "idle-connection process: {line}");
    }
    // Past the 1 s sync hold, so every session is in its steady idle state.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib(pid)?;
    drop(workers);
    drop(warm);
    Ok(after.saturating_sub(before) as f64 / n as f64)
}
