//! The per-conversation seq position machine that makes a realtime stream exactly-once and in
//! order, shared by the node (what it has sent each connection) and the client SDK (what it has
//! emitted to the app). IO-free: it decides, its callers fetch and send.
//!
//! - [`Positions`]: the last seq handled per conversation; [`Positions::check`] says whether an
//!   arriving event is next ([`Verdict::Emit`]), old ([`Verdict::Duplicate`]) or after a hole
//!   ([`Verdict::Gap`], to be filled from the database or REST first).
//! - [`Hold`]: live items kept back until the client's first `sync` has been answered, so replayed
//!   and live events never interleave.
//! - [`SyncPlan`]: what a `sync` frame replays, and where each conversation's position ends up
//!   (including conversations cut at [`SYNC_REPLAY_LIMIT`], listed as truncated).
//!
//! The sync frame calls these positions `cursors` (its wire name); in the code a *cursor* is
//! only ever a page cursor of a REST list.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::ids::{ConversationId, Seq};
use crate::model::Event;
use crate::protocol::SYNC_REPLAY_LIMIT;

/// What to do with an arriving event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The next one (or the first seen of a conversation not followed yet): hand it on.
    Emit,
    /// Already handled (or older): drop it.
    Duplicate,
    /// Events `after + 1 ..= before - 1` are missing: fetch and hand those on, then this one.
    Gap {
        /// The last seq handled.
        after: Seq,
        /// The seq that arrived.
        before: Seq,
    },
}

/// The last seq handled, per conversation; and the conversations closed to this reader (they
/// left), whose later events are dropped until they are followed again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    seqs: BTreeMap<ConversationId, Seq>,
    closed: BTreeSet<ConversationId>,
}

impl Positions {
    /// Empty: every conversation's first event is taken as it comes.
    pub fn new() -> Positions {
        Positions::default()
    }

    /// Starts from these positions (a client's persisted state).
    pub fn from_map(seqs: BTreeMap<ConversationId, Seq>) -> Positions {
        Positions { seqs, closed: BTreeSet::new() }
    }

    /// The last seq handled for `conv`.
    pub fn get(&self, conv: &ConversationId) -> Option<Seq> {
        self.seqs.get(conv).copied()
    }

    /// Whether `conv` is followed.
    pub fn contains(&self, conv: &ConversationId) -> bool {
        self.seqs.contains_key(conv)
    }

    /// Follows `conv` from `seq` (events after it are next), reopening it if it was closed.
    /// Never moves a position back.
    pub fn follow(&mut self, conv: ConversationId, seq: Seq) {
        self.closed.remove(&conv);
        let e = self.seqs.entry(conv).or_insert(seq);
        *e = (*e).max(seq);
    }

    /// Puts `conv` at exactly `seq`, backwards too: a client asked for a replay from there.
    pub fn reset(&mut self, conv: ConversationId, seq: Seq) {
        self.closed.remove(&conv);
        self.seqs.insert(conv, seq);
    }

    /// Stops following `conv`: the reader left it. Its events are dropped from now on (even
    /// the first one seen), until it is followed again.
    pub fn close(&mut self, conv: ConversationId) {
        self.seqs.remove(&conv);
        self.closed.insert(conv);
    }

    /// What to do with event `seq` of `conv` (changes nothing).
    pub fn check(&self, conv: &ConversationId, seq: Seq) -> Verdict {
        if self.closed.contains(conv) {
            return Verdict::Duplicate;
        }
        match self.seqs.get(conv) {
            None => Verdict::Emit,
            Some(&last) if seq <= last => Verdict::Duplicate,
            Some(&last) if seq == last + 1 => Verdict::Emit,
            Some(&last) => Verdict::Gap { after: last, before: seq },
        }
    }

    /// Records that `seq` of `conv` was handled. Returns false (and changes nothing) if that
    /// would move the position back or repeat a seq.
    pub fn advance(&mut self, conv: ConversationId, seq: Seq) -> bool {
        if self.closed.contains(&conv) {
            return false;
        }
        match self.seqs.get_mut(&conv) {
            Some(last) if seq <= *last => false,
            Some(last) => {
                *last = seq;
                true
            }
            None => {
                self.seqs.insert(conv, seq);
                true
            }
        }
    }

