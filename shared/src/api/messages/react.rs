//! `PUT /v1/conversations/{id}/messages/{message_id}/reactions/{emoji}`.

use crate::api::prelude::*;
use crate::service::reactions;

/// The route.
pub const ROUTE: Route = Route::new(Method::Put, "/v1/conversations/{id}/messages/{message_id}/reactions/{emoji}");

/// Add a reaction
///
/// One reaction per user per emoji (the emoji percent-encoded in the path: a short Unicode string,
/// no spaces): a `reaction` event with `added: true`. Already there: 204 and no event. Guests may
/// react.
#[cfg_attr(feature = "openapi", utoipa::path(
    put,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id."), ("message_id" = EventId, Path, description = "The message's id."), ("emoji" = String, Path, description = "The emoji, percent-encoded: up to 32 bytes, no spaces or control characters, not plain ASCII.", max_length = 8, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]*[^\x00-\x9f\s][^\s\x00-\x1f\x7f-\x9f]*$")),
    responses(
        (status = 200, description = "The `reaction` event.", body = Event),
        (status = 204, description = "It was there already; no body."),
        (status = 400, description = "`invalid_request`: not an emoji.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 403, description = "`forbidden`: a dissolved group.", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such message in this conversation, or the caller is not a member.", body = ErrorEnvelope),
        (status = 409, description = "`conflict`: the message was recalled.", body = ErrorEnvelope),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let message: EventId = call.id("message_id", "message")?;
    let emoji = call.text_param("emoji")?;
    let me = call.caller().await?;
    Ok(match reactions::react(call.env, &me, conv, message, &emoji, true).await? {
        Some(ev) => Response::json(200, &ev),
        None => Response::empty(204),
    })
}
