//! `/v1/notices/*`.

pub mod list;
pub mod seen;
