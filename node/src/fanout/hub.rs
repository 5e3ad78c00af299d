//! The hub: one task owning "which local connection follows which conversation". It turns
//! NOTIFY wake-ups into event fetches (one query per wake-up batch, not one per recipient) and
//! hands the shared events to connections. Being a single task keeps per-conversation order
//! trivially.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use parley_shared::ApiError;
use parley_shared::ids::{ConnectionId, ConversationId, EventId, Seq, SessionId, UserId};
use parley_shared::model::{DeliveryReceipt, Event, Notice, PresenceChange, ReadReceipt, TypingIndicator};
use parley_shared::protocol::{ConnectionCode, ServerFrame};
use parley_shared::service::realtime;
use parley_shared::store::notify::Announcement;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::mailbox::Mailbox;
use crate::connection::lane::Direct;
use crate::connection::{DirectWrite, Encoded, Lane};
use crate::db;
use crate::receipts::ReceiptsHandle;

/// Most events fetched per conversation per round; a conversation with more is fetched again.
const FETCH_LIMIT: i64 = 1000;
/// Why the node ends a connection, and what it tells the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eviction {
    /// The `error` frame's code (`session_revoked`, `going_away`).
    pub code: ConnectionCode,
    /// Human text.
    pub message: String,
}

/// What the hub hands a connection.
#[derive(Clone, Debug)]
pub enum Push {
    /// A committed event of a followed conversation.
    Event(Arc<SharedEvent>),
    /// The user joined a conversation whose log stood at `seq`.
    Joined(ConversationId, Seq),
    /// The user left a conversation: every event of it they may see (up to their `member_left`)
    /// was pushed before this; nothing of it follows.
    Left(ConversationId),
    /// A member's read position moved.
    Read(ReadReceipt),
    /// A member's devices received the log up to a seq.
    Delivered(DeliveryReceipt),
    /// The user deleted a message for themselves (on another device, maybe).
    Hidden {
        /// Where.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// Its seq.
        seq: Seq,
    },
    /// A member is typing.
    Typing(TypingIndicator),
    /// A notice for the user.
    Notice(Box<Notice>),
    /// A friend went online or offline.
    Presence(PresenceChange),
    /// The user has a new friend: tell the client whether they are online.
    Befriended(UserId),
    /// Presence announcements may have been lost: send the client a fresh snapshot.
    PresenceResync,
}

/// An event and its frame, encoded once for every local connection that gets it.
#[derive(Debug)]
pub struct SharedEvent {
    /// The event (for the connection's seq positions and receipts).
    pub event: Event,
    /// Its `event` frame.
    pub frame: Encoded,
}

/// A connection's registration.
pub struct Registration {
    /// The connection.
    pub conn: ConnectionId,
    /// Its user.
    pub user: UserId,
    /// Its auth session.
    pub session: SessionId,
    /// The connection's mailbox.
    pub mailbox: Arc<Mailbox>,
    /// Its seq positions, which the hub's direct writes share ([`crate::connection::lane`]).
    pub lane: Arc<Lane>,
    /// Its socket, when the hub may write events to it directly (WebSocket).
    pub socket: Option<Arc<dyn DirectWrite>>,
    /// The user's conversations and their last seq as the connection read them.
    pub memberships: Vec<(ConversationId, Seq)>,
    /// The user's friends: the connection hears their presence.
    pub friends: Vec<UserId>,
}

enum Cmd {
    OnWords(Arc<crate::policy::Policy>),
    OnMediaJobs(Arc<tokio::sync::Notify>),
    Register(Registration, oneshot::Sender<()>),
    Unregister(ConnectionId),
    Notices(Vec<Announcement>),
    Resync,
    EvictAll(Eviction, oneshot::Sender<usize>),
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
    /// Tells `policy` when the sensitive-word list changed.
    pub fn on_words_changed(&self, policy: Arc<crate::policy::Policy>) {
        let _ = self.tx.send(Cmd::OnWords(policy));
    }
    /// Wakes `jobs` when a medium waits for its thumbnail.
    pub fn on_media_jobs(&self, jobs: Arc<tokio::sync::Notify>) {
        let _ = self.tx.send(Cmd::OnMediaJobs(jobs));
    }
    /// Forgets a connection.
    pub fn unregister(&self, conn: ConnectionId) {
        let _ = self.tx.send(Cmd::Unregister(conn));
    }
    /// Notices from the LISTEN connection.
    pub fn notices(&self, n: Vec<Announcement>) {
        let _ = self.tx.send(Cmd::Notices(n));
    }
    /// The LISTEN connection was re-established: notices may have been lost, catch up from the
    /// database.
    pub fn resync(&self) {
        let _ = self.tx.send(Cmd::Resync);
    }
    /// Asks every connection to close; returns how many there were.
    pub async fn evict_all(&self, e: Eviction) -> usize {
        let (done, wait) = oneshot::channel();
        let _ = self.tx.send(Cmd::EvictAll(e, done));
        wait.await.unwrap_or(0)
    }
}

