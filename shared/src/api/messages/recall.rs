//! `POST /v1/conversations/{id}/messages/{message_id}/recall`.

use crate::api::prelude::*;
use crate::service::edits;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/conversations/{id}/messages/{message_id}/recall");

/// Recall a message
///
/// Withdraws a message for everyone: a `recall` event; its text, media, mentions, reactions, search
/// entry and the text of its edits are removed from storage. The sender may recall within the
/// recall window (2 minutes by default, `--recall-window`); a group's owner and admins at any time
/// (another member's message only below their rank).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id."), ("message_id" = EventId, Path, description = "The message's id.")),
    responses(
        (status = 200, description = "The `recall` event.", body = Event),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: not the sender, past the window, or below the sender's rank.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such message in this conversation, or the caller is not a member.", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: recalled already.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let message: EventId = call.id("message_id", "message")?;
    let me = call.caller().await?;
    Ok(Response::json(200, &edits::recall(call.env, &me, conv, message).await?))
}
