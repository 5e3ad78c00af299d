//! One authenticated realtime connection, whatever its transport: transports (WebSocket, QUIC)
//! only turn bytes into [`Inbound`] items and [`ServerFrame`]s into bytes; every protocol rule is
//! here, once, split by concern:
//!
//! - [`handshake`]: authenticating with the upgrade or a first `auth` frame.
//! - [`frames`]: one function per client frame (`send`, `sync`, `read`, `typing`, `ping`).
//! - [`delivery`]: pushes from the hub through the connection's seq positions (duplicates
//!   dropped, gaps filled from the database), the hold until the first sync, catch-up after lag.
//! - [`sink`]: the transport's writing half; [`end`]: why a connection ended.
//!
//! This module is the thin runtime: it registers the connection, then drives one loop that
//! waits on the client, the hub, pending sends and the hold's deadline.
//!
//! Ordering: the connection keeps, per conversation, the highest seq it has sent
//! ([`Positions`]). An event is sent only if it is the next one; an older one is dropped as a
//! duplicate; a newer one means a gap, filled from the database first. So a client never sees a
//! gap or a reordering, whatever the hub, the LISTEN connection or the queue did.

pub mod delivery;
pub mod encoded;
pub mod end;
pub mod frames;
pub mod handshake;
pub mod lane;
pub mod sink;

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{Stream, StreamExt};
use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley_shared::ApiError;
use parley_shared::auth::AccessClaims;
use parley_shared::ids::{ConnectionId, ConversationId, Seq};
use parley_shared::model::Event;
use parley_shared::positions::{Hold, Positions};
use parley_shared::protocol::{ConnectionCode, Ready, RequestId, ServerFrame};
use tracing::warn;

use crate::fanout::hub::{Push, Registration};
use crate::fanout::mailbox::{self, Mailbox};
use crate::state::NodeState;
pub use encoded::Encoded;
pub use end::Disconnect;
pub use handshake::{authenticate, await_auth};
pub use lane::Lane;
pub use sink::{DirectWrite, FrameSink, SinkError};

/// How long live events wait for the client's first `sync`.
pub const HOLD_FOR: Duration = Duration::from_secs(1);
/// How long one write to the client may wait for the client to read: beyond it the connection
/// is closed as `too_slow` (the client resumes with a sync), so a client that never reads holds
/// neither a task nor kernel buffers for long. Generous for a phone on a bad network.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the goodbye (an `error` frame, then the close) may take on a connection.
const FINISH_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an unauthenticated connection may take to send `auth`.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most sends of one connection awaiting their commit; beyond it the connection stops reading.
const MAX_IN_FLIGHT: usize = 1024;
/// Most live pushes held before the first sync; beyond it they are re-read from the database.
const MAX_HELD: usize = 10_000;
/// Most pushes taken from the hub's queue before the connection flushes what they wrote.
const MAX_COALESCED: usize = 128;
/// Sustained frames per second one connection may send, and the burst it may send at once.
const FRAMES_PER_SEC: u32 = 500;
const FRAME_BURST: u32 = 2000;

/// What a transport hands the connection.
#[derive(Debug)]
pub enum Inbound {
    /// One frame's bytes (a WebSocket text/binary message, a QUIC length-prefixed frame).
    Frame(Vec<u8>),
    /// The peer sent a frame over the size limit; the transport cannot continue.
    TooLarge,
    /// The peer closed or the transport failed.
    Closed,
}

/// A send waiting for the group commit.
pub(crate) type PendingSend = Pin<Box<dyn Future<Output = (RequestId, Result<Event, ApiError>)> + Send>>;

/// A connection's state: who it is, what it has sent, what it holds back.
pub struct Connection<S: FrameSink> {
    pub(crate) node: Arc<NodeState>,
    pub(crate) claims: AccessClaims,
    pub(crate) sink: S,
    /// The seq positions, shared with the hub's direct writes ([`lane`]).
    pub(crate) lane: Arc<Lane>,
    /// The transport's direct writer (WebSocket): event frames are queued through it.
    pub(crate) direct: Option<Arc<dyn DirectWrite>>,
    /// Live pushes held until the first sync.
    pub(crate) hold: Hold<Push>,
    /// When the hold ends by itself if the client never syncs.
    pub(crate) hold_until: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the user's typing was last forwarded, per conversation.
    pub(crate) typing: std::collections::HashMap<ConversationId, Instant>,
    pub(crate) limiter: DefaultDirectRateLimiter,
    /// While set, frames are fed to the sink and flushed together later ([`Connection::uncork`]).
    corked: bool,
    /// Events sent since the counter was last updated (it is updated once per flush).
    events_sent: u64,
    /// Highest seq written per conversation since the last flush, for the delivered receipts.
    delivered_marks: Vec<(ConversationId, Seq)>,
    /// What the hub hands this connection.
    mailbox: Arc<Mailbox>,
    /// Pushes taken from the mailbox and not applied yet (empty between wake-ups).
    taken: VecDeque<Push>,
}

