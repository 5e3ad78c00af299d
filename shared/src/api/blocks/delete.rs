//! `DELETE /v1/blocks/{user_id}`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/blocks/{user_id}");

/// Unblock a user
///
/// Lifts the caller's block; restores nothing else (no friendship comes back). Safe to repeat.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(("user_id" = UserId, Path, description = "Whom to unblock.")),
    responses(
        (status = 204, description = "Not blocked; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such user.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let other: UserId = call.id("user_id", "user")?;
    let me = call.caller().await?;
    social::unblock(call.env, &me, other).await?;
    Ok(Response::empty(204))
}
