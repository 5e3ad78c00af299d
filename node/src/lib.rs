//! Parley's connection node: holds WebSocket and QUIC connections, LISTENs on Postgres
//! for committed events and pushes them to its sockets; serves the REST routes natively with
//! `--rest` and in dev mode. The layout follows ARCHITECTURE.md:
//!
//! - [`cli`], [`keys`], [`db`]: configuration, token keys, pool and migrations.
//! - [`http`]: axum: REST via the shared router, `/v1/ws`, `/metrics`.
//! - [`session`]: the transport-neutral session core; [`transport`]: thin socket adapters.
//! - [`fanout`]: LISTEN, the hub, group commit. [`presence`]: node lease and held sessions.
//! - [`serve`]: wiring and shutdown; [`dev`] and [`pg_cluster`]: the all-in-one dev mode.

pub mod cli;
pub mod db;
pub mod dev;
pub mod fanout;
pub mod http;
pub mod keys;
pub mod limits;
pub mod pg_cluster;
pub mod presence;
pub mod serve;
pub mod session;
pub mod state;
pub mod transport;
