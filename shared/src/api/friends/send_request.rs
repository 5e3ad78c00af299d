//! `POST /v1/friends/requests`.

use crate::api::prelude::*;
use crate::service::social;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/friends/requests");

/// Ask to be friends
///
/// Sends a friend request (201) with an optional note of at most 200 characters; the recipient
/// gets a `friend_request` notice. When they already asked the caller, this accepts their request
/// instead (200, the request with `status: accepted`). At most 100 requests may be pending at once.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "friends",
    security(("bearer" = [])),
    request_body = SendFriendRequest,
    responses(
        (status = 201, description = "The new pending request.", body = FriendRequest),
        (status = 200, description = "Their pending request, now accepted.", body = FriendRequest),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: a block stands between the two users.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such user.", body = ErrorEnvelope),
        (
            status = 409,
            description = "`conflict`: already friends, or a request to this user is already pending.",
            body = ErrorEnvelope
        ),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: SendFriendRequest = call.body()?;
    let (request, created) = social::send_request(call.env, &me, body).await?;
    Ok(Response::json(if created { 201 } else { 200 }, &request))
}
