//! `DELETE /v1/friends/{user_id}`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/friends/{user_id}");

/// Unfriend
///
/// Ends the friendship; the other side gets a `friend_removed` notice and neither sees the other's
/// presence any more.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(("user_id" = UserId, Path, description = "The friend's id.")),
    responses(
        (status = 204, description = "No longer friends; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such user, or not a friend.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let other: UserId = call.id("user_id", "user")?;
    let me = call.caller().await?;
    social::unfriend(call.env, &me, other).await?;
    Ok(Response::empty(204))
}
