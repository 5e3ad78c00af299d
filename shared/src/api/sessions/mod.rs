//! `/v1/sessions/*`: the caller's sessions (devices).

pub mod list;
pub mod revoke;
