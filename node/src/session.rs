//! The transport-neutral session core: one authenticated realtime connection. Transports
//! (WebSocket, QUIC) only turn bytes into [`Inbound`] items and [`ServerFrame`]s into bytes; every
//! protocol rule is here, once.
//!
//! Ordering: the session keeps, per conversation, the highest seq it has sent (its cursor). An
//! event is sent only if it is the next one; an older one is dropped as a duplicate; a newer one
//! means a gap, which the session fills from the database first. So a client never sees a gap or
//! a reordering, whatever the hub, the LISTEN connection or the queue did.
//!
//! Hold: after `ready`, live events are held until the client's first `sync` (or for
//! [`HOLD_FOR`] if it never syncs), so replayed and live events never interleave.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{Stream, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use parley_shared::ApiError;
use parley_shared::api::conversations::mark_read;
use parley_shared::api::messages::{SendBody, validate_send};
use parley_shared::auth::AccessClaims;
use parley_shared::error::ErrorCode;
use parley_shared::ids::{ConversationId, Seq};
use parley_shared::model::Event;
use parley_shared::protocol::{ClientFrame, RequestId, SYNC_REPLAY_LIMIT, ServerFrame, parse_client_frame};
use parley_shared::store::notify::{self, Notice};
use parley_shared::store::{conversations, events, sessions};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::db;
use crate::fanout::hub::{Registration, SESSION_QUEUE, SessionMsg, SessionSignal};
use crate::presence;
use crate::state::NodeState;

/// How long live events wait for the client's first `sync`.
pub const HOLD_FOR: Duration = Duration::from_secs(1);
/// How long an unauthenticated connection may take to send `auth`.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most sends of one connection awaiting their commit; beyond it the session stops reading.
const MAX_IN_FLIGHT: usize = 1024;
/// Most live events held before the first sync; beyond it they are re-read from the database.
const MAX_HELD: usize = 10_000;
/// Sustained frames per second one connection may send, and the burst it may send at once.
const FRAMES_PER_SEC: u32 = 500;
const FRAME_BURST: u32 = 2000;
/// A typing indicator is forwarded at most this often per conversation and connection.
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// What a transport hands the session.
#[derive(Debug)]
pub enum Inbound {
    /// One frame's bytes (a WebSocket text/binary message, a QUIC length-prefixed frame).
    Frame(Vec<u8>),
    /// The peer sent a frame over the size limit; the transport cannot continue.
    TooLarge,
    /// The peer closed or the transport failed.
    Closed,
}

/// How the node ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// Normal end.
    Normal,
    /// A frame was over the limit (WebSocket 1009).
    TooLarge,
    /// Authentication failed or the session was revoked (WebSocket 1008).
    Policy,
    /// The node is shutting down (WebSocket 1001).
    GoingAway,
    /// The client could not keep up (WebSocket 1013).
    TryAgainLater,
}

/// The writing half of a transport.
pub trait FrameSink: Send {
    /// Writes one frame.
    fn send(&mut self, frame: &ServerFrame) -> impl Future<Output = Result<(), ()>> + Send;
    /// Closes the connection.
    fn close(&mut self, kind: CloseKind, reason: &str) -> impl Future<Output = ()> + Send;
}

/// Verifies a token the way every transport must: signature and expiry locally, then that its
/// session has not been revoked (one indexed lookup per connection, not per frame).
pub async fn authenticate(state: &NodeState, token: &str) -> Result<AccessClaims, ApiError> {
    let claims = state.verifier.verify(token)?;
    let db = db::get(&state.pool).await?;
    if !sessions::is_active(&*db, claims.session_id).await? {
        return Err(ApiError::unauthorized("this session was signed out"));
    }
    Ok(claims)
}

