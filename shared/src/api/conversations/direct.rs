//! `POST /v1/conversations/direct`.

use crate::api::prelude::*;
use crate::service::conversations;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/conversations/direct");

/// Open a direct conversation
///
/// The one direct conversation between the caller and `user_id`: created by the first call,
/// the same id on every later call.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    request_body = OpenDirect,
    responses(
        (status = 201, description = "Created by this call.", body = DirectConversation),
        (status = 200, description = "Already existed.", body = DirectConversation),
        (
            status = 400,
            description = "`invalid_request`: malformed JSON, or `user_id` is the caller.",
            body = ErrorEnvelope
        ),
        (status = 401, response = Unauthorized),
        (
            status = 403,
            description = "`forbidden`: a block between the two users, the other accepts direct messages from \
                friends only, or their account was deleted.",
            body = ErrorEnvelope
        ),
        (status = 404, description = "`not_found`: no such user.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: OpenDirect = call.body()?;
    let (conv, created) = conversations::open_direct(call.env, &me, body).await?;
    Ok(Response::json(if created { 201 } else { 200 }, &conv))
}
