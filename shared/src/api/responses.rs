//! What many routes' OpenAPI attributes share (feature `openapi`): error responses, named in
//! attributes as `(status = 401, response = Unauthorized)` or, for a group, `ServerErrors`; and the
//! page parameters of every list, `params(PageParams)`.
#![allow(dead_code)] // only their descriptions are used

use utoipa::{IntoParams, IntoResponses, ToResponse};

use crate::error::ErrorEnvelope;

/// `invalid_request`: malformed JSON, or a missing or out-of-range field (the message names it).
#[derive(ToResponse)]
pub struct InvalidBody(ErrorEnvelope);

/// `unauthorized`: missing, expired or invalid access token, or one of a signed-out session.
#[derive(ToResponse)]
pub struct Unauthorized(ErrorEnvelope);

/// `not_found`: this server does not issue tokens.
#[derive(ToResponse)]
pub struct NoTokens(ErrorEnvelope);

/// `too_large`: the body is over 64 KiB.
#[derive(ToResponse)]
pub struct TooLarge(ErrorEnvelope);

/// `rate_limited`: slow down; `Retry-After` says for how long.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))]
pub struct RateLimited(ErrorEnvelope);

/// `internal`: the server's fault; the cause goes to its log, never to the client.
#[derive(ToResponse)]
pub struct Internal(ErrorEnvelope);

/// `unavailable`: the database is unreachable; try again later.
#[derive(ToResponse)]
pub struct Unavailable(ErrorEnvelope);

/// The errors any rate-limited route that touches the database may answer: 429, 500, 503.
#[derive(IntoResponses)]
pub enum ServerErrors {
    /// `rate_limited`: slow down; `Retry-After` says for how long.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait before trying again.")))]
    RateLimited(ErrorEnvelope),
    /// `internal`: the server's fault; the cause goes to its log, never to the client.
    #[response(status = 500)]
    Internal(ErrorEnvelope),
    /// `unavailable`: the database is unreachable; try again later.
    #[response(status = 503)]
    Unavailable(ErrorEnvelope),
}

/// `not_found`: no such conversation, or the caller is not a member.
#[derive(ToResponse)]
pub struct ConversationNotFound(ErrorEnvelope);

/// `not_found`: no such group, or the caller is not a member.
#[derive(ToResponse)]
pub struct GroupNotFound(ErrorEnvelope);

/// `invalid_request`: `limit` out of range or `cursor` not from this API.
#[derive(ToResponse)]
pub struct BadPage(ErrorEnvelope);

/// The page parameters of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
}
