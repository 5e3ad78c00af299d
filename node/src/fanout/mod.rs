//! Fan-out: how committed events reach the sockets this node holds.
//!
//! - [`listener`]: the node's one LISTEN connection; reconnects and asks the hub to catch up.
//! - [`hub`]: conversation → local sessions; fetches new events once per conversation and hands
//!   them to every subscribed session.
//! - [`commit`]: group commit of the sends that arrive over this node's sockets.

pub mod commit;
pub mod hub;
pub mod listener;
