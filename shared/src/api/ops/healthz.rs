//! `GET /healthz`.

use crate::api::prelude::*;

/// The route.
pub const ROUTE: Route = Route::new(Method::Get, "/healthz");

/// Liveness
///
/// 200 while the process serves requests; touches nothing else.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = ROUTE.path,
    tag = "ops",
    responses((status = 200, description = "Alive.", body = Status, example = json!({"status": "ok"}))),
))]
pub async fn handler<E: Env>(_call: Call<'_, E>) -> Answer {
    Ok(Response::json(200, &Status::new("ok")))
}