/// For transports whose client authenticates with a first `auth` frame: waits for it.
pub async fn await_auth<I, S>(state: &NodeState, inbound: &mut I, sink: &mut S) -> Option<AccessClaims>
where
    I: Stream<Item = Inbound> + Unpin,
    S: FrameSink,
{
    let first = tokio::time::timeout(AUTH_TIMEOUT, inbound.next()).await;
    let err = match first {
        Ok(Some(Inbound::Frame(bytes))) => match parse_client_frame(&bytes) {
            Ok(ClientFrame::Auth { token }) => match authenticate(state, &token).await {
                Ok(c) => return Some(c),
                Err(e) => e,
            },
            Ok(_) => ApiError::unauthorized("the first frame must be auth"),
            Err(e) => ApiError::from(e),
        },
        Ok(Some(Inbound::TooLarge)) => {
            sink.close(CloseKind::TooLarge, "frame too large").await;
            return None;
        }
        Ok(Some(Inbound::Closed) | None) => return None,
        Err(_) => ApiError::unauthorized("no auth frame in time"),
    };
    let code = if err.code == ErrorCode::Unauthorized { "unauthorized" } else { "invalid_request" };
    let _ = sink.send(&ServerFrame::error(code, err.message.clone())).await;
    sink.close(CloseKind::Policy, &err.message).await;
    None
}

type PendingSend = Pin<Box<dyn Future<Output = (RequestId, Result<Event, ApiError>)> + Send>>;

struct Session<S: FrameSink> {
    state: Arc<NodeState>,
    claims: AccessClaims,
    sink: S,
    cursors: HashMap<ConversationId, Seq>,
    holding: Option<Instant>,
    held: VecDeque<SessionMsg>,
    held_overflow: bool,
    typing: HashMap<ConversationId, Instant>,
    limiter: DefaultDirectRateLimiter,
}

/// Why a session loop ended.
enum End {
    Closed,
    Close(CloseKind, String),
    SinkFailed,
}

