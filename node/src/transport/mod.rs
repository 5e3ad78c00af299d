//! Transports: thin adapters between a socket's bytes and the [`crate::session`] core.

pub mod quic;
pub mod ws;
