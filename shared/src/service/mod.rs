//! Use cases: the operations of the product, each a function that validates with [`crate::rules`],
//! reads and writes through [`crate::store`] (in one transaction where it writes), and answers a
//! model type or the contract's [`ApiError`]. REST handlers ([`crate::api`]) and the node's
//! realtime connections call these, so a send, a read receipt or a login behaves the same
//! whichever door it came through.
//!
//! - [`accounts`]: register, login, refresh, logout; verifying access tokens.
//! - [`account`]: the caller's password, deletion, sessions (devices).
//! - [`users`]: profiles and user search; readiness.
//! - [`social`]: friends, friend requests, blocks; [`notices`]: per-user notices.
//! - [`presence`]: who is online, for the node.
//! - [`conversations`]: direct conversations, the list, read positions.
//! - [`groups`]: groups, their members, roles, settings, invites and join requests.
//! - [`messages`]: sends (one or a group-committed batch) and pages of the log.
//! - [`edits`]: edits, recalls, delete-for-me; [`reactions`]: reactions.
//! - [`receipts`]: delivered positions (the node's batches); read positions are in
//!   [`conversations`].
//! - [`search`]: full-text search over what the caller can read.
//! - [`moderation`]: the sensitive-word list and reports.
//! - [`media`]: uploads by presigned URL, their completion, download URLs.
//! - [`realtime`]: what realtime connections and the node's fan-out read: memberships, events
//!   after positions, sync, typing.

pub mod account;
pub mod accounts;
pub mod conversations;
pub mod edits;
pub mod groups;
pub(crate) mod limits;
pub mod media;
pub mod messages;
pub mod moderation;
pub mod notices;
pub mod presence;
pub mod reactions;
pub mod realtime;
pub mod receipts;
pub mod search;
pub mod social;
pub mod users;

use std::future::Future;
use std::ops::DerefMut;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

use crate::auth::{Signer, Verifier};
use crate::error::ApiError;
use crate::objects::{ObjectIo, Presigner};
use crate::rules::limits::UserRate;
use crate::rules::words::WordFilter;
use messages::SendPolicy;

/// What a use case needs from its host, implemented once by the node and once by the edge.
pub trait Env {
    /// This host's requests to object storage.
    type Objects: ObjectIo;
    /// Object storage (presigning, and the host's own requests); `None` when `S3_*` is unset.
    fn objects(&self) -> Option<(&Presigner, &Self::Objects)>;
    /// The upload size cap (`--max-media-size`).
    fn max_media_size(&self) -> u64 {
        crate::rules::media::DEFAULT_MAX_SIZE
    }
    /// A database connection (pooled on the node, one socket per request on the edge).
    type Db: DerefMut<Target = Client>;
    /// Gets a connection. Only operations that touch the database call this.
    fn db(&self) -> impl Future<Output = Result<Self::Db, ApiError>>;
    /// argon2id hash of a new password; the node runs it off the async threads.
    fn hash_password(&self, password: String) -> impl Future<Output = Result<String, ApiError>>;
    /// Checks a password against a stored hash.
    fn verify_password(&self, password: String, phc: String) -> impl Future<Output = bool>;
    /// The access-token signer; `None` when this host does not issue tokens.
    fn signer(&self) -> Option<&Signer>;
    /// Verifies access tokens.
    fn verifier(&self) -> &Verifier;
    /// The connection nodes' WebSocket URLs clients should use; empty when this host is a node
    /// (clients then connect to its own origin).
    fn websocket_urls(&self) -> Vec<String> {
        Vec::new()
    }
    /// Most members a new group may have (`--max-group-members`).
    fn max_group_members(&self) -> i64 {
        crate::rules::groups::DEFAULT_MAX_MEMBERS
    }
    /// Whether costly requests are limited (`rules::limits::Costly`); off only for load tests.
    fn costly_limits(&self) -> bool {
        true
    }
    /// Whether an access token's session is still signed in (REST checks every request, so a
    /// logged-out session's token stops working at once, not when it expires). Hosts answer from
    /// a cache: the node's is kept current by revocation notices, the edge's lives a few seconds.
    /// This default asks the database every time.
    fn session_active(&self, session: crate::ids::SessionId) -> impl Future<Output = Result<bool, ApiError>> {
        async move { Ok(crate::store::sessions::is_active(&*self.db().await?, session).await?) }
    }
    /// The sensitive-word list. Hosts cache it (the node reloads it when it changes); this
    /// default reads it on every call.
    fn words(&self) -> impl Future<Output = Result<Arc<WordFilter>, ApiError>> {
        async { Ok(Arc::new(moderation::load_words(&*self.db().await?).await?)) }
    }
    /// Sends per second per user (`--user-send-rate`, `--user-send-burst`).
    fn user_send_rate(&self) -> UserRate {
        UserRate::default()
    }
    /// How long a sender may recall a message (`--recall-window`).
    fn recall_window(&self) -> Duration {
        crate::rules::messages::DEFAULT_RECALL_WINDOW
    }
    /// What every send is held to.
    fn send_policy(&self) -> impl Future<Output = Result<SendPolicy, ApiError>> {
        async { Ok(SendPolicy { words: self.words().await?, per_user: self.user_send_rate() }) }
    }
}

/// The signer, or 404 when this host does not issue tokens.
pub fn signer<E: Env>(env: &E) -> Result<&Signer, ApiError> {
    env.signer().ok_or_else(|| ApiError::not_found("this server does not issue tokens"))
}
