//! Who stands how with whom: friend requests, blocks, who may message whom, who sees whose
//! presence. Pure functions over [`Tie`], the facts about two users the store fetches.

use crate::error::{ApiError, ErrorCode};
use crate::ids::{FriendRequestId, UserId};
use crate::model::{DmPolicy, FriendRequestStatus, Relationship};

/// Longest note on a friend request, in characters.
pub const MAX_REQUEST_MESSAGE_CHARS: usize = 200;
/// Most pending friend requests one user may have sent: past it, a 429 rather than a table full
/// of spam.
pub const MAX_PENDING_OUTGOING: i64 = 100;

/// The facts about the caller (`me`) and another user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tie {
    /// They are friends.
    pub friends: bool,
    /// `me` blocked them.
    pub i_blocked: bool,
    /// They blocked `me`.
    pub they_blocked: bool,
    /// `me`'s pending request to them.
    pub sent: Option<FriendRequestId>,
    /// Their pending request to `me`.
    pub received: Option<FriendRequestId>,
}

impl Tie {
    /// A block either way.
    pub fn blocked(&self) -> bool {
        self.i_blocked || self.they_blocked
    }
}

/// How `me` stands with them, as `GET /v1/users/{id}` shows it.
pub fn relationship(t: &Tie) -> Relationship {
    if t.blocked() {
        Relationship::Blocked
    } else if t.friends {
        Relationship::Friend
    } else if t.sent.is_some() {
        Relationship::RequestSent
    } else if t.received.is_some() {
        Relationship::RequestReceived
    } else {
        Relationship::None
    }
}

/// What a new friend request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestVerdict {
    /// Store a new pending request.
    Create,
    /// They already asked `me`: accept their request instead.
    AcceptTheirs(FriendRequestId),
}

/// Whether `me` may ask `other` to be friends, given their tie and how many requests `me` has
/// pending.
pub fn friend_request(me: UserId, other: UserId, t: &Tie, pending_outgoing: i64) -> Result<RequestVerdict, ApiError> {
    if me == other {
        return Err(ApiError::invalid("user_id: cannot befriend yourself"));
    }
    if t.blocked() {
        return Err(ApiError::forbidden("a block stands between you and this user"));
    }
    if t.friends {
        return Err(ApiError::conflict("already friends"));
    }
    if t.sent.is_some() {
        return Err(ApiError::conflict("a friend request to this user is already pending"));
    }
    if let Some(theirs) = t.received {
        return Ok(RequestVerdict::AcceptTheirs(theirs));
    }
    if pending_outgoing >= MAX_PENDING_OUTGOING {
        return Err(ApiError {
            retry_after: Some(3600),
            ..ApiError::new(
                ErrorCode::RateLimited,
                format!("at most {MAX_PENDING_OUTGOING} pending friend requests; wait for answers or cancel some"),
            )
        });
    }
    Ok(RequestVerdict::Create)
}

/// The note on a friend request: trimmed, at most [`MAX_REQUEST_MESSAGE_CHARS`].
pub fn request_message(raw: Option<String>) -> Result<Option<String>, ApiError> {
    super::optional_text("message", raw, MAX_REQUEST_MESSAGE_CHARS)
}

/// Which side of a request the caller is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Sent it.
    Sender,
    /// Received it.
    Recipient,
    /// Neither: it is someone else's.
    Stranger,
}

/// What may be done to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAction {
    /// Recipient: become friends.
    Accept,
    /// Recipient: say no.
    Decline,
    /// Sender: withdraw it.
    Cancel,
}

/// Whether the caller may `action` a request in `status`: someone else's request is a 404, the
/// wrong side of one's own a 403 saying what that side may do (both sides know it exists), a
/// decided one a 409.
pub fn decide_request(side: Side, status: FriendRequestStatus, action: RequestAction) -> Result<(), ApiError> {
    match (side, action) {
        (Side::Stranger, _) => return Err(ApiError::not_found("friend request not found")),
        (Side::Sender, RequestAction::Accept | RequestAction::Decline) => {
            return Err(ApiError::forbidden(
                "only its recipient accepts or declines a request; DELETE cancels your own",
            ));
        }
        (Side::Recipient, RequestAction::Cancel) => {
            return Err(ApiError::forbidden("only its sender cancels a request; accept or decline it instead"));
        }
        _ => {}
    }
    if status != FriendRequestStatus::Pending {
        return Err(ApiError::conflict(format!("the friend request is already {}", status.as_str())));
    }
    Ok(())
}

/// The facts that decide whether `me` may message the other member of a direct conversation
/// (or open one with them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectFacts {
    /// A block either way.
    pub blocked: bool,
    /// They are friends.
    pub friends: bool,
    /// The other user's policy.
    pub peer_policy: DmPolicy,
    /// The other user deleted their account.
    pub peer_deleted: bool,
}

/// Who may message whom, one rule for REST and socket sends and for opening a direct
/// conversation: a block either way, or a `friends` policy without friendship, is a 403.
pub fn may_message(f: &DirectFacts) -> Result<(), ApiError> {
    if f.blocked {
        return Err(ApiError::forbidden("a block stands between you and this user"));
    }
    if f.peer_deleted {
        return Err(ApiError::forbidden("this account was deleted"));
    }
    if f.peer_policy == DmPolicy::Friends && !f.friends {
        return Err(ApiError::forbidden("this user accepts direct messages from friends only"));
    }
    Ok(())
}

