//! Messages: what a draft may contain, and whether a sender may append it here. The store
//! fetches the facts ([`SendFacts`]); these functions decide.

use crate::error::ApiError;
use crate::ids::{ConversationId, EventId, UserId};
use crate::model::conversation::Membership;
use crate::model::{Event, EventBody, MessageDraft, NewMessage};

use super::social::{self, DirectFacts};
use super::{conversations, groups};
use crate::time::Timestamp;

/// Most characters (Unicode scalar values) in a message's text.
pub const MAX_TEXT_CHARS: usize = 8000;
/// Longest `client_msg_id`, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 128;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;

/// A message must say something: text and/or media. Text is limited to [`MAX_TEXT_CHARS`].
pub fn content(text: Option<&str>, media_count: usize) -> Result<(), ApiError> {
    if text.is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS) {
        return Err(ApiError::invalid(format!("text: at most {MAX_TEXT_CHARS} characters")));
    }
    let has_text = text.is_some_and(|t| !t.trim().is_empty());
    if !has_text && media_count == 0 {
        return Err(ApiError::invalid("text: a message needs text or media_ids"));
    }
    Ok(())
}

/// Checks a client's idempotency key: 1 to [`MAX_CLIENT_MSG_ID_LEN`] bytes.
pub fn client_msg_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_CLIENT_MSG_ID_LEN {
        return Err(ApiError::invalid(format!("client_msg_id: 1 to {MAX_CLIENT_MSG_ID_LEN} bytes")));
    }
    Ok(())
}

/// Checks the mention list's size and removes duplicates, keeping order.
pub fn mentions(list: &[UserId]) -> Result<Vec<UserId>, ApiError> {
    if list.len() > MAX_MENTIONS {
        return Err(ApiError::invalid(format!("mentions: at most {MAX_MENTIONS} users")));
    }
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    Ok(out)
}

/// Validates a draft on its own (no database): the same rules for REST and sockets.
pub fn prepare(
    sender: UserId,
    conversation_id: ConversationId,
    mut draft: MessageDraft,
) -> Result<NewMessage, ApiError> {
    client_msg_id(&draft.client_msg_id.0)?;
    content(draft.text.as_deref(), draft.media_ids.len())?;
    draft.mentions = mentions(&draft.mentions)?;
    Ok(NewMessage { conversation_id, sender_id: sender, draft })
}

/// What the store knows that decides a send.
pub trait SendFacts {
    /// The membership of `user` in `conv`, if they are a member.
    fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership>;
    /// The conversation of message `id`, if `id` is a message.
    fn message_conversation(&self, id: EventId) -> Option<ConversationId>;
    /// For a direct conversation, what decides whether `sender` may message the other member.
    fn direct(&self, conv: ConversationId, sender: UserId) -> Option<DirectFacts>;
}

/// Whether `msg` may be appended: the sender is a member (else 404) who may post now
/// ([`groups::may_post`]), may message the other member of a direct conversation
/// ([`social::may_message`]), every mentioned user is a member,
/// `reply_to` is a message of the same conversation, and media ids name completed uploads (none
/// exist yet, so any is refused).
pub fn check_send(facts: &impl SendFacts, msg: &NewMessage, now: Timestamp) -> Result<(), ApiError> {
    let conv = msg.conversation_id;
    let me = conversations::member(facts.membership(conv, msg.sender_id))?;
    groups::may_post(&me, now)?;
    if let Some(direct) = facts.direct(conv, msg.sender_id) {
        social::may_message(&direct)?;
    }
    if msg.draft.mentions.iter().any(|u| facts.membership(conv, *u).is_none()) {
        return Err(ApiError::invalid("mentions: every mentioned user must be a member of the conversation"));
    }
    if msg.draft.reply_to.is_some_and(|r| facts.message_conversation(r) != Some(conv)) {
        return Err(ApiError::invalid("reply_to: no such message in this conversation"));
    }
    if !msg.draft.media_ids.is_empty() {
        return Err(ApiError::invalid("media_ids: unknown media"));
    }
    Ok(())
}

