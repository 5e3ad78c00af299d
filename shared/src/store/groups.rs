//! Groups: their rows, members, invites and join requests. Every write here runs under the
//! group conversation's write lock ([`super::events::lock_heads`]) taken by the service.

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Row};

use super::social::TimeCursor;
use super::users::{USER_COL_COUNT, USER_COLS, user_from_row};
use super::{StoreError, Type};
use crate::ids::{ConversationId, MediaId, Seq, UserId};
use crate::model::{Group, GroupAnnouncement, GroupChanges, GroupInvite, GroupMember, JoinRequest, Role};
use crate::time::Timestamp;

/// A group as stored (the caller's role is added by the service).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    /// Id (the conversation's).
    pub id: ConversationId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Owner.
    pub owner_id: UserId,
    /// Members now.
    pub member_count: i64,
    /// Most members.
    pub max_members: i64,
    /// Only owner and admins post.
    pub broadcast_only: bool,
    /// New members read earlier history.
    pub history_visible: bool,
    /// Joining by invite needs approval.
    pub join_approval: bool,
    /// The announcement.
    pub announcement: Option<GroupAnnouncement>,
    /// Created.
    pub created_at: Timestamp,
    /// Dissolved.
    pub dissolved_at: Option<Timestamp>,
    /// Its avatar.
    pub avatar_media_id: Option<MediaId>,
}

impl GroupRow {
    /// As the caller (with `role`) sees it.
    pub fn view(self, role: Role) -> Group {
        Group {
            id: self.id,
            conversation_id: self.id,
            name: self.name,
            description: self.description,
            owner_id: self.owner_id,
            member_count: self.member_count,
            max_members: self.max_members,
            broadcast_only: self.broadcast_only,
            history_visible: self.history_visible,
            join_approval: self.join_approval,
            announcement: self.announcement,
            created_at: self.created_at,
            dissolved_at: self.dissolved_at,
            avatar_media_id: self.avatar_media_id,
            my_role: role,
        }
    }
}

/// A member row: the user's columns, then role, joined_at, silenced_until.
fn member_cols() -> String {
    format!("{USER_COLS}, m.role, m.joined_at, m.silenced_until, m.read_seq, m.delivered_seq")
}

const GROUP_COLS: &str = "g.conversation_id, c.title, g.description, g.owner_id, g.member_count, g.max_members, \
     g.broadcast_only, g.history_visible, g.join_approval, g.announcement, g.announcement_by, g.announcement_at, \
     g.created_at, g.dissolved_at, g.avatar_media_id";

fn group_from_row(r: &Row) -> GroupRow {
    let announcement = r.get::<_, Option<String>>(9).map(|text| GroupAnnouncement {
        text,
        by: r.get::<_, Option<uuid::Uuid>>(10).map(UserId),
        at: Timestamp(r.get::<_, Option<DateTime<Utc>>>(11).unwrap_or_else(Utc::now)),
    });
    GroupRow {
        id: ConversationId(r.get(0)),
        name: r.get::<_, Option<String>>(1).unwrap_or_default(),
        description: r.get(2),
        owner_id: UserId(r.get(3)),
        member_count: i64::from(r.get::<_, i32>(4)),
        max_members: i64::from(r.get::<_, i32>(5)),
        broadcast_only: r.get(6),
        history_visible: r.get(7),
        join_approval: r.get(8),
        announcement,
        created_at: Timestamp(r.get(12)),
        dissolved_at: r.get::<_, Option<DateTime<Utc>>>(13).map(Timestamp),
        avatar_media_id: r.get::<_, Option<uuid::Uuid>>(14).map(MediaId),
    }
}

/// A new group's settings.
#[derive(Clone, Debug)]
pub struct NewGroup<'a> {
    /// Id (also the conversation's).
    pub id: ConversationId,
    /// Creator and owner.
    pub owner: UserId,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Broadcast-only.
    pub broadcast_only: bool,
    /// History visible.
    pub history_visible: bool,
    /// Join approval.
    pub join_approval: bool,
    /// Member limit.
    pub max_members: i64,
}

