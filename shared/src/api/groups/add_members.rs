//! `POST /v1/groups/{id}/members`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/{id}/members");

/// Add members
///
/// Owner and admins add up to 500 users at once, as `member`s: one `member_joined` each, and an
/// `added_to_group` notice. Users already in, unknown, or with a block between them and the caller
/// are skipped and listed with the reason. New members read from their join on, or the whole
/// history when the group shows it.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    request_body = AddMembers,
    responses(
        (status = 200, description = "Who was added, who was skipped.", body = AddOutcome),
        (status = 400, description = "`invalid_request`: no users, or over 500.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role may not add, the group is full or dissolved.", body = ErrorEnvelope),
        (status = 404, response = GroupNotFound),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    let body: AddMembers = call.body()?;
    Ok(Response::json(200, &groups::add(call.env, &me, id, body).await?))
}
