//! Transports: thin adapters between a socket's bytes and the [`crate::connection`] core.

pub mod quic;
pub mod ws;
pub mod ws_echo;
