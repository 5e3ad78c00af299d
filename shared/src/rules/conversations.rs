//! Conversations: who may see one, who may open a direct one, where a read position may go.

use crate::error::ApiError;
use crate::ids::{Seq, UserId};
use crate::model::conversation::Membership;

/// The one answer for a conversation the caller is not a member of: 404, the same as for one
/// that does not exist, so a non-member never learns that it exists.
pub fn not_found() -> ApiError {
    ApiError::not_found("conversation not found")
}

/// The caller's membership, or [`not_found`] without one.
pub fn member(membership: Option<Membership>) -> Result<Membership, ApiError> {
    membership.ok_or_else(not_found)
}

/// [`member`] for callers that only know whether there is a membership.
pub fn require_member(is_member: bool) -> Result<(), ApiError> {
    if is_member { Ok(()) } else { Err(not_found()) }
}

/// A user may open a direct conversation with anyone but themself (blocks arrive with friends).
pub fn may_open_direct(me: UserId, other: UserId) -> Result<(), ApiError> {
    if me == other {
        return Err(ApiError::invalid("user_id: cannot open a direct conversation with yourself"));
    }
    Ok(())
}

/// A read position: 0 or more (the store never moves it back or past the last event).
pub fn read_seq(seq: Seq) -> Result<Seq, ApiError> {
    if seq < 0 {
        return Err(ApiError::invalid("seq: must be 0 or more"));
    }
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn non_members_get_404_never_403() {
        assert_eq!(member(None).unwrap_err().code, ErrorCode::NotFound);
        assert_eq!(require_member(false).unwrap_err().code, ErrorCode::NotFound);
        let m = Membership::direct();
        assert_eq!(member(Some(m)).unwrap(), m);
        assert!(require_member(true).is_ok());
    }

    #[test]
    fn direct_needs_someone_else() {
        let (a, b) = (UserId::new(), UserId::new());
        assert!(may_open_direct(a, b).is_ok());
        let e = may_open_direct(a, a).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.starts_with("user_id"));
    }

    #[test]
    fn read_positions_are_not_negative() {
        assert_eq!(read_seq(0).unwrap(), 0);
        assert_eq!(read_seq(9).unwrap(), 9);
        assert!(read_seq(-1).unwrap_err().message.starts_with("seq"));
    }
}
