//! What committed transactions announce on the `parley` NOTIFY channel. Payloads carry ids
//! and seqs only (Postgres caps a payload below 8000 bytes); nodes fetch bodies themselves, and
//! treat a notice as a wake-up, never as the only copy of anything.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{ConversationId, EventId, NoticeId, Seq, SessionId, UserId};
use crate::model::{DeliveryReceipt, Notice, NoticeBody, PresenceChange, ReadReceipt, TypingIndicator};
use crate::time::Timestamp;

/// The one channel every node LISTENs on. One channel keeps notices in commit order across kinds
/// (a conversation's membership notice always precedes its first events notice).
pub const CHANNEL: &str = "parley";

/// Most (conversation, seq) pairs in one events notice: ~50 bytes each keeps it far under 8000.
const EVENTS_PER_NOTICE: usize = 100;

/// What a commit announces on [`CHANNEL`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Announcement {
    /// These conversations have events up to (at least) these seqs.
    Events {
        /// (conversation, latest seq) pairs.
        c: Vec<(ConversationId, Seq)>,
    },
    /// Users joined a conversation whose log stood at `seq`.
    Members {
        /// Conversation.
        conversation_id: ConversationId,
        /// New members.
        user_ids: Vec<UserId>,
        /// The conversation's last seq when they joined.
        seq: Seq,
    },
    /// Users left a conversation (left, removed): after delivering its events up to `seq` (their
    /// `member_left`), nodes stop sending it to their connections.
    Left {
        /// Conversation.
        conversation_id: ConversationId,
        /// Former members.
        user_ids: Vec<UserId>,
        /// The last seq they may see.
        seq: Seq,
    },
    /// A session was revoked (logout, refresh-token reuse): close its sockets.
    Revoked {
        /// The auth session.
        session_id: SessionId,
    },
    /// A member's read position moved; `all`: every member hears of it (else only the member's
    /// own devices: a big group).
    Read {
        /// The new position.
        receipt: ReadReceipt,
        /// Whether all members hear of it.
        all: bool,
    },
    /// Members' devices received the log up to these seqs (a batch per node per tick), each
    /// with whether all members hear of it.
    Delivered {
        /// The new positions.
        receipts: Vec<(DeliveryReceipt, bool)>,
    },
    /// A user deleted a message for themselves: their other devices drop it.
    Hidden {
        /// The user.
        user_id: UserId,
        /// Where.
        conversation_id: ConversationId,
        /// The message.
        message_id: EventId,
        /// Its seq.
        seq: Seq,
    },
    /// The sensitive-word list changed: reload it.
    Words,
    /// A medium waits for its thumbnail: a node with time takes the job.
    MediaJob,
    /// A member is typing.
    Typing(TypingIndicator),
    /// A notice for one user's connected devices (small: it travels whole).
    Notice {
        /// The user.
        user_id: UserId,
        /// The notice, as stored.
        notice: Box<Notice>,
    },
    /// The same notice for many users (a group's new members), each with its own id.
    Notices {
        /// (user, notice id) pairs.
        to: Vec<(UserId, NoticeId)>,
        /// When.
        created_at: Timestamp,
        /// What.
        body: Box<NoticeBody>,
    },
    /// Two users became friends, or stopped being friends: nodes update who sees whose presence.
    Friends {
        /// One of them.
        a: UserId,
        /// The other.
        b: UserId,
        /// Friends now.
        friends: bool,
    },
    /// Users went online or offline (a batch per node per tick; the node filters by friendship).
    Presence {
        /// The changes.
        changes: Vec<PresenceChange>,
    },
}

impl Announcement {
    /// Parses a payload; unknown payloads (from a newer node) are skipped by the caller.
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// Queues `notice` for delivery when the surrounding transaction commits.
pub async fn send<C: GenericClient>(c: &C, notice: &Announcement) -> Result<(), StoreError> {
    let payload = serde_json::to_string(notice).expect("notices serialise");
    c.query_typed("SELECT pg_notify($1, $2)", &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)]).await?;
    Ok(())
}

/// Most users in one members, left or notices announcement: ~40 (or ~80) bytes each.
const USERS_PER_NOTICE: usize = 80;

/// Announces that `users` joined `conv` whose log stood at `seq`, split to respect the payload
/// limit. Sent before the events that record the joins, so nodes follow before they fetch.
pub async fn send_members<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    users: &[UserId],
    seq: Seq,
) -> Result<(), StoreError> {
    send_users(c, users, |user_ids| Announcement::Members { conversation_id: conv, user_ids, seq }).await
}

