//! `/v1/friends/*`: friends and friend requests.

pub mod accept;
pub mod cancel;
pub mod decline;
pub mod list;
pub mod remove;
pub mod requests;
pub mod send_request;
