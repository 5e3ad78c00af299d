//! The reconnecting realtime client.
//!
//! One background task owns the connection. It connects to the configured endpoints in turn
//! (jittered exponential backoff between failures), sends `sync` with the last seq it has of
//! every conversation right after each (re)connect, then re-sends every unacknowledged send with
//! its original `client_msg_id` (the node is idempotent on it). Incoming events pass through
//! [`Positions`]: each `(conversation, seq)` reaches the app once, in seq order; a jump forward is
//! filled from `GET /v1/conversations/{id}/events` first. `going_away` moves on to the next
//! node at once; `session_revoked`, or a refresh token the server refuses, stops the client
//! with [`Error::Unauthorized`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parley_shared::error::ErrorCode;
use parley_shared::ids::{ClientMsgId, ConversationId, EventId, Seq, UserId, new_uuid_v7};
use parley_shared::model::{
    DeliveryReceipt, Event, MessageDraft, Notice, PresenceChange, ReadReceipt, TypingIndicator,
};
use parley_shared::protocol::{ClientFrame, ConnectionCode, FrameErrorCode, RequestId, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::auth::Auth;
use crate::backoff::Backoff;
use crate::connection::{ConnectOptions, Connection, Endpoint, Incoming, Ready};
use crate::error::{Error, Result};
use parley_shared::positions::{Positions, Verdict};

/// How the client connects and recovers.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Node endpoints, tried in turn (`ws://h:p/v1/ws`, `quic://h:p`).
    pub endpoints: Vec<Endpoint>,
    /// TLS and timeouts.
    pub connect: ConnectOptions,
    /// Delay between failed attempts.
    pub backoff: Backoff,
    /// Conversations to follow from a known seq (0 = from the start). Conversations not listed
    /// are followed from the first event the client sees of them.
    pub positions: BTreeMap<ConversationId, Seq>,
    /// Ping the node this often when nothing else arrives.
    pub ping_interval: Duration,
    /// Reconnect when nothing at all arrived for this long.
    pub silence_timeout: Duration,
    /// Wait this long before re-sending a send the node refused for a passing reason
    /// (`rate_limited`, `unavailable`, `internal`).
    pub resend_delay: Duration,
}

impl ClientConfig {
    /// Defaults for these endpoints.
    pub fn new(endpoints: Vec<Endpoint>) -> ClientConfig {
        ClientConfig {
            endpoints,
            connect: ConnectOptions::default(),
            backoff: Backoff::default(),
            positions: BTreeMap::new(),
            ping_interval: Duration::from_secs(15),
            silence_timeout: Duration::from_secs(40),
            resend_delay: Duration::from_millis(500),
        }
    }
}

/// What the client tells the app.
#[derive(Clone, Debug)]
pub enum ClientEvent {
    /// Connected and authenticated (a `sync` follows).
    Connected {
        /// Where.
        endpoint: Endpoint,
        /// The node's `ready`.
        ready: Ready,
    },
    /// The `sync` after a connect finished: every missed event was emitted.
    Synced {
        /// Conversations that were paged over REST because the replay was truncated.
        truncated: Vec<ConversationId>,
    },
    /// The connection dropped; the client reconnects by itself.
    Disconnected {
        /// Where it was.
        endpoint: Endpoint,
        /// Why.
        reason: String,
    },
    /// A conversation event: exactly once per `(conversation_id, seq)`, in seq order.
    Event(Box<Event>),
    /// Someone's read position.
    Read(ReadReceipt),
    /// Someone is typing.
    Typing(TypingIndicator),
    /// Someone's devices received a conversation up to a seq.
    Delivered(DeliveryReceipt),
    /// The user deleted a message for themselves on another device.
    MessageHidden {
        /// Where.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
    },
    /// A notice for the user (a friend request, ...).
    Notice(Box<Notice>),
    /// A friend went online or offline.
    Presence(PresenceChange),
    /// The friends online at connect time (after `ready`, and again after the node lost
    /// announcements).
    PresenceSnapshot(Vec<UserId>),
    /// A frame type this SDK does not know yet: its JSON.
    Other(String),
    /// The client stopped for good (`Unauthorized`: log in again).
    Closed(Error),
}

