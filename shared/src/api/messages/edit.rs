//! `PATCH /v1/conversations/{id}/messages/{message_id}`.

use crate::api::prelude::*;
use crate::service::edits;

/// The route.
pub const ROUTE: Route = Route::new(Method::Patch, "/v1/conversations/{id}/messages/{message_id}");

/// Edit a message
///
/// The sender changes the text (at most 8000 characters; sensitive words masked or refused): an
/// `edit` event, and the message shows the new text and `edited_at` in history and search. A
/// recalled message cannot be edited.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id."), ("message_id" = EventId, Path, description = "The message's id.")),
    request_body = EditMessage,
    responses(
        (status = 200, description = "The `edit` event.", body = Event),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not the sender, or the sender may not post here now (muted, guest, dissolved group).", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such message in this conversation, or the caller is not a member.", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: the message was recalled.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let message: EventId = call.id("message_id", "message")?;
    let me = call.caller().await?;
    let body: EditMessage = call.body()?;
    Ok(Response::json(200, &edits::edit(call.env, &me, conv, message, body).await?))
}
