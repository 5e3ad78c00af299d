//! Groups: create, settings, members, roles and mutes, ownership, the announcement, invites and
//! join requests, dissolving.
//!
//! Every change runs in one transaction that first takes the group conversation's write lock
//! ([`events::lock_heads`], the same lock a send takes), decides with [`rules::groups`] on what
//! it read under that lock, writes the member table and appends the events that record the
//! change in the log, so the log and the table never disagree and a send never races a removal.
//! Nodes hear of joins before the events ([`notify::send_members`]) and of departures after them
//! ([`notify::send_left`]), so a new member's connections follow from their own `member_joined`
//! and a removed member's stop right after their `member_left`.

use std::collections::BTreeMap;

use tokio_postgres::GenericClient;

use super::social::{page_end, time_cursor};
use super::{Env, notices};
use crate::auth::AccessClaims;
use crate::error::ApiError;
use crate::ids::{ConversationId, Seq, UserId};
use crate::model::conversation::{GroupFacts, Membership};
use crate::model::{
    AddMembers, AddOutcome, CreateGroup, CreateInvite, EventBody, Group, GroupChanges, GroupInvite, GroupMember,
    InvitePage, JoinGroup, JoinOutcome, JoinRequestPage, JoinedVia, LeftReason, MemberPage, NoticeBody, Role,
    SetAnnouncement, SkipReason, SkippedUser, TransferGroup, UpdateGroup, UpdateMember,
};
use crate::rules;
use crate::rules::groups::Action;
use crate::rules::limits::Costly;
use crate::store::conversations;
use crate::store::events::{self, NewEvent};
use crate::store::groups::{self, GroupRow, NewGroup};
use crate::store::notify;
use crate::store::social::TimeCursor;
use crate::store::tx::transact;
use crate::store::{StoreError, media, users};
use crate::time::Timestamp;

/// A group under its write lock: its head and its row.
struct Locked {
    id: ConversationId,
    heads: BTreeMap<ConversationId, Seq>,
    group: GroupRow,
}

impl Locked {
    /// The log's last seq now.
    fn head(&self) -> Seq {
        self.heads.get(&self.id).copied().unwrap_or(0)
    }

    /// The group's settings as the rules see them.
    fn facts(&self) -> GroupFacts {
        facts_of(&self.group)
    }

    /// Appends `bodies` as events by `sender`; returns them.
    async fn append<C: GenericClient>(
        &mut self,
        c: &C,
        sender: UserId,
        bodies: Vec<EventBody>,
    ) -> Result<Vec<crate::model::Event>, StoreError> {
        let list =
            bodies.into_iter().map(|body| NewEvent { conversation_id: self.id, sender_id: sender, body }).collect();
        let out = events::append(c, &mut self.heads, list).await?;
        Ok(out.into_iter().flatten().collect())
    }
}

/// 404 for a group that does not exist or that the caller may not know about.
fn not_found() -> ApiError {
    ApiError::not_found("group not found")
}

/// Takes the group's write lock and reads it and the caller's membership; 404 unless the
/// caller is a member of a group with this id.
async fn lock<C: GenericClient>(c: &C, id: ConversationId, user: UserId) -> Result<(Locked, Membership), StoreError> {
    let heads = events::lock_heads(c, &[id]).await?;
    if heads.is_empty() {
        return Err(StoreError::refused(not_found()));
    }
    let (group, me) =
        futures_util::future::try_join(groups::get(c, id), conversations::membership(c, id, user)).await?;
    let (Some(group), Some(me)) = (group, me) else { return Err(StoreError::refused(not_found())) };
    Ok((Locked { id, heads, group }, me))
}

/// The settings of a group as the rules see them.
fn facts_of(g: &GroupRow) -> GroupFacts {
    GroupFacts {
        broadcast_only: g.broadcast_only,
        history_visible: g.history_visible,
        dissolved: g.dissolved_at.is_some(),
    }
}

