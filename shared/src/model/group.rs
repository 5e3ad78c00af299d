//! Groups: named conversations with roles, settings, an announcement and invites. A group's id
//! is its conversation's id.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, MediaId, UserId};
use crate::model::conversation::Role;
use crate::model::user::User;
use crate::time::Timestamp;

/// A group as its members see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// Id (the same as `conversation_id`).
    pub id: ConversationId,
    /// Its conversation (the event log).
    pub conversation_id: ConversationId,
    /// Name, 1–64 characters.
    pub name: String,
    /// What it is about.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    /// The owner.
    pub owner_id: UserId,
    /// Members now.
    pub member_count: i64,
    /// Most members it may have.
    pub max_members: i64,
    /// Only the owner and admins post.
    pub broadcast_only: bool,
    /// New members read the history from before they joined.
    pub history_visible: bool,
    /// Joining by invite waits for an owner's or admin's approval.
    pub join_approval: bool,
    /// The pinned announcement.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub announcement: Option<GroupAnnouncement>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was dissolved (read-only history since).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub dissolved_at: Option<Timestamp>,
    /// Its avatar, an image anyone signed in may download; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<MediaId>,
    /// The caller's role.
    pub my_role: Role,
}

/// A group's announcement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupAnnouncement {
    /// Text.
    pub text: String,
    /// Who set it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub by: Option<UserId>,
    /// When.
    pub at: Timestamp,
}

/// A member, as `GET /v1/groups/{id}/members` lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupMember {
    /// The user.
    pub user: User,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: Timestamp,
    /// Muted (may not post) until then.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub muted_until: Option<Timestamp>,
    /// How far they have read.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub read_seq: crate::ids::Seq,
    /// How far their devices have received the log.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub delivered_seq: crate::ids::Seq,
}

/// A page of members.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberPage {
    /// In the order they joined.
    pub members: Vec<GroupMember>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// An invite code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupInvite {
    /// The code to join with (`POST /v1/groups/join`).
    pub code: String,
    /// The group.
    pub group_id: ConversationId,
    /// Who made it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: Timestamp,
    /// Usable until then.
    pub expires_at: Timestamp,
    /// Most joins it admits (null: any number).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub max_uses: Option<i64>,
    /// Joins so far.
    pub uses: i64,
    /// When it was revoked.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub revoked_at: Option<Timestamp>,
}

/// A page of invites.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitePage {
    /// Newest first.
    pub invites: Vec<GroupInvite>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// Someone waiting to join a group that needs approval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinRequest {
    /// The group.
    pub group_id: ConversationId,
    /// Who asks.
    pub user: User,
    /// Since when.
    pub created_at: Timestamp,
}

/// A page of join requests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinRequestPage {
    /// Oldest first.
    pub requests: Vec<JoinRequest>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// What joining by code did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JoinOutcome {
    /// The group: the caller is a member (`pending` false), or waits for approval.
    pub group_id: ConversationId,
    /// Waiting for an owner's or admin's approval.
    pub pending: bool,
    /// The group, once the caller is a member.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub group: Option<Group>,
}

/// How a member came in, on their `member_joined` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JoinedVia {
    /// Created the group, or was among its first members.
    Created,
    /// Added by an owner or admin.
    Added,
    /// Joined with an invite code.
    Invite,
    /// Joined by an approved request.
    Approved,
}

/// Why a member left, on their `member_left` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    /// They left.
    Left,
    /// An owner or admin removed them.
    Removed,
    /// Their account was deleted.
    AccountDeleted,
}

/// What `POST /v1/groups/{id}/members` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddOutcome {
    /// Added now, in the order asked.
    pub added: Vec<UserId>,
    /// Not added, and why.
    pub skipped: Vec<SkippedUser>,
}

/// A user an add left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedUser {
    /// The user.
    pub user_id: UserId,
    /// Why.
    pub reason: SkipReason,
}

/// Why an add left a user out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Already a member.
    AlreadyMember,
    /// No such user (or the account was deleted).
    NotFound,
    /// A block stands between them and the caller.
    NotAllowed,
}

/// The settings a `group_updated` event changed (only those).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupChanges {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description (an empty string: cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Broadcast-only on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_only: Option<bool>,
    /// History visible to new members on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_visible: Option<bool>,
    /// Join approval on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_approval: Option<bool>,
    /// A new avatar (`null`: removed).
    #[serde(default, deserialize_with = "crate::model::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid, nullable))]
    pub avatar_media_id: Option<Option<MediaId>>,
}

impl GroupChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == GroupChanges::default()
    }
}

/// `POST /v1/groups`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// 1–64 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// At most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// The first members besides the creator (at most 500).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub member_ids: Vec<UserId>,
    /// Only the owner and admins post.
    #[serde(default)]
    pub broadcast_only: bool,
    /// New members read earlier history.
    #[serde(default)]
    pub history_visible: bool,
    /// Joining by invite needs approval.
    #[serde(default)]
    pub join_approval: bool,
}

/// `PATCH /v1/groups/{id}`: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// 1–64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// At most 500 characters; an empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// Only the owner and admins post ("mute all").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast_only: Option<bool>,
    /// New members read earlier history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_visible: Option<bool>,
    /// Joining by invite needs approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_approval: Option<bool>,
    /// A completed image upload of the caller's as the group's avatar; `null` removes it.
    #[serde(default, deserialize_with = "crate::model::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid, nullable))]
    pub avatar_media_id: Option<Option<MediaId>>,
}

/// `POST /v1/groups/{id}/members`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    /// Who to add, 1 to 500 at a time.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub user_ids: Vec<UserId>,
}

/// `PATCH /v1/groups/{id}/members/{user_id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// `admin`, `member` or `guest` (the owner changes by `transfer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Mute until then; `null` unmutes. Absent: unchanged.
    #[serde(default, deserialize_with = "crate::model::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Timestamp>))]
    pub muted_until: Option<Option<Timestamp>>,
}

/// `POST /v1/groups/{id}/transfer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferGroup {
    /// The new owner (a member); the old owner becomes an admin.
    pub user_id: UserId,
}

/// `PUT /v1/groups/{id}/announcement`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetAnnouncement {
    /// At most 2000 characters; an empty string clears it.
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub text: String,
}

/// `POST /v1/groups/{id}/invites`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    /// Seconds it stays usable: 60 to 30 days (default 7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 60, maximum = 2592000))]
    pub expires_in: Option<i64>,
    /// Most joins it admits, 1 to 10000 (default: any number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub max_uses: Option<i64>,
}

/// `POST /v1/groups/join`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JoinGroup {
    /// An invite code.
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn muted_until_tells_absent_from_null() {
        let absent: UpdateMember = serde_json::from_str(r#"{"role":"admin"}"#).unwrap();
        assert_eq!(absent.muted_until, None);
        let null: UpdateMember = serde_json::from_str(r#"{"muted_until":null}"#).unwrap();
        assert_eq!(null.muted_until, Some(None));
        let set: UpdateMember = serde_json::from_str(r#"{"muted_until":"2026-11-22T10:00:00.123Z"}"#).unwrap();
        assert!(matches!(set.muted_until, Some(Some(_))));
    }
}