/// A message to send: where, and the draft (its `client_msg_id` is the idempotency key: keep
/// it to retry the same message, even after a restart).
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingMessage {
    /// Target.
    pub conversation_id: ConversationId,
    /// What to send.
    pub draft: MessageDraft,
}

impl OutgoingMessage {
    /// A text message with a fresh `client_msg_id` (a UUID).
    pub fn text(conversation_id: ConversationId, text: impl Into<String>) -> OutgoingMessage {
        OutgoingMessage { conversation_id, draft: MessageDraft::text(ClientMsgId(new_uuid_v7().to_string()), text) }
    }

    fn frame(&self, id: u64) -> ClientFrame {
        ClientFrame::Send { id: RequestId::Num(id), conversation_id: self.conversation_id, message: self.draft.clone() }
    }
}

enum Command {
    Send(OutgoingMessage, oneshot::Sender<Result<Event>>),
    Frame(ClientFrame),
    Follow(ConversationId, Seq),
    Positions(oneshot::Sender<BTreeMap<ConversationId, Seq>>),
    Close(oneshot::Sender<()>),
}

/// Handle to the realtime client; clones share the connection. The task stops when the last
/// handle is dropped or [`Client::close`] is called.
#[derive(Clone)]
pub struct Client {
    cmd: mpsc::UnboundedSender<Command>,
    auth: Arc<Auth>,
}

/// The stream of [`ClientEvent`]s. Unbounded: drain it.
pub struct Events {
    rx: mpsc::UnboundedReceiver<ClientEvent>,
}

impl Events {
    /// The next event; `None` once the client has stopped and everything was read.
    pub async fn recv(&mut self) -> Option<ClientEvent> {
        self.rx.recv().await
    }

    /// An event if one is waiting.
    pub fn try_recv(&mut self) -> Option<ClientEvent> {
        self.rx.try_recv().ok()
    }
}

impl Client {
    /// Starts the background task (it connects right away).
    pub fn start(auth: Arc<Auth>, cfg: ClientConfig) -> Result<(Client, Events)> {
        if cfg.endpoints.is_empty() {
            return Err(Error::Config("no realtime endpoint".into()));
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            auth: auth.clone(),
            positions: Positions::from_map(cfg.positions.clone()),
            cfg,
            pending: BTreeMap::new(),
            next_id: 1,
            out: ev_tx,
            cmds: cmd_rx,
            endpoint_idx: 0,
            sync_seq: 0,
        };
        tokio::spawn(actor.run());
        Ok((Client { cmd: cmd_tx, auth }, Events { rx: ev_rx }))
    }

