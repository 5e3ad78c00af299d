//! The domain as clients see it: users, conversations and the per-conversation event log.
//! These serde types are the documentation of the JSON shapes.

use serde::{Deserialize, Serialize};

use crate::ids::{ClientMsgId, ConversationId, EventId, Seq, SessionId, UserId};
use crate::time::Timestamp;

/// A user as anyone may see them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Lower-case, unique, 3–32 of `[a-z0-9_.]`.
    pub username: String,
    /// Free-form name shown in clients.
    pub display_name: String,
    /// Short profile text.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub bio: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// `register`, `login` and `refresh` responses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthResponse {
    /// The account.
    pub user: User,
    /// Short-lived Ed25519 JWT for `Authorization: Bearer` and socket auth.
    pub access_token: String,
    /// Long-lived, single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// The auth session these tokens belong to.
    pub session_id: SessionId,
}

/// Direct (two people) or group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Between exactly two users, one per pair.
    Direct,
    /// Named, with owners, admins and members.
    Group,
}

impl ConversationKind {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

/// One entry of `GET /v1/conversations`, from the caller's point of view.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    /// Id.
    pub id: ConversationId,
    /// Direct or group.
    pub kind: ConversationKind,
    /// Group name; null for direct conversations (clients show `peer`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub title: Option<String>,
    /// For a direct conversation, the other participant.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub peer: Option<User>,
    /// The latest event, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_event: Option<Event>,
    /// Seq of the latest event (0 when empty).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub last_seq: Seq,
    /// The caller's read position.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub read_seq: Seq,
    /// Events after `read_seq` that were sent by others.
    pub unread_count: i64,
    /// Unread messages that mention the caller.
    pub mention_count: i64,
    /// Pinned by the caller.
    pub pinned: bool,
    /// Notifications muted until then.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub muted_until: Option<Timestamp>,
    /// Archived by the caller.
    pub archived: bool,
    /// When the conversation was created.
    pub created_at: Timestamp,
}

/// A direct conversation as returned by `POST /v1/conversations/direct`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectConversation {
    /// Id (the same on every call for the pair).
    pub id: ConversationId,
    /// Always `direct`.
    pub kind: ConversationKind,
    /// The two participants.
    pub member_ids: Vec<UserId>,
    /// Seq of the latest event.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub last_seq: Seq,
    /// When it was first created.
    pub created_at: Timestamp,
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

/// The kinds of event and their fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A message.
    Message {
        /// Text, at most [`crate::rules::MAX_TEXT_CHARS`] characters.
        #[cfg_attr(feature = "openapi", schema(required = true, max_length = 8000))]
        text: Option<String>,
        /// Attached media (completed uploads).
        #[cfg_attr(feature = "openapi", schema(required = true))]
        #[serde(default)]
        media_ids: Vec<uuid::Uuid>,
        /// The message this one answers.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        reply_to: Option<EventId>,
        /// Users mentioned.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        #[serde(default)]
        mentions: Vec<UserId>,
        /// The sender's idempotency key.
        client_msg_id: ClientMsgId,
    },
    /// A message's text changed.
    Edit {
        /// The edited message.
        message_id: EventId,
        /// Its new text.
        text: String,
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
    /// Someone joined.
    MemberJoined {
        /// Who.
        user_id: UserId,
    },
    /// Someone left or was removed.
    MemberLeft {
        /// Who.
        user_id: UserId,
    },
}

impl EventBody {
    /// The `kind` string, as stored in the `events.kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::Edit { .. } => "edit",
            Self::Recall { .. } => "recall",
            Self::Reaction { .. } => "reaction",
            Self::MemberJoined { .. } => "member_joined",
            Self::MemberLeft { .. } => "member_left",
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

/// A page of conversations, `GET /v1/conversations`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationPage {
    /// Most recent activity first.
    pub conversations: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A page of users, `GET /v1/users?q=`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    /// Matching users, by username.
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A message to append, as a send (REST or socket) asks for it after validation.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// The authenticated sender.
    pub sender_id: UserId,
    /// Idempotency key.
    pub client_msg_id: ClientMsgId,
    /// Text.
    pub text: Option<String>,
    /// Media.
    pub media_ids: Vec<uuid::Uuid>,
    /// Reply target.
    pub reply_to: Option<EventId>,
    /// Mentions.
    pub mentions: Vec<UserId>,
}
