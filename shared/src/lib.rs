//! Parley's business core, compiled by both the edge worker (wasm32) and the connection node.
//!
//! Layers, each using only the ones above it in this list:
//! - [`ids`], [`time`], [`error`]: newtypes and the one error type mapped to the contract's codes.
//! - [`model`]: users, conversations and the per-conversation event log.
//! - [`auth`]: Ed25519 access tokens, refresh tokens, argon2id passwords.
//! - [`protocol`]: the realtime frames shared by every transport; [`framing`]: their QUIC length prefix.
//! - [`rules`]: validation and permissions, pure functions.
//! - [`store`]: the SQL, generic over a tokio-postgres client so the edge can run it over its own socket.
//! - [`api`]: the REST handlers as transport-neutral functions plus the router that picks one.

pub mod api;
pub mod auth;
pub mod error;
pub mod framing;
pub mod ids;
pub mod model;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod protocol;
pub mod rules;
pub mod store;
pub mod time;

pub use error::{ApiError, ErrorCode};