/// Creates the group's conversation and row (no members yet).
pub async fn create<C: GenericClient>(c: &C, g: &NewGroup<'_>) -> Result<(), StoreError> {
    c.query_typed(
        "INSERT INTO conversations (id, kind, title) VALUES ($1, 'group', $2)",
        &[(&g.id.0, Type::UUID), (&g.name, Type::TEXT)],
    )
    .await?;
    let max = g.max_members as i32;
    c.query_typed(
        "INSERT INTO groups (conversation_id, description, owner_id, broadcast_only, history_visible, join_approval, \
                             max_members) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            (&g.id.0, Type::UUID),
            (&g.description, Type::TEXT),
            (&g.owner.0, Type::UUID),
            (&g.broadcast_only, Type::BOOL),
            (&g.history_visible, Type::BOOL),
            (&g.join_approval, Type::BOOL),
            (&max, Type::INT4),
        ],
    )
    .await?;
    Ok(())
}

/// A group by id.
pub async fn get<C: GenericClient>(c: &C, id: ConversationId) -> Result<Option<GroupRow>, StoreError> {
    let sql = format!(
        "SELECT {GROUP_COLS} FROM groups g JOIN conversations c ON c.id = g.conversation_id WHERE g.conversation_id = $1"
    );
    Ok(c.query_typed(&sql, &[(&id.0, Type::UUID)]).await?.first().map(group_from_row))
}

