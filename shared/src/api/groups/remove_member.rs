//! `DELETE /v1/groups/{id}/members/{user_id}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/groups/{id}/members/{user_id}");

/// Remove a member
///
/// Owner and admins remove a member below their rank (admins never the owner or another admin). A
/// `member_left` with reason `removed` (its `sender_id` is who removed them) is the last event the
/// removed member receives, on every node; they get a `removed_from_group` notice and 404 on the
/// group from then on. The caller's own id leaves the group.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id."), ("user_id" = UserId, Path, description = "The member.")),
    responses(
        (status = 204, description = "Removed; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role or rank may not, or the group was dissolved.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such group, the caller is not a member, or the user is not one.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let user: UserId = call.id("user_id", "member")?;
    let me = call.caller().await?;
    groups::remove(call.env, &me, id, user).await?;
    Ok(Response::empty(204))
}
