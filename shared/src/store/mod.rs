//! The SQL: functions that fetch facts and write rows, and nothing else (rules decide, services
//! orchestrate). Every function takes a tokio-postgres client or transaction, so the node
//! (pooled native connections) and the edge (one socket per request inside the Worker) run the
//! same statements. Statements go through `query_typed`, which sends parse, bind and execute in
//! one round trip: no prepare round trip and no statement cache needed.
//!
//! - [`tx`]: the one transaction-with-retry point.
//! - [`users`], [`sessions`]: accounts, profiles, and auth sessions with their refresh tokens.
//! - [`social`]: friends, friend requests, blocks; [`notices`]: per-user notices.
//! - [`conversations`], [`events`]: membership and the per-conversation event log.
//! - [`groups`]: groups, their members, invites and join requests.
//! - [`notify`]: what commits announce on the NOTIFY channel.
//! - [`presence`]: node leases, the realtime connections each node holds, who is online.
//! - `schema` (native only): the migrations.

pub mod conversations;
pub mod events;
pub mod groups;
pub mod media;
pub mod media_jobs;
pub mod messages;
pub mod moderation;
pub mod notices;
pub mod notify;
pub mod pipeline;
pub mod presence;
pub mod rate_limits;
#[cfg(not(target_arch = "wasm32"))]
pub mod schema;
pub mod search;
pub mod sessions;
pub mod social;
pub mod statements;
pub mod tx;
pub mod users;

use tokio_postgres::error::SqlState;

use crate::error::ApiError;

pub use tokio_postgres::types::Type;

/// Database failures, classified by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was hit: `.0` is the constraint's name.
    #[error("unique violation on {0}")]
    Unique(String),
    /// Serialization failure or deadlock: run the transaction again.
    #[error("transaction conflict, retry: {0}")]
    Retry(String),
    /// A stored value could not be decoded (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A schema migration failed.
    #[error("migration: {0}")]
    Migrate(String),
    /// A rule refused inside a transaction (a service's doing, never a store function's): roll
    /// back and answer this.
    #[error("refused: {0}")]
    Refused(Box<ApiError>),
    /// A node's lease is gone (it expired while the node was away): renew it, then retry.
    #[error("node {0} holds no lease")]
    LeaseLost(String),
    /// Anything else, connection loss included.
    #[error("database: {0}")]
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            if *db.code() == SqlState::UNIQUE_VIOLATION {
                return Self::Unique(db.constraint().unwrap_or_default().to_owned());
            }
            if *db.code() == SqlState::T_R_SERIALIZATION_FAILURE || *db.code() == SqlState::T_R_DEADLOCK_DETECTED {
                return Self::Retry(db.message().to_owned());
            }
        }
        Self::Db(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(e) => *e,
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl StoreError {
    /// Aborts a transaction with a rule's refusal.
    pub fn refused(e: ApiError) -> Self {
        Self::Refused(Box::new(e))
    }
}

impl StoreError {
    /// Whether running the transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retry(_))
    }
}
