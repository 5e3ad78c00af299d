//! `POST /v1/groups/{id}/join-requests/{user_id}/decline`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/{id}/join-requests/{user_id}/decline");

/// Decline a join request
///
/// Owner and admins turn the request down; the user gets a `join_declined` notice and may ask
/// again.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id."), ("user_id" = UserId, Path, description = "Who asked.")),
    responses(
        (status = 204, description = "Declined; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role may not.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such group or waiting request, or the caller is not a member.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let user: UserId = call.id("user_id", "join request")?;
    let me = call.caller().await?;
    groups::decide_join(call.env, &me, id, user, false).await?;
    Ok(Response::empty(204))
}
