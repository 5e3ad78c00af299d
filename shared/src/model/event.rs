//! The per-conversation event log, and the one shape of a message's content shared by the REST
//! body, the realtime `send` frame, the stored event and the SDK.

use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{ClientMsgId, ConversationId, EventId, MediaId, Seq, UserId};
use crate::model::conversation::Role;
use crate::model::group::{GroupChanges, JoinedVia, LeftReason};
use crate::model::media::Media;
use crate::time::Timestamp;

/// A message as its sender writes it: the idempotency key and the content. The REST send body,
/// the realtime `send` frame and the stored `message` event all carry exactly these fields at
/// their top level. A sender may leave out `text` or `media_ids` (not both), `reply_to` and
/// `mentions`; a stored message event always has all of them (`null` or `[]` when unset).
//
// Unknown fields are not refused here (a stored event may gain fields a client does not know
// yet); the request types that flatten this one refuse them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageDraft {
    /// The sender's idempotency key: a retry with the same key returns the same event.
    #[serde(deserialize_with = "named::client_msg_id")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 128))]
    pub client_msg_id: ClientMsgId,
    /// Text, at most 8000 characters.
    #[serde(default, deserialize_with = "named::text")]
    #[cfg_attr(feature = "openapi", schema(max_length = 8000))]
    pub text: Option<String>,
    /// Attached media (completed uploads of the sender).
    #[serde(default, deserialize_with = "named::media_ids")]
    pub media_ids: Vec<MediaId>,
    /// The message this one answers (a message of the same conversation).
    #[serde(default, deserialize_with = "named::reply_to")]
    pub reply_to: Option<EventId>,
    /// Users mentioned (members of the conversation), at most 50.
    #[serde(default, deserialize_with = "named::mentions")]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub mentions: Vec<UserId>,
    /// `@all`: mentions every member of a group (its owner and admins only). Absent: false.
    #[serde(default, deserialize_with = "named::mention_all", skip_serializing_if = "is_false")]
    pub mention_all: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl MessageDraft {
    /// A text message with this idempotency key.
    pub fn text(client_msg_id: ClientMsgId, text: impl Into<String>) -> MessageDraft {
        MessageDraft {
            client_msg_id,
            text: Some(text.into()),
            media_ids: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            mention_all: false,
        }
    }
}

/// Field deserializers that put the field's name in their errors. The draft is read through
/// `#[serde(flatten)]`, where serde loses the path to the offending field, and the contract says a
/// 400 names the field.
mod named {
    use super::*;
    use serde::de::Error;

    macro_rules! named {
        ($($f:ident: $ty:ty),* $(,)?) => {$(
            pub(super) fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                <$ty>::deserialize(d).map_err(|e| D::Error::custom(format_args!(concat!(stringify!($f), ": {}"), e)))
            }
        )*};
    }

    named!(
        client_msg_id: ClientMsgId,
        text: Option<String>,
        media_ids: Vec<MediaId>,
        reply_to: Option<EventId>,
        mentions: Vec<UserId>,
        mention_all: bool,
    );
}

/// A message to append: a validated draft from an authenticated sender.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// The authenticated sender.
    pub sender_id: UserId,
    /// What they wrote (mentions de-duplicated).
    pub draft: MessageDraft,
}

/// One entry of a conversation's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Id.
    pub id: EventId,
    /// The log it belongs to.
    pub conversation_id: ConversationId,
    /// Position in that log: consecutive from 1, never reused.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
    /// Who caused it.
    pub sender_id: UserId,
    /// When it was committed.
    pub created_at: Timestamp,
    /// `kind` and the kind's own fields, flattened to the top level.
    #[serde(flatten)]
    pub body: EventBody,
}

/// A message as the log holds it now: what the sender wrote (after edits), and what happened to
/// it since.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The content (`text` is the latest edit's; recalled: no text, media or mentions).
    #[serde(flatten)]
    pub draft: MessageDraft,
    /// The attached media, one object per `media_ids` entry and in its order (empty when
    /// recalled or hidden).
    #[serde(default)]
    pub media: Vec<Media>,
    /// What happened to it.
    #[serde(flatten)]
    pub state: MessageState,
}

impl std::ops::Deref for Message {
    type Target = MessageDraft;
    fn deref(&self) -> &MessageDraft {
        &self.draft
    }
}

impl From<MessageDraft> for Message {
    fn from(draft: MessageDraft) -> Message {
        Message { draft, media: Vec::new(), state: MessageState::default() }
    }
}

/// What happened to a message after it was sent. Each field is absent until it applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageState {
    /// When its text last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// When it was recalled: its text, media and mentions are gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled_at: Option<Timestamp>,
    /// The reader deleted it for themselves: only its place in the log remains (REST and sync
    /// show it so, to that user only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// Reactions, counted per emoji, with the reader's own (REST history only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionCount>,
}

