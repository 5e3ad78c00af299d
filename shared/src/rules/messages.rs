//! Messages: what a draft may contain, and whether a sender may append it here. The store
//! fetches the facts ([`SendFacts`]); these functions decide.

use crate::error::ApiError;
use crate::ids::{ConversationId, EventId, MediaId, Seq, UserId};
use crate::model::conversation::Membership;
use crate::model::{Event, EventBody, MessageDraft, NewMessage, Role};
use crate::rules::words::WordFilter;

use super::media::{self, AttachFacts};
use super::social::{self, DirectFacts};
use super::{conversations, groups};
use crate::time::Timestamp;

/// Most characters (Unicode scalar values) in a message's text.
pub const MAX_TEXT_CHARS: usize = 8000;
/// Longest `client_msg_id`, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 128;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;
/// How long a sender may recall their message unless configured otherwise.
pub const DEFAULT_RECALL_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

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

/// Validates a draft on its own (no database): the same rules for REST and sockets. Listed
/// sensitive words are masked in the text, or refuse it.
pub fn prepare(
    sender: UserId,
    conversation_id: ConversationId,
    mut draft: MessageDraft,
    words: &WordFilter,
) -> Result<NewMessage, ApiError> {
    client_msg_id(&draft.client_msg_id.0)?;
    content(draft.text.as_deref(), draft.media_ids.len())?;
    media::attachments(&draft.media_ids)?;
    draft.mentions = mentions(&draft.mentions)?;
    draft.text = words.apply_opt("text", draft.text)?;
    Ok(NewMessage { conversation_id, sender_id: sender, draft })
}

/// What decides actions on a stored message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageFacts {
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its seq.
    pub seq: Seq,
    /// Who sent it.
    pub sender_id: UserId,
    /// When.
    pub sent_at: Timestamp,
    /// Whether it was recalled.
    pub recalled: bool,
}

/// What the store knows that decides a send.
pub trait SendFacts {
    /// The membership of `user` in `conv`, if they are a member.
    fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership>;
    /// Message `id`, if `id` is a message.
    fn message(&self, id: EventId) -> Option<MessageFacts>;
    /// For a direct conversation, what decides whether `sender` may message the other member.
    fn direct(&self, conv: ConversationId, sender: UserId) -> Option<DirectFacts>;
    /// Medium `id`, if it exists.
    fn media(&self, id: MediaId) -> Option<AttachFacts>;
}

/// Whether `msg` may be appended: the sender is a member (else 404) who may post now
/// ([`groups::may_post`]), may message the other member of a direct conversation
/// ([`social::may_message`]), every mentioned user is a member, `@all` only by a group's owner
/// and admins, `reply_to` is a message of the same conversation the sender can see (after their
/// join unless the history shows, not recalled), and every attached medium is a completed
/// upload of the sender ([`media::may_attach`]).
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
    if msg.draft.mention_all {
        match me.group {
            None => return Err(ApiError::invalid("mention_all: only in groups")),
            Some(_) if me.role < Role::Admin => {
                return Err(ApiError::forbidden("only the owner and admins mention everyone"));
            }
            Some(_) => {}
        }
    }
    if let Some(r) = msg.draft.reply_to {
        match facts.message(r) {
            Some(m) if m.conversation_id == conv && m.seq > me.visible_after() && !m.recalled => {}
            Some(m) if m.conversation_id == conv && m.recalled => {
                return Err(ApiError::invalid("reply_to: that message was recalled"));
            }
            _ => return Err(ApiError::invalid("reply_to: no such message in this conversation")),
        }
    }
    for id in &msg.draft.media_ids {
        media::may_attach(msg.sender_id, *id, facts.media(*id))?;
    }
    Ok(())
}

/// The target of an edit, recall, reaction or delete-for-me: a message of `conv` the member can
/// see; 404 otherwise (another conversation's, or from before their view starts).
pub fn target(conv: ConversationId, me: &Membership, m: Option<MessageFacts>) -> Result<MessageFacts, ApiError> {
    match m {
        Some(m) if m.conversation_id == conv && m.seq > me.visible_after() => Ok(m),
        _ => Err(ApiError::not_found("message not found")),
    }
}

