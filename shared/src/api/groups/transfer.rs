//! `POST /v1/groups/{id}/transfer`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/{id}/transfer");

/// Transfer ownership
///
/// The owner gives the group to another member and becomes an admin: two `role_changed` events.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The group's id.")),
    request_body = TransferGroup,
    responses(
        (status = 200, description = "The group, as the caller (now an admin) sees it.", body = Group),
        (status = 400, description = "`invalid_request`: the caller's own id.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: only the owner transfers, and not a dissolved group.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such group, the caller is not a member, or the user is not one.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: ConversationId = call.id("id", "group")?;
    let me = call.caller().await?;
    let body: TransferGroup = call.body()?;
    Ok(Response::json(200, &groups::transfer(call.env, &me, id, body).await?))
}