/// Reads the group as `user` sees it (outside a transaction); 404 unless they are a member.
async fn read<C: GenericClient>(c: &C, id: ConversationId, user: UserId) -> Result<(GroupRow, Membership), ApiError> {
    let (group, me) =
        futures_util::future::try_join(groups::get(c, id), conversations::membership(c, id, user)).await?;
    match (group, me) {
        (Some(g), Some(m)) => Ok((g, m)),
        _ => Err(not_found()),
    }
}

/// The group as the caller sees it after a change in this transaction.
async fn view<C: GenericClient>(c: &C, id: ConversationId, role: Role) -> Result<Group, StoreError> {
    let g = groups::get(c, id).await?.ok_or_else(|| StoreError::Corrupt("group vanished".into()))?;
    Ok(g.view(role))
}

fn refused(e: ApiError) -> StoreError {
    StoreError::refused(e)
}

/// `POST /v1/groups`: a new group owned by the caller, with its first members.
pub async fn create<E: Env>(env: &E, me: &AccessClaims, b: CreateGroup) -> Result<Group, ApiError> {
    let words = env.words().await?;
    let name = words.apply("name", &rules::groups::name(&b.name)?)?;
    let description = words.apply_opt("description", rules::groups::description(b.description)?)?;
    let wanted = rules::groups::users_to_add(me.user_id, &b.member_ids, "member_ids")?;
    let max = env.max_group_members();
    rules::groups::room_for(1, wanted.len(), max)?;
    let id = ConversationId::new();
    let mut db = env.db().await?;
    super::limits::spend(env, &mut db, Costly::CreateGroup, me.user_id).await?;
    Ok(transact!(db, |tx| {
        let (others, _) = addable(tx, me.user_id, id, &wanted).await?;
        groups::create(
            tx,
            &NewGroup {
                id,
                owner: me.user_id,
                name: &name,
                description: description.as_deref(),
                broadcast_only: b.broadcast_only,
                history_visible: b.history_visible,
                join_approval: b.join_approval,
                max_members: max,
            },
        )
        .await?;
        groups::add_members(tx, id, &[me.user_id], Role::Owner, 0, None).await?;
        groups::add_members(tx, id, &others, Role::Member, 0, Some(me.user_id)).await?;
        let mut all = vec![me.user_id];
        all.extend(&others);
        notify::send_members(tx, id, &all, 0).await?;
        let mut heads = events::lock_heads(tx, &[id]).await?;
        let mut bodies = vec![EventBody::GroupCreated { name: name.clone() }];
        bodies.extend(all.iter().map(|u| EventBody::MemberJoined {
            user_id: *u,
            via: Some(JoinedVia::Created),
            role: Some(if *u == me.user_id { Role::Owner } else { Role::Member }),
        }));
        let list =
            bodies.into_iter().map(|body| NewEvent { conversation_id: id, sender_id: me.user_id, body }).collect();
        events::append(tx, &mut heads, list).await?;
        notices::push_many(tx, &others, NoticeBody::AddedToGroup { group_id: id, name: name.clone(), by: me.user_id })
            .await?;
        view(tx, id, Role::Owner).await
    })?)
}

/// Of `wanted`, who may be added to `group` by `me` now, and who not (and why).
async fn addable<C: GenericClient>(
    c: &C,
    me: UserId,
    group: ConversationId,
    wanted: &[UserId],
) -> Result<(Vec<UserId>, Vec<SkippedUser>), StoreError> {
    let (live, already, blocked) = futures_util::future::try_join3(
        groups::live_users(c, wanted),
        groups::members_among(c, group, wanted),
        groups::blocked_among(c, me, wanted),
    )
    .await?;
    let mut add = Vec::new();
    let mut skipped = Vec::new();
    for u in wanted {
        let reason = if already.contains(u) {
            Some(SkipReason::AlreadyMember)
        } else if !live.contains(u) {
            Some(SkipReason::NotFound)
        } else if blocked.contains(u) {
            Some(SkipReason::NotAllowed)
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push(SkippedUser { user_id: *u, reason }),
            None => add.push(*u),
        }
    }
    Ok((add, skipped))
}

