//! `DELETE /v1/groups/{id}/invites/{code}`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/groups/{id}/invites/{code}");

/// Revoke an invite
///
/// Owner and admins end an invite: joining with it is a 404 from then on.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id."), ("code" = String, Path, description = "The invite code.")),
    responses(
        (status = 204, description = "Revoked; no body."),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the caller's role may not.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such group or active invite, or the caller is not a member.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let code: String = call.id("code", "invite")?;
    let me = call.caller().await?;
    groups::revoke_invite(call.env, &me, id, &code).await?;
    Ok(Response::empty(204))
}
