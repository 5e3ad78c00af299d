//! What realtime connections and the node's fan-out read and announce: a user's conversations,
//! events after known positions, the facts of a `sync`, typing, whether a session still stands.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::GenericClient;

use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, SessionId, UserId};
use crate::model::{Event, TypingIndicator};
use crate::positions::SyncPlan;
use crate::store::conversations::{Former, Head};
use crate::store::notify::{self, Announcement};
use crate::store::{conversations, events, messages, sessions, social};

/// Every conversation of `user` with its last seq and where their view starts (what a
/// connection follows).
pub async fn memberships<C: GenericClient>(db: &C, user: UserId) -> Result<Vec<Head>, ApiError> {
    Ok(conversations::memberships(db, user).await?)
}

/// Events after each position, at most `per_conversation` each, ordered by conversation then seq.
pub async fn events_after<C: GenericClient>(
    db: &C,
    positions: &[(ConversationId, Seq)],
    per_conversation: i64,
) -> Result<Vec<Event>, ApiError> {
    Ok(events::after_many(db, positions, per_conversation).await?)
}

/// [`events_after`] as `user` sees them (messages they deleted for themselves show as hidden):
/// what a connection's gap fills and catch-ups send.
pub async fn events_for<C: GenericClient>(
    db: &C,
    user: UserId,
    positions: &[(ConversationId, Seq)],
    per_conversation: i64,
) -> Result<Vec<Event>, ApiError> {
    let evs = events::after_many(db, positions, per_conversation).await?;
    Ok(messages::as_seen_by(db, user, evs, false).await?)
}

/// What a `sync` frame needs from the database: the plan (from the user's conversations and
/// the client's positions), the events to replay and the latest event of the unlisted
/// conversations. The connection resolves the plan against what it already sent.
pub async fn sync<C: GenericClient>(
    db: &C,
    user: UserId,
    wanted: &BTreeMap<ConversationId, Seq>,
) -> Result<(SyncPlan, Vec<Event>, Vec<Event>), ApiError> {
    let heads: HashMap<ConversationId, (Seq, Seq)> = conversations::memberships(db, user)
        .await?
        .into_iter()
        .map(|h| (h.conversation_id, (h.last_seq, h.visible_after)))
        .collect();
    let gone: Vec<ConversationId> = wanted.keys().filter(|c| !heads.contains_key(c)).copied().collect();
    let left = conversations::former(db, user, &gone)
        .await?
        .into_iter()
        .map(|f| (f.conversation_id, (f.left_seq, f.visible_after)))
        .collect();
    let plan = SyncPlan::new(wanted, heads, left);
    let (replay, latest) = futures_util::future::try_join(
        events::after_many(db, &plan.listed, SyncPlan::FETCH_PER_CONVERSATION),
        events::latest_many(db, &plan.unlisted),
    )
    .await?;
    let (replay, latest) = futures_util::future::try_join(
        messages::as_seen_by(db, user, replay, false),
        messages::as_seen_by(db, user, latest, false),
    )
    .await?;
    Ok((plan, replay, latest))
}

/// Of `convs`, those `user` left, with where their view ended.
pub async fn left<C: GenericClient>(db: &C, user: UserId, convs: &[ConversationId]) -> Result<Vec<Former>, ApiError> {
    Ok(conversations::former(db, user, convs).await?)
}

/// Announces that `user` started (`active`) or stopped typing in `conv` (the connection has
/// checked the membership and the rate).
pub async fn typing<C: GenericClient>(
    db: &C,
    conv: ConversationId,
    user: UserId,
    active: bool,
) -> Result<(), ApiError> {
    let t = TypingIndicator { conversation_id: conv, user_id: user, active };
    Ok(notify::send(db, &Announcement::Typing(t)).await?)
}

/// The ids of `user`'s friends.
pub async fn friend_ids<C: GenericClient>(db: &C, user: UserId) -> Result<Vec<UserId>, ApiError> {
    Ok(social::friend_ids(db, user).await?)
}

/// Whether an auth session is still active (the fan-out re-checks after losing notices).
pub async fn session_active<C: GenericClient>(db: &C, session: SessionId) -> Result<bool, ApiError> {
    Ok(sessions::is_active(db, session).await?)
}
