//! `GET /v1/users/{id}`.

use crate::api::prelude::*;
use crate::service::users;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/users/{id}");

/// A user's profile
///
/// Their public profile, how the caller stands with them (`relationship`: `friend`,
/// `request_sent`, `request_received`, `blocked` either way, or `none`), and, for a friend who
/// shows it, whether they are online and when they were last seen.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    params(("id" = UserId, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = Profile),
        (status = 401, response = Unauthorized),
        (
            status = 404,
            description = "`not_found`: no such user (also for an id that is not a UUID).",
            body = ErrorEnvelope
        ),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: UserId = call.id("id", "user")?;
    let me = call.caller().await?;
    Ok(Response::json(200, &users::profile(call.env, &me, id).await?))
}