/// Whether `me` (a member of the message's conversation) may edit it to `text`: only its sender,
/// who may still post there, and not once it was recalled (409). Returns the text to store.
pub fn edit(
    actor: UserId,
    me: &Membership,
    m: &MessageFacts,
    text: &str,
    words: &WordFilter,
    now: Timestamp,
) -> Result<String, ApiError> {
    if m.sender_id != actor {
        return Err(ApiError::forbidden("only its sender edits a message"));
    }
    if m.recalled {
        return Err(ApiError::conflict("the message was recalled"));
    }
    groups::may_post(me, now)?;
    if me.group.is_some() {
        groups::may(me, groups::Action::EditOwn)?;
    }
    if text.trim().is_empty() {
        return Err(ApiError::invalid("text: an edit needs text"));
    }
    content(Some(text), 0)?;
    words.apply("text", text)
}

/// Whether `me` may recall message `m`: its sender within `window` of sending it; in a group,
/// the owner and admins any time (another member's message only below their rank). A recalled
/// message cannot be recalled again (409).
pub fn recall(
    actor: UserId,
    me: &Membership,
    sender: Option<Membership>,
    m: &MessageFacts,
    window: std::time::Duration,
    now: Timestamp,
) -> Result<(), ApiError> {
    if m.recalled {
        return Err(ApiError::conflict("the message was recalled already"));
    }
    if let Some(g) = me.group {
        groups::not_dissolved(&g)?;
        if me.role >= Role::Admin {
            if m.sender_id == actor {
                return Ok(());
            }
            // A former member's message: anyone with the permission may recall it.
            return match sender {
                Some(s) => groups::may_act_on(me.role, s.role, groups::Action::RecallOthers),
                None => groups::may(me, groups::Action::RecallOthers),
            };
        }
    }
    if m.sender_id != actor {
        return Err(ApiError::forbidden("only its sender (or a group's owner and admins) recalls a message"));
    }
    let age = now.0.signed_duration_since(m.sent_at.0);
    if age > chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX) {
        return Err(ApiError::forbidden(format!("messages can be recalled within {} s of sending", window.as_secs())));
    }
    Ok(())
}

/// Longest reaction, in bytes (an emoji with modifiers and joiners fits easily).
pub const MAX_EMOJI_BYTES: usize = 32;

/// A reaction's emoji: a short Unicode string without spaces or control characters, and not
/// plain ASCII letters and digits (a word is not an emoji). 400 naming `emoji`.
pub fn emoji(raw: &str) -> Result<&str, ApiError> {
    let bad = raw.is_empty()
        || raw.len() > MAX_EMOJI_BYTES
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
        || raw.is_ascii();
    if bad {
        return Err(ApiError::invalid(format!("emoji: one emoji (at most {MAX_EMOJI_BYTES} bytes, no spaces)")));
    }
    Ok(raw)
}

