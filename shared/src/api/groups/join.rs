//! `POST /v1/groups/join`.

use crate::api::prelude::*;
use crate::service::groups;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/groups/join");

/// Join with an invite code
///
/// Joins the group the code belongs to (200, with the group), or, when the group wants approval,
/// leaves a request for its owner and admins (202, `pending: true`; they get a `join_requested`
/// notice). Joining a group the caller is in already changes nothing.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "groups",
    security(("bearer" = [])),
    request_body = JoinGroup,
    responses(
        (status = 200, description = "Joined (or already a member).", body = JoinOutcome),
        (status = 202, description = "Waiting for approval.", body = JoinOutcome),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: the invite expired or was used up, the group is full or dissolved.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such invite, or it was revoked.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: JoinGroup = call.body()?;
    let outcome = groups::join_by_code(call.env, &me, body).await?;
    Ok(Response::json(if outcome.pending { 202 } else { 200 }, &outcome))
}
