//! From the hub to the client: every push passes the hold (until the first sync), then the
//! connection's seq positions, which send each event once and in order and fill gaps from the
//! database first. Also the catch-up after the connection lagged behind the hub.

use parley_shared::ids::{ConversationId, Seq};
use parley_shared::model::Event;
use parley_shared::model::PresenceChange;
use parley_shared::positions::Verdict;
use parley_shared::protocol::{SYNC_REPLAY_LIMIT, ServerFrame};
use parley_shared::service::{self, realtime};
use tracing::warn;

use super::sink::{FrameSink, SinkError};
use super::{Connection, Encoded};
use crate::db;
use crate::fanout::hub::Push;

impl<S: FrameSink> Connection<S> {
    /// A push from the hub: held until the first sync, applied after.
    pub(crate) async fn on_push(&mut self, push: Push) -> Result<(), SinkError> {
        match self.hold.offer(push) {
            None => Ok(()),
            Some(push) => self.apply(push).await,
        }
    }

    async fn apply(&mut self, push: Push) -> Result<(), SinkError> {
        match push {
            Push::Event(ev) => self.deliver(&ev.event, Some(&ev.frame)).await,
            Push::Joined(conv, seq) => {
                // Follow from the seq the conversation had when the user joined, unless
                // already followed.
                let mut lane = self.lane.lock();
                if !lane.positions.contains(&conv) {
                    lane.positions.follow(conv, seq);
                }
                Ok(())
            }
            Push::Left(conv) => self.leave(&[conv]).await,
            Push::Read(r) => self.send(&ServerFrame::Read(r)).await,
            // A user's own devices need not hear that they received something.
            Push::Delivered(r) if r.user_id == self.claims.user_id => Ok(()),
            Push::Delivered(r) => self.send(&ServerFrame::Delivered(r)).await,
            Push::Hidden { conversation_id, message_id, seq } => {
                self.send(&ServerFrame::MessageHidden { conversation_id, message_id, seq }).await
            }
            Push::Typing(t) => {
                if t.user_id == self.claims.user_id {
                    return Ok(());
                }
                self.send(&ServerFrame::Typing(t)).await
            }
            Push::Notice(n) => self.send(&ServerFrame::Notice(n)).await,
            Push::Presence(p) => self.send(&ServerFrame::Presence(p)).await,
            Push::Befriended(friend) => {
                let view = match db::get(&self.node.pool).await {
                    Ok(db) => service::presence::view(&*db, friend).await,
                    Err(e) => Err(e),
                };
                match view {
                    Ok(v) if v.online == Some(true) => {
                        self.send(&ServerFrame::Presence(PresenceChange {
                            user_id: friend,
                            online: true,
                            last_seen_at: None,
                        }))
                        .await
                    }
                    Ok(_) => Ok(()),
                    Err(e) => {
                        warn!("presence of a new friend: {e:?}");
                        Ok(())
                    }
                }
            }
            Push::PresenceResync => {
                let online = match db::get(&self.node.pool).await {
                    Ok(db) => service::presence::online_friends(&*db, self.claims.user_id).await,
                    Err(e) => Err(e),
                };
                match online {
                    Ok(online) => self.send(&ServerFrame::PresenceSnapshot { online }).await,
                    Err(e) => {
                        warn!("presence snapshot: {e:?}");
                        Ok(())
                    }
                }
            }
        }
    }

    /// Sends `ev` (its `frame` when the hub encoded it already) if it is the next event of its
    /// conversation, filling any gap before it.
    pub(crate) async fn deliver(&mut self, ev: &Event, frame: Option<&Encoded>) -> Result<(), SinkError> {
        let conv = ev.conversation_id;
        let verdict = self.lane.lock().positions.check(&conv, ev.seq);
        match verdict {
            Verdict::Duplicate => Ok(()),
            Verdict::Emit => self.send_event_as(ev, frame).await,
            Verdict::Gap { after, before } => {
                metrics::counter!("parley_connection_gap_fills_total").increment(1);
                if !self.fill_gap(conv, after, before).await? {
                    // Never skip over a gap: drop this event too; the next one (or the client's
                    // sync) retries the fill.
                    return Ok(());
                }
                self.send_event_as(ev, frame).await
            }
        }
    }

