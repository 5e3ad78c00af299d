//! The lane: what a connection's task and the hub share to write events to one client, so the
//! hub can write an event straight to the socket while the connection is idle, the way a
//! single-threaded server loops over its sockets, instead of waking a task per recipient.
//!
//! The lane holds the connection's seq positions. Whoever writes an event (the hub, directly, or
//! the connection's task) advances its conversation's position and queues its frame in one
//! critical section, so a conversation's frames reach the socket in seq order whoever wrote
//! them, and each seq at most once.
//!
//! The hub writes directly only when nothing else could come first: the client has synced (the
//! hold is over) and no sync is running, no push waits in the mailbox or is being applied,
//! nothing waits in the socket's queue, and the event is exactly the next of its conversation
//! ([`Lane::try_direct`]). Anything else goes through the mailbox and the connection's task,
//! which fills gaps, holds, catches up, as before.

use std::sync::{Arc, Mutex, MutexGuard};

use parley_shared::ids::{ConversationId, Seq};
use parley_shared::positions::{Positions, Verdict};

use super::encoded::Encoded;
use super::sink::DirectWrite;

/// One connection's lane.
#[derive(Debug)]
pub struct Lane {
    state: Mutex<LaneState>,
}

/// What the lane's lock guards.
#[derive(Debug)]
pub struct LaneState {
    /// The last seq written, per followed conversation.
    pub positions: Positions,
    /// Whether the hub may write directly (the hold is over and no sync is running).
    pub direct: bool,
}

/// What [`Lane::try_direct`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Direct {
    /// The frames are queued on the socket (and written as far as it took them).
    Queued,
    /// Not written: the mailbox and the connection's task take it.
    Declined,
}

impl Lane {
    /// A lane starting from these positions, not yet open to direct writes.
    pub fn new(positions: Positions) -> Lane {
        Lane { state: Mutex::new(LaneState { positions, direct: false }) }
    }

    /// The lane's state, locked. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().expect("lane lock")
    }

    /// Opens or closes the lane to the hub's direct writes.
    pub fn set_direct(&self, on: bool) {
        self.lock().direct = on;
    }

    /// The hub's direct write of consecutive events of `conv` (`events`, ascending, each with
    /// its frame): queued on `socket` if the lane is open, the socket's queue empty and the
    /// first event the next of its conversation. The caller has checked that no push waits.
    pub fn try_direct(
        &self,
        conv: ConversationId,
        first: Seq,
        frames: &[&Encoded],
        socket: &dyn DirectWrite,
    ) -> Direct {
        let mut st = self.lock();
        let next =
            matches!(st.positions.check(&conv, first), Verdict::Emit) && st.positions.get(&conv) == Some(first - 1);
        if !st.direct || !next || !socket.idle() {
            return Direct::Declined;
        }
        let last = first + frames.len() as Seq - 1;
        st.positions.advance(conv, last);
        for f in frames {
            socket.queue(f);
        }
        Direct::Queued
    }
}

/// A shared lane.
pub type SharedLane = Arc<Lane>;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use parley_shared::protocol::{RequestId, ServerFrame};

    use super::*;

    #[derive(Default)]
    struct Recorder {
        busy: AtomicBool,
        queued: AtomicUsize,
    }

    impl DirectWrite for Recorder {
        fn idle(&self) -> bool {
            !self.busy.load(Ordering::Relaxed)
        }
        fn queue(&self, _frame: &Encoded) {
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
        fn write_now(&self) -> std::io::Result<bool> {
            Ok(true)
        }
        fn full(&self) -> bool {
            false
        }
    }

    #[test]
    fn only_the_next_events_of_an_open_lane_with_an_idle_socket_are_written_directly() {
        let conv = ConversationId::new();
        let mut p = Positions::new();
        p.follow(conv, 4);
        let lane = Lane::new(p);
        let socket = Recorder::default();
        let f = Encoded::new(&ServerFrame::Pong { id: RequestId::Num(1) });
        assert_eq!(lane.try_direct(conv, 5, &[&f], &socket), Direct::Declined, "closed until the hold ends");
        lane.set_direct(true);
        assert_eq!(lane.try_direct(conv, 6, &[&f], &socket), Direct::Declined, "a gap is the task's to fill");
        assert_eq!(lane.try_direct(conv, 5, &[&f, &f], &socket), Direct::Queued);
        assert_eq!(lane.lock().positions.get(&conv), Some(6));
        assert_eq!(lane.try_direct(conv, 6, &[&f], &socket), Direct::Declined, "a duplicate is never written");
        socket.busy.store(true, Ordering::Relaxed);
        assert_eq!(lane.try_direct(conv, 7, &[&f], &socket), Direct::Declined, "behind queued bytes");
        assert_eq!(socket.queued.load(Ordering::Relaxed), 2);
        let other = ConversationId::new();
        socket.busy.store(false, Ordering::Relaxed);
        assert_eq!(lane.try_direct(other, 1, &[&f], &socket), Direct::Declined, "a conversation not followed");
    }
}
