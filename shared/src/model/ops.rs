//! Answers of the operations routes (`/healthz`, `/readyz`).

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
