//! Who may do what in a group: one permission matrix (action × role), the rank rule (nobody acts
//! on someone at or above their own rank; admins never on the owner or other admins), who may
//! post, and the group's own limits. Pure functions; the matrix is printed into `docs/groups.md`
//! by [`matrix_markdown`] (a test keeps the two equal).

use crate::error::ApiError;
use crate::ids::UserId;
use crate::model::conversation::{GroupFacts, Membership, Role};
use crate::time::Timestamp;

/// Longest group name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest announcement, in characters.
pub const MAX_ANNOUNCEMENT_CHARS: usize = 2000;
/// Most users added in one call (and at creation).
pub const MAX_ADD_AT_ONCE: usize = 500;
/// Members a group may have unless configured otherwise (`--max-group-members`).
pub const DEFAULT_MAX_MEMBERS: i64 = 10_000;
/// Default and longest life of an invite, in seconds.
pub const DEFAULT_INVITE_SECS: i64 = 7 * 24 * 3600;
/// Longest life of an invite, in seconds.
pub const MAX_INVITE_SECS: i64 = 30 * 24 * 3600;
/// Shortest life of an invite, in seconds.
pub const MIN_INVITE_SECS: i64 = 60;
/// Most uses an invite may be given.
pub const MAX_INVITE_USES: i64 = 10_000;

/// What a member may do in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send messages.
    Post,
    /// React to messages.
    React,
    /// Edit their own messages.
    EditOwn,
    /// Recall other members' messages.
    RecallOthers,
    /// Add members.
    AddMembers,
    /// Remove members (below their rank).
    RemoveMembers,
    /// Make a member an admin.
    Promote,
    /// Make an admin a member.
    Demote,
    /// Make a member a guest or a guest a member (below their rank).
    SetGuest,
    /// Mute members (below their rank).
    Mute,
    /// Rename the group, change its description.
    EditInfo,
    /// Change broadcast-only, history visibility, join approval.
    Settings,
    /// Set the announcement.
    Announce,
    /// Make, list and revoke invites; decide join requests.
    Invite,
    /// Pin messages.
    Pin,
    /// Dissolve the group.
    Dissolve,
    /// Give the group to another member.
    Transfer,
}

/// Every action, in the matrix's order.
pub const ACTIONS: [Action; 17] = [
    Action::Post,
    Action::React,
    Action::EditOwn,
    Action::RecallOthers,
    Action::AddMembers,
    Action::RemoveMembers,
    Action::Promote,
    Action::Demote,
    Action::SetGuest,
    Action::Mute,
    Action::EditInfo,
    Action::Settings,
    Action::Announce,
    Action::Invite,
    Action::Pin,
    Action::Dissolve,
    Action::Transfer,
];

/// Every role, highest first (the matrix's columns).
pub const ROLES: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Guest];

impl Action {
    /// How the docs name it.
    pub fn label(self) -> &'static str {
        match self {
            Action::Post => "post",
            Action::React => "react",
            Action::EditOwn => "edit own messages",
            Action::RecallOthers => "recall others' messages",
            Action::AddMembers => "add members",
            Action::RemoveMembers => "remove members",
            Action::Promote => "promote to admin",
            Action::Demote => "demote an admin",
            Action::SetGuest => "make guest / member",
            Action::Mute => "mute members",
            Action::EditInfo => "rename, describe",
            Action::Settings => "broadcast-only, history, approval",
            Action::Announce => "announcement",
            Action::Invite => "invites and join requests",
            Action::Pin => "pin",
            Action::Dissolve => "dissolve",
            Action::Transfer => "transfer ownership",
        }
    }
}

/// The permission matrix: whether `role` may take `action` at all (rank and state rules come on
/// top: [`may_act_on`], [`may_post`]).
pub const fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    match (role, action) {
        (Role::Owner, _) => true,
        (Role::Admin, Promote | Demote | Dissolve | Transfer) => false,
        (Role::Admin, _) => true,
        (Role::Member, Post | React | EditOwn) => true,
        (Role::Member, _) => false,
        (Role::Guest, React) => true,
        (Role::Guest, _) => false,
    }
}

/// 403 unless `m` may take `action`.
pub fn may(m: &Membership, action: Action) -> Result<(), ApiError> {
    if allows(m.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("a group {} may not {}", m.role.as_str(), action.label())))
    }
}

/// 403 unless `actor` may take `action` on `target`: allowed by the matrix, and strictly above
/// them (so admins never act on the owner or other admins).
pub fn may_act_on(actor: Role, target: Role, action: Action) -> Result<(), ApiError> {
    if !allows(actor, action) {
        return Err(ApiError::forbidden(format!("a group {} may not {}", actor.as_str(), action.label())));
    }
    if actor <= target {
        return Err(ApiError::forbidden(format!(
            "a group {} may not act on a group {}",
            actor.as_str(),
            target.as_str()
        )));
    }
    Ok(())
}

