//! `PATCH /v1/groups/{id}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Patch, "/v1/groups/{id}");

/// Change a group
///
/// Name and description (owner, admins), broadcast-only, history visibility and join approval
/// (owner, admins). Absent fields stay; an empty description clears it. What changed is one
/// `group_updated` event; nothing changed, no event.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    request_body = UpdateGroup,
    responses(
        (status = 200, description = "The group now.", body = Group),
        (status = 400, description = "`invalid_request`: a name of 0 or over 64 characters, a description over 500.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role may not, or the group was dissolved.", body = ErrorEnvelope),
        (status = 404, response = GroupNotFound),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    let body: UpdateGroup = call.body()?;
    Ok(Response::json(200, &groups::update(call.env, &me, id, body).await?))
}
