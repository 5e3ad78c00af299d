//! What realtime connections and the node's fan-out read and announce: a user's conversations,
//! events after known positions, the facts of a `sync`, typing, whether a session still stands.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::GenericClient;

use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, SessionId, UserId};
use crate::model::{Event, TypingIndicator};
use crate::positions::{PooledReplay, SyncPlan};
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
pub type SyncFacts = (SyncPlan, Vec<Event>, Vec<Event>);

/// One connection's `sync`, as [`sync_many`] takes it.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// Whose connection.
    pub user: UserId,
    /// The client's positions.
    pub wanted: BTreeMap<ConversationId, Seq>,
}

/// [`SyncFacts`] of many `sync`s at once, in their order, with the same few statements however
/// many (the users' conversations; the former memberships, only if a client listed one it left;
/// the replays and latest events, each distinct cursor once; what each viewer may see): a
/// node answers the connections that open together in one batch, so ten thousand phones
/// reconnecting cost a handful of queries per batch, not five per phone.
pub async fn sync_many<C: GenericClient>(db: &C, reqs: &[SyncRequest]) -> Result<Vec<SyncFacts>, ApiError> {
    let mut users: Vec<UserId> = reqs.iter().map(|r| r.user).collect();
    users.sort_unstable_by_key(|u| u.0);
    users.dedup();
    let mut heads: HashMap<UserId, HashMap<ConversationId, (Seq, Seq)>> = HashMap::new();
    for (u, h) in conversations::memberships_of(db, &users).await? {
        heads.entry(u).or_default().insert(h.conversation_id, (h.last_seq, h.visible_after));
    }
    let none = HashMap::new();
    let mut gone: Vec<(UserId, ConversationId)> = reqs
        .iter()
        .flat_map(|r| {
            let mine = heads.get(&r.user).unwrap_or(&none);
            r.wanted.keys().filter(|c| !mine.contains_key(c)).map(|c| (r.user, *c))
        })
        .collect();
    gone.sort_unstable_by_key(|(u, c)| (u.0, c.0));
    gone.dedup();
    let mut left: HashMap<UserId, HashMap<ConversationId, (Seq, Seq)>> = HashMap::new();
    for (u, f) in conversations::former_of(db, &gone).await? {
        left.entry(u).or_default().insert(f.conversation_id, (f.left_seq, f.visible_after));
    }
    let plans: Vec<SyncPlan> = reqs
        .iter()
        .map(|r| {
            let h = heads.get(&r.user).cloned().unwrap_or_default();
            let l = left.get(&r.user).cloned().unwrap_or_default();
            SyncPlan::new(&r.wanted, h, l)
        })
        .collect();
    let mut cursors: Vec<(ConversationId, Seq)> = plans.iter().flat_map(|p| p.listed.iter().copied()).collect();
    cursors.sort_unstable_by_key(|(c, s)| (c.0, *s));
    cursors.dedup();
    let mut unlisted: Vec<ConversationId> = plans.iter().flat_map(|p| p.unlisted.iter().copied()).collect();
    unlisted.sort_unstable();
    unlisted.dedup();
    let per = SyncPlan::FETCH_PER_CONVERSATION;
    let (fetched, latest) =
        futures_util::future::try_join(events::after_many(db, &cursors, per), events::latest_many(db, &unlisted))
            .await?;
    let pool = PooledReplay::new(fetched);
    let latest: HashMap<ConversationId, Event> = latest.into_iter().map(|e| (e.conversation_id, e)).collect();
    // Each request's replay and latest events go through one per-viewer pass; `split` remembers
    // where one ends and the other starts.
    let mut views = Vec::with_capacity(reqs.len());
    let mut split = Vec::with_capacity(reqs.len());
    for (r, p) in reqs.iter().zip(&plans) {
        let mut evs = pool.share(&p.listed, per);
        split.push(evs.len());
        evs.extend(p.unlisted.iter().filter_map(|c| latest.get(c).cloned()));
        views.push((r.user, evs));
    }
    let seen = messages::as_seen_by_many(db, views).await?;
    Ok(plans
        .into_iter()
        .zip(seen)
        .zip(split)
        .map(|((plan, (_, mut evs)), at)| {
            let latest = evs.split_off(at);
            (plan, evs, latest)
        })
        .collect())
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
