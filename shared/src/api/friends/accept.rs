//! `POST /v1/friends/requests/{id}/accept`.

use crate::api::prelude::*;
use crate::rules::social::RequestAction;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/friends/requests/{id}/accept");

/// Accept a friend request
///
/// The recipient accepts: the two are friends, both get a `friend_accepted` notice, and each sees
/// the other's presence.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    params(("id" = FriendRequestId, Path, description = "The request's id.")),
    responses(
        (status = 200, description = "The request, now accepted.", body = FriendRequest),
        (status = 401, response = Unauthorized),
        (
            status = 403,
            description = "`forbidden`: the caller sent this request (only its recipient decides it).",
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
    Ok(Response::json(200, &social::decide(call.env, &me, id, RequestAction::Accept).await?))
}