struct Conn {
    user: UserId,
    session: SessionId,
    target: Arc<Target>,
    convs: HashSet<ConversationId>,
    friends: HashSet<UserId>,
}

/// What handing out events needs of a connection, shared with the task that writes half of a
/// big round.
struct Target {
    user: UserId,
    mailbox: Arc<Mailbox>,
    lane: Arc<Lane>,
    socket: Option<Arc<dyn DirectWrite>>,
}

/// Fewest connections of one conversation per task when a round is handed out by several tasks
/// at once (at most one per runtime worker), each writing to its share of them.
const PART_MIN: usize = 256;

/// Hands a run of consecutive events of `conv` to each of `targets`: written directly where the
/// lane allows, else offered to the mailbox. Answers how many deliveries were written directly.
fn hand_to(
    targets: &[Arc<Target>],
    conv: ConversationId,
    evs: &[Arc<SharedEvent>],
    receipts: Option<&ReceiptsHandle>,
) -> u64 {
    let frames: Vec<&Encoded> = evs.iter().map(|e| &e.frame).collect();
    let first = evs[0].event.seq;
    let mut written = 0;
    let mut marks = Vec::new();
    for t in targets {
        if let Some(socket) = &t.socket
            && t.mailbox.quiet()
            && t.lane.try_direct(conv, first, &frames, socket.as_ref()) == Direct::Queued
        {
            written += evs.len() as u64;
            // What the socket did not take now, the connection's task writes out (it waits
            // for a slow client; a failed socket ends its connection there).
            if !matches!(socket.write_now(), Ok(true)) {
                t.mailbox.request_flush();
            }
            if receipts.is_some()
                && let Some(seq) = evs.iter().rev().find(|e| e.event.sender_id != t.user).map(|e| e.event.seq)
            {
                marks.push((conv, t.user, seq));
            }
            continue;
        }
        for ev in evs {
            t.mailbox.offer(Push::Event(ev.clone()));
        }
    }
    if let Some(r) = receipts {
        r.delivered(marks);
    }
    written
}

/// How long the hub remembers membership changes for connections that register late.
const RECENT_FOR: Duration = Duration::from_secs(60);

/// A membership change the hub applied, remembered for [`RECENT_FOR`]: a connection whose start
/// read the user's memberships just before the change may register just after it.
struct Recent {
    at: Instant,
    user: UserId,
    conv: ConversationId,
    change: Change,
}

#[derive(Clone, Copy)]
enum Change {
    /// Joined when the log stood at this seq.
    Joined(Seq),
    /// Left at this seq (their `member_left`).
    Left(Seq),
}

struct ConvEntry {
    /// Highest seq handed to this conversation's connections.
    delivered: Seq,
    conns: HashSet<ConnectionId>,
}

/// Why a resync after a LISTEN reconnect did not finish.
#[derive(Debug, thiserror::Error)]
#[error("resync: {0:?}")]
struct ResyncError(ApiError);

/// Starts the hub task.
pub fn spawn(pool: Pool, receipts: Option<ReceiptsHandle>) -> HubHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let hub = Hub {
        pool,
        receipts,
        round: Vec::new(),
        conns: HashMap::new(),
        convs: HashMap::new(),
        users: HashMap::new(),
        watchers: HashMap::new(),
        recent: VecDeque::new(),
        policy: None,
        media_jobs: None,
        workers: tokio::runtime::Handle::current().metrics().num_workers(),
    };
    tokio::spawn(hub.run(rx));
    HubHandle { tx }
}

