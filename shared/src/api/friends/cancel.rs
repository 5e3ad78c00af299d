//! `DELETE /v1/friends/requests/{id}`.

use crate::api::prelude::*;
use crate::rules::social::RequestAction;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/friends/requests/{id}");

/// Cancel a friend request
///
/// The sender withdraws a pending request; the recipient gets a `friend_request_cancelled` notice.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(("id" = FriendRequestId, Path, description = "The request's id.")),
    responses(
        (status = 200, description = "The request, now cancelled.", body = FriendRequest),
        (status = 401, response = Unauthorized),
        (
            status = 403,
            description = "`forbidden`: the caller received this request (only its sender cancels it).",
            body = ErrorEnvelope
        ),
        (
            status = 404,
            description = "`not_found`: no such request, or it is neither to nor from the caller.",
            body = ErrorEnvelope
        ),
        (status = 409, description = "`conflict`: the request is no longer pending.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let id: FriendRequestId = call.id("id", "friend request")?;
    let me = call.caller().await?;
    Ok(Response::json(200, &social::decide(call.env, &me, id, RequestAction::Cancel).await?))
}
