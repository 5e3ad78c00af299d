//! `GET /v1/sessions`.

use crate::api::prelude::*;
use crate::service::account;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/v1/sessions");

/// The caller's sessions
///
/// Every active session (a login on a device): its device name, when it was created and last
/// used, the transport of its latest realtime connection, and which one is making this request.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "account",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page, most recently used first.", body = SessionPage),
        (status = 400, response = BadPage),
        (status = 401, response = Unauthorized),
        ServerErrors,
    ),
))]
pub async fn handler<E: Env>(call: Call<'_, E>) -> Answer {
    let me = call.caller().await?;
    let q = call.query()?;
    Ok(Response::json(200, &account::sessions(call.env, &me, q.get("cursor"), q.int("limit")?).await?))
}
