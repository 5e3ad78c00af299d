//! `POST /v1/notices/seen`.

use crate::api::prelude::*;
use crate::service::notices;

/// The route.
pub const ROUTE: Route = Route::new(Method::Post, "/v1/notices/seen");

/// Mark notices seen
///
/// Moves the caller's seen marker to `up_to` (never back): that notice and every older one are
/// seen.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = ROUTE.path,
    tag = "notices",
    security(("bearer" = [])),
    request_body = MarkNoticesSeen,
    responses(
        (status = 204, description = "Marked; no body."),
        (status = 400, response = InvalidBody),
        (status = 401, response = Unauthorized),
        (status = 413, response = TooLarge),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let body: MarkNoticesSeen = call.body()?;
    notices::mark_seen(call.env, &me, body).await?;
    Ok(Response::empty(204))
}
