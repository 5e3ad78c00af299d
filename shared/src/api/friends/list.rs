//! `GET /v1/friends`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/friends");

/// The caller's friends
///
/// By username; each with `since`, and `online` / `last_seen_at` for friends who show their
/// presence.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page.", body = FriendPage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    Ok(Response::json(200, &social::friends(call.env, &me, q.get("cursor"), q.int("limit")?).await?))
}