    /// Every followed conversation and its position.
    pub fn iter(&self) -> impl Iterator<Item = (ConversationId, Seq)> + '_ {
        self.seqs.iter().map(|(c, s)| (*c, *s))
    }

    /// A copy of the positions (what a client puts in its `sync` frame).
    pub fn snapshot(&self) -> BTreeMap<ConversationId, Seq> {
        self.seqs.clone()
    }
}

/// Items held back while a connection waits for its client's first `sync`, bounded: past
/// `capacity` further items are dropped and [`Hold::release`] reports the overflow, so the caller
/// re-reads from the database instead of growing memory.
#[derive(Debug)]
pub struct Hold<T> {
    holding: bool,
    items: VecDeque<T>,
    capacity: usize,
    overflowed: bool,
}

/// What [`Hold::release`] hands back.
#[derive(Debug, PartialEq, Eq)]
pub struct Released<T> {
    /// The held items, in arrival order.
    pub items: Vec<T>,
    /// Whether items were dropped because the hold was full (read the rest from the database).
    pub overflowed: bool,
}

impl<T> Hold<T> {
    /// A hold that is holding, for at most `capacity` items.
    pub fn new(capacity: usize) -> Hold<T> {
        Hold { holding: true, items: VecDeque::new(), capacity, overflowed: false }
    }

    /// Whether items are still held back.
    pub fn is_holding(&self) -> bool {
        self.holding
    }

    /// Holds `item` while holding; otherwise gives it back to be handled now.
    pub fn offer(&mut self, item: T) -> Option<T> {
        if !self.holding {
            return Some(item);
        }
        if self.items.len() < self.capacity {
            self.items.push_back(item);
        } else {
            self.overflowed = true;
        }
        None
    }

    /// Stops holding and hands back what was held.
    pub fn release(&mut self) -> Released<T> {
        self.holding = false;
        let overflowed = std::mem::take(&mut self.overflowed);
        Released { items: self.items.drain(..).collect(), overflowed }
    }
}

/// What a `sync` frame asks of the database, given the client's positions and the user's
/// conversations with their last seqs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncPlan {
    /// Conversations the client listed (and is a member of), replayed after these seqs.
    pub listed: Vec<(ConversationId, Seq)>,
    /// The user's other conversations: only their latest event is sent, so the client learns
    /// they exist.
    pub unlisted: Vec<ConversationId>,
    heads: HashMap<ConversationId, Seq>,
    /// Listed conversations the user has left: replayed up to their `member_left` (this seq),
    /// then closed.
    ended: HashMap<ConversationId, Seq>,
}

/// The result of a sync: what to send, in order, and which conversations were cut.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    /// Events to send, each conversation in seq order.
    pub send: Vec<Event>,
    /// Conversations with more than [`SYNC_REPLAY_LIMIT`] missed events.
    pub truncated: Vec<ConversationId>,
}

impl SyncPlan {
    /// From the client's positions and the user's conversations, each with its last seq and the
    /// seq the user's view starts after (a replay never reaches before it), and the listed
    /// conversations they left, each with the seq their view ended at and where it started.
    /// Conversations the user never was a member of are ignored rather than revealed.
    pub fn new(
        wanted: &BTreeMap<ConversationId, Seq>,
        heads: HashMap<ConversationId, (Seq, Seq)>,
        left: HashMap<ConversationId, (Seq, Seq)>,
    ) -> SyncPlan {
        let mut listed = Vec::new();
        let mut ended = HashMap::new();
        for (c, s) in wanted {
            if let Some((_, floor)) = heads.get(c) {
                listed.push((*c, (*s).max(*floor).max(0)));
            } else if let Some((until, floor)) = left.get(c) {
                ended.insert(*c, *until);
                listed.push((*c, (*s).max(*floor).max(0)));
            }
        }
        let mut unlisted: Vec<ConversationId> = heads.keys().filter(|c| !wanted.contains_key(c)).copied().collect();
        unlisted.sort();
        SyncPlan { listed, unlisted, heads: heads.into_iter().map(|(c, (head, _))| (c, head)).collect(), ended }
    }

    /// How many events to fetch per listed conversation: one more than the replay limit, to know
    /// whether it was cut.
    pub const FETCH_PER_CONVERSATION: i64 = SYNC_REPLAY_LIMIT + 1;