/// `GET /v1/groups/{id}`.
pub async fn get<E: Env>(env: &E, me: &AccessClaims, id: ConversationId) -> Result<Group, ApiError> {
    let db = env.db().await?;
    let (g, m) = read(&*db, id, me.user_id).await?;
    Ok(g.view(m.role))
}

/// `PATCH /v1/groups/{id}`: name and description (`edit info`), broadcast-only, history and
/// approval (`settings`); one `group_updated` event with what changed.
pub async fn update<E: Env>(env: &E, me: &AccessClaims, id: ConversationId, b: UpdateGroup) -> Result<Group, ApiError> {
    let words = env.words().await?;
    let name = b.name.as_deref().map(rules::groups::name).transpose()?;
    let name = name.map(|n| words.apply("name", &n)).transpose()?;
    // `Some(None)`: clear the description.
    let description = b.description.map(|d| rules::groups::description(Some(d))).transpose()?;
    let description = description.map(|d| words.apply_opt("description", d)).transpose()?;
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        if name.is_some() || description.is_some() || b.avatar_media_id.is_some() {
            rules::groups::may(&mine, Action::EditInfo).map_err(refused)?;
        }
        if let Some(Some(m)) = b.avatar_media_id {
            let found = media::lock_for_attach(tx, &[m]).await?.pop();
            rules::media::avatar(me.user_id, m, found.as_ref().map(|f| f.attach_facts())).map_err(refused)?;
        }
        if b.broadcast_only.is_some() || b.history_visible.is_some() || b.join_approval.is_some() {
            rules::groups::may(&mine, Action::Settings).map_err(refused)?;
        }
        let row = &g.group;
        let changed = |new: Option<bool>, old: bool| new.filter(|n| *n != old);
        let changes = GroupChanges {
            name: name.clone().filter(|n| *n != row.name),
            description: description.clone().filter(|d| *d != row.description).map(Option::unwrap_or_default),
            broadcast_only: changed(b.broadcast_only, row.broadcast_only),
            history_visible: changed(b.history_visible, row.history_visible),
            join_approval: changed(b.join_approval, row.join_approval),
            avatar_media_id: b.avatar_media_id.filter(|a| *a != row.avatar_media_id),
        };
        if changes.is_empty() {
            return view(tx, id, mine.role).await;
        }
        groups::update(tx, id, &changes).await?;
        g.append(tx, me.user_id, vec![EventBody::GroupUpdated(changes)]).await?;
        view(tx, id, mine.role).await
    })?)
}

/// `POST /v1/groups/{id}/members`: adds up to 500 users; those already in, unknown, or with a
/// block between them and the caller are skipped and listed. 403 when they would not fit.
pub async fn add<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    b: AddMembers,
) -> Result<AddOutcome, ApiError> {
    let wanted = rules::groups::users_to_add(me.user_id, &b.user_ids, "user_ids")?;
    if wanted.is_empty() {
        return Err(ApiError::invalid("user_ids: at least one user other than the caller"));
    }
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        rules::groups::may(&mine, Action::AddMembers).map_err(refused)?;
        let (added, skipped) = addable(tx, me.user_id, id, &wanted).await?;
        if !added.is_empty() {
            rules::groups::room_for(g.group.member_count, added.len(), g.group.max_members).map_err(refused)?;
            join(tx, &mut g, &added, me.user_id, Some(me.user_id), JoinedVia::Added).await?;
            let body = NoticeBody::AddedToGroup { group_id: id, name: g.group.name.clone(), by: me.user_id };
            notices::push_many(tx, &added, body).await?;
        }
        Ok(AddOutcome { added, skipped })
    })?)
}