/// A retried send whose `(sender, client_msg_id)` is already stored as `existing`: the same event
/// again when it was for the same conversation, else 409.
pub fn idempotent_retry(existing: &Event, msg: &NewMessage) -> Result<Event, ApiError> {
    if existing.conversation_id != msg.conversation_id || !matches!(existing.body, EventBody::Message(_)) {
        return Err(ApiError::conflict("client_msg_id: already used for a message in another conversation"));
    }
    Ok(existing.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::error::ErrorCode;
    use crate::ids::ClientMsgId;

    #[derive(Default)]
    struct Facts {
        members: HashSet<(ConversationId, UserId)>,
        messages: HashMap<EventId, ConversationId>,
        direct: HashMap<ConversationId, DirectFacts>,
    }

    impl SendFacts for Facts {
        fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership> {
            self.members.contains(&(conv, user)).then_some(Membership::direct())
        }
        fn message_conversation(&self, id: EventId) -> Option<ConversationId> {
            self.messages.get(&id).copied()
        }
        fn direct(&self, conv: ConversationId, _sender: UserId) -> Option<DirectFacts> {
            self.direct.get(&conv).copied()
        }
    }

    fn draft(text: &str) -> MessageDraft {
        MessageDraft::text(ClientMsgId("k".into()), text)
    }

    #[test]
    fn content_limits() {
        assert!(content(Some("hi"), 0).is_ok());
        assert!(content(Some(&"é".repeat(MAX_TEXT_CHARS)), 0).is_ok());
        let e = content(Some(&"x".repeat(MAX_TEXT_CHARS + 1)), 0).unwrap_err();
        assert!(e.message.starts_with("text"));
        assert!(content(Some("   "), 0).is_err());
        assert!(content(None, 0).is_err());
        assert!(content(None, 1).is_ok());
        assert!(content(Some(""), 1).is_ok());
    }

    #[test]
    fn idempotency_keys_and_mentions() {
        assert!(client_msg_id("").is_err());
        assert!(client_msg_id(&"k".repeat(MAX_CLIENT_MSG_ID_LEN)).is_ok());
        assert!(
            client_msg_id(&"k".repeat(MAX_CLIENT_MSG_ID_LEN + 1)).unwrap_err().message.starts_with("client_msg_id")
        );
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(mentions(&[a, b, a]).unwrap(), vec![a, b]);
        assert!(mentions(&vec![a; MAX_MENTIONS]).is_ok());
        assert!(mentions(&vec![a; MAX_MENTIONS + 1]).unwrap_err().message.starts_with("mentions"));
    }

    #[test]
    fn prepare_validates_and_deduplicates() {
        let (me, other, conv) = (UserId::new(), UserId::new(), ConversationId::new());
        let mut d = draft("hi");
        d.mentions = vec![other, other];
        let m = prepare(me, conv, d).unwrap();
        assert_eq!(m.draft.mentions, vec![other]);
        assert_eq!((m.sender_id, m.conversation_id), (me, conv));
        assert!(prepare(me, conv, draft(" ")).is_err());
        let mut d = draft("hi");
        d.client_msg_id = ClientMsgId(String::new());
        assert!(prepare(me, conv, d).is_err());
    }

    #[test]
    fn every_send_verdict() {
        let (me, peer, outsider) = (UserId::new(), UserId::new(), UserId::new());
        let (conv, elsewhere) = (ConversationId::new(), ConversationId::new());
        let (here_msg, there_msg) = (EventId::new(), EventId::new());
        let mut facts = Facts::default();
        facts.members.extend([(conv, me), (conv, peer), (elsewhere, outsider)]);
        facts.messages.extend([(here_msg, conv), (there_msg, elsewhere)]);
        let send = |sender: UserId, f: &dyn Fn(&mut MessageDraft)| {
            let mut d = draft("hi");
            f(&mut d);
            check_send(&facts, &NewMessage { conversation_id: conv, sender_id: sender, draft: d }, Timestamp::now())
        };

        assert!(send(me, &|_| {}).is_ok());
        assert_eq!(send(outsider, &|_| {}).unwrap_err().code, ErrorCode::NotFound, "non-member: 404");
        assert!(send(me, &|d| d.mentions = vec![peer]).is_ok());
        let e = send(me, &|d| d.mentions = vec![outsider]).unwrap_err();
        assert!(e.code == ErrorCode::InvalidRequest && e.message.starts_with("mentions"));
        assert!(send(me, &|d| d.reply_to = Some(here_msg)).is_ok());
        let e = send(me, &|d| d.reply_to = Some(there_msg)).unwrap_err();
        assert!(e.message.starts_with("reply_to"), "a message of another conversation");
        assert!(send(me, &|d| d.reply_to = Some(EventId::new())).unwrap_err().message.starts_with("reply_to"));
        let e = send(me, &|d| d.media_ids = vec![crate::ids::MediaId::new()]).unwrap_err();
        assert!(e.message.starts_with("media_ids"));
    }

    #[test]
    fn direct_sends_follow_who_may_message_whom() {
        let (me, peer) = (UserId::new(), UserId::new());
        let conv = ConversationId::new();
        let mut facts = Facts::default();
        facts.members.extend([(conv, me), (conv, peer)]);
        let msg = NewMessage { conversation_id: conv, sender_id: me, draft: draft("hi") };
        let open = DirectFacts {
            blocked: false,
            friends: false,
            peer_policy: crate::model::DmPolicy::Everyone,
            peer_deleted: false,
        };
        facts.direct.insert(conv, open);
        assert!(check_send(&facts, &msg, Timestamp::now()).is_ok());
        facts.direct.insert(conv, DirectFacts { blocked: true, ..open });
        assert_eq!(check_send(&facts, &msg, Timestamp::now()).unwrap_err().code, ErrorCode::Forbidden);
        facts.direct.insert(conv, DirectFacts { peer_policy: crate::model::DmPolicy::Friends, ..open });
        assert_eq!(check_send(&facts, &msg, Timestamp::now()).unwrap_err().code, ErrorCode::Forbidden);
        facts.direct.insert(conv, DirectFacts { peer_policy: crate::model::DmPolicy::Friends, friends: true, ..open });
        assert!(check_send(&facts, &msg, Timestamp::now()).is_ok());
    }

    #[test]
    fn retries_return_the_stored_event_or_conflict() {
        let (me, conv) = (UserId::new(), ConversationId::new());
        let stored = Event {
            id: EventId::new(),
            conversation_id: conv,
            seq: 1,
            sender_id: me,
            created_at: Timestamp::now(),
            body: EventBody::Message(draft("hi")),
        };
        let same = NewMessage { conversation_id: conv, sender_id: me, draft: draft("hi") };
        assert_eq!(idempotent_retry(&stored, &same).unwrap(), stored);
        let other = NewMessage { conversation_id: ConversationId::new(), ..same };
        assert_eq!(idempotent_retry(&stored, &other).unwrap_err().code, ErrorCode::Conflict);
    }
}