/// The clock of every connection's frame limiter. A new clock asks the CPU what timer it has
/// (CPUID, which a VM traps): once per node, not once per connection.
static CLOCK: std::sync::LazyLock<DefaultClock> = std::sync::LazyLock::new(DefaultClock::default);

/// Runs an authenticated connection until it ends.
pub async fn run<I, S>(node: Arc<NodeState>, claims: AccessClaims, transport: &'static str, mut inbound: I, sink: S)
where
    I: Stream<Item = Inbound> + Unpin + Send,
    S: FrameSink,
{
    let id = ConnectionId::new();
    // The setup runs boxed, and so does every await but the loop's: a task's memory is the
    // largest state it can be in, an idle connection spends its life in the loop, and what the
    // setup kept across its awaits (the start, the greeting) is freed once it is done.
    let Some((mut c, greeted)) = Box::pin(open(&node, id, claims, transport, sink)).await else { return };
    let end = match greeted {
        Err(e) => Disconnect::from_sink(&e),
        Ok(()) => c.run_loop(&mut inbound).await,
    };
    Box::pin(finish(&mut c.sink, &end)).await;
    metrics::counter!("parley_disconnects_total", "reason" => end.label()).increment(1);
    node.hub.unregister(id);
    node.presence.closed(id);
    metrics::gauge!("parley_connections", "transport" => transport).decrement(1.0);
}

/// Reads the user's start, registers the connection with the hub and greets the client;
/// `None` when the connection ended on the way (its goodbye said).
async fn open<S: FrameSink>(
    node: &Arc<NodeState>,
    id: ConnectionId,
    claims: AccessClaims,
    transport: &'static str,
    mut sink: S,
) -> Option<(Connection<S>, Result<(), SinkError>)> {
    let start = match node.starts.read(claims.user_id).await {
        Ok(s) => s,
        Err(e) => {
            warn!("connection start failed: {e:?}");
            finish(&mut sink, &Disconnect::Unavailable).await;
            return None;
        }
    };
    let mailbox = Arc::new(Mailbox::default());
    let memberships: Vec<(ConversationId, Seq)> =
        start.memberships.into_iter().map(|h| (h.conversation_id, h.last_seq)).collect();
    let mut positions = Positions::new();
    for (conv, seq) in &memberships {
        positions.follow(*conv, *seq);
    }
    let lane = Arc::new(Lane::new(positions));
    let direct = sink.direct();
    node.hub
        .register(Registration {
            conn: id,
            user: claims.user_id,
            session: claims.session_id,
            mailbox: mailbox.clone(),
            lane: lane.clone(),
            socket: direct.clone(),
            memberships,
            friends: start.friends,
        })
        .await;
    // A revocation heard between the token check and the registration would have evicted
    // nobody: look again now that the hub would evict this connection.
    if node.revocations.check(claims.session_id) == crate::revocations::Known::Revoked {
        node.hub.unregister(id);
        let end = Disconnect::Evicted(ConnectionCode::SessionRevoked, "this session was signed out".into());
        finish(&mut sink, &end).await;
        return None;
    }
    node.presence.opened(id, claims, transport);
    metrics::gauge!("parley_connections", "transport" => transport).increment(1.0);

    let quota = Quota::per_second(NonZeroU32::new(FRAMES_PER_SEC).expect("nonzero"))
        .allow_burst(NonZeroU32::new(FRAME_BURST).expect("nonzero"));
    let mut c = Connection {
        node: node.clone(),
        claims,
        sink,
        lane,
        direct,
        hold: Hold::new(MAX_HELD),
        // Boxed, and gone once the hold ends: a timer is a few hundred bytes an idle
        // connection would otherwise carry in its loop for ever.
        hold_until: Some(Box::pin(tokio::time::sleep(HOLD_FOR))),
        typing: Default::default(),
        limiter: RateLimiter::direct_with_clock(quota, CLOCK.clone()),
        corked: false,
        events_sent: 0,
        delivered_marks: Vec::new(),
        mailbox,
        taken: VecDeque::new(),
    };
    let ready = ServerFrame::Ready(Ready {
        user_id: claims.user_id,
        session_id: claims.session_id,
        node_id: node.node_id.clone(),
    });
    let snapshot = ServerFrame::PresenceSnapshot { online: start.online_friends };
    let greeted = async {
        c.send(&ready).await?;
        c.send(&snapshot).await
    }
    .await;
    Some((c, greeted))
}

/// Tells the client why (when there is something to tell) and closes, each step bounded: a
/// client that reads nothing must not keep the connection alive through its goodbye.
async fn finish<S: FrameSink>(sink: &mut S, end: &Disconnect) {
    if let Some(frame) = end.frame() {
        let _ = tokio::time::timeout(FINISH_TIMEOUT, sink.send(&frame)).await;
    }
    let (close, text) = end.close();
    let _ = tokio::time::timeout(FINISH_TIMEOUT, sink.close(close, text)).await;
}

impl<S: FrameSink> Connection<S> {
    /// Waits on the client, the hub, pending sends and the hold's deadline. Whatever handles a
    /// wake-up runs boxed: an idle connection's task holds only this loop's small state, not the
    /// largest of its handlers' (a `sync` or a catch-up needs kilobytes of future while it runs).
    async fn run_loop<I>(&mut self, inbound: &mut I) -> Disconnect
    where
        I: Stream<Item = Inbound> + Unpin + Send,
    {
        let mut pending: FuturesOrdered<PendingSend> = FuturesOrdered::new();
        let mailbox = self.mailbox.clone();
        loop {
            let result = tokio::select! {
                biased;
                () = mailbox.woken() => {
                    if let Some(evict) = mailbox.take_eviction() {
                        return Disconnect::Evicted(evict.code, evict.message);
                    }
                    Box::pin(self.on_wake()).await
                }
                Some((id, outcome)) = pending.next(), if !pending.is_empty() => Box::pin(self.reply(id, outcome)).await,
                () = hold_ends(&mut self.hold_until), if self.hold_until.is_some() => {
                    // The client never synced: deliver live events from the moment it connected.
                    Box::pin(self.release_hold(true)).await
                }
                item = inbound.next(), if pending.len() < MAX_IN_FLIGHT => match item {
                    Some(Inbound::Frame(bytes)) => Box::pin(frames::dispatch(self, &bytes, &mut pending)).await,
                    Some(Inbound::TooLarge) => return Disconnect::FrameTooLarge,
                    Some(Inbound::Closed) | None => return Disconnect::ClientClosed,
                },
            };
            if let Err(e) = result {
                return Disconnect::from_sink(&e);
            }
        }
    }

    /// Answers a send once its commit is done.
    async fn reply(&mut self, id: RequestId, outcome: Result<Event, ApiError>) -> Result<(), SinkError> {
        let frame = match outcome {
            Ok(ev) => ServerFrame::reply_ok(id, ev),
            Err(e) => {
                log_internal(&e);
                ServerFrame::reply_err(id, &e)
            }
        };
        self.send(&frame).await
    }

    /// The hub woke the connection: catch up from the database if pushes were dropped, then
    /// apply what is queued, [`MAX_COALESCED`] pushes per flush: under load, many frames per
    /// write.
    async fn on_wake(&mut self) -> Result<(), SinkError> {
        if self.mailbox.take_flush() {
            // The hub's direct writes left bytes queued: write them out, waiting for the client
            // at most WRITE_TIMEOUT.
            self.uncork().await?;
        }
        if self.mailbox.take_lagged() {
            tracing::debug!("connection lagged; catching up from the database");
            self.catch_up().await?;
        }
        self.mailbox.take_pushes(&mut self.taken);
        let mut result = Ok(());
        while !self.taken.is_empty() && result.is_ok() {
            self.corked = true;
            for _ in 0..MAX_COALESCED {
                let Some(push) = self.taken.pop_front() else { break };
                result = self.on_push(push).await;
                self.mailbox.applied(1);
                if result.is_err() {
                    break;
                }
            }
            self.corked = false;
            if result.is_ok() {
                result = self.uncork().await;
            }
        }
        mailbox::recycle(&mut self.taken);
        result
    }

    /// Writes one frame to the client, waiting at most [`WRITE_TIMEOUT`] for it to read.
    pub(crate) async fn send(&mut self, frame: &ServerFrame) -> Result<(), SinkError> {
        self.write(Encoded::new(frame)).await
    }

    /// Writes an encoded frame (flushed at once unless corked), waiting at most
    /// [`WRITE_TIMEOUT`] for the client to read.
    pub(crate) async fn write(&mut self, frame: Encoded) -> Result<(), SinkError> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.feed(frame)).await {
            Ok(fed) => fed?,
            Err(_) => return Err(SinkError::Stalled(WRITE_TIMEOUT)),
        }
        if self.corked { Ok(()) } else { self.uncork().await }
    }

    /// Flushes what was fed.
    async fn uncork(&mut self) -> Result<(), SinkError> {
        if self.events_sent > 0 {
            metrics::counter!("parley_events_sent_total").increment(std::mem::take(&mut self.events_sent));
        }
        self.flush_sink().await?;
        self.report_delivered();
        Ok(())
    }

    /// Writes out what the transport holds, waiting at most [`WRITE_TIMEOUT`] for the client.
    pub(crate) async fn flush_sink(&mut self) -> Result<(), SinkError> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.flush()).await {
            Ok(flushed) => flushed,
            Err(_) => Err(SinkError::Stalled(WRITE_TIMEOUT)),
        }
    }
}

/// When the hold's timer fires (never without one).
async fn hold_ends(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>) {
    match timer {
        Some(t) => t.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The cause of an internal error goes to the log, never to the client.
pub(crate) fn log_internal(e: &ApiError) {
    if let Some(d) = &e.detail {
        warn!("internal error: {d}");
    }
}
