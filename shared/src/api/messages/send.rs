//! `POST /v1/conversations/{id}/messages`.

use crate::api::prelude::*;
use crate::service::messages;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/conversations/{id}/messages");

/// Send a message
///
/// Appends a `message` event. Idempotent on (sender, `client_msg_id`): a retry returns the same
/// event (again 201), never a second one. A message needs `text` (at most 8000 characters)
/// and/or `media_ids`; mentioned users must be members; `reply_to` must be a message of this
/// conversation.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id.")),
    request_body = SendMessage,
    responses(
        (status = 201, description = "The message event (also for an idempotent retry).", body = Event),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (
            status = 403,
            description = "`forbidden`: in a direct conversation, a block between the two, the other accepts \
                messages from friends only, or their account was deleted; in a group, the sender is a guest, \
                muted, not an admin of a broadcast-only group, or the group was dissolved.",
            body = ErrorEnvelope
        ),
        (status = 404, response = ConversationNotFound),
        (
            status = 409,
            description = "`conflict`: `client_msg_id` already used by the caller in another conversation.",
            body = ErrorEnvelope
        ),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let me = call.caller().await?;
    let body: SendMessage = call.body()?;
    Ok(Response::json(201, &messages::send(call.env, &me, conv, body).await?))
}
