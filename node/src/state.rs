//! What every part of a running node shares.

use std::sync::atomic::AtomicBool;

use deadpool_postgres::Pool;
use parley_shared::auth::{Signer, Verifier};
use parley_shared::ids::NodeId;

use crate::commit::Committer;
use crate::fanout::hub::HubHandle;

/// The node's shared state, behind an `Arc`.
pub struct NodeState {
    /// This node's name.
    pub node_id: NodeId,
    /// Pooled connections for handlers, connections and the hub.
    pub pool: Pool,
    /// The fan-out hub.
    pub hub: HubHandle,
    /// Group commit of sends arriving over this node's connections.
    pub committer: Committer,
    /// Verifies access tokens locally.
    pub verifier: Verifier,
    /// Signs access tokens when this node serves REST auth.
    pub signer: Option<Signer>,
    /// Whether the REST routes are served.
    pub rest: bool,
    /// REST rate limits per client address.
    pub limits: crate::limits::RestLimiter,
    /// Reads what new connections start from, batched.
    pub starts: crate::starts::Starts,
    /// Batched `sync` reads.
    pub syncs: crate::syncs::Syncs,
    /// Records connections and presence.
    pub presence: crate::presence::PresenceHandle,
    /// Set on SIGTERM: new connections are refused.
    pub draining: AtomicBool,
    /// Most members a new group may have.
    pub max_group_members: i64,
    /// The word list, send rate, recall window.
    pub policy: std::sync::Arc<crate::policy::Policy>,
    /// Where connections report deliveries (`None`: receipts off).
    pub receipts: Option<crate::receipts::ReceiptsHandle>,
    /// Media storage (`None`: `S3_*` unset).
    pub objects: Option<crate::objects::NodeObjects>,
    /// The upload size cap.
    pub max_media_size: u64,
    /// Whether costly requests are limited per user and address (`--costly-limits`).
    pub costly_limits: bool,
    /// Sessions revoked lately (REST refuses their access tokens).
    pub revocations: std::sync::Arc<crate::revocations::Revocations>,
}