/// Announces that `users` left `conv` at `seq`, split to respect the payload limit. Sent after
/// the events that record it.
pub async fn send_left<C: GenericClient>(
    c: &C,
    conv: ConversationId,
    users: &[UserId],
    seq: Seq,
) -> Result<(), StoreError> {
    send_users(c, users, |user_ids| Announcement::Left { conversation_id: conv, user_ids, seq }).await
}

/// One announcement per [`USERS_PER_NOTICE`] users.
async fn send_users<C: GenericClient>(
    c: &C,
    users: &[UserId],
    make: impl Fn(Vec<UserId>) -> Announcement,
) -> Result<(), StoreError> {
    for chunk in users.chunks(USERS_PER_NOTICE) {
        send(c, &make(chunk.to_vec())).await?;
    }
    Ok(())
}

/// Announces one notice body stored for many users; bodies must be small (ids and a name).
pub async fn send_notices<C: GenericClient>(
    c: &C,
    to: &[(UserId, NoticeId)],
    created_at: Timestamp,
    body: &NoticeBody,
) -> Result<(), StoreError> {
    for chunk in to.chunks(USERS_PER_NOTICE) {
        send(c, &Announcement::Notices { to: chunk.to_vec(), created_at, body: Box::new(body.clone()) }).await?;
    }
    Ok(())
}

/// Most delivery receipts in one announcement: ~120 bytes each.
const RECEIPTS_PER_NOTICE: usize = 50;

/// Announces delivered positions, split to respect the payload limit.
pub async fn send_delivered<C: GenericClient>(c: &C, receipts: &[(DeliveryReceipt, bool)]) -> Result<(), StoreError> {
    for chunk in receipts.chunks(RECEIPTS_PER_NOTICE) {
        send(c, &Announcement::Delivered { receipts: chunk.to_vec() }).await?;
    }
    Ok(())
}

/// Most presence changes in one announcement: ~110 bytes each keeps it far under 8000.
const PRESENCE_PER_NOTICE: usize = 50;

/// Announces presence changes, split to respect the payload limit.
pub async fn send_presence<C: GenericClient>(c: &C, changes: &[PresenceChange]) -> Result<(), StoreError> {
    for chunk in changes.chunks(PRESENCE_PER_NOTICE) {
        send(c, &Announcement::Presence { changes: chunk.to_vec() }).await?;
    }
    Ok(())
}

/// Announces new events, split into notices that respect the payload limit.
pub async fn send_events<C: GenericClient>(c: &C, heads: &[(ConversationId, Seq)]) -> Result<(), StoreError> {
    for chunk in heads.chunks(EVENTS_PER_NOTICE) {
        send(c, &Announcement::Events { c: chunk.to_vec() }).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_announcements_fit_the_payload_limit() {
        let t = crate::time::Timestamp::now();
        let changes: Vec<_> = (0..PRESENCE_PER_NOTICE)
            .map(|_| PresenceChange { user_id: UserId::new(), online: false, last_seen_at: Some(t) })
            .collect();
        let json = serde_json::to_string(&Announcement::Presence { changes }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }

    #[test]
    fn receipts_fit_the_payload_limit() {
        let r = DeliveryReceipt { conversation_id: ConversationId::new(), user_id: UserId::new(), seq: i64::MAX };
        let json =
            serde_json::to_string(&Announcement::Delivered { receipts: vec![(r, true); RECEIPTS_PER_NOTICE] }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }

    #[test]
    fn user_lists_fit_the_payload_limit() {
        let users: Vec<_> = (0..USERS_PER_NOTICE).map(|_| UserId::new()).collect();
        let conv = ConversationId::new();
        for a in [
            Announcement::Members { conversation_id: conv, user_ids: users.clone(), seq: i64::MAX },
            Announcement::Left { conversation_id: conv, user_ids: users.clone(), seq: i64::MAX },
            Announcement::Notices {
                to: users.iter().map(|u| (*u, NoticeId::new())).collect(),
                created_at: crate::time::Timestamp::now(),
                body: Box::new(NoticeBody::AddedToGroup {
                    group_id: conv,
                    name: "n".repeat(crate::rules::groups::MAX_NAME_CHARS * 4),
                    by: UserId::new(),
                }),
            },
        ] {
            let json = serde_json::to_string(&a).unwrap();
            assert!(json.len() < 7900, "{}", json.len());
        }
    }

    #[test]
    fn events_notice_fits_the_payload_limit() {
        let heads: Vec<_> = (0..EVENTS_PER_NOTICE).map(|_| (ConversationId::new(), i64::MAX)).collect();
        let json = serde_json::to_string(&Announcement::Events { c: heads }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }
}