    /// Decides what to send from `replay` (events of listed conversations after their listed
    /// seqs, up to [`Self::FETCH_PER_CONVERSATION`] each, in seq order per conversation) and
    /// `latest` (the latest event of unlisted conversations), and moves `positions`: listed
    /// conversations start from the client's seq, truncated ones continue from their head.
    pub fn resolve(self, positions: &mut Positions, replay: Vec<Event>, latest: Vec<Event>) -> SyncOutcome {
        for (c, s) in &self.listed {
            positions.reset(*c, *s);
        }
        let mut send = Vec::with_capacity(replay.len() + latest.len());
        let mut count: HashMap<ConversationId, i64> = HashMap::new();
        for ev in replay {
            if self.ended.get(&ev.conversation_id).is_some_and(|until| ev.seq > *until) {
                continue;
            }
            let n = count.entry(ev.conversation_id).or_default();
            *n += 1;
            if *n <= SYNC_REPLAY_LIMIT && positions.advance(ev.conversation_id, ev.seq) {
                send.push(ev);
            }
        }
        let mut truncated: Vec<ConversationId> =
            count.into_iter().filter(|(_, n)| *n > SYNC_REPLAY_LIMIT).map(|(c, _)| c).collect();
        truncated.sort();
        for c in &truncated {
            // The client pages the middle over REST; live delivery resumes from the head.
            positions.follow(*c, self.heads.get(c).copied().unwrap_or(0));
        }
        for ev in latest {
            positions.reset(ev.conversation_id, ev.seq - 1);
            positions.advance(ev.conversation_id, ev.seq);
            send.push(ev);
        }
        for c in &self.unlisted {
            positions.follow(*c, self.heads.get(c).copied().unwrap_or(0));
        }
        for c in self.ended.keys() {
            positions.close(*c);
        }
        SyncOutcome { send, truncated }
    }
}

/// The events of several syncs, fetched once: every distinct cursor of every plan in the batch
/// (`(conversation, after)`, each answered with the first `per_conversation` events after it)
/// pooled per conversation in seq order. One plan's share is, for each of its cursors, the
/// first `per_conversation` pooled events after it: exactly what its own fetch would have
/// returned, since the pool holds that fetch's rows and nothing between them.
#[derive(Debug, Default)]
pub struct PooledReplay {
    by_conversation: HashMap<ConversationId, Vec<Event>>,
}

impl PooledReplay {
    /// Pools the fetched rows (duplicates, from cursors of one conversation, count once).
    pub fn new(fetched: Vec<Event>) -> PooledReplay {
        let mut by_conversation: HashMap<ConversationId, Vec<Event>> = HashMap::new();
        for ev in fetched {
            by_conversation.entry(ev.conversation_id).or_default().push(ev);
        }
        for evs in by_conversation.values_mut() {
            evs.sort_by_key(|e| e.seq);
            evs.dedup_by_key(|e| e.seq);
        }
        PooledReplay { by_conversation }
    }

