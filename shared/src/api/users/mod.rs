//! `/v1/users/*`: profiles and search.

pub mod get;
pub mod me;
pub mod search;