struct Hub {
    pool: Pool,
    /// Where deliveries the hub wrote directly are reported, as connections report theirs.
    receipts: Option<ReceiptsHandle>,
    /// Events handed out since the last [`Hub::hand_out`], per conversation in seq order: each
    /// connection gets a round's events of a conversation in one write.
    round: Vec<(ConversationId, Vec<Arc<SharedEvent>>)>,
    conns: HashMap<ConnectionId, Conn>,
    convs: HashMap<ConversationId, ConvEntry>,
    users: HashMap<UserId, HashSet<ConnectionId>>,
    /// Whose presence which local connections hear: user → connections of their friends.
    watchers: HashMap<UserId, HashSet<ConnectionId>>,
    /// Membership changes of the last [`RECENT_FOR`], oldest first.
    recent: VecDeque<Recent>,
    /// Told when the word list changes.
    policy: Option<Arc<crate::policy::Policy>>,
    media_jobs: Option<Arc<tokio::sync::Notify>>,
    /// The runtime's worker threads: how many tasks a big round is split over.
    workers: usize,
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
                // Whatever is not an event follows the events handed out before it.
                if !matches!(cmd, Cmd::Notices(_)) {
                    self.hand_out().await;
                }
                match cmd {
                    Cmd::OnWords(p) => self.policy = Some(p),
                    Cmd::OnMediaJobs(j) => self.media_jobs = Some(j),
                    Cmd::Register(reg, done) => {
                        self.register(reg);
                        let _ = done.send(());
                    }
                    Cmd::Unregister(conn) => self.unregister(conn),
                    Cmd::Notices(list) => {
                        for n in list {
                            if !matches!(n, Announcement::Events { .. }) {
                                self.hand_out().await;
                            }
                            if let Announcement::Left { conversation_id, user_ids, seq } = n {
                                self.left(conversation_id, &user_ids, seq, &mut wanted).await;
                            } else {
                                self.notice(n, &mut wanted);
                            }
                        }
                    }
                    Cmd::Resync => resync = true,
                    Cmd::EvictAll(e, done) => {
                        for c in self.conns.values() {
                            c.target.mailbox.evict(e.clone());
                        }
                        let _ = done.send(self.conns.len());
                    }
                }
            }
            if resync {
                self.hand_out().await;
                if let Err(e) = self.resync(&mut wanted).await {
                    warn!("resync after LISTEN reconnect failed, will retry on next wake-up: {e}");
                }
            }
            self.fetch_and_deliver(wanted).await;
            self.hand_out().await;
        }
    }

    fn register(&mut self, reg: Registration) {
        let mut convs = HashSet::new();
        for (conv, seq) in &reg.memberships {
            self.subscribe(reg.conn, *conv, *seq);
            convs.insert(*conv);
        }
        self.users.entry(reg.user).or_default().insert(reg.conn);
        for f in &reg.friends {
            self.watchers.entry(*f).or_default().insert(reg.conn);
        }
        let friends = reg.friends.into_iter().collect();
        let conn = Conn {
            user: reg.user,
            session: reg.session,
            target: Arc::new(Target { user: reg.user, mailbox: reg.mailbox, lane: reg.lane, socket: reg.socket }),
            convs,
            friends,
        };
        self.conns.insert(reg.conn, conn);
        // The connection read its memberships before registering: changes announced in between
        // are applied now (a membership it read at a seq before a departure predates it).
        let read_at: HashMap<ConversationId, Seq> = reg.memberships.into_iter().collect();
        let changes: Vec<(ConversationId, Change)> =
            self.recent.iter().filter(|r| r.user == reg.user).map(|r| (r.conv, r.change)).collect();
        for (conv, change) in changes {
            let follows = self.conns.get(&reg.conn).is_some_and(|c| c.convs.contains(&conv));
            match change {
                Change::Joined(seq) if !follows => self.join(reg.conn, conv, seq),
                Change::Left(seq) if follows && read_at.get(&conv).is_some_and(|at| *at < seq) => {
                    self.unsubscribe(reg.conn, conv)
                }
                _ => {}
            }
        }
    }

    /// Makes `conn` hear `friend`'s presence, or stop hearing it.
    fn watch(&mut self, conn: ConnectionId, friend: UserId, on: bool) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if on {
            c.friends.insert(friend);
            self.watchers.entry(friend).or_default().insert(conn);
        } else {
            c.friends.remove(&friend);
            if let Some(set) = self.watchers.get_mut(&friend) {
                set.remove(&conn);
                if set.is_empty() {
                    self.watchers.remove(&friend);
                }
            }
        }
    }

    fn conns_of(&self, user: UserId) -> Vec<ConnectionId> {
        self.users.get(&user).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    fn subscribe(&mut self, conn: ConnectionId, conv: ConversationId, seq: Seq) {
        let entry = self.convs.entry(conv).or_insert_with(|| ConvEntry { delivered: seq, conns: HashSet::new() });
        entry.conns.insert(conn);
    }

    fn unregister(&mut self, conn: ConnectionId) {
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
        for f in c.friends {
            if let Some(set) = self.watchers.get_mut(&f) {
                set.remove(&conn);
                if set.is_empty() {
                    self.watchers.remove(&f);
                }
            }
        }
    }

    fn notice(&mut self, n: Announcement, wanted: &mut HashMap<ConversationId, Seq>) {
        match n {
            Announcement::Events { c, e } => {
                // Events that travelled whole go out now when they continue what was delivered
                // (and no fetch of their conversation is pending in this batch, which would
                // come first); the rest of each head is fetched.
                let mut inline = e.into_iter().peekable();
                for (conv, seq) in c {
                    let fetching = wanted.contains_key(&conv);
                    while let Some(ev) = inline.next_if(|ev| ev.conversation_id == conv) {
                        let next = self.convs.get(&conv).is_some_and(|e| ev.seq == e.delivered + 1);
                        if next && !fetching {
                            metrics::counter!("parley_hub_inline_events_total").increment(1);
                            self.deliver(ev);
                        }
                    }
                    if self.convs.get(&conv).is_some_and(|e| seq > e.delivered) {
                        let w = wanted.entry(conv).or_insert(seq);
                        *w = (*w).max(seq);
                    }
                }
            }
            Announcement::Members { conversation_id, user_ids, seq } => {
                for u in user_ids {
                    self.remember(u, conversation_id, Change::Joined(seq));
                    let conns: Vec<ConnectionId> =
                        self.users.get(&u).map(|s| s.iter().copied().collect()).unwrap_or_default();
                    for conn in conns {
                        self.join(conn, conversation_id, seq);
                    }
                }
            }
            Announcement::Revoked { session_id } => {
                for c in self.conns.values().filter(|c| c.session == session_id) {
                    c.target.mailbox.evict(Eviction {
                        code: ConnectionCode::SessionRevoked,
                        message: "this session was signed out".into(),
                    });
                }
            }
            Announcement::Read { receipt, all } => {
                self.receipt(receipt.conversation_id, receipt.user_id, all, Push::Read(receipt))
            }
            Announcement::Delivered { receipts } => {
                for (r, all) in receipts {
                    self.receipt(r.conversation_id, r.user_id, all, Push::Delivered(r));
                }
            }
            Announcement::Hidden { user_id, conversation_id, message_id, seq } => {
                for conn in self.conns_of(user_id) {
                    if let Some(c) = self.conns.get(&conn) {
                        Self::offer(c, Push::Hidden { conversation_id, message_id, seq });
                    }
                }
            }
            Announcement::Words => {
                if let Some(p) = &self.policy {
                    p.words_changed.notify_one();
                }
            }
            Announcement::MediaJob => {
                if let Some(j) = &self.media_jobs {
                    j.notify_one();
                }
            }
            Announcement::Typing(t) => self.broadcast(t.conversation_id, Push::Typing(t)),
            Announcement::Notice { user_id, notice } => {
                for conn in self.conns_of(user_id) {
                    if let Some(c) = self.conns.get(&conn) {
                        Self::offer(c, Push::Notice(notice.clone()));
                    }
                }
            }
            Announcement::Notices { to, created_at, body } => {
                for (user, id) in to {
                    let notice = Box::new(Notice { id, created_at, seen: false, body: (*body).clone() });
                    for conn in self.conns_of(user) {
                        if let Some(c) = self.conns.get(&conn) {
                            Self::offer(c, Push::Notice(notice.clone()));
                        }
                    }
                }
            }
            Announcement::Left { conversation_id, user_ids, .. } => {
                // Only reached without a fetch in between (see `left`): stop at once.
                for u in user_ids {
                    self.unsubscribe_user(u, conversation_id);
                }
            }
            Announcement::Friends { a, b, friends } => {
                debug!(%a, %b, friends, "friendship changed");
                for (me, other) in [(a, b), (b, a)] {
                    for conn in self.conns_of(me) {
                        self.watch(conn, other, friends);
                        if friends && let Some(c) = self.conns.get(&conn) {
                            Self::offer(c, Push::Befriended(other));
                        }
                    }
                }
            }
            Announcement::Presence { changes } => {
                debug!(?changes, "presence");
                for change in changes {
                    if let Some(set) = self.watchers.get(&change.user_id) {
                        for conn in set {
                            if let Some(c) = self.conns.get(conn) {
                                Self::offer(c, Push::Presence(change));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Users left `conv` at `seq`: first what was announced so far (their `member_left`
    /// included) is delivered, so they get every event up to it and none after; then their
    /// connections stop following it.
    async fn left(
        &mut self,
        conv: ConversationId,
        users: &[UserId],
        seq: Seq,
        wanted: &mut HashMap<ConversationId, Seq>,
    ) {
        for u in users {
            self.remember(*u, conv, Change::Left(seq));
        }
        let w = wanted.entry(conv).or_insert(seq);
        *w = (*w).max(seq);
        if self.users_follow(users, conv) {
            self.fetch_and_deliver(std::mem::take(wanted)).await;
        }
        // Everything up to the departure goes out before the departure does.
        self.hand_out().await;
        for u in users {
            self.unsubscribe_user(*u, conv);
        }
    }

    fn users_follow(&self, users: &[UserId], conv: ConversationId) -> bool {
        users
            .iter()
            .any(|u| self.conns_of(*u).iter().any(|c| self.conns.get(c).is_some_and(|c| c.convs.contains(&conv))))
    }

    /// `user`'s connections stop following `conv`, and are told.
    fn unsubscribe_user(&mut self, user: UserId, conv: ConversationId) {
        for conn in self.conns_of(user) {
            self.unsubscribe(conn, conv);
        }
    }

    /// `conn` stops following `conv`, and is told.
    fn unsubscribe(&mut self, conn: ConnectionId, conv: ConversationId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.convs.remove(&conv) {
            return;
        }
        Self::offer(c, Push::Left(conv));
        if let Some(entry) = self.convs.get_mut(&conv) {
            entry.conns.remove(&conn);
            if entry.conns.is_empty() {
                self.convs.remove(&conv);
            }
        }
    }

    /// Remembers a membership change for [`RECENT_FOR`] (see [`Recent`]).
    fn remember(&mut self, user: UserId, conv: ConversationId, change: Change) {
        let now = Instant::now();
        while self.recent.front().is_some_and(|r| now.duration_since(r.at) > RECENT_FOR) {
            self.recent.pop_front();
        }
        self.recent.push_back(Recent { at: now, user, conv, change });
    }

    fn join(&mut self, conn: ConnectionId, conv: ConversationId, seq: Seq) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.convs.insert(conv) {
            return;
        }
        let msg = Push::Joined(conv, seq);
        Self::offer(c, msg);
        self.subscribe(conn, conv, seq);
    }

    /// A receipt: to every connection following `conv` when `all`, else to `user`'s own.
    fn receipt(&self, conv: ConversationId, user: UserId, all: bool, msg: Push) {
        if all {
            return self.broadcast(conv, msg);
        }
        for conn in self.conns_of(user) {
            if let Some(c) = self.conns.get(&conn).filter(|c| c.convs.contains(&conv)) {
                Self::offer(c, msg.clone());
            }
        }
    }

    fn broadcast(&self, conv: ConversationId, msg: Push) {
        if let Some(entry) = self.convs.get(&conv) {
            for conn in &entry.conns {
                if let Some(c) = self.conns.get(conn) {
                    Self::offer(c, msg.clone());
                }
            }
        }
    }

    /// Queues `msg` for `c` ([`Mailbox::offer`]: a full queue marks it lagged instead).
    fn offer(c: &Conn, msg: Push) {
        c.target.mailbox.offer(msg);
    }

    /// After a LISTEN reconnect: every followed conversation may have missed events, followed
    /// users may have joined conversations, and sessions may have been revoked.
    async fn resync(&mut self, wanted: &mut HashMap<ConversationId, Seq>) -> Result<(), ResyncError> {
        for conv in self.convs.keys() {
            wanted.insert(*conv, Seq::MAX);
        }
        let db = db::get(&self.pool).await.map_err(ResyncError)?;
        let users: Vec<UserId> = self.users.keys().copied().collect();
        let mut joins = Vec::new();
        let mut gone = Vec::new();
        for u in users {
            let now: HashSet<ConversationId> = realtime::memberships(&*db, u)
                .await
                .map_err(ResyncError)?
                .into_iter()
                .map(|h| h.conversation_id)
                .collect();
            for conn in self.conns_of(u) {
                if let Some(c) = self.conns.get(&conn) {
                    gone.extend(c.convs.difference(&now).map(|conv| (u, *conv)));
                }
            }
            joins.extend(now.into_iter().map(|conv| (u, conv)));
        }
        // Left while notices were lost: stop before fetching (each connection reads up to its
        // `member_left` itself).
        for (u, conv) in gone {
            self.unsubscribe_user(u, conv);
        }
        for (u, conv) in joins {
            let conns: Vec<ConnectionId> = self.users.get(&u).map(|s| s.iter().copied().collect()).unwrap_or_default();
            for conn in conns {
                if !self.conns.get(&conn).is_some_and(|c| c.convs.contains(&conv)) {
                    self.join(conn, conv, 0);
                    wanted.insert(conv, Seq::MAX);
                }
            }
        }
        let sessions: Vec<SessionId> =
            self.conns.values().map(|c| c.session).collect::<HashSet<_>>().into_iter().collect();
        for s in sessions {
            if !realtime::session_active(&*db, s).await.map_err(ResyncError)? {
                self.notice(Announcement::Revoked { session_id: s }, wanted);
            }
        }
        // Friendships may have begun or ended, and presence changed, while notices were lost.
        let users: Vec<UserId> = self.users.keys().copied().collect();
        for u in users {
            let now: HashSet<UserId> = realtime::friend_ids(&*db, u).await.map_err(ResyncError)?.into_iter().collect();
            for conn in self.conns_of(u) {
                let before = self.conns.get(&conn).map(|c| c.friends.clone()).unwrap_or_default();
                for f in before.difference(&now) {
                    self.watch(conn, *f, false);
                }
                for f in now.difference(&before) {
                    self.watch(conn, *f, true);
                }
            }
        }
        for c in self.conns.values() {
            Self::offer(c, Push::PresenceResync);
        }
        Ok(())
    }

    /// Hands `ev`, the next event of a followed conversation, to the conversation's connections,
    /// its frame encoded once for all of them.
    fn deliver(&mut self, ev: Event) {
        let Some(entry) = self.convs.get_mut(&ev.conversation_id) else { return };
        entry.delivered = ev.seq;
        let conv = ev.conversation_id;
        let frame = Encoded::new(&ServerFrame::event(ev.clone()));
        let ev = Arc::new(SharedEvent { event: ev, frame });
        match self.round.iter_mut().find(|(c, _)| *c == conv) {
            Some((_, evs)) => evs.push(ev),
            None => self.round.push((conv, vec![ev])),
        }
    }

    /// Hands the round's events to their conversations' connections: written straight to the
    /// socket of each connection that can take them now (see [`crate::connection::lane`]), each
    /// conversation's events in one write, else offered to its mailbox. A conversation with
    /// many local connections is handed out by several tasks at once, each to its share; the
    /// hub waits for them all, so nothing it does next overtakes the round.
    async fn hand_out(&mut self) {
        let round = std::mem::take(&mut self.round);
        if round.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let mut written = 0u64;
        for (conv, evs) in round {
            let Some(entry) = self.convs.get(&conv) else { continue };
            // From the send's decision to its fan-out: the commit's second round trip, the
            // NOTIFY's way here and the hub's queue (wall clocks of this node and of the one
            // that committed it).
            let age = chrono::Utc::now() - evs[0].event.created_at.0;
            metrics::histogram!("parley_hub_event_age_seconds").record(age.as_seconds_f64().max(0.0));
            debug_assert!(
                evs.iter().enumerate().all(|(i, e)| e.event.seq == evs[0].event.seq + i as Seq),
                "a round's events of a conversation are consecutive"
            );
            let targets: Vec<Arc<Target>> =
                entry.conns.iter().filter_map(|c| self.conns.get(c)).map(|c| c.target.clone()).collect();
            // Only a round of one event is split: the hub is keeping up, the round's latency is
            // what members feel, and other cores are free to take a share. Several events
            // queued means the node is saturated: one task per round keeps each socket's
            // events coalesced in one write and leaves the other cores to the connections and
            // Postgres (split, such rounds took as long and the node delivered ~25% less at
            // 5,000-10,000 receivers on two cores).
            let parts = if evs.len() == 1 { self.workers.min(targets.len() / PART_MIN).max(1) } else { 1 };
            if parts > 1 {
                // Every part is a task of its own, the hub's share included: tokio puts a task
                // spawned on a worker into that worker's LIFO slot, which no other worker can
                // steal, so one part spawned beside the hub's own would wait for it and run
                // after it on the same thread (rounds took as long as unsplit ones). Each
                // further spawn moves the previous task to the worker's stealable queue and
                // wakes an idle worker to take it.
                // The parts share the round's list and take a range each: no reference count
                // of a target is touched again.
                let evs: Arc<[Arc<SharedEvent>]> = evs.into();
                let targets: Arc<[Arc<Target>]> = targets.into();
                let size = targets.len().div_ceil(parts);
                let tasks: Vec<_> = (0..targets.len())
                    .step_by(size)
                    .map(|from| {
                        let (targets, evs, receipts) = (targets.clone(), evs.clone(), self.receipts.clone());
                        let part = from..(from + size).min(targets.len());
                        tokio::spawn(async move { hand_to(&targets[part], conv, &evs, receipts.as_ref()) })
                    })
                    .collect();
                for t in tasks {
                    written += t.await.unwrap_or(0);
                }
            } else {
                written += hand_to(&targets, conv, &evs, self.receipts.as_ref());
            }
        }
        if written > 0 {
            metrics::counter!("parley_events_sent_total").increment(written);
            metrics::counter!("parley_hub_direct_events_total").increment(written);
        }
        metrics::histogram!("parley_hub_round_seconds").record(started.elapsed().as_secs_f64());
    }

    async fn fetch_and_deliver(&mut self, mut wanted: HashMap<ConversationId, Seq>) {
        let mut attempts = 0;
        while !wanted.is_empty() {
            let positions: Vec<(ConversationId, Seq)> =
                wanted.keys().filter_map(|c| self.convs.get(c).map(|e| (*c, e.delivered))).collect();
            if positions.is_empty() {
                return;
            }
            let fetched = match db::get(&self.pool).await {
                Ok(db) => realtime::events_after(&*db, &positions, FETCH_LIMIT).await,
                Err(e) => Err(e),
            };
            let evs = match fetched {
                Ok(evs) => evs,
                Err(e) => {
                    attempts += 1;
                    warn!("fetching events failed (attempt {attempts}): {e:?}");
                    if attempts >= 5 {
                        // Connections notice the gap on their next event and fill it themselves.
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
                // Never past what was announced: an event committed since (after a removal, say)
                // waits for its own notice, which comes after the removal's.
                if ev.seq <= entry.delivered || wanted.get(&conv).is_some_and(|w| ev.seq > *w) {
                    continue;
                }
                self.deliver(ev);
            }
            metrics::counter!("parley_hub_fetches_total").increment(1);
            // A conversation that filled its page may have more; the rest are done.
            wanted.retain(|c, w| {
                per_conv.get(c).is_some_and(|n| *n as i64 >= FETCH_LIMIT)
                    && self.convs.get(c).is_some_and(|e| e.delivered < *w)
            });
            debug!(remaining = wanted.len(), "hub fetch round done");
        }
    }
}
