//! `POST /v1/conversations/{id}/read`.

use crate::api::prelude::*;
use crate::service::conversations;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/conversations/{id}/read");

/// Mark read
///
/// Moves the caller's read position forward to `seq` (never back); unread counts follow and
/// the other members' devices get a `read` frame.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id.")),
    request_body = MarkRead,
    responses(
        (status = 200, description = "The caller's read position after the call.", body = ReadState),
        (
            status = 400,
            description = "`invalid_request`: malformed JSON or a negative `seq`.",
            body = ErrorEnvelope
        ),
        (status = 401, response = Unauthorized),
        (status = 404, response = ConversationNotFound),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let me = call.caller().await?;
    let body: MarkRead = call.body()?;
    let mut db = call.env.db().await?;
    Ok(Response::json(200, &conversations::mark_read(&mut db, conv, me.user_id, body.seq).await?))
}