    /// Sends `after + 1 ..= before - 1` from the database. False when they could not all be
    /// read (a seq commits only after every lower one, so they always should be).
    async fn fill_gap(&mut self, conv: ConversationId, after: Seq, before: Seq) -> Result<bool, SinkError> {
        let missing = match db::get(&self.node.pool).await {
            Ok(db) => realtime::events_for(&*db, self.claims.user_id, &[(conv, after)], before - after - 1).await,
            Err(e) => Err(e),
        };
        match missing {
            Ok(list) => {
                for m in &list {
                    self.send_event(m).await?;
                }
                let filled = self.lane.lock().positions.get(&conv) == Some(before - 1);
                if !filled {
                    warn!(%conv, seq = before, "gap not filled; waiting for the next event");
                }
                Ok(filled)
            }
            Err(e) => {
                warn!("gap fill failed: {e:?}");
                Ok(false)
            }
        }
    }

    /// Sends an event whose seq is past the conversation's position, and advances it.
    pub(crate) async fn send_event(&mut self, ev: &Event) -> Result<(), SinkError> {
        self.send_event_as(ev, None).await
    }

    /// [`Self::send_event`] with the event's frame, when it was encoded already.
    async fn send_event_as(&mut self, ev: &Event, frame: Option<&Encoded>) -> Result<(), SinkError> {
        let conv = ev.conversation_id;
        if self.lane.lock().positions.check(&conv, ev.seq) == Verdict::Duplicate {
            return Ok(());
        }
        let frame = match frame {
            Some(f) => f.clone(),
            None => Encoded::new(&ServerFrame::event(ev.clone())),
        };
        match self.direct.clone() {
            Some(socket) => {
                // Advanced and queued in one critical section with the hub's direct writes:
                // whoever writes a conversation's events, they reach the socket in seq order.
                {
                    let mut lane = self.lane.lock();
                    if !lane.positions.advance(conv, ev.seq) {
                        return Ok(());
                    }
                    socket.queue(&frame);
                }
                self.events_sent += 1;
                self.delivered(ev);
                if !self.corked {
                    self.uncork().await
                } else if socket.full() {
                    self.flush_sink().await
                } else {
                    Ok(())
                }
            }
            None => {
                if !self.lane.lock().positions.advance(conv, ev.seq) {
                    return Ok(());
                }
                self.events_sent += 1;
                self.write(frame).await?;
                self.delivered(ev);
                Ok(())
            }
        }
    }

    /// Notes that `ev` was written to the client, for the delivered receipts: reported at the
    /// next flush, one report per conversation however many events the flush carried.
    pub(crate) fn delivered(&mut self, ev: &Event) {
        if self.node.receipts.is_none() || ev.sender_id == self.claims.user_id {
            return;
        }
        match self.delivered_marks.iter_mut().find(|(c, _)| *c == ev.conversation_id) {
            Some((_, seq)) => *seq = (*seq).max(ev.seq),
            None => self.delivered_marks.push((ev.conversation_id, ev.seq)),
        }
    }

    /// Hands the marks noted since the last flush to the node's receipts batcher.
    pub(crate) fn report_delivered(&mut self) {
        if let Some(r) = &self.node.receipts
            && !self.delivered_marks.is_empty()
        {
            let user = self.claims.user_id;
            r.delivered(self.delivered_marks.drain(..).map(|(conv, seq)| (conv, user, seq)).collect());
        }
    }