/// One emoji's reactions on a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many members reacted with it.
    pub count: i64,
    /// Whether the reader is one of them.
    pub me: bool,
}

/// The kinds of event and their fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A message: the sender's draft as it was accepted, and its state now.
    Message(Message),
    /// A message's text changed.
    Edit {
        /// The edited message.
        message_id: EventId,
        /// Its new text (null once the message was recalled).
        text: Option<String>,
    },
    /// A message was recalled (withdrawn for everyone).
    Recall {
        /// The recalled message.
        message_id: EventId,
    },
    /// A reaction was added or removed.
    Reaction {
        /// The message reacted to.
        message_id: EventId,
        /// The emoji.
        emoji: String,
        /// Added (true) or removed (false).
        added: bool,
    },
    /// A group was created (its first event; `member_joined` events for its first members follow).
    GroupCreated {
        /// Its name.
        name: String,
    },
    /// Someone joined.
    MemberJoined {
        /// Who.
        user_id: UserId,
        /// How (absent on a direct conversation).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<JoinedVia>,
        /// Their role.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
    },
    /// Someone left or was removed (the event's `sender_id` is who removed them).
    MemberLeft {
        /// Who.
        user_id: UserId,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<LeftReason>,
    },
    /// A member's role changed (ownership moves as two of these).
    RoleChanged {
        /// Whose.
        user_id: UserId,
        /// Their role now.
        role: Role,
    },
    /// A member was muted (may not post) until a time, or unmuted.
    MemberMuted {
        /// Who.
        user_id: UserId,
        /// Until when; null: unmuted.
        until: Option<Timestamp>,
    },
    /// A group's name, description or settings changed.
    GroupUpdated(GroupChanges),
    /// A group's announcement was set (or cleared: null).
    Announcement {
        /// The text.
        text: Option<String>,
    },
    /// The group was dissolved: read-only history from here on.
    GroupDissolved {},
}

impl EventBody {
    /// The `kind` string, as stored in the `events.kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Edit { .. } => "edit",
            Self::Recall { .. } => "recall",
            Self::Reaction { .. } => "reaction",
            Self::GroupCreated { .. } => "group_created",
            Self::MemberJoined { .. } => "member_joined",
            Self::MemberLeft { .. } => "member_left",
            Self::RoleChanged { .. } => "role_changed",
            Self::MemberMuted { .. } => "member_muted",
            Self::GroupUpdated(_) => "group_updated",
            Self::Announcement { .. } => "announcement",
            Self::GroupDissolved {} => "group_dissolved",
        }
    }
}

/// A page of events, `GET /v1/conversations/{id}/events`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventPage {
    /// Ascending seq.
    pub events: Vec<Event>,
    /// Pass as `cursor` to continue in the same direction; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_event_carries_the_draft_at_its_top_level() {
        let draft = MessageDraft::text(ClientMsgId("k1".into()), "hi");
        let ev = Event {
            id: EventId::new(),
            conversation_id: ConversationId::new(),
            seq: 3,
            sender_id: UserId::new(),
            created_at: Timestamp::now(),
            body: EventBody::Message(draft.clone().into()),
        };
        let v = serde_json::to_value(&ev).unwrap();
        for key in ["id", "conversation_id", "seq", "kind", "sender_id", "created_at", "client_msg_id", "text"] {
            assert!(v.get(key).is_some(), "{key} missing: {v}");
        }
        assert_eq!(v["kind"], "message");
        assert_eq!(v["media_ids"], serde_json::json!([]));
        assert_eq!(v["reply_to"], serde_json::Value::Null);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!((back.id, back.seq, back.body), (ev.id, ev.seq, ev.body));
    }

    #[test]
    fn draft_errors_name_their_field() {
        let e = serde_json::from_str::<MessageDraft>(r#"{"client_msg_id":"a","text":42}"#).unwrap_err();
        assert!(e.to_string().starts_with("text: "), "{e}");
        let e = serde_json::from_str::<MessageDraft>(r#"{"client_msg_id":"a","mentions":["x"]}"#).unwrap_err();
        assert!(e.to_string().starts_with("mentions: "), "{e}");
        let e = serde_json::from_str::<MessageDraft>(r#"{"text":"hi"}"#).unwrap_err();
        assert!(e.to_string().contains("client_msg_id"), "{e}");
    }

    #[test]
    fn stored_events_may_gain_fields() {
        let json = r#"{"kind":"message","client_msg_id":"a","text":"hi","edited_at":"2026-11-22T10:00:00.123Z"}"#;
        assert!(serde_json::from_str::<EventBody>(json).is_ok());
    }
}
