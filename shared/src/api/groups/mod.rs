//! Groups: `/v1/groups` and below.

pub mod add_members;
pub mod announcement;
pub mod approve;
pub mod create;
pub mod create_invite;
pub mod decline;
pub mod dissolve;
pub mod get;
pub mod invites;
pub mod join;
pub mod join_requests;
pub mod leave;
pub mod members;
pub mod remove_member;
pub mod revoke_invite;
pub mod transfer;
pub mod update;
pub mod update_member;