    /// The user left these conversations: sends what they may still see of each (up to their
    /// `member_left`, in case the hub's copy was lost), then closes them.
    async fn leave(&mut self, convs: &[ConversationId]) -> Result<(), SinkError> {
        let followed: Vec<(ConversationId, Seq)> =
            convs.iter().filter_map(|c| self.lane.lock().positions.get(c).map(|s| (*c, s))).collect();
        if !followed.is_empty() {
            let ends = match db::get(&self.node.pool).await {
                Ok(db) => {
                    let ids: Vec<ConversationId> = followed.iter().map(|(c, _)| *c).collect();
                    match realtime::left(&*db, self.claims.user_id, &ids).await {
                        Ok(ends) => {
                            let rest: Vec<(ConversationId, Seq)> = followed
                                .iter()
                                .filter_map(|(c, at)| {
                                    ends.iter().find(|f| f.conversation_id == *c && f.left_seq > *at).map(|_| (*c, *at))
                                })
                                .collect();
                            realtime::events_for(&*db, self.claims.user_id, &rest, SYNC_REPLAY_LIMIT)
                                .await
                                .map(|evs| (ends, evs))
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match ends {
                Ok((ends, evs)) => {
                    for ev in evs {
                        if ends.iter().any(|f| f.conversation_id == ev.conversation_id && ev.seq <= f.left_seq) {
                            self.send_event(&ev).await?;
                        }
                    }
                }
                Err(e) => warn!("reading up to a departure: {e:?}"),
            }
        }
        for c in convs {
            self.lane.lock().positions.close(*c);
        }
        Ok(())
    }

    /// Re-reads every followed conversation past the connection's positions (after lag, or when
    /// a non-syncing client's hold ends).
    pub(crate) async fn catch_up(&mut self) -> Result<(), SinkError> {
        let db = match db::get(&self.node.pool).await {
            Ok(db) => db,
            Err(e) => {
                warn!("catch-up: {e:?}");
                return Ok(());
            }
        };
        match realtime::memberships(&*db, self.claims.user_id).await {
            Ok(list) => {
                let now: std::collections::HashSet<ConversationId> = list.iter().map(|h| h.conversation_id).collect();
                // Left while lagging: up to the departure, then closed.
                let gone: Vec<ConversationId> =
                    self.lane.lock().positions.iter().map(|(c, _)| c).filter(|c| !now.contains(c)).collect();
                drop(db);
                if !gone.is_empty() {
                    self.leave(&gone).await?;
                }
                for h in list {
                    // A conversation joined while lagging is new to this client: from where the
                    // user's view of it starts.
                    let mut lane = self.lane.lock();
                    if !lane.positions.contains(&h.conversation_id) {
                        lane.positions.follow(h.conversation_id, h.visible_after);
                    }
                }
            }
            Err(e) => {
                warn!("catch-up: {e:?}");
                return Ok(());
            }
        }
        let db = match db::get(&self.node.pool).await {
            Ok(db) => db,
            Err(e) => {
                warn!("catch-up: {e:?}");
                return Ok(());
            }
        };
        loop {
            let positions: Vec<(ConversationId, Seq)> = self.lane.lock().positions.iter().collect();
            let list = match realtime::events_for(&*db, self.claims.user_id, &positions, SYNC_REPLAY_LIMIT).await {
                Ok(l) => l,
                Err(e) => {
                    warn!("catch-up: {e:?}");
                    return Ok(());
                }
            };
            let n = list.len();
            for ev in &list {
                self.send_event(ev).await?;
            }
            if n < SYNC_REPLAY_LIMIT as usize {
                return Ok(());
            }
        }
    }

    /// Ends the hold: what was held is applied in order (after a catch-up when some of it was
    /// dropped, or when the client never synced).
    pub(crate) async fn release_hold(&mut self, catch_up: bool) -> Result<(), SinkError> {
        self.hold_until = None;
        let released = self.hold.release();
        if released.overflowed || catch_up {
            self.catch_up().await?;
        }
        for push in released.items {
            self.apply(push).await?;
        }
        // Caught up with everything held: from now on the hub may write live events directly.
        self.lane.set_direct(true);
        Ok(())
    }
}
