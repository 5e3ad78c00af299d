//! `PATCH /v1/groups/{id}/members/{user_id}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Patch, "/v1/groups/{id}/members/{user_id}");

/// Change a member's role or mute
///
/// `role`: `admin` or back to `member` (owner only), `member` ↔ `guest` (owner, admins; below their
/// rank). `muted_until`: the member may not post until then (403); `null` or a time already past
/// unmutes (owner, admins; below their rank). Each change is an event: `role_changed`,
/// `member_muted`.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id."), ("user_id" = UserId, Path, description = "The member.")),
    request_body = UpdateMember,
    responses(
        (status = 200, description = "The member now.", body = GroupMember),
        (status = 400, description = "`invalid_request`: neither field, or `role: owner` (use transfer).", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role or rank may not, or the group was dissolved.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such group, the caller is not a member, or the user is not one.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let user: UserId = call.id("user_id", "member")?;
    let me = call.caller().await?;
    let body: UpdateMember = call.body()?;
    Ok(Response::json(200, &groups::update_member(call.env, &me, id, user, body).await?))
}
