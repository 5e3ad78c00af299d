//! The per-conversation cursor that makes the event stream exactly-once and in order: an event
//! is emitted only if it is the next seq of its conversation; repeats are dropped; a jump
//! forward is a gap to fill (over REST) before the event may be emitted.

use std::collections::BTreeMap;

use parley_shared::ids::{ConversationId, Seq};

/// What to do with an incoming event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The next one (or the first seen of a conversation the client did not follow): emit it.
    Emit,
    /// Already emitted (or older): drop it.
    Duplicate,
    /// Events `after + 1 ..= before - 1` are missing: fetch them, emit them, then this one.
    Gap {
        /// The last seq emitted.
        after: Seq,
        /// The seq that arrived.
        before: Seq,
    },
}

/// Last emitted seq per conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursors {
    seqs: BTreeMap<ConversationId, Seq>,
}

impl Cursors {
    /// Empty: every conversation's first event is taken as it comes.
    pub fn new() -> Cursors {
        Cursors::default()
    }

    /// Starts from these positions (the app's persisted state).
    pub fn from_map(seqs: BTreeMap<ConversationId, Seq>) -> Cursors {
        Cursors { seqs }
    }

    /// The last seq emitted for `conv`.
    pub fn get(&self, conv: &ConversationId) -> Option<Seq> {
        self.seqs.get(conv).copied()
    }

    /// Follows `conv` from `seq` (events after it will be emitted, gaps filled). Never moves a
    /// cursor backwards.
    pub fn follow(&mut self, conv: ConversationId, seq: Seq) {
        let e = self.seqs.entry(conv).or_insert(seq);
        *e = (*e).max(seq);
    }

    /// What to do with event `seq` of `conv` (does not change anything).
    pub fn check(&self, conv: &ConversationId, seq: Seq) -> Verdict {
        match self.seqs.get(conv) {
            None => Verdict::Emit,
            Some(&last) if seq <= last => Verdict::Duplicate,
            Some(&last) if seq == last + 1 => Verdict::Emit,
            Some(&last) => Verdict::Gap { after: last, before: seq },
        }
    }

    /// Records that `seq` of `conv` was emitted. Returns false (and changes nothing) if that
    /// would move the cursor backwards or repeat a seq.
    pub fn advance(&mut self, conv: ConversationId, seq: Seq) -> bool {
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

    /// The cursors to put in a `sync` frame.
    pub fn snapshot(&self) -> BTreeMap<ConversationId, Seq> {
        self.seqs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_each_seq_once_in_order_and_reports_gaps() {
        let a = ConversationId::new();
        let b = ConversationId::new();
        let mut c = Cursors::new();
        // Unknown conversation: the first event is the baseline.
        assert_eq!(c.check(&a, 7), Verdict::Emit);
        assert!(c.advance(a, 7));
        assert_eq!(c.check(&a, 7), Verdict::Duplicate);
        assert_eq!(c.check(&a, 3), Verdict::Duplicate);
        assert_eq!(c.check(&a, 8), Verdict::Emit);
        assert_eq!(c.check(&a, 10), Verdict::Gap { after: 7, before: 10 });
        assert!(!c.advance(a, 6));
        assert!(!c.advance(a, 7));
        assert_eq!(c.get(&a), Some(7));
        // Followed from 0: seq 1 is next, 2 is a gap.
        c.follow(b, 0);
        assert_eq!(c.check(&b, 2), Verdict::Gap { after: 0, before: 2 });
        assert_eq!(c.check(&b, 1), Verdict::Emit);
        c.follow(b, 5);
        c.follow(b, 3);
        assert_eq!(c.get(&b), Some(5));
        let snap = c.snapshot();
        assert_eq!(snap.get(&a), Some(&7));
        assert_eq!(snap.get(&b), Some(&5));
        assert_eq!(Cursors::from_map(snap.clone()).snapshot(), snap);
    }

    #[test]
    fn a_replayed_and_live_mix_comes_out_exactly_once_in_order() {
        let conv = ConversationId::new();
        let mut c = Cursors::new();
        c.follow(conv, 0);
        // Live frames from the old node, then a sync replay on the new one overlapping them.
        let arrivals = [1, 2, 3, 2, 3, 4, 5, 4, 6, 6, 7];
        let mut out = Vec::new();
        for s in arrivals {
            if c.check(&conv, s) == Verdict::Emit {
                assert!(c.advance(conv, s));
                out.push(s);
            }
        }
        assert_eq!(out, (1..=7).collect::<Vec<_>>());
    }
}