/// Writes a group's name, description, settings and avatar as `changes` says (absent fields stay;
/// an empty description, like a `null` avatar, clears it).
pub async fn update<C: GenericClient>(c: &C, id: ConversationId, changes: &GroupChanges) -> Result<(), StoreError> {
    let GroupChanges { name, description, broadcast_only, history_visible, join_approval, avatar_media_id: avatar } =
        changes;
    let set_desc = description.is_some();
    let desc = description.as_deref().filter(|d| !d.is_empty());
    let avatar_id = avatar.flatten().map(|m| m.0);
    futures_util::future::try_join(
        c.query_typed(
            "UPDATE conversations SET title = COALESCE($2, title) WHERE id = $1",
            &[(&id.0, Type::UUID), (&name, Type::TEXT)],
        ),
        c.query_typed(
            "UPDATE groups SET description = CASE WHEN $2 THEN $3 ELSE description END, \
                    broadcast_only = COALESCE($4, broadcast_only), history_visible = COALESCE($5, history_visible), \
                    join_approval = COALESCE($6, join_approval), \
                    avatar_media_id = CASE WHEN $7 THEN $8 ELSE avatar_media_id END WHERE conversation_id = $1",
            &[
                (&id.0, Type::UUID),
                (&set_desc, Type::BOOL),
                (&desc, Type::TEXT),
                (&broadcast_only, Type::BOOL),
                (&history_visible, Type::BOOL),
                (&join_approval, Type::BOOL),
                (&avatar.is_some(), Type::BOOL),
                (&avatar_id, Type::UUID),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Sets (or, with `None`, clears) the announcement.
pub async fn set_announcement<C: GenericClient>(
    c: &C,
    id: ConversationId,
    text: Option<&str>,
    by: UserId,
) -> Result<(), StoreError> {
    c.query_typed(
        "UPDATE groups SET announcement = $2, announcement_by = CASE WHEN $2::text IS NULL THEN NULL ELSE $3 END, \
                announcement_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END WHERE conversation_id = $1",
        &[(&id.0, Type::UUID), (&text, Type::TEXT), (&by.0, Type::UUID)],
    )
    .await?;
    Ok(())
}

/// Marks a group dissolved.
pub async fn dissolve<C: GenericClient>(c: &C, id: ConversationId) -> Result<(), StoreError> {
    c.query_typed("UPDATE groups SET dissolved_at = now() WHERE conversation_id = $1", &[(&id.0, Type::UUID)]).await?;
    Ok(())
}

/// Records the new owner.
pub async fn set_owner<C: GenericClient>(c: &C, id: ConversationId, owner: UserId) -> Result<(), StoreError> {
    c.query_typed(
        "UPDATE groups SET owner_id = $2 WHERE conversation_id = $1",
        &[(&id.0, Type::UUID), (&owner.0, Type::UUID)],
    )
    .await?;
    Ok(())
}

/// Of `users`, those who exist and were not deleted.
pub async fn live_users<C: GenericClient>(c: &C, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed("SELECT id FROM users WHERE id = ANY($1) AND deleted_at IS NULL", &[(&ids, Type::UUID_ARRAY)])
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Of `users`, those already members of `id`.
pub async fn members_among<C: GenericClient>(
    c: &C,
    id: ConversationId,
    users: &[UserId],
) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed(
            "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id = ANY($2)",
            &[(&id.0, Type::UUID), (&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Of `users`, those between whom and `me` a block stands (either way).
pub async fn blocked_among<C: GenericClient>(c: &C, me: UserId, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let rows = c
        .query_typed(
            "SELECT u FROM unnest($2::uuid[]) AS u WHERE EXISTS (SELECT 1 FROM blocks b \
                WHERE (b.blocker_id = $1 AND b.blocked_id = u) OR (b.blocker_id = u AND b.blocked_id = $1))",
            &[(&me.0, Type::UUID), (&ids, Type::UUID_ARRAY)],
        )
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Adds members with `role`, joined when the log stood at `joined_seq` (their read position
/// starts there too), and counts them in; a former member's record of leaving goes.
pub async fn add_members<C: GenericClient>(
    c: &C,
    id: ConversationId,
    users: &[UserId],
    role: Role,
    joined_seq: Seq,
    added_by: Option<UserId>,
) -> Result<(), StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let added_by = added_by.map(|u| u.0);
    let n = users.len() as i32;
    futures_util::future::try_join3(
        c.query_typed(
            "INSERT INTO members (conversation_id, user_id, role, joined_seq, read_seq, added_by) \
             SELECT $1, u, $3, $4, $4, $5 FROM unnest($2::uuid[]) AS u",
            &[
                (&id.0, Type::UUID),
                (&ids, Type::UUID_ARRAY),
                (&role.as_str(), Type::TEXT),
                (&joined_seq, Type::INT8),
                (&added_by, Type::UUID),
            ],
        ),
        c.query_typed(
            "UPDATE groups SET member_count = member_count + $2 WHERE conversation_id = $1",
            &[(&id.0, Type::UUID), (&n, Type::INT4)],
        ),
        c.query_typed(
            "DELETE FROM former_members WHERE conversation_id = $1 AND user_id = ANY($2)",
            &[(&id.0, Type::UUID), (&ids, Type::UUID_ARRAY)],
        ),
    )
    .await?;
    Ok(())
}

/// Removes a member whose view of the log ends at `left_seq` (their `member_left` event), and
/// keeps that as their former membership; false when they were not a member.
pub async fn remove_member<C: GenericClient>(
    c: &C,
    id: ConversationId,
    user: UserId,
    left_seq: Seq,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "WITH gone AS (DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 RETURNING joined_seq), \
                  kept AS (INSERT INTO former_members (conversation_id, user_id, joined_seq, left_seq) \
                           SELECT $1, $2, joined_seq, $3 FROM gone \
                           ON CONFLICT (user_id, conversation_id) DO UPDATE \
                             SET joined_seq = EXCLUDED.joined_seq, left_seq = EXCLUDED.left_seq, left_at = now()) \
             UPDATE groups SET member_count = member_count - (SELECT count(*) FROM gone) \
             WHERE conversation_id = $1 RETURNING (SELECT count(*) FROM gone)",
            &[(&id.0, Type::UUID), (&user.0, Type::UUID), (&left_seq, Type::INT8)],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get::<_, i64>(0) > 0))
}

/// The owner and admins of a group (who hear of join requests).
pub async fn managers<C: GenericClient>(c: &C, id: ConversationId) -> Result<Vec<UserId>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT user_id FROM members WHERE conversation_id = $1 AND role IN ('owner', 'admin')",
            &[(&id.0, Type::UUID)],
        )
        .await?;
    Ok(rows.iter().map(|r| UserId(r.get(0))).collect())
}

/// Who would own a group its owner leaves without transferring it (an account deletion): the
/// longest-standing admin, else the longest-standing member, else guest; never `except`.
pub async fn successor<C: GenericClient>(
    c: &C,
    id: ConversationId,
    except: UserId,
) -> Result<Option<UserId>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id <> $2 \
             ORDER BY CASE role WHEN 'admin' THEN 0 WHEN 'member' THEN 1 ELSE 2 END, joined_at, user_id LIMIT 1",
            &[(&id.0, Type::UUID), (&except.0, Type::UUID)],
        )
        .await?;
    Ok(rows.first().map(|r| UserId(r.get(0))))
}

/// The groups `user` is a member of (to leave them all when the account is deleted).
pub async fn groups_of<C: GenericClient>(c: &C, user: UserId) -> Result<Vec<ConversationId>, StoreError> {
    let rows = c
        .query_typed(
            "SELECT m.conversation_id FROM members m JOIN groups g ON g.conversation_id = m.conversation_id \
             WHERE m.user_id = $1",
            &[(&user.0, Type::UUID)],
        )
        .await?;
    Ok(rows.iter().map(|r| ConversationId(r.get(0))).collect())
}

/// Sets a member's role.
pub async fn set_role<C: GenericClient>(c: &C, id: ConversationId, user: UserId, role: Role) -> Result<(), StoreError> {
    c.query_typed(
        "UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
        &[(&id.0, Type::UUID), (&user.0, Type::UUID), (&role.as_str(), Type::TEXT)],
    )
    .await?;
    Ok(())
}

/// Mutes a member until `until` (or unmutes with `None`).
pub async fn set_muted<C: GenericClient>(
    c: &C,
    id: ConversationId,
    user: UserId,
    until: Option<Timestamp>,
) -> Result<(), StoreError> {
    let until = until.map(|t| t.0);
    c.query_typed(
        "UPDATE members SET silenced_until = $3 WHERE conversation_id = $1 AND user_id = $2",
        &[(&id.0, Type::UUID), (&user.0, Type::UUID), (&until, Type::TIMESTAMPTZ)],
    )
    .await?;
    Ok(())
}

/// A page of members, in the order they joined, after `after`.
pub async fn members<C: GenericClient>(
    c: &C,
    id: ConversationId,
    after: Option<TimeCursor>,
    limit: i64,
) -> Result<Vec<(GroupMember, TimeCursor)>, StoreError> {
    let sql = format!(
        "SELECT {} FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $1 AND ($2::timestamptz IS NULL OR (m.joined_at, m.user_id) > ($2, $3::uuid)) \
         ORDER BY m.joined_at, m.user_id LIMIT $4",
        member_cols()
    );
    let (at, uid) = (after.map(|a| a.at), after.map(|a| a.id));
    let rows = c
        .query_typed(&sql, &[(&id.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&uid, Type::UUID), (&limit, Type::INT8)])
        .await?;
    rows.iter().map(member_from_row).collect()
}

/// One member, as the member list shows them.
pub async fn member<C: GenericClient>(
    c: &C,
    id: ConversationId,
    user: UserId,
) -> Result<Option<GroupMember>, StoreError> {
    let sql = format!(
        "SELECT {} FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = $1 AND m.user_id = $2",
        member_cols()
    );
    let rows = c.query_typed(&sql, &[(&id.0, Type::UUID), (&user.0, Type::UUID)]).await?;
    rows.first().map(|r| member_from_row(r).map(|(m, _)| m)).transpose()
}

fn member_from_row(r: &Row) -> Result<(GroupMember, TimeCursor), StoreError> {
    let n = USER_COL_COUNT;
    let role: &str = r.get(n);
    let role = Role::from_db(role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
    let user = user_from_row(r, 0);
    let joined: DateTime<Utc> = r.get(n + 1);
    let cursor = TimeCursor { at: joined, id: user.id.0 };
    let m = GroupMember {
        user,
        role,
        joined_at: Timestamp(joined),
        muted_until: r.get::<_, Option<DateTime<Utc>>>(n + 2).map(Timestamp),
        read_seq: r.get(n + 3),
        delivered_seq: r.get(n + 4),
    };
    Ok((m, cursor))
}

const INVITE_COLS: &str = "code, group_id, created_by, created_at, expires_at, max_uses, uses, revoked_at";

fn invite_from_row(r: &Row) -> GroupInvite {
    GroupInvite {
        code: r.get(0),
        group_id: ConversationId(r.get(1)),
        created_by: r.get::<_, Option<uuid::Uuid>>(2).map(UserId),
        created_at: Timestamp(r.get(3)),
        expires_at: Timestamp(r.get(4)),
        max_uses: r.get::<_, Option<i32>>(5).map(i64::from),
        uses: i64::from(r.get::<_, i32>(6)),
        revoked_at: r.get::<_, Option<DateTime<Utc>>>(7).map(Timestamp),
    }
}

/// Stores a new invite.
pub async fn create_invite<C: GenericClient>(
    c: &C,
    code: &str,
    group: ConversationId,
    by: UserId,
    expires_in_secs: i64,
    max_uses: Option<i64>,
) -> Result<GroupInvite, StoreError> {
    let secs = expires_in_secs as f64;
    let max = max_uses.map(|m| m as i32);
    let sql = format!(
        "INSERT INTO group_invites (code, group_id, created_by, expires_at, max_uses) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) RETURNING {INVITE_COLS}"
    );
    let row = c
        .query_typed_one(
            &sql,
            &[
                (&code, Type::TEXT),
                (&group.0, Type::UUID),
                (&by.0, Type::UUID),
                (&secs, Type::FLOAT8),
                (&max, Type::INT4),
            ],
        )
        .await?;
    Ok(invite_from_row(&row))
}

/// A group's invites, newest first, after `after`.
pub async fn invites<C: GenericClient>(
    c: &C,
    group: ConversationId,
    after: Option<TimeCursor>,
    limit: i64,
) -> Result<Vec<GroupInvite>, StoreError> {
    let sql = format!(
        "SELECT {INVITE_COLS} FROM group_invites WHERE group_id = $1 \
           AND ($2::timestamptz IS NULL OR created_at < $2) ORDER BY created_at DESC LIMIT $3"
    );
    let at = after.map(|a| a.at);
    let rows = c.query_typed(&sql, &[(&group.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&limit, Type::INT8)]).await?;
    Ok(rows.iter().map(invite_from_row).collect())
}

/// An invite by code.
pub async fn invite<C: GenericClient>(c: &C, code: &str) -> Result<Option<GroupInvite>, StoreError> {
    let sql = format!("SELECT {INVITE_COLS} FROM group_invites WHERE code = $1");
    Ok(c.query_typed(&sql, &[(&code, Type::TEXT)]).await?.first().map(invite_from_row))
}

/// An invite by code, locked for update (a join uses it).
pub async fn invite_for_update<C: GenericClient>(c: &C, code: &str) -> Result<Option<GroupInvite>, StoreError> {
    let sql = format!("SELECT {INVITE_COLS} FROM group_invites WHERE code = $1 FOR UPDATE");
    Ok(c.query_typed(&sql, &[(&code, Type::TEXT)]).await?.first().map(invite_from_row))
}

/// Counts one use of an invite.
pub async fn use_invite<C: GenericClient>(c: &C, code: &str) -> Result<(), StoreError> {
    c.query_typed("UPDATE group_invites SET uses = uses + 1 WHERE code = $1", &[(&code, Type::TEXT)]).await?;
    Ok(())
}

/// Revokes an invite of `group`; false when there is no such active invite.
pub async fn revoke_invite<C: GenericClient>(c: &C, group: ConversationId, code: &str) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "UPDATE group_invites SET revoked_at = now() WHERE group_id = $1 AND code = $2 AND revoked_at IS NULL \
             RETURNING 1",
            &[(&group.0, Type::UUID), (&code, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Records a request to join; false when one is already waiting.
pub async fn request_join<C: GenericClient>(
    c: &C,
    group: ConversationId,
    user: UserId,
    code: &str,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "INSERT INTO group_join_requests (group_id, user_id, invite_code) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING RETURNING 1",
            &[(&group.0, Type::UUID), (&user.0, Type::UUID), (&code, Type::TEXT)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// Takes a waiting request off the list; false when there was none.
pub async fn take_join_request<C: GenericClient>(
    c: &C,
    group: ConversationId,
    user: UserId,
) -> Result<bool, StoreError> {
    let rows = c
        .query_typed(
            "DELETE FROM group_join_requests WHERE group_id = $1 AND user_id = $2 RETURNING 1",
            &[(&group.0, Type::UUID), (&user.0, Type::UUID)],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// A group's waiting requests, oldest first, after `after`.
pub async fn join_requests<C: GenericClient>(
    c: &C,
    group: ConversationId,
    after: Option<TimeCursor>,
    limit: i64,
) -> Result<Vec<JoinRequest>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLS}, r.created_at FROM group_join_requests r JOIN users u ON u.id = r.user_id \
         WHERE r.group_id = $1 AND ($2::timestamptz IS NULL OR (r.created_at, r.user_id) > ($2, $3::uuid)) \
         ORDER BY r.created_at, r.user_id LIMIT $4"
    );
    let (at, uid) = (after.map(|a| a.at), after.map(|a| a.id));
    let rows = c
        .query_typed(
            &sql,
            &[(&group.0, Type::UUID), (&at, Type::TIMESTAMPTZ), (&uid, Type::UUID), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| JoinRequest {
            group_id: group,
            user: user_from_row(r, 0),
            created_at: Timestamp(r.get(USER_COL_COUNT)),
        })
        .collect())
}