/// Which action a role change is, and whether `actor` may make it: to or from admin is the
/// owner's (promote, demote); member ↔ guest is the owner's or an admin's, below their rank (so
/// nobody changes the owner's role: 403). Nobody becomes owner this way (that is `transfer`:
/// 400).
pub fn role_change(actor: Role, target: Role, new: Role) -> Result<(), ApiError> {
    if new == Role::Owner {
        return Err(ApiError::invalid("role: the owner changes only by transfer"));
    }
    let action = match (target, new) {
        (_, Role::Admin) => Action::Promote,
        (Role::Admin, _) => Action::Demote,
        _ => Action::SetGuest,
    };
    may_act_on(actor, target, action)
}

/// Whether the member may post now: not in a dissolved group, not a guest, not muted, and in a
/// broadcast-only group only the owner and admins.
pub fn may_post(m: &Membership, now: Timestamp) -> Result<(), ApiError> {
    let Some(g) = m.group else { return Ok(()) };
    if g.dissolved {
        return Err(ApiError::forbidden("the group was dissolved; its history is read-only"));
    }
    if !allows(m.role, Action::Post) {
        return Err(ApiError::forbidden("guests read and react; they do not post"));
    }
    if g.broadcast_only && m.role < Role::Admin {
        return Err(ApiError::forbidden("only the owner and admins post in this group"));
    }
    if let Some(until) = m.muted_until
        && until > now
    {
        return Err(ApiError::forbidden(format!("muted until {}", until.to_rfc3339())));
    }
    Ok(())
}

/// Whether anything may change in the group: a dissolved group is read-only.
pub fn not_dissolved(g: &GroupFacts) -> Result<(), ApiError> {
    if g.dissolved {
        return Err(ApiError::forbidden("the group was dissolved; its history is read-only"));
    }
    Ok(())
}

/// A group name: trimmed, 1 to [`MAX_NAME_CHARS`].
pub fn name(raw: &str) -> Result<String, ApiError> {
    match super::optional_text("name", Some(raw.to_owned()), MAX_NAME_CHARS)? {
        Some(n) => Ok(n),
        None => Err(ApiError::invalid(format!("name: 1 to {MAX_NAME_CHARS} characters"))),
    }
}

/// A description: trimmed, at most [`MAX_DESCRIPTION_CHARS`], empty clears it.
pub fn description(raw: Option<String>) -> Result<Option<String>, ApiError> {
    super::optional_text("description", raw, MAX_DESCRIPTION_CHARS)
}

/// An announcement: trimmed, at most [`MAX_ANNOUNCEMENT_CHARS`], empty clears it.
pub fn announcement(raw: &str) -> Result<Option<String>, ApiError> {
    super::optional_text("text", Some(raw.to_owned()), MAX_ANNOUNCEMENT_CHARS)
}

/// The users of an add: 1 to [`MAX_ADD_AT_ONCE`], without repeats, never the caller.
pub fn users_to_add(me: UserId, ids: &[UserId], field: &str) -> Result<Vec<UserId>, ApiError> {
    if ids.len() > MAX_ADD_AT_ONCE {
        return Err(ApiError::invalid(format!("{field}: at most {MAX_ADD_AT_ONCE} users at once")));
    }
    let mut out: Vec<UserId> = Vec::with_capacity(ids.len());
    for u in ids {
        if *u != me && !out.contains(u) {
            out.push(*u);
        }
    }
    Ok(out)
}

/// Whether `adding` more members fit in a group of `count` with room for `max`.
pub fn room_for(count: i64, adding: usize, max: i64) -> Result<(), ApiError> {
    if count + adding as i64 > max {
        return Err(ApiError::forbidden(format!("the group is full ({max} members at most)")));
    }
    Ok(())
}

/// Whether the owner may leave: only once they are the last member (who dissolves it by
/// leaving) or the group is dissolved; otherwise they transfer the group first.
pub fn may_leave(role: Role, member_count: i64, dissolved: bool) -> Result<(), ApiError> {
    if role == Role::Owner && member_count > 1 && !dissolved {
        return Err(ApiError::forbidden("the owner must transfer the group before leaving"));
    }
    Ok(())
}

/// An invite's life and uses, checked and defaulted.
pub fn invite(expires_in: Option<i64>, max_uses: Option<i64>) -> Result<(i64, Option<i64>), ApiError> {
    let secs = expires_in.unwrap_or(DEFAULT_INVITE_SECS);
    if !(MIN_INVITE_SECS..=MAX_INVITE_SECS).contains(&secs) {
        return Err(ApiError::invalid(format!("expires_in: {MIN_INVITE_SECS} to {MAX_INVITE_SECS} seconds")));
    }
    if let Some(n) = max_uses
        && !(1..=MAX_INVITE_USES).contains(&n)
    {
        return Err(ApiError::invalid(format!("max_uses: 1 to {MAX_INVITE_USES}")));
    }
    Ok((secs, max_uses))
}

