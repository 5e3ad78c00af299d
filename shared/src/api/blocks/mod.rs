//! `/v1/blocks/*`.

pub mod delete;
pub mod list;
pub mod put;