    /// The token source (for REST calls alongside).
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// Sends a text message; the returned future resolves once the node acknowledged it
    /// (retrying with the same `client_msg_id` across reconnects until then). The message is
    /// queued when this is called, not when the future is first polled, so messages are sent,
    /// and committed, in the order of the calls.
    pub fn send(
        &self,
        conversation_id: ConversationId,
        text: impl Into<String>,
    ) -> impl Future<Output = Result<Event>> + Send + 'static {
        self.send_message(OutgoingMessage::text(conversation_id, text))
    }

    /// Sends a message; see [`Client::send`].
    pub fn send_message(&self, msg: OutgoingMessage) -> impl Future<Output = Result<Event>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let queued = self.cmd.send(Command::Send(msg, tx)).map_err(|_| Error::Closed);
        async move {
            queued?;
            rx.await.map_err(|_| Error::Closed)?
        }
    }

    /// Read receipt (dropped while disconnected).
    pub fn read(&self, conversation_id: ConversationId, seq: Seq) -> Result<()> {
        self.cmd.send(Command::Frame(ClientFrame::Read { conversation_id, seq })).map_err(|_| Error::Closed)
    }

    /// Typing indicator: started (`true`, repeat every few seconds while typing) or stopped
    /// (dropped while disconnected).
    pub fn typing(&self, conversation_id: ConversationId, active: bool) -> Result<()> {
        self.cmd.send(Command::Frame(ClientFrame::Typing { conversation_id, active })).map_err(|_| Error::Closed)
    }

    /// Follows a conversation from `seq` (takes effect for events after it and at the next sync).
    pub fn follow(&self, conversation_id: ConversationId, seq: Seq) -> Result<()> {
        self.cmd.send(Command::Follow(conversation_id, seq)).map_err(|_| Error::Closed)
    }

    /// The last seq emitted per conversation (persist it to resume without duplicates).
    pub async fn positions(&self) -> Result<BTreeMap<ConversationId, Seq>> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Positions(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Closes the connection and stops; unacknowledged sends fail with [`Error::Closed`].
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

struct Pending {
    msg: OutgoingMessage,
    reply: oneshot::Sender<Result<Event>>,
    /// The connection generation it was last written on.
    sent_on: Option<u64>,
    not_before: Instant,
}

enum Outcome {
    /// Stop: the app closed the client.
    Shutdown,
    /// Stop for good.
    Fatal(Error),
    /// Try again (the next endpoint).
    Retry { reason: String, immediate: bool },
}

fn retry(reason: impl Into<String>) -> Outcome {
    Outcome::Retry { reason: reason.into(), immediate: false }
}

struct Actor {
    auth: Arc<Auth>,
    cfg: ClientConfig,
    positions: Positions,
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
    out: mpsc::UnboundedSender<ClientEvent>,
    cmds: mpsc::UnboundedReceiver<Command>,
    endpoint_idx: usize,
    sync_seq: u64,
}

/// A connection that lived at least this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(2);

impl Actor {
    fn emit(&self, ev: ClientEvent) {
        let _ = self.out.send(ev);
    }

    async fn run(mut self) {
        let mut attempt: u32 = 0;
        let mut generation: u64 = 0;
        loop {
            let endpoint = self.cfg.endpoints[self.endpoint_idx % self.cfg.endpoints.len()].clone();
            let outcome = match self.auth.access_token().await {
                Err(Error::Unauthorized(m)) => Outcome::Fatal(Error::Unauthorized(m)),
                Err(e) => retry(format!("getting an access token: {e}")),
                Ok(token) => match Connection::open(&endpoint, &token, &self.cfg.connect).await {
                    Ok(conn) => {
                        generation += 1;
                        let started = Instant::now();
                        tracing::info!(%endpoint, node = %conn.ready.node_id, "connected");
                        let outcome = self.serve(conn, generation).await;
                        if started.elapsed() >= STABLE_AFTER {
                            attempt = 0;
                        }
                        if let Outcome::Retry { reason, .. } = &outcome {
                            tracing::info!(%endpoint, %reason, "disconnected");
                            self.emit(ClientEvent::Disconnected { endpoint: endpoint.clone(), reason: reason.clone() });
                        }
                        outcome
                    }
                    Err(Error::Unauthorized(m)) => match self.auth.refresh(Some(&token)).await {
                        Err(Error::Unauthorized(m2)) => Outcome::Fatal(Error::Unauthorized(format!("{m}; {m2}"))),
                        Err(e) => retry(format!("refreshing the token: {e}")),
                        // The node refused the token; with a fresh one try the same node again.
                        Ok(_) => {
                            self.endpoint_idx = self.endpoint_idx.wrapping_sub(1);
                            Outcome::Retry { reason: format!("token refused: {m}"), immediate: true }
                        }
                    },
                    Err(e @ Error::Config(_)) => Outcome::Fatal(e),
                    Err(e) => retry(e.to_string()),
                },
            };
            match outcome {
                Outcome::Shutdown => break,
                Outcome::Fatal(e) => {
                    tracing::warn!(error = %e, "realtime client stopped");
                    for (_, p) in std::mem::take(&mut self.pending) {
                        let _ = p.reply.send(Err(e.clone()));
                    }
                    self.emit(ClientEvent::Closed(e));
                    // Answer what is still queued, then stop.
                    self.cmds.close();
                    while let Some(cmd) = self.cmds.recv().await {
                        self.offline_command(cmd);
                    }
                    break;
                }
                Outcome::Retry { reason, immediate } => {
                    self.endpoint_idx = self.endpoint_idx.wrapping_add(1);
                    let delay = if immediate {
                        self.cfg.backoff.delay_with(0, crate::backoff::random_unit()) / 2
                    } else {
                        let d = self.cfg.backoff.delay(attempt);
                        attempt = attempt.saturating_add(1);
                        d
                    };
                    tracing::debug!(%reason, ?delay, "reconnecting");
                    if !self.wait_offline(delay).await {
                        break;
                    }
                }
            }
        }
        for (_, p) in std::mem::take(&mut self.pending) {
            let _ = p.reply.send(Err(Error::Closed));
        }
    }

    /// Sleeps `delay` while taking commands. False when the app closed the client.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                cmd = self.cmds.recv() => match cmd {
                    None => return false,
                    Some(Command::Close(done)) => {
                        let _ = done.send(());
                        return false;
                    }
                    Some(cmd) => self.offline_command(cmd),
                },
            }
        }
    }

    /// A command while not connected (or after a fatal error, once `pending` was drained and
    /// the command channel closed).
    fn offline_command(&mut self, cmd: Command) {
        match cmd {
            Command::Send(msg, reply) => {
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(id, Pending { msg, reply, sent_on: None, not_before: Instant::now() });
            }
            Command::Frame(_) => {}
            Command::Follow(c, s) => self.positions.follow(c, s),
            Command::Positions(tx) => {
                let _ = tx.send(self.positions.snapshot());
            }
            Command::Close(done) => {
                let _ = done.send(());
            }
        }
    }

    async fn serve(&mut self, mut conn: Connection, generation: u64) -> Outcome {
        self.emit(ClientEvent::Connected { endpoint: conn.endpoint.clone(), ready: conn.ready.clone() });
        self.sync_seq += 1;
        let sync = ClientFrame::Sync {
            id: RequestId::Str(format!("sync-{}", self.sync_seq)),
            positions: self.positions.snapshot(),
        };
        if let Err(e) = conn.send(&sync).await {
            return retry(e.to_string());
        }
        // Everything not yet acknowledged goes again, in the order it was sent, same ids.
        for p in self.pending.values_mut() {
            p.sent_on = None;
            p.not_before = Instant::now();
        }
        if let Err(e) = self.flush_pending(&mut conn, generation).await {
            return retry(e.to_string());
        }

        let mut last_rx = Instant::now();
        let mut last_ping = Instant::now();
        let mut pings: u64 = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresher: Option<tokio::task::JoinHandle<Result<String>>> = None;
        let mut last_refresh_check = Instant::now();
        loop {
            tokio::select! {
                frame = conn.recv() => match frame {
                    None => return retry("connection closed"),
                    Some(Err(e @ Error::Transport(_))) => return retry(e.to_string()),
                    Some(Err(e)) => tracing::warn!(error = %e, "ignoring a bad frame"),
                    Some(Ok(inc)) => {
                        last_rx = Instant::now();
                        if let Some(outcome) = self.handle(inc).await {
                            if matches!(outcome, Outcome::Shutdown | Outcome::Fatal(_)) {
                                conn.close().await;
                            }
                            return outcome;
                        }
                    }
                },
                cmd = self.cmds.recv() => {
                    let cmd = match cmd {
                        None => {
                            conn.close().await;
                            return Outcome::Shutdown;
                        }
                        Some(Command::Close(done)) => {
                            conn.close().await;
                            let _ = done.send(());
                            return Outcome::Shutdown;
                        }
                        Some(cmd) => cmd,
                    };
                    let res = match cmd {
                        Command::Send(msg, reply) => {
                            let id = self.next_id;
                            self.next_id += 1;
                            let frame = msg.frame(id);
                            self.pending.insert(id, Pending { msg, reply, sent_on: Some(generation), not_before: Instant::now() });
                            conn.send(&frame).await
                        }
                        Command::Frame(f) => conn.send(&f).await,
                        other => {
                            self.offline_command(other);
                            Ok(())
                        }
                    };
                    if let Err(e) = res {
                        return retry(e.to_string());
                    }
                }
                _ = tick.tick() => {
                    if last_rx.elapsed() >= self.cfg.silence_timeout {
                        return retry(format!("nothing from the node for {:?}", self.cfg.silence_timeout));
                    }
                    if last_ping.elapsed() >= self.cfg.ping_interval && last_rx.elapsed() >= self.cfg.ping_interval {
                        pings += 1;
                        last_ping = Instant::now();
                        if let Err(e) = conn.send(&ClientFrame::Ping { id: RequestId::Str(format!("ping-{pings}")) }).await {
                            return retry(e.to_string());
                        }
                    }
                    if let Err(e) = self.flush_pending(&mut conn, generation).await {
                        return retry(e.to_string());
                    }
                    // Refresh the access token ahead of expiry, off the frame path.
                    if let Some(task) = refresher.take_if(|t| t.is_finished()) {
                        match task.await {
                            Ok(Err(Error::Unauthorized(m))) => return Outcome::Fatal(Error::Unauthorized(m)),
                            Ok(Err(e)) => tracing::warn!(error = %e, "token refresh failed; will retry"),
                            _ => {}
                        }
                    }
                    if refresher.is_none() && last_refresh_check.elapsed() >= Duration::from_secs(5) {
                        last_refresh_check = Instant::now();
                        let auth = self.auth.clone();
                        refresher = Some(tokio::spawn(async move { auth.access_token().await }));
                    }
                }
            }
        }
    }

    /// Writes every pending send that is due and not yet on this connection.
    async fn flush_pending(&mut self, conn: &mut Connection, generation: u64) -> Result<()> {
        let now = Instant::now();
        for (id, p) in self.pending.iter_mut() {
            if p.sent_on != Some(generation) && p.not_before <= now {
                p.sent_on = Some(generation);
                conn.send(&p.msg.frame(*id)).await?;
            }
        }
        Ok(())
    }

    /// Handles one frame; `Some` ends the connection.
    async fn handle(&mut self, inc: Incoming) -> Option<Outcome> {
        let frame = match inc {
            Incoming::Frame(f) => f,
            Incoming::Unknown(json) => {
                self.emit(ClientEvent::Other(json));
                return None;
            }
        };
        match frame {
            ServerFrame::Event { conversation_id, seq, event } => {
                if let Err(e) = self.deliver(conversation_id, seq, event).await {
                    return Some(match e {
                        Error::Unauthorized(m) => Outcome::Fatal(Error::Unauthorized(m)),
                        e => retry(format!("filling a gap: {e}")),
                    });
                }
            }
            ServerFrame::Synced { truncated, .. } => {
                for conv in &truncated {
                    let after = self.positions.get(conv).unwrap_or(0);
                    if let Err(e) = self.fill(*conv, after, None).await {
                        return Some(retry(format!("paging a truncated sync: {e}")));
                    }
                }
                self.emit(ClientEvent::Synced { truncated });
            }
            ServerFrame::Reply { id: RequestId::Num(id), ok, event, error } => {
                let p = self.pending.remove(&id)?;
                if ok {
                    let res = event.map(|e| *e).ok_or_else(|| Error::Protocol("send reply without its event".into()));
                    let _ = p.reply.send(res);
                } else {
                    let err = error.as_ref().map(Error::from_body).unwrap_or(Error::Protocol("failed reply".into()));
                    if err.is_retriable() {
                        tracing::debug!(error = %err, "send refused for now; will resend");
                        self.pending.insert(
                            id,
                            Pending { sent_on: None, not_before: Instant::now() + self.cfg.resend_delay, ..p },
                        );
                    } else {
                        let _ = p.reply.send(Err(err));
                    }
                }
            }
            ServerFrame::Reply { .. } | ServerFrame::Pong { .. } | ServerFrame::Ready(_) => {}
            ServerFrame::Read(r) => self.emit(ClientEvent::Read(r)),
            ServerFrame::Typing(t) => self.emit(ClientEvent::Typing(t)),
            ServerFrame::Delivered(d) => self.emit(ClientEvent::Delivered(d)),
            ServerFrame::MessageHidden { conversation_id, message_id, .. } => {
                self.emit(ClientEvent::MessageHidden { conversation_id, message_id })
            }
            ServerFrame::Notice(n) => self.emit(ClientEvent::Notice(n)),
            ServerFrame::Presence(p) => self.emit(ClientEvent::Presence(p)),
            ServerFrame::PresenceSnapshot { online } => self.emit(ClientEvent::PresenceSnapshot(online)),
            ServerFrame::Error { code, message } => match code {
                FrameErrorCode::Connection(ConnectionCode::GoingAway) => {
                    return Some(Outcome::Retry { reason: format!("going_away: {message}"), immediate: true });
                }
                FrameErrorCode::Connection(ConnectionCode::SessionRevoked) => {
                    return Some(Outcome::Fatal(Error::Unauthorized(format!("session revoked: {message}"))));
                }
                FrameErrorCode::Connection(ConnectionCode::TooSlow)
                | FrameErrorCode::Contract(ErrorCode::Unauthorized) => {
                    return Some(retry(format!("{code:?}: {message}")));
                }
                FrameErrorCode::Contract(other) => tracing::warn!(code = ?other, %message, "error frame from the node"),
            },
        }
        None
    }

    /// Emits an event if it is the next of its conversation, after filling any gap.
    async fn deliver(&mut self, conv: ConversationId, seq: Seq, event: Box<Event>) -> Result<()> {
        match self.positions.check(&conv, seq) {
            Verdict::Duplicate => Ok(()),
            Verdict::Emit => {
                self.positions.advance(conv, seq);
                self.emit(ClientEvent::Event(event));
                Ok(())
            }
            Verdict::Gap { after, before } => {
                self.fill(conv, after, Some(before - 1)).await?;
                if self.positions.check(&conv, seq) != Verdict::Duplicate {
                    if self.positions.get(&conv).is_some_and(|c| c + 1 != seq) {
                        // History does not hold the missing seqs for this user: nothing to wait for.
                        tracing::warn!(%conv, seq, "seqs missing from history too; going on");
                    }
                    self.positions.advance(conv, seq);
                    self.emit(ClientEvent::Event(event));
                }
                Ok(())
            }
        }
    }

    /// Emits the events after `after` (up to `up_to`) from REST history.
    async fn fill(&mut self, conv: ConversationId, after: Seq, up_to: Option<Seq>) -> Result<()> {
        let rest = self.auth.rest().clone();
        let events = self
            .auth
            .with_token(|t| {
                let rest = rest.clone();
                async move { rest.events_after(&t, conv, after, up_to).await }
            })
            .await?;
        for e in events {
            if self.positions.check(&conv, e.seq) != Verdict::Duplicate {
                self.positions.advance(conv, e.seq);
                self.emit(ClientEvent::Event(Box::new(e)));
            }
        }
        Ok(())
    }
}
