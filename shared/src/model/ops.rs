//! Answers of the operations routes (`/healthz`, `/readyz`) and of `/v1/config`.

use serde::{Deserialize, Serialize};

/// `/healthz` and `/readyz` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// `ok` (healthz) or `ready` (readyz).
    #[cfg_attr(feature = "openapi", schema(examples("ok")))]
    pub status: String,
}

impl Status {
    /// `{"status": s}`.
    pub fn new(s: &str) -> Status {
        Status { status: s.to_owned() }
    }
}

/// `GET /v1/config`: where clients (the web app first) open their realtime connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientConfig {
    /// WebSocket URLs of connection nodes (`wss://node.example/v1/ws`), tried in turn. Empty:
    /// the server answering this request is a node; use `/v1/ws` on its origin.
    pub websocket_urls: Vec<String>,
}
