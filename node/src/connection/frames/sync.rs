//! `sync`: replays what the client missed from its positions, then `synced`, then ends the hold
//! on live events.

use std::collections::BTreeMap;

use parley_shared::ids::{ConversationId, Seq};
use parley_shared::protocol::{RequestId, ServerFrame};

use crate::connection::Encoded;
use crate::connection::sink::{FrameSink, SinkError};
use crate::connection::{Connection, log_internal};

/// Replays listed conversations from the client's positions and the latest event of the
/// others (the plan is [`parley_shared::positions::SyncPlan`]).
pub(super) async fn sync<S: FrameSink>(
    c: &mut Connection<S>,
    id: RequestId,
    wanted: BTreeMap<ConversationId, Seq>,
) -> Result<(), SinkError> {
    // No direct writes while the positions are rebuilt from the client's and the replay goes
    // out: live events wait in the mailbox and follow `synced`.
    c.lane.set_direct(false);
    let fetched = c.node.syncs.read(c.claims.user_id, wanted).await;
    let (plan, replay, latest) = match fetched {
        Ok(f) => f,
        Err(e) => {
            log_internal(&e);
            c.lane.set_direct(!c.hold.is_holding());
            return c.send(&ServerFrame::reply_err(id, &e)).await;
        }
    };
    let outcome = plan.resolve(&mut c.lane.lock().positions, replay, latest);
    // The replay and the `synced` after it go out in as few writes as the buffers allow.
    c.corked = true;
    let mut replayed = Ok(());
    for ev in outcome.send {
        c.events_sent += 1;
        replayed = c.write(Encoded::new(&ServerFrame::event(ev.clone()))).await;
        if replayed.is_err() {
            break;
        }
        c.delivered(&ev);
    }
    c.corked = false;
    replayed?;
    c.send(&ServerFrame::Synced { id, truncated: outcome.truncated }).await?;
    if c.hold.is_holding() {
        c.release_hold(false).await?;
    } else {
        c.lane.set_direct(true);
    }
    Ok(())
}
