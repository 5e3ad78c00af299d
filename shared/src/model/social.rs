//! People and the ties between them: profiles as others see them, friends, friend requests,
//! blocks, presence.

use serde::{Deserialize, Serialize};

use crate::ids::{FriendRequestId, UserId};
use crate::model::user::User;
use crate::time::Timestamp;

/// How the caller stands with another user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// Friends.
    Friend,
    /// The caller asked them; the request is pending.
    RequestSent,
    /// They asked the caller; the request is pending.
    RequestReceived,
    /// A block stands between them (either way).
    Blocked,
    /// None of the above.
    None,
}

/// Who may open a direct conversation with a user and message them there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DmPolicy {
    /// Anyone who has not been blocked.
    #[default]
    Everyone,
    /// Friends only.
    Friends,
}

impl DmPolicy {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::Friends => "friends",
        }
    }

    /// From the database spelling; anything unknown reads as the default.
    pub fn from_db(s: &str) -> Self {
        match s {
            "friends" => Self::Friends,
            _ => Self::Everyone,
        }
    }
}

/// Whether a user is online, as their friends may see it (`None` to others, and for users who
/// hide their presence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceView {
    /// Online on some device right now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// When they were last online, if they are not now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
}

/// `GET /v1/users/{id}`: a user's public profile, how the caller stands with them, and (for a
/// friend who shows it) their presence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// How the caller stands with them.
    pub relationship: Relationship,
    /// Their presence, for friends.
    #[serde(flatten)]
    pub presence: PresenceView,
}

/// `GET /v1/users/me` and `PATCH /v1/users/me`: the caller's profile and settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnProfile {
    /// The caller.
    #[serde(flatten)]
    pub user: User,
    /// Who may message the caller directly.
    pub dm_policy: DmPolicy,
    /// Whether friends see the caller online.
    pub show_presence: bool,
}

/// A friend in `GET /v1/friends`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Friend {
    /// The friend.
    #[serde(flatten)]
    pub user: User,
    /// Friends since.
    pub since: Timestamp,
    /// Their presence, when they show it.
    #[serde(flatten)]
    pub presence: PresenceView,
}

/// A page of friends.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendPage {
    /// By username.
    pub friends: Vec<Friend>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// Where a friend request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FriendRequestStatus {
    /// Waiting for the recipient.
    Pending,
    /// Accepted: the two are friends.
    Accepted,
    /// Declined by the recipient.
    Declined,
    /// Withdrawn by the sender (or ended by a block).
    Cancelled,
}

impl FriendRequestStatus {
    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
        }
    }

    /// From the database spelling.
    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "declined" => Some(Self::Declined),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A friend request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendRequest {
    /// Id.
    pub id: FriendRequestId,
    /// Who asked.
    pub from: User,
    /// Who was asked.
    pub to: User,
    /// What the sender wrote with it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub message: Option<String>,
    /// Where it stands.
    pub status: FriendRequestStatus,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it was accepted, declined or cancelled.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub decided_at: Option<Timestamp>,
}

/// A page of pending friend requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FriendRequestPage {
    /// Oldest first.
    pub requests: Vec<FriendRequest>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A user the caller blocked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockedUser {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Since when.
    pub blocked_at: Timestamp,
}

/// A page of blocked users.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlockPage {
    /// Most recent first.
    pub blocks: Vec<BlockedUser>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// A user went online or offline: the `presence` frame to their friends, and the notice that
/// carries it between nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    /// Who.
    pub user_id: UserId,
    /// Online now (on some device, on some node).
    pub online: bool,
    /// When they went offline (absent while online).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
}