/// Runs an authenticated connection until it ends.
pub async fn run<I, S>(state: Arc<NodeState>, claims: AccessClaims, transport: &'static str, mut inbound: I, sink: S)
where
    I: Stream<Item = Inbound> + Unpin + Send,
    S: FrameSink,
{
    let conn = parley_shared::ids::new_uuid_v7();
    let memberships = match db::get(&state.pool).await {
        Ok(db) => conversations::memberships(&*db, claims.user_id).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let mut sink = sink;
    let memberships = match memberships {
        Ok(m) => m,
        Err(e) => {
            warn!("session start failed: {e:?}");
            let _ = sink.send(&ServerFrame::error("unavailable", "try again shortly")).await;
            sink.close(CloseKind::TryAgainLater, "unavailable").await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::channel(SESSION_QUEUE);
    let signal = Arc::new(SessionSignal::default());
    state
        .hub
        .register(Registration {
            conn,
            user: claims.user_id,
            session: claims.session_id,
            tx,
            signal: signal.clone(),
            memberships: memberships.clone(),
        })
        .await;
    presence::connected(&state.pool, &state.node_id.0, conn, claims.session_id, claims.user_id, transport);
    metrics::gauge!("parley_connections", "transport" => transport).increment(1.0);

    let quota = Quota::per_second(NonZeroU32::new(FRAMES_PER_SEC).expect("nonzero"))
        .allow_burst(NonZeroU32::new(FRAME_BURST).expect("nonzero"));
    let mut s = Session {
        state: state.clone(),
        claims,
        sink,
        cursors: memberships.into_iter().collect(),
        holding: Some(Instant::now() + HOLD_FOR),
        held: VecDeque::new(),
        held_overflow: false,
        typing: HashMap::new(),
        limiter: RateLimiter::direct(quota),
    };
    let ready =
        ServerFrame::Ready { user_id: claims.user_id, session_id: claims.session_id, node_id: state.node_id.clone() };
    let end = if s.sink.send(&ready).await.is_err() {
        End::SinkFailed
    } else {
        s.run_loop(&mut inbound, &mut rx, &signal).await
    };
    match end {
        End::Close(kind, reason) => s.sink.close(kind, &reason).await,
        End::Closed | End::SinkFailed => s.sink.close(CloseKind::Normal, "").await,
    }
    state.hub.unregister(conn);
    presence::disconnected(&state.pool, &state.node_id.0, conn);
    metrics::gauge!("parley_connections", "transport" => transport).decrement(1.0);
}

impl<S: FrameSink> Session<S> {
    async fn run_loop<I>(&mut self, inbound: &mut I, rx: &mut mpsc::Receiver<SessionMsg>, signal: &SessionSignal) -> End
    where
        I: Stream<Item = Inbound> + Unpin + Send,
    {
        let mut pending: FuturesOrdered<PendingSend> = FuturesOrdered::new();
        loop {
            let hold_deadline = self.holding.map(tokio::time::Instant::from_std);
            let result = tokio::select! {
                biased;
                _ = signal.wake.notified() => {
                    let close = signal.close.lock().expect("signal lock").take();
                    if let Some(reason) = close {
                        let _ = self.sink.send(&ServerFrame::error(reason.code, reason.message.clone())).await;
                        let kind = if reason.code == "going_away" { CloseKind::GoingAway } else { CloseKind::Policy };
                        return End::Close(kind, reason.message);
                    }
                    if signal.lagged.swap(false, Ordering::AcqRel) {
                        debug!("session lagged; catching up from the database");
                        self.catch_up().await
                    } else {
                        Ok(())
                    }
                }
                Some((id, outcome)) = pending.next(), if !pending.is_empty() => {
                    let frame = match outcome {
                        Ok(ev) => ServerFrame::Reply { id, ok: true, event: Some(Box::new(ev)), error: None },
                        Err(e) => {
                            log_internal(&e);
                            ServerFrame::reply_err(id, &e)
                        }
                    };
                    self.sink.send(&frame).await
                }
                Some(msg) = rx.recv() => self.on_hub(msg).await,
                _ = sleep_until(hold_deadline), if hold_deadline.is_some() => {
                    // The client never synced: deliver live events from the moment it connected.
                    self.release_hold(true).await
                }
                item = inbound.next(), if pending.len() < MAX_IN_FLIGHT => match item {
                    Some(Inbound::Frame(bytes)) => self.on_frame(&bytes, &mut pending).await,
                    Some(Inbound::TooLarge) => return End::Close(CloseKind::TooLarge, "frame too large".into()),
                    Some(Inbound::Closed) | None => return End::Closed,
                },
            };
            if result.is_err() {
                return End::SinkFailed;
            }
        }
    }

    async fn send(&mut self, frame: &ServerFrame) -> Result<(), ()> {
        self.sink.send(frame).await
    }

    async fn on_frame(&mut self, bytes: &[u8], pending: &mut FuturesOrdered<PendingSend>) -> Result<(), ()> {
        metrics::counter!("parley_frames_in_total").increment(1);
        let frame = match parse_client_frame(bytes) {
            Ok(f) => f,
            Err(e) => {
                let e = ApiError::from(e);
                return self.send(&ServerFrame::error("invalid_request", e.message)).await;
            }
        };
        if self.limiter.check().is_err() {
            let e = ApiError {
                retry_after: Some(1),
                ..ApiError::new(ErrorCode::RateLimited, "too many frames; slow down")
            };
            return match request_id(&frame) {
                Some(id) => self.send(&ServerFrame::reply_err(id, &e)).await,
                None => self.send(&ServerFrame::error("rate_limited", e.message)).await,
            };
        }
        match frame {
            ClientFrame::Auth { .. } => {
                self.send(&ServerFrame::error("invalid_request", "already authenticated")).await
            }
            ClientFrame::Ping { id } => self.send(&ServerFrame::Pong { id }).await,
            ClientFrame::Send { id, conversation_id, client_msg_id, text, media_ids, reply_to, mentions } => {
                let body = SendBody { client_msg_id, text, media_ids, reply_to, mentions };
                match validate_send(self.claims.user_id, conversation_id, body) {
                    Err(e) => self.send(&ServerFrame::reply_err(id, &e)).await,
                    Ok(msg) => {
                        let waiting = self.state.committer.submit(msg).await;
                        pending.push_back(Box::pin(async move {
                            let outcome = waiting.await.unwrap_or_else(|_| Err(ApiError::internal("commit dropped")));
                            (id, outcome)
                        }));
                        Ok(())
                    }
                }
            }
            ClientFrame::Sync { id, cursors } => self.sync(id, cursors).await,
            ClientFrame::Read { conversation_id, seq } => {
                let r = match db::get(&self.state.pool).await {
                    Ok(mut db) => mark_read(&mut db, conversation_id, self.claims.user_id, seq).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(_) => Ok(()),
                    Err(e) => self.send(&ServerFrame::error(code_str(e.code), e.message)).await,
                }
            }
            ClientFrame::Typing { conversation_id } => {
                if !self.cursors.contains_key(&conversation_id) {
                    return self.send(&ServerFrame::error("not_found", "conversation not found")).await;
                }
                let now = Instant::now();
                if self.typing.get(&conversation_id).is_some_and(|t| now.duration_since(*t) < TYPING_EVERY) {
                    return Ok(());
                }
                self.typing.insert(conversation_id, now);
                if let Ok(db) = db::get(&self.state.pool).await {
                    let n = Notice::Typing { conversation_id, user_id: self.claims.user_id };
                    if let Err(e) = notify::send(&*db, &n).await {
                        warn!("typing notice failed: {e}");
                    }
                }
                Ok(())
            }
        }
    }

    async fn on_hub(&mut self, msg: SessionMsg) -> Result<(), ()> {
        if self.holding.is_some() {
            if self.held.len() < MAX_HELD {
                self.held.push_back(msg);
            } else {
                self.held_overflow = true;
            }
            return Ok(());
        }
        self.apply(msg).await
    }

    async fn apply(&mut self, msg: SessionMsg) -> Result<(), ()> {
        match msg {
            SessionMsg::Event(ev) => self.deliver(&ev).await,
            SessionMsg::Joined(conv, seq) => {
                self.cursors.entry(conv).or_insert(seq);
                Ok(())
            }
            SessionMsg::Read { conversation_id, user_id, seq } => {
                self.send(&ServerFrame::Read { conversation_id, user_id, seq }).await
            }
            SessionMsg::Typing { conversation_id, user_id } => {
                if user_id == self.claims.user_id {
                    return Ok(());
                }
                self.send(&ServerFrame::Typing { conversation_id, user_id }).await
            }
        }
    }

    /// Sends `ev` if it is the next event of its conversation, filling any gap before it.
    async fn deliver(&mut self, ev: &Event) -> Result<(), ()> {
        let conv = ev.conversation_id;
        let cursor = *self.cursors.entry(conv).or_insert(ev.seq - 1);
        if ev.seq <= cursor {
            return Ok(());
        }
        if ev.seq > cursor + 1 {
            metrics::counter!("parley_session_gap_fills_total").increment(1);
            let missing = match db::get(&self.state.pool).await {
                Ok(db) => {
                    events::after_many(&*db, &[(conv, cursor)], ev.seq - cursor - 1).await.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.message),
            };
            match missing {
                Ok(list) => {
                    for m in list {
                        self.send_event(&m).await?;
                    }
                    if self.cursors.get(&conv) != Some(&(ev.seq - 1)) {
                        // The database did not return the whole gap (it always should, since
                        // a seq commits only after every lower one): never skip over it.
                        warn!(%conv, seq = ev.seq, "gap not filled; waiting for the next event");
                        return Ok(());
                    }
                }
                Err(e) => {
                    // Never skip ahead over a gap: drop this event too; the next one (or the
                    // client's sync) retries the fill.
                    warn!("gap fill failed: {e}");
                    return Ok(());
                }
            }
        }
        self.send_event(ev).await
    }

    async fn send_event(&mut self, ev: &Event) -> Result<(), ()> {
        let cursor = self.cursors.entry(ev.conversation_id).or_insert(0);
        if ev.seq <= *cursor {
            return Ok(());
        }
        *cursor = ev.seq;
        metrics::counter!("parley_events_sent_total").increment(1);
        let frame =
            ServerFrame::Event { conversation_id: ev.conversation_id, seq: ev.seq, event: Box::new(ev.clone()) };
        self.sink.send(&frame).await
    }

    /// Re-reads every followed conversation past the session's cursors (after lag, or when a
    /// non-syncing client's hold ends).
    async fn catch_up(&mut self) -> Result<(), ()> {
        let db = match db::get(&self.state.pool).await {
            Ok(db) => db,
            Err(e) => {
                warn!("catch-up: {e:?}");
                return Ok(());
            }
        };
        if let Ok(list) = conversations::memberships(&*db, self.claims.user_id).await {
            for (conv, _) in list {
                // A conversation joined while lagging is new to this client: from its start.
                self.cursors.entry(conv).or_insert(0);
            }
        }
        loop {
            let cursors: Vec<(ConversationId, Seq)> = self.cursors.iter().map(|(c, s)| (*c, *s)).collect();
            let list = match events::after_many(&*db, &cursors, SYNC_REPLAY_LIMIT).await {
                Ok(l) => l,
                Err(e) => {
                    warn!("catch-up: {e}");
                    return Ok(());
                }
            };
            let n = list.len();
            for ev in list {
                self.deliver_known(&ev).await?;
            }
            if n < SYNC_REPLAY_LIMIT as usize {
                return Ok(());
            }
        }
    }

    /// Sends a database-read event if it is past the cursor (reads come in seq order).
    async fn deliver_known(&mut self, ev: &Event) -> Result<(), ()> {
        let cursor = self.cursors.get(&ev.conversation_id).copied().unwrap_or(0);
        if ev.seq <= cursor {
            return Ok(());
        }
        self.send_event(ev).await
    }

    async fn release_hold(&mut self, catch_up: bool) -> Result<(), ()> {
        self.holding = None;
        if self.held_overflow || catch_up {
            self.held_overflow = false;
            self.catch_up().await?;
        }
        while let Some(msg) = self.held.pop_front() {
            self.apply(msg).await?;
        }
        Ok(())
    }

    async fn sync(&mut self, id: RequestId, wanted: std::collections::BTreeMap<ConversationId, Seq>) -> Result<(), ()> {
        let result = self.replay(&wanted).await;
        let truncated = match result {
            Ok(t) => t,
            Err(e) => {
                log_internal(&e);
                return self.send(&ServerFrame::reply_err(id, &e)).await;
            }
        };
        self.send(&ServerFrame::Synced { id, truncated }).await?;
        if self.holding.is_some() {
            self.release_hold(false).await?;
        }
        Ok(())
    }

    /// Replays listed conversations from the client's cursors and the latest event of the
    /// others; returns the conversations cut at [`SYNC_REPLAY_LIMIT`].
    async fn replay(
        &mut self,
        wanted: &std::collections::BTreeMap<ConversationId, Seq>,
    ) -> Result<Vec<ConversationId>, ApiError> {
        let db = db::get(&self.state.pool).await?;
        let heads: HashMap<ConversationId, Seq> =
            conversations::memberships(&*db, self.claims.user_id).await?.into_iter().collect();
        // Only the user's own conversations; others are ignored rather than revealed.
        let listed: Vec<(ConversationId, Seq)> =
            wanted.iter().filter(|(c, _)| heads.contains_key(c)).map(|(c, s)| (*c, (*s).max(0))).collect();
        let unlisted: Vec<ConversationId> = heads.keys().filter(|c| !wanted.contains_key(c)).copied().collect();
        let replay = events::after_many(&*db, &listed, SYNC_REPLAY_LIMIT + 1).await?;
        let latest = events::latest_many(&*db, &unlisted).await?;
        drop(db);

        let mut truncated = Vec::new();
        let mut count: HashMap<ConversationId, i64> = HashMap::new();
        for (c, s) in &listed {
            self.cursors.insert(*c, *s);
        }
        for ev in &replay {
            let n = count.entry(ev.conversation_id).or_default();
            *n += 1;
            if *n > SYNC_REPLAY_LIMIT {
                continue;
            }
            self.send_event(ev).await.map_err(|()| ApiError::internal("socket closed"))?;
        }
        for (c, n) in count {
            if n > SYNC_REPLAY_LIMIT {
                truncated.push(c);
                // The client pages the middle over REST; live delivery resumes from the head.
                let head = heads.get(&c).copied().unwrap_or(0);
                let cur = self.cursors.entry(c).or_insert(head);
                *cur = (*cur).max(head);
            }
        }
        for ev in &latest {
            self.cursors.insert(ev.conversation_id, ev.seq - 1);
            self.send_event(ev).await.map_err(|()| ApiError::internal("socket closed"))?;
        }
        for c in unlisted {
            let head = heads.get(&c).copied().unwrap_or(0);
            let cur = self.cursors.entry(c).or_insert(head);
            *cur = (*cur).max(head);
        }
        Ok(truncated)
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn request_id(f: &ClientFrame) -> Option<RequestId> {
    match f {
        ClientFrame::Send { id, .. } | ClientFrame::Sync { id, .. } | ClientFrame::Ping { id } => Some(id.clone()),
        _ => None,
    }
}

fn code_str(code: ErrorCode) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "internal".into())
}

fn log_internal(e: &ApiError) {
    if let Some(d) = &e.detail {
        warn!("internal error: {d}");
    }
}
