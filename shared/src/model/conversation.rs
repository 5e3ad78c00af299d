//! Conversations from one member's point of view, and the facts of a membership.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, Seq, UserId};
use crate::model::event::Event;
use crate::model::user::User;
use crate::time::Timestamp;

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

    /// From the database spelling; anything unknown reads as direct.
    pub fn from_db(s: &str) -> Self {
        match s {
            "group" => Self::Group,
            _ => Self::Direct,
        }
    }
}

/// A member's role in a conversation, in rising rank. Both members of a direct conversation are
/// `member`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads and reacts; never posts.
    Guest,
    /// Ordinary member.
    Member,
    /// Manages members and settings.
    Admin,
    /// Created (or was given) the group.
    Owner,
}

impl Role {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// From the database spelling; `None` for an unknown role.
    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "guest" => Some(Self::Guest),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// What the store knows of one user's membership of one conversation: the facts permission
/// rules decide on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The member's role.
    pub role: Role,
    /// The conversation's last seq before they joined.
    pub joined_seq: Seq,
    /// Muted by an owner or admin until then.
    pub muted_until: Option<Timestamp>,
    /// For a group, its settings.
    pub group: Option<GroupFacts>,
}

impl Membership {
    /// A direct conversation's member (no group facts).
    pub fn direct() -> Membership {
        Membership { role: Role::Member, joined_seq: 0, muted_until: None, group: None }
    }

    /// The first seq the member may read: history before they joined is hidden unless the group
    /// shows it.
    pub fn visible_after(&self) -> Seq {
        match self.group {
            Some(g) if !g.history_visible => self.joined_seq,
            _ => 0,
        }
    }
}

/// A group's settings, as the rules need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupFacts {
    /// Only the owner and admins post.
    pub broadcast_only: bool,
    /// New members read earlier history.
    pub history_visible: bool,
    /// Dissolved: read-only.
    pub dissolved: bool,
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
    /// For a group, its members now; null for direct conversations.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub member_count: Option<i64>,
    /// For a direct conversation, how far the other member has read (null for groups: see
    /// `GET /v1/groups/{id}/members`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<i64>))]
    pub peer_read_seq: Option<Seq>,
    /// For a direct conversation, how far the other member's devices have received the log.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<i64>))]
    pub peer_delivered_seq: Option<Seq>,
    /// The latest event, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_event: Option<Event>,
    /// Seq of the latest event (0 when empty).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub last_seq: Seq,
    /// The caller's read position.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub read_seq: Seq,
    /// Messages after `read_seq` sent by others (never the caller's own, never edits,
    /// reactions or membership events; not recalled ones, not ones the caller deleted).
    pub unread_count: i64,
    /// Of those, the ones that mention the caller or `@all`.
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

/// Answer of `POST /v1/conversations/{id}/read`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadState {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The caller's read position after the call.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub read_seq: Seq,
}

/// A member's read position moved: the `read` frame, and the notice that carries it between
/// nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadReceipt {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Reader.
    pub user_id: UserId,
    /// Their read seq now.
    pub seq: Seq,
}

/// A member is typing (or stopped): the `typing` frame to the other members, and its notice.
/// Never stored; clients drop an indicator not refreshed within [`TYPING_EXPIRES_SECS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingIndicator {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Typist.
    pub user_id: UserId,
    /// Started (or still) typing; false: stopped.
    #[serde(default = "yes")]
    pub active: bool,
}

/// Seconds after which a client shows a typing indicator as stopped unless refreshed (typing
/// clients send `typing` every few seconds while they type).
pub const TYPING_EXPIRES_SECS: u64 = 6;

fn yes() -> bool {
    true
}

/// A member's devices have received the log up to `seq`: the `delivered` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryReceipt {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// The member.
    pub user_id: UserId,
    /// Their delivered seq now.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
}
