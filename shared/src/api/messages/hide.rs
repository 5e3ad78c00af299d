//! `DELETE /v1/conversations/{id}/messages/{message_id}`.

use crate::api::prelude::*;
use crate::service::edits;

/// The route.
pub const ROUTE: Route = Route::new(Method::Delete, "/v1/conversations/{id}/messages/{message_id}");

/// Delete a message for me
///
/// Hides the message from the caller only: their history, sync and search show it as `hidden` (its
/// place in the log stays, without content), their unread counts leave it out, and their other
/// devices get a `message_hidden` frame. The other members see nothing. Safe to repeat.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id."), ("message_id" = EventId, Path, description = "The message's id.")),
    responses(
        (status = 204, description = "Hidden; no body."),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such message in this conversation, or the caller is not a member.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let message: EventId = call.id("message_id", "message")?;
    let me = call.caller().await?;
    edits::hide(call.env, &me, conv, message).await?;
    Ok(Response::empty(204))
}
