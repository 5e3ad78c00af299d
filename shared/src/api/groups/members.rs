//! `GET /v1/groups/{id}/members`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/groups/{id}/members");

/// A group's members
///
/// In the order they joined, with their roles and mutes. The log's membership events rebuild the
/// same list.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id."), PageParams),
    responses(
        (status = 200, description = "One page.", body = MemberPage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        (status = 404, response = GroupNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    let q = call.query()?;
    Ok(Response::json(200, &groups::members(call.env, &me, id, q.get("cursor"), q.int("limit")?).await?))
}