/// Whether a user's presence is shown to someone: to friends, when the user shows it.
pub fn may_see_presence(friends: bool, shows_presence: bool) -> bool {
    friends && shows_presence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> FriendRequestId {
        FriendRequestId::new()
    }

    #[test]
    fn relationships_in_order_of_precedence() {
        let r = |t: Tie| relationship(&t);
        assert_eq!(r(Tie::default()), Relationship::None);
        assert_eq!(r(Tie { friends: true, ..Default::default() }), Relationship::Friend);
        assert_eq!(r(Tie { sent: Some(id()), ..Default::default() }), Relationship::RequestSent);
        assert_eq!(r(Tie { received: Some(id()), ..Default::default() }), Relationship::RequestReceived);
        assert_eq!(r(Tie { friends: true, i_blocked: true, ..Default::default() }), Relationship::Blocked);
        assert_eq!(r(Tie { they_blocked: true, ..Default::default() }), Relationship::Blocked);
    }

    #[test]
    fn every_friend_request_verdict() {
        let (me, other) = (UserId::new(), UserId::new());
        let ask = |t: Tie, pending: i64| friend_request(me, other, &t, pending);
        assert_eq!(ask(Tie::default(), 0), Ok(RequestVerdict::Create));
        assert_eq!(friend_request(me, me, &Tie::default(), 0).unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(ask(Tie { i_blocked: true, ..Default::default() }, 0).unwrap_err().code, ErrorCode::Forbidden);
        assert_eq!(ask(Tie { they_blocked: true, ..Default::default() }, 0).unwrap_err().code, ErrorCode::Forbidden);
        assert_eq!(ask(Tie { friends: true, ..Default::default() }, 0).unwrap_err().code, ErrorCode::Conflict);
        assert_eq!(ask(Tie { sent: Some(id()), ..Default::default() }, 0).unwrap_err().code, ErrorCode::Conflict);
        let theirs = id();
        assert_eq!(
            ask(Tie { received: Some(theirs), ..Default::default() }, 0),
            Ok(RequestVerdict::AcceptTheirs(theirs))
        );
        // Accepting theirs is never limited; a new one is.
        assert_eq!(
            ask(Tie { received: Some(theirs), ..Default::default() }, MAX_PENDING_OUTGOING),
            Ok(RequestVerdict::AcceptTheirs(theirs))
        );
        let e = ask(Tie::default(), MAX_PENDING_OUTGOING).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after.is_some());
        assert_eq!(ask(Tie::default(), MAX_PENDING_OUTGOING - 1), Ok(RequestVerdict::Create));
    }

    #[test]
    fn request_notes_are_limited() {
        assert_eq!(request_message(None).unwrap(), None);
        assert_eq!(request_message(Some(" hi ".into())).unwrap(), Some("hi".into()));
        assert!(
            request_message(Some("x".repeat(MAX_REQUEST_MESSAGE_CHARS + 1)))
                .unwrap_err()
                .message
                .starts_with("message")
        );
    }

    #[test]
    fn every_request_decision() {
        use FriendRequestStatus::*;
        use RequestAction::*;
        use Side::*;
        for action in [Accept, Decline, Cancel] {
            for side in [Sender, Recipient, Stranger] {
                for status in [Pending, Accepted, Declined, Cancelled] {
                    let r = decide_request(side, status, action);
                    let right_side = match action {
                        Accept | Decline => side == Recipient,
                        Cancel => side == Sender,
                    };
                    match r {
                        Ok(()) => assert!(right_side && status == Pending, "{side:?} {status:?} {action:?}"),
                        Err(e) if side == Stranger => assert_eq!(e.code, ErrorCode::NotFound),
                        Err(e) if !right_side => assert_eq!(e.code, ErrorCode::Forbidden, "{side:?} {action:?}"),
                        Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{side:?} {status:?} {action:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn who_may_message_whom() {
        let f =
            |blocked, friends, peer_policy, peer_deleted| DirectFacts { blocked, friends, peer_policy, peer_deleted };
        use DmPolicy::*;
        for friends in [false, true] {
            for policy in [Everyone, Friends] {
                assert_eq!(may_message(&f(true, friends, policy, false)).unwrap_err().code, ErrorCode::Forbidden);
                assert_eq!(may_message(&f(false, friends, policy, true)).unwrap_err().code, ErrorCode::Forbidden);
            }
        }
        assert!(may_message(&f(false, false, Everyone, false)).is_ok());
        assert!(may_message(&f(false, true, Everyone, false)).is_ok());
        assert!(may_message(&f(false, true, Friends, false)).is_ok());
        assert_eq!(may_message(&f(false, false, Friends, false)).unwrap_err().code, ErrorCode::Forbidden);
    }

    #[test]
    fn presence_is_for_friends_who_show_it() {
        assert!(may_see_presence(true, true));
        assert!(!may_see_presence(true, false));
        assert!(!may_see_presence(false, true));
        assert!(!may_see_presence(false, false));
    }
}
