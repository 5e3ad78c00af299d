//! `/v1/users/*`: profiles, search, the caller's account.

pub mod delete_me;
pub mod get;
pub mod me;
pub mod password;
pub mod search;
pub mod update_me;
