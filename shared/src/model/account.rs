//! The caller's account: their auth sessions (devices).

use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::time::Timestamp;

/// One of the caller's auth sessions: a login on a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// Id (the `session_id` of its tokens).
    pub id: SessionId,
    /// The device name given at login.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub device_name: Option<String>,
    /// When it was created (logged in).
    pub created_at: Timestamp,
    /// When it last refreshed its tokens or opened a realtime connection.
    pub last_used_at: Timestamp,
    /// `ws` or `quic`: its latest realtime connection's transport, if it ever had one.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_transport: Option<String>,
    /// Whether it is the session making this request.
    pub current: bool,
}

/// A page of sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPage {
    /// Most recently used first.
    pub sessions: Vec<SessionInfo>,
    /// Pass as `cursor` for the next page; null at the end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
