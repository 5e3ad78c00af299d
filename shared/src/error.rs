//! The contract's error codes and the one place where every module's error becomes one of them.

use serde::{Deserialize, Serialize};

/// The contract's `error.code` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, a missing or out-of-range field.
    InvalidRequest,
    /// 401: missing, expired or invalid credentials.
    Unauthorized,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404: absent, or present but not the caller's to know about.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: a uniqueness clash (username taken, client_msg_id reused elsewhere).
    Conflict,
    /// 413: body or frame over the limit.
    TooLarge,
    /// 429: slow down; `Retry-After` says for how long.
    RateLimited,
    /// 500: our fault; details go to the log, never to the client.
    Internal,
    /// 503: a dependency (the database) is unreachable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }
}

/// An error as the contract shows it: `{"error": {"code", "message"}}` with an HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// Which contract code.
    pub code: ErrorCode,
    /// Human text; names the offending field for `invalid_request`.
    pub message: String,
    /// Seconds to wait, for `rate_limited`.
    pub retry_after: Option<u64>,
    /// The cause of an `internal` error: for the server's log, never sent to the client.
    pub detail: Option<String>,
}

/// The serialised envelope.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(examples(json!({"error": {"code": "not_found", "message": "conversation not found"}})))
)]
pub struct ErrorEnvelope {
    /// The error body.
    pub error: ErrorBody,
}

/// The body inside [`ErrorEnvelope`] (also the `error` of a failed realtime `reply`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Contract code.
    pub code: ErrorCode,
    /// Human text.
    pub message: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, detail: None }
    }
    /// 400 naming the problem.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TooLarge, message)
    }
    /// 500 with a fixed message; `detail` is for the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self { detail: Some(detail.into()), ..Self::new(ErrorCode::Internal, "internal error") }
    }
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        self.code.status()
    }
    /// The body for a realtime `reply` or `error` frame.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { code: self.code, message: self.message.clone() }
    }
    /// The JSON envelope for a REST response.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ErrorEnvelope { error: self.body() }).expect("error envelope serialises")
    }
}
