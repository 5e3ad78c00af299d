//! `POST /v1/groups/{id}/leave`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/{id}/leave");

/// Leave a group
///
/// A `member_left` with reason `left`. The owner transfers the group first, unless they are its
/// last member: the last member leaving dissolves it.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    responses(
        (status = 204, description = "Left; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the owner must transfer the group first.", body = ErrorEnvelope),
        (status = 404, response = GroupNotFound),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    groups::leave(call.env, &me, id).await?;
    Ok(Response::empty(204))
}