/// Makes `users` members (role `member`): the table, the nodes told, one `member_joined` each
/// (sent by `by`; `added_by` is recorded on the membership).
async fn join<C: GenericClient>(
    c: &C,
    g: &mut Locked,
    users: &[UserId],
    by: UserId,
    added_by: Option<UserId>,
    via: JoinedVia,
) -> Result<(), StoreError> {
    let head = g.head();
    groups::add_members(c, g.id, users, Role::Member, head, added_by).await?;
    notify::send_members(c, g.id, users, head).await?;
    let bodies = users
        .iter()
        .map(|u| EventBody::MemberJoined { user_id: *u, via: Some(via), role: Some(Role::Member) })
        .collect();
    g.append(c, by, bodies).await?;
    g.group.member_count += users.len() as i64;
    Ok(())
}

/// Takes `user` out: their `member_left` (by `by`, for `reason`), the table, the nodes told
/// after it; the group dissolves when nobody is left.
async fn depart<C: GenericClient>(
    c: &C,
    g: &mut Locked,
    user: UserId,
    by: UserId,
    reason: LeftReason,
) -> Result<(), StoreError> {
    let left = g.append(c, by, vec![EventBody::MemberLeft { user_id: user, reason: Some(reason) }]).await?;
    let seq = left.first().map(|e| e.seq).unwrap_or(g.head());
    groups::remove_member(c, g.id, user, seq).await?;
    notify::send_left(c, g.id, &[user], seq).await?;
    g.group.member_count -= 1;
    if g.group.member_count <= 0 && g.group.dissolved_at.is_none() {
        groups::dissolve(c, g.id).await?;
        g.append(c, by, vec![EventBody::GroupDissolved {}]).await?;
    }
    Ok(())
}

/// The target's membership, 404 when they are not a member.
async fn target<C: GenericClient>(c: &C, id: ConversationId, user: UserId) -> Result<Membership, StoreError> {
    conversations::membership(c, id, user)
        .await?
        .ok_or_else(|| refused(ApiError::not_found("that user is not a member of this group")))
}

/// `DELETE /v1/groups/{id}/members/{user_id}`: removes a member below the caller's rank (the
/// caller's own id leaves).
pub async fn remove<E: Env>(env: &E, me: &AccessClaims, id: ConversationId, user: UserId) -> Result<(), ApiError> {
    if user == me.user_id {
        return leave(env, me, id).await;
    }
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        rules::groups::may(&mine, Action::RemoveMembers).map_err(refused)?;
        let them = target(tx, id, user).await?;
        rules::groups::may_act_on(mine.role, them.role, Action::RemoveMembers).map_err(refused)?;
        depart(tx, &mut g, user, me.user_id, LeftReason::Removed).await?;
        let body = NoticeBody::RemovedFromGroup { group_id: id, name: g.group.name.clone(), by: me.user_id };
        notices::push(tx, user, body).await?;
        Ok(())
    })?)
}

/// `PATCH /v1/groups/{id}/members/{user_id}`: a role change (`role_changed`) and/or a mute
/// (`member_muted`; a time already past, or null, unmutes).
pub async fn update_member<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    user: UserId,
    b: UpdateMember,
) -> Result<GroupMember, ApiError> {
    if b.role.is_none() && b.muted_until.is_none() {
        return Err(ApiError::invalid("invalid request body: give role, muted_until or both"));
    }
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        let them = target(tx, id, user).await?;
        let mut bodies = Vec::new();
        if let Some(role) = b.role {
            rules::groups::role_change(mine.role, them.role, role).map_err(refused)?;
            if role != them.role {
                groups::set_role(tx, id, user, role).await?;
                bodies.push(EventBody::RoleChanged { user_id: user, role });
            }
        }
        if let Some(until) = b.muted_until {
            rules::groups::may_act_on(mine.role, them.role, Action::Mute).map_err(refused)?;
            let until = until.filter(|t| *t > Timestamp::now());
            if until != them.muted_until {
                groups::set_muted(tx, id, user, until).await?;
                bodies.push(EventBody::MemberMuted { user_id: user, until });
            }
        }
        if !bodies.is_empty() {
            g.append(tx, me.user_id, bodies).await?;
        }
        groups::member(tx, id, user).await?.ok_or_else(|| StoreError::Corrupt("member vanished".into()))
    })?)
}

