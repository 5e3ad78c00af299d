//! `/v1/conversations/*`: the list, direct conversations, the log, read positions.

pub mod direct;
pub mod events;
pub mod list;
pub mod read;
pub mod settings;
