//! `GET /v1/blocks`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/blocks");

/// Blocked users
///
/// The users the caller blocked, most recent first.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page.", body = BlockPage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    Ok(Response::json(200, &social::blocks(call.env, &me, q.get("cursor"), q.int("limit")?).await?))
}
