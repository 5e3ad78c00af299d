//! Notices: what happened to a user outside their conversations. Stored per user (an offline
//! user lists them later with `GET /v1/notices`) and pushed to their connected devices as
//! `{"type":"notice", ...}` frames.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, FriendRequestId, NoticeId, UserId};
use crate::model::social::FriendRequest;
use crate::model::user::User;
use crate::time::Timestamp;

/// One notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notice {
    /// Id (time-ordered).
    pub id: NoticeId,
    /// When it happened.
    pub created_at: Timestamp,
    /// Whether the user has marked it (or a later one) seen.
    pub seen: bool,
    /// `kind` and the kind's fields.
    #[serde(flatten)]
    pub body: NoticeBody,
}

/// The kinds of notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeBody {
    /// Someone asked to be friends.
    FriendRequest {
        /// The request.
        request: FriendRequest,
    },
    /// A friend request the user sent was accepted, or they accepted one: now friends.
    FriendAccepted {
        /// The new friend.
        user: User,
    },
    /// The recipient declined a request the user sent.
    FriendDeclined {
        /// The request.
        request_id: FriendRequestId,
        /// Who declined.
        user_id: UserId,
    },
    /// The sender withdrew a request the user had received.
    FriendRequestCancelled {
        /// The request.
        request_id: FriendRequestId,
        /// Who withdrew it.
        user_id: UserId,
    },
    /// A friendship ended (unfriended by either side, or a block).
    FriendRemoved {
        /// The former friend.
        user_id: UserId,
    },
    /// Someone added the user to a group (or approved their request to join).
    AddedToGroup {
        /// The group.
        group_id: ConversationId,
        /// Its name then.
        name: String,
        /// Who added them.
        by: UserId,
    },
    /// An owner or admin removed the user from a group.
    RemovedFromGroup {
        /// The group.
        group_id: ConversationId,
        /// Its name then.
        name: String,
        /// Who removed them.
        by: UserId,
    },
    /// Someone asks to join a group the user manages.
    JoinRequested {
        /// The group.
        group_id: ConversationId,
        /// Its name then.
        name: String,
        /// Who asks.
        user: User,
    },
    /// A request of the user's to join a group was declined.
    JoinDeclined {
        /// The group.
        group_id: ConversationId,
        /// Its name then.
        name: String,
    },
}

/// A page of notices.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoticePage {
    /// Newest first.
    pub notices: Vec<Notice>,
    /// Pass as `cursor` for the next (older) page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
    /// Notices newer than the seen marker.
    pub unseen_count: i64,
}
