//! `POST /v1/reports`.

use crate::api::prelude::*;
use crate::service::moderation;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/reports");

/// Report a message or a user
///
/// Stores a report for the operators: a message the caller can read (`message_id`; its sender is
/// recorded too) or a user (`user_id`), with a reason of 1 to 1000 characters.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "moderation",
    security(("bearer" = [])),
    request_body = CreateReport,
    responses(
        (status = 201, description = "The report.", body = Report),
        (status = 400, description = "`invalid_request`: neither or both targets, or no reason.", body = ErrorEnvelope),
        (status = 401, response = Unauthorized),
        (status = 404, description = "`not_found`: no such message visible to the caller, or no such user.", body = ErrorEnvelope),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: CreateReport = call.body()?;
    Ok(Response::json(201, &moderation::report(call.env, &me, body).await?))
}