/// Length of the invite codes this server makes.
pub const INVITE_CODE_LEN: usize = 12;

/// An invite code as typed: trimmed; anything but 1 to 64 ASCII letters and digits cannot be a
/// code (404, like a code that does not exist).
pub fn invite_code(raw: &str) -> Result<&str, ApiError> {
    let code = raw.trim();
    if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::not_found("invite not found"));
    }
    Ok(code)
}

/// Whether an invite may still be used.
pub fn invite_usable(
    revoked: bool,
    expires_at: Timestamp,
    uses: i64,
    max_uses: Option<i64>,
    now: Timestamp,
) -> Result<(), ApiError> {
    if revoked {
        return Err(ApiError::not_found("invite not found"));
    }
    if expires_at <= now {
        return Err(ApiError::forbidden("this invite has expired"));
    }
    if max_uses.is_some_and(|m| uses >= m) {
        return Err(ApiError::forbidden("this invite has been used up"));
    }
    Ok(())
}

/// The matrix as a Markdown table (for `docs/groups.md`).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action | owner | admin | member | guest |\n|---|---|---|---|---|\n");
    for a in ACTIONS {
        out.push_str(&format!("| {} |", a.label()));
        for r in ROLES {
            out.push_str(if allows(r, a) { " ✓ |" } else { " – |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn group(broadcast_only: bool, dissolved: bool) -> Option<GroupFacts> {
        Some(GroupFacts { broadcast_only, history_visible: false, dissolved })
    }

    fn member(role: Role) -> Membership {
        Membership { role, joined_seq: 0, muted_until: None, group: group(false, false) }
    }

    /// Every cell of the matrix, written out: a change to the table must change this too.
    #[test]
    fn every_cell_of_the_matrix() {
        use Action::*;
        let expected: [(Action, [bool; 4]); 17] = [
            (Post, [true, true, true, false]),
            (React, [true, true, true, true]),
            (EditOwn, [true, true, true, false]),
            (RecallOthers, [true, true, false, false]),
            (AddMembers, [true, true, false, false]),
            (RemoveMembers, [true, true, false, false]),
            (Promote, [true, false, false, false]),
            (Demote, [true, false, false, false]),
            (SetGuest, [true, true, false, false]),
            (Mute, [true, true, false, false]),
            (EditInfo, [true, true, false, false]),
            (Settings, [true, true, false, false]),
            (Announce, [true, true, false, false]),
            (Invite, [true, true, false, false]),
            (Pin, [true, true, false, false]),
            (Dissolve, [true, false, false, false]),
            (Transfer, [true, false, false, false]),
        ];
        for (action, cells) in expected {
            for (role, want) in ROLES.into_iter().zip(cells) {
                assert_eq!(allows(role, action), want, "{role:?} {action:?}");
                assert_eq!(may(&member(role), action).is_ok(), want, "{role:?} {action:?}");
            }
        }
        assert_eq!(ACTIONS.len(), expected.len());
    }

    #[test]
    fn nobody_acts_on_someone_at_or_above_them() {
        for action in [Action::RemoveMembers, Action::Mute] {
            for actor in ROLES {
                for target in ROLES {
                    let r = may_act_on(actor, target, action);
                    let want = allows(actor, action) && actor > target;
                    assert_eq!(r.is_ok(), want, "{actor:?} {action:?} on {target:?}");
                    if let Err(e) = r {
                        assert_eq!(e.code, ErrorCode::Forbidden);
                    }
                }
            }
        }
        assert!(may_act_on(Role::Admin, Role::Admin, Action::RemoveMembers).is_err(), "admins spare other admins");
        assert!(may_act_on(Role::Admin, Role::Owner, Action::Mute).is_err(), "and the owner");
        assert!(may_act_on(Role::Owner, Role::Admin, Action::RemoveMembers).is_ok());
    }

    #[test]
    fn role_changes() {
        use Role::*;
        // (actor, target, new) -> ok?
        let cases = [
            (Owner, Member, Admin, true),
            (Owner, Admin, Member, true),
            (Owner, Guest, Admin, true),
            (Owner, Member, Guest, true),
            (Owner, Guest, Member, true),
            (Admin, Member, Admin, false),
            (Admin, Admin, Member, false),
            (Admin, Member, Guest, true),
            (Admin, Guest, Member, true),
            (Admin, Admin, Guest, false),
            (Member, Guest, Member, false),
            (Member, Member, Guest, false),
            (Guest, Member, Guest, false),
        ];
        for (actor, target, new, ok) in cases {
            assert_eq!(role_change(actor, target, new).is_ok(), ok, "{actor:?} makes a {target:?} a {new:?}");
        }
        assert_eq!(role_change(Owner, Admin, Owner).unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(role_change(Owner, Owner, Member).unwrap_err().code, ErrorCode::Forbidden, "not even their own");
        assert_eq!(
            role_change(Admin, Owner, Member).unwrap_err().code,
            ErrorCode::Forbidden,
            "admins never demote the owner"
        );
    }

    #[test]
    fn who_may_post_now() {
        let now = Timestamp::now();
        let later = Timestamp(now.0 + chrono::Duration::minutes(5));
        let earlier = Timestamp(now.0 - chrono::Duration::minutes(5));
        assert!(may_post(&member(Role::Member), now).is_ok());
        assert!(may_post(&member(Role::Guest), now).is_err());
        let muted = Membership { muted_until: Some(later), ..member(Role::Member) };
        assert_eq!(may_post(&muted, now).unwrap_err().code, ErrorCode::Forbidden);
        let was_muted = Membership { muted_until: Some(earlier), ..member(Role::Member) };
        assert!(may_post(&was_muted, now).is_ok(), "a mute ends by itself");
        for (role, ok) in [(Role::Owner, true), (Role::Admin, true), (Role::Member, false), (Role::Guest, false)] {
            let m = Membership { group: group(true, false), ..member(role) };
            assert_eq!(may_post(&m, now).is_ok(), ok, "broadcast-only: {role:?}");
        }
        for role in ROLES {
            let m = Membership { group: group(false, true), ..member(role) };
            assert!(may_post(&m, now).is_err(), "dissolved: {role:?}");
        }
        assert!(may_post(&Membership::direct(), now).is_ok(), "no group rules in a direct conversation");
    }

    #[test]
    fn texts_adds_and_limits() {
        assert_eq!(name(" Team ").unwrap(), "Team");
        assert!(name(" ").unwrap_err().message.starts_with("name"));
        assert!(name(&"n".repeat(65)).is_err());
        assert_eq!(description(Some("".into())).unwrap(), None);
        assert!(description(Some("d".repeat(501))).is_err());
        assert_eq!(announcement("").unwrap(), None);
        assert!(announcement(&"a".repeat(2001)).unwrap_err().message.starts_with("text"));
        let (me, a, b) = (UserId::new(), UserId::new(), UserId::new());
        assert_eq!(users_to_add(me, &[a, b, a, me], "user_ids").unwrap(), vec![a, b]);
        assert!(users_to_add(me, &vec![a; 501], "user_ids").is_err());
        assert!(room_for(9_999, 1, 10_000).is_ok());
        assert_eq!(room_for(9_999, 2, 10_000).unwrap_err().code, ErrorCode::Forbidden);
        assert!(may_leave(Role::Owner, 2, false).is_err());
        assert!(may_leave(Role::Owner, 2, true).is_ok(), "a dissolved group needs no owner");
        assert!(may_leave(Role::Owner, 1, false).is_ok());
        assert!(may_leave(Role::Admin, 5, false).is_ok());
    }

    #[test]
    fn invites() {
        assert_eq!(invite(None, None).unwrap(), (DEFAULT_INVITE_SECS, None));
        assert!(invite(Some(59), None).is_err());
        assert!(invite(Some(MAX_INVITE_SECS + 1), None).unwrap_err().message.starts_with("expires_in"));
        assert!(invite(None, Some(0)).unwrap_err().message.starts_with("max_uses"));
        let now = Timestamp::now();
        let later = Timestamp(now.0 + chrono::Duration::minutes(1));
        assert!(invite_usable(false, later, 0, None, now).is_ok());
        assert_eq!(invite_usable(true, later, 0, None, now).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(invite_usable(false, now, 0, None, now).unwrap_err().code, ErrorCode::Forbidden);
        assert!(invite_usable(false, later, 2, Some(3), now).is_ok());
        assert_eq!(invite_usable(false, later, 3, Some(3), now).unwrap_err().code, ErrorCode::Forbidden);
    }

    #[test]
    fn invite_codes() {
        assert_eq!(invite_code(" Ab3 ").unwrap(), "Ab3");
        for bad in ["", "a b", "a\u{0}b", "é", &"a".repeat(65), "../x"] {
            assert_eq!(invite_code(bad).unwrap_err().code, ErrorCode::NotFound, "{bad:?}");
        }
    }

    #[test]
    fn the_matrix_in_the_docs_is_this_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/groups.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            doc.contains(&matrix_markdown()),
            "docs/groups.md does not hold the current matrix; paste this in:\n{}",
            matrix_markdown()
        );
    }
}
