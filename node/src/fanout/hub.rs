//! The hub: one task owning "which local session follows which conversation". It turns NOTIFY
//! wake-ups into event fetches (one query per wake-up batch, not one per recipient) and hands
//! the shared events to sessions. Being a single task keeps per-conversation order trivially.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use parley_shared::ids::{ConversationId, Seq, SessionId, UserId};
use parley_shared::model::Event;
use parley_shared::store::notify::Notice;
use parley_shared::store::{conversations, events};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, warn};
use uuid::Uuid;

/// Most events fetched per conversation per round; a conversation with more is fetched again.
const FETCH_LIMIT: i64 = 1000;
/// Queue depth between the hub and one session. A session that falls this far behind is marked
/// lagged and catches up from the database instead of growing memory.
pub const SESSION_QUEUE: usize = 4096;

/// A connection, as the hub knows it (one socket; an auth session may have several).
pub type ConnId = Uuid;

/// Why the node closes a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// Error frame code (`session_revoked`, `going_away`).
    pub code: &'static str,
    /// Human text.
    pub message: String,
}

/// What the hub hands a session.
#[derive(Clone, Debug)]
pub enum SessionMsg {
    /// A committed event of a followed conversation.
    Event(Arc<Event>),
    /// The user joined a conversation whose log stood at `seq`.
    Joined(ConversationId, Seq),
    /// A member's read position moved.
    Read { conversation_id: ConversationId, user_id: UserId, seq: Seq },
    /// A member is typing.
    Typing { conversation_id: ConversationId, user_id: UserId },
}

/// Out-of-band signals to a session that must get through even when its queue is full.
#[derive(Debug, Default)]
pub struct SessionSignal {
    /// Set when a message was dropped because the queue was full.
    pub lagged: AtomicBool,
    /// Set when the node wants the connection closed.
    pub close: Mutex<Option<CloseReason>>,
    /// Wakes the session to look at the flags above.
    pub wake: Notify,
}

impl SessionSignal {
    /// Asks the session to close.
    pub fn close(&self, reason: CloseReason) {
        *self.close.lock().expect("signal lock") = Some(reason);
        self.wake.notify_one();
    }
}

/// A session's registration.
pub struct Registration {
    /// The connection.
    pub conn: ConnId,
    /// Its user.
    pub user: UserId,
    /// Its auth session.
    pub session: SessionId,
    /// Queue to the session.
    pub tx: mpsc::Sender<SessionMsg>,
    /// Signals to the session.
    pub signal: Arc<SessionSignal>,
    /// The user's conversations and their last seq as the session read them.
    pub memberships: Vec<(ConversationId, Seq)>,
}

enum Cmd {
    Register(Registration, oneshot::Sender<()>),
    Unregister(ConnId),
    Notices(Vec<Notice>),
    Resync,
    CloseAll(CloseReason, oneshot::Sender<usize>),
}

/// Handle to the hub task.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl HubHandle {
    /// Subscribes a connection to its user's conversations; returns once the hub knows it, so
    /// events committed after this returns reach it.
    pub async fn register(&self, reg: Registration) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Cmd::Register(reg, done)).is_ok() {
            let _ = wait.await;
        }
    }
    /// Forgets a connection.
    pub fn unregister(&self, conn: ConnId) {
        let _ = self.tx.send(Cmd::Unregister(conn));
    }
    /// Notices from the LISTEN connection.
    pub fn notices(&self, n: Vec<Notice>) {
        let _ = self.tx.send(Cmd::Notices(n));
    }
    /// The LISTEN connection was re-established: notices may have been lost, catch up from the
    /// database.
    pub fn resync(&self) {
        let _ = self.tx.send(Cmd::Resync);
    }
    /// Asks every connection to close; returns how many there were.
    pub async fn close_all(&self, reason: CloseReason) -> usize {
        let (done, wait) = oneshot::channel();
        let _ = self.tx.send(Cmd::CloseAll(reason, done));
        wait.await.unwrap_or(0)
    }
}

struct Conn {
    user: UserId,
    session: SessionId,
    tx: mpsc::Sender<SessionMsg>,
    signal: Arc<SessionSignal>,
    convs: HashSet<ConversationId>,
}