/// Whether `me` may react to `m`: a member who may react (guests may, in groups), not in a
/// dissolved group, and not to a recalled message (409).
pub fn react(me: &Membership, m: &MessageFacts) -> Result<(), ApiError> {
    if let Some(g) = me.group {
        groups::not_dissolved(&g)?;
        groups::may(me, groups::Action::React)?;
    }
    if m.recalled {
        return Err(ApiError::conflict("the message was recalled"));
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
        messages: HashMap<EventId, MessageFacts>,
        direct: HashMap<ConversationId, DirectFacts>,
        media: HashMap<MediaId, AttachFacts>,
    }

    fn msg_in(conv: ConversationId, seq: Seq) -> MessageFacts {
        MessageFacts {
            conversation_id: conv,
            seq,
            sender_id: UserId::new(),
            sent_at: Timestamp::now(),
            recalled: false,
        }
    }

    impl SendFacts for Facts {
        fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership> {
            self.members.contains(&(conv, user)).then_some(Membership::direct())
        }
        fn message(&self, id: EventId) -> Option<MessageFacts> {
            self.messages.get(&id).copied()
        }
        fn direct(&self, conv: ConversationId, _sender: UserId) -> Option<DirectFacts> {
            self.direct.get(&conv).copied()
        }
        fn media(&self, id: MediaId) -> Option<AttachFacts> {
            self.media.get(&id).copied()
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
        let none = WordFilter::default();
        let m = prepare(me, conv, d, &none).unwrap();
        assert_eq!(m.draft.mentions, vec![other]);
        assert_eq!((m.sender_id, m.conversation_id), (me, conv));
        assert!(prepare(me, conv, draft(" "), &none).is_err());
        let mut d = draft("hi");
        d.client_msg_id = ClientMsgId(String::new());
        assert!(prepare(me, conv, d, &none).is_err());
        let words = WordFilter::new(&[
            ("darn".into(), crate::rules::words::WordAction::Mask),
            ("nope".into(), crate::rules::words::WordAction::Reject),
        ]);
        assert_eq!(prepare(me, conv, draft("oh darn"), &words).unwrap().draft.text.as_deref(), Some("oh ****"));
        assert!(prepare(me, conv, draft("NOPE"), &words).unwrap_err().message.starts_with("text"));
    }

    #[test]
    fn every_send_verdict() {
        let (me, peer, outsider) = (UserId::new(), UserId::new(), UserId::new());
        let (conv, elsewhere) = (ConversationId::new(), ConversationId::new());
        let (here_msg, there_msg) = (EventId::new(), EventId::new());
        let mut facts = Facts::default();
        facts.members.extend([(conv, me), (conv, peer), (elsewhere, outsider)]);
        let gone_msg = EventId::new();
        facts.messages.extend([
            (here_msg, msg_in(conv, 1)),
            (there_msg, msg_in(elsewhere, 1)),
            (gone_msg, MessageFacts { recalled: true, ..msg_in(conv, 2) }),
        ]);
        let (mine, theirs, pending) = (MediaId::new(), MediaId::new(), MediaId::new());
        facts.media.extend([
            (mine, AttachFacts { owner: me, ready: true }),
            (theirs, AttachFacts { owner: peer, ready: true }),
            (pending, AttachFacts { owner: me, ready: false }),
        ]);
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
        assert!(send(me, &|d| d.reply_to = Some(gone_msg)).unwrap_err().message.contains("recalled"));
        let e = send(me, &|d| d.mention_all = true).unwrap_err();
        assert!(e.message.starts_with("mention_all"), "not in a direct conversation");
        let e = send(me, &|d| d.media_ids = vec![MediaId::new()]).unwrap_err();
        assert!(e.message.starts_with("media_ids"));
        assert!(send(me, &|d| d.media_ids = vec![mine]).is_ok());
        assert!(send(me, &|d| d.media_ids = vec![mine, theirs]).unwrap_err().message.starts_with("media_ids"));
        assert_eq!(send(me, &|d| d.media_ids = vec![pending]).unwrap_err().code, ErrorCode::Conflict);
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
            body: EventBody::Message(draft("hi").into()),
        };
        let same = NewMessage { conversation_id: conv, sender_id: me, draft: draft("hi") };
        assert_eq!(idempotent_retry(&stored, &same).unwrap(), stored);
        let other = NewMessage { conversation_id: ConversationId::new(), ..same };
        assert_eq!(idempotent_retry(&stored, &other).unwrap_err().code, ErrorCode::Conflict);
    }

    fn group_member(role: Role) -> Membership {
        Membership {
            role,
            joined_seq: 10,
            muted_until: None,
            group: Some(crate::model::conversation::GroupFacts {
                broadcast_only: false,
                history_visible: false,
                dissolved: false,
            }),
        }
    }

    #[test]
    fn targets_are_visible_messages_of_the_same_conversation() {
        let conv = ConversationId::new();
        let me = group_member(Role::Member);
        assert!(target(conv, &me, Some(msg_in(conv, 11))).is_ok());
        assert_eq!(target(conv, &me, Some(msg_in(conv, 10))).unwrap_err().code, ErrorCode::NotFound, "before my join");
        assert_eq!(target(conv, &me, Some(msg_in(ConversationId::new(), 11))).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(target(conv, &me, None).unwrap_err().code, ErrorCode::NotFound);
    }

    #[test]
    fn edits_are_the_senders_until_a_recall() {
        let conv = ConversationId::new();
        let me = UserId::new();
        let m = MessageFacts { sender_id: me, ..msg_in(conv, 11) };
        let none = WordFilter::default();
        let now = Timestamp::now();
        let member = group_member(Role::Member);
        assert_eq!(edit(me, &member, &m, "new", &none, now).unwrap(), "new");
        assert_eq!(edit(UserId::new(), &member, &m, "x", &none, now).unwrap_err().code, ErrorCode::Forbidden);
        let gone = MessageFacts { recalled: true, ..m };
        assert_eq!(edit(me, &member, &gone, "x", &none, now).unwrap_err().code, ErrorCode::Conflict);
        assert!(edit(me, &member, &m, " ", &none, now).unwrap_err().message.starts_with("text"));
        let muted = Membership { muted_until: Some(Timestamp(now.0 + chrono::Duration::minutes(1))), ..member };
        assert_eq!(edit(me, &muted, &m, "x", &none, now).unwrap_err().code, ErrorCode::Forbidden);
        assert!(edit(me, &group_member(Role::Guest), &m, "x", &none, now).is_err(), "guests do not post");
    }

    #[test]
    fn recalls_within_the_window_or_by_managers_below_their_rank() {
        let conv = ConversationId::new();
        let (me, other) = (UserId::new(), UserId::new());
        let window = std::time::Duration::from_secs(120);
        let now = Timestamp::now();
        let fresh = MessageFacts { sender_id: me, ..msg_in(conv, 11) };
        let old = MessageFacts { sent_at: Timestamp(now.0 - chrono::Duration::minutes(3)), ..fresh };
        let member = group_member(Role::Member);
        assert!(recall(me, &member, Some(member), &fresh, window, now).is_ok());
        assert_eq!(recall(me, &member, Some(member), &old, window, now).unwrap_err().code, ErrorCode::Forbidden);
        let theirs = MessageFacts { sender_id: other, ..old };
        assert_eq!(recall(me, &member, Some(member), &theirs, window, now).unwrap_err().code, ErrorCode::Forbidden);
        let admin = group_member(Role::Admin);
        assert!(recall(me, &admin, Some(member), &theirs, window, now).is_ok(), "admins any time, below them");
        assert!(recall(me, &admin, Some(group_member(Role::Owner)), &theirs, window, now).is_err(), "not the owner's");
        assert!(recall(me, &admin, Some(admin), &MessageFacts { sender_id: me, ..old }, window, now).is_ok(), "own");
        let gone = MessageFacts { recalled: true, ..fresh };
        assert_eq!(recall(me, &member, Some(member), &gone, window, now).unwrap_err().code, ErrorCode::Conflict);
        let direct = Membership::direct();
        assert!(recall(me, &direct, Some(direct), &old, window, now).is_err(), "no managers in a direct chat");
    }

    #[test]
    fn emojis_and_who_reacts() {
        for ok in ["👍", "❤️", "👩🏽‍💻", "🇫🇷", "+1️⃣"] {
            assert_eq!(emoji(ok).unwrap(), ok);
        }
        for bad in ["", "ok", "a b", "👍 👍", "\u{0}", &"😀".repeat(9), "+1"] {
            assert!(emoji(bad).unwrap_err().message.starts_with("emoji"), "{bad:?}");
        }
        let conv = ConversationId::new();
        assert!(react(&group_member(Role::Guest), &msg_in(conv, 11)).is_ok(), "guests react");
        let gone = MessageFacts { recalled: true, ..msg_in(conv, 11) };
        assert_eq!(react(&group_member(Role::Member), &gone).unwrap_err().code, ErrorCode::Conflict);
    }
}
