//! `PUT /v1/blocks/{user_id}`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Put, "/v1/blocks/{user_id}");

/// Block a user
///
/// Ends any friendship and pending requests between the two, and stops friend requests and direct
/// messages in both directions (403), in existing direct conversations too and over realtime
/// connections. Safe to repeat.
#[cfg_attr(feature = "openapi", utoipa::path(
    put,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(("user_id" = UserId, Path, description = "Whom to block.")),
    responses(
        (status = 204, description = "Blocked; no body."),
        (status = 400, description = "`invalid_request`: the caller's own id.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such user.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let other: UserId = call.id("user_id", "user")?;
    let me = call.caller().await?;
    social::block(call.env, &me, other).await?;
    Ok(Response::empty(204))
}