/// `POST /v1/groups/{id}/leave`: the owner transfers first, unless they are the last member
/// (the group then dissolves) or it is dissolved already.
pub async fn leave<E: Env>(env: &E, me: &AccessClaims, id: ConversationId) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        let dissolved = g.group.dissolved_at.is_some();
        rules::groups::may_leave(mine.role, g.group.member_count, dissolved).map_err(refused)?;
        depart(tx, &mut g, me.user_id, me.user_id, LeftReason::Left).await
    })?)
}

/// Takes a deleted account out of every group it was in (inside the deletion's transaction):
/// an owner's group passes to its longest-standing admin (else member); the last one leaving
/// dissolves it.
pub(crate) async fn leave_all<C: GenericClient>(c: &C, user: UserId) -> Result<(), StoreError> {
    let ids = groups::groups_of(c, user).await?;
    if ids.is_empty() {
        return Ok(());
    }
    // All at once, in id order: the same order every other writer locks in.
    let all = events::lock_heads(c, &ids).await?;
    for id in ids {
        let Some(&head) = all.get(&id) else { continue };
        let (Some(group), Some(me)) =
            futures_util::future::try_join(groups::get(c, id), conversations::membership(c, id, user)).await?
        else {
            continue;
        };
        let mut g = Locked { id, heads: BTreeMap::from([(id, head)]), group };
        if me.role == Role::Owner
            && g.group.dissolved_at.is_none()
            && let Some(heir) = groups::successor(c, id, user).await?
        {
            groups::set_role(c, id, heir, Role::Owner).await?;
            groups::set_owner(c, id, heir).await?;
            g.append(c, user, vec![EventBody::RoleChanged { user_id: heir, role: Role::Owner }]).await?;
        }
        depart(c, &mut g, user, user, LeftReason::AccountDeleted).await?;
    }
    Ok(())
}

/// `POST /v1/groups/{id}/transfer`: the owner hands the group to a member and becomes an admin.
pub async fn transfer<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    b: TransferGroup,
) -> Result<Group, ApiError> {
    if b.user_id == me.user_id {
        return Err(ApiError::invalid("user_id: the caller already owns the group"));
    }
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        rules::groups::may(&mine, Action::Transfer).map_err(refused)?;
        target(tx, id, b.user_id).await?;
        futures_util::future::try_join3(
            groups::set_role(tx, id, b.user_id, Role::Owner),
            groups::set_role(tx, id, me.user_id, Role::Admin),
            groups::set_owner(tx, id, b.user_id),
        )
        .await?;
        let bodies = vec![
            EventBody::RoleChanged { user_id: b.user_id, role: Role::Owner },
            EventBody::RoleChanged { user_id: me.user_id, role: Role::Admin },
        ];
        g.append(tx, me.user_id, bodies).await?;
        view(tx, id, Role::Admin).await
    })?)
}

/// `PUT /v1/groups/{id}/announcement`: sets it (an empty text clears it).
pub async fn announce<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    b: SetAnnouncement,
) -> Result<Group, ApiError> {
    let text = env.words().await?.apply_opt("text", rules::groups::announcement(&b.text)?)?;
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        rules::groups::may(&mine, Action::Announce).map_err(refused)?;
        groups::set_announcement(tx, id, text.as_deref(), me.user_id).await?;
        g.append(tx, me.user_id, vec![EventBody::Announcement { text: text.clone() }]).await?;
        view(tx, id, mine.role).await
    })?)
}

