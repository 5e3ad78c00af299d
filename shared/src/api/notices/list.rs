//! `GET /v1/notices`.

use crate::api::prelude::*;
use crate::service::notices;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/notices");

/// The caller's notices
///
/// What happened to the caller outside their conversations (friend requests, acceptances, ...),
/// newest first, each with `seen`; `unseen_count` counts those newer than the seen marker. The same
/// notices reach connected devices as `notice` frames.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "notices",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page.", body = NoticePage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    Ok(Response::json(200, &notices::list(call.env, &me, q.get("cursor"), q.int("limit")?).await?))
}
