//! Fan-out: how committed events reach the connections this node holds.
//!
//! - [`listener`]: the node's one LISTEN connection; reconnects and asks the hub to catch up.
//! - [`hub`]: conversation → local connections; fetches new events once per conversation and
//!   hands them to every subscribed connection.
//! - [`mailbox`]: what the hub hands one connection (its pushes, lag, eviction).

pub mod hub;
pub mod listener;
pub mod mailbox;
