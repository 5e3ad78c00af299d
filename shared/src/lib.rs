//! Parley's business core, compiled by both the edge worker (wasm32) and the connection node.
//!
//! Layers, each using only the ones listed before it:
//! - [`ids`], [`time`], [`error`]: newtypes, timestamps, and the one error type mapped to the
//!   contract's codes.
//! - [`model`]: users, conversations, the event log, and the REST request and response bodies.
//! - [`auth`]: Ed25519 access tokens, refresh tokens, argon2id passwords.
//! - [`protocol`]: the realtime frames, close reasons and QUIC framing shared by every transport.
//! - [`positions`]: the IO-free per-conversation seq positions (gaps, duplicates, holds, sync).
//! - [`rules`]: validation and permissions, pure functions over facts.
//! - [`objects`]: object storage (media bytes): `S3_*` settings and presigned URLs.
//! - [`store`]: the SQL, generic over a tokio-postgres client so the edge can run it over its own
//!   socket; returns facts and [`store::StoreError`], never decides.
//! - [`service`]: the use cases (register, send, mark read, ...): rules + store in one transaction.
//! - [`api`]: the REST handlers (one file per route) and the route table.
//! - `openapi` (feature `openapi`): the OpenAPI document, from the route table and the types.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod ids;
pub mod model;
pub mod objects;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod positions;
pub mod protocol;
pub mod rules;
pub mod service;
pub mod store;
pub mod time;

pub use error::{ApiError, ErrorCode};
