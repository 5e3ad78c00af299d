//! `PATCH /v1/conversations/{id}/settings`.

use crate::api::prelude::*;
use crate::service::conversations;

/// The route.
pub const ROUTE: Route = Route::new(Method::Patch, "/v1/conversations/{id}/settings");

/// Change my settings of a conversation
///
/// Pin, mute until a time (`null` unmutes; a muted conversation never produces a push) and archive,
/// for the caller only; `GET /v1/conversations` reflects them.
#[cfg_attr(feature = "openapi", utoipa::path(
    patch,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(("id" = ConversationId, Path, description = "The conversation's id.")),
    request_body = UpdateSettings,
    responses(
        (status = 200, description = "The caller's settings now.", body = ConversationSettings),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 404, response = ConversationNotFound),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let conv: ConversationId = call.id("id", "conversation")?;
    let me = call.caller().await?;
    let body: UpdateSettings = call.body()?;
    Ok(Response::json(200, &conversations::update_settings(call.env, &me, conv, body).await?))
}
