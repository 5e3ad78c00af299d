//! `GET /v1/users/me`.

use crate::api::prelude::*;
use crate::service::users;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/users/me");

/// The caller's profile
///
/// The caller's public profile with their settings (`dm_policy`, `show_presence`).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller.", body = OwnProfile),
        (
            status = 401,
            description = "`unauthorized`: missing, expired or invalid access token, or the account no longer \
                exists.",
            body = ErrorEnvelope
        ),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    Ok(Response::json(200, &users::me(call.env, &me).await?))
}
