//! `GET /v1/conversations`.

use crate::api::prelude::*;
use crate::service::conversations;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/conversations");

/// The caller's conversations
///
/// Most recent activity first, each from the caller's point of view (read position, unread and
/// mention counts, settings).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "conversations",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page.", body = ConversationPage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    let page = conversations::list(call.env, &me, q.get("cursor"), q.int("limit")?).await?;
    Ok(Response::json(200, &page))
}
