//! `PATCH /v1/users/me`.

use crate::api::prelude::*;
use crate::service::users;

/// The route.
pub const ROUTE: Route = Route::new(Method::Patch, "/v1/users/me");

/// Edit the caller's profile
///
/// Changes `display_name` (1–64 characters), `bio` (at most 500; an empty string clears it),
/// `dm_policy` (`everyone` or `friends`: who may open a direct conversation with the caller and
/// message them there) and `show_presence` (whether friends see the caller online; hiding it while
/// online looks like going offline to them). Absent fields stay as they are.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    request_body = UpdateProfile,
    responses(
        (status = 200, description = "The profile after the change.", body = OwnProfile),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: UpdateProfile = call.body()?;
    Ok(Response::json(200, &users::update_me(call.env, &me, body).await?))
}