struct ConvEntry {
    /// Highest seq handed to this conversation's sessions.
    delivered: Seq,
    conns: HashSet<ConnId>,
}

/// Starts the hub task.
pub fn spawn(pool: Pool) -> HubHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let hub = Hub { pool, conns: HashMap::new(), convs: HashMap::new(), users: HashMap::new() };
    tokio::spawn(hub.run(rx));
    HubHandle { tx }
}

struct Hub {
    pool: Pool,
    conns: HashMap<ConnId, Conn>,
    convs: HashMap<ConversationId, ConvEntry>,
    users: HashMap<UserId, HashSet<ConnId>>,
}

impl Hub {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        while let Some(first) = rx.recv().await {
            // Take everything already queued, so a burst of notices costs one fetch.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
                if batch.len() >= 4096 {
                    break;
                }
            }
            let mut wanted: HashMap<ConversationId, Seq> = HashMap::new();
            let mut resync = false;
            for cmd in batch {
                match cmd {
                    Cmd::Register(reg, done) => {
                        self.register(reg);
                        let _ = done.send(());
                    }
                    Cmd::Unregister(conn) => self.unregister(conn),
                    Cmd::Notices(list) => {
                        for n in list {
                            self.notice(n, &mut wanted);
                        }
                    }
                    Cmd::Resync => resync = true,
                    Cmd::CloseAll(reason, done) => {
                        for c in self.conns.values() {
                            c.signal.close(reason.clone());
                        }
                        let _ = done.send(self.conns.len());
                    }
                }
            }
            if resync && let Err(e) = self.resync(&mut wanted).await {
                warn!("resync after LISTEN reconnect failed, will retry on next wake-up: {e}");
            }
            self.fetch_and_deliver(wanted).await;
        }
    }

    fn register(&mut self, reg: Registration) {
        let mut convs = HashSet::new();
        for (conv, seq) in &reg.memberships {
            self.subscribe(reg.conn, *conv, *seq);
            convs.insert(*conv);
        }
        self.users.entry(reg.user).or_default().insert(reg.conn);
        self.conns
            .insert(reg.conn, Conn { user: reg.user, session: reg.session, tx: reg.tx, signal: reg.signal, convs });
    }

    fn subscribe(&mut self, conn: ConnId, conv: ConversationId, seq: Seq) {
        let entry = self.convs.entry(conv).or_insert_with(|| ConvEntry { delivered: seq, conns: HashSet::new() });
        entry.conns.insert(conn);
    }

    fn unregister(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else { return };
        for conv in c.convs {
            if let Some(entry) = self.convs.get_mut(&conv) {
                entry.conns.remove(&conn);
                if entry.conns.is_empty() {
                    self.convs.remove(&conv);
                }
            }
        }
        if let Some(set) = self.users.get_mut(&c.user) {
            set.remove(&conn);
            if set.is_empty() {
                self.users.remove(&c.user);
            }
        }
    }

    fn notice(&mut self, n: Notice, wanted: &mut HashMap<ConversationId, Seq>) {
        match n {
            Notice::Events { c } => {
                for (conv, seq) in c {
                    if self.convs.get(&conv).is_some_and(|e| seq > e.delivered) {
                        let w = wanted.entry(conv).or_insert(seq);
                        *w = (*w).max(seq);
                    }
                }
            }
            Notice::Members { conversation_id, user_ids, seq } => {
                for u in user_ids {
                    let conns: Vec<ConnId> =
                        self.users.get(&u).map(|s| s.iter().copied().collect()).unwrap_or_default();
                    for conn in conns {
                        self.join(conn, conversation_id, seq);
                    }
                }
            }
            Notice::Revoked { session_id } => {
                for c in self.conns.values().filter(|c| c.session == session_id) {
                    c.signal
                        .close(CloseReason { code: "session_revoked", message: "this session was signed out".into() });
                }
            }
            Notice::Read { conversation_id, user_id, seq } => {
                self.broadcast(conversation_id, SessionMsg::Read { conversation_id, user_id, seq });
            }
            Notice::Typing { conversation_id, user_id } => {
                self.broadcast(conversation_id, SessionMsg::Typing { conversation_id, user_id });
            }
        }
    }

    fn join(&mut self, conn: ConnId, conv: ConversationId, seq: Seq) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.convs.insert(conv) {
            return;
        }
        let msg = SessionMsg::Joined(conv, seq);
        Self::offer(c, msg);
        self.subscribe(conn, conv, seq);
    }

    fn broadcast(&self, conv: ConversationId, msg: SessionMsg) {
        if let Some(entry) = self.convs.get(&conv) {
            for conn in &entry.conns {
                if let Some(c) = self.conns.get(conn) {
                    Self::offer(c, msg.clone());
                }
            }
        }
    }

    /// Queues `msg`; a full queue marks the session lagged (it re-reads the database) instead of
    /// blocking the hub or growing without bound.
    fn offer(c: &Conn, msg: SessionMsg) {
        if c.tx.try_send(msg).is_err() {
            c.signal.lagged.store(true, Ordering::Release);
            c.signal.wake.notify_one();
        }
    }

    /// After a LISTEN reconnect: every followed conversation may have missed events, followed
    /// users may have joined conversations, and sessions may have been revoked.
    async fn resync(&mut self, wanted: &mut HashMap<ConversationId, Seq>) -> Result<(), String> {
        for conv in self.convs.keys() {
            wanted.insert(*conv, Seq::MAX);
        }
        let db = self.pool.get().await.map_err(|e| e.to_string())?;
        let users: Vec<UserId> = self.users.keys().copied().collect();
        let mut joins = Vec::new();
        for u in users {
            for (conv, seq) in conversations::memberships(&**db, u).await.map_err(|e| e.to_string())? {
                joins.push((u, conv, seq));
            }
        }
        for (u, conv, seq) in joins {
            let conns: Vec<ConnId> = self.users.get(&u).map(|s| s.iter().copied().collect()).unwrap_or_default();
            for conn in conns {
                if !self.conns.get(&conn).is_some_and(|c| c.convs.contains(&conv)) {
                    self.join(conn, conv, 0);
                    wanted.insert(conv, Seq::MAX);
                }
                let _ = seq;
            }
        }
        let sessions: Vec<SessionId> =
            self.conns.values().map(|c| c.session).collect::<HashSet<_>>().into_iter().collect();
        for s in sessions {
            if !parley_shared::store::sessions::is_active(&**db, s).await.map_err(|e| e.to_string())? {
                self.notice(Notice::Revoked { session_id: s }, wanted);
            }
        }
        Ok(())
    }

    async fn fetch_and_deliver(&mut self, mut wanted: HashMap<ConversationId, Seq>) {
        let mut attempts = 0;
        while !wanted.is_empty() {
            let cursors: Vec<(ConversationId, Seq)> =
                wanted.keys().filter_map(|c| self.convs.get(c).map(|e| (*c, e.delivered))).collect();
            if cursors.is_empty() {
                return;
            }
            let fetched = match self.pool.get().await {
                Ok(db) => events::after_many(&**db, &cursors, FETCH_LIMIT).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let evs = match fetched {
                Ok(evs) => evs,
                Err(e) => {
                    attempts += 1;
                    warn!("fetching events failed (attempt {attempts}): {e}");
                    if attempts >= 5 {
                        // Sessions notice the gap on their next event and fill it themselves.
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempts)).await;
                    continue;
                }
            };
            let mut per_conv: HashMap<ConversationId, usize> = HashMap::new();
            for ev in evs {
                let conv = ev.conversation_id;
                *per_conv.entry(conv).or_default() += 1;
                let Some(entry) = self.convs.get_mut(&conv) else { continue };
                if ev.seq <= entry.delivered {
                    continue;
                }
                entry.delivered = ev.seq;
                let ev = Arc::new(ev);
                for conn in &entry.conns {
                    if let Some(c) = self.conns.get(conn) {
                        Self::offer(c, SessionMsg::Event(ev.clone()));
                    }
                }
            }
            metrics::counter!("parley_hub_fetches_total").increment(1);
            // A conversation that filled its page may have more; the rest are done.
            wanted.retain(|c, _| per_conv.get(c).is_some_and(|n| *n as i64 >= FETCH_LIMIT));
            debug!(remaining = wanted.len(), "hub fetch round done");
        }
    }
}