    /// The events `listed` would have fetched, in its order.
    pub fn share(&self, listed: &[(ConversationId, Seq)], per_conversation: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for (c, after) in listed {
            if let Some(evs) = self.by_conversation.get(c) {
                let from = evs.partition_point(|e| e.seq <= *after);
                out.extend(evs[from..].iter().take(per_conversation.max(0) as usize).cloned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{EventId, UserId};
    use crate::model::EventBody;
    use crate::time::Timestamp;

    fn ev(conv: ConversationId, seq: Seq) -> Event {
        Event {
            id: EventId::new(),
            conversation_id: conv,
            seq,
            sender_id: UserId::new(),
            created_at: Timestamp::now(),
            body: EventBody::MemberJoined { user_id: UserId::new(), via: None, role: None },
        }
    }

    #[test]
    fn emits_each_seq_once_in_order_and_reports_gaps() {
        let a = ConversationId::new();
        let b = ConversationId::new();
        let mut p = Positions::new();
        // Unknown conversation: the first event is the baseline.
        assert_eq!(p.check(&a, 7), Verdict::Emit);
        assert!(p.advance(a, 7));
        assert_eq!(p.check(&a, 7), Verdict::Duplicate);
        assert_eq!(p.check(&a, 3), Verdict::Duplicate);
        assert_eq!(p.check(&a, 8), Verdict::Emit);
        assert_eq!(p.check(&a, 10), Verdict::Gap { after: 7, before: 10 });
        assert!(!p.advance(a, 6));
        assert!(!p.advance(a, 7));
        assert_eq!(p.get(&a), Some(7));
        // Followed from 0: seq 1 is next, 2 is a gap.
        p.follow(b, 0);
        assert_eq!(p.check(&b, 2), Verdict::Gap { after: 0, before: 2 });
        assert_eq!(p.check(&b, 1), Verdict::Emit);
        p.follow(b, 5);
        p.follow(b, 3);
        assert_eq!(p.get(&b), Some(5));
        p.reset(b, 2);
        assert_eq!(p.get(&b), Some(2));
        let snap = p.snapshot();
        assert_eq!(snap.get(&a), Some(&7));
        assert_eq!(Positions::from_map(snap.clone()).snapshot(), snap);
    }

    #[test]
    fn a_replayed_and_live_mix_comes_out_exactly_once_in_order() {
        let conv = ConversationId::new();
        let mut p = Positions::new();
        p.follow(conv, 0);
        // Live frames from the old node, then a sync replay on the new one overlapping them.
        let arrivals = [1, 2, 3, 2, 3, 4, 5, 4, 6, 6, 7];
        let mut out = Vec::new();
        for s in arrivals {
            if p.check(&conv, s) == Verdict::Emit {
                assert!(p.advance(conv, s));
                out.push(s);
            }
        }
        assert_eq!(out, (1..=7).collect::<Vec<_>>());
    }

    #[test]
    fn a_gap_is_filled_before_the_event_that_revealed_it() {
        let conv = ConversationId::new();
        let mut p = Positions::new();
        p.follow(conv, 2);
        let Verdict::Gap { after, before } = p.check(&conv, 6) else { panic!("a gap") };
        assert_eq!((after, before), (2, 6));
        // The caller fetches after..before and hands those on first.
        for s in after + 1..before {
            assert_eq!(p.check(&conv, s), Verdict::Emit);
            p.advance(conv, s);
        }
        assert_eq!(p.check(&conv, 6), Verdict::Emit);
    }

    #[test]
    fn hold_keeps_items_until_released_and_reports_overflow() {
        let mut h = Hold::new(2);
        assert!(h.is_holding());
        assert_eq!(h.offer(1), None);
        assert_eq!(h.offer(2), None);
        assert_eq!(h.offer(3), None, "dropped, not handed back");
        assert_eq!(h.release(), Released { items: vec![1, 2], overflowed: true });
        assert!(!h.is_holding());
        assert_eq!(h.offer(4), Some(4), "after release items pass straight through");
        assert_eq!(h.release(), Released { items: vec![], overflowed: false });
    }

    #[test]
    fn sync_replays_listed_from_the_client_and_only_the_latest_of_the_others() {
        let (a, b, c, stranger) =
            (ConversationId::new(), ConversationId::new(), ConversationId::new(), ConversationId::new());
        let heads: HashMap<_, _> = [(a, (5, 0)), (b, (9, 0)), (c, (0, 0))].into_iter().collect();
        let wanted: BTreeMap<_, _> = [(a, 2), (stranger, 0)].into_iter().collect();
        let plan = SyncPlan::new(&wanted, heads, HashMap::new());
        assert_eq!(plan.listed, vec![(a, 2)], "not a member of `stranger`: ignored");
        let mut unlisted = vec![b, c];
        unlisted.sort();
        assert_eq!(plan.unlisted, unlisted);
        let mut p = Positions::new();
        p.follow(a, 5); // a live event the connection had already sent
        let out = plan.resolve(&mut p, vec![ev(a, 3), ev(a, 4), ev(a, 5)], vec![ev(b, 9)]);
        let sent: Vec<(ConversationId, Seq)> = out.send.iter().map(|e| (e.conversation_id, e.seq)).collect();
        assert_eq!(sent, vec![(a, 3), (a, 4), (a, 5), (b, 9)]);
        assert!(out.truncated.is_empty());
        assert_eq!(p.get(&a), Some(5));
        assert_eq!(p.get(&b), Some(9));
        assert_eq!(p.get(&c), Some(0), "an empty conversation is followed from its head");
    }

    #[test]
    fn sync_never_replays_from_before_the_users_view() {
        let conv = ConversationId::new();
        let heads: HashMap<_, _> = [(conv, (20, 12))].into_iter().collect();
        let wanted: BTreeMap<_, _> = [(conv, 0)].into_iter().collect();
        assert_eq!(SyncPlan::new(&wanted, heads.clone(), HashMap::new()).listed, vec![(conv, 12)], "joined at 12");
        let wanted: BTreeMap<_, _> = [(conv, 15)].into_iter().collect();
        assert_eq!(SyncPlan::new(&wanted, heads, HashMap::new()).listed, vec![(conv, 15)]);
    }

    #[test]
    fn sync_replays_a_left_conversation_up_to_the_leaving_then_closes_it() {
        let (stay, left, never) = (ConversationId::new(), ConversationId::new(), ConversationId::new());
        let heads: HashMap<_, _> = [(stay, (3, 0))].into_iter().collect();
        let gone: HashMap<_, _> = [(left, (5, 1))].into_iter().collect();
        let wanted: BTreeMap<_, _> = [(stay, 3), (left, 0), (never, 0)].into_iter().collect();
        let plan = SyncPlan::new(&wanted, heads, gone);
        let mut listed = plan.listed.clone();
        listed.sort();
        let mut want = vec![(stay, 3), (left, 1)];
        want.sort();
        assert_eq!(listed, want, "from the client's seq, never before the view's start; `never` ignored");
        let mut p = Positions::new();
        // The fetch may return events past the leaving (committed since): never sent.
        let replay: Vec<Event> = (2..=7).map(|s| ev(left, s)).collect();
        let out = plan.resolve(&mut p, replay, vec![]);
        assert_eq!(out.send.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
        assert!(!p.contains(&left), "closed after the replay");
        assert_eq!(p.check(&left, 6), Verdict::Duplicate, "a late live event of it is dropped");
        assert_eq!(p.check(&never, 1), Verdict::Emit);
        p.follow(left, 9);
        assert_eq!(p.check(&left, 10), Verdict::Emit, "rejoined: followed again");
    }

    #[test]
    fn sync_cuts_at_the_limit_and_continues_from_the_head() {
        let conv = ConversationId::new();
        let head = SYNC_REPLAY_LIMIT + 500;
        let heads: HashMap<_, _> = [(conv, (head, 0))].into_iter().collect();
        let wanted: BTreeMap<_, _> = [(conv, 0)].into_iter().collect();
        let plan = SyncPlan::new(&wanted, heads, HashMap::new());
        let replay: Vec<Event> = (1..=SyncPlan::FETCH_PER_CONVERSATION).map(|s| ev(conv, s)).collect();
        let mut p = Positions::new();
        let out = plan.resolve(&mut p, replay, vec![]);
        assert_eq!(out.send.len() as i64, SYNC_REPLAY_LIMIT);
        assert_eq!(out.send.last().map(|e| e.seq), Some(SYNC_REPLAY_LIMIT));
        assert_eq!(out.truncated, vec![conv]);
        assert_eq!(p.get(&conv), Some(head), "live events resume after the head");
        assert_eq!(p.check(&conv, head + 1), Verdict::Emit);
    }

    #[test]
    fn a_pooled_replay_gives_each_cursor_what_its_own_fetch_would() {
        let (a, b) = (ConversationId::new(), ConversationId::new());
        let per = 3;
        // What after_many returns for cursors (a, 0), (a, 2), (b, 5): each its first 3 after.
        let fetched: Vec<Event> = [(a, 1), (a, 2), (a, 3), (a, 3), (a, 4), (a, 5), (b, 6), (b, 7)]
            .into_iter()
            .map(|(c, s)| ev(c, s))
            .collect();
        let pool = PooledReplay::new(fetched);
        let seqs = |listed: &[(ConversationId, Seq)]| -> Vec<(ConversationId, Seq)> {
            pool.share(listed, per).iter().map(|e| (e.conversation_id, e.seq)).collect()
        };
        assert_eq!(seqs(&[(a, 0)]), vec![(a, 1), (a, 2), (a, 3)]);
        assert_eq!(seqs(&[(a, 2), (b, 5)]), vec![(a, 3), (a, 4), (a, 5), (b, 6), (b, 7)]);
        assert_eq!(seqs(&[(b, 7)]), vec![]);
        assert_eq!(seqs(&[(ConversationId::new(), 0)]), vec![]);
    }
}