/// `DELETE /v1/groups/{id}`: the owner dissolves the group; its members keep its history,
/// read-only. Safe to repeat.
pub async fn dissolve<E: Env>(env: &E, me: &AccessClaims, id: ConversationId) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::may(&mine, Action::Dissolve).map_err(refused)?;
        if g.group.dissolved_at.is_some() {
            return Ok(());
        }
        groups::dissolve(tx, id).await?;
        g.append(tx, me.user_id, vec![EventBody::GroupDissolved {}]).await?;
        Ok(())
    })?)
}

/// `GET /v1/groups/{id}/members`: in the order they joined, with roles and mutes.
pub async fn members<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<MemberPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let after = time_cursor(cursor)?;
    let db = env.db().await?;
    read(&*db, id, me.user_id).await?;
    let mut rows = groups::members(&*db, id, after, limit + 1).await?;
    let next_cursor = page_end(&mut rows, limit, |(_, c)| c.encode());
    Ok(MemberPage { members: rows.into_iter().map(|(m, _)| m).collect(), next_cursor })
}

/// A new invite code: [`rules::groups::INVITE_CODE_LEN`] letters and digits (~71 bits).
fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; rules::groups::INVITE_CODE_LEN];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    // 57 symbols: the modulo bias (256 % 57) is negligible for codes that also expire.
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// `POST /v1/groups/{id}/invites`.
pub async fn create_invite<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    b: CreateInvite,
) -> Result<GroupInvite, ApiError> {
    let (secs, max_uses) = rules::groups::invite(b.expires_in, b.max_uses)?;
    let db = env.db().await?;
    let (g, m) = read(&*db, id, me.user_id).await?;
    rules::groups::not_dissolved(&facts_of(&g))?;
    rules::groups::may(&m, Action::Invite)?;
    Ok(groups::create_invite(&*db, &new_code(), id, me.user_id, secs, max_uses).await?)
}

/// `GET /v1/groups/{id}/invites`: newest first, revoked and expired ones included.
pub async fn invites<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<InvitePage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let after = time_cursor(cursor)?;
    let db = env.db().await?;
    let (_, m) = read(&*db, id, me.user_id).await?;
    rules::groups::may(&m, Action::Invite)?;
    let mut list = groups::invites(&*db, id, after, limit + 1).await?;
    let next_cursor = page_end(&mut list, limit, |i| TimeCursor { at: i.created_at.0, id: uuid::Uuid::nil() }.encode());
    Ok(InvitePage { invites: list, next_cursor })
}

/// `DELETE /v1/groups/{id}/invites/{code}`.
pub async fn revoke_invite<E: Env>(env: &E, me: &AccessClaims, id: ConversationId, code: &str) -> Result<(), ApiError> {
    let code = rules::groups::invite_code(code)?;
    let db = env.db().await?;
    let (_, m) = read(&*db, id, me.user_id).await?;
    rules::groups::may(&m, Action::Invite)?;
    if !groups::revoke_invite(&*db, id, code).await? {
        return Err(ApiError::not_found("invite not found"));
    }
    Ok(())
}

