//! `GET /v1/users?q=`.

use crate::api::prelude::*;
use crate::service::users;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/users");

/// Query of `GET /v1/users`.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only its parameters are used
struct UserSearchQuery {
    /// Prefix of a username or display name (case-insensitive), 1 to 64 characters.
    #[param(min_length = 1, max_length = 64)]
    q: String,
}

/// Find users
///
/// Users whose username or display name starts with `q`, ordered by username. Deleted accounts
/// and users who blocked the caller are left out.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "users",
    security(("bearer" = [])),
    params(UserSearchQuery, PageParams),
    responses(
        (status = 200, description = "One page.", body = UserPage),
        (
            status = 400,
            description = "`invalid_request`: `q` missing or too long, or `limit` out of range.",
            body = ErrorEnvelope
        ),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    let page = users::search(call.env, &me, q.get("q"), q.get("cursor"), q.int("limit")?).await?;
    Ok(Response::json(200, &page))
}
