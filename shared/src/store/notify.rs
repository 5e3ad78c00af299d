//! What committed transactions announce on the `parley` NOTIFY channel. Payloads carry ids
//! and seqs only (Postgres caps a payload below 8000 bytes); nodes fetch bodies themselves, and
//! treat a notice as a wake-up, never as the only copy of anything.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::{StoreError, Type};
use crate::ids::{ConversationId, Seq, SessionId, UserId};
use crate::model::{ReadReceipt, TypingIndicator};

/// The one channel every node LISTENs on. One channel keeps notices in commit order across kinds
/// (a conversation's membership notice always precedes its first events notice).
pub const CHANNEL: &str = "parley";

/// Most (conversation, seq) pairs in one events notice: ~50 bytes each keeps it far under 8000.
const EVENTS_PER_NOTICE: usize = 100;

/// A notice on [`CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Notice {
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
    /// A session was revoked (logout, refresh-token reuse): close its sockets.
    Revoked {
        /// The auth session.
        session_id: SessionId,
    },
    /// A member's read position moved.
    Read(ReadReceipt),
    /// A member is typing.
    Typing(TypingIndicator),
}

impl Notice {
    /// Parses a payload; unknown payloads (from a newer node) are skipped by the caller.
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// Queues `notice` for delivery when the surrounding transaction commits.
pub async fn send<C: GenericClient>(c: &C, notice: &Notice) -> Result<(), StoreError> {
    let payload = serde_json::to_string(notice).expect("notices serialise");
    c.query_typed("SELECT pg_notify($1, $2)", &[(&CHANNEL, Type::TEXT), (&payload, Type::TEXT)]).await?;
    Ok(())
}

/// Announces new events, split into notices that respect the payload limit.
pub async fn send_events<C: GenericClient>(c: &C, heads: &[(ConversationId, Seq)]) -> Result<(), StoreError> {
    for chunk in heads.chunks(EVENTS_PER_NOTICE) {
        send(c, &Notice::Events { c: chunk.to_vec() }).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_notice_fits_the_payload_limit() {
        let heads: Vec<_> = (0..EVENTS_PER_NOTICE).map(|_| (ConversationId::new(), i64::MAX)).collect();
        let json = serde_json::to_string(&Notice::Events { c: heads }).unwrap();
        assert!(json.len() < 7900, "{}", json.len());
    }
}