/// `POST /v1/groups/join`: joins with a code (`pending` when the group wants approval: owners
/// and admins hear of the request). Joining a group one is in already changes nothing.
pub async fn join_by_code<E: Env>(env: &E, me: &AccessClaims, b: JoinGroup) -> Result<JoinOutcome, ApiError> {
    let code = rules::groups::invite_code(&b.code)?.to_owned();
    let mut db = env.db().await?;
    let found = groups::invite(&*db, &code).await?.ok_or_else(|| ApiError::not_found("invite not found"))?;
    let id = found.group_id;
    Ok(transact!(db, |tx| {
        let mut heads = events::lock_heads(tx, &[id]).await?;
        let invite = groups::invite_for_update(tx, &code)
            .await?
            .ok_or_else(|| refused(ApiError::not_found("invite not found")))?;
        let now = Timestamp::now();
        rules::groups::invite_usable(invite.revoked_at.is_some(), invite.expires_at, invite.uses, invite.max_uses, now)
            .map_err(refused)?;
        let group = groups::get(tx, id).await?.ok_or_else(|| refused(ApiError::not_found("invite not found")))?;
        rules::groups::not_dissolved(&facts_of(&group)).map_err(refused)?;
        if let Some(m) = conversations::membership(tx, id, me.user_id).await? {
            return Ok(JoinOutcome { group_id: id, pending: false, group: Some(group.view(m.role)) });
        }
        if group.join_approval {
            if groups::request_join(tx, id, me.user_id, &code).await? {
                let user = users::get(tx, me.user_id)
                    .await?
                    .ok_or_else(|| refused(ApiError::unauthorized("this account was deleted")))?;
                let managers = groups::managers(tx, id).await?;
                let body = NoticeBody::JoinRequested { group_id: id, name: group.name.clone(), user };
                for m in managers {
                    notices::push(tx, m, body.clone()).await?;
                }
            }
            return Ok(JoinOutcome { group_id: id, pending: true, group: None });
        }
        rules::groups::room_for(group.member_count, 1, group.max_members).map_err(refused)?;
        let mut g = Locked { id, heads: std::mem::take(&mut heads), group };
        join(tx, &mut g, &[me.user_id], me.user_id, invite.created_by, JoinedVia::Invite).await?;
        groups::use_invite(tx, &code).await?;
        Ok(JoinOutcome { group_id: id, pending: false, group: Some(view(tx, id, Role::Member).await?) })
    })?)
}

/// `GET /v1/groups/{id}/join-requests`: oldest first.
pub async fn join_requests<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<JoinRequestPage, ApiError> {
    let limit = rules::pagination::limit(limit)?;
    let after = time_cursor(cursor)?;
    let db = env.db().await?;
    let (_, m) = read(&*db, id, me.user_id).await?;
    rules::groups::may(&m, Action::Invite)?;
    let mut requests = groups::join_requests(&*db, id, after, limit + 1).await?;
    let next_cursor = page_end(&mut requests, limit, |r| TimeCursor { at: r.created_at.0, id: r.user.id.0 }.encode());
    Ok(JoinRequestPage { requests, next_cursor })
}

/// Approves (the user joins) or declines a waiting join request.
pub async fn decide_join<E: Env>(
    env: &E,
    me: &AccessClaims,
    id: ConversationId,
    user: UserId,
    approve: bool,
) -> Result<(), ApiError> {
    let mut db = env.db().await?;
    Ok(transact!(db, |tx| {
        let (mut g, mine) = lock(tx, id, me.user_id).await?;
        rules::groups::may(&mine, Action::Invite).map_err(refused)?;
        if !groups::take_join_request(tx, id, user).await? {
            return Err(refused(ApiError::not_found("no such join request")));
        }
        let name = g.group.name.clone();
        if !approve {
            return notices::push(tx, user, NoticeBody::JoinDeclined { group_id: id, name }).await.map(|_| ());
        }
        rules::groups::not_dissolved(&g.facts()).map_err(refused)?;
        if conversations::membership(tx, id, user).await?.is_some() {
            return Ok(());
        }
        if groups::live_users(tx, &[user]).await?.is_empty() {
            return Err(refused(ApiError::not_found("no such join request")));
        }
        rules::groups::room_for(g.group.member_count, 1, g.group.max_members).map_err(refused)?;
        join(tx, &mut g, &[user], me.user_id, Some(me.user_id), JoinedVia::Approved).await?;
        notices::push(tx, user, NoticeBody::AddedToGroup { group_id: id, name, by: me.user_id }).await?;
        Ok(())
    })?)
}
