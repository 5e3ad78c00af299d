//! What the hub hands one connection: its queued pushes, and the signals that must get through
//! even when that queue is full (lag, eviction), behind one wake-up.
//!
//! A plain queue under a lock rather than a channel: a bounded tokio channel allocates a block of
//! 32 slots when it is made, ~1.6 KiB per connection whether anything ever arrives; this queue
//! holds no memory while empty, and the connection takes everything queued in one go (the
//! coalescing its writes want anyway).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

use super::hub::{Eviction, Push};

/// Pushes a connection may have queued; past this it is marked lagged and catches up from the
/// database instead of growing memory.
pub const CONNECTION_QUEUE: usize = 4096;

/// Most queue slots an emptied queue keeps for the next pushes; a burst's larger buffer is
/// freed, so an idle connection holds at most this.
const KEEP_SLOTS: usize = 8;

/// One connection's mailbox, shared by the hub (which offers) and the connection (which takes).
#[derive(Debug, Default)]
pub struct Mailbox {
    pushes: Mutex<VecDeque<Push>>,
    /// Pushes offered and not yet applied by the connection (queued, or taken and in hand):
    /// while any is, the hub writes nothing directly (it could overtake them).
    unapplied: AtomicUsize,
    /// Set when a push was dropped because the queue was full.
    lagged: AtomicBool,
    /// Set when the hub left direct writes queued on the socket: the connection's task writes
    /// them out (waiting for a slow client, bounded by its write timeout).
    flush: AtomicBool,
    /// Set when the node wants the connection closed.
    eviction: Mutex<Option<Eviction>>,
    /// Wakes the connection to look at all of the above.
    wake: Notify,
}

/// What the hub did with a push.
#[derive(Debug, PartialEq, Eq)]
pub enum Offered {
    /// Queued.
    Queued,
    /// The queue was full: dropped, and the connection marked lagged.
    Lagged,
}

impl Mailbox {
    /// Queues `push` and wakes the connection; a full queue marks it lagged instead (it re-reads
    /// the database), so neither the hub blocks nor memory grows without bound.
    pub fn offer(&self, push: Push) -> Offered {
        let offered = {
            let mut q = self.pushes.lock().expect("mailbox lock");
            if q.len() >= CONNECTION_QUEUE {
                self.lagged.store(true, Ordering::Release);
                Offered::Lagged
            } else {
                q.push_back(push);
                self.unapplied.fetch_add(1, Ordering::AcqRel);
                Offered::Queued
            }
        };
        self.wake.notify_one();
        offered
    }

    /// Whether the hub may write to the connection directly: every push offered was applied
    /// and none was dropped. Only the hub offers, so a true answer holds until it offers again.
    pub fn quiet(&self) -> bool {
        self.unapplied.load(Ordering::Acquire) == 0 && !self.lagged.load(Ordering::Acquire)
    }

    /// The connection applied `n` pushes it took.
    pub fn applied(&self, n: usize) {
        self.unapplied.fetch_sub(n, Ordering::AcqRel);
    }

    /// Asks the connection's task to write out what the hub left queued on its socket.
    pub fn request_flush(&self) {
        self.flush.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether a flush was asked for since the last call.
    pub fn take_flush(&self) -> bool {
        self.flush.swap(false, Ordering::AcqRel)
    }

    /// Asks the connection to close.
    pub fn evict(&self, e: Eviction) {
        *self.eviction.lock().expect("mailbox lock") = Some(e);
        self.wake.notify_one();
    }

    /// Waits until something was offered or signalled since the last wake-up (at once if it was).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// The eviction asked for, if any.
    pub fn take_eviction(&self) -> Option<Eviction> {
        self.eviction.lock().expect("mailbox lock").take()
    }

    /// Whether pushes were dropped since the last call (the connection must catch up).
    pub fn take_lagged(&self) -> bool {
        self.lagged.swap(false, Ordering::AcqRel)
    }

    /// Moves every queued push into `into` (empty), leaving it `into`'s buffer for the next ones.
    pub fn take_pushes(&self, into: &mut VecDeque<Push>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut *self.pushes.lock().expect("mailbox lock"), into);
    }
}

/// Empties a buffer the connection took pushes into, keeping at most [`KEEP_SLOTS`] of it.
pub fn recycle(buf: &mut VecDeque<Push>) {
    buf.clear();
    if buf.capacity() > KEEP_SLOTS {
        *buf = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pushes_wake_once_and_come_out_in_order() {
        let m = Mailbox::default();
        assert_eq!(m.offer(Push::PresenceResync), Offered::Queued);
        assert_eq!(m.offer(Push::Befriended(parley_shared::ids::UserId::new())), Offered::Queued);
        // The permit stored by the offers: no wait.
        m.woken().await;
        let mut got = VecDeque::new();
        m.take_pushes(&mut got);
        assert!(matches!(got[0], Push::PresenceResync) && matches!(got[1], Push::Befriended(_)));
        assert!(!m.quiet(), "taken is not applied");
        m.applied(2);
        assert!(m.quiet());
        recycle(&mut got);
        let mut again = VecDeque::new();
        m.take_pushes(&mut again);
        assert!(again.is_empty());
    }

    #[test]
    fn a_full_queue_marks_the_connection_lagged_and_holds_no_more() {
        let m = Mailbox::default();
        for _ in 0..CONNECTION_QUEUE {
            assert_eq!(m.offer(Push::PresenceResync), Offered::Queued);
        }
        assert_eq!(m.offer(Push::PresenceResync), Offered::Lagged);
        assert!(m.take_lagged());
        assert!(!m.take_lagged(), "reported once");
        let mut got = VecDeque::new();
        m.take_pushes(&mut got);
        assert_eq!(got.len(), CONNECTION_QUEUE);
        recycle(&mut got);
        assert_eq!(got.capacity(), 0, "a burst's buffer is freed");
    }
}
