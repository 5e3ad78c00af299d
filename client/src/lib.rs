//! Parley's Rust client SDK.
//!
//! - [`rest::Rest`]: the REST routes (register, login, refresh, conversations, history, ...).
//! - [`auth::Auth`]: credentials and access tokens, refreshed before they expire.
//! - [`client::Client`]: the realtime client over WebSocket or QUIC ([`connection`]): reconnects
//!   with jittered backoff across a list of nodes, syncs from its seq positions after every connect,
//!   emits each event exactly once in seq order, and retries sends until acknowledged.
//! - [`store`]: the CLI's session file.
//!
//! ```no_run
//! # async fn demo() -> parley_client::Result<()> {
//! use parley_client::{Auth, Client, ClientConfig, ClientEvent, Endpoint, Rest};
//! let rest = Rest::new("http://127.0.0.1:8080")?;
//! let auth = Auth::login(rest, "alice", "correct horse").await?;
//! let (client, mut events) = Client::start(auth, ClientConfig::new(vec!["ws://127.0.0.1:8080".parse()?]))?;
//! while let Some(ev) = events.recv().await {
//!     if let ClientEvent::Event(e) = ev {
//!         println!("{} #{}", e.conversation_id, e.seq);
//!     }
//! }
//! # drop(client); Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod auth;
pub mod backoff;
pub mod client;
pub mod connection;
pub mod error;
pub mod rest;
pub mod store;

pub use auth::{Auth, CredentialStore, Credentials};
pub use backoff::Backoff;
pub use client::{Client, ClientConfig, ClientEvent, Events, OutgoingMessage};
pub use connection::{ConnectOptions, Connection, Endpoint, QuicTls, Transport};
pub use error::{Error, Result};
pub use parley_shared::positions::Positions;
pub use rest::Rest;
