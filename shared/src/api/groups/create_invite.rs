//! `POST /v1/groups/{id}/invites`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/{id}/invites");

/// Create an invite
///
/// Owner and admins make a code anyone may join with (`POST /v1/groups/join`) until it expires
/// (`expires_in` seconds, default 7 days) or has been used `max_uses` times.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    request_body = CreateInvite,
    responses(
        (status = 201, description = "The invite.", body = GroupInvite),
        (status = 400, description = "`invalid_request`: `expires_in` outside 60 s to 30 days, `max_uses` outside 1 to 10000.", body = ErrorEnvelope),
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
    let body: CreateInvite = call.body()?;
    Ok(Response::json(201, &groups::create_invite(call.env, &me, id, body).await?))
}
