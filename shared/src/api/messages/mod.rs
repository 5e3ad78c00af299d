//! `/v1/conversations/{id}/messages/*`: sending messages and changing them after.

pub mod edit;
pub mod hide;
pub mod react;
pub mod recall;
pub mod send;
pub mod unreact;
