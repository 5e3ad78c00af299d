//! Parley's connection node: holds WebSocket and QUIC connections, LISTENs on Postgres for
//! committed events and pushes them to its connections; serves the REST routes natively with
//! `--rest` and in dev mode. The layout follows ARCHITECTURE.md:
//!
//! - [`cli`], [`keys`], [`db`]: configuration, token keys, pool and migrations.
//! - [`http`]: axum: REST via the shared router, `/metrics`; [`limits`]: REST rate limits;
//!   [`http_server`]: the connection loop under it, with request-head timeouts.
//! - [`transport`]: WebSocket (with its upgrade) and QUIC (with its certificate), thin adapters.
//! - [`connection`]: the transport-neutral core of one realtime connection.
//! - [`fanout`]: LISTEN and the hub; [`commit`]: group commit of connections' sends; [`starts`]:
//!   what new connections start from, read in batches.
//! - [`presence`]: this node's lease and the connections it holds; [`receipts`]: delivered
//!   positions, batched; [`policy`]: the word list, the per-user send rate, the recall window.
//! - [`objects`]: requests to object storage (media), presigned like the edge's.
//! - [`serve`]: wiring and shutdown; [`dev`]: the all-in-one dev mode.
#![warn(missing_docs)]

pub mod batch;
pub mod cli;
pub mod commit;
pub mod connection;
pub mod db;
pub mod dev;
pub mod fanout;
pub mod http;
pub mod http_server;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod objects;
pub mod policy;
pub mod presence;
pub mod receipts;
pub mod revocations;
pub mod serve;
pub mod starts;
pub mod state;
pub mod syncs;
pub mod transport;
